//! The native command-line tool `aelab`: drives the same core as the page
//! and reproduces every figure and number of the report. This file holds
//! the top-level flags, the context every command gets and the dispatch;
//! each command is a file of its own (its flags, its `run`, its tables).

mod anomaly;
mod augment;
mod bench;
mod classifier;
mod denoise;
mod io;
mod model;
mod progress;
mod weights;
mod workspace;

use crate::data::{self, Mnist, Split};
use crate::labs::denoise::DenoiseSettings;
use crate::models::record::{self, Weights};
use crate::models::spec::{legacy, presets, Purpose};
use crate::models::{ModelSpec, Net};
use crate::platform::NativeBackend;
use crate::training::{Loss, OptimizerKind, Schedule, TrainConfig};
use burn::prelude::*;
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "aelab",
    version,
    about = "The autoencoder laboratory, on the command line"
)]
pub struct Cli {
    /// Backend: flex (the CPU, default), ndarray (the CPU, for comparison),
    /// wgpu (the GPU, through Vulkan, Metal or DirectX 12) or cuda (an aelab
    /// built with `--features cuda`).
    #[arg(long, global = true, default_value = "flex")]
    backend: String,
    /// Directory of the assets (MNIST, weights); default: $AELAB_ASSETS, else ./assets, else the source tree's assets.
    #[arg(long, global = true)]
    assets: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// The digit classifier that judges every lab.
    #[command(subcommand)]
    Classifier(classifier::ClassifierCmd),
    /// Exercise 1: denoising.
    #[command(subcommand)]
    Denoise(denoise::DenoiseCmd),
    /// Exercise 2: few-shot digit generation, judged by the classifier.
    Augment(augment::AugmentCmd),
    /// Exercise 3: anomaly detection in time series by reconstruction error.
    Anomaly(anomaly::AnomalyCmd),
    /// Model specs: the summary table, the generated Rust or Keras code, the presets.
    #[command(subcommand)]
    Model(model::ModelCmd),
    /// Weights files: store the parameters as f32, f16 or 8-bit.
    #[command(subcommand)]
    Weights(weights::WeightsCmd),
    /// Workspace files saved by the page: list one, or unpack it into the models, runs and commands.
    #[command(subcommand)]
    Workspace(workspace::WorkspaceCmd),
    /// Training throughput and denoising latency, on the CPU backends and
    /// the chosen GPU one (the same code as `cargo bench --bench denoise`).
    Bench(bench::BenchArgs),
}

/// The training flags shared by the classifier and the denoisers; their
/// defaults are those of [`DenoiseSettings::default`], the one place they
/// are written.
#[derive(Args, Debug, Clone)]
struct TrainArgs {
    #[arg(long, default_value_t = DenoiseSettings::default().train.epochs)]
    epochs: usize,
    #[arg(long, default_value_t = DenoiseSettings::default().train.batch_size)]
    batch_size: usize,
    #[arg(long, default_value_t = DenoiseSettings::default().train.learning_rate)]
    lr: f64,
    /// Keep the learning rate constant instead of the cosine decay.
    #[arg(long)]
    constant_lr: bool,
    #[arg(long, default_value_t = DenoiseSettings::default().train.seed)]
    seed: u64,
    /// Train on the first N training images only.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Share of the training images held out for validation.
    #[arg(long, default_value_t = DenoiseSettings::default().valid_fraction)]
    valid_fraction: f32,
}

/// The training choices every lab shares.
#[derive(Args, Debug, Clone, Default)]
struct ChoiceArgs {
    /// adam (the default), adamw, sgd (momentum 0.9) or rmsprop.
    #[arg(long)]
    optimizer: Option<String>,
    /// The optimizer's weight decay (default 0).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// bce, mse or mae (default: bce for digits, mae for series).
    #[arg(long)]
    loss: Option<String>,
}

impl ChoiceArgs {
    fn apply(&self, t: &mut TrainConfig) -> Result<(), String> {
        if let Some(o) = &self.optimizer {
            t.optimizer = OptimizerKind::parse(o)?;
        }
        if let Some(w) = self.weight_decay {
            t.weight_decay = w;
        }
        if let Some(l) = &self.loss {
            t.loss = Some(Loss::parse(l)?);
        }
        Ok(())
    }
}

/// A model spec: a JSON file, or the id of a preset (`denoiser-skip`).
fn read_spec(arg: &str) -> Result<ModelSpec, String> {
    let path = Path::new(arg);
    if !path.exists() && !arg.ends_with(".json") {
        return presets::preset(arg);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    ModelSpec::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
}

struct Ctx {
    device: Device,
    assets: PathBuf,
}

impl Ctx {
    /// The context on `backend`'s device; on a GPU, says which one on
    /// standard error ("aelab: on wgpu on Vulkan: …").
    fn new(backend: NativeBackend, assets: PathBuf) -> Result<Ctx, String> {
        let device = backend.device()?;
        if backend.is_gpu() {
            eprintln!("aelab: on {}", backend.describe());
        }
        Ok(Ctx { device, assets })
    }

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

    /// Reads a lab's model: a net, or an aelab 0.1 file of the lab's kind.
    fn load_net(&self, path: &Path, purpose: Purpose) -> Result<(Net, ModelSpec), String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        legacy::load(&bytes, &self.device, purpose)
            .map(|(m, s, _)| (m, s))
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
    let backend = NativeBackend::parse(&cli.backend)?;
    let assets = cli.assets.unwrap_or_else(data::assets_dir);
    // Only the commands that compute set up the device: a missing GPU
    // does not stop `aelab model summary --backend wgpu`.
    let ctx = || Ctx::new(backend, assets.clone());
    match cli.command {
        Command::Classifier(c) => classifier::run(&ctx()?, c),
        Command::Denoise(c) => denoise::run(&ctx()?, c),
        Command::Augment(c) => augment::run(&ctx()?, c),
        Command::Anomaly(c) => anomaly::run(&ctx()?, c),
        Command::Model(c) => model::run(c),
        Command::Weights(c) => weights::run(c),
        Command::Workspace(c) => workspace::run(c),
        Command::Bench(a) => bench::run(a, backend),
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
        ..TrainConfig::default()
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

/// The command line `line` (as the run tables write it) parsed, with each
/// word in `files` replaced by its path under `dir` (a designed spec the
/// command reads).
#[cfg(test)]
fn parse_command(line: &[String], files: &[(&str, &Path)]) -> Command {
    let args = line.iter().map(|a| {
        files
            .iter()
            .find(|(name, _)| a == name)
            .map_or(a.clone(), |(_, p)| p.display().to_string())
    });
    match Cli::try_parse_from(args) {
        Ok(cli) => cli.command,
        Err(e) => panic!("{line:?} does not parse: {e}"),
    }
}

/// A spec saved as the run tables' commands expect it (`spec_file`).
#[cfg(test)]
fn save_spec(spec: &ModelSpec, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aelab-runs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(spec).unwrap()).unwrap();
    path
}
