//! The thin wasm-bindgen layer between the page and the core. It converts
//! types, picks the device and holds the session's state; the work is done
//! by the same code the CLI runs. The page's DOM wiring is
//! `assets/web/app.js`.

use crate::bench;
use crate::data::{preprocess, Mnist, PIXELS};
use crate::figure;
use crate::infer;
use crate::labs::denoise::{
    self, DenoiseSettings, DenoiseTask, NoiseSpec, EVAL_SEED, REPORT_LEVELS,
};
use crate::models::record;
use crate::models::{Classifier, Denoiser, DenoiserConfig, DenoiserKind};
use crate::platform::{self, CpuBackend};
use crate::rng::Rng;
use crate::training::{Event, TrainConfig, TrainError, Trainer};
use burn::module::Module;
use burn::tensor::Device;
use js_sys::{Float32Array, Promise, Uint8Array};
use plotters::prelude::IntoDrawingArea;
use plotters_canvas::CanvasBackend;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

mod anomaly;
mod augment;

/// Turns a panic into a visible message: the console gets the backtrace and
/// the page's `window.aelabPanic(message)` (when defined) shows it.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let msg = info.to_string();
        if let Some(window) = web_sys::window() {
            if let Ok(f) = js_sys::Reflect::get(&window, &"aelabPanic".into()) {
                if let Some(f) = f.dyn_ref::<js_sys::Function>() {
                    let _ = f.call1(&JsValue::NULL, &msg.into());
                }
            }
        }
    }));
}

/// A JS `Error` with the message; without a `kind`, the page treats it as
/// possibly the backend's (it may come from a lost device's read).
fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// What went wrong, for the page to switch on (an error's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The user cancelled a run.
    Cancelled,
    /// Training's loss became NaN or infinite.
    Diverged,
    /// A setting or the data is not what training needs.
    BadInput,
    /// The compute backend failed (a lost WebGPU device, say).
    Device,
}

impl ErrorKind {
    fn name(self) -> &'static str {
        match self {
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Diverged => "diverged",
            ErrorKind::BadInput => "bad-input",
            ErrorKind::Device => "device",
        }
    }

    /// The kind of a training error.
    fn of(e: &TrainError) -> Self {
        match e {
            TrainError::Cancelled => ErrorKind::Cancelled,
            TrainError::Diverged { .. } => ErrorKind::Diverged,
            TrainError::Backend(_) => ErrorKind::Device,
            _ => ErrorKind::BadInput,
        }
    }
}

/// A JS `Error` of kind `bad-input`: settings or data the call cannot use
/// (the page says so and does not blame the backend).
pub(crate) fn bad_input(e: impl std::fmt::Display) -> JsValue {
    js_err_kind(ErrorKind::BadInput, e)
}

/// A JS `Error` with the message for people and a `kind` for the page.
fn js_err_kind(kind: ErrorKind, e: impl std::fmt::Display) -> JsValue {
    let err: JsValue = JsError::new(&e.to_string()).into();
    let _ = js_sys::Reflect::set(&err, &"kind".into(), &kind.name().into());
    err
}

/// A promise that resolves to a Float32Array, or rejects with the message.
pub(crate) fn floats_promise(
    fut: impl std::future::Future<Output = Result<Vec<f32>, String>> + 'static,
) -> Promise {
    future_to_promise(async move {
        let out = fut.await.map_err(js_err)?;
        Ok(Float32Array::from(out.as_slice()).into())
    })
}

fn json_promise<T: serde::Serialize>(
    fut: impl std::future::Future<Output = Result<T, String>> + 'static,
) -> Promise {
    future_to_promise(async move {
        let out = fut.await.map_err(js_err)?;
        serde_json::to_string(&out)
            .map(JsValue::from)
            .map_err(js_err)
    })
}

/// MNIST-style preprocessing of a drawing: `pixels` is `width`×`height`
/// ink values in [0, 1]. Returns 784 floats, or `undefined` when blank.
#[wasm_bindgen]
pub fn preprocess(pixels: &[f32], width: usize, height: usize) -> Option<Float32Array> {
    preprocess::mnist_style(pixels, width, height).map(|v| Float32Array::from(v.as_slice()))
}

/// `clip(x + f·N(0,1), 0, 1)` of one or more 28×28 images, from a seed.
#[wasm_bindgen]
pub fn add_noise(images: &[f32], factor: f32, seed: u64) -> Float32Array {
    let mut rng = Rng::new(seed);
    let out: Vec<f32> = images
        .chunks(PIXELS)
        .flat_map(|img| denoise::add_noise(img, factor, &mut rng))
        .collect();
    Float32Array::from(out.as_slice())
}

/// Which model a weights file holds (`"denoiser"`, `"classifier"`, …), or
/// an error that says what is wrong with the file.
#[wasm_bindgen]
pub fn weights_kind(bytes: &[u8]) -> Result<String, JsValue> {
    record::peek(bytes).map(|(model, _)| model).map_err(js_err)
}

/// The CPU backends this build has, the default first: `["flex"]` for the
/// page (built without the `ndarray` feature). The page offers these.
#[wasm_bindgen]
pub fn cpu_backends() -> Vec<String> {
    CpuBackend::ALL
        .iter()
        .map(|b| b.name().to_string())
        .collect()
}

/// The training forms' defaults, by the id of their field: the core's
/// presets for the page ([`DenoiseSettings::quick`],
/// [`crate::labs::augment::AugmentSettings::quick`]), the one place they
/// are written. The page fills its forms with them before it restores the
/// user's saved settings.
#[wasm_bindgen]
pub fn form_defaults() -> String {
    let d = DenoiseSettings::quick();
    let (lo, hi) = d.noise.bounds();
    // f32 → JSON as written (0.3, not 0.30000001192092896).
    let short = |x: f32| x.to_string().parse::<f64>().unwrap_or(f64::from(x));
    let a = crate::labs::augment::AugmentSettings::quick(2, 100, 1);
    serde_json::json!({
        "train-images": d.images,
        "train-epochs": d.train.epochs,
        "train-batch": d.train.batch_size,
        "train-lr": d.train.learning_rate,
        "train-nmin": short(lo),
        "train-nmax": short(hi),
        "aug-digit": a.digit,
        "aug-examples": a.examples,
        "aug-latent": a.latent,
        "aug-width": a.width,
        "aug-epochs": a.train.epochs,
        "aug-seed": a.train.seed,
    })
    .to_string()
}

/// Which backend to start on.
fn choose(choice: &str) -> Result<Option<CpuBackend>, String> {
    match choice {
        "webgpu" | "auto" => Ok(None),
        other => CpuBackend::parse(other).map(Some),
    }
}

/// One lab session: a device, the loaded models and the loaded data.
#[wasm_bindgen]
pub struct Lab {
    device: Device,
    backend: String,
    note: String,
    denoiser: Option<(Denoiser, DenoiserConfig, serde_json::Value)>,
    classifier: Option<Classifier>,
    test: Option<Rc<Mnist>>,
    train: Option<Rc<Mnist>>,
    augment: Rc<RefCell<augment::AugmentState>>,
    anomaly: Rc<RefCell<anomaly::AnomalyState>>,
}

#[wasm_bindgen]
impl Lab {
    /// Starts a session. `choice` is `"auto"` or `"webgpu"` (WebGPU when an
    /// adapter is found, else the CPU) or a CPU backend from
    /// `cpu_backends()` (`"flex"`; `"ndarray"` where the build has it).
    /// `backend` says what runs and `note` why, after a fallback.
    pub async fn create(choice: String) -> Result<Lab, JsValue> {
        let cpu = choose(&choice).map_err(js_err)?;
        let (device, backend, note) = match cpu {
            Some(b) => (b.device(), b.name().to_string(), String::new()),
            None => match platform::webgpu_device().await {
                Ok(device) => (device, "webgpu".to_string(), String::new()),
                Err(e) => (
                    CpuBackend::Flex.device(),
                    CpuBackend::Flex.name().to_string(),
                    format!("WebGPU is not available here ({e}); running on the CPU."),
                ),
            },
        };
        Ok(Lab {
            device,
            backend,
            note,
            denoiser: None,
            classifier: None,
            test: None,
            train: None,
            augment: Default::default(),
            anomaly: Default::default(),
        })
    }

    /// `"webgpu"` or the CPU backend's name (`"flex"`, `"ndarray"`).
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// Why the backend is not the one asked for, or empty.
    #[wasm_bindgen(getter)]
    pub fn note(&self) -> String {
        self.note.clone()
    }

    /// Loads a denoiser weights file; a wrong or corrupt file is an error
    /// with a message, and the current model stays.
    pub fn load_denoiser(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        let loaded = record::from_bytes::<Denoiser>(bytes, &self.device).map_err(js_err)?;
        self.denoiser = Some(loaded);
        Ok(())
    }

    pub fn load_classifier(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        let (m, _, _) = record::from_bytes::<Classifier>(bytes, &self.device).map_err(js_err)?;
        self.classifier = Some(m);
        Ok(())
    }

    /// The current denoiser as a weights file, for download and for the
    /// page's storage. Resolves to a Uint8Array (the weights are read the
    /// async way, so this works on WebGPU too).
    pub fn denoiser_bytes(&self) -> Result<Promise, JsValue> {
        let (m, c, meta) = self
            .denoiser
            .clone()
            .ok_or_else(|| js_err("no denoiser is loaded"))?;
        Ok(future_to_promise(async move {
            let bytes = record::to_bytes_async(&m, &c, meta).await.map_err(js_err)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        }))
    }

    /// A JSON description of the current denoiser: its config and metadata.
    pub fn denoiser_info(&self) -> Result<String, JsValue> {
        let (_, c, meta) = self
            .denoiser
            .as_ref()
            .ok_or_else(|| js_err("no denoiser is loaded"))?;
        serde_json::to_string(&serde_json::json!({ "config": c, "meta": meta })).map_err(js_err)
    }

    fn denoiser(&self) -> Result<Denoiser, JsValue> {
        self.denoiser
            .as_ref()
            .map(|d| d.0.clone())
            .ok_or_else(|| js_err("no denoiser is loaded"))
    }

    fn classifier(&self) -> Result<Classifier, JsValue> {
        self.classifier
            .clone()
            .ok_or_else(|| js_err("no classifier is loaded"))
    }

    /// Denoises `n` 28×28 images (n·784 floats in [0, 1]); resolves to a
    /// Float32Array of the same length.
    pub fn denoise(&self, images: Vec<f32>) -> Result<Promise, JsValue> {
        let model = self.denoiser()?;
        let device = self.device.clone();
        Ok(floats_promise(async move {
            infer::denoise(&model, &images, &device).await
        }))
    }

    /// Class probabilities of `n` images: resolves to n·10 floats.
    pub fn classify(&self, images: Vec<f32>) -> Result<Promise, JsValue> {
        let model = self.classifier()?;
        let device = self.device.clone();
        Ok(floats_promise(async move {
            infer::probabilities(&model, &images, &device).await
        }))
    }

    /// Loads the MNIST test split from its gzipped IDX files.
    pub fn load_test_set(&mut self, images: &[u8], labels: &[u8]) -> Result<usize, JsValue> {
        let set = Mnist::from_idx(images, labels).map_err(js_err)?;
        let n = set.len();
        self.test = Some(Rc::new(set));
        Ok(n)
    }

    /// Loads the MNIST training split (for training in the browser).
    pub fn load_train_set(&mut self, images: &[u8], labels: &[u8]) -> Result<usize, JsValue> {
        let set = Mnist::from_idx(images, labels).map_err(js_err)?;
        let n = set.len();
        self.train = Some(Rc::new(set));
        Ok(n)
    }

    /// Shares the loaded data with another session (after a backend switch
    /// or a lost GPU): the datasets, the anomaly run and the augmentation
    /// settings. No tensor of the old session is read, so this works when
    /// its GPU device is gone; the page reloads the models from their
    /// weights files (`load_denoiser`, `load_augmenter`).
    pub fn share_data(&mut self, from: &Lab) {
        self.test = from.test.clone();
        self.train = from.train.clone();
        augment::move_state(&from.augment.borrow(), &mut self.augment.borrow_mut());
        anomaly::move_state(&from.anomaly.borrow(), &mut self.anomaly.borrow_mut());
    }

    fn test(&self) -> Result<Rc<Mnist>, JsValue> {
        self.test
            .clone()
            .ok_or_else(|| js_err("the MNIST test set is not loaded yet"))
    }

    pub fn test_len(&self) -> usize {
        self.test.as_ref().map_or(0, |t| t.len())
    }

    /// Test image `index` (784 floats) and its label.
    pub fn test_image(&self, index: usize) -> Result<Float32Array, JsValue> {
        let t = self.test()?;
        if index >= t.len() {
            return Err(js_err(format!(
                "there is no test digit {index}: pick 0 to {}",
                t.len() - 1
            )));
        }
        Ok(Float32Array::from(t.image_f32(index).as_slice()))
    }

    pub fn test_label(&self, index: usize) -> Result<u8, JsValue> {
        let t = self.test()?;
        t.labels
            .get(index)
            .copied()
            .ok_or_else(|| js_err(format!("there is no test digit {index}")))
    }

    /// A random test index whose label is `digit`.
    pub fn random_test_index(&self, digit: u8, seed: u64) -> Result<usize, JsValue> {
        let t = self.test()?;
        let idx: Vec<usize> = (0..t.len()).filter(|&i| t.labels[i] == digit).collect();
        if idx.is_empty() {
            return Err(js_err(format!("the test set has no digit {digit}")));
        }
        Ok(idx[Rng::new(seed).below(idx.len())])
    }

    /// Draws the report figure (ten digits × clean, noisy, denoised × the
    /// three levels) on `canvas`, and resolves to the JSON evaluation of the
    /// first `images` test digits at those levels.
    pub fn report(
        &self,
        canvas: web_sys::HtmlCanvasElement,
        images: usize,
    ) -> Result<Promise, JsValue> {
        let (den, cls, test) = (self.denoiser()?, self.classifier()?, self.test()?);
        let device = self.device.clone();
        let backend = self.backend.clone();
        Ok(json_promise(async move {
            let fig =
                denoise::figure_data(&den, &cls, &test, &REPORT_LEVELS, EVAL_SEED, &device).await?;
            let (w, h) = figure::denoise_figure_size(REPORT_LEVELS.len());
            canvas.set_width(w);
            canvas.set_height(h);
            let root = CanvasBackend::with_canvas_object(canvas)
                .ok_or("the canvas has no 2D context")?
                .into_drawing_area();
            figure::draw_denoise_figure_on(
                &root,
                &fig,
                &format!("aelab denoising report (noise seed {EVAL_SEED}, backend {backend})"),
            )?;
            let subset = test.take(images.clamp(1, test.len()));
            denoise::evaluate(&den, &cls, &subset, &REPORT_LEVELS, EVAL_SEED, &device).await
        }))
    }

    /// Prepares a training run of the denoiser. `config` is JSON:
    /// `{images, epochs, batch_size, learning_rate, noise_min, noise_max,
    /// from_scratch, kind, seed}`. Errors name the setting that is wrong.
    pub fn start_training(&self, config: &str) -> Result<TrainSession, JsValue> {
        let c: WebTrainConfig = serde_json::from_str(config)
            .map_err(|e| bad_input(format!("bad training settings: {e}")))?;
        let train = self
            .train
            .clone()
            .ok_or_else(|| js_err("the MNIST training set is not loaded yet"))?;
        let n = c.images.min(train.len());
        let quick = DenoiseSettings::quick();
        let settings = DenoiseSettings {
            noise: NoiseSpec::between(c.noise_min, c.noise_max),
            images: Some(c.images),
            model: match c.kind.as_deref() {
                Some("skip") => DenoiserConfig::skip(),
                _ => DenoiserConfig::canonical(),
            },
            train: TrainConfig {
                epochs: c.epochs,
                batch_size: c.batch_size,
                learning_rate: c.learning_rate,
                seed: c.seed,
                ..quick.train
            },
            ..quick
        };
        settings.validate().map_err(bad_input)?;
        let (model, mcfg, meta) = if c.from_scratch {
            let model = settings.new_model(&self.device).map_err(bad_input)?;
            (model, settings.model.clone(), serde_json::Value::Null)
        } else {
            self.denoiser
                .clone()
                .ok_or_else(|| js_err("no denoiser is loaded to fine-tune"))?
        };
        let trainer = settings
            .trainer(&train, model, &self.device)
            .map_err(bad_input)?;
        let cancel = trainer.cancel_token();
        let meta = serde_json::json!({
            "trained_in": "browser",
            "backend": self.backend,
            "images": n,
            "epochs": c.epochs,
            "noise": [c.noise_min, c.noise_max],
            "fine_tuned_from": meta,
        });
        Ok(TrainSession::new(
            AnyTrainer::Denoise(trainer),
            cancel,
            SessionKind::Denoise { config: mcfg, meta },
            c.epochs,
        ))
    }

    /// Makes the session's current model the lab's denoiser.
    pub fn adopt(&mut self, session: &TrainSession) -> Result<(), JsValue> {
        let guard = session.trainer.borrow();
        let (Some(AnyTrainer::Denoise(trainer)), SessionKind::Denoise { config, meta }) =
            (guard.as_ref(), &session.kind)
        else {
            return Err(js_err(
                "this session is still running a step, or it does not train a denoiser",
            ));
        };
        let model = trainer.model().fork(&self.device);
        self.denoiser = Some((model, config.clone(), meta.clone()));
        Ok(())
    }

    /// Benchmarks this backend: training throughput of the canonical
    /// denoiser at `batch` images per step over `steps` steps (after one
    /// warm-up step), and the latency of denoising one digit. Resolves to
    /// JSON.
    pub fn bench(&self, batch: usize, steps: usize) -> Promise {
        let device = self.device.clone();
        let backend = self.backend.clone();
        let train = self.train.clone();
        json_promise(async move { bench(device, backend, train, batch, steps).await })
    }
}

#[derive(serde::Deserialize)]
struct WebTrainConfig {
    images: usize,
    epochs: usize,
    batch_size: usize,
    learning_rate: f64,
    noise_min: f32,
    noise_max: f32,
    #[serde(default)]
    from_scratch: bool,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default = "one")]
    seed: u64,
}

fn one() -> u64 {
    1
}

/// The trainers a session can drive (one per session, so the variants'
/// sizes do not matter).
#[allow(clippy::large_enum_variant)]
pub(super) enum AnyTrainer {
    Denoise(Trainer<DenoiseTask>),
    Augment(Trainer<crate::labs::augment::AugmentTask>),
    Anomaly(Trainer<crate::labs::anomaly::SeriesTask>),
}

impl AnyTrainer {
    async fn step(&mut self) -> Result<Event, TrainError> {
        match self {
            AnyTrainer::Denoise(t) => t.step().await,
            AnyTrainer::Augment(t) => t.step().await,
            AnyTrainer::Anomaly(t) => t.step().await,
        }
    }
}

/// What a finished session's model becomes.
pub(super) enum SessionKind {
    Denoise {
        config: DenoiserConfig,
        meta: serde_json::Value,
    },
    Augment {
        settings: crate::labs::augment::AugmentSettings,
        /// The chosen training examples, `n × 784`.
        examples: Vec<f32>,
    },
    Anomaly {
        settings: crate::labs::anomaly::AnomalySettings,
        scaler: crate::labs::anomaly::Scaler,
    },
}

/// A training run in the browser: the page awaits `step()` in a loop, so it
/// stays responsive between steps, and draws the chart as it goes.
#[wasm_bindgen]
pub struct TrainSession {
    /// `None` while a step is running.
    trainer: Rc<RefCell<Option<AnyTrainer>>>,
    cancel: crate::training::CancelToken,
    kind: SessionKind,
    train_curve: Rc<RefCell<Vec<figure::CurvePoint>>>,
    valid_curve: Rc<RefCell<Vec<figure::CurvePoint>>>,
    epochs: usize,
    /// The last checkpoint: a weights file of the model as trained so far,
    /// read to the CPU at each epoch's end and every
    /// [`CHECKPOINT_EVERY_MS`], so that a lost GPU does not lose the run.
    checkpoint: Rc<RefCell<Option<Vec<u8>>>>,
    checkpoint_at: Rc<std::cell::Cell<f64>>,
    /// The configuration and metadata a checkpoint is written with, fixed
    /// for the session.
    checkpoint_spec: Rc<CheckpointSpec>,
}

/// How often a running session copies its model to the CPU, at most.
const CHECKPOINT_EVERY_MS: f64 = 15_000.0;

/// What a checkpoint needs besides the weights: the model's configuration
/// and metadata.
enum CheckpointSpec {
    Denoise(DenoiserConfig, serde_json::Value),
    Augment(crate::models::LatentAeConfig, serde_json::Value),
    Anomaly(crate::labs::anomaly::AnomalySettings, serde_json::Value),
}

impl AnyTrainer {
    /// A weights file of the model as trained so far, with `{epoch, step}`
    /// in its metadata under "checkpoint".
    async fn checkpoint(
        &self,
        spec: &CheckpointSpec,
        at: serde_json::Value,
    ) -> Result<Vec<u8>, String> {
        let with = |meta: &serde_json::Value| {
            let mut meta = meta.clone();
            if let Some(o) = meta.as_object_mut() {
                o.insert("checkpoint".into(), at.clone());
                meta
            } else {
                serde_json::json!({ "checkpoint": at.clone() })
            }
        };
        let r = match (self, spec) {
            (AnyTrainer::Denoise(t), CheckpointSpec::Denoise(c, meta)) => {
                record::to_bytes_async(&t.model(), c, with(meta)).await
            }
            (AnyTrainer::Augment(t), CheckpointSpec::Augment(c, meta)) => {
                record::to_bytes_async(&t.model(), c, with(meta)).await
            }
            (AnyTrainer::Anomaly(t), CheckpointSpec::Anomaly(settings, meta)) => {
                let m = t.model();
                let c = settings.model_config(m.length());
                record::to_bytes_async(&m, &c, with(meta)).await
            }
            _ => return Err("the session's trainer and kind disagree".into()),
        };
        r.map_err(|e| e.to_string())
    }
}

impl CheckpointSpec {
    fn of(kind: &SessionKind) -> Self {
        match kind {
            SessionKind::Denoise { config, meta } => {
                CheckpointSpec::Denoise(config.clone(), meta.clone())
            }
            SessionKind::Augment { settings, .. } => {
                CheckpointSpec::Augment(settings.model_config(), augment::augmenter_meta(settings))
            }
            SessionKind::Anomaly { settings, .. } => CheckpointSpec::Anomaly(
                settings.clone(),
                serde_json::json!({ "model": settings.model.name(), "trained_in": "browser" }),
            ),
        }
    }
}

impl TrainSession {
    pub(super) fn new(
        trainer: AnyTrainer,
        cancel: crate::training::CancelToken,
        kind: SessionKind,
        epochs: usize,
    ) -> Self {
        TrainSession {
            trainer: Rc::new(RefCell::new(Some(trainer))),
            cancel,
            checkpoint_spec: Rc::new(CheckpointSpec::of(&kind)),
            kind,
            train_curve: Rc::new(RefCell::new(Vec::new())),
            valid_curve: Rc::new(RefCell::new(Vec::new())),
            epochs,
            checkpoint: Rc::new(RefCell::new(None)),
            checkpoint_at: Rc::new(std::cell::Cell::new(js_sys::Date::now())),
        }
    }
}

#[wasm_bindgen]
impl TrainSession {
    /// The last checkpoint (a weights file of the model as trained so far),
    /// or `undefined` before the first one. The page adopts it when the
    /// GPU is lost mid-run.
    pub fn checkpoint(&self) -> Option<Uint8Array> {
        self.checkpoint
            .borrow()
            .as_ref()
            .map(|b| Uint8Array::from(b.as_slice()))
    }

    /// Does one step; resolves to JSON: `{"kind": "step", ...progress}`,
    /// `{"kind": "epoch", ...stats}` or `{"kind": "finished"}`. Rejects with
    /// a message when training fails or is cancelled.
    pub fn step(&self) -> Promise {
        let cell = self.trainer.clone();
        let (tc, vc) = (self.train_curve.clone(), self.valid_curve.clone());
        let spec = self.checkpoint_spec.clone();
        let (ck, ck_at) = (self.checkpoint.clone(), self.checkpoint_at.clone());
        future_to_promise(async move {
            let mut trainer = cell
                .borrow_mut()
                .take()
                .ok_or_else(|| js_err("a training step is already running"))?;
            let result = trainer.step().await;
            // A checkpoint at each epoch's end, and now and then within one.
            let at = match &result {
                Ok(Event::EpochEnd(s)) => {
                    Some(serde_json::json!({"epoch": s.epoch + 1, "step": 0}))
                }
                Ok(Event::Step(p)) if js_sys::Date::now() - ck_at.get() > CHECKPOINT_EVERY_MS => {
                    Some(serde_json::json!({"epoch": p.epoch, "step": p.step}))
                }
                _ => None,
            };
            if let Some(at) = at {
                ck_at.set(js_sys::Date::now());
                match trainer.checkpoint(&spec, at).await {
                    Ok(bytes) => *ck.borrow_mut() = Some(bytes),
                    Err(e) => web_sys::console::warn_1(&format!("checkpoint failed: {e}").into()),
                }
            }
            *cell.borrow_mut() = Some(trainer);
            let event = result.map_err(|e| js_err_kind(ErrorKind::of(&e), e))?;
            let json = match event {
                Event::Step(p) => {
                    let x = p.epoch as f64 + p.step as f64 / p.steps_per_epoch.max(1) as f64;
                    tc.borrow_mut().push((x, p.loss as f64));
                    serde_json::json!({ "kind": "step", "progress": p, "fraction": p.fraction() })
                }
                Event::EpochEnd(s) => {
                    if let Some(v) = s.valid_loss {
                        vc.borrow_mut().push(((s.epoch + 1) as f64, v as f64));
                    }
                    serde_json::json!({ "kind": "epoch", "stats": s })
                }
                Event::Finished => serde_json::json!({ "kind": "finished" }),
            };
            Ok(JsValue::from(json.to_string()))
        })
    }

    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Draws the train (per step) and validation (per epoch) loss curves.
    pub fn draw_chart(&self, canvas: web_sys::HtmlCanvasElement) -> Result<(), JsValue> {
        let root = CanvasBackend::with_canvas_object(canvas)
            .ok_or_else(|| js_err("the canvas has no 2D context"))?
            .into_drawing_area();
        figure::draw_loss_chart_on(
            &root,
            &smooth(&self.train_curve.borrow()),
            &self.valid_curve.borrow(),
            self.epochs,
        )
        .map_err(js_err)
    }
}

/// A running mean over the last few steps, so the chart shows the trend
/// rather than batch-to-batch noise.
fn smooth(points: &[figure::CurvePoint]) -> Vec<figure::CurvePoint> {
    const K: usize = 8;
    (0..points.len())
        .map(|i| {
            let w = &points[i.saturating_sub(K - 1)..=i];
            (
                points[i].0,
                w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64,
            )
        })
        .collect()
}

#[derive(serde::Serialize)]
struct BenchResult {
    backend: String,
    #[serde(flatten)]
    measured: bench::Measurement,
}

async fn bench(
    device: Device,
    backend: String,
    train: Option<Rc<Mnist>>,
    batch: usize,
    steps: usize,
) -> Result<BenchResult, String> {
    let batch = batch.clamp(1, 1024);
    let steps = steps.clamp(1, 1000);
    // Real digits when the training set is loaded; synthetic strokes else.
    let n = batch * (steps + 1);
    let set = match train {
        Some(t) => t.take(n.min(t.len())),
        None => bench::synthetic(n),
    };
    let measured =
        bench::measure(&device, DenoiserKind::Canonical, set, batch, 1, steps, 20).await?;
    Ok(BenchResult { backend, measured })
}
