//! The Denoise tab's part of the page API: the denoiser, denoising, the
//! report figure and its evaluation, and training. The work is done by
//! [`crate::labs::denoise`].

use super::{
    bad_input, floats_promise, from_js, js_err, typed_promise, AnyTrainer, Session, SessionKind,
    TrainSession,
};
use crate::figure;
use crate::infer;
use crate::labs::denoise::{self, DenoiseSettings, NoiseSpec, EVAL_SEED, REPORT_LEVELS};
use crate::models::spec::{legacy, Purpose};
use crate::models::{record, DenoiserConfig, ModelSpec, Net};
use crate::training::TrainConfig;
use burn::module::Module;
use js_sys::{Promise, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(typescript_custom_section)]
const PIPELINE_TS: &str = r#"
/** The pad's pipeline on one digit (DenoiseLab.pipeline): 784 floats each, and 30 probabilities (input, noisy, denoised). */
export interface Pipeline { input: Float32Array; noisy: Float32Array; denoised: Float32Array; probs: Float32Array }
"#;

/// The Denoise tab's handle on a session (`lab.denoise()`).
#[wasm_bindgen]
pub struct DenoiseLab {
    pub(super) s: Rc<Session>,
}

/// What the Train form sends: the page's choices, on top of
/// [`DenoiseSettings::quick`].
#[derive(serde::Deserialize, tsify::Tsify)]
pub struct DenoiseTrainInput {
    images: usize,
    epochs: usize,
    batch_size: usize,
    learning_rate: f64,
    noise_min: f32,
    noise_max: f32,
    /// A fresh model (else the current one is fine-tuned).
    #[serde(default)]
    from_scratch: bool,
    /// The architecture of a fresh model (default: canonical).
    #[serde(default)]
    kind: Option<DenoiserChoice>,
    #[serde(default = "one")]
    seed: u64,
    /// A designed model to train from scratch, as its spec's JSON text
    /// (the designer's); `kind` then does not apply.
    #[serde(default)]
    spec: Option<String>,
}

/// The architectures the form offers, by the names it uses.
#[derive(serde::Deserialize, tsify::Tsify)]
#[serde(rename_all = "lowercase")]
pub enum DenoiserChoice {
    Canonical,
    Skip,
}

fn one() -> u64 {
    1
}

/// The current denoiser, as the page describes it.
#[derive(serde::Serialize, tsify::Tsify)]
pub struct DenoiserInfo {
    /// The model's name ("Skip denoiser", or a designed model's).
    name: String,
    params: usize,
    layers: usize,
    /// `"browser"` for a model trained in the page; unset for the shipped
    /// one and for files from the CLI.
    trained_in: Option<String>,
    /// The images and epochs of a training in the page.
    images: Option<usize>,
    epochs: Option<usize>,
    /// Where a checkpoint was taken, when the model is one.
    checkpoint: Option<CheckpointAt>,
}

/// The epoch (0-based) and step (0 at an epoch's end) of a checkpoint.
#[derive(serde::Serialize, serde::Deserialize, tsify::Tsify)]
pub struct CheckpointAt {
    pub epoch: usize,
    pub step: usize,
}

impl DenoiserInfo {
    fn of(c: &ModelSpec, meta: &serde_json::Value) -> Self {
        let usize_at = |k: &str| meta.get(k).and_then(|v| v.as_u64()).map(|v| v as usize);
        DenoiserInfo {
            name: if c.name.is_empty() {
                "designed model".into()
            } else {
                c.name.clone()
            },
            params: c.summary().map(|s| s.total_params).unwrap_or(0),
            layers: c.layers.len(),
            trained_in: meta
                .get("trained_in")
                .and_then(|v| v.as_str())
                .map(String::from),
            images: usize_at("images"),
            epochs: usize_at("epochs"),
            checkpoint: meta
                .get("checkpoint")
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
        }
    }
}

impl DenoiseLab {
    fn model(&self) -> Result<Net, JsValue> {
        self.s
            .denoiser
            .borrow()
            .as_ref()
            .map(|d| d.0.clone())
            .ok_or_else(|| js_err("no denoiser is loaded"))
    }

    /// What denoises now: the preview while one is set, else the current
    /// denoiser.
    fn denoising_model(&self) -> Result<Net, JsValue> {
        let preview = self.s.preview.borrow().clone();
        match preview {
            Some(m) => Ok(m),
            None => self.model(),
        }
    }
}

/// The pad's pipeline on one digit: `input` with its noise, denoised by
/// `model`, and `classifier`'s probabilities of the three, as a [`Pipeline`]
/// object.
async fn pipeline_on(
    (model, classifier, device): (Net, crate::models::Classifier, burn::tensor::Device),
    input: Vec<f32>,
    factor: f32,
    seed: u64,
) -> Result<JsValue, JsValue> {
    let noisy = denoise::add_noise(&input, factor, &mut crate::rng::Rng::new(seed));
    let denoised = infer::denoise(&model, &noisy, &device)
        .await
        .map_err(js_err)?;
    let all: Vec<f32> = [&input[..], &noisy, &denoised].concat();
    let probs = infer::probabilities(&classifier, &all, &device)
        .await
        .map_err(js_err)?;
    let out = js_sys::Object::new();
    for (k, v) in [
        ("input", &input),
        ("noisy", &noisy),
        ("denoised", &denoised),
        ("probs", &probs),
    ] {
        js_sys::Reflect::set(&out, &k.into(), &js_sys::Float32Array::from(v.as_slice()))?;
    }
    Ok(out.into())
}

#[wasm_bindgen]
impl DenoiseLab {
    /// Every layer of the denoiser (the preview while one is set) on one
    /// image of 784 values: the maps of the page's "see inside" view.
    #[wasm_bindgen(unchecked_return_type = "Promise<Inside>")]
    pub fn inside(&self, image: Vec<f32>) -> Result<Promise, JsValue> {
        let model = self.denoising_model()?;
        let device = self.s.device.clone();
        Ok(typed_promise(async move {
            infer::inside(&model, &image, &device).await
        }))
    }

    /// Loads a denoiser weights file; a wrong or corrupt file is an error
    /// with a message, and the current model stays.
    pub fn load(&self, bytes: &[u8]) -> Result<(), JsValue> {
        let loaded = legacy::load(bytes, &self.s.device, Purpose::Denoise).map_err(js_err)?;
        *self.s.denoiser.borrow_mut() = Some(loaded);
        Ok(())
    }

    /// The current denoiser as a weights file, for download and for the
    /// page's storage (read the async way, so this works on WebGPU too).
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array<ArrayBuffer>>")]
    pub fn bytes(&self) -> Result<Promise, JsValue> {
        let (m, c, meta) = self
            .s
            .denoiser
            .borrow()
            .clone()
            .ok_or_else(|| js_err("no denoiser is loaded"))?;
        Ok(future_to_promise(async move {
            let bytes = record::to_bytes_async(&m, &c, meta).await.map_err(js_err)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        }))
    }

    /// The current denoiser's spec, as JSON (the Report view's code and
    /// summary).
    pub fn spec_json(&self) -> Result<String, JsValue> {
        let d = self.s.denoiser.borrow();
        let (_, c, _) = d.as_ref().ok_or_else(|| js_err("no denoiser is loaded"))?;
        serde_json::to_string_pretty(c).map_err(js_err)
    }

    /// What the current denoiser is and where it came from.
    #[wasm_bindgen(unchecked_return_type = "DenoiserInfo")]
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let d = self.s.denoiser.borrow();
        let (_, c, meta) = d.as_ref().ok_or_else(|| js_err("no denoiser is loaded"))?;
        super::to_js(&DenoiserInfo::of(c, meta))
    }

    /// Denoises `n` 28×28 images (n·784 floats in [0, 1]) with the preview
    /// when one is set, else the current denoiser; resolves to a
    /// Float32Array of the same length.
    #[wasm_bindgen(unchecked_return_type = "Promise<Float32Array>")]
    pub fn run(&self, images: Vec<f32>) -> Result<Promise, JsValue> {
        let model = self.denoising_model()?;
        let device = self.s.device.clone();
        Ok(floats_promise(async move {
            infer::denoise(&model, &images, &device).await
        }))
    }

    /// The pad's pipeline in one call: `input` (784 floats) with the noise
    /// `clip(x + factor·N(0,1), 0, 1)` from `seed`, denoised as
    /// [`DenoiseLab::run`] does, and the classifier's probabilities of the
    /// three. Resolves to `{ input, noisy, denoised, probs }` (probs: 30
    /// floats: input, noisy, denoised).
    #[wasm_bindgen(unchecked_return_type = "Promise<Pipeline>")]
    pub fn pipeline(&self, input: Vec<f32>, factor: f32, seed: u64) -> Result<Promise, JsValue> {
        if input.len() != crate::data::PIXELS {
            return Err(bad_input(format!(
                "a digit is {} values, not {}",
                crate::data::PIXELS,
                input.len()
            )));
        }
        let models = self.pipeline_models()?;
        Ok(future_to_promise(pipeline_on(models, input, factor, seed)))
    }

    /// [`DenoiseLab::pipeline`] of a drawing: `ink` is `width`×`height`
    /// ink values (0–255, the pad's red channel), centred MNIST-style
    /// first (as `preprocess`). Resolves to `undefined` for a blank pad.
    #[wasm_bindgen(unchecked_return_type = "Promise<Pipeline | undefined>")]
    pub fn pipeline_drawing(
        &self,
        ink: Vec<u8>,
        width: usize,
        height: usize,
        factor: f32,
        seed: u64,
    ) -> Result<Promise, JsValue> {
        if ink.len() != width * height {
            return Err(bad_input(format!(
                "a {width}×{height} drawing is {} values, not {}",
                width * height,
                ink.len()
            )));
        }
        let models = self.pipeline_models()?;
        Ok(future_to_promise(async move {
            let pixels: Vec<f32> = ink.iter().map(|&v| v as f32 / 255.0).collect();
            match crate::data::preprocess::mnist_style(&pixels, width, height) {
                Some(input) => pipeline_on(models, input, factor, seed).await,
                None => Ok(JsValue::UNDEFINED),
            }
        }))
    }

    /// The models the pipeline runs now, and their device.
    #[allow(clippy::type_complexity)]
    fn pipeline_models(
        &self,
    ) -> Result<(Net, crate::models::Classifier, burn::tensor::Device), JsValue> {
        Ok((
            self.denoising_model()?,
            self.s.classifier()?,
            self.s.device.clone(),
        ))
    }

    /// Denoises with a checkpoint of a run that trains elsewhere (a weights
    /// file from the compute worker) until [`DenoiseLab::clear_preview`]; the
    /// current denoiser stays as it is. Returns where the checkpoint was
    /// taken. A file that is not a denoiser is an error, and the preview
    /// before it stays.
    #[wasm_bindgen(unchecked_return_type = "CheckpointAt | undefined")]
    pub fn set_preview(&self, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let (m, _, meta) = legacy::load(bytes, &self.s.device, Purpose::Denoise).map_err(js_err)?;
        *self.s.preview.borrow_mut() = Some(m);
        let at: Option<CheckpointAt> = meta
            .get("checkpoint")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        super::to_js(&at)
    }

    /// Denoises with the current denoiser again.
    pub fn clear_preview(&self) {
        *self.s.preview.borrow_mut() = None;
    }

    /// Whether a preview denoises in place of the current denoiser.
    #[wasm_bindgen(getter)]
    pub fn previewing(&self) -> bool {
        self.s.preview.borrow().is_some()
    }

    /// The evaluation of the current denoiser on the first `images` test
    /// digits at the report's levels (the report's table, without its
    /// figure: the compute worker has no canvas).
    #[wasm_bindgen(unchecked_return_type = "Promise<EvalReport>")]
    pub fn evaluate(&self, images: usize) -> Result<Promise, JsValue> {
        let (den, cls, test) = (self.model()?, self.s.classifier()?, self.s.test()?);
        let device = self.s.device.clone();
        Ok(typed_promise(async move {
            let subset = test.take(images.clamp(1, test.len()));
            denoise::evaluate(&den, &cls, &subset, &REPORT_LEVELS, EVAL_SEED, &device).await
        }))
    }

    /// The report figure (ten digits × clean, noisy, denoised × the three
    /// levels), as a [`super::sketch::Drawing`] for the page to paint. Its
    /// table is [`DenoiseLab::evaluate`], which the page runs in the
    /// compute worker where it has one.
    #[wasm_bindgen(unchecked_return_type = "Promise<Drawing>")]
    pub fn draw_report(&self) -> Result<Promise, JsValue> {
        let (den, cls, test) = (self.model()?, self.s.classifier()?, self.s.test()?);
        let device = self.s.device.clone();
        let backend = self.s.backend.clone();
        Ok(future_to_promise(async move {
            let fig = denoise::figure_data(&den, &cls, &test, &REPORT_LEVELS, EVAL_SEED, &device)
                .await
                .map_err(js_err)?;
            super::figure_drawing(figure::denoise_figure_size(REPORT_LEVELS.len()), |root| {
                figure::draw_denoise_figure_on(
                    root,
                    &fig,
                    &format!("aelab denoising report (noise seed {EVAL_SEED}, backend {backend})"),
                )
            })
        }))
    }

    /// Prepares a training run of the denoiser. Settings the core refuses
    /// are a `bad-input` error that names the setting.
    pub fn start_training(
        &self,
        #[wasm_bindgen(unchecked_param_type = "DenoiseTrainInput")] config: JsValue,
    ) -> Result<TrainSession, JsValue> {
        let c: DenoiseTrainInput = from_js(config, "training settings")?;
        let train = self.s.train()?;
        let n = c.images.min(train.len());
        let quick = DenoiseSettings::quick();
        let spec = match &c.spec {
            Some(text) => Some(ModelSpec::from_json(text).map_err(bad_input)?),
            None => None,
        };
        let settings = DenoiseSettings {
            spec,
            noise: NoiseSpec::between(c.noise_min, c.noise_max),
            images: Some(c.images),
            model: match c.kind {
                Some(DenoiserChoice::Skip) => DenoiserConfig::skip(),
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
            let model = settings.new_model(&self.s.device).map_err(bad_input)?;
            (model, settings.model_spec(), serde_json::Value::Null)
        } else {
            self.s
                .denoiser
                .borrow()
                .clone()
                .ok_or_else(|| js_err("no denoiser is loaded to fine-tune"))?
        };
        let trainer = settings
            .trainer(&train, model, &self.s.device)
            .map_err(bad_input)?;
        let cancel = trainer.cancel_token();
        let meta = serde_json::json!({
            "trained_in": "browser",
            "backend": self.s.backend,
            "images": n,
            "epochs": c.epochs,
            "noise": [c.noise_min, c.noise_max],
            "settings": settings,
            // Not null when fine-tuned (the run tables' commands say --init).
            "fine_tuned_from": if c.from_scratch || !meta.is_null() { meta } else { serde_json::json!({}) },
        });
        Ok(TrainSession::new(
            AnyTrainer::Denoise(trainer),
            cancel,
            SessionKind::Denoise { config: mcfg, meta },
            c.epochs,
        ))
    }

    /// Makes the session's current model the lab's denoiser.
    pub fn adopt(&self, session: &TrainSession) -> Result<(), JsValue> {
        let guard = session.trainer.borrow();
        let (Some(AnyTrainer::Denoise(trainer)), SessionKind::Denoise { config, meta }) =
            (guard.as_ref(), &session.kind)
        else {
            return Err(js_err(
                "this session is still running a step, or it does not train a denoiser",
            ));
        };
        let model = trainer.model().fork(&self.s.device);
        *self.s.denoiser.borrow_mut() = Some((model, config.clone(), meta.clone()));
        Ok(())
    }
}
