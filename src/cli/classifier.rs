//! `aelab classifier`: the digit classifier that judges every lab.

use super::io::save;
use super::progress::train_with_progress;
use super::{split_train, train_config, Ctx, TrainArgs};
use crate::data::Split;
use crate::models::{Classifier, ClassifierConfig};
use crate::platform::block_on;
use crate::training::classify::{Affine, ClassifyTask};
use crate::training::Trainer;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum ClassifierCmd {
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

pub(super) fn run(ctx: &Ctx, cmd: ClassifierCmd) -> Result<(), String> {
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
