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
use crate::models::spec::{presets, Purpose};
use crate::models::{ModelSpec, Net, SeriesAeConfig, SeriesModelKind};
use crate::rng::Rng;
use crate::training::Loss;
use crate::training::{CancelToken, Event, Schedule, Task, TrainConfig, TrainError, Trainer};
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
    pub loss: Loss,
}

fn batch(set: &SeriesSet, idx: &[usize], device: &Device) -> Tensor<2> {
    let mut v = Vec::with_capacity(idx.len() * set.len);
    for &i in idx {
        v.extend_from_slice(set.series(i));
    }
    Tensor::from_data(TensorData::new(v, [idx.len(), set.len]), device)
}

impl Task for SeriesTask {
    type Model = Net;
    fn train_len(&self) -> usize {
        self.train.count()
    }
    fn valid_len(&self) -> usize {
        self.valid.count()
    }
    fn train_loss(&self, model: &Net, idx: &[usize], _rng: &mut Rng, device: &Device) -> Tensor<1> {
        let x = batch(&self.train, idx, device);
        self.loss
            .of_logits(model.forward_series_logits(x.clone()), x)
    }
    fn valid_loss(&self, model: &Net, idx: &[usize], device: &Device) -> Tensor<1> {
        let x = batch(&self.valid, idx, device);
        self.loss
            .of_logits(model.forward_series_logits(x.clone()), x)
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

/// What flags a window or a series: an error above the threshold or, for
/// windows of a long series, one below the floor. A stuck sensor has none
/// of the normal signal's noise, so its windows are reconstructed better
/// than any normal window, and no upper threshold can catch them.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Cut {
    pub threshold: f32,
    pub floor: Option<f32>,
}

/// The floor is this share of the 1st percentile of the normal windows'
/// errors: on the generated machine signal (seeds 1–5) fully stuck windows
/// fall to 0.003–0.013 against normal windows' 0.018–0.023 and more.
pub const FLOOR_SHARE: f32 = 0.7;

impl Cut {
    /// Only the threshold.
    pub fn above(threshold: f32) -> Self {
        Cut {
            threshold,
            floor: None,
        }
    }

    pub fn flags(&self, error: f32) -> bool {
        error > self.threshold || self.floor.is_some_and(|f| error < f)
    }

    pub fn flag_all(&self, errors: &[f32]) -> Vec<bool> {
        errors.iter().map(|&e| self.flags(e)).collect()
    }
}

/// The floor set by the errors of normal windows: [`FLOOR_SHARE`] of their
/// 1st percentile, or `None` with fewer than [`MIN_THRESHOLD_ITEMS`].
pub fn error_floor(normal_errors: &[f32]) -> Option<f32> {
    (normal_errors.len() >= MIN_THRESHOLD_ITEMS)
        .then(|| FLOOR_SHARE * Threshold::Percentile(1.0).resolve(normal_errors))
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnomalySettings {
    pub model: SeriesModelKind,
    pub latent: usize,
    pub depth: usize,
    /// Share of the normal training series held out for the threshold.
    pub valid_fraction: f32,
    /// Where the threshold's normal errors come from.
    pub threshold_from: ThresholdFrom,
    /// A designed model, instead of the preset (`--model spec.json`); its
    /// length is set from the data.
    #[serde(default)]
    pub spec: Option<ModelSpec>,
    pub train: TrainConfig,
}

/// Where the normal errors that set the threshold come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum ThresholdFrom {
    /// Cross-validated when the validation split would hold fewer than
    /// [`MIN_THRESHOLD_ITEMS`] normal series, else the split.
    #[default]
    Auto,
    /// The normal series held out for validation.
    Split,
    /// All normal training series, each scored by a model trained without
    /// it ([`CV_FOLDS`] folds; see [`cross_validated_errors`]).
    Cv,
}

impl ThresholdFrom {
    /// `auto`, `split` or `cv`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(ThresholdFrom::Auto),
            "split" => Ok(ThresholdFrom::Split),
            "cv" => Ok(ThresholdFrom::Cv),
            _ => Err(format!(
                "unknown threshold source '{s}': expected auto, split or cv"
            )),
        }
    }
}

/// The folds of a cross-validated threshold.
pub const CV_FOLDS: usize = 5;

/// How many of `n` normal series [`trainer`] holds out for validation.
pub fn valid_count(n: usize, valid_fraction: f32) -> usize {
    ((n as f32 * valid_fraction).round() as usize).clamp(1, n.saturating_sub(1).max(1))
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
    pub threshold_from: Option<ThresholdFrom>,
    /// A designed model, as its spec's JSON text (the designer's); `model`
    /// then only picks the preset's training defaults.
    pub spec: Option<String>,
}

impl AnomalyChoices {
    /// The settings: the model's defaults ([`AnomalySettings::new`]) with
    /// the chosen values in place. An unknown model is an error.
    pub fn settings(&self) -> Result<AnomalySettings, String> {
        let kind = SeriesModelKind::parse(&self.model)?;
        let mut s = AnomalySettings::new(kind, self.seed.unwrap_or(1));
        if let Some(text) = &self.spec {
            s.spec = Some(ModelSpec::from_json(text)?);
        }
        s.latent = self.latent.unwrap_or(s.latent);
        s.depth = self.depth.unwrap_or(s.depth);
        s.valid_fraction = self.valid_fraction.unwrap_or(s.valid_fraction);
        s.threshold_from = self.threshold_from.unwrap_or(s.threshold_from);
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
            threshold_from: ThresholdFrom::Auto,
            spec: None,
            train: TrainConfig {
                epochs,
                batch_size: 32,
                learning_rate: 2e-3,
                schedule: Schedule::Cosine,
                seed,
                ..TrainConfig::default()
            },
        }
    }

    /// The spec of the model for series of `length` points: the designed
    /// one, or the preset's.
    pub fn model_spec(&self, length: usize) -> ModelSpec {
        match &self.spec {
            Some(s) => s.clone().with_length(length),
            None => presets::series(
                &SeriesAeConfig::new(self.model, length)
                    .with_latent(self.latent)
                    .with_depth(self.depth),
            ),
        }
    }

    /// The model's name in run tables: the preset's kind, or the designed
    /// model's name.
    pub fn model_name(&self) -> String {
        match &self.spec {
            Some(s) if !s.name.is_empty() => s.name.clone(),
            Some(_) => "designed".into(),
            None => self.model.name().into(),
        }
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
        let spec = self.model_spec(length);
        Purpose::Anomaly.check(&spec)?;
        spec.check()?;
        self.train.validate()
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
    let n_valid = valid_count(n, settings.valid_fraction);
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
        loss: settings.train.loss.unwrap_or(Loss::Mae),
    };
    device.seed(settings.train.seed);
    let model = Net::build(&settings.model_spec(train.len), device)?;
    let t = Trainer::new(task, model, settings.train.clone(), device).map_err(|e| e.to_string())?;
    Ok((t, scaler))
}

/// Mean absolute reconstruction error of each series (scaled units), and
/// the reconstructions.
pub async fn errors(
    model: &Net,
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
        let r = read_f32(model.forward_series(x)).await?;
        for (a, b) in chunk.chunks(set.len).zip(r.chunks(set.len)) {
            errs.push(a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / set.len as f32);
        }
        recon.extend(r);
        crate::platform::yield_now().await;
    }
    Ok((errs, scaler.unapply(&recon)))
}

/// Out-of-fold errors of the normal series `normal`: they are shuffled
/// (by the run's seed) into [`CV_FOLDS`] folds, or one per series when
/// there are fewer, and for each fold a model with `settings` is trained
/// on the other folds and gives the errors of the fold's series, in the
/// units of `scaler` (the final model's, so that the errors compare with
/// its test errors; each fold's model has its own). Every
/// series gets an error from a model that never saw it, so a threshold
/// can rest on all of them instead of a small validation split.
/// `on_fold(k, folds)` is called before fold `k` (from 0) trains; `cancel`
/// stops it between steps.
pub async fn cross_validated_errors(
    normal: &SeriesSet,
    settings: &AnomalySettings,
    scaler: &Scaler,
    device: &Device,
    cancel: &CancelToken,
    mut on_fold: impl FnMut(usize, usize),
) -> Result<Vec<f32>, TrainError> {
    let n = normal.count();
    if n < 3 {
        return Err(TrainError::BadConfig(format!(
            "{n} normal series are too few to cross-validate a threshold (at least 3)"
        )));
    }
    let folds = CV_FOLDS.min(n);
    let mut idx: Vec<usize> = (0..n).collect();
    Rng::derive(settings.train.seed, 0xC5F).shuffle(&mut idx);
    let mut out = vec![0.0f32; n];
    for k in 0..folds {
        on_fold(k, folds);
        let held: Vec<usize> = idx.iter().copied().skip(k).step_by(folds).collect();
        let rest: Vec<usize> = idx
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != k)
            .map(|(_, &j)| j)
            .collect();
        let mut fold_settings = settings.clone();
        fold_settings.train.seed = settings.train.seed.wrapping_add(1 + k as u64);
        let (mut t, fold_scaler) = trainer_split(
            &normal.subset(&rest),
            &normal.subset(&held),
            &fold_settings,
            device,
        )
        .map_err(TrainError::BadConfig)?;
        loop {
            if cancel.is_cancelled() {
                return Err(TrainError::Cancelled);
            }
            if t.step().await? == Event::Finished {
                break;
            }
            crate::platform::yield_now().await;
        }
        let held_set = t.task().valid.clone();
        let model = t.into_model();
        let unit = Scaler { min: 0.0, max: 1.0 };
        let (e, _) = errors(&model, &unit, &held_set, device)
            .await
            .map_err(TrainError::BadConfig)?;
        // MAE over the fold's span, turned into MAE over the final span.
        let to_final = fold_scaler.span() / scaler.span();
        for (&j, e) in held.iter().zip(e) {
            out[j] = e * to_final;
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Detection {
    pub model: String,
    pub auroc: f64,
    pub auprc: f64,
    pub threshold: f32,
    /// The floor below which windows are flagged too (see [`Cut`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub floor: Option<f32>,
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

/// Scores labelled test errors at a cut (a threshold, and a floor for
/// windows of a long series).
pub fn detection(
    model: &str,
    errors: &[f32],
    anomalous: &[bool],
    cut: Cut,
    rule: &str,
) -> Detection {
    let c = Confusion::of(&cut.flag_all(errors), anomalous);
    let best = best_f1_threshold(errors, anomalous);
    Detection {
        model: model.to_string(),
        auroc: auroc(errors, anomalous).unwrap_or(f64::NAN),
        auprc: auprc(errors, anomalous).unwrap_or(f64::NAN),
        threshold: cut.threshold,
        floor: cut.floor,
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
    cut: Cut,
    long: Option<(&LongSeries, usize, usize)>,
    offset: usize,
) -> Vec<Stretch> {
    let flagged = cut.flag_all(errors);
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

/// What a cross-validated threshold rests on: always stated, with the
/// warning of [`threshold_note`] when even all the normal series are few.
pub fn cv_threshold_note(errors: usize, folds: usize) -> String {
    let mut n = format!(
        "the threshold is cross-validated: it rests on the errors of all {errors} normal training series, each from a model trained without it ({folds} folds)"
    );
    if errors < MIN_THRESHOLD_ITEMS {
        n.push_str(&format!(
            "; still fewer than {MIN_THRESHOLD_ITEMS}, so it may be far from the best one"
        ));
    }
    n
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

/// Edits a series as a drag across its plot does: the pointer moved from
/// `from` to `to`, each an (index, value) pair in the series' units. The
/// points under the stroke take its values (interpolated, so a fast drag
/// leaves no gaps), and their neighbours within `radius` points move
/// towards them with a cosine falloff, so a stroke bends the curve instead
/// of leaving a spike. `radius` 0 moves only the points under the stroke.
pub fn brush(series: &mut [f32], from: (f32, f32), to: (f32, f32), radius: f32) {
    if series.is_empty()
        || ![from.0, from.1, to.0, to.1, radius]
            .iter()
            .all(|v| v.is_finite())
    {
        return;
    }
    let ((xa, ya), (xb, yb)) = if from.0 <= to.0 {
        (from, to)
    } else {
        (to, from)
    };
    let radius = radius.max(0.0);
    for (j, v) in series.iter_mut().enumerate() {
        let x = j as f32;
        let (target, dist) = if x < xa {
            (ya, xa - x)
        } else if x > xb {
            (yb, x - xb)
        } else if xb - xa < 1e-6 {
            (yb, 0.0)
        } else {
            (ya + (yb - ya) * (x - xa) / (xb - xa), 0.0)
        };
        // Points within half a step of the stroke are under it.
        let dist = (dist - 0.5).max(0.0);
        let w = if dist == 0.0 {
            1.0
        } else if dist < radius {
            0.5 * (1.0 + (std::f32::consts::PI * dist / radius).cos())
        } else {
            0.0
        };
        *v += w * (target - *v);
    }
}

/// What a drawn or edited series starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum BeatStart {
    /// A normal test series (any test series when unlabelled).
    Normal,
    /// An anomalous test series.
    Anomalous,
    /// A flat line at the training data's mean: to draw from scratch.
    Flat,
}

impl RunData {
    /// The `n`-th test series of the kind `start` asks for (counting round),
    /// or a flat line, in the data's units.
    pub fn beat_start(&self, start: BeatStart, n: usize) -> Result<Vec<f32>, String> {
        let test = &self.test;
        let pick = |want: bool| -> Result<Vec<f32>, String> {
            let idx: Vec<usize> = (0..test.count())
                .filter(|&i| test.anomalous.as_ref().map_or(!want, |a| a[i] == want))
                .collect();
            if idx.is_empty() {
                return Err(if want && test.anomalous.is_none() {
                    "these test series have no labels, so none is known to be anomalous".into()
                } else {
                    format!(
                        "the test data has no {} series",
                        if want { "anomalous" } else { "normal" }
                    )
                });
            }
            Ok(test.series(idx[n % idx.len()]).to_vec())
        };
        match start {
            BeatStart::Normal => pick(false),
            BeatStart::Anomalous => pick(true),
            BeatStart::Flat => {
                let v = &self.train.values;
                let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64;
                Ok(vec![mean as f32; self.test.len])
            }
        }
    }

    /// The value range a drawn series' plot keeps while it is edited: the
    /// training data's, widened by a quarter each way.
    pub fn beat_range(&self) -> (f32, f32) {
        let (lo, hi) = self
            .train
            .values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        if lo > hi {
            return (0.0, 1.0);
        }
        let pad = ((hi - lo) * 0.25).max(1e-3);
        (lo - pad, hi + pad)
    }
}

/// The error of one drawn or edited series (scaled MAE, as the test
/// errors are) and its reconstruction in the data's units. A series of the
/// wrong length or with a value that is not a number is refused.
pub async fn score_series(
    model: &Net,
    scaler: &Scaler,
    series: &[f32],
    device: &Device,
) -> Result<(f32, Vec<f32>), String> {
    if let Some(i) = series.iter().position(|v| !v.is_finite()) {
        return Err(format!("point {i} of the drawn series is not a number"));
    }
    let set = SeriesSet {
        len: series.len(),
        values: series.to_vec(),
        anomalous: None,
    };
    let (e, recon) = errors(model, scaler, &set, device).await?;
    Ok((e.first().copied().unwrap_or(f32::NAN), recon))
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
        let s = flagged_stretches(&e, Cut::above(0.4), Some((&l, 20, 10)), 1000);
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
        let s = flagged_stretches(&[0.9, 0.8, 0.1, 0.7], Cut::above(0.5), None, 10);
        assert_eq!(
            s.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(),
            vec![(10, 12), (13, 14)]
        );
        assert_eq!(
            stretches_csv(&s).lines().next(),
            Some("start,end,peak_error")
        );
        assert!(flagged_stretches(&[0.1; 4], Cut::above(0.5), None, 0).is_empty());
    }

    #[test]
    fn a_brush_stroke_bends_the_curve_without_gaps() {
        let mut s = vec![0.0f32; 20];
        // A stroke from point 5 to point 9 at value 1: the points under it
        // take 1, the neighbours within the radius move part of the way.
        brush(&mut s, (5.0, 1.0), (9.0, 1.0), 3.0);
        assert_eq!(&s[5..=9], &[1.0; 5]);
        assert!(s[4] > 0.5 && s[4] < 1.0, "{}", s[4]);
        assert!(s[3] > 0.0 && s[3] < s[4], "{}", s[3]);
        assert_eq!(s[1], 0.0);
        assert_eq!(s[14], 0.0);
        // Backwards and sloped: interpolated along the stroke.
        let mut s = vec![0.0f32; 11];
        brush(&mut s, (10.0, 1.0), (0.0, 0.0), 0.0);
        for (j, v) in s.iter().enumerate() {
            assert!((v - j as f32 / 10.0).abs() < 1e-6, "point {j}: {v}");
        }
        // A radius of 0 moves only the point under a click; NaN is ignored.
        let mut s = vec![0.0f32; 5];
        brush(&mut s, (2.2, 3.0), (2.2, 3.0), 0.0);
        assert_eq!(s, vec![0.0, 0.0, 3.0, 0.0, 0.0]);
        brush(&mut s, (f32::NAN, 1.0), (1.0, 1.0), 1.0);
        assert_eq!(s, vec![0.0, 0.0, 3.0, 0.0, 0.0]);
    }

    #[test]
    fn a_drawn_beat_starts_from_a_test_series_or_a_flat_line() {
        let test = SeriesSet {
            len: 2,
            values: vec![1.0, 1.0, 5.0, 5.0, 2.0, 2.0],
            anomalous: Some(vec![false, true, false]),
        };
        let train = SeriesSet {
            len: 2,
            values: vec![0.0, 4.0],
            anomalous: None,
        };
        let d = RunData::ecg5000(train, test);
        assert_eq!(d.beat_start(BeatStart::Normal, 0).unwrap(), vec![1.0, 1.0]);
        assert_eq!(d.beat_start(BeatStart::Normal, 3).unwrap(), vec![2.0, 2.0]);
        assert_eq!(
            d.beat_start(BeatStart::Anomalous, 7).unwrap(),
            vec![5.0, 5.0]
        );
        assert_eq!(d.beat_start(BeatStart::Flat, 0).unwrap(), vec![2.0, 2.0]);
        assert_eq!(d.beat_range(), (-1.0, 5.0));
        let mut unlabelled = d.clone();
        unlabelled.test.anomalous = None;
        let e = unlabelled.beat_start(BeatStart::Anomalous, 0).unwrap_err();
        assert!(e.contains("no labels"), "{e}");
    }

    #[test]
    fn the_threshold_is_cross_validated_by_default_only_when_the_split_is_small() {
        let rows = |n: usize| {
            RunData::ecg5000(
                SeriesSet {
                    len: 4,
                    values: vec![0.0; 4 * n],
                    anomalous: Some(vec![false; n]),
                },
                SeriesSet {
                    len: 4,
                    values: vec![0.0; 4],
                    anomalous: Some(vec![true]),
                },
            )
        };
        let mut s = AnomalySettings::new(SeriesModelKind::Dense, 1);
        // 0.2 of 95 is 19 validation series: too few; of 100, 20: enough.
        assert_eq!(rows(95).cross_validates(&s), Ok(true));
        assert_eq!(rows(100).cross_validates(&s), Ok(false));
        s.threshold_from = ThresholdFrom::Cv;
        assert_eq!(rows(100).cross_validates(&s), Ok(true));
        s.threshold_from = ThresholdFrom::Split;
        assert_eq!(rows(12).cross_validates(&s), Ok(false));
        // Windows of a long series are never cross-validated.
        let long = RunData::machine(1, 48, 8).unwrap();
        s.threshold_from = ThresholdFrom::Auto;
        assert_eq!(long.cross_validates(&s), Ok(false));
        s.threshold_from = ThresholdFrom::Cv;
        let e = long.cross_validates(&s).unwrap_err();
        assert!(e.contains("one series per row"), "{e}");
        let n = cv_threshold_note(11, 5);
        assert!(
            n.contains("all 11 normal training series")
                && n.contains("(5 folds)")
                && n.contains("fewer than 20"),
            "{n}"
        );
        assert!(!cv_threshold_note(40, 5).contains("fewer"));
        assert_eq!(ThresholdFrom::parse("cv"), Ok(ThresholdFrom::Cv));
        assert!(ThresholdFrom::parse("folds")
            .unwrap_err()
            .contains("auto, split or cv"));
    }

    #[test]
    fn a_cut_flags_errors_above_the_threshold_and_below_the_floor() {
        let c = Cut {
            threshold: 0.5,
            floor: Some(0.1),
        };
        assert_eq!(
            c.flag_all(&[0.05, 0.1, 0.3, 0.5, 0.6]),
            vec![true, false, false, false, true]
        );
        assert_eq!(Cut::above(0.5).flag_all(&[0.05, 0.6]), vec![false, true]);
        // The floor: 0.7 of the 1st percentile, from at least 20 errors.
        let e: Vec<f32> = (1..=101).map(|i| i as f32).collect();
        assert!((error_floor(&e).unwrap() - 0.7 * 2.0).abs() < 1e-5);
        assert_eq!(error_floor(&e[..19]), None);
        // Only windows of a long series get one.
        let long = RunData::machine(1, 48, 8).unwrap();
        assert!(long.cut(0.5, &e, true).floor.is_some());
        assert!(long.cut(0.5, &e, false).floor.is_none());
        let rows = RunData::ecg5000(
            SeriesSet {
                len: 1,
                values: vec![0.0; 30],
                anomalous: None,
            },
            SeriesSet {
                len: 1,
                values: vec![0.0],
                anomalous: None,
            },
        );
        assert!(rows.cut(0.5, &e, true).floor.is_none());
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
