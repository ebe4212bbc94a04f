//! `aelab augment`: exercise 2, few-shot generation judged by the
//! classifier, its report figure and its table.

use super::io::save;
use super::progress::train_with_progress;
use super::{read_spec, ChoiceArgs, Ctx};
use crate::data::{Mnist, Split};
use crate::labs::augment;
use crate::models::Classifier;
use crate::platform::block_on;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct AugmentCmd {
    #[command(subcommand)]
    sub: Option<AugmentSub>,
    #[command(flatten)]
    run: AugmentArgs,
}

/// The report's preset, whose values are the flags' defaults.
fn report() -> augment::AugmentSettings {
    augment::AugmentSettings::report(2, 100, 1)
}

#[derive(Args, Debug, Clone)]
struct AugmentModelArgs {
    /// Dimensions of the latent code.
    #[arg(long, default_value_t = report().latent)]
    latent: usize,
    #[arg(long, default_value_t = report().train.seed)]
    seed: u64,
    /// Training epochs (each shows at least 1000 shifted images).
    #[arg(long, default_value_t = report().train.epochs)]
    epochs: usize,
    #[arg(long, default_value_t = report().train.batch_size)]
    batch_size: usize,
    #[arg(long, default_value_t = report().train.learning_rate)]
    lr: f64,
    /// Keep the learning rate constant instead of the cosine decay.
    #[arg(long)]
    constant_lr: bool,
    /// Channels of the 28×28 layers (the 14×14 ones have twice as many).
    #[arg(long, default_value_t = report().width)]
    width: usize,
    /// Standard deviation of the noise added to the codes in training.
    #[arg(long, default_value_t = report().code_noise)]
    code_noise: f32,
    /// Weight of the mean squared code in the loss.
    #[arg(long, default_value_t = report().code_penalty)]
    code_penalty: f32,
    /// A designed model: a spec file (JSON) with a latent layer, or a preset's id (latent-ae); --latent and --width then do not apply.
    #[arg(long, value_name = "SPEC")]
    model: Option<String>,
    #[command(flatten)]
    choices: ChoiceArgs,
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
    /// The docs/results.md table: recognised rate and diversity for several digits × 1000, 100, 10 examples.
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

/// The settings of a run on `examples` examples of `digit`, as the run
/// tables' commands write them (`labs::runs::augment_command`).
fn augment_settings(
    digit: u8,
    examples: usize,
    m: &AugmentModelArgs,
) -> Result<augment::AugmentSettings, String> {
    let mut settings = augment::AugmentChoices {
        latent: Some(m.latent),
        width: Some(m.width),
        epochs: Some(m.epochs),
        batch_size: Some(m.batch_size),
        learning_rate: Some(m.lr),
        code_noise: Some(m.code_noise),
        code_penalty: Some(m.code_penalty),
        ..Default::default()
    }
    .apply(augment::AugmentSettings::report(digit, examples, m.seed))?;
    settings.spec = m.model.as_deref().map(read_spec).transpose()?;
    if m.constant_lr {
        settings.train.schedule = crate::training::Schedule::Constant;
    }
    m.choices.apply(&mut settings.train)?;
    Ok(settings)
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
    let settings = augment_settings(digit, examples, m)?;
    let (mut trainer, chosen) = augment::trainer(&data.0, &data.1, &settings, &ctx.device)?;
    eprintln!(
        "training the augmenter (d = {}) on {examples} examples of digit {digit}",
        trainer.model().latent()
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

pub(super) fn run(ctx: &Ctx, cmd: AugmentCmd) -> Result<(), String> {
    let classifier: Classifier = ctx.load(&ctx.default_classifier())?;
    let data = (ctx.mnist(Split::Train)?, ctx.mnist(Split::Test)?);
    match cmd.sub {
        None => {
            let a = cmd.run;
            let (aug, settings) = train_augmenter(ctx, &data, a.digit, a.examples, &a.model)?;
            if let Some(out) = &a.out {
                let meta = serde_json::json!({"digit": a.digit, "examples": a.examples, "settings": settings});
                save(&aug.model, &settings.model_spec(), meta, out)?;
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

#[cfg(test)]
mod tests {
    use super::super::{parse_command, save_spec, Command};
    use super::*;
    use crate::labs::runs::augment_command;
    use crate::models::spec::presets;
    use crate::training::{Loss, OptimizerKind};

    /// The run tables' command for a page's run, parsed by this command
    /// line, gives the run's settings back.
    #[test]
    fn a_run_tables_command_trains_with_the_same_settings() {
        let page = augment::AugmentSettings::quick(3, 10, 4);
        let mut tuned = augment::AugmentChoices {
            latent: Some(8),
            batch_size: Some(16),
            learning_rate: Some(0.0007),
            code_noise: Some(0.1),
            ..Default::default()
        }
        .apply(augment::AugmentSettings::quick(8, 100, 2))
        .unwrap();
        tuned.train.optimizer = OptimizerKind::RmsProp;
        tuned.train.loss = Some(Loss::Mae);
        let mut preset = page.clone();
        preset.spec = Some(presets::preset("latent-ae").unwrap());
        let mut designed = presets::preset("latent-ae").unwrap();
        designed.name = "Tiny latent".into();
        let mut mine = page.clone();
        mine.spec = Some(designed.clone());
        for s in [page, tuned, preset, mine] {
            let (line, file) = augment_command(&s);
            let path = file.as_ref().map(|f| save_spec(&designed, f));
            let files: Vec<(&str, &Path)> =
                file.as_deref().zip(path.as_deref()).into_iter().collect();
            let Command::Augment(AugmentCmd { sub: None, run }) = parse_command(&line, &files)
            else {
                panic!("{line:?} is not a plain augment run");
            };
            let mut back = augment_settings(run.digit, run.examples, &run.model).unwrap();
            if s.spec.is_some() {
                // The spec is the whole model; the preset's knobs do not apply.
                assert_eq!(back.model_spec(), s.model_spec());
                (back.latent, back.width) = (s.latent, s.width);
            }
            assert_eq!(back, s, "{line:?}");
        }
    }
}
