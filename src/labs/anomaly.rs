//! Exercise 3: anomaly detection by reconstruction error. An autoencoder
//! trained on normal series only reconstructs normal series well; a series
//! whose error is above a threshold is flagged.

pub mod data;
pub mod run;

pub use data::{Loaded, RunData, SeriesOptions};
pub use run::Run;

use crate::data::series::{LongSeries, SeriesSet};
use crate::infer::read_f32;
use crate::metrics::detection::{auprc, auroc, best_f1_threshold, Confusion};
use crate::models::{SeriesAe, SeriesAeConfig, SeriesModelKind};
use crate::rng::Rng;
use crate::training::{Schedule, Task, TrainConfig, Trainer};
use burn::prelude::*;

/// Min–max scaling with the training data's global minimum and maximum, as
/// in the TF tutorial: test data is scaled with the same numbers.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scaler {
    pub min: f32,
    pub max: f32,
}

impl Scaler {
    pub fn fit(values: &[f32]) -> Result<Self, String> {
        let (min, max) = values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        if !(min.is_finite() && max.is_finite()) {
            return Err("no finite training values to scale".into());
        }
        Ok(Self { min, max })
    }

    /// The range scaled to 1; a constant training series (no range) is
    /// only shifted, so that its errors stay in the data's units instead of
    /// growing without bound.
    fn span(&self) -> f32 {
        let span = self.max - self.min;
        if span > f32::EPSILON * self.max.abs().max(self.min.abs()).max(1.0) {
            span
        } else {
            1.0
        }
    }

    pub fn apply(&self, values: &[f32]) -> Vec<f32> {
        let span = self.span();
        values.iter().map(|v| (v - self.min) / span).collect()
    }

    pub fn unapply(&self, values: &[f32]) -> Vec<f32> {
        let span = self.span();
        values.iter().map(|v| v * span + self.min).collect()
    }
}

/// Training on (scaled) normal series with the mean absolute error.
pub struct SeriesTask {
    pub train: SeriesSet,
    pub valid: SeriesSet,
}

fn batch(set: &SeriesSet, idx: &[usize], device: &Device) -> Tensor<2> {
    let mut v = Vec::with_capacity(idx.len() * set.len);
    for &i in idx {
        v.extend_from_slice(set.series(i));
    }
    Tensor::from_data(TensorData::new(v, [idx.len(), set.len]), device)
}

impl Task for SeriesTask {
    type Model = SeriesAe;
    fn train_len(&self) -> usize {
        self.train.count()
    }
    fn valid_len(&self) -> usize {
        self.valid.count()
    }
    fn train_loss(
        &self,
        model: &SeriesAe,
        idx: &[usize],
        _rng: &mut Rng,
        device: &Device,
    ) -> Tensor<1> {
        let x = batch(&self.train, idx, device);
        (model.forward(x.clone()) - x).abs().mean()
    }
    fn valid_loss(&self, model: &SeriesAe, idx: &[usize], device: &Device) -> Tensor<1> {
        let x = batch(&self.valid, idx, device);
        (model.forward(x.clone()) - x).abs().mean()
    }
}

/// How the threshold is chosen from the validation errors of normal data.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Threshold {
    /// mean + k·std.
    MeanStd(f32),
    /// The p-th percentile (0–100).
    Percentile(f32),
    /// The largest validation error.
    Max,
    /// median + k·MAD (the median absolute deviation, scaled by 1.4826 to
    /// match a standard deviation): robust to odd beats among the normal ones.
    Mad(f32),
    /// A number set by hand.
    Value(f32),
}

impl Threshold {
    /// `meanstd:K`, `pct:P`, `max` or `value:V`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let num = |v: &str| {
            v.parse::<f32>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("'{v}' in threshold '{s}' is not a number"))
        };
        let t = match s.split_once(':') {
            Some(("meanstd", k)) => Threshold::MeanStd(num(k)?),
            Some(("pct", p)) => {
                let p = num(p)?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(format!("the percentile must be 0–100, not {p}"));
                }
                Threshold::Percentile(p)
            }
            Some(("value", v)) => Threshold::Value(num(v)?),
            Some(("mad", k)) => Threshold::Mad(num(k)?),
            None if s == "max" => Threshold::Max,
            _ => {
                return Err(format!(
                    "unknown threshold '{s}': expected meanstd:K, mad:K, pct:P, max or value:V"
                ))
            }
        };
        Ok(t)
    }

    pub fn describe(&self) -> String {
        match self {
            Threshold::MeanStd(k) => format!("meanstd:{k}"),
            Threshold::Percentile(p) => format!("pct:{p}"),
            Threshold::Max => "max".into(),
            Threshold::Mad(k) => format!("mad:{k}"),
            Threshold::Value(v) => format!("value:{v}"),
        }
    }

    /// The threshold for these validation errors.
    pub fn resolve(&self, valid_errors: &[f32]) -> f32 {
        let n = valid_errors.len().max(1) as f64;
        match *self {
            Threshold::Value(v) => v,
            Threshold::Max => valid_errors.iter().copied().fold(0.0, f32::max),
            Threshold::MeanStd(k) => {
                let m = valid_errors.iter().map(|&e| e as f64).sum::<f64>() / n;
                let var = valid_errors
                    .iter()
                    .map(|&e| (e as f64 - m).powi(2))
                    .sum::<f64>()
                    / n;
                (m + k as f64 * var.sqrt()) as f32
            }
            Threshold::Mad(k) => {
                let med = median32(valid_errors);
                let dev: Vec<f32> = valid_errors.iter().map(|e| (e - med).abs()).collect();
                med + k * 1.4826 * median32(&dev)
            }
            Threshold::Percentile(p) => {
                let mut v = valid_errors.to_vec();
                v.sort_by(f32::total_cmp);
                if v.is_empty() {
                    return 0.0;
                }
                // Linear interpolation between closest ranks.
                let pos = p as f64 / 100.0 * (v.len() - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                let f = (pos - lo as f64) as f32;
                v[lo] + f * (v[hi] - v[lo])
            }
        }
    }
}

fn median32(v: &[f32]) -> f32 {
    Threshold::Percentile(50.0).resolve(v)
}

/// The automatic threshold: the median of the validation errors of normal
/// data plus 4 × their MAD (scaled to a standard deviation). Robust: with
/// about 60 validation beats, one odd "normal" beat sets the maximum and the
/// 99th percentile, and inflates the standard deviation, but not the MAD.
pub const DEFAULT_THRESHOLD: Threshold = Threshold::Mad(4.0);

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnomalySettings {
    pub model: SeriesModelKind,
    pub latent: usize,
    pub depth: usize,
    /// Share of the normal training series held out for the threshold.
    pub valid_fraction: f32,
    pub train: TrainConfig,
}

/// What a user chooses for a run (the CLI's flags, the page's form): the
/// model by name, and any setting to change from that model's defaults.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(default)]
pub struct AnomalyChoices {
    /// `dense` or `conv1d`.
    pub model: String,
    pub latent: Option<usize>,
    pub depth: Option<usize>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub learning_rate: Option<f64>,
    pub seed: Option<u64>,
    pub valid_fraction: Option<f32>,
}

impl AnomalyChoices {
    /// The settings: the model's defaults ([`AnomalySettings::new`]) with
    /// the chosen values in place. An unknown model is an error.
    pub fn settings(&self) -> Result<AnomalySettings, String> {
        let kind = SeriesModelKind::parse(&self.model)?;
        let mut s = AnomalySettings::new(kind, self.seed.unwrap_or(1));
        s.latent = self.latent.unwrap_or(s.latent);
        s.depth = self.depth.unwrap_or(s.depth);
        s.valid_fraction = self.valid_fraction.unwrap_or(s.valid_fraction);
        let t = &mut s.train;
        t.epochs = self.epochs.unwrap_or(t.epochs);
        t.batch_size = self.batch_size.unwrap_or(t.batch_size);
        t.learning_rate = self.learning_rate.unwrap_or(t.learning_rate);
        Ok(s)
    }
}

impl AnomalySettings {
    pub fn new(model: SeriesModelKind, seed: u64) -> Self {
        let (latent, depth, epochs) = match model {
            SeriesModelKind::Dense => (32, 3, 300),
            // A dense bottleneck of 8 after two stride-2 convolutions; 200
            // epochs reach AUROC 0.991 on ECG5000 (seeds 1–5, docs/results.md).
            SeriesModelKind::Conv1d => (8, 2, 200),
        };
        Self {
            model,
            latent,
            depth,
            valid_fraction: 0.2,
            train: TrainConfig {
                epochs,
                batch_size: 32,
                learning_rate: 2e-3,
                schedule: Schedule::Cosine,
                seed,
            },
        }
    }

    pub fn model_config(&self, length: usize) -> SeriesAeConfig {
        SeriesAeConfig::new(self.model, length)
            .with_latent(self.latent)
            .with_depth(self.depth)
    }

    pub fn validate(&self, length: usize) -> Result<(), String> {
        if !(1..=512).contains(&self.latent) {
            return Err(format!(
                "the latent size must be 1–512, not {}",
                self.latent
            ));
        }
        if !(1..=6).contains(&self.depth) {
            return Err(format!("the depth must be 1–6, not {}", self.depth));
        }
        if length < 4 {
            return Err(format!(
                "series of {length} points are too short (at least 4)"
            ));
        }
        if self.model == SeriesModelKind::Dense && (self.latent << (self.depth - 1)) > 4096 {
            return Err("latent × 2^(depth − 1) must stay under 4096".into());
        }
        if !(0.05..=0.5).contains(&self.valid_fraction) {
            return Err("the validation share must be 0.05–0.5".into());
        }
        Ok(())
    }
}

/// Splits normal training series at random into training and validation,
/// and prepares the trainer (see [`trainer_split`]).
pub fn trainer(
    normal: &SeriesSet,
    settings: &AnomalySettings,
    device: &Device,
) -> Result<(Trainer<SeriesTask>, Scaler), String> {
    settings.validate(normal.len)?;
    let n = normal.count();
    if n < 4 {
        return Err(format!(
            "{n} normal series are too few to train on (at least 4)"
        ));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    Rng::derive(settings.train.seed, 0xA40).shuffle(&mut idx);
    let n_valid = ((n as f32 * settings.valid_fraction).round() as usize).clamp(1, n - 1);
    let (v, t) = idx.split_at(n_valid);
    trainer_split(&normal.subset(t), &normal.subset(v), settings, device)
}

/// Prepares the trainer on given training and validation series (windows
/// of one long series must be split in time, or the overlapping windows
/// leak into validation). The scaler is fitted on the training part.
pub fn trainer_split(
    train: &SeriesSet,
    valid: &SeriesSet,
    settings: &AnomalySettings,
    device: &Device,
) -> Result<(Trainer<SeriesTask>, Scaler), String> {
    settings.validate(train.len)?;
    if train.count() < 2 || valid.count() < 1 {
        return Err("too few normal series to train on and to set a threshold".into());
    }
    let scaler = Scaler::fit(&train.values)?;
    let scale = |s: &SeriesSet| SeriesSet {
        values: scaler.apply(&s.values),
        ..s.clone()
    };
    let task = SeriesTask {
        train: scale(train),
        valid: scale(valid),
    };
    device.seed(settings.train.seed);
    let model = settings.model_config(train.len).init(device);
    let t = Trainer::new(task, model, settings.train.clone(), device).map_err(|e| e.to_string())?;
    Ok((t, scaler))
}

/// Mean absolute reconstruction error of each series (scaled units), and
/// the reconstructions.
pub async fn errors(
    model: &SeriesAe,
    scaler: &Scaler,
    set: &SeriesSet,
    device: &Device,
) -> Result<(Vec<f32>, Vec<f32>), String> {
    if set.len != model.length() {
        return Err(format!(
            "the series have {} points, but the model was trained on {}",
            set.len,
            model.length()
        ));
    }
    let scaled = scaler.apply(&set.values);
    let mut errs = Vec::with_capacity(set.count());
    let mut recon = Vec::with_capacity(scaled.len());
    for chunk in scaled.chunks(256 * set.len) {
        let n = chunk.len() / set.len;
        let x = Tensor::<2>::from_data(TensorData::new(chunk.to_vec(), [n, set.len]), device);
        let r = read_f32(model.forward(x)).await?;
        for (a, b) in chunk.chunks(set.len).zip(r.chunks(set.len)) {
            errs.push(a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / set.len as f32);
        }
        recon.extend(r);
        crate::platform::yield_now().await;
    }
    Ok((errs, scaler.unapply(&recon)))
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Detection {
    pub model: String,
    pub auroc: f64,
    pub auprc: f64,
    pub threshold: f32,
    pub threshold_rule: String,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// `[[tn, fp], [fn, tp]]`.
    pub confusion: [[usize; 2]; 2],
    /// The threshold with the best F1 on these test labels, and that F1
    /// (NaN without both classes): a hint of what the chosen threshold
    /// leaves, never used to choose it.
    pub best_threshold: f32,
    pub best_f1: f64,
}

/// Scores labelled test errors at a threshold.
pub fn detection(
    model: &str,
    errors: &[f32],
    anomalous: &[bool],
    threshold: f32,
    rule: &str,
) -> Detection {
    let c = Confusion::at(errors, anomalous, threshold);
    let best = best_f1_threshold(errors, anomalous);
    Detection {
        model: model.to_string(),
        auroc: auroc(errors, anomalous).unwrap_or(f64::NAN),
        auprc: auprc(errors, anomalous).unwrap_or(f64::NAN),
        threshold,
        threshold_rule: rule.to_string(),
        accuracy: c.accuracy(),
        precision: c.precision(),
        recall: c.recall(),
        f1: c.f1(),
        confusion: c.matrix(),
        best_threshold: best.map_or(f32::NAN, |b| b.0),
        best_f1: best.map_or(f64::NAN, |b| b.1),
    }
}

/// A flagged stretch of the test data: points `start..end` of its file (a
/// long series), or series `start..end` of the test set (one series per
/// row), with the largest error of its windows and, when the file has
/// them, the timestamps of its first and last points.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Stretch {
    pub start: usize,
    pub end: usize,
    pub peak_error: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

/// The stretches above `threshold`. A long series' windows that overlap or
/// touch are one stretch of points; `offset` is the file's index of the
/// test part's first point. Without a long series each test series is an
/// item, and consecutive flagged series are one stretch.
pub fn flagged_stretches(
    errors: &[f32],
    threshold: f32,
    long: Option<(&LongSeries, usize, usize)>,
    offset: usize,
) -> Vec<Stretch> {
    let flagged: Vec<bool> = errors.iter().map(|&e| e > threshold).collect();
    let peak = |a: usize, b: usize| errors[a..b].iter().fold(f32::MIN, |m, &e| m.max(e));
    match long {
        None => runs(&flagged)
            .into_iter()
            .map(|(a, b)| Stretch {
                start: offset + a,
                end: offset + b,
                peak_error: peak(a, b),
                start_time: None,
                end_time: None,
            })
            .collect(),
        Some((l, window, stride)) => {
            let mut out: Vec<(usize, usize, f32)> = Vec::new();
            for (k, _) in flagged.iter().enumerate().filter(|(_, &f)| f) {
                let (a, b) = (k * stride, (k * stride + window).min(l.values.len()));
                match out.last_mut() {
                    Some(last) if a <= last.1 => {
                        last.1 = last.1.max(b);
                        last.2 = last.2.max(errors[k]);
                    }
                    _ => out.push((a, b, errors[k])),
                }
            }
            let time = |i: usize| l.timestamps.as_ref().and_then(|t| t.get(i).cloned());
            out.into_iter()
                .map(|(a, b, e)| Stretch {
                    start: offset + a,
                    end: offset + b,
                    peak_error: e,
                    start_time: time(a),
                    end_time: time(b - 1),
                })
                .collect()
        }
    }
}

/// Flagged stretches as CSV: `start,end,peak_error`, with the timestamps
/// when there are any (`end` is exclusive; `end_time` is the last point's).
pub fn stretches_csv(stretches: &[Stretch]) -> String {
    let timed = stretches.iter().any(|s| s.start_time.is_some());
    let mut out = String::from(if timed {
        "start,end,peak_error,start_time,end_time\n"
    } else {
        "start,end,peak_error\n"
    });
    for s in stretches {
        out.push_str(&format!("{},{},{}", s.start, s.end, s.peak_error));
        if timed {
            let q = |t: &Option<String>| {
                let t = t.clone().unwrap_or_default();
                if t.contains([',', '"']) {
                    format!("\"{}\"", t.replace('"', "\"\""))
                } else {
                    t
                }
            };
            out.push_str(&format!(",{},{}", q(&s.start_time), q(&s.end_time)));
        }
        out.push('\n');
    }
    out
}

/// Fewer normal series (or windows) than this setting the threshold make
/// it unreliable, and the page and the CLI say so.
pub const MIN_THRESHOLD_ITEMS: usize = 20;

/// A warning for a threshold set by too few normal errors, or `None`.
/// `items` names them: "series" or "windows".
pub fn threshold_note(valid_errors: usize, items: &str) -> Option<String> {
    (valid_errors < MIN_THRESHOLD_ITEMS).then(|| {
        format!(
            "the threshold rests on only {valid_errors} normal {items} (fewer than {MIN_THRESHOLD_ITEMS}), so it may be far from the best one; more normal data, or a larger validation share, makes it reliable"
        )
    })
}

/// Event-level figures of windows flagged on a long series: the share of
/// labelled anomalous runs of points touched by a flagged window, and
/// false alarms (runs of flagged windows that touch no anomaly) per 1000
/// points.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct EventScore {
    pub events: usize,
    pub detected: usize,
    pub event_recall: f64,
    pub false_alarms: usize,
    pub false_alarms_per_1000: f64,
}

/// The maximal runs of `true`, as `start..end` pairs.
pub fn runs(flags: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < flags.len() {
        if flags[i] {
            let s = i;
            while i < flags.len() && flags[i] {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

pub fn event_score(
    series: &LongSeries,
    window: usize,
    stride: usize,
    flagged: &[bool],
) -> EventScore {
    let labels = series.labels.clone().unwrap_or_default();
    let n = series.values.len();
    // Labelled events: maximal runs of anomalous points.
    let events = runs(&labels);
    let windows: Vec<(usize, usize)> = (0..flagged.len())
        .map(|k| (k * stride, k * stride + window))
        .collect();
    let touches = |(a, b): (usize, usize), (c, d): (usize, usize)| a < d && c < b;
    let detected = events
        .iter()
        .filter(|&&e| {
            windows
                .iter()
                .zip(flagged)
                .any(|(&w, &f)| f && touches(w, e))
        })
        .count();
    // Runs of consecutive flagged windows that touch no event.
    let false_alarms = runs(flagged)
        .into_iter()
        .filter(|&(s, e)| {
            let run = (windows[s].0, windows[e - 1].1);
            !events.iter().any(|&ev| touches(run, ev))
        })
        .count();
    EventScore {
        events: events.len(),
        detected,
        event_recall: if events.is_empty() {
            0.0
        } else {
            detected as f64 / events.len() as f64
        },
        false_alarms,
        false_alarms_per_1000: false_alarms as f64 * 1000.0 / n.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flagged_windows_merge_into_stretches_of_the_files_points() {
        let l = LongSeries {
            values: vec![0.0; 100],
            labels: None,
            timestamps: Some((0..100).map(|i| format!("t{i}")).collect()),
        };
        // Windows of 20 every 10: 9 windows; 2, 3 (overlapping) and 7.
        let mut e = vec![0.1f32; 9];
        e[2] = 0.9;
        e[3] = 0.6;
        e[7] = 0.5;
        let s = flagged_stretches(&e, 0.4, Some((&l, 20, 10)), 1000);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].start, s[0].end, s[0].peak_error), (1020, 1050, 0.9));
        assert_eq!(
            (s[0].start_time.as_deref(), s[0].end_time.as_deref()),
            (Some("t20"), Some("t49"))
        );
        assert_eq!((s[1].start, s[1].end), (1070, 1090));
        let csv = stretches_csv(&s);
        assert_eq!(
            csv,
            "start,end,peak_error,start_time,end_time\n1020,1050,0.9,t20,t49\n1070,1090,0.5,t70,t89\n"
        );
        // Series data: consecutive flagged series are one stretch.
        let s = flagged_stretches(&[0.9, 0.8, 0.1, 0.7], 0.5, None, 10);
        assert_eq!(
            s.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(),
            vec![(10, 12), (13, 14)]
        );
        assert_eq!(
            stretches_csv(&s).lines().next(),
            Some("start,end,peak_error")
        );
        assert!(flagged_stretches(&[0.1; 4], 0.5, None, 0).is_empty());
    }

    #[test]
    fn a_threshold_from_few_normal_items_is_flagged_as_unreliable() {
        let n = threshold_note(2, "series").expect("2 is too few");
        assert!(n.contains("only 2 normal series"), "{n}");
        assert!(threshold_note(MIN_THRESHOLD_ITEMS, "windows").is_none());
    }

    #[test]
    fn choices_change_only_what_was_chosen() {
        let dense = AnomalyChoices {
            model: "dense".into(),
            ..Default::default()
        };
        assert_eq!(
            dense.settings().unwrap(),
            AnomalySettings::new(SeriesModelKind::Dense, 1)
        );
        let c: AnomalyChoices =
            serde_json::from_str(r#"{"model": "conv1d", "latent": 8, "epochs": 5, "seed": 9}"#)
                .unwrap();
        let s = c.settings().unwrap();
        let want = AnomalySettings::new(SeriesModelKind::Conv1d, 9);
        assert_eq!((s.latent, s.depth, s.train.epochs), (8, want.depth, 5));
        assert_eq!(s.train.seed, 9);
        assert_eq!(s.valid_fraction, want.valid_fraction);
        let bad = AnomalyChoices {
            model: "lstm".into(),
            ..Default::default()
        };
        assert!(bad.settings().unwrap_err().contains("lstm"));
    }

    #[test]
    fn thresholds_by_hand() {
        let e = [1.0f32, 2.0, 3.0, 4.0];
        assert_eq!(Threshold::Max.resolve(&e), 4.0);
        assert_eq!(Threshold::Value(2.5).resolve(&e), 2.5);
        assert_eq!(Threshold::Percentile(50.0).resolve(&e), 2.5);
        assert_eq!(Threshold::Percentile(100.0).resolve(&e), 4.0);
        // mean 2.5, population std sqrt(1.25)
        let t = Threshold::MeanStd(2.0).resolve(&e);
        assert!((t - (2.5 + 2.0 * 1.25f32.sqrt())).abs() < 1e-6);
        assert_eq!(
            Threshold::parse("meanstd:3").unwrap(),
            Threshold::MeanStd(3.0)
        );
        assert_eq!(
            Threshold::parse("pct:99").unwrap(),
            Threshold::Percentile(99.0)
        );
        assert_eq!(Threshold::parse("max").unwrap(), Threshold::Max);
        assert_eq!(
            Threshold::parse("value:0.1").unwrap(),
            Threshold::Value(0.1)
        );
        assert!(Threshold::parse("pct:200").is_err());
        assert!(Threshold::parse("meanstd:x").is_err());
        assert!(Threshold::parse("median").is_err());
        // median 2.5; |e - 2.5| = 1.5, 0.5, 0.5, 1.5 -> MAD 1.
        assert!((Threshold::Mad(2.0).resolve(&e) - (2.5 + 2.0 * 1.4826)).abs() < 1e-5);
        assert_eq!(Threshold::parse("mad:3").unwrap(), Threshold::Mad(3.0));
    }

    #[test]
    fn scaler_round_trips() {
        let s = Scaler::fit(&[-2.0, 0.0, 6.0]).unwrap();
        assert_eq!(s.apply(&[-2.0, 2.0, 6.0]), vec![0.0, 0.5, 1.0]);
        assert_eq!(s.unapply(&[0.5]), vec![2.0]);
        assert!(Scaler::fit(&[]).is_err());
    }

    #[test]
    fn events_and_false_alarms() {
        let mut labels = vec![false; 100];
        labels[20..30].iter_mut().for_each(|l| *l = true);
        labels[60..65].iter_mut().for_each(|l| *l = true);
        let s = LongSeries {
            values: vec![0.0; 100],
            labels: Some(labels),
            timestamps: None,
        };
        // Windows of 10 every 10: flag the one over the first event and one
        // far from both.
        let mut flagged = vec![false; 10];
        flagged[2] = true;
        flagged[8] = true;
        let e = event_score(&s, 10, 10, &flagged);
        assert_eq!((e.events, e.detected, e.false_alarms), (2, 1, 1));
        assert_eq!(e.event_recall, 0.5);
        assert_eq!(e.false_alarms_per_1000, 10.0);
        assert_eq!(runs(&[true, true, false, true]), vec![(0, 2), (3, 4)]);
    }
}
