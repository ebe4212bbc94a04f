//! The progress bar of every training command, on stderr.

use crate::platform::block_on;
use crate::training::{Event, Task, Trainer};
use std::io::{IsTerminal, Write};

fn fmt_time(ms: f64) -> String {
    if !ms.is_finite() {
        return "?".into();
    }
    let s = (ms / 1000.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Runs a trainer to the end with a progress bar on stderr, calling
/// `on_epoch` after each epoch (to save a checkpoint).
pub(super) fn train_with_progress<T: Task>(
    trainer: &mut Trainer<T>,
    mut on_epoch: impl FnMut(&Trainer<T>) -> Result<(), String>,
) -> Result<(), String> {
    let tty = std::io::stderr().is_terminal();
    let mut last_print = -1e9;
    loop {
        let ev = block_on(trainer.step()).map_err(|e| e.to_string())?;
        match ev {
            Event::Step(p) => {
                let now = p.elapsed_ms;
                let every = if tty { 200.0 } else { 15_000.0 };
                if now - last_print < every && p.global_step != p.total_steps {
                    continue;
                }
                last_print = now;
                let width = 30;
                let filled = ((p.fraction() * width as f64).round() as usize).min(width);
                let bar: String = "#".repeat(filled) + &".".repeat(width - filled);
                let line = format!(
                    "[{bar}] {:5.1}% epoch {}/{} step {}/{} loss {:.4} {:.0} img/s ETA {}",
                    p.fraction() * 100.0,
                    p.epoch + 1,
                    p.epochs,
                    p.step,
                    p.steps_per_epoch,
                    p.loss,
                    p.images_per_sec,
                    fmt_time(p.eta_ms)
                );
                if tty {
                    eprint!("\r{line}\x1b[K");
                } else {
                    eprintln!("{line}");
                }
                let _ = std::io::stderr().flush();
            }
            Event::EpochEnd(s) => {
                if tty {
                    eprintln!();
                }
                eprintln!(
                    "epoch {}: train loss {:.5}, validation loss {}, {:.0} img/s",
                    s.epoch + 1,
                    s.train_loss,
                    s.valid_loss
                        .map(|v| format!("{v:.5}"))
                        .unwrap_or_else(|| "-".into()),
                    s.images_per_sec
                );
                on_epoch(trainer)?;
            }
            Event::Finished => return Ok(()),
        }
        if trainer.is_finished() {
            return Ok(());
        }
    }
}
