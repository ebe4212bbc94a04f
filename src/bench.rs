//! Benchmarks shared by `cargo bench --bench denoise` and `aelab bench`:
//! training throughput of the denoisers at batch 128 (images/s) and the
//! latency of denoising one digit, on each CPU backend. Synthetic digits,
//! so no assets are needed.

use crate::data::{Mnist, PIXELS};
use crate::labs::denoise::{DenoiseTask, NoiseSpec};
use crate::models::{DenoiserConfig, DenoiserKind};
use crate::platform::{block_on, now_ms, CpuBackend};
use crate::training::{Event, Schedule, TrainConfig, Trainer};
use burn::prelude::*;

fn synthetic(n: usize) -> Mnist {
    let mut rng = crate::rng::Rng::new(9);
    let mut images = vec![0u8; n * PIXELS];
    for img in images.chunks_mut(PIXELS) {
        // A thick stroke at a random angle through the centre.
        let a = rng.uniform() * std::f32::consts::PI;
        for t in -10..=10 {
            for w in -1..=1 {
                let x = (14.0 + t as f32 * a.cos() - w as f32 * a.sin()).round() as usize;
                let y = (14.0 + t as f32 * a.sin() + w as f32 * a.cos()).round() as usize;
                if x < 28 && y < 28 {
                    img[y * 28 + x] = 255;
                }
            }
        }
    }
    Mnist {
        images,
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
    }
}

/// Prints a Markdown table of the measurements; `quick` for a smoke run.
pub fn run(quick: bool, backends: &[CpuBackend]) {
    let batch = 128;
    println!("| backend | model | train images/s (batch {batch}) | denoise one digit (ms) |");
    println!("|---|---|---|---|");
    for &backend in backends {
        // NdArray trains about 20x slower than Flex: time fewer steps there.
        let steps = match (quick, backend) {
            (true, _) => 2,
            (false, CpuBackend::Flex) => 20,
            (false, CpuBackend::NdArray) => 3,
        };
        for kind in [DenoiserKind::Canonical, DenoiserKind::Skip] {
            let device = backend.device();
            let config = DenoiserConfig::new().with_kind(kind);
            let task = DenoiseTask {
                train: synthetic(batch * (steps + 2)),
                valid: Mnist::default(),
                noise: NoiseSpec::Range(0.3, 0.9),
                valid_seed: 1,
            };
            let cfg = TrainConfig {
                epochs: 1,
                batch_size: batch,
                learning_rate: 1e-3,
                schedule: Schedule::Constant,
                seed: 1,
            };
            let mut trainer = Trainer::new(task, config.init(&device), cfg, &device).unwrap();
            // Two warm-up steps, then time `steps` steps.
            for _ in 0..2 {
                block_on(trainer.step()).unwrap();
            }
            let t0 = now_ms();
            let mut n = 0;
            for _ in 0..steps {
                if let Event::Step(_) = block_on(trainer.step()).unwrap() {
                    n += batch;
                }
            }
            let ips = n as f64 / ((now_ms() - t0) / 1000.0);
            let model = trainer.into_model();
            let one = Tensor::<4>::from_data(
                TensorData::new(vec![0.5f32; PIXELS], [1, 1, 28, 28]),
                &device,
            );
            for _ in 0..5 {
                let _ = model.forward(one.clone()).into_data();
            }
            let reps = if quick { 20 } else { 200 };
            let t0 = now_ms();
            for _ in 0..reps {
                let _ = model.forward(one.clone()).into_data();
            }
            let lat = (now_ms() - t0) / reps as f64;
            println!(
                "| {} | {} | {:.0} | {:.3} |",
                backend.name(),
                kind.name(),
                ips,
                lat
            );
        }
    }
}
