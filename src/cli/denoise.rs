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
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum DenoiseCmd {
    /// Train a denoiser.
    Train(TrainCmd),
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

/// `aelab denoise train`'s flags.
#[derive(Args, Debug)]
pub(super) struct TrainCmd {
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
    pub(super) init: Option<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

impl TrainCmd {
    /// The lab's settings for these flags (checked), as the run tables'
    /// commands write them (`labs::runs::denoise_command`).
    pub(super) fn settings(&self) -> Result<DenoiseSettings, String> {
        let defaults = DenoiserConfig::new();
        let mut settings = DenoiseSettings {
            noise: match self.noise {
                Some(f) => NoiseSpec::Fixed(f),
                None => NoiseSpec::between(self.noise_min, self.noise_max),
            },
            images: self.train.limit.map(|n| n as usize),
            valid_fraction: self.train.valid_fraction,
            model: DenoiserConfig {
                kind: DenoiserKind::parse(self.kind.as_deref().unwrap_or("canonical"))?,
                width: self.width.unwrap_or(defaults.width),
                bottleneck: self.bottleneck.unwrap_or(defaults.bottleneck),
                depth: self.depth.unwrap_or(defaults.depth),
            },
            spec: self.model.as_deref().map(read_spec).transpose()?,
            train: train_config(&self.train),
        };
        self.choices.apply(&mut settings.train)?;
        let preset_flags = self.kind.is_some()
            || self.width.is_some()
            || self.bottleneck.is_some()
            || self.depth.is_some();
        if self.init.is_some() && (preset_flags || self.model.is_some()) {
            return Err("--model, --kind, --width, --bottleneck and --depth describe a new model; with --init the file's model is fine-tuned as it is".into());
        }
        if self.model.is_some() && preset_flags {
            return Err("--model gives the whole model; --kind, --width, --bottleneck and --depth describe a preset".into());
        }
        settings.validate()?;
        Ok(settings)
    }
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
        DenoiseCmd::Train(cmd) => {
            let settings = cmd.settings()?;
            let TrainCmd { init, out, .. } = cmd;
            let (model, config) = match &init {
                Some(p) => {
                    ctx.device.seed(settings.train.seed);
                    ctx.load_net(p, Purpose::Denoise)?
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
            let from = init.as_ref().map(|p| p.display().to_string());
            let meta = |t: &Trainer<_>| serde_json::json!({"noise": settings.noise, "train": settings.train, "settings": settings, "fine_tuned_from": from, "history": t.history()});
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

#[cfg(test)]
mod tests {
    use super::super::{parse_command, save_spec, Command};
    use super::*;
    use crate::labs::runs::denoise_command;
    use crate::models::spec::presets;
    use crate::training::{Loss, OptimizerKind, Schedule};

    fn train_cmd(c: Command) -> TrainCmd {
        match c {
            Command::Denoise(DenoiseCmd::Train(t)) => t,
            other => panic!("not denoise train: {other:?}"),
        }
    }

    /// The run tables' command for a run, parsed by this command line,
    /// gives the run's settings back.
    #[test]
    fn a_run_tables_command_trains_with_the_same_settings() {
        let quick = DenoiseSettings::quick();
        let mut designed = presets::preset("denoiser-canonical").unwrap();
        designed.name = "My denoiser".into();
        if let crate::models::spec::Op::Conv2d(c) = &mut designed.layers[0].op {
            c.filters = 8;
        }
        let mut sgd = quick.clone();
        sgd.spec = Some(designed.clone());
        sgd.noise = NoiseSpec::Fixed(0.7);
        sgd.images = None;
        sgd.valid_fraction = 0.1;
        sgd.train.optimizer = OptimizerKind::Sgd;
        sgd.train.weight_decay = 1e-4;
        sgd.train.loss = Some(Loss::Mse);
        sgd.train.schedule = Schedule::Constant;
        sgd.train.learning_rate = 0.0125;
        let mut skip = quick.clone();
        skip.model = DenoiserConfig::skip();
        for s in [quick, sgd, skip] {
            let (line, file) = denoise_command(&s, false);
            let path = file.as_ref().map(|f| save_spec(&designed, f));
            let files: Vec<(&str, &std::path::Path)> =
                file.as_deref().zip(path.as_deref()).into_iter().collect();
            let cmd = train_cmd(parse_command(&line, &files));
            assert!(cmd.init.is_none());
            let back = cmd.settings().unwrap();
            assert_eq!(back.model_spec(), s.model_spec(), "{line:?}");
            assert_eq!(
                (back.noise, back.images, back.valid_fraction, &back.train),
                (s.noise, s.images, s.valid_fraction, &s.train),
                "{line:?}"
            );
        }
        // A fine-tuned run starts from the model before it.
        let s = DenoiseSettings::quick();
        let (line, file) = denoise_command(&s, true);
        assert!(file.is_none() && !line.contains(&"--model".to_string()));
        let cmd = train_cmd(parse_command(&line, &[]));
        assert!(cmd.init.is_some());
        assert_eq!(cmd.settings().unwrap().train, s.train);
    }
}
