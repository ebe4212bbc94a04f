//! The native command-line tool `aelab`: drives the same core as the page
//! and reproduces every figure and number of the report.

use crate::data::{self, Mnist, Split};
use crate::labs::denoise::{self, DenoiseTask, NoiseSpec, EVAL_SEED, REPORT_LEVELS};
use crate::models::record::{self, Weights};
use crate::models::{Classifier, ClassifierConfig, Denoiser, DenoiserConfig, DenoiserKind};
use crate::platform::{block_on, CpuBackend};
use crate::training::classify::ClassifyTask;
use crate::training::{Event, Schedule, Task, TrainConfig, Trainer};
use burn::prelude::*;
use clap::{Args, Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "aelab",
    version,
    about = "The autoencoder laboratory, on the command line"
)]
pub struct Cli {
    /// CPU backend: flex (default) or ndarray.
    #[arg(long, global = true, default_value = "flex")]
    backend: String,
    /// Directory of the assets (MNIST, weights); default: $AELAB_ASSETS, else ./assets, else the source tree's assets.
    #[arg(long, global = true)]
    assets: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The digit classifier that judges every lab.
    #[command(subcommand)]
    Classifier(ClassifierCmd),
    /// Exercise 1: denoising.
    #[command(subcommand)]
    Denoise(DenoiseCmd),
    /// Training throughput and denoising latency on the CPU backends (the
    /// same code as `cargo bench --bench denoise`).
    Bench {
        /// A short smoke run.
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Args, Debug, Clone)]
struct TrainArgs {
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Keep the learning rate constant instead of the cosine decay.
    #[arg(long)]
    constant_lr: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Train on the first N training images only.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Share of the training images held out for validation.
    #[arg(long, default_value_t = 0.05)]
    valid_fraction: f32,
}

#[derive(Subcommand, Debug)]
enum ClassifierCmd {
    /// Train the classifier on clean MNIST (random shifts of ±2 px).
    Train {
        #[command(flatten)]
        train: TrainArgs,
        /// Where to write the weights; default: models/classifier.aelab in the assets.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Accuracy on the clean test set.
    Eval {
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Evaluate on the first N test images.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum DenoiseCmd {
    /// Train a denoiser.
    Train {
        #[command(flatten)]
        train: TrainArgs,
        /// canonical (the Keras-blog model) or skip (the better variant).
        /// (default: canonical; not with --init)
        #[arg(long)]
        kind: Option<String>,
        /// Train on one noise factor instead of a range.
        #[arg(long)]
        noise: Option<f32>,
        #[arg(long, default_value_t = 0.3)]
        noise_min: f32,
        #[arg(long, default_value_t = 0.9)]
        noise_max: f32,
        /// Width of the first layers (default 32; not with --init).
        #[arg(long)]
        width: Option<usize>,
        /// Start from these weights (fine-tuning) instead of from scratch.
        #[arg(long)]
        init: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// PSNR, SSIM and classifier accuracy at f = 0.5, 0.7, 0.9 on the test set.
    Eval {
        /// Denoiser weights; default: the best shipped model.
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long)]
        classifier: Option<PathBuf>,
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
        #[arg(long, default_value_t = EVAL_SEED)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// Draw the report figure: ten digits × (clean, noisy, denoised) × levels.
    Figure {
        #[arg(long, default_value = "denoise.png")]
        out: PathBuf,
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long)]
        classifier: Option<PathBuf>,
        #[arg(long, default_value_t = EVAL_SEED)]
        seed: u64,
    },
}

struct Ctx {
    device: Device,
    assets: PathBuf,
}

impl Ctx {
    fn mnist(&self, split: Split) -> Result<Mnist, String> {
        data::load_mnist(&self.assets.join("mnist"), split)
    }

    fn default_classifier(&self) -> PathBuf {
        self.assets.join("models/classifier.aelab")
    }

    fn default_denoiser(&self) -> PathBuf {
        let skip = self.assets.join("models/denoiser-skip.aelab");
        if skip.exists() {
            skip
        } else {
            self.assets.join("models/denoiser-canonical.aelab")
        }
    }

    /// Reads a weights file: the model and its configuration.
    fn load_with_config<M: Weights>(&self, path: &Path) -> Result<(M, M::Config), String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        record::from_bytes::<M>(&bytes, &self.device)
            .map(|(m, c, _)| (m, c))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn load<M: Weights>(&self, path: &Path) -> Result<M, String> {
        self.load_with_config(path).map(|(m, _)| m)
    }
}

/// Entry point; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let backend = CpuBackend::parse(&cli.backend)?;
    let ctx = Ctx {
        device: backend.device(),
        assets: cli.assets.unwrap_or_else(data::assets_dir),
    };
    match cli.command {
        Command::Classifier(c) => classifier_cmd(&ctx, c),
        Command::Denoise(c) => denoise_cmd(&ctx, c),
        Command::Bench { quick } => {
            crate::bench::run(quick, &[CpuBackend::Flex, CpuBackend::NdArray]);
            Ok(())
        }
    }
}

fn train_config(a: &TrainArgs) -> TrainConfig {
    TrainConfig {
        epochs: a.epochs,
        batch_size: a.batch_size,
        learning_rate: a.lr,
        schedule: if a.constant_lr {
            Schedule::Constant
        } else {
            Schedule::Cosine
        },
        seed: a.seed,
    }
}

fn split_train(ctx: &Ctx, a: &TrainArgs) -> Result<(Mnist, Mnist), String> {
    if !(0.0..1.0).contains(&a.valid_fraction) {
        return Err("--valid-fraction must be in [0, 1)".into());
    }
    let mut train = ctx.mnist(Split::Train)?;
    if let Some(n) = a.limit {
        train = train.take(n as usize);
    }
    Ok(train.split_validation(a.valid_fraction, a.seed))
}

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
fn train_with_progress<T: Task>(
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

fn save<M: Weights>(
    model: &M,
    config: &M::Config,
    meta: serde_json::Value,
    out: &Path,
) -> Result<(), String> {
    let bytes = record::to_bytes(model, config, meta).map_err(|e| e.to_string())?;
    if let Some(dir) = out.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    std::fs::write(out, bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!("saved {}", out.display());
    Ok(())
}

fn classifier_cmd(ctx: &Ctx, cmd: ClassifierCmd) -> Result<(), String> {
    match cmd {
        ClassifierCmd::Train { train, out } => {
            let (tr, va) = split_train(ctx, &train)?;
            eprintln!(
                "training the classifier on {} images ({} held out)",
                tr.len(),
                va.len()
            );
            ctx.device.seed(train.seed);
            let config = ClassifierConfig::new();
            let model = config.init(&ctx.device);
            let task = ClassifyTask {
                train: tr,
                valid: va,
                max_shift: 2,
            };
            let mut trainer = Trainer::new(task, model, train_config(&train), &ctx.device)
                .map_err(|e| e.to_string())?;
            let meta = |t: &Trainer<_>| serde_json::json!({"train": train_config(&train), "history": t.history()});
            let out = out.unwrap_or_else(|| ctx.default_classifier());
            train_with_progress(&mut trainer, |t| save(&t.model(), &config, meta(t), &out))
        }
        ClassifierCmd::Eval {
            weights,
            limit,
            json,
        } => {
            let mut test = ctx.mnist(Split::Test)?;
            if let Some(n) = limit {
                test = test.take(n as usize);
            }
            let path = weights.unwrap_or_else(|| ctx.default_classifier());
            let model: Classifier = ctx.load(&path)?;
            let clean = test.batch_f32(&(0..test.len()).collect::<Vec<_>>());
            let v = block_on(crate::infer::classify(&model, &clean, &ctx.device))?;
            let preds: Vec<u8> = v.iter().map(|v| v.digit).collect();
            let acc = crate::metrics::accuracy(&preds, &test.labels);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"images": test.len(), "accuracy": acc})
                );
            } else {
                println!(
                    "classifier accuracy on {} clean test images: {:.2} %",
                    test.len(),
                    acc * 100.0
                );
            }
            Ok(())
        }
    }
}

fn denoise_cmd(ctx: &Ctx, cmd: DenoiseCmd) -> Result<(), String> {
    match cmd {
        DenoiseCmd::Train {
            train,
            kind,
            noise,
            noise_min,
            noise_max,
            width,
            init,
            out,
        } => {
            let noise = match noise {
                Some(f) => NoiseSpec::Fixed(f),
                None => NoiseSpec::Range(noise_min, noise_max),
            };
            match noise {
                NoiseSpec::Fixed(f) if !(0.0..=2.0).contains(&f) => {
                    return Err("--noise must be in [0, 2]".into())
                }
                NoiseSpec::Range(a, b) if !(0.0 <= a && a <= b && b <= 2.0) => {
                    return Err("need 0 <= --noise-min <= --noise-max <= 2".into())
                }
                _ => {}
            }
            let (tr, va) = split_train(ctx, &train)?;
            ctx.device.seed(train.seed);
            let (model, config) = match init {
                Some(_) if kind.is_some() || width.is_some() => {
                    return Err("--kind and --width describe a new model; with --init the file's model is fine-tuned as it is".into())
                }
                Some(p) => ctx.load_with_config::<Denoiser>(&p)?,
                None => {
                    let config = DenoiserConfig::new()
                        .with_kind(DenoiserKind::parse(kind.as_deref().unwrap_or("canonical"))?)
                        .with_width(width.unwrap_or(32));
                    Denoiser::validate(&config)?;
                    (config.init(&ctx.device), config)
                }
            };
            eprintln!(
                "training the {} denoiser ({} parameters) on {} images, {} ({} held out)",
                config.kind.name(),
                model.num_params(),
                tr.len(),
                noise.describe(),
                va.len()
            );
            let task = DenoiseTask {
                train: tr,
                valid: va,
                noise,
                valid_seed: train.seed ^ 0xDEAD,
            };
            let mut trainer = Trainer::new(task, model, train_config(&train), &ctx.device)
                .map_err(|e| e.to_string())?;
            let meta = |t: &Trainer<_>| serde_json::json!({"noise": noise, "train": train_config(&train), "history": t.history()});
            train_with_progress(&mut trainer, |t| save(&t.model(), &config, meta(t), &out))
        }
        DenoiseCmd::Eval {
            weights,
            classifier,
            limit,
            seed,
            json,
        } => {
            let wpath = weights.unwrap_or_else(|| ctx.default_denoiser());
            let den: Denoiser = ctx.load(&wpath)?;
            let cls: Classifier =
                ctx.load(&classifier.unwrap_or_else(|| ctx.default_classifier()))?;
            let mut test = ctx.mnist(Split::Test)?;
            if let Some(n) = limit {
                test = test.take(n as usize);
            }
            let report = block_on(denoise::evaluate(
                &den,
                &cls,
                &test,
                &REPORT_LEVELS,
                seed,
                &ctx.device,
            ))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&report).map_err(|e| e.to_string())?
                );
            } else {
                println!(
                    "denoiser {} on {} test images, noise seed {}",
                    wpath.display(),
                    report.images,
                    seed
                );
                println!(
                    "classifier accuracy, clean: {:.2} %",
                    report.classifier_accuracy_clean * 100.0
                );
                println!("|   f | acc noisy | acc denoised | acc median3 | PSNR noisy | PSNR denoised | SSIM noisy | SSIM denoised |");
                println!("|-----|-----------|--------------|-------------|------------|---------------|------------|---------------|");
                for l in &report.levels {
                    println!(
                        "| {:.1} | {:8.2}% | {:11.2}% | {:10.2}% | {:7.2} dB | {:10.2} dB | {:10.3} | {:13.3} |",
                        l.noise,
                        l.accuracy_noisy * 100.0,
                        l.accuracy_denoised * 100.0,
                        l.accuracy_median3 * 100.0,
                        l.psnr_noisy,
                        l.psnr_denoised,
                        l.ssim_noisy,
                        l.ssim_denoised
                    );
                }
            }
            Ok(())
        }
        DenoiseCmd::Figure {
            out,
            weights,
            classifier,
            seed,
        } => {
            let wpath = weights.unwrap_or_else(|| ctx.default_denoiser());
            let den: Denoiser = ctx.load(&wpath)?;
            let cls: Classifier =
                ctx.load(&classifier.unwrap_or_else(|| ctx.default_classifier()))?;
            let test = ctx.mnist(Split::Test)?;
            let fig = block_on(denoise::figure_data(
                &den,
                &cls,
                &test,
                &REPORT_LEVELS,
                seed,
                &ctx.device,
            ))?;
            let name = wpath
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            crate::figure::draw_denoise_figure(
                &fig,
                &out,
                &format!("Denoising MNIST ({name}); verdicts of the classifier"),
            )?;
            eprintln!("wrote {}", out.display());
            Ok(())
        }
    }
}
