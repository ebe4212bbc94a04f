//! The Augment tab's part of the page API: training an augmenter on a few
//! examples of one digit, sampling, decoding codes, interpolating, fooling
//! the classifier. The work is done by [`crate::labs::augment`].

use super::{
    bad_input, floats_promise, from_js, js_err, to_js, AnyTrainer, Session, SessionKind,
    TrainSession,
};
use crate::figure;
use crate::infer;
use crate::labs::augment::{
    self, AugmentChoices, AugmentSettings, Augmenter, Interpolation, Reference,
};
use crate::models::spec::{legacy, Purpose};
use crate::models::{record, Net};
use js_sys::{Float32Array, Object, Promise, Reflect, Uint8Array};
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

/// The Augment tab's handle on a session (`lab.augment()`).
#[wasm_bindgen]
pub struct AugmentLab {
    pub(super) s: Rc<Session>,
}

/// What the Augment form sends: the digit, the number of its examples and
/// the seed, with any [`AugmentChoices`].
#[derive(serde::Deserialize, tsify::Tsify)]
pub struct AugmentTrainInput {
    digit: u8,
    examples: usize,
    #[serde(default)]
    seed: Option<u64>,
    /// Unset fields take [`AugmentSettings::quick`]'s values.
    #[serde(flatten)]
    choices: AugmentChoices,
}

/// What the page gets back from the calls that make pictures and numbers
/// at once: `{result, images}`, the images as one Float32Array.
fn with_images(result: &impl serde::Serialize, images: &[f32]) -> Result<JsValue, JsValue> {
    let o = Object::new();
    Reflect::set(&o, &"result".into(), &to_js(result)?)?;
    Reflect::set(&o, &"images".into(), &Float32Array::from(images).into())?;
    Ok(o.into())
}

#[wasm_bindgen(typescript_custom_section)]
const WITH_IMAGES: &str = r#"
/** A result with the images it describes (n·784 floats). */
export interface WithImages<T> {
    result: T;
    images: Float32Array;
}
"#;

/// An augmenter, as the page shows it: its class, training codes and the
/// Gaussian fitted to them.
#[derive(serde::Serialize, tsify::Tsify)]
pub struct AugmenterInfo {
    digit: u8,
    examples: usize,
    latent: usize,
    /// The training examples' codes, `examples × latent`.
    codes: Vec<f32>,
    mean: Vec<f64>,
    std: Vec<f64>,
}

/// A sampled grid: how the classifier judged it, each digit's verdict and
/// the codes it was decoded from.
#[derive(serde::Serialize, tsify::Tsify)]
pub struct Sampled {
    judged: augment::Judged,
    verdicts: Vec<infer::Verdict>,
    codes: Vec<f32>,
}

#[wasm_bindgen]
impl AugmentLab {
    /// The `examples` training images of `digit` that a run with `seed`
    /// trains on (n·784 floats), to show before training.
    pub fn examples(&self, digit: u8, examples: usize, seed: u64) -> Result<Float32Array, JsValue> {
        let train = self.s.train()?;
        let chosen = augment::choose_examples(&train, digit, examples, seed).map_err(js_err)?;
        Ok(Float32Array::from(train.batch_f32(&chosen).as_slice()))
    }

    /// Prepares training an augmenter on [`AugmentSettings::quick`] with the
    /// form's choices.
    pub fn start_training(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AugmentTrainInput")] config: JsValue,
    ) -> Result<TrainSession, JsValue> {
        let c: AugmentTrainInput = from_js(config, "augmentation settings")?;
        let train = self.s.train()?;
        let test = self.s.test()?;
        if c.examples > 6000 {
            return Err(bad_input("train on at most 6000 examples of one digit"));
        }
        let settings = c
            .choices
            .apply(AugmentSettings::quick(
                c.digit,
                c.examples,
                c.seed.unwrap_or(1),
            ))
            .map_err(bad_input)?;
        let (trainer, chosen) =
            augment::trainer(&train, &test, &settings, &self.s.device).map_err(bad_input)?;
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
    /// its [`AugmenterInfo`].
    #[wasm_bindgen(unchecked_return_type = "Promise<AugmenterInfo>")]
    pub fn adopt(&self, session: &TrainSession) -> Result<Promise, JsValue> {
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
    /// Resolves like `adopt`.
    #[wasm_bindgen(unchecked_return_type = "Promise<AugmenterInfo>")]
    pub fn load(&self, bytes: &[u8]) -> Result<Promise, JsValue> {
        let (model, _spec, meta) =
            legacy::load(bytes, &self.s.device, Purpose::Augment).map_err(js_err)?;
        let settings: AugmentSettings = serde_json::from_value(meta["settings"].clone())
            .map_err(|e| js_err(format!("the file's settings are unreadable: {e}")))?;
        let train = self.s.train()?;
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

impl AugmentLab {
    /// Makes `model` the lab's augmenter: encodes the examples, fits the
    /// Gaussian and finds the reference digits.
    fn install_augmenter(
        &self,
        model: Net,
        settings: AugmentSettings,
        examples: Vec<f32>,
    ) -> Result<Promise, JsValue> {
        let (device, state) = (self.s.device.clone(), self.s.augment.clone());
        let (classifier, test) = (self.s.classifier()?, self.s.test()?);
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
            let info = AugmenterInfo::of(&aug, &settings);
            let mut st = state.borrow_mut();
            st.aug = Some(Rc::new(aug));
            st.settings = Some(settings);
            st.reference = Some(reference);
            st.last = None;
            to_js(&info)
        }))
    }
}

#[wasm_bindgen]
impl AugmentLab {
    fn augmenter(&self) -> Result<Rc<Augmenter>, JsValue> {
        self.s
            .augment
            .borrow()
            .aug
            .clone()
            .ok_or_else(|| js_err("train an augmenter first"))
    }

    /// Samples `n` digits from the Gaussian fitted to the training codes,
    /// judges them and measures their diversity.
    #[wasm_bindgen(unchecked_return_type = "Promise<WithImages<Sampled>>")]
    pub fn sample(&self, n: usize, seed: u64) -> Result<Promise, JsValue> {
        if !(2..=1000).contains(&n) {
            return Err(js_err("sample between 2 and 1000 digits"));
        }
        let aug = self.augmenter()?;
        let classifier = self.s.classifier()?;
        let (device, state) = (self.s.device.clone(), self.s.augment.clone());
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
            state.borrow_mut().last = Some((images.clone(), judged.verdicts.clone()));
            let verdicts = judged.verdicts.clone();
            with_images(
                &Sampled {
                    judged,
                    verdicts,
                    codes,
                },
                &images,
            )
        }))
    }

    /// Decodes codes (n·latent floats) to images (n·784), for the sliders
    /// and the latent plane.
    #[wasm_bindgen(unchecked_return_type = "Promise<Float32Array>")]
    pub fn decode(&self, codes: Vec<f32>) -> Result<Promise, JsValue> {
        let aug = self.augmenter()?;
        let device = self.s.device.clone();
        Ok(floats_promise(
            async move { aug.decode(&codes, &device).await },
        ))
    }

    /// `n` variations of `code`: Gaussian noise of `scale` × each
    /// dimension's spread in the training codes. Resolves to n·784 floats.
    #[wasm_bindgen(unchecked_return_type = "Promise<Float32Array>")]
    pub fn perturb(
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
        let device = self.s.device.clone();
        Ok(floats_promise(
            async move { aug.decode(&codes, &device).await },
        ))
    }

    /// `steps` images from training example `a` to example `b`, linear or
    /// spherical (`how` is "linear" or "spherical").
    #[wasm_bindgen(unchecked_return_type = "Promise<Float32Array>")]
    pub fn interpolate(
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
        let device = self.s.device.clone();
        Ok(floats_promise(
            async move { aug.decode(&codes, &device).await },
        ))
    }

    /// Walks from training example `start` (or from `code`, when given)
    /// until the classifier no longer recognises the digit. Resolves to the
    /// path (codes, verdicts, distances) and the decoded digit at each
    /// point.
    #[wasm_bindgen(unchecked_return_type = "Promise<WithImages<FoolResult>>")]
    pub fn fool(&self, start: usize, code: Option<Vec<f32>>) -> Result<Promise, JsValue> {
        let aug = self.augmenter()?;
        let classifier = self.s.classifier()?;
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
        let device = self.s.device.clone();
        Ok(future_to_promise(async move {
            let r = augment::fool(&aug, &classifier, &start_code, 0.05, 400, &device)
                .await
                .map_err(js_err)?;
            let codes: Vec<f32> = r.path.iter().flat_map(|p| p.code.iter().copied()).collect();
            let images = aug.decode(&codes, &device).await.map_err(js_err)?;
            with_images(&r, &images)
        }))
    }

    /// The last sampled grid with verdicts (the PNG export), `cols` digits
    /// per row, as a [`super::sketch::Drawing`] for the page to paint.
    #[wasm_bindgen(unchecked_return_type = "Drawing")]
    pub fn draw_grid(&self, cols: usize) -> Result<JsValue, JsValue> {
        let st = self.s.augment.borrow();
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
        super::figure_drawing(figure::augment_figure_size(&panels, cols), |root| {
            figure::draw_augment_figure_on(
                root,
                &panels,
                cols,
                "aelab: generated digits and the classifier's verdicts",
            )
        })
    }

    /// The current augmenter as a weights file; resolves to a Uint8Array.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array<ArrayBuffer>>")]
    pub fn bytes(&self) -> Result<Promise, JsValue> {
        let aug = self.augmenter()?;
        let s = self
            .s
            .augment
            .borrow()
            .settings
            .clone()
            .ok_or_else(|| js_err("train an augmenter first"))?;
        let meta = augmenter_meta(&s);
        let model = aug.model.clone();
        Ok(future_to_promise(async move {
            let bytes = record::to_bytes_async(&model, &model.spec().clone(), meta)
                .await
                .map_err(js_err)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        }))
    }

    /// Whether an augmenter is trained or loaded.
    #[wasm_bindgen(getter)]
    pub fn has_model(&self) -> bool {
        self.s.augment.borrow().aug.is_some()
    }
}

/// The metadata of an augmenter weights file: `AugmentLab::load` reads the
/// settings back to pick the same training examples.
pub(super) fn augmenter_meta(s: &AugmentSettings) -> serde_json::Value {
    serde_json::json!({"digit": s.digit, "examples": s.examples, "settings": s, "trained_in": "browser"})
}

/// Copies the augmentation state to another lab session, but not the model:
/// its tensors live on the old session's device, which may be a lost GPU.
/// The page reloads it from its weights file with `AugmentLab::load`.
pub(super) fn move_state(from: &AugmentState, to: &mut AugmentState) {
    to.aug = None;
    to.settings = from.settings.clone();
    to.reference = from.reference.clone();
    to.last = from.last.clone();
}

impl AugmenterInfo {
    fn of(aug: &Augmenter, s: &AugmentSettings) -> Self {
        AugmenterInfo {
            digit: s.digit,
            examples: s.examples,
            latent: aug.latent(),
            codes: aug.codes.clone(),
            mean: aug.fit.mean.clone(),
            std: aug.fit.std(),
        }
    }
}
