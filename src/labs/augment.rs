//! Exercise 2: data augmentation with a few-shot autoencoder.
//!
//! A convolutional autoencoder with a vector latent (by default the preset `latent-ae`, [`crate::models::spec::presets::latent_ae`]) is
//! trained on N examples of one digit. New digits are decoded from chosen
//! codes: samples of a Gaussian fitted to the training codes, noisy copies
//! of a training code, interpolations and per-dimension edits. The
//! pre-trained classifier judges them, [`crate::metrics::diversity`]
//! measures how varied they are, and [`fool`] walks through the latent
//! space until the classifier no longer sees the digit.

use crate::data::{Mnist, PIXELS};
use crate::infer::{self, images_tensor, read_f32};
use crate::metrics::argmax;
use crate::metrics::diversity::{
    fid, mean_pairwise_l2_in_turns, median, nearest_distances_in_turns, prdc, share_below,
};
use crate::metrics::linalg::{cholesky, mean_cov};
use crate::models::spec::{presets, Purpose};
use crate::models::LatentAeConfig;
use crate::models::{Classifier, ModelSpec, Net};
use crate::rng::Rng;
use crate::training::classify::shift_image;
use crate::training::Loss;
use crate::training::{Schedule, Task, TrainConfig, Trainer};
use burn::module::Module;
use burn::prelude::*;

/// The pixel comparisons of the diversity figures run in pieces of about
/// this many multiply-adds (tens of milliseconds in the page), with the
/// page's turn between them: 500 reference digits compared pairwise are
/// 10⁸, which held the page's thread for 0.2 s in one task.
const TURN_WORK: usize = 16 << 20;

/// The examples counts of the report.
pub const REPORT_EXAMPLES: [usize; 3] = [1000, 100, 10];
/// At most this many real test digits of the class are the reference of
/// the diversity figures.
pub const REFERENCE_SIZE: usize = 500;
/// k of the k-nearest-neighbour balls of precision/recall/density/coverage.
pub const PRDC_K: usize = 5;
/// A generated digit is a duplicate when it is closer to a training
/// example than this share of the median distance from a real, unseen
/// digit of the class to its nearest training example.
pub const DUPLICATE_FRACTION: f64 = 0.5;
/// Every training epoch shows at least this many (shifted) images, so that
/// 10 examples get as many updates per epoch as 1000.
pub const MIN_EPOCH_IMAGES: usize = 1000;

/// Picks `n` training examples of `digit`, the same ones for the same seed.
pub fn choose_examples(
    train: &Mnist,
    digit: u8,
    n: usize,
    seed: u64,
) -> Result<Vec<usize>, String> {
    if digit > 9 {
        return Err(format!("the digit must be 0–9, not {digit}"));
    }
    if n == 0 {
        return Err("the number of examples must be at least 1".into());
    }
    let mut of_digit: Vec<usize> = (0..train.len())
        .filter(|&i| train.labels[i] == digit)
        .collect();
    if of_digit.len() < n {
        return Err(format!(
            "only {} training examples of digit {digit} are available, fewer than {n}",
            of_digit.len()
        ));
    }
    Rng::derive(seed, 0xA06 + digit as u64).shuffle(&mut of_digit);
    of_digit.truncate(n);
    Ok(of_digit)
}

/// The first `max` images of `digit` in `set`.
pub fn of_digit(set: &Mnist, digit: u8, max: usize) -> Mnist {
    let idx: Vec<usize> = (0..set.len())
        .filter(|&i| set.labels[i] == digit)
        .take(max)
        .collect();
    set.subset(&idx)
}

/// Training the latent autoencoder on a few examples: random shifts of up
/// to `max_shift` pixels, Gaussian noise on the code (so that the decoder
/// is smooth between the codes it has seen) and a small penalty on the
/// code's size (so that the noise cannot be outgrown).
pub struct AugmentTask {
    pub train: Mnist,
    pub valid: Mnist,
    pub max_shift: i32,
    pub code_noise: f32,
    pub code_penalty: f32,
    pub loss: Loss,
}

impl AugmentTask {
    pub fn new(train: Mnist, valid: Mnist) -> Self {
        Self {
            train,
            valid,
            max_shift: 2,
            code_noise: default_code_noise(),
            code_penalty: default_code_penalty(),
            loss: Loss::Bce,
        }
    }

    fn repeats(&self) -> usize {
        MIN_EPOCH_IMAGES.div_ceil(self.train.len().max(1))
    }
}

impl Task for AugmentTask {
    type Model = Net;

    fn train_len(&self) -> usize {
        self.train.len() * self.repeats()
    }

    fn valid_len(&self) -> usize {
        self.valid.len()
    }

    fn train_loss(
        &self,
        model: &Net,
        indices: &[usize],
        rng: &mut Rng,
        device: &Device,
    ) -> Tensor<1> {
        let n = self.train.len();
        let mut px = Vec::with_capacity(indices.len() * PIXELS);
        let span = (2 * self.max_shift + 1) as usize;
        for &i in indices {
            let dx = rng.below(span) as i32 - self.max_shift;
            let dy = rng.below(span) as i32 - self.max_shift;
            shift_image(self.train.image(i % n), dx, dy, &mut px);
        }
        let x = images_tensor(&px, device);
        let z = model.encode(x.clone());
        let d = model.latent();
        let noise: Vec<f32> = (0..indices.len() * d)
            .map(|_| self.code_noise * rng.normal())
            .collect();
        let noise = Tensor::<2>::from_data(TensorData::new(noise, [indices.len(), d]), device);
        let penalty = z
            .clone()
            .powf_scalar(2.0)
            .mean()
            .mul_scalar(self.code_penalty);
        self.loss.of_logits(model.decode_logits(z + noise), x) + penalty
    }

    fn valid_loss(&self, model: &Net, indices: &[usize], device: &Device) -> Tensor<1> {
        let x = images_tensor(&self.valid.batch_f32(indices), device);
        self.loss
            .of_logits(model.decode_logits(model.encode(x.clone())), x)
    }
}

/// What a user changes from a preset ([`AugmentSettings::quick`] for the
/// page, [`AugmentSettings::report`] for the CLI); unset fields keep the
/// preset's values.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(default)]
pub struct AugmentChoices {
    pub latent: Option<usize>,
    pub width: Option<usize>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub learning_rate: Option<f64>,
    pub code_noise: Option<f32>,
    pub code_penalty: Option<f32>,
    /// A designed model, as its spec's JSON text (the designer's).
    pub spec: Option<String>,
}

impl AugmentChoices {
    /// `preset` with the chosen values in place; a designed model's spec
    /// that does not parse is an error that says why.
    pub fn apply(&self, preset: AugmentSettings) -> Result<AugmentSettings, String> {
        let mut s = preset;
        if let Some(text) = &self.spec {
            s.spec = Some(ModelSpec::from_json(text)?);
        }
        s.latent = self.latent.unwrap_or(s.latent);
        s.width = self.width.unwrap_or(s.width);
        s.code_noise = self.code_noise.unwrap_or(s.code_noise);
        s.code_penalty = self.code_penalty.unwrap_or(s.code_penalty);
        let t = &mut s.train;
        t.epochs = self.epochs.unwrap_or(t.epochs);
        t.batch_size = self.batch_size.unwrap_or(t.batch_size);
        t.learning_rate = self.learning_rate.unwrap_or(t.learning_rate);
        Ok(s)
    }
}

/// Everything that defines one augmentation run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AugmentSettings {
    pub digit: u8,
    pub examples: usize,
    pub latent: usize,
    pub width: usize,
    /// Standard deviation of the Gaussian noise added to the codes in
    /// training.
    #[serde(default = "default_code_noise")]
    pub code_noise: f32,
    /// Weight of the mean squared code in the loss.
    #[serde(default = "default_code_penalty")]
    pub code_penalty: f32,
    /// A designed model, instead of the preset (`--model spec.json`).
    #[serde(default)]
    pub spec: Option<ModelSpec>,
    pub train: TrainConfig,
}

fn default_code_noise() -> f32 {
    0.3
}

fn default_code_penalty() -> f32 {
    0.001
}

impl AugmentSettings {
    /// The defaults of the report: d = 16, width 32, code noise 0.3, code
    /// penalty 0.001, 40 epochs of at least
    /// [`MIN_EPOCH_IMAGES`] shifted images, batch 32, Adam at 2e-3 with a
    /// cosine decay.
    pub fn new(digit: u8, examples: usize, seed: u64) -> Self {
        Self::report(digit, examples, seed)
    }

    /// The report's preset (the CLI's defaults); the same as
    /// [`AugmentSettings::new`].
    pub fn report(digit: u8, examples: usize, seed: u64) -> Self {
        Self {
            digit,
            examples,
            latent: 16,
            width: 32,
            code_noise: default_code_noise(),
            code_penalty: default_code_penalty(),
            spec: None,
            train: TrainConfig {
                epochs: 40,
                batch_size: 32,
                learning_rate: 2e-3,
                schedule: Schedule::Cosine,
                seed,
                ..TrainConfig::default()
            },
        }
    }

    /// The page's preset: width 16 and 50 epochs, the cheapest setting
    /// measured to reach the report's quality in the browser (for 100
    /// examples of a 2, the median of seeds 1–3: FID 80, recall 0.65;
    /// width 16 with 40 epochs gave FID 103; docs/performance.md).
    pub fn quick(digit: u8, examples: usize, seed: u64) -> Self {
        let mut s = Self::report(digit, examples, seed);
        s.width = 16;
        s.train.epochs = 50;
        s
    }

    /// The spec of the model: the designed one, or the preset's.
    pub fn model_spec(&self) -> ModelSpec {
        self.spec.clone().unwrap_or_else(|| {
            presets::latent_ae(
                &LatentAeConfig::new()
                    .with_latent(self.latent)
                    .with_width(self.width),
            )
        })
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=256).contains(&self.latent) {
            return Err(format!(
                "the latent size must be 1–256, not {}",
                self.latent
            ));
        }
        if !(1..=128).contains(&self.width) {
            return Err(format!("the width must be 1–128, not {}", self.width));
        }
        if !(self.code_noise.is_finite() && (0.0..=10.0).contains(&self.code_noise)) {
            return Err(format!(
                "the code noise must be 0–10, not {}",
                self.code_noise
            ));
        }
        if !(self.code_penalty.is_finite() && (0.0..=10.0).contains(&self.code_penalty)) {
            return Err(format!(
                "the code penalty must be 0–10, not {}",
                self.code_penalty
            ));
        }
        let spec = self.model_spec();
        spec.check()?;
        Purpose::Augment.check(&spec)?;
        self.train.validate()
    }
}

/// Chooses the examples and prepares training: the trainer, and the chosen
/// examples as `n × 784` floats (what [`Augmenter::new`] needs at the end).
pub fn trainer(
    train: &Mnist,
    test: &Mnist,
    settings: &AugmentSettings,
    device: &Device,
) -> Result<(Trainer<AugmentTask>, Vec<usize>), String> {
    settings.validate()?;
    let chosen = choose_examples(
        train,
        settings.digit,
        settings.examples,
        settings.train.seed,
    )?;
    let mut task = AugmentTask::new(train.subset(&chosen), of_digit(test, settings.digit, 200));
    task.code_noise = settings.code_noise;
    task.code_penalty = settings.code_penalty;
    task.loss = settings.train.loss.unwrap_or(Loss::Bce);
    device.seed(settings.train.seed);
    let model = Net::build(&settings.model_spec(), device)?;
    let t = Trainer::new(task, model, settings.train.clone(), device).map_err(|e| e.to_string())?;
    Ok((t, chosen))
}

/// Generates `n` codes from the Gaussian fit, seeded.
pub fn sample_codes(aug: &Augmenter, n: usize, seed: u64) -> Vec<f32> {
    aug.fit.sample(n, 1.0, &mut Rng::derive(seed, 0x5A3))
}

/// Generates `n` codes by perturbing randomly chosen training codes with
/// noise of `scale` × each dimension's spread, seeded.
pub fn perturbed_codes(aug: &Augmenter, n: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::derive(seed, 0x9E7);
    let std = aug.fit.std();
    let count = aug.codes.len() / aug.latent();
    (0..n)
        .flat_map(|_| {
            let i = rng.below(count);
            perturb(aug.code(i), &std, scale, 1, &mut rng)
        })
        .collect()
}

/// A Gaussian fitted to codes: mean, covariance and its Cholesky factor.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GaussianFit {
    pub dim: usize,
    pub mean: Vec<f64>,
    pub cov: Vec<f64>,
    chol: Vec<f64>,
}

impl GaussianFit {
    /// Fits `codes` (rows of `dim`). With fewer codes than dimensions the
    /// covariance is singular; a ridge of 1e-3 of the mean variance makes
    /// it positive definite.
    pub fn fit(codes: &[f32], dim: usize) -> Result<Self, String> {
        if dim == 0 || codes.is_empty() || codes.len() % dim != 0 {
            return Err("no codes to fit".into());
        }
        if codes.iter().any(|v| !v.is_finite()) {
            return Err("the codes are not finite numbers".into());
        }
        let (mean, mut cov) = mean_cov(codes, dim);
        let avg_var = (0..dim).map(|i| cov[i * dim + i]).sum::<f64>() / dim as f64;
        let ridge = 1e-3 * avg_var + 1e-9;
        for i in 0..dim {
            cov[i * dim + i] += ridge;
        }
        let chol = cholesky(&cov, dim).ok_or("the codes' covariance is not positive definite")?;
        Ok(Self {
            dim,
            mean,
            cov,
            chol,
        })
    }

    /// Per-dimension standard deviations.
    pub fn std(&self) -> Vec<f64> {
        (0..self.dim)
            .map(|i| self.cov[i * self.dim + i].sqrt())
            .collect()
    }

    /// `n` codes drawn from the fit, with the spread scaled by
    /// `temperature` (1 is the fit itself).
    pub fn sample(&self, n: usize, temperature: f32, rng: &mut Rng) -> Vec<f32> {
        let d = self.dim;
        let mut out = Vec::with_capacity(n * d);
        let mut e = vec![0.0f64; d];
        for _ in 0..n {
            e.iter_mut().for_each(|v| *v = rng.normal() as f64);
            for i in 0..d {
                let mut v = self.mean[i];
                for (c, ek) in self.chol[i * d..=i * d + i].iter().zip(&e) {
                    v += temperature as f64 * c * ek;
                }
                out.push(v as f32);
            }
        }
        out
    }
}

/// `n` noisy copies of `code`: each dimension gets Gaussian noise of `scale`
/// times that dimension's spread in the training codes.
pub fn perturb(code: &[f32], std: &[f64], scale: f32, n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n)
        .flat_map(|_| {
            code.iter()
                .zip(std)
                .map(|(&c, &s)| c + scale * s as f32 * rng.normal())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// How to go from one code to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Interpolation {
    Linear,
    /// Along the great circle, with the norm interpolated linearly: stays
    /// away from the low-norm middle of the latent space.
    Spherical,
}

impl Interpolation {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "linear" | "lerp" => Ok(Self::Linear),
            "spherical" | "slerp" => Ok(Self::Spherical),
            _ => Err(format!(
                "unknown interpolation '{s}': expected linear or spherical"
            )),
        }
    }
}

pub fn lerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
}

/// Spherical interpolation of the directions, linear in the norms; falls
/// back to [`lerp`] for (anti)parallel or zero codes.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let na = a.iter().map(|v| v * v).sum::<f32>().sqrt();
    let nb = b.iter().map(|v| v * v).sum::<f32>().sqrt();
    if na < 1e-12 || nb < 1e-12 {
        return lerp(a, b, t);
    }
    let cos = (a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (na * nb)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    if omega.sin().abs() < 1e-4 {
        return lerp(a, b, t);
    }
    let (wa, wb) = (
        ((1.0 - t) * omega).sin() / omega.sin(),
        (t * omega).sin() / omega.sin(),
    );
    let norm = na + t * (nb - na);
    a.iter()
        .zip(b)
        .map(|(x, y)| norm * (wa * x / na + wb * y / nb))
        .collect()
}

/// `steps` codes from `a` to `b` inclusive.
pub fn interpolate(a: &[f32], b: &[f32], steps: usize, how: Interpolation) -> Vec<f32> {
    let steps = steps.max(2);
    (0..steps)
        .flat_map(|k| {
            let t = k as f32 / (steps - 1) as f32;
            match how {
                Interpolation::Linear => lerp(a, b, t),
                Interpolation::Spherical => slerp(a, b, t),
            }
        })
        .collect()
}

/// A copy of `code` with dimension `dim` set to `value`.
pub fn edit(code: &[f32], dim: usize, value: f32) -> Result<Vec<f32>, String> {
    if dim >= code.len() {
        return Err(format!(
            "latent dimension {dim} does not exist (the code has {})",
            code.len()
        ));
    }
    if !value.is_finite() {
        return Err("the latent value must be a finite number".into());
    }
    let mut c = code.to_vec();
    c[dim] = value;
    Ok(c)
}

fn codes_tensor(codes: &[f32], dim: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(codes.to_vec(), [codes.len() / dim, dim]),
        device,
    )
}

/// A trained augmenter: the model, the examples it saw, their codes and
/// the Gaussian fitted to them.
#[derive(Clone)]
pub struct Augmenter {
    pub model: Net,
    pub digit: u8,
    /// The training examples, `n × 784` floats.
    pub examples: Vec<f32>,
    pub codes: Vec<f32>,
    pub fit: GaussianFit,
}

impl Augmenter {
    pub async fn new(
        model: Net,
        digit: u8,
        examples: Vec<f32>,
        device: &Device,
    ) -> Result<Self, String> {
        let codes = encode(&model, &examples, device).await?;
        let fit = GaussianFit::fit(&codes, model.latent())?;
        Ok(Self {
            model,
            digit,
            examples,
            codes,
            fit,
        })
    }

    pub fn latent(&self) -> usize {
        self.fit.dim
    }

    pub fn code(&self, i: usize) -> &[f32] {
        let d = self.latent();
        &self.codes[i * d..(i + 1) * d]
    }

    pub async fn decode(&self, codes: &[f32], device: &Device) -> Result<Vec<f32>, String> {
        decode(&self.model, codes, device).await
    }
}

/// Codes of `n × 784` pixels, `n × latent` floats.
pub async fn encode(model: &Net, images: &[f32], device: &Device) -> Result<Vec<f32>, String> {
    infer::batched(images, device, |x| model.encode(x)).await
}

/// Images of `n × latent` codes.
pub async fn decode(model: &Net, codes: &[f32], device: &Device) -> Result<Vec<f32>, String> {
    let d = model.latent();
    if codes.len() % d != 0 {
        return Err(format!("codes must have {d} values each"));
    }
    if codes.iter().any(|v| !v.is_finite()) {
        return Err("the latent code is not a finite number".into());
    }
    infer::in_chunks(codes, d, device, async |chunk| {
        read_f32(model.decode(codes_tensor(chunk, d, device))).await
    })
    .await
}

/// The share of unseen real digits of the class whose reconstruction the
/// classifier still recognises: the ceiling for generated digits.
pub async fn reconstruction_rate(
    aug: &Augmenter,
    reference: &Reference,
    classifier: &Classifier,
    device: &Device,
) -> Result<f64, String> {
    let codes = encode(&aug.model, &reference.images, device).await?;
    let rec = aug.decode(&codes, device).await?;
    let v = infer::classify(classifier, &rec, device).await?;
    Ok(v.iter().filter(|v| v.digit == reference.digit).count() as f64 / v.len().max(1) as f64)
}

/// Real digits of the class, and their classifier features: what the
/// generated digits are compared with.
pub struct Reference {
    pub digit: u8,
    pub images: Vec<f32>,
    pub features: Vec<f32>,
    pub feature_dim: usize,
    /// Mean pairwise L2 distance of the real images.
    pub pairwise_l2: f64,
}

impl Reference {
    pub async fn new(
        test: &Mnist,
        digit: u8,
        classifier: &Classifier,
        device: &Device,
    ) -> Result<Self, String> {
        let set = of_digit(test, digit, REFERENCE_SIZE);
        if set.len() < 2 * PRDC_K {
            return Err(format!(
                "too few test digits of class {digit} for a reference"
            ));
        }
        let images = set.batch_f32(&(0..set.len()).collect::<Vec<_>>());
        let features = infer::features(classifier, &images, device).await?;
        let feature_dim = features.len() / set.len();
        let pairwise_l2 = mean_pairwise_l2_in_turns(&images, PIXELS, TURN_WORK, page_turn).await;
        Ok(Self {
            digit,
            images,
            features,
            feature_dim,
            pairwise_l2,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Diversity {
    pub pairwise_l2_ratio: f64,
    pub fid: f64,
    pub precision: f64,
    pub recall: f64,
    pub density: f64,
    pub coverage: f64,
    pub duplicate_rate: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Judged {
    pub digit: u8,
    pub examples: usize,
    pub samples: usize,
    /// Share of generated digits the classifier calls `digit`.
    pub recognised_rate: f64,
    /// Mean probability the classifier gives `digit`.
    pub mean_confidence: f64,
    pub diversity: Diversity,
    /// The verdict on each generated digit: (class, confidence).
    #[serde(skip)]
    pub verdicts: Vec<infer::Verdict>,
}

/// The page's turn between pieces of the diversity figures (nothing natively).
async fn page_turn() {
    crate::platform::yield_now().await
}

/// Judges generated digits: the classifier's verdicts, and their diversity
/// against the real reference and the training examples.
pub async fn judge(
    generated: &[f32],
    examples: &[f32],
    reference: &Reference,
    classifier: &Classifier,
    device: &Device,
) -> Result<Judged, String> {
    let n = generated.len() / PIXELS;
    if n == 0 {
        return Err("nothing was generated".into());
    }
    let digit = reference.digit;
    let probs = infer::probabilities(classifier, generated, device).await?;
    let verdicts: Vec<infer::Verdict> = probs
        .chunks(10)
        .map(|row| {
            let d = argmax(row);
            infer::Verdict {
                digit: d as u8,
                confidence: row[d],
            }
        })
        .collect();
    let recognised = verdicts.iter().filter(|v| v.digit == digit).count();
    let mean_confidence = probs
        .chunks(10)
        .map(|r| r[digit as usize] as f64)
        .sum::<f64>()
        / n as f64;
    let feats = infer::features(classifier, generated, device).await?;
    let fd = reference.feature_dim;
    let p = prdc(&reference.features, &feats, fd, PRDC_K);
    let fid = fid(&feats, &reference.features, fd);
    page_turn().await;
    // The duplicate threshold, from how far unseen real digits are from
    // the training examples.
    let real_nn =
        nearest_distances_in_turns(&reference.images, examples, PIXELS, TURN_WORK, page_turn).await;
    let threshold = DUPLICATE_FRACTION * median(&real_nn);
    page_turn().await;
    let nearest_examples =
        nearest_distances_in_turns(generated, examples, PIXELS, TURN_WORK, page_turn).await;
    page_turn().await;
    let spread = mean_pairwise_l2_in_turns(generated, PIXELS, TURN_WORK, page_turn).await;
    Ok(Judged {
        digit,
        examples: examples.len() / PIXELS,
        samples: n,
        recognised_rate: recognised as f64 / n as f64,
        mean_confidence,
        diversity: Diversity {
            pairwise_l2_ratio: if reference.pairwise_l2 > 0.0 {
                spread / reference.pairwise_l2
            } else {
                0.0
            },
            fid,
            precision: p.precision,
            recall: p.recall,
            density: p.density,
            coverage: p.coverage,
            duplicate_rate: share_below(&nearest_examples, threshold),
        },
        verdicts,
    })
}

/// One point of the walk that fools the classifier.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct FoolStep {
    pub code: Vec<f32>,
    /// The classifier's verdict on the decoded digit.
    pub digit: u8,
    pub confidence: f32,
    /// The probability of the original digit.
    pub target_probability: f32,
    /// Distance from the start.
    pub distance: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct FoolResult {
    /// The walk, from the start to the first code that is not recognised
    /// (the last point is refined by bisection along the straight line
    /// from the start).
    pub path: Vec<FoolStep>,
    /// Whether the classifier stopped recognising the digit.
    pub fooled: bool,
    /// Whether the start itself was recognised (if not, there was nothing
    /// to fool).
    pub start_recognised: bool,
    /// The straight-line latent distance from the start to the end.
    pub distance: f64,
    /// The same distance, in units of the training codes' typical spread
    /// (the root mean per-dimension standard deviation).
    pub distance_in_std: f64,
    /// The length of the walk itself.
    pub path_length: f64,
    /// What the digit turned into.
    pub became: u8,
    pub became_confidence: f32,
}

fn l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

async fn verdict_of(
    aug: &Augmenter,
    classifier: &Classifier,
    code: &[f32],
    device: &Device,
) -> Result<(u8, f32, f32), String> {
    let img = aug.decode(code, device).await?;
    let p = infer::probabilities(classifier, &img, device).await?;
    let d = argmax(&p);
    Ok((d as u8, p[d], p[aug.digit as usize]))
}

/// Walks from `start` in latent space by normalised gradient steps on the
/// classifier's margin for the digit (its logit minus the best other
/// logit), through the decoder, until the digit is no longer recognised;
/// then finds by bisection the nearest point on the straight line from the
/// start that is not recognised. `step` is in units of the codes' spread.
pub async fn fool(
    aug: &Augmenter,
    classifier: &Classifier,
    start: &[f32],
    step: f32,
    max_steps: usize,
    device: &Device,
) -> Result<FoolResult, String> {
    let d = aug.latent();
    if start.len() != d {
        return Err(format!("the start code must have {d} values"));
    }
    let spread = (aug.fit.std().iter().map(|s| s * s).sum::<f64>() / d as f64).sqrt();
    let step_len = step as f64 * spread;
    let digit = aug.digit as usize;
    let ad = device.clone().autodiff();
    // Inference mode first: on an autodiff device a batch norm in training
    // mode would use the statistics of this one-image batch.
    let decoder = aug.model.valid().fork(&ad).no_grad();
    let judge = classifier.valid().fork(&ad).no_grad();
    let mut mask = vec![0.0f32; 10];
    mask[digit] = -1e9;
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [1, 10]), &ad);
    let mut onehot = vec![0.0f32; 10];
    onehot[digit] = 1.0;
    let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [1, 10]), &ad);

    let mut path = Vec::new();
    let mut z = start.to_vec();
    let mut walked = 0.0;
    let mut fooled = false;
    for _ in 0..=max_steps {
        let zt = Tensor::<2>::from_data(TensorData::new(z.clone(), [1, d]), &ad).require_grad();
        let logits = judge.forward(decoder.decode(zt.clone()));
        let probs = read_f32(burn::tensor::activation::softmax(logits.clone(), 1)).await?;
        let best = argmax(&probs);
        path.push(FoolStep {
            code: z.clone(),
            digit: best as u8,
            confidence: probs[best],
            target_probability: probs[digit],
            distance: l2(&z, start),
        });
        if best != digit {
            fooled = path.len() > 1;
            break;
        }
        if path.len() > max_steps {
            break;
        }
        let own = (logits.clone() * onehot.clone()).sum_dim(1);
        let other = (logits + mask.clone()).max_dim(1);
        let margin = (own - other).sum();
        let grads = margin.backward();
        let g = read_f32(zt.grad(&grads).ok_or("no gradient for the latent code")?).await?;
        let gn = g.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        if !(gn.is_finite() && gn > 0.0) {
            break;
        }
        for (zi, gi) in z.iter_mut().zip(&g) {
            *zi -= (step_len * *gi as f64 / gn) as f32;
        }
        walked += step_len;
        crate::platform::yield_now().await;
    }
    let end = z.clone();
    let (mut became, mut became_conf, _) = verdict_of(aug, classifier, &end, device).await?;
    let mut best_end = end.clone();
    if fooled {
        // The nearest unrecognised point on the straight line.
        let (mut lo, mut hi) = (0.0f32, 1.0f32);
        for _ in 0..12 {
            let mid = 0.5 * (lo + hi);
            let c = lerp(start, &end, mid);
            let (v, conf, _) = verdict_of(aug, classifier, &c, device).await?;
            if v as usize == digit {
                lo = mid;
            } else {
                hi = mid;
                best_end = c;
                became = v;
                became_conf = conf;
            }
        }
        if hi < 1.0 {
            let (v, conf, tp) = verdict_of(aug, classifier, &best_end, device).await?;
            path.push(FoolStep {
                code: best_end.clone(),
                digit: v,
                confidence: conf,
                target_probability: tp,
                distance: l2(&best_end, start),
            });
        }
    }
    let distance = l2(&best_end, start);
    let start_recognised = path[0].digit as usize == digit;
    Ok(FoolResult {
        path,
        fooled,
        start_recognised,
        distance,
        distance_in_std: if spread > 0.0 { distance / spread } else { 0.0 },
        path_length: walked,
        became,
        became_confidence: became_conf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_fit_recovers_mean_and_covariance() {
        let mut rng = Rng::new(11);
        // x ~ N(1, 1), y = 2x + N(0, 0.25) - 3
        let mut codes = Vec::new();
        for _ in 0..20_000 {
            let x = 1.0 + rng.normal();
            codes.push(x);
            codes.push(2.0 * x - 3.0 + 0.5 * rng.normal());
        }
        let fit = GaussianFit::fit(&codes, 2).unwrap();
        assert!((fit.mean[0] - 1.0).abs() < 0.03 && (fit.mean[1] + 1.0).abs() < 0.06);
        // The samples have the fitted statistics.
        let s = fit.sample(20_000, 1.0, &mut Rng::new(2));
        let (m, c) = mean_cov(&s, 2);
        assert!((m[0] - 1.0).abs() < 0.05 && (m[1] + 1.0).abs() < 0.1);
        assert!((c[0] - 1.0).abs() < 0.05, "{c:?}");
        assert!(
            (c[1] - 2.0).abs() < 0.1 && (c[3] - 4.25).abs() < 0.2,
            "{c:?}"
        );
        // Temperature 0 gives the mean.
        assert_eq!(
            fit.sample(1, 0.0, &mut rng),
            vec![fit.mean[0] as f32, fit.mean[1] as f32]
        );
        // Fewer codes than dimensions still fit (the ridge).
        assert!(GaussianFit::fit(&[1.0, 2.0, 3.0], 3).is_ok());
        assert!(GaussianFit::fit(&[f32::NAN, 0.0], 2).is_err());
    }

    #[test]
    fn interpolations_end_where_they_should() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 2.0];
        let path = interpolate(&a, &b, 5, Interpolation::Spherical);
        assert_eq!(&path[..2], &a);
        assert!((path[8] - b[0]).abs() < 1e-6 && (path[9] - b[1]).abs() < 1e-6);
        // Halfway along the arc: direction at 45°, norm 1.5.
        let mid = slerp(&a, &b, 0.5);
        assert!((mid[0] - mid[1]).abs() < 1e-6);
        assert!(((mid[0].powi(2) + mid[1].powi(2)).sqrt() - 1.5).abs() < 1e-5);
        assert_eq!(lerp(&a, &b, 0.5), vec![0.5, 1.0]);
        assert_eq!(edit(&a, 1, 3.0).unwrap(), vec![1.0, 3.0]);
        assert!(edit(&a, 2, 3.0).is_err());
        let p = perturb(&a, &[1.0, 1.0], 0.0, 3, &mut Rng::new(1));
        assert_eq!(p, a.repeat(3));
    }

    #[test]
    fn examples_are_of_the_digit_and_seeded() {
        let images = vec![0u8; 6 * PIXELS];
        let set = Mnist {
            images,
            labels: vec![1, 2, 2, 3, 2, 2],
        };
        let a = choose_examples(&set, 2, 3, 1).unwrap();
        assert_eq!(a.len(), 3);
        assert!(a.iter().all(|&i| set.labels[i] == 2));
        assert_eq!(a, choose_examples(&set, 2, 3, 1).unwrap());
        assert!(choose_examples(&set, 2, 5, 1)
            .unwrap_err()
            .contains("only 4"));
        assert!(choose_examples(&set, 12, 1, 1).is_err());
    }
}
