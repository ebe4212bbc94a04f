//! `aelab denoise`: exercise 1, training, evaluating and the report figure.

use super::io::save;
use super::progress::train_with_progress;
use super::{read_spec, train_config, ChoiceArgs, Ctx, TrainArgs};
use crate::data::Split;
use crate::labs::denoise::{self, DenoiseSettings, NoiseSpec, EVAL_SEED, REPORT_LEVELS};
use crate::models::spec::Purpose;
use crate::models::{Classifier, DenoiserConfig, DenoiserKind, Net};
use crate::platform::block_on;
use crate::training::Trainer;
use burn::prelude::*;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum DenoiseCmd {
    /// Train a denoiser.
    Train {
        #[command(flatten)]
        train: TrainArgs,
        #[command(flatten)]
        choices: ChoiceArgs,
        /// A designed model: a spec file (JSON), or a preset's id (denoiser-canonical, denoiser-skip).
        #[arg(long, value_name = "SPEC")]
        model: Option<String>,
        /// canonical (the Keras-blog model) or skip (the better variant).
        /// (default: canonical; not with --init)
        #[arg(long)]
        kind: Option<String>,
        /// Train on one noise factor instead of a range.
        #[arg(long)]
        noise: Option<f32>,
        #[arg(long, default_value_t = DenoiseSettings::default().noise.bounds().0)]
        noise_min: f32,
        #[arg(long, default_value_t = DenoiseSettings::default().noise.bounds().1)]
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

/// The denoiser (default: the best shipped one) and the classifier (default:
/// the shipped one) that `eval` and `figure` use, with the denoiser's path.
fn load_models(
    ctx: &Ctx,
    weights: Option<PathBuf>,
    classifier: Option<PathBuf>,
) -> Result<(PathBuf, Net, Classifier), String> {
    let wpath = weights.unwrap_or_else(|| ctx.default_denoiser());
    let (den, _) = ctx.load_net(&wpath, Purpose::Denoise)?;
    let cls: Classifier = ctx.load(&classifier.unwrap_or_else(|| ctx.default_classifier()))?;
    Ok((wpath, den, cls))
}

pub(super) fn run(ctx: &Ctx, cmd: DenoiseCmd) -> Result<(), String> {
    match cmd {
        DenoiseCmd::Train {
            train,
            choices,
            model,
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
            let defaults = DenoiserConfig::new();
            let mut settings = DenoiseSettings {
                noise: match noise {
                    Some(f) => NoiseSpec::Fixed(f),
                    None => NoiseSpec::between(noise_min, noise_max),
                },
                images: train.limit.map(|n| n as usize),
                valid_fraction: train.valid_fraction,
                model: DenoiserConfig {
                    kind: DenoiserKind::parse(kind.as_deref().unwrap_or("canonical"))?,
                    width: width.unwrap_or(defaults.width),
                    bottleneck: bottleneck.unwrap_or(defaults.bottleneck),
                    depth: depth.unwrap_or(defaults.depth),
                },
                spec: model.as_deref().map(read_spec).transpose()?,
                train: train_config(&train),
            };
            choices.apply(&mut settings.train)?;
            let preset_flags =
                kind.is_some() || width.is_some() || bottleneck.is_some() || depth.is_some();
            if init.is_some() && (preset_flags || model.is_some()) {
                return Err("--model, --kind, --width, --bottleneck and --depth describe a new model; with --init the file's model is fine-tuned as it is".into());
            }
            if model.is_some() && preset_flags {
                return Err("--model gives the whole model; --kind, --width, --bottleneck and --depth describe a preset".into());
            }
            settings.validate()?;
            let (model, config) = match init {
                Some(p) => {
                    ctx.device.seed(settings.train.seed);
                    ctx.load_net(&p, Purpose::Denoise)?
                }
                None => (settings.new_model(&ctx.device)?, settings.model_spec()),
            };
            let data = ctx.mnist(Split::Train)?;
            let mut trainer = settings.trainer(&data, model, &ctx.device)?;
            eprintln!(
                "training the {} ({} parameters) on {} images, {} ({} held out)",
                if config.name.is_empty() {
                    "designed model"
                } else {
                    &config.name
                },
                trainer.model().num_params(),
                trainer.task().train.len(),
                settings.noise.describe(),
                trainer.task().valid.len()
            );
            let meta = |t: &Trainer<_>| serde_json::json!({"noise": settings.noise, "train": settings.train, "history": t.history()});
            train_with_progress(&mut trainer, |t| save(&t.model(), &config, meta(t), &out))
        }
        DenoiseCmd::Eval {
            weights,
            classifier,
            limit,
            seed,
            json,
        } => {
            let (wpath, den, cls) = load_models(ctx, weights, classifier)?;
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
            let (wpath, den, cls) = load_models(ctx, weights, classifier)?;
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
