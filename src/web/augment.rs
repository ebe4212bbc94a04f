//! The Augment tab's part of the page API: training an augmenter on a few
//! examples of one digit, sampling, decoding codes, interpolating, fooling
//! the classifier. The work is done by [`crate::labs::augment`].

use super::{bad_input, js_err, AnyTrainer, Lab, SessionKind, TrainSession};
use crate::figure;
use crate::infer;
use crate::labs::augment::{
    self, AugmentChoices, AugmentSettings, Augmenter, Interpolation, Reference,
};
use crate::models::{record, LatentAe};
use js_sys::{Float32Array, Object, Promise, Reflect, Uint8Array};
use plotters::prelude::IntoDrawingArea;
use plotters_canvas::CanvasBackend;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// The lab's augmentation state, shared with the promises that use it.
#[derive(Default)]
pub(super) struct AugmentState {
    aug: Option<Rc<Augmenter>>,
    settings: Option<AugmentSettings>,
    /// The real test digits of the augmenter's class, with features.
    reference: Option<Rc<Reference>>,
    /// The last sampled digits and their verdicts, for the PNG export.
    last: Option<(Vec<f32>, Vec<infer::Verdict>)>,
}

#[derive(serde::Deserialize)]
struct WebAugmentConfig {
    digit: u8,
    examples: usize,
    seed: Option<u64>,
    /// Unset fields take [`AugmentSettings::quick`]'s values.
    #[serde(flatten)]
    choices: AugmentChoices,
}

/// `{json, images}`: what the page gets back from the calls that make
/// pictures and numbers at once.
fn with_images(json: &impl serde::Serialize, images: &[f32]) -> Result<JsValue, JsValue> {
    let o = Object::new();
    let text = serde_json::to_string(json).map_err(js_err)?;
    Reflect::set(&o, &"json".into(), &text.into())?;
    Reflect::set(&o, &"images".into(), &Float32Array::from(images).into())?;
    Ok(o.into())
}

#[wasm_bindgen]
impl Lab {
    /// The `examples` training images of `digit` that a run with `seed`
    /// trains on (n·784 floats), to show before training.
    pub fn augment_examples(
        &self,
        digit: u8,
        examples: usize,
        seed: u64,
    ) -> Result<Float32Array, JsValue> {
        let train = self
            .train
            .clone()
            .ok_or_else(|| js_err("the MNIST training set is not loaded yet"))?;
        let chosen = augment::choose_examples(&train, digit, examples, seed).map_err(js_err)?;
        Ok(Float32Array::from(train.batch_f32(&chosen).as_slice()))
    }

    /// Prepares training an augmenter. `config` is JSON: `{digit, examples,
    /// latent, epochs, batch_size, learning_rate, seed}`.
    pub fn start_augment(&self, config: &str) -> Result<TrainSession, JsValue> {
        let c: WebAugmentConfig = serde_json::from_str(config)
            .map_err(|e| bad_input(format!("bad augmentation settings: {e}")))?;
        let train = self
            .train
            .clone()
            .ok_or_else(|| js_err("the MNIST training set is not loaded yet"))?;
        let test = self.test()?;
        if c.examples > 6000 {
            return Err(bad_input("train on at most 6000 examples of one digit"));
        }
        let settings = c.choices.apply(AugmentSettings::quick(
            c.digit,
            c.examples,
            c.seed.unwrap_or(1),
        ));
        let (trainer, chosen) =
            augment::trainer(&train, &test, &settings, &self.device).map_err(bad_input)?;
        let cancel = trainer.cancel_token();
        let epochs = settings.train.epochs;
        Ok(TrainSession::new(
            AnyTrainer::Augment(trainer),
            cancel,
            SessionKind::Augment {
                settings,
                examples: train.batch_f32(&chosen),
            },
            epochs,
        ))
    }

    /// Makes a (finished or cancelled-but-stepped) session's model the lab's
    /// augmenter: encodes the examples and fits the Gaussian. Resolves to
    /// the JSON `{digit, examples, latent, codes, mean, std}`.
    pub fn adopt_augmenter(&self, session: &TrainSession) -> Result<Promise, JsValue> {
        let guard = session.trainer.borrow();
        let (Some(AnyTrainer::Augment(trainer)), SessionKind::Augment { settings, examples }) =
            (guard.as_ref(), &session.kind)
        else {
            return Err(js_err(
                "this session is still running a step, or it does not train an augmenter",
            ));
        };
        let model = trainer.model();
        self.install_augmenter(model, settings.clone(), examples.clone())
    }

    /// Loads an augmenter weights file (one this page saved or downloaded):
    /// the model, with the settings in its metadata, which pick the same
    /// training examples again. Needs the MNIST training and test sets.
    /// Resolves like `adopt_augmenter`.
    pub fn load_augmenter(&self, bytes: &[u8]) -> Result<Promise, JsValue> {
        let (model, _config, meta) =
            record::from_bytes::<LatentAe>(bytes, &self.device).map_err(js_err)?;
        let settings: AugmentSettings = serde_json::from_value(meta["settings"].clone())
            .map_err(|e| js_err(format!("the file's settings are unreadable: {e}")))?;
        let train = self
            .train
            .clone()
            .ok_or_else(|| js_err("the MNIST training set is not loaded yet"))?;
        let chosen = augment::choose_examples(
            &train,
            settings.digit,
            settings.examples,
            settings.train.seed,
        )
        .map_err(js_err)?;
        self.install_augmenter(model, settings, train.batch_f32(&chosen))
    }
}

impl Lab {
    /// Makes `model` the lab's augmenter: encodes the examples, fits the
    /// Gaussian and finds the reference digits.
    fn install_augmenter(
        &self,
        model: LatentAe,
        settings: AugmentSettings,
        examples: Vec<f32>,
    ) -> Result<Promise, JsValue> {
        let (device, state) = (self.device.clone(), self.augment.clone());
        let (classifier, test) = (self.classifier()?, self.test()?);
        Ok(future_to_promise(async move {
            let aug = Augmenter::new(model, settings.digit, examples, &device)
                .await
                .map_err(js_err)?;
            let keep = state.borrow().reference.clone();
            let reference = match keep {
                Some(r) if r.digit == settings.digit => r,
                _ => Rc::new(
                    Reference::new(&test, settings.digit, &classifier, &device)
                        .await
                        .map_err(js_err)?,
                ),
            };
            let info = info_json(&aug, &settings);
            let mut st = state.borrow_mut();
            st.aug = Some(Rc::new(aug));
            st.settings = Some(settings);
            st.reference = Some(reference);
            st.last = None;
            Ok(JsValue::from(info.to_string()))
        }))
    }
}

#[wasm_bindgen]
impl Lab {
    fn augmenter(&self) -> Result<Rc<Augmenter>, JsValue> {
        self.augment
            .borrow()
            .aug
            .clone()
            .ok_or_else(|| js_err("train an augmenter first"))
    }

    /// Samples `n` digits from the Gaussian fitted to the training codes,
    /// judges them and measures their diversity. Resolves to `{json,
    /// images}`: the JSON has `recognised_rate`, `mean_confidence`,
    /// `diversity`, `verdicts` and `codes`.
    pub fn augment_sample(&self, n: usize, seed: u64) -> Result<Promise, JsValue> {
        if !(2..=1000).contains(&n) {
            return Err(js_err("sample between 2 and 1000 digits"));
        }
        let aug = self.augmenter()?;
        let classifier = self.classifier()?;
        let (device, state) = (self.device.clone(), self.augment.clone());
        let reference = state
            .borrow()
            .reference
            .clone()
            .ok_or_else(|| js_err("train an augmenter first"))?;
        Ok(future_to_promise(async move {
            let codes = augment::sample_codes(&aug, n, seed);
            let images = aug.decode(&codes, &device).await.map_err(js_err)?;
            let judged = augment::judge(&images, &aug.examples, &reference, &classifier, &device)
                .await
                .map_err(js_err)?;
            let json = serde_json::json!({
                "judged": judged,
                "verdicts": judged.verdicts,
                "codes": codes,
            });
            state.borrow_mut().last = Some((images.clone(), judged.verdicts.clone()));
            with_images(&json, &images)
        }))
    }

    /// Decodes codes (n·latent floats) to images (n·784), for the sliders
    /// and the latent plane.
    pub fn augment_decode(&self, codes: Vec<f32>) -> Result<Promise, JsValue> {
        let aug = self.augmenter()?;
        let device = self.device.clone();
        Ok(super::floats_promise(async move {
            aug.decode(&codes, &device).await
        }))
    }

    /// `n` variations of `code`: Gaussian noise of `scale` × each
    /// dimension's spread in the training codes. Resolves to n·784 floats.
    pub fn augment_perturb(
        &self,
        code: Vec<f32>,
        scale: f32,
        n: usize,
        seed: u64,
    ) -> Result<Promise, JsValue> {
        let aug = self.augmenter()?;
        if code.len() != aug.latent() {
            return Err(js_err(format!(
                "the code must have {} values",
                aug.latent()
            )));
        }
        if !(scale.is_finite() && scale >= 0.0) {
            return Err(js_err("the noise scale must be a number ≥ 0"));
        }
        let mut rng = crate::rng::Rng::new(seed);
        let codes = augment::perturb(&code, &aug.fit.std(), scale, n.clamp(1, 100), &mut rng);
        let device = self.device.clone();
        Ok(super::floats_promise(async move {
            aug.decode(&codes, &device).await
        }))
    }

    /// `steps` images from training example `a` to example `b`, linear or
    /// spherical (`how` is "linear" or "spherical").
    pub fn augment_interpolate(
        &self,
        a: usize,
        b: usize,
        steps: usize,
        how: &str,
    ) -> Result<Promise, JsValue> {
        let aug = self.augmenter()?;
        let how = Interpolation::parse(how).map_err(js_err)?;
        let n = aug.examples.len() / crate::data::PIXELS;
        if a >= n || b >= n {
            return Err(js_err(format!("pick training examples 0 to {}", n - 1)));
        }
        let codes = augment::interpolate(aug.code(a), aug.code(b), steps.clamp(2, 64), how);
        let device = self.device.clone();
        Ok(super::floats_promise(async move {
            aug.decode(&codes, &device).await
        }))
    }

    /// Walks from training example `start` (or from `code`, when given)
    /// until the classifier no longer recognises the digit. Resolves to
    /// `{json, images}`: the path (codes, verdicts, distances) and the
    /// decoded digit at each point.
    pub fn augment_fool(&self, start: usize, code: Option<Vec<f32>>) -> Result<Promise, JsValue> {
        let aug = self.augmenter()?;
        let classifier = self.classifier()?;
        let start_code = match code {
            Some(c) => c,
            None => {
                let n = aug.examples.len() / crate::data::PIXELS;
                if start >= n {
                    return Err(js_err(format!("pick a training example 0 to {}", n - 1)));
                }
                aug.code(start).to_vec()
            }
        };
        let device = self.device.clone();
        Ok(future_to_promise(async move {
            let r = augment::fool(&aug, &classifier, &start_code, 0.05, 400, &device)
                .await
                .map_err(js_err)?;
            let codes: Vec<f32> = r.path.iter().flat_map(|p| p.code.iter().copied()).collect();
            let images = aug.decode(&codes, &device).await.map_err(js_err)?;
            with_images(&r, &images)
        }))
    }

    /// Draws the last sampled grid with verdicts on `canvas` (the PNG
    /// export), `cols` digits per row.
    pub fn augment_draw_grid(
        &self,
        canvas: web_sys::HtmlCanvasElement,
        cols: usize,
    ) -> Result<(), JsValue> {
        let st = self.augment.borrow();
        let (images, verdicts) = st
            .last
            .clone()
            .ok_or_else(|| js_err("sample some digits first"))?;
        let s = st
            .settings
            .as_ref()
            .ok_or_else(|| js_err("train an augmenter first"))?;
        let panel = figure::AugmentPanel {
            title: format!(
                "{} examples of {}, d = {}: {:.0} % recognised",
                s.examples,
                s.digit,
                s.latent,
                100.0 * verdicts.iter().filter(|v| v.digit == s.digit).count() as f64
                    / verdicts.len().max(1) as f64
            ),
            images,
            verdicts,
            digit: s.digit,
        };
        let panels = [panel];
        let (w, h) = figure::augment_figure_size(&panels, cols);
        canvas.set_width(w);
        canvas.set_height(h);
        let root = CanvasBackend::with_canvas_object(canvas)
            .ok_or_else(|| js_err("the canvas has no 2D context"))?
            .into_drawing_area();
        figure::draw_augment_figure_on(
            &root,
            &panels,
            cols,
            "aelab: generated digits and the classifier's verdicts",
        )
        .map_err(js_err)
    }

    /// The current augmenter as a weights file; resolves to a Uint8Array.
    pub fn augmenter_bytes(&self) -> Result<Promise, JsValue> {
        let aug = self.augmenter()?;
        let s = self
            .augment
            .borrow()
            .settings
            .clone()
            .ok_or_else(|| js_err("train an augmenter first"))?;
        let meta = augmenter_meta(&s);
        let model = aug.model.clone();
        Ok(future_to_promise(async move {
            let bytes = record::to_bytes_async(&model, &s.model_config(), meta)
                .await
                .map_err(js_err)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        }))
    }

    /// Whether an augmenter is trained or loaded.
    #[wasm_bindgen(getter)]
    pub fn has_augmenter(&self) -> bool {
        self.augment.borrow().aug.is_some()
    }
}

/// The metadata of an augmenter weights file: `load_augmenter` reads the
/// settings back to pick the same training examples.
pub(super) fn augmenter_meta(s: &AugmentSettings) -> serde_json::Value {
    serde_json::json!({"digit": s.digit, "examples": s.examples, "settings": s, "trained_in": "browser"})
}

/// Copies the augmentation state to another lab session, but not the model:
/// its tensors live on the old session's device, which may be a lost GPU.
/// The page reloads it from its weights file with `load_augmenter`.
pub(super) fn move_state(from: &AugmentState, to: &mut AugmentState) {
    to.aug = None;
    to.settings = from.settings.clone();
    to.reference = from.reference.clone();
    to.last = from.last.clone();
}

fn info_json(aug: &Augmenter, s: &AugmentSettings) -> serde_json::Value {
    serde_json::json!({
        "digit": s.digit,
        "examples": s.examples,
        "latent": aug.latent(),
        "codes": aug.codes,
        "mean": aug.fit.mean,
        "std": aug.fit.std(),
    })
}
