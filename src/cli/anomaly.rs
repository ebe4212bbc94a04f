//! `aelab anomaly`: exercise 3, anomaly detection by reconstruction error.

use super::progress::train_with_progress;
use super::Ctx;
use crate::data::{self, Split};
use crate::labs::anomaly;
use crate::platform::block_on;
use clap::{Args, Subcommand};
use std::path::PathBuf;

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

pub(super) fn run(ctx: &Ctx, cmd: AnomalyCmd) -> Result<(), String> {
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
