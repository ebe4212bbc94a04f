//! The thin wasm-bindgen layer between the page and the core. It converts
//! types, picks the device and holds the session's state; the work is done
//! by the same code the CLI runs. The page's DOM wiring is
//! `assets/web/app.js`.

use crate::bench;
use crate::data::{preprocess, Mnist, PIXELS};
use crate::figure;
use crate::infer;
use crate::labs::denoise::{DenoiseSettings, DenoiseTask};
use crate::models::record;
use crate::models::{Classifier, DenoiserKind, ModelSpec, Net};
use crate::platform::{self, CpuBackend};
use crate::rng::Rng;
use crate::training::{EpochStats, Event, Progress, TrainError, Trainer};
use burn::tensor::Device;
use js_sys::{Float32Array, Promise, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

mod anomaly;
mod augment;
mod denoise;
mod design;
mod runs;
mod sketch;
mod workspace;

pub use anomaly::AnomalyLab;
pub use augment::AugmentLab;
pub use denoise::DenoiseLab;
// The threaded module's pool: `await initThreadPool(n)` before any work.
#[cfg(target_feature = "atomics")]
pub use wasm_bindgen_rayon::init_thread_pool;

/// Runs the module's static constructors once (see
/// [`platform::run_static_constructors`]: without this call every export
/// paid for them), and turns a panic into a visible message: the console
/// gets the backtrace and the global `aelabPanic(message)` (when defined)
/// shows it: the page's banner, or the compute worker's report to the page.
#[wasm_bindgen(start)]
pub fn start() {
    platform::run_static_constructors();
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let msg = info.to_string();
        // The page's window, or the compute worker's global scope.
        if let Ok(f) = js_sys::Reflect::get(&js_sys::global(), &"aelabPanic".into()) {
            if let Some(f) = f.dyn_ref::<js_sys::Function>() {
                let _ = f.call1(&JsValue::NULL, &msg.into());
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

/// A promise that resolves to `T` as a plain object (see [`to_js`]), or
/// rejects with the message.
pub(crate) fn typed_promise<T: serde::Serialize>(
    fut: impl std::future::Future<Output = Result<T, String>> + 'static,
) -> Promise {
    future_to_promise(async move {
        let out = fut.await.map_err(js_err)?;
        to_js(&out)
    })
}

/// A value for the page as a plain object, shaped as its TypeScript
/// declaration says (tsify derives them): maps become objects, `None`
/// becomes `undefined`, a NaN stays a NaN.
pub(crate) fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true))
        .map_err(js_err)
}

/// A typed value from the page (settings, options). One the core cannot
/// read is a `bad-input` error that names what is wrong, for example
/// "bad training settings: invalid type: string \"x\", expected usize".
pub(crate) fn from_js<T: serde::de::DeserializeOwned>(
    v: JsValue,
    what: &str,
) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(v).map_err(|e| bad_input(format!("bad {what}: {e}")))
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
        .flat_map(|img| crate::labs::denoise::add_noise(img, factor, &mut rng))
        .collect();
    Float32Array::from(out.as_slice())
}

/// Which model a weights file holds (`"denoiser"`, `"classifier"`, …), or
/// an error that says what is wrong with the file.
#[wasm_bindgen]
pub fn weights_kind(bytes: &[u8]) -> Result<String, JsValue> {
    crate::models::spec::legacy::kind(bytes).map_err(js_err)
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

/// Whether this module has WebGPU: the page's first module is CPU-only,
/// and the page loads the WebGPU one when a session asks for it.
#[wasm_bindgen]
pub fn has_webgpu() -> bool {
    platform::HAS_WEBGPU
}

/// How many threads the CPU backend computes on: 1 in the single-threaded
/// module, the pool's size (`initThreadPool`) in the threaded one.
#[wasm_bindgen]
pub fn cpu_threads() -> usize {
    platform::cpu_threads()
}

/// The training forms' defaults, by the id of their field: the core's
/// presets for the page ([`DenoiseSettings::quick`],
/// [`crate::labs::augment::AugmentSettings::quick`]), the one place they
/// are written. The page fills its forms with them before it restores the
/// user's saved settings.
#[derive(serde::Serialize, tsify::Tsify)]
pub struct FormDefaults {
    #[serde(rename = "train-images")]
    train_images: Option<usize>,
    #[serde(rename = "train-epochs")]
    train_epochs: usize,
    #[serde(rename = "train-batch")]
    train_batch: usize,
    #[serde(rename = "train-lr")]
    train_lr: f64,
    #[serde(rename = "train-nmin")]
    train_nmin: f64,
    #[serde(rename = "train-nmax")]
    train_nmax: f64,
    #[serde(rename = "aug-digit")]
    aug_digit: u8,
    #[serde(rename = "aug-examples")]
    aug_examples: usize,
    #[serde(rename = "aug-latent")]
    aug_latent: usize,
    #[serde(rename = "aug-width")]
    aug_width: usize,
    #[serde(rename = "aug-epochs")]
    aug_epochs: usize,
    #[serde(rename = "aug-seed")]
    aug_seed: u64,
}

#[wasm_bindgen(unchecked_return_type = "FormDefaults")]
pub fn form_defaults() -> Result<JsValue, JsValue> {
    let d = DenoiseSettings::quick();
    let (lo, hi) = d.noise.bounds();
    // f32 as written (0.3, not 0.30000001192092896).
    let short = |x: f32| x.to_string().parse::<f64>().unwrap_or(f64::from(x));
    let a = crate::labs::augment::AugmentSettings::quick(2, 100, 1);
    to_js(&FormDefaults {
        train_images: d.images,
        train_epochs: d.train.epochs,
        train_batch: d.train.batch_size,
        train_lr: d.train.learning_rate,
        train_nmin: short(lo),
        train_nmax: short(hi),
        aug_digit: a.digit,
        aug_examples: a.examples,
        aug_latent: a.latent,
        aug_width: a.width,
        aug_epochs: a.train.epochs,
        aug_seed: a.train.seed,
    })
}

/// Draws a chart for a canvas shown as `frame` says (a [`sketch::ChartFrame`]:
/// its full size and the width the page shows it at); `rows` says, for the
/// width drawn at, how many rows of panels the chart stacks. Returns the
/// [`sketch::Drawing`] for the page to paint, with what `draw` returned.
pub(crate) fn chart<T, E: std::fmt::Display>(
    frame: JsValue,
    rows: &dyn Fn(u32) -> usize,
    draw: impl FnOnce(&sketch::Area) -> Result<T, E>,
) -> Result<(JsValue, T), JsValue> {
    let frame: sketch::ChartFrame = from_js(frame, "chart frame")?;
    let (d, out) = sketch::sketch(frame.size(rows), draw).map_err(js_err)?;
    Ok((d.to_js(), out))
}

/// Draws a figure of a fixed `size` (the report's figures) for the page.
pub(crate) fn figure_drawing<E: std::fmt::Display>(
    size: (u32, u32),
    draw: impl FnOnce(&sketch::Area) -> Result<(), E>,
) -> Result<JsValue, JsValue> {
    let (d, ()) = sketch::sketch(size, draw).map_err(js_err)?;
    Ok(d.to_js())
}

/// `reason` as the start of a sentence: its first letter in capitals.
fn sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Which backend to start on.
fn choose(choice: &str) -> Result<Option<CpuBackend>, String> {
    match choice {
        "webgpu" | "auto" => Ok(None),
        other => CpuBackend::parse(other).map(Some),
    }
}

/// What a session holds: its device, the shared models and data, and each
/// lab's state. The [`Lab`] and its three lab handles share it.
pub(crate) struct Session {
    device: Device,
    backend: String,
    note: String,
    denoiser: RefCell<Option<(Net, ModelSpec, serde_json::Value)>>,
    /// A checkpoint of a run in the compute worker, which denoises in place
    /// of `denoiser` while the run goes on ([`DenoiseLab::set_preview`]).
    preview: RefCell<Option<Net>>,
    classifier: RefCell<Option<Classifier>>,
    test: RefCell<Option<Rc<Mnist>>>,
    train: RefCell<Option<Rc<Mnist>>>,
    augment: Rc<RefCell<augment::AugmentState>>,
    anomaly: Rc<RefCell<anomaly::AnomalyState>>,
}

impl Session {
    fn classifier(&self) -> Result<Classifier, JsValue> {
        self.classifier
            .borrow()
            .clone()
            .ok_or_else(|| js_err("no classifier is loaded"))
    }

    fn test(&self) -> Result<Rc<Mnist>, JsValue> {
        self.test
            .borrow()
            .clone()
            .ok_or_else(|| js_err("the MNIST test set is not loaded yet"))
    }

    fn train(&self) -> Result<Rc<Mnist>, JsValue> {
        self.train
            .borrow()
            .clone()
            .ok_or_else(|| js_err("the MNIST training set is not loaded yet"))
    }
}

/// One session: a device, the data and the classifier the labs share, and
/// a handle per lab ([`DenoiseLab`], [`AugmentLab`], [`AnomalyLab`]).
#[wasm_bindgen]
pub struct Lab {
    s: Rc<Session>,
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
                    format!("{}, so aelab runs on the CPU.", sentence(&e)),
                ),
            },
        };
        Ok(Lab {
            s: Rc::new(Session {
                device,
                backend,
                note,
                denoiser: RefCell::new(None),
                preview: RefCell::new(None),
                classifier: RefCell::new(None),
                test: RefCell::new(None),
                train: RefCell::new(None),
                augment: Default::default(),
                anomaly: Default::default(),
            }),
        })
    }

    /// `"webgpu"` or the CPU backend's name (`"flex"`, `"ndarray"`).
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.s.backend.clone()
    }

    /// Why the backend is not the one asked for, or empty.
    #[wasm_bindgen(getter)]
    pub fn note(&self) -> String {
        self.s.note.clone()
    }

    /// The Denoise tab's handle on this session.
    pub fn denoise(&self) -> DenoiseLab {
        DenoiseLab { s: self.s.clone() }
    }

    /// The Augment tab's handle on this session.
    pub fn augment(&self) -> AugmentLab {
        AugmentLab { s: self.s.clone() }
    }

    /// The Anomaly tab's handle on this session.
    pub fn anomaly(&self) -> AnomalyLab {
        AnomalyLab { s: self.s.clone() }
    }

    /// Loads the classifier that judges digits; a wrong or corrupt file is
    /// an error with a message, and the current classifier stays.
    pub fn load_classifier(&self, bytes: &[u8]) -> Result<(), JsValue> {
        let (m, _, _) = record::from_bytes::<Classifier>(bytes, &self.s.device).map_err(js_err)?;
        *self.s.classifier.borrow_mut() = Some(m);
        Ok(())
    }

    /// Class probabilities of `n` images: resolves to n·10 floats.
    #[wasm_bindgen(unchecked_return_type = "Promise<Float32Array>")]
    pub fn classify(&self, images: Vec<f32>) -> Result<Promise, JsValue> {
        let model = self.s.classifier()?;
        let device = self.s.device.clone();
        Ok(floats_promise(async move {
            infer::probabilities(&model, &images, &device).await
        }))
    }

    /// Loads the MNIST test split from its gzipped IDX files.
    pub fn load_test_set(&self, images: &[u8], labels: &[u8]) -> Result<usize, JsValue> {
        let set = Mnist::from_idx(images, labels).map_err(js_err)?;
        let n = set.len();
        *self.s.test.borrow_mut() = Some(Rc::new(set));
        Ok(n)
    }

    /// Loads the MNIST training split (for training in the browser).
    pub fn load_train_set(&self, images: &[u8], labels: &[u8]) -> Result<usize, JsValue> {
        let set = Mnist::from_idx(images, labels).map_err(js_err)?;
        let n = set.len();
        *self.s.train.borrow_mut() = Some(Rc::new(set));
        Ok(n)
    }

    /// Shares the loaded data with another session (after a backend switch
    /// or a lost GPU): the datasets, the anomaly run and the augmentation
    /// settings. No tensor of the old session is read, so this works when
    /// its GPU device is gone; the page reloads the models from their
    /// weights files (`denoise().load`, `augment().load`).
    pub fn share_data(&self, from: &Lab) {
        *self.s.test.borrow_mut() = from.s.test.borrow().clone();
        *self.s.train.borrow_mut() = from.s.train.borrow().clone();
        augment::move_state(&from.s.augment.borrow(), &mut self.s.augment.borrow_mut());
        anomaly::move_state(&from.s.anomaly.borrow(), &mut self.s.anomaly.borrow_mut());
    }

    pub fn test_len(&self) -> usize {
        self.s.test.borrow().as_ref().map_or(0, |t| t.len())
    }

    /// Test image `index` (784 floats).
    pub fn test_image(&self, index: usize) -> Result<Float32Array, JsValue> {
        let t = self.s.test()?;
        if index >= t.len() {
            return Err(js_err(format!(
                "there is no test digit {index}: pick 0 to {}",
                t.len() - 1
            )));
        }
        Ok(Float32Array::from(t.image_f32(index).as_slice()))
    }

    pub fn test_label(&self, index: usize) -> Result<u8, JsValue> {
        let t = self.s.test()?;
        t.labels
            .get(index)
            .copied()
            .ok_or_else(|| js_err(format!("there is no test digit {index}")))
    }

    /// A random test index whose label is `digit`.
    pub fn random_test_index(&self, digit: u8, seed: u64) -> Result<usize, JsValue> {
        let t = self.s.test()?;
        let idx: Vec<usize> = (0..t.len()).filter(|&i| t.labels[i] == digit).collect();
        if idx.is_empty() {
            return Err(js_err(format!("the test set has no digit {digit}")));
        }
        Ok(idx[Rng::new(seed).below(idx.len())])
    }

    /// Benchmarks this backend: training throughput of the canonical
    /// denoiser at `batch` images per step over `steps` steps (after one
    /// warm-up step), and the latency of denoising one digit.
    #[wasm_bindgen(unchecked_return_type = "Promise<BenchResult>")]
    pub fn bench(&self, batch: usize, steps: usize) -> Promise {
        let device = self.s.device.clone();
        let backend = self.s.backend.clone();
        let train = self.s.train.borrow().clone();
        typed_promise(async move { bench(device, backend, train, batch, steps).await })
    }
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
        config: ModelSpec,
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
    curves: Rc<RefCell<Curves>>,
    /// The last checkpoint: a weights file of the model as trained so far,
    /// read to the CPU at each epoch's end and every `checkpoint_every` ms
    /// ([`CHECKPOINT_EVERY_MS`] unless the page sets it), so that a lost GPU
    /// or worker does not lose the run. `fresh` says whether it is newer
    /// than the one [`TrainSession::fresh_checkpoint`] last gave.
    checkpoint: Rc<RefCell<Option<Vec<u8>>>>,
    fresh: Rc<std::cell::Cell<bool>>,
    checkpoint_at: Rc<std::cell::Cell<f64>>,
    checkpoint_every: Rc<std::cell::Cell<f64>>,
    /// The configuration and metadata a checkpoint is written with, fixed
    /// for the session.
    checkpoint_spec: Rc<CheckpointSpec>,
}

/// How often a running session copies its model to the CPU, at most.
const CHECKPOINT_EVERY_MS: f64 = 15_000.0;

/// The fewest milliseconds between two checkpoints the page may ask for: a
/// checkpoint reads the model back, which costs a step's time on a GPU.
const CHECKPOINT_MIN_MS: f64 = 500.0;

/// A run's loss curves: the training loss per step (as epochs, fractional)
/// and the validation loss per epoch; drawn smoothed.
pub(crate) struct Curves {
    train: Vec<figure::CurvePoint>,
    valid: Vec<figure::CurvePoint>,
    epochs: usize,
}

impl Curves {
    fn new(epochs: usize) -> Self {
        Curves {
            train: Vec::new(),
            valid: Vec::new(),
            epochs,
        }
    }

    fn step(&mut self, at: f64, loss: f64) {
        if at.is_finite() && loss.is_finite() {
            self.train.push((at, loss));
        }
    }

    /// The end of 0-based epoch `epoch`, with its validation loss.
    fn epoch_end(&mut self, epoch: usize, valid_loss: Option<f64>) {
        if let Some(v) = valid_loss.filter(|v| v.is_finite()) {
            self.valid.push(((epoch + 1) as f64, v));
        }
    }

    fn draw(&self, frame: JsValue) -> Result<JsValue, JsValue> {
        let (d, ()) = chart(frame, &|_| 1, |root| {
            figure::draw_loss_chart_on(root, &smooth(&self.train), &self.valid, self.epochs)
        })?;
        Ok(d)
    }
}

/// The loss chart of a run that trains elsewhere (in the compute worker):
/// the page records the run's step events and draws them as a
/// [`TrainSession`] draws its own.
#[wasm_bindgen]
pub struct LossChart {
    curves: Curves,
}

#[wasm_bindgen]
impl LossChart {
    #[wasm_bindgen(constructor)]
    pub fn new(epochs: usize) -> LossChart {
        LossChart {
            curves: Curves::new(epochs),
        }
    }

    /// Records a step event of the run (a [`StepEvent`]); other events and
    /// malformed ones are ignored.
    pub fn record(&mut self, #[wasm_bindgen(unchecked_param_type = "StepEvent")] event: JsValue) {
        match serde_wasm_bindgen::from_value::<StepEventIn>(event) {
            Ok(StepEventIn::Step { at, progress }) => self.curves.step(at, progress.loss),
            Ok(StepEventIn::Epoch { stats }) => {
                self.curves.epoch_end(stats.epoch, stats.valid_loss)
            }
            _ => {}
        }
    }

    /// The loss curves as a [`sketch::Drawing`] for a canvas shown as
    /// `frame` says.
    #[wasm_bindgen(unchecked_return_type = "Drawing")]
    pub fn draw(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ChartFrame")] frame: JsValue,
    ) -> Result<JsValue, JsValue> {
        self.curves.draw(frame)
    }

    /// How many training steps the chart holds.
    #[wasm_bindgen(getter)]
    pub fn recorded_steps(&self) -> usize {
        self.curves.train.len()
    }
}

/// The fields of a [`StepEvent`] the chart reads back.
#[derive(serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum StepEventIn {
    Step { at: f64, progress: LossIn },
    Epoch { stats: EpochIn },
    Finished,
}

#[derive(serde::Deserialize)]
struct LossIn {
    loss: f64,
}

#[derive(serde::Deserialize)]
struct EpochIn {
    epoch: usize,
    valid_loss: Option<f64>,
}

/// What a checkpoint needs besides the weights: the model's configuration
/// and metadata.
enum CheckpointSpec {
    Denoise(ModelSpec, serde_json::Value),
    Augment(ModelSpec, serde_json::Value),
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
                let _ = settings;
                let m = t.model();
                let c = m.spec().clone();
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
                CheckpointSpec::Augment(settings.model_spec(), augment::augmenter_meta(settings))
            }
            SessionKind::Anomaly { settings, .. } => CheckpointSpec::Anomaly(
                settings.clone(),
                serde_json::json!({ "model": settings.model_name(), "trained_in": "browser" }),
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
            curves: Rc::new(RefCell::new(Curves::new(epochs))),
            checkpoint: Rc::new(RefCell::new(None)),
            fresh: Rc::new(std::cell::Cell::new(false)),
            checkpoint_at: Rc::new(std::cell::Cell::new(js_sys::Date::now())),
            checkpoint_every: Rc::new(std::cell::Cell::new(CHECKPOINT_EVERY_MS)),
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

    /// The last checkpoint if it is newer than the one this gave last time,
    /// else `undefined`: the compute worker passes each one to the page,
    /// which denoises with it while the run goes on.
    pub fn fresh_checkpoint(&self) -> Option<Uint8Array> {
        if !self.fresh.replace(false) {
            return None;
        }
        self.checkpoint()
    }

    /// Takes a checkpoint every `ms` milliseconds (at least
    /// [`CHECKPOINT_MIN_MS`]) besides each epoch's end.
    pub fn set_checkpoint_every(&self, ms: f64) {
        let ms = if ms.is_finite() {
            ms
        } else {
            CHECKPOINT_EVERY_MS
        };
        self.checkpoint_every.set(ms.max(CHECKPOINT_MIN_MS));
    }

    /// Does one step; resolves to a [`StepEvent`]. Rejects with an error
    /// whose `kind` says why when training fails or is cancelled.
    #[wasm_bindgen(unchecked_return_type = "Promise<StepEvent>")]
    pub fn step(&self) -> Promise {
        let cell = self.trainer.clone();
        let curves = self.curves.clone();
        let spec = self.checkpoint_spec.clone();
        let (ck, ck_at, fresh) = (
            self.checkpoint.clone(),
            self.checkpoint_at.clone(),
            self.fresh.clone(),
        );
        let every = self.checkpoint_every.get();
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
                Ok(Event::Step(p)) if js_sys::Date::now() - ck_at.get() > every => {
                    Some(serde_json::json!({"epoch": p.epoch, "step": p.step}))
                }
                _ => None,
            };
            if let Some(at) = at {
                ck_at.set(js_sys::Date::now());
                match trainer.checkpoint(&spec, at).await {
                    Ok(bytes) => {
                        *ck.borrow_mut() = Some(bytes);
                        fresh.set(true);
                    }
                    Err(e) => web_sys::console::warn_1(&format!("checkpoint failed: {e}").into()),
                }
            }
            *cell.borrow_mut() = Some(trainer);
            let event = result.map_err(|e| js_err_kind(ErrorKind::of(&e), e))?;
            let out = match event {
                Event::Step(p) => {
                    let at = p.epoch as f64 + p.step as f64 / p.steps_per_epoch.max(1) as f64;
                    curves.borrow_mut().step(at, p.loss as f64);
                    let fraction = p.fraction();
                    StepEvent::Step {
                        progress: p,
                        fraction,
                        at,
                    }
                }
                Event::EpochEnd(s) => {
                    curves
                        .borrow_mut()
                        .epoch_end(s.epoch, s.valid_loss.map(f64::from));
                    StepEvent::Epoch { stats: s }
                }
                Event::Finished => StepEvent::Finished,
            };
            to_js(&out)
        })
    }

    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The train (per step) and validation (per epoch) loss curves, as a
    /// [`sketch::Drawing`] for a canvas shown as `frame` says.
    #[wasm_bindgen(unchecked_return_type = "Drawing")]
    pub fn draw_chart(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ChartFrame")] frame: JsValue,
    ) -> Result<JsValue, JsValue> {
        self.curves.borrow().draw(frame)
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

/// What a step of training did (the `kind` tells which).
#[derive(serde::Serialize, tsify::Tsify)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StepEvent {
    /// A batch was trained; `at` is where, in epochs (2.5: half-way
    /// through the third), and `fraction` how much of the run is done.
    Step {
        progress: Progress,
        fraction: f64,
        at: f64,
    },
    /// An epoch ended (with its validation loss, when there is one).
    Epoch { stats: EpochStats },
    /// The last epoch ended.
    Finished,
}

/// One backend's benchmark, as `aelab bench` measures it.
#[derive(serde::Serialize, tsify::Tsify)]
pub struct BenchResult {
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
