//! The native command-line tool `aelab`: drives the same core as the page
//! and reproduces every figure and number of the report.

use crate::data::{self, Mnist, Split};
use crate::labs::anomaly;
use crate::labs::augment;
use crate::labs::denoise::{self, DenoiseTask, NoiseSpec, EVAL_SEED, REPORT_LEVELS};
use crate::models::record::{self, Weights};
use crate::models::{Classifier, ClassifierConfig, Denoiser, DenoiserConfig, DenoiserKind};
use crate::platform::{block_on, CpuBackend};
use crate::training::classify::{Affine, ClassifyTask};
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
    /// Exercise 2: few-shot digit generation, judged by the classifier.
    Augment(AugmentCmd),
    /// Exercise 3: anomaly detection in time series by reconstruction error.
    Anomaly(AnomalyCmd),
    /// Weights files: store the parameters as f32, f16 or 8-bit.
    #[command(subcommand)]
    Weights(WeightsCmd),
    /// Training throughput and denoising latency on the CPU backends (the
    /// same code as `cargo bench --bench denoise`).
    Bench {
        /// A short smoke run.
        #[arg(long)]
        quick: bool,
        /// Only these CPU backends (comma-separated): flex, ndarray.
        #[arg(long = "backends", value_delimiter = ',')]
        backends: Vec<String>,
        /// Which CPU kernels: engine (aelab's own, the default), burn
        /// (burn's ops, for comparison), or both.
        #[arg(long, default_value = "engine")]
        kernels: String,
        /// Only these models (comma-separated): canonical, skip, classifier.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Batch sizes (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = [128, 16])]
        batch: Vec<usize>,
        /// Timed training steps per run (default: about 2 560 images).
        #[arg(long)]
        steps: Option<usize>,
        /// Also print one JSON line per run.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum WeightsCmd {
    /// Rewrite a weights file with another storage for its parameters:
    /// f32 (exact), f16 (half the size), q8 (8-bit, a quarter of the
    /// size) or q4 (q8 with the large dense layers 4-bit). The model
    /// computes in f32.
    Convert {
        /// An aelab weights file (any model).
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// f32, f16, q8 or q4.
        #[arg(long, default_value = "q8")]
        to: String,
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
    /// Train the classifier on clean MNIST (geometric augmentation only).
    Train {
        #[command(flatten)]
        train: TrainArgs,
        /// Augmentation: "shift" (±2 px) or "affine" (±2 px, ±12°, ±10 %
        /// scale, ±0.2 shear).
        #[arg(long, default_value = "shift", value_parser = ["shift", "affine"])]
        augment: String,
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
        /// Channels of the skip model's 7×7 bottleneck (default 64; not with --init).
        #[arg(long)]
        bottleneck: Option<usize>,
        /// 3×3 convolutions at 7×7 in the skip model (default 3; not with --init).
        #[arg(long)]
        depth: Option<usize>,
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

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct AugmentCmd {
    #[command(subcommand)]
    sub: Option<AugmentSub>,
    #[command(flatten)]
    run: AugmentArgs,
}

#[derive(Args, Debug, Clone)]
struct AugmentModelArgs {
    /// Dimensions of the latent code.
    #[arg(long, default_value_t = 16)]
    latent: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Training epochs (each shows at least 1000 shifted images).
    #[arg(long, default_value_t = 40)]
    epochs: usize,
    /// Channels of the 28×28 layers (the 14×14 ones have twice as many).
    #[arg(long, default_value_t = 32)]
    width: usize,
    /// Standard deviation of the noise added to the codes in training (default 0.3).
    #[arg(long)]
    code_noise: Option<f32>,
    /// Weight of the mean squared code in the loss (default 0.001).
    #[arg(long)]
    code_penalty: Option<f32>,
}

/// Train on N examples of one digit, generate, judge and measure diversity.
#[derive(Args, Debug, Clone)]
struct AugmentArgs {
    #[arg(long, default_value_t = 2)]
    digit: u8,
    /// How many training examples of the digit.
    #[arg(long, default_value_t = 100)]
    examples: usize,
    /// How many digits to generate (sampled from a Gaussian fitted to the training codes).
    #[arg(long, default_value_t = 200)]
    samples: usize,
    #[command(flatten)]
    model: AugmentModelArgs,
    /// Generate by perturbing random training codes with noise of this scale (× each dimension's spread) instead of sampling the Gaussian fit.
    #[arg(long)]
    perturb: Option<f32>,
    /// Also walk from the first training code until the classifier no longer sees the digit.
    #[arg(long)]
    fool: bool,
    /// Save the trained autoencoder here.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum AugmentSub {
    /// Draw the report figure: generated digits and verdicts for 1000, 100 and 10 examples.
    Figure {
        #[arg(long, default_value = "augment.png")]
        out: PathBuf,
        #[arg(long, default_value_t = 2)]
        digit: u8,
        /// Generated digits per panel.
        #[arg(long, default_value_t = 30)]
        samples: usize,
        #[command(flatten)]
        model: AugmentModelArgs,
    },
    /// The README table: recognised rate and diversity for several digits × 1000, 100, 10 examples.
    Table {
        /// Comma-separated digits.
        #[arg(long, default_value = "2,3,8")]
        digits: String,
        #[arg(long, default_value_t = 200)]
        samples: usize,
        #[command(flatten)]
        model: AugmentModelArgs,
        #[arg(long)]
        json: bool,
        /// Also draw the report figure for the first digit, from the same runs.
        #[arg(long)]
        figure: Option<PathBuf>,
        /// Generated digits per panel of the figure.
        #[arg(long, default_value_t = 30)]
        figure_samples: usize,
    },
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct AnomalyCmd {
    #[command(subcommand)]
    sub: Option<AnomalySub>,
    #[command(flatten)]
    data: AnomalyData,
    #[command(flatten)]
    model: AnomalyModelArgs,
    /// meanstd:K, mad:K, pct:P, max or value:V (default: mad:4, the median of the validation errors plus 4 MAD).
    #[arg(long)]
    threshold: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum AnomalySub {
    /// Dense against conv1d, each at several thresholds: the comparison table.
    Compare {
        #[command(flatten)]
        data: AnomalyData,
        #[command(flatten)]
        model: AnomalyModelArgs,
        #[arg(long)]
        json: bool,
    },
}

/// Where the series come from.
#[derive(Args, Debug, Clone)]
struct AnomalyData {
    /// ecg5000 (the UCR heartbeats) or machine (a generated machine signal).
    #[arg(long)]
    dataset: Option<String>,
    /// A CSV of training series (its normal ones are used).
    #[arg(long)]
    train: Option<PathBuf>,
    /// A labelled CSV of test series.
    #[arg(long)]
    test: Option<PathBuf>,
    /// ucr (one series per row), long (one value per row) or auto.
    #[arg(long, default_value = "auto")]
    format: String,
    /// UCR: the label column (a header name or a 0-based index). Long: the 0/1 label column.
    #[arg(long)]
    label_column: Option<String>,
    /// UCR: the label of normal rows (default 1).
    #[arg(long)]
    normal_label: Option<String>,
    /// Long: the value column (default: "value", else the last column).
    #[arg(long)]
    value_column: Option<String>,
    /// Long: the timestamp column.
    #[arg(long)]
    timestamp_column: Option<String>,
    /// Long: points per window.
    #[arg(long, default_value_t = 48)]
    window: usize,
    /// Long: points between window starts.
    #[arg(long, default_value_t = 8)]
    stride: usize,
}

#[derive(Args, Debug, Clone)]
struct AnomalyModelArgs {
    /// dense or conv1d.
    #[arg(long, default_value = "dense")]
    model: String,
    /// Bottleneck size (default: 32 for dense, 16 for conv1d).
    #[arg(long)]
    latent: Option<usize>,
    /// Layers each way (default: 3 for dense, 2 for conv1d).
    #[arg(long)]
    depth: Option<usize>,
    /// Training epochs (default: 300 for dense, 100 for conv1d).
    #[arg(long)]
    epochs: Option<usize>,
    /// Share of the normal training series held out to set the threshold.
    #[arg(long, default_value_t = 0.2)]
    valid_fraction: f32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
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
    crate::platform::tune_allocator();
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
        Command::Augment(c) => augment_cmd(&ctx, c),
        Command::Anomaly(c) => anomaly_cmd(&ctx, c),
        Command::Weights(WeightsCmd::Convert { input, out, to }) => {
            let storage = record::Storage::parse(&to)?;
            let bytes = std::fs::read(&input)
                .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
            let (converted, name) = record::convert(&bytes, storage)
                .map_err(|e| format!("{}: {e}", input.display()))?;
            write_file(&out, &converted)?;
            eprintln!(
                "{name}: {} -> {} bytes ({to}), saved {}",
                bytes.len(),
                converted.len(),
                out.display()
            );
            Ok(())
        }
        Command::Bench {
            quick,
            backends,
            kernels,
            models,
            batch,
            steps,
            json,
        } => {
            use crate::bench::{BenchModel, BenchPlan};
            use crate::engine::Kernels;
            let mut plan = if quick {
                BenchPlan::quick()
            } else {
                BenchPlan::full()
            };
            if !backends.is_empty() {
                plan.backends = backends
                    .iter()
                    .map(|b| CpuBackend::parse(b))
                    .collect::<Result<_, _>>()?;
            }
            plan.kernels = match kernels.as_str() {
                "both" => vec![Kernels::Engine, Kernels::Burn],
                k => vec![Kernels::parse(k).map_err(|e| format!("{e} (or 'both')"))?],
            };
            if !models.is_empty() {
                plan.models = models
                    .iter()
                    .map(|m| BenchModel::parse(m))
                    .collect::<Result<_, _>>()?;
            }
            if batch.contains(&0) {
                return Err("the batch size must be at least 1".into());
            }
            plan.batches = batch;
            if steps == Some(0) {
                return Err("--steps must be at least 1".into());
            }
            plan.steps = steps.or(plan.steps);
            plan.json = json;
            crate::bench::run(&plan)
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
    write_file(out, &bytes)?;
    eprintln!("saved {}", out.display());
    Ok(())
}

/// Writes `bytes` to `out`, creating its folder if needed.
fn write_file(out: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = out.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    std::fs::write(out, bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

fn classifier_cmd(ctx: &Ctx, cmd: ClassifierCmd) -> Result<(), String> {
    match cmd {
        ClassifierCmd::Train {
            train,
            augment,
            out,
        } => {
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
                affine: (augment == "affine").then_some(Affine::DEFAULT),
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
            bottleneck,
            depth,
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
                Some(_)
                    if kind.is_some()
                        || width.is_some()
                        || bottleneck.is_some()
                        || depth.is_some() =>
                {
                    return Err("--kind, --width, --bottleneck and --depth describe a new model; with --init the file's model is fine-tuned as it is".into())
                }
                Some(p) => ctx.load_with_config::<Denoiser>(&p)?,
                None => {
                    let config = DenoiserConfig::new()
                        .with_kind(DenoiserKind::parse(kind.as_deref().unwrap_or("canonical"))?)
                        .with_width(width.unwrap_or(32));
                    let config = DenoiserConfig {
                        bottleneck: bottleneck.unwrap_or(config.bottleneck),
                        depth: depth.unwrap_or(config.depth),
                        ..config
                    };
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

/// Trains an augmenter on `examples` examples of `digit`, with a progress
/// bar on stderr.
fn train_augmenter(
    ctx: &Ctx,
    data: &(Mnist, Mnist),
    digit: u8,
    examples: usize,
    m: &AugmentModelArgs,
) -> Result<(augment::Augmenter, augment::AugmentSettings), String> {
    let mut settings = augment::AugmentSettings::new(digit, examples, m.seed);
    settings.latent = m.latent;
    settings.width = m.width;
    settings.train.epochs = m.epochs;
    if let Some(v) = m.code_noise {
        settings.code_noise = v;
    }
    if let Some(v) = m.code_penalty {
        settings.code_penalty = v;
    }
    let (mut trainer, chosen) = augment::trainer(&data.0, &data.1, &settings, &ctx.device)?;
    eprintln!(
        "training the augmenter (d = {}) on {examples} examples of digit {digit}",
        settings.latent
    );
    train_with_progress(&mut trainer, |_| Ok(()))?;
    let images = data.0.batch_f32(&chosen);
    let aug = block_on(augment::Augmenter::new(
        trainer.into_model(),
        digit,
        images,
        &ctx.device,
    ))?;
    Ok((aug, settings))
}

/// Generates `samples` digits (from the Gaussian fit, or by perturbing
/// training codes with noise of scale `perturb`) and judges them.
fn generate_and_judge(
    ctx: &Ctx,
    aug: &augment::Augmenter,
    reference: &augment::Reference,
    classifier: &Classifier,
    samples: usize,
    seed: u64,
    perturb: Option<f32>,
) -> Result<(Vec<f32>, augment::Judged), String> {
    if samples < 2 {
        return Err("--samples must be at least 2".into());
    }
    let codes = match perturb {
        Some(s) if !(s.is_finite() && s >= 0.0) => {
            return Err("--perturb must be a number ≥ 0".into())
        }
        Some(s) => augment::perturbed_codes(aug, samples, s, seed),
        None => augment::sample_codes(aug, samples, seed),
    };
    let images = block_on(aug.decode(&codes, &ctx.device))?;
    let judged = block_on(augment::judge(
        &images,
        &aug.examples,
        reference,
        classifier,
        &ctx.device,
    ))?;
    Ok((images, judged))
}

fn augment_cmd(ctx: &Ctx, cmd: AugmentCmd) -> Result<(), String> {
    let classifier: Classifier = ctx.load(&ctx.default_classifier())?;
    let data = (ctx.mnist(Split::Train)?, ctx.mnist(Split::Test)?);
    match cmd.sub {
        None => {
            let a = cmd.run;
            let (aug, settings) = train_augmenter(ctx, &data, a.digit, a.examples, &a.model)?;
            if let Some(out) = &a.out {
                let meta = serde_json::json!({"digit": a.digit, "examples": a.examples, "settings": settings});
                save(&aug.model, &settings.model_config(), meta, out)?;
            }
            let reference = block_on(augment::Reference::new(
                &data.1,
                a.digit,
                &classifier,
                &ctx.device,
            ))?;
            let (_, judged) = generate_and_judge(
                ctx,
                &aug,
                &reference,
                &classifier,
                a.samples,
                a.model.seed,
                a.perturb,
            )?;
            let fooled = if a.fool {
                Some(block_on(augment::fool(
                    &aug,
                    &classifier,
                    aug.code(0),
                    0.05,
                    400,
                    &ctx.device,
                ))?)
            } else {
                None
            };
            if a.json {
                let mut v = serde_json::to_value(&judged).map_err(|e| e.to_string())?;
                v["latent"] = a.model.latent.into();
                v["reconstruction_recognised_rate"] = block_on(augment::reconstruction_rate(
                    &aug,
                    &reference,
                    &classifier,
                    &ctx.device,
                ))?
                .into();
                let std = aug.fit.std();
                v["code_spread"] =
                    ((std.iter().map(|s| s * s).sum::<f64>() / std.len() as f64).sqrt()).into();
                v["seed"] = a.model.seed.into();
                if let Some(f) = &fooled {
                    v["fool"] = serde_json::json!({
                        "fooled": f.fooled,
                        "start_recognised": f.start_recognised,
                        "distance": f.distance,
                        "distance_in_std": f.distance_in_std,
                        "path_length": f.path_length,
                        "steps": f.path.len(),
                        "became": f.became,
                        "became_confidence": f.became_confidence,
                    });
                }
                println!("{v}");
            } else {
                print_augment_table(&[judged]);
                if let Some(f) = fooled {
                    println!(
                        "fooling from training example 0: {} after {} points; straight-line distance {:.3} ({:.2} × the codes' spread), walked {:.3}; it became a {} ({:.0} %)",
                        if f.fooled { "fooled" } else { "not fooled" },
                        f.path.len(),
                        f.distance,
                        f.distance_in_std,
                        f.path_length,
                        f.became,
                        f.became_confidence * 100.0
                    );
                }
            }
            Ok(())
        }
        Some(AugmentSub::Figure {
            out,
            digit,
            samples,
            model,
        }) => {
            let reference = block_on(augment::Reference::new(
                &data.1,
                digit,
                &classifier,
                &ctx.device,
            ))?;
            let mut panels = Vec::new();
            for n in augment::REPORT_EXAMPLES {
                let (aug, _) = train_augmenter(ctx, &data, digit, n, &model)?;
                let (images, judged) = generate_and_judge(
                    ctx,
                    &aug,
                    &reference,
                    &classifier,
                    samples.max(2),
                    model.seed,
                    None,
                )?;
                panels.push(augment_panel(images, judged, samples));
            }
            draw_augment_report(&panels, digit, &model, &out)?;
            Ok(())
        }
        Some(AugmentSub::Table {
            digits,
            samples,
            model,
            json,
            figure,
            figure_samples,
        }) => {
            let digits: Vec<u8> = digits
                .split(',')
                .map(|d| d.trim().parse::<u8>().ok().filter(|d| *d <= 9))
                .collect::<Option<_>>()
                .ok_or("--digits must be a comma-separated list of digits 0–9")?;
            let mut rows = Vec::new();
            let mut panels = Vec::new();
            for &d in &digits {
                let reference = block_on(augment::Reference::new(
                    &data.1,
                    d,
                    &classifier,
                    &ctx.device,
                ))?;
                for n in augment::REPORT_EXAMPLES {
                    let (aug, _) = train_augmenter(ctx, &data, d, n, &model)?;
                    let (images, judged) = generate_and_judge(
                        ctx,
                        &aug,
                        &reference,
                        &classifier,
                        samples,
                        model.seed,
                        None,
                    )?;
                    if figure.is_some() && d == digits[0] {
                        panels.push(augment_panel(images, judged.clone(), figure_samples));
                    }
                    rows.push(judged);
                }
            }
            if let Some(out) = &figure {
                draw_augment_report(&panels, digits[0], &model, out)?;
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&rows).map_err(|e| e.to_string())?
                );
            } else {
                print_augment_table(&rows);
            }
            Ok(())
        }
    }
}

fn print_augment_table(rows: &[augment::Judged]) {
    println!("| digit | examples | recognised | confidence | pairwise L2 ratio | FID | precision | recall | density | coverage | duplicates |");
    println!("|-------|----------|------------|------------|-------------------|-----|-----------|--------|---------|----------|------------|");
    for r in rows {
        let d = &r.diversity;
        println!(
            "| {} | {} | {:.1} % | {:.3} | {:.3} | {:.1} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1} % |",
            r.digit,
            r.examples,
            r.recognised_rate * 100.0,
            r.mean_confidence,
            d.pairwise_l2_ratio,
            d.fid,
            d.precision,
            d.recall,
            d.density,
            d.coverage,
            d.duplicate_rate * 100.0
        );
    }
}

/// A panel of the augmentation figure: the first `show` generated digits of
/// a run, titled with the run's figures (over all its samples).
fn augment_panel(
    images: Vec<f32>,
    judged: augment::Judged,
    show: usize,
) -> crate::figure::AugmentPanel {
    let show = show.min(judged.samples);
    crate::figure::AugmentPanel {
        title: format!(
            "{} examples: {:.1} % of {} samples recognised as {}; pairwise-L2 ratio {:.2}, FID {:.0}, duplicates {:.1} %",
            judged.examples,
            judged.recognised_rate * 100.0,
            judged.samples,
            judged.digit,
            judged.diversity.pairwise_l2_ratio,
            judged.diversity.fid,
            judged.diversity.duplicate_rate * 100.0
        ),
        images: images[..show * crate::data::PIXELS].to_vec(),
        verdicts: judged.verdicts[..show].to_vec(),
        digit: judged.digit,
    }
}

fn draw_augment_report(
    panels: &[crate::figure::AugmentPanel],
    digit: u8,
    model: &AugmentModelArgs,
    out: &Path,
) -> Result<(), String> {
    crate::figure::draw_augment_figure(
        panels,
        10,
        out,
        &format!(
            "Digits generated from a Gaussian fit to the codes of {digit}s (d = {}, seed {}); classifier verdicts",
            model.latent, model.seed
        ),
    )?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// The data of an anomaly run: normal training series, labelled test
/// series, and for long-form data the test series itself (for events).
struct AnomalyRunData {
    name: String,
    train: crate::data::series::SeriesSet,
    /// Normal validation series, when they must not be drawn at random
    /// from `train` (windows of a long series).
    valid: Option<crate::data::series::SeriesSet>,
    test: crate::data::series::SeriesSet,
    long: Option<(crate::data::series::LongSeries, usize, usize)>,
}

fn anomaly_data(ctx: &Ctx, d: &AnomalyData, seed: u64) -> Result<AnomalyRunData, String> {
    use crate::data::machine::benchmark;
    use crate::data::series::{self, Column, Shape};
    match (d.dataset.as_deref(), &d.train, &d.test) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err("give either --dataset or --train and --test, not both".into())
        }
        (Some("ecg5000"), None, None) => {
            let dir = ctx.assets.join("ecg5000");
            let train = data::load_ecg5000(&dir, Split::Train)?;
            let test = data::load_ecg5000(&dir, Split::Test)?;
            Ok(AnomalyRunData {
                name: "ECG5000".into(),
                train: train.select(false),
                valid: None,
                test,
                long: None,
            })
        }
        (Some("machine"), None, None) => {
            let b = benchmark(seed);
            let win = |s: &crate::data::series::LongSeries| {
                s.windows(d.window, d.stride).map_err(|e| e.to_string())
            };
            Ok(AnomalyRunData {
                name: "generated machine signal".into(),
                train: win(&b.train)?,
                valid: Some(win(&b.valid)?),
                test: win(&b.test.series)?,
                long: Some((b.test.series, d.window, d.stride)),
            })
        }
        (Some(other), None, None) => Err(format!(
            "unknown dataset '{other}': expected ecg5000 or machine (or --train and --test)"
        )),
        (None, Some(tr), Some(te)) => {
            let read = |p: &PathBuf| -> Result<Vec<u8>, String> {
                let meta = std::fs::metadata(p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                if meta.len() as usize > series::MAX_CSV_BYTES {
                    return Err(format!(
                        "{}: {}",
                        p.display(),
                        series::SeriesError::TooLarge(meta.len() as usize)
                    ));
                }
                std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
            };
            let load = |p: &PathBuf| -> Result<
                (
                    crate::data::series::SeriesSet,
                    Option<crate::data::series::LongSeries>,
                ),
                String,
            > {
                let bytes = read(p)?;
                let at = |e: series::SeriesError| format!("{}: {e}", p.display());
                let raw = series::maybe_gunzip(&bytes).map_err(at)?;
                let table =
                    series::parse_table(series::text_of(&raw).map_err(at)?, None).map_err(at)?;
                let shape = match d.format.as_str() {
                    "auto" => series::guess_shape(&table),
                    "ucr" => Shape::Ucr,
                    "long" => Shape::Long,
                    f => {
                        return Err(format!(
                            "unknown --format '{f}': expected ucr, long or auto"
                        ))
                    }
                };
                match shape {
                    Shape::Ucr => {
                        let label = d.label_column.as_deref().map(Column::parse);
                        let set = series::ucr(&table, label.as_ref(), d.normal_label.as_deref())
                            .map_err(at)?;
                        Ok((set, None))
                    }
                    Shape::Long => {
                        let value = match &d.value_column {
                            Some(c) => Column::parse(c),
                            None => table.default_value_column(),
                        };
                        let label = d.label_column.as_deref().map(Column::parse);
                        let ts = d.timestamp_column.as_deref().map(Column::parse);
                        let long = series::long(&table, &value, ts.as_ref(), label.as_ref())
                            .map_err(at)?;
                        let set = long.windows(d.window, d.stride).map_err(at)?;
                        Ok((set, Some(long)))
                    }
                }
            };
            let (train, train_long) = load(tr)?;
            let (test, long) = load(te)?;
            // A long training series is split in time: its last fifth
            // gives the validation windows.
            let (train, valid) = match train_long {
                Some(l) => {
                    let cut = l.values.len() * 4 / 5;
                    let part = |a: usize, b: usize| series::LongSeries {
                        values: l.values[a..b].to_vec(),
                        labels: l.labels.as_ref().map(|x| x[a..b].to_vec()),
                        timestamps: None,
                    };
                    let at = |e: series::SeriesError| format!("{}: {e}", tr.display());
                    let t = part(0, cut).windows(d.window, d.stride).map_err(at)?;
                    let v = part(cut, l.values.len())
                        .windows(d.window, d.stride)
                        .map_err(at)?;
                    (t, Some(v.select(false)))
                }
                None => (train, None),
            };
            if test.anomalous.is_none() {
                return Err(format!(
                    "{}: the test data needs labels (--label-column) to be scored",
                    te.display()
                ));
            }
            if train.len != test.len {
                return Err(format!(
                    "the training series have {} points and the test series {}",
                    train.len, test.len
                ));
            }
            Ok(AnomalyRunData {
                name: te.display().to_string(),
                train: train.select(false),
                valid,
                test,
                long: long.map(|l| (l, d.window, d.stride)),
            })
        }
        (None, _, _) => {
            Err("give --dataset ecg5000|machine, or --train FILE and --test FILE".into())
        }
    }
}

fn anomaly_settings(m: &AnomalyModelArgs) -> Result<anomaly::AnomalySettings, String> {
    let kind = crate::models::SeriesModelKind::parse(&m.model)?;
    let mut s = anomaly::AnomalySettings::new(kind, m.seed);
    if let Some(l) = m.latent {
        s.latent = l;
    }
    if let Some(d) = m.depth {
        s.depth = d;
    }
    if let Some(e) = m.epochs {
        s.train.epochs = e;
    }
    s.valid_fraction = m.valid_fraction;
    Ok(s)
}

/// Trains on the normal series; returns the model, scaler, validation
/// errors and test errors.
fn anomaly_train(
    ctx: &Ctx,
    data: &AnomalyRunData,
    settings: &anomaly::AnomalySettings,
) -> Result<(Vec<f32>, Vec<f32>), String> {
    let (mut trainer, scaler) = match &data.valid {
        Some(v) => anomaly::trainer_split(&data.train, v, settings, &ctx.device)?,
        None => anomaly::trainer(&data.train, settings, &ctx.device)?,
    };
    eprintln!(
        "training the {} autoencoder on {} normal series of {} points ({})",
        settings.model.name(),
        trainer.task().train.count(),
        data.train.len,
        data.name
    );
    train_with_progress(&mut trainer, |_| Ok(()))?;
    let valid = trainer.task().valid.clone();
    let model = trainer.into_model();
    let unit = anomaly::Scaler { min: 0.0, max: 1.0 };
    let (valid_err, _) = block_on(anomaly::errors(&model, &unit, &valid, &ctx.device))?;
    let (test_err, _) = block_on(anomaly::errors(&model, &scaler, &data.test, &ctx.device))?;
    Ok((valid_err, test_err))
}

fn anomaly_cmd(ctx: &Ctx, cmd: AnomalyCmd) -> Result<(), String> {
    match cmd.sub {
        None => {
            let rule = match &cmd.threshold {
                Some(t) => anomaly::Threshold::parse(t)?,
                None => anomaly::DEFAULT_THRESHOLD,
            };
            let settings = anomaly_settings(&cmd.model)?;
            let data = anomaly_data(ctx, &cmd.data, cmd.model.seed)?;
            let (valid_err, test_err) = anomaly_train(ctx, &data, &settings)?;
            let labels = data.test.anomalous.clone().unwrap_or_default();
            let t = rule.resolve(&valid_err);
            let det = anomaly::detection(
                settings.model.name(),
                &test_err,
                &labels,
                t,
                &rule.describe(),
            );
            let events = data.long.as_ref().map(|(l, w, s)| {
                let flagged: Vec<bool> = test_err.iter().map(|&e| e > t).collect();
                anomaly::event_score(l, *w, *s, &flagged)
            });
            if cmd.json {
                let mut v = serde_json::to_value(&det).map_err(|e| e.to_string())?;
                if let Some(e) = events {
                    v["events"] = serde_json::to_value(e).map_err(|e| e.to_string())?;
                }
                println!("{v}");
            } else {
                print_detection_table(&data.name, &[det]);
                if let Some(e) = events {
                    println!(
                        "events: {} of {} detected (recall {:.3}); {} false alarms ({:.2} per 1000 points)",
                        e.detected, e.events, e.event_recall, e.false_alarms, e.false_alarms_per_1000
                    );
                }
            }
            Ok(())
        }
        Some(AnomalySub::Compare { data, model, json }) => {
            let d = anomaly_data(ctx, &data, model.seed)?;
            let labels = d.test.anomalous.clone().unwrap_or_default();
            let rules = [
                anomaly::DEFAULT_THRESHOLD,
                anomaly::Threshold::MeanStd(2.0),
                anomaly::Threshold::MeanStd(3.0),
                anomaly::Threshold::Percentile(95.0),
                anomaly::Threshold::Percentile(99.0),
                anomaly::Threshold::Max,
            ];
            let mut rows = Vec::new();
            for kind in ["dense", "conv1d"] {
                let mut m = model.clone();
                m.model = kind.into();
                let settings = anomaly_settings(&m)?;
                let (valid_err, test_err) = anomaly_train(ctx, &d, &settings)?;
                for r in rules {
                    let t = r.resolve(&valid_err);
                    rows.push(anomaly::detection(
                        kind,
                        &test_err,
                        &labels,
                        t,
                        &r.describe(),
                    ));
                }
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&rows).map_err(|e| e.to_string())?
                );
            } else {
                print_detection_table(&d.name, &rows);
            }
            Ok(())
        }
    }
}

fn print_detection_table(name: &str, rows: &[anomaly::Detection]) {
    println!("{name}: anomaly is the positive class");
    println!("| model | threshold rule | threshold | AUROC | AUPRC | accuracy | precision | recall | F1 | confusion [[tn, fp], [fn, tp]] |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.5} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:?} |",
            r.model,
            r.threshold_rule,
            r.threshold,
            r.auroc,
            r.auprc,
            r.accuracy,
            r.precision,
            r.recall,
            r.f1,
            r.confusion
        );
    }
}
