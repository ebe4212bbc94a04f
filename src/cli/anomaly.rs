//! `aelab anomaly`: exercise 3, anomaly detection by reconstruction error.

use super::progress::train_with_progress;
use super::{read_spec, ChoiceArgs, Ctx};
use crate::data::series;
use crate::data::{self, Split};
use crate::labs::anomaly;
use crate::labs::anomaly::{Loaded, RunData, SeriesOptions};
use crate::platform::block_on;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct AnomalyCmd {
    #[command(subcommand)]
    sub: Option<AnomalySub>,
    #[command(flatten)]
    data: AnomalyData,
    #[command(flatten)]
    model: AnomalyModelArgs,
    /// meanstd:K, mad:K, pct:P, max or value:V (default: mad:4, the median of the validation errors plus 4 MAD).
    #[arg(long)]
    threshold: Option<String>,
    /// Long series: do not flag windows reconstructed better than the floor (70% of the 1st percentile of the normal windows' errors), which catches stuck signals.
    #[arg(long)]
    no_floor: bool,
    /// Write the flagged stretches as CSV: start, end (exclusive) and peak error, with timestamps when the file has them.
    #[arg(long, value_name = "FILE")]
    flags_out: Option<PathBuf>,
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
    /// A CSV of training series (its normal ones are used). Alone, without --test, the one file is split (--split): its first part trains, the rest is tested.
    #[arg(long)]
    train: Option<PathBuf>,
    /// A CSV of test series; with labels it is scored, without them its anomalies are flagged.
    #[arg(long)]
    test: Option<PathBuf>,
    /// With --train alone: where training ends, a fraction (0.5) or a count of points or rows (5000). Default: half.
    #[arg(long)]
    split: Option<String>,
    /// ucr (one series per row), long (one value per row) or auto.
    #[arg(long, default_value = "auto")]
    format: String,
    /// The label column (a header name or a 0-based index). Default: a column named label, labels, is_anomaly, anomaly, class or target; in a UCR file, a first column of a few whole numbers. Long: its values are 0/1.
    #[arg(long)]
    label_column: Option<String>,
    /// UCR: the label of normal rows (default: 1 if present, else the most frequent).
    #[arg(long)]
    normal_label: Option<String>,
    /// Long: the value column (default: "value", else the last column that is not the label or the timestamp).
    #[arg(long)]
    value_column: Option<String>,
    /// Long: the timestamp column (default: one named timestamp, time, date or datetime); flagged stretches are reported in its values.
    #[arg(long)]
    timestamp_column: Option<String>,
    /// The generated machine signal's seed (default: --seed).
    #[arg(long)]
    data_seed: Option<u64>,
    /// Long: points per window.
    #[arg(long, default_value_t = 48)]
    window: usize,
    /// Long: points between window starts.
    #[arg(long, default_value_t = 8)]
    stride: usize,
}

#[derive(Args, Debug, Clone)]
struct AnomalyModelArgs {
    /// dense or conv1d (the presets with --latent and --depth), or a designed model: a spec file (JSON) for series, or a preset's id (series-dense, series-conv1d).
    #[arg(long, default_value = "dense", value_name = "MODEL")]
    model: String,
    #[command(flatten)]
    choices: ChoiceArgs,
    /// Bottleneck size (default: 32 for dense, 8 for conv1d).
    #[arg(long)]
    latent: Option<usize>,
    /// Layers each way (default: 3 for dense, 2 for conv1d).
    #[arg(long)]
    depth: Option<usize>,
    /// Training epochs (default: 300 for dense, 200 for conv1d).
    #[arg(long)]
    epochs: Option<usize>,
    /// Series per batch (default 32).
    #[arg(long)]
    batch_size: Option<usize>,
    /// The learning rate (default 0.002).
    #[arg(long)]
    lr: Option<f64>,
    /// Keep the learning rate constant instead of the cosine decay.
    #[arg(long)]
    constant_lr: bool,
    /// Share of the normal training series held out to set the threshold.
    #[arg(long, default_value_t = 0.2)]
    valid_fraction: f32,
    /// Where the threshold's normal errors come from: split (the held-out share), cv (every normal training series, scored by a model of 5 folds trained without it) or auto (cv when the split would hold fewer than 20 series).
    #[arg(long, default_value = "auto")]
    threshold_from: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl AnomalyData {
    /// The flags as the core's options for reading a CSV.
    fn options(&self) -> SeriesOptions {
        SeriesOptions {
            format: Some(self.format.clone()),
            label_column: self.label_column.clone(),
            normal_label: self.normal_label.clone(),
            value_column: self.value_column.clone(),
            timestamp_column: self.timestamp_column.clone(),
            window: self.window,
            stride: self.stride,
            split: self.split.clone(),
        }
    }
}

/// Reads a CSV file the core's way; errors name the file.
fn load_file(path: &Path, o: &SeriesOptions) -> Result<Loaded, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() as usize > series::MAX_CSV_BYTES {
        return Err(format!(
            "{}: {}",
            path.display(),
            series::SeriesError::TooLarge(meta.len() as usize)
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (loaded, info) =
        block_on(anomaly::data::load(&bytes, o)).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("{}: {}", path.display(), describe_file(&info));
    Ok(loaded)
}

/// What the reader found in a file, in a line: its shape and columns.
fn describe_file(info: &anomaly::data::FileInfo) -> String {
    let col = |c: &anomaly::data::FoundColumn| {
        let how = match c.how {
            "given" => "",
            "by its name" => " (found by its name)",
            _ => " (guessed)",
        };
        format!("\"{}\"{how}", c.name)
    };
    let mut parts = vec![format!("{} shape", info.shape)];
    match &info.label {
        Some(l) => parts.push(format!(
            "labels in {}{}",
            col(l),
            info.normal_label
                .as_ref()
                .map_or(String::new(), |n| format!(", normal class {n}"))
        )),
        None => parts.push("no labels".into()),
    }
    if let Some(v) = &info.value {
        parts.push(format!("values in {}", col(v)));
    }
    if let Some(t) = &info.timestamp {
        parts.push(format!("timestamps in {}", col(t)));
    }
    parts.join("; ")
}

fn anomaly_data(ctx: &Ctx, d: &AnomalyData, seed: u64) -> Result<RunData, String> {
    match (d.dataset.as_deref(), &d.train, &d.test) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err("give either --dataset or --train and --test, not both".into())
        }
        (Some("ecg5000"), None, None) => {
            let dir = ctx.assets.join("ecg5000");
            let train = data::load_ecg5000(&dir, Split::Train)?;
            let test = data::load_ecg5000(&dir, Split::Test)?;
            Ok(RunData::ecg5000(train, test))
        }
        (Some("machine"), None, None) => {
            RunData::machine(d.data_seed.unwrap_or(seed), d.window, d.stride)
        }
        (Some(other), None, None) => Err(format!(
            "unknown dataset '{other}': expected ecg5000 or machine (or --train and --test)"
        )),
        (None, Some(_), Some(_)) if d.split.is_some() => Err(
            "--split divides one file: give --train alone, or --train and --test without it"
                .into(),
        ),
        (None, Some(tr), None) => {
            let o = d.options();
            let split = o.split()?;
            let loaded = load_file(tr, &o)?;
            RunData::one_file(
                &tr.display().to_string(),
                loaded,
                d.window,
                d.stride,
                split,
            )
        }
        (None, Some(tr), Some(te)) => {
            let o = d.options();
            let train = load_file(tr, &o)?;
            let test = load_file(te, &o)?;
            RunData::two_files(
                (&tr.display().to_string(), train),
                (&te.display().to_string(), test),
                d.window,
                d.stride,
            )
        }
        (None, _, _) => Err(
            "give --dataset ecg5000|machine, --train FILE (one file, split), or --train FILE and --test FILE"
                .into(),
        ),
    }
}

/// Whether `--model` names a spec (a file, or a preset's id) rather than a
/// preset kind (dense, conv1d).
fn is_spec(model: &str) -> bool {
    model.ends_with(".json")
        || std::path::Path::new(model).exists()
        || crate::models::spec::presets::preset(model).is_ok()
}

fn anomaly_settings(m: &AnomalyModelArgs) -> Result<anomaly::AnomalySettings, String> {
    let spec = is_spec(&m.model).then(|| read_spec(&m.model)).transpose()?;
    let mut s = anomaly::AnomalyChoices {
        model: if spec.is_some() {
            "dense".into()
        } else {
            m.model.clone()
        },
        latent: m.latent,
        depth: m.depth,
        epochs: m.epochs,
        batch_size: m.batch_size,
        learning_rate: m.lr,
        seed: Some(m.seed),
        valid_fraction: Some(m.valid_fraction),
        threshold_from: Some(anomaly::ThresholdFrom::parse(&m.threshold_from)?),
        ..Default::default()
    }
    .settings()?;
    s.spec = spec;
    if m.constant_lr {
        s.train.schedule = crate::training::Schedule::Constant;
    }
    m.choices.apply(&mut s.train)?;
    Ok(s)
}

/// The normal errors a threshold is set from, and the folds when they are
/// cross-validated.
struct ThresholdErrors {
    errors: Vec<f32>,
    folds: Option<usize>,
}

/// Trains on the normal series; returns the normal errors that set the
/// threshold (the validation split's, or cross-validated ones) and the
/// test errors.
fn anomaly_train(
    ctx: &Ctx,
    data: &RunData,
    settings: &anomaly::AnomalySettings,
) -> Result<(ThresholdErrors, Vec<f32>), String> {
    let cv = data.cross_validates(settings)?;
    let (mut trainer, scaler) = match &data.valid {
        Some(v) => anomaly::trainer_split(&data.train, v, settings, &ctx.device)?,
        None => anomaly::trainer(&data.train, settings, &ctx.device)?,
    };
    eprintln!(
        "training the {} autoencoder on {} normal series of {} points ({})",
        settings.model_name(),
        trainer.task().train.count(),
        data.train.len,
        data.name
    );
    train_with_progress(&mut trainer, |_| Ok(()))?;
    let valid = trainer.task().valid.clone();
    let model = trainer.into_model();
    let unit = anomaly::Scaler { min: 0.0, max: 1.0 };
    let (test_err, _) = block_on(anomaly::errors(&model, &scaler, &data.test, &ctx.device))?;
    let threshold = if cv {
        let n = data.train.count();
        let errors = block_on(anomaly::cross_validated_errors(
            &data.train,
            settings,
            &scaler,
            &ctx.device,
            &Default::default(),
            |k, folds| {
                eprintln!(
                    "cross-validating the threshold: fold {} of {folds} ({n} normal series)",
                    k + 1
                )
            },
        ))
        .map_err(|e| e.to_string())?;
        ThresholdErrors {
            folds: Some(anomaly::CV_FOLDS.min(n)),
            errors,
        }
    } else {
        let (errors, _) = block_on(anomaly::errors(&model, &unit, &valid, &ctx.device))?;
        ThresholdErrors {
            errors,
            folds: None,
        }
    };
    Ok((threshold, test_err))
}

pub(super) fn run(ctx: &Ctx, cmd: AnomalyCmd) -> Result<(), String> {
    match cmd.sub {
        None => {
            let rule = match &cmd.threshold {
                Some(t) => anomaly::Threshold::parse(t)?,
                None => anomaly::DEFAULT_THRESHOLD,
            };
            let settings = anomaly_settings(&cmd.model)?;
            let data = anomaly_data(ctx, &cmd.data, cmd.model.seed)?;
            let (normal, test_err) = anomaly_train(ctx, &data, &settings)?;
            let t = rule.resolve(&normal.errors);
            let cut = data.cut(t, &normal.errors, !cmd.no_floor);
            let note = data.threshold_note(normal.errors.len(), normal.folds);
            let stretches = data.stretches(&test_err, cut);
            if let Some(path) = &cmd.flags_out {
                std::fs::write(path, anomaly::stretches_csv(&stretches))
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            let scored = data.test.anomalous.clone().map(|labels| {
                let det = anomaly::detection(
                    &settings.model_name(),
                    &test_err,
                    &labels,
                    cut,
                    &rule.describe(),
                );
                (det, data.event_score(&test_err, cut))
            });
            if cmd.json {
                let mut v = match &scored {
                    Some((det, events)) => {
                        let mut v = serde_json::to_value(det).map_err(|e| e.to_string())?;
                        if let Some(e) = events {
                            v["events"] = serde_json::to_value(e).map_err(|e| e.to_string())?;
                        }
                        v
                    }
                    None => serde_json::json!({
                        "model": settings.model_name(),
                        "threshold": t,
                        "floor": cut.floor,
                        "threshold_rule": rule.describe(),
                        "tested": test_err.len(),
                        "flagged_items": test_err.iter().filter(|&&e| cut.flags(e)).count(),
                    }),
                };
                v["data"] = data.name.clone().into();
                v["flagged"] = serde_json::to_value(&stretches).map_err(|e| e.to_string())?;
                if let Some(n) = &note {
                    v["threshold_note"] = n.clone().into();
                }
                if let Some(k) = normal.folds {
                    v["threshold_folds"] = k.into();
                }
                println!("{v}");
            } else {
                match scored {
                    Some((det, events)) => {
                        print_detection_table(&data.name, std::slice::from_ref(&det));
                        if let Some(e) = events {
                            println!(
                                "events: {} of {} detected (recall {:.3}); {} false alarms ({:.2} per 1000 points)",
                                e.detected, e.events, e.event_recall, e.false_alarms, e.false_alarms_per_1000
                            );
                        }
                        if det.best_f1.is_finite() {
                            println!(
                                "hint: on these test labels the best threshold would be {:.5} (F1 {:.4}); the chosen one gives F1 {:.4}. A hint only: choosing by it would fit the test data.",
                                det.best_threshold, det.best_f1, det.f1
                            );
                        }
                    }
                    None => print_stretches(&data, &test_err, cut, &rule.describe(), &stretches),
                }
                if let Some(n) = &note {
                    eprintln!("note: {n}");
                }
            }
            if let Some(path) = &cmd.flags_out {
                eprintln!(
                    "wrote {} flagged stretch(es) to {}",
                    stretches.len(),
                    path.display()
                );
            }
            Ok(())
        }
        Some(AnomalySub::Compare { data, model, json }) => {
            let d = anomaly_data(ctx, &data, model.seed)?;
            let labels = d.test.anomalous.clone().ok_or(
                "compare scores the models on labelled test data, and these test series have no labels (--label-column)",
            )?;
            let rules = [
                anomaly::DEFAULT_THRESHOLD,
                anomaly::Threshold::MeanStd(2.0),
                anomaly::Threshold::MeanStd(3.0),
                anomaly::Threshold::Percentile(95.0),
                anomaly::Threshold::Percentile(99.0),
                anomaly::Threshold::Max,
            ];
            let mut rows = Vec::new();
            // The presets, and a designed model given with --model.
            let mut models = vec!["dense".to_string(), "conv1d".to_string()];
            if is_spec(&model.model) {
                models.push(model.model.clone());
            }
            for kind in models {
                let mut m = model.clone();
                m.model = kind;
                let settings = anomaly_settings(&m)?;
                let (normal, test_err) = anomaly_train(ctx, &d, &settings)?;
                for r in rules {
                    let t = r.resolve(&normal.errors);
                    rows.push(anomaly::detection(
                        &settings.model_name(),
                        &test_err,
                        &labels,
                        d.cut(t, &normal.errors, true),
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

/// The flagged stretches of unlabelled data, as a table (at most 50 rows).
fn print_stretches(
    data: &RunData,
    errors: &[f32],
    cut: anomaly::Cut,
    rule: &str,
    stretches: &[anomaly::Stretch],
) {
    let threshold = cut.threshold;
    let items = if data.long.is_some() {
        "windows"
    } else {
        "series"
    };
    let flagged = errors.iter().filter(|&&e| cut.flags(e)).count();
    let floor = cut
        .floor
        .map(|f| format!(" or below the floor {f:.5}"))
        .unwrap_or_default();
    println!(
        "{}: no labels, so nothing is scored; {flagged} of {} {items} are above the threshold {threshold:.5} ({rule}){floor}, in {} stretch(es)",
        data.name,
        errors.len(),
        stretches.len()
    );
    if stretches.is_empty() {
        return;
    }
    let unit = if data.long.is_some() {
        "points"
    } else {
        "test series"
    };
    let timed = stretches.iter().any(|s| s.start_time.is_some());
    println!(
        "| {unit} | peak error |{}",
        if timed { " from | to |" } else { "" }
    );
    println!("|---|---:|{}", if timed { "---|---|" } else { "" });
    for s in stretches.iter().take(50) {
        let times = match (&s.start_time, &s.end_time) {
            (Some(a), Some(b)) => format!(" {a} | {b} |"),
            _ if timed => " | |".into(),
            _ => String::new(),
        };
        println!("| {}–{} | {:.5} |{times}", s.start, s.end, s.peak_error);
    }
    if stretches.len() > 50 {
        println!(
            "(and {} more: --flags-out FILE writes them all)",
            stretches.len() - 50
        );
    }
}

fn print_detection_table(name: &str, rows: &[anomaly::Detection]) {
    println!("{name}: anomaly is the positive class");
    println!("| model | threshold rule | threshold | AUROC | AUPRC | accuracy | precision | recall | F1 | confusion [[tn, fp], [fn, tp]] |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:?} |",
            r.model,
            r.threshold_rule,
            match r.floor {
                Some(f) => format!("{:.5} (floor {f:.5})", r.threshold),
                None => format!("{:.5}", r.threshold),
            },
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

#[cfg(test)]
mod tests {
    use super::super::{parse_command, save_spec, Command};
    use super::*;
    use crate::labs::runs::anomaly_command;
    use crate::models::series::SeriesModelKind;
    use crate::models::spec::presets;
    use crate::training::{OptimizerKind, Schedule};

    /// The run tables' command for a page's run, parsed by this command
    /// line, gives the run's settings and data back.
    #[test]
    fn a_run_tables_command_trains_with_the_same_settings_on_the_same_data() {
        let dense = anomaly::AnomalySettings::new(SeriesModelKind::Dense, 1);
        let mut conv = anomaly::AnomalyChoices {
            model: "conv1d".into(),
            latent: Some(4),
            epochs: Some(20),
            batch_size: Some(64),
            learning_rate: Some(0.01),
            seed: Some(9),
            valid_fraction: Some(0.3),
            threshold_from: Some(anomaly::ThresholdFrom::Cv),
            ..Default::default()
        }
        .settings()
        .unwrap();
        conv.train.schedule = Schedule::Constant;
        conv.train.optimizer = OptimizerKind::AdamW;
        conv.train.weight_decay = 0.01;
        let mut preset = dense.clone();
        preset.spec = Some(presets::preset("series-conv1d").unwrap().with_length(48));
        let mut designed = presets::preset("series-dense").unwrap();
        designed.name = "Wide dense".into();
        designed.layers.remove(1);
        let mut mine = dense.clone();
        mine.spec = Some(designed.clone());
        let machine = RunData::machine(7, 48, 8).unwrap().source;
        let upload = {
            let mut d = RunData::machine(7, 48, 8).unwrap();
            d.source = vec!["--train".into(), "my beats.csv".into()];
            d.with_options(&SeriesOptions {
                format: Some("long".into()),
                label_column: Some("is anomaly".into()),
                window: 64,
                split: Some("0.6".into()),
                ..Default::default()
            })
            .source
        };
        for (s, source) in [
            (dense, vec!["--dataset".to_string(), "ecg5000".into()]),
            (conv, machine),
            (preset, upload.clone()),
            (mine, upload),
        ] {
            let (line, file) = anomaly_command(&s, &source);
            let path = file.as_ref().map(|f| save_spec(&designed, f));
            let files: Vec<(&str, &Path)> =
                file.as_deref().zip(path.as_deref()).into_iter().collect();
            let Command::Anomaly(cmd) = parse_command(&line, &files) else {
                panic!("{line:?} is not an anomaly run");
            };
            assert!(cmd.sub.is_none());
            let mut back = anomaly_settings(&cmd.model).unwrap();
            let mut want = s.clone();
            if want.spec.is_some() {
                // With a spec, the kind only picks training defaults,
                // which the command gives.
                back.model = want.model;
                want.spec = want.spec.map(|x| x.with_length(140));
                back.spec = back.spec.map(|x| x.with_length(140));
            }
            assert_eq!(back, want, "{line:?}");
            let d = &cmd.data;
            let got_source = match (&d.dataset, &d.train) {
                (Some(name), None) if name == "ecg5000" => source.clone(),
                (Some(name), None) if name == "machine" => {
                    RunData::machine(d.data_seed.unwrap(), d.window, d.stride)
                        .unwrap()
                        .source
                }
                (None, Some(f)) => {
                    let mut r = RunData::machine(1, 48, 8).unwrap();
                    r.source = vec!["--train".into(), f.display().to_string()];
                    r.with_options(&d.options()).source
                }
                other => panic!("{other:?}"),
            };
            assert_eq!(got_source, source, "{line:?}");
        }
    }
}
