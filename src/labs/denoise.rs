//! Exercise 1: removing synthetic noise from MNIST digits.
//!
//! `noisy = clip(x + f·N(0, 1), 0, 1)` with the noise factor `f`; a
//! denoiser is trained on a fixed `f` or on a range of them, and judged by
//! PSNR, SSIM and by how often the classifier recognises its output.

use crate::data::{Mnist, PIXELS, SIDE};
use crate::infer::{self, images_tensor};
use crate::metrics::{accuracy, psnr, ssim};
use crate::models::spec::{presets, Purpose};
use crate::models::{Classifier, DenoiserConfig, ModelSpec, Net};
use crate::rng::Rng;
use crate::training::{Loss, Schedule, Task, TrainConfig, Trainer};
use burn::prelude::*;

/// The noise levels of the report.
pub const REPORT_LEVELS: [f32; 3] = [0.5, 0.7, 0.9];
/// The noise seed of `aelab denoise eval` and of the report figure.
pub const EVAL_SEED: u64 = 20_240_607;

/// Adds clipped Gaussian noise: `clip(x + f·N(0,1), 0, 1)`.
pub fn add_noise(clean: &[f32], factor: f32, rng: &mut Rng) -> Vec<f32> {
    clean
        .iter()
        .map(|&x| (x + factor * rng.normal()).clamp(0.0, 1.0))
        .collect()
}

/// The noise of test image `index` at report level `level`, independent of
/// any other image, so subsets and the full set agree.
pub fn eval_noise(clean: &[f32], factor: f32, seed: u64, index: usize) -> Vec<f32> {
    let stream = ((factor * 1000.0).round() as u64) << 32 | index as u64;
    add_noise(clean, factor, &mut Rng::derive(seed, stream))
}

/// Which noise factor training draws for each image.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum NoiseSpec {
    Fixed(f32),
    /// Uniform in [lo, hi].
    Range(f32, f32),
}

impl NoiseSpec {
    /// One factor when `lo == hi`, else the range.
    pub fn between(lo: f32, hi: f32) -> Self {
        if lo == hi {
            NoiseSpec::Fixed(lo)
        } else {
            NoiseSpec::Range(lo, hi)
        }
    }

    /// The lowest and highest factor.
    pub fn bounds(self) -> (f32, f32) {
        match self {
            NoiseSpec::Fixed(f) => (f, f),
            NoiseSpec::Range(lo, hi) => (lo, hi),
        }
    }

    pub fn sample(self, rng: &mut Rng) -> f32 {
        match self {
            NoiseSpec::Fixed(f) => f,
            NoiseSpec::Range(lo, hi) => rng.uniform_range(lo, hi),
        }
    }

    pub fn describe(self) -> String {
        match self {
            NoiseSpec::Fixed(f) => format!("f = {f}"),
            NoiseSpec::Range(lo, hi) => format!("f ~ U[{lo}, {hi}]"),
        }
    }
}

/// The largest noise factor training accepts (`f · N(0, 1)` with f = 2 is
/// already mostly black and white).
pub const MAX_NOISE: f32 = 2.0;
/// The fewest training images a run accepts.
pub const MIN_IMAGES: usize = 10;

/// Everything that defines one denoiser training run. The CLI and the page
/// build one of these (from flags or from the form) and nothing else; its
/// `Default` is the CLI's defaults, [`DenoiseSettings::quick`] the page's.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DenoiseSettings {
    /// The noise factors training draws from (and validation, with its own
    /// fixed seed).
    pub noise: NoiseSpec,
    /// Train on the first N training images only (`None`: all of them).
    pub images: Option<usize>,
    /// Share of those images held out for validation.
    pub valid_fraction: f32,
    /// The preset's settings for a model trained from scratch (a
    /// fine-tuned model brings its own).
    pub model: DenoiserConfig,
    /// A designed model, instead of the preset (`--model spec.json`).
    #[serde(default)]
    pub spec: Option<ModelSpec>,
    pub train: TrainConfig,
}

impl Default for DenoiseSettings {
    /// The command line's defaults, which trained the shipped models: the
    /// canonical model, f ~ U[0.3, 0.9], 5 % held out, 3 epochs at batch
    /// 128, Adam at 2·10⁻³ with a cosine decay, seed 1.
    fn default() -> Self {
        Self {
            noise: NoiseSpec::Range(0.3, 0.9),
            images: None,
            valid_fraction: 0.05,
            model: DenoiserConfig::canonical(),
            spec: None,
            train: TrainConfig {
                epochs: 3,
                batch_size: 128,
                learning_rate: 2e-3,
                schedule: Schedule::Cosine,
                seed: 1,
                ..TrainConfig::default()
            },
        }
    }
}

impl DenoiseSettings {
    /// The page's preset: a run of a minute or two in a browser tab: 2 000
    /// images, 1 epoch at batch 16 (on a CPU a step of 16 costs about as
    /// much per image as one of 128 and makes eight times as many updates),
    /// Adam at 10⁻³, f ~ U[0.3, 1.0] (the shipped skip model's range).
    pub fn quick() -> Self {
        let d = Self::default();
        Self {
            noise: NoiseSpec::Range(0.3, 1.0),
            images: Some(2000),
            train: TrainConfig {
                epochs: 1,
                batch_size: 16,
                learning_rate: 1e-3,
                ..d.train
            },
            ..d
        }
    }

    /// The seed of the validation images' noise: fixed per run, apart from
    /// the training noise.
    pub fn valid_seed(&self) -> u64 {
        self.train.seed ^ 0xDEAD
    }

    /// Checks every setting; the message names the one that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let (lo, hi) = self.noise.bounds();
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi <= MAX_NOISE) {
            return Err(format!(
                "the noise factors must lie within 0 to {MAX_NOISE}, with min ≤ max (got {lo} to {hi})"
            ));
        }
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return Err(format!(
                "the validation share must be at least 0 and below 1 (got {})",
                self.valid_fraction
            ));
        }
        if let Some(n) = self.images {
            if n < MIN_IMAGES {
                return Err(format!("train on at least {MIN_IMAGES} images (got {n})"));
            }
        }
        self.checked_spec()?;
        self.train.validate()
    }

    /// [`DenoiseSettings::model_spec`], checked: the preset's settings in
    /// their ranges, the spec's layers, and that it denoises digits.
    fn checked_spec(&self) -> Result<ModelSpec, String> {
        if self.spec.is_none() {
            <crate::models::Denoiser as crate::models::record::Weights>::validate(&self.model)?;
        }
        let spec = self.model_spec();
        spec.check()?;
        Purpose::Denoise.check(&spec)?;
        Ok(spec)
    }

    /// The spec of the model trained from scratch: the designed one, or
    /// the preset's.
    pub fn model_spec(&self) -> ModelSpec {
        self.spec
            .clone()
            .unwrap_or_else(|| presets::denoiser(&self.model))
    }

    /// A fresh model of [`DenoiseSettings::model_spec`], initialised from
    /// the device's seed.
    pub fn new_model(&self, device: &Device) -> Result<Net, String> {
        let spec = self.checked_spec()?;
        device.seed(self.train.seed);
        Ok(Net::build(&spec, device)?)
    }

    /// The training and validation images this run uses.
    pub fn split(&self, train: &Mnist) -> (Mnist, Mnist) {
        let set = match self.images {
            Some(n) => train.take(n),
            None => train.clone(),
        };
        set.split_validation(self.valid_fraction, self.train.seed)
    }

    /// A trainer of `model` (fresh from [`DenoiseSettings::new_model`] or
    /// loaded, to fine-tune) on `train`, after [`DenoiseSettings::validate`].
    pub fn trainer(
        &self,
        train: &Mnist,
        model: Net,
        device: &Device,
    ) -> Result<Trainer<DenoiseTask>, String> {
        self.validate()?;
        let (tr, va) = self.split(train);
        let task = DenoiseTask {
            train: tr,
            valid: va,
            noise: self.noise,
            valid_seed: self.valid_seed(),
            loss: self.train.loss.unwrap_or(Loss::Bce),
        };
        Trainer::new(task, model, self.train.clone(), device).map_err(|e| e.to_string())
    }
}

/// Training a denoiser with binary cross-entropy against the clean image.
pub struct DenoiseTask {
    pub train: Mnist,
    pub valid: Mnist,
    pub noise: NoiseSpec,
    /// Seed of the (fixed) validation noise.
    pub valid_seed: u64,
    pub loss: Loss,
}

impl DenoiseTask {
    fn noisy_pair(
        &self,
        set: &Mnist,
        indices: &[usize],
        mut factor: impl FnMut(usize) -> (f32, Rng),
    ) -> (Vec<f32>, Vec<f32>) {
        let clean = set.batch_f32(indices);
        let mut noisy = Vec::with_capacity(clean.len());
        for (k, img) in clean.chunks(PIXELS).enumerate() {
            let (f, mut rng) = factor(k);
            noisy.extend(add_noise(img, f, &mut rng));
        }
        (clean, noisy)
    }
}

impl Task for DenoiseTask {
    type Model = Net;

    fn train_len(&self) -> usize {
        self.train.len()
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
        let noise = self.noise;
        let (clean, noisy) = self.noisy_pair(&self.train, indices, |_| {
            let f = noise.sample(rng);
            (f, Rng::new(rng.next_u64()))
        });
        self.loss.of_logits(
            model.forward_logits(images_tensor(&noisy, device)),
            images_tensor(&clean, device),
        )
    }

    fn valid_loss(&self, model: &Net, indices: &[usize], device: &Device) -> Tensor<1> {
        let noise = self.noise;
        let seed = self.valid_seed;
        let (clean, noisy) = self.noisy_pair(&self.valid, indices, |k| {
            let mut r = Rng::derive(seed, indices[k] as u64);
            let f = noise.sample(&mut r);
            (f, r)
        });
        self.loss.of_logits(
            model.forward_logits(images_tensor(&noisy, device)),
            images_tensor(&clean, device),
        )
    }
}

/// 3×3 median filter, the classical baseline.
pub fn median3(img: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; PIXELS];
    let s = SIDE as i32;
    let mut win = Vec::with_capacity(9);
    for y in 0..s {
        for x in 0..s {
            win.clear();
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (xx, yy) = ((x + dx).clamp(0, s - 1), (y + dy).clamp(0, s - 1));
                    win.push(img[(yy * s + xx) as usize]);
                }
            }
            win.sort_by(|a, b| a.total_cmp(b));
            out[(y * s + x) as usize] = win[4];
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct LevelReport {
    pub noise: f32,
    pub psnr_noisy: f64,
    pub psnr_denoised: f64,
    pub ssim_noisy: f64,
    pub ssim_denoised: f64,
    pub accuracy_noisy: f64,
    pub accuracy_denoised: f64,
    /// Accuracy after a 3×3 median filter, for comparison.
    pub accuracy_median3: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct EvalReport {
    pub images: usize,
    pub noise_seed: u64,
    pub classifier_accuracy_clean: f64,
    pub levels: Vec<LevelReport>,
}

/// Evaluates a denoiser on `test` at each level, judged by `classifier`.
pub async fn evaluate(
    denoiser: &Net,
    classifier: &Classifier,
    test: &Mnist,
    levels: &[f32],
    seed: u64,
    device: &Device,
) -> Result<EvalReport, String> {
    let n = test.len();
    let clean = test
        .images
        .iter()
        .map(|&p| p as f32 / 255.0)
        .collect::<Vec<f32>>();
    let preds = |v: &[infer::Verdict]| v.iter().map(|v| v.digit).collect::<Vec<u8>>();
    let clean_acc = accuracy(
        &preds(&infer::classify(classifier, &clean, device).await?),
        &test.labels,
    );
    let mut out = Vec::new();
    for &f in levels {
        let mut noisy = Vec::with_capacity(clean.len());
        for (i, img) in clean.chunks(PIXELS).enumerate() {
            noisy.extend(eval_noise(img, f, seed, i));
        }
        let den = infer::denoise(denoiser, &noisy, device).await?;
        let med: Vec<f32> = noisy.chunks(PIXELS).flat_map(median3).collect();
        let (mut pn, mut pd, mut sn, mut sd) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            let r = i * PIXELS..(i + 1) * PIXELS;
            pn += psnr(&clean[r.clone()], &noisy[r.clone()]);
            pd += psnr(&clean[r.clone()], &den[r.clone()]);
            sn += ssim(&clean[r.clone()], &noisy[r.clone()], SIDE, SIDE);
            sd += ssim(&clean[r.clone()], &den[r], SIDE, SIDE);
        }
        let nf = n.max(1) as f64;
        out.push(LevelReport {
            noise: f,
            psnr_noisy: pn / nf,
            psnr_denoised: pd / nf,
            ssim_noisy: sn / nf,
            ssim_denoised: sd / nf,
            accuracy_noisy: accuracy(
                &preds(&infer::classify(classifier, &noisy, device).await?),
                &test.labels,
            ),
            accuracy_denoised: accuracy(
                &preds(&infer::classify(classifier, &den, device).await?),
                &test.labels,
            ),
            accuracy_median3: accuracy(
                &preds(&infer::classify(classifier, &med, device).await?),
                &test.labels,
            ),
        });
    }
    Ok(EvalReport {
        images: n,
        noise_seed: seed,
        classifier_accuracy_clean: clean_acc,
        levels: out,
    })
}

/// The images of the report figure: for one test example of each digit,
/// the clean image, then (noisy, denoised) for each level.
#[derive(Debug, Clone)]
pub struct FigureData {
    pub levels: Vec<f32>,
    /// `clean[d]` is digit d.
    pub clean: Vec<Vec<f32>>,
    /// `noisy[l][d]`, `denoised[l][d]`.
    pub noisy: Vec<Vec<Vec<f32>>>,
    pub denoised: Vec<Vec<Vec<f32>>>,
    /// Classifier verdicts on the denoised images, `[l][d]`.
    pub verdicts: Vec<Vec<infer::Verdict>>,
}

pub async fn figure_data(
    denoiser: &Net,
    classifier: &Classifier,
    test: &Mnist,
    levels: &[f32],
    seed: u64,
    device: &Device,
) -> Result<FigureData, String> {
    let picks = test
        .first_of_each_digit()
        .ok_or("the test set does not hold every digit 0-9")?;
    let clean: Vec<Vec<f32>> = picks.iter().map(|&i| test.image_f32(i)).collect();
    let (mut noisy, mut denoised, mut verdicts) = (Vec::new(), Vec::new(), Vec::new());
    for &f in levels {
        let nz: Vec<Vec<f32>> = picks
            .iter()
            .zip(&clean)
            .map(|(&i, c)| eval_noise(c, f, seed, i))
            .collect();
        let flat: Vec<f32> = nz.concat();
        let den = infer::denoise(denoiser, &flat, device).await?;
        verdicts.push(infer::classify(classifier, &den, device).await?);
        denoised.push(den.chunks(PIXELS).map(|c| c.to_vec()).collect());
        noisy.push(nz);
    }
    Ok(FigureData {
        levels: levels.to_vec(),
        clean,
        noisy,
        denoised,
        verdicts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(n: usize) -> Mnist {
        Mnist {
            images: (0..n * PIXELS).map(|i| (i % 251) as u8).collect(),
            labels: (0..n).map(|i| (i % 10) as u8).collect(),
        }
    }

    #[test]
    fn settings_refuse_each_bad_value_with_a_message_naming_it() {
        assert_eq!(DenoiseSettings::default().validate(), Ok(()));
        assert_eq!(DenoiseSettings::quick().validate(), Ok(()));
        let bad = |f: fn(&mut DenoiseSettings), words: &str| {
            let mut s = DenoiseSettings::default();
            f(&mut s);
            let e = s.validate().expect_err(words);
            assert!(e.contains(words), "{e:?} should mention {words:?}");
        };
        bad(|s| s.noise = NoiseSpec::Range(0.9, 0.3), "min ≤ max");
        bad(|s| s.noise = NoiseSpec::Fixed(2.5), "within 0 to 2");
        bad(|s| s.noise = NoiseSpec::Range(-0.1, 0.5), "within 0 to 2");
        bad(|s| s.noise = NoiseSpec::Fixed(f32::NAN), "noise factors");
        bad(|s| s.valid_fraction = 1.0, "validation share");
        bad(|s| s.valid_fraction = -0.1, "validation share");
        bad(|s| s.images = Some(3), "at least 10 images");
        bad(|s| s.train.epochs = 0, "epochs");
        bad(|s| s.train.batch_size = 0, "batch size");
        bad(|s| s.train.learning_rate = f64::NAN, "learning rate");
        bad(|s| s.model.width = 0, "width");
        // The command line's bounds hold for the page too: f up to 2.
        let mut s = DenoiseSettings::quick();
        s.noise = NoiseSpec::Range(0.0, 2.0);
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn settings_split_the_chosen_images_with_the_shared_rules() {
        let s = DenoiseSettings {
            images: Some(200),
            ..DenoiseSettings::default()
        };
        let (tr, va) = s.split(&digits(1000));
        assert_eq!(
            (tr.len(), va.len()),
            (190, 10),
            "5 % of the first 200 held out"
        );
        let again = s.split(&digits(1000));
        assert_eq!(va.images, again.1.images, "the split is seeded");
        let other = DenoiseSettings {
            train: TrainConfig {
                seed: 2,
                ..s.train.clone()
            },
            ..s.clone()
        };
        assert_ne!(va.images, other.split(&digits(1000)).1.images);
        assert_eq!(s.valid_seed(), 1 ^ 0xDEAD);
        assert_eq!(NoiseSpec::between(0.5, 0.5), NoiseSpec::Fixed(0.5));
        assert_eq!(NoiseSpec::between(0.3, 1.0), NoiseSpec::Range(0.3, 1.0));
    }

    #[test]
    fn settings_make_a_trainer_with_their_noise_and_validation_seed() {
        let dev = Device::flex();
        let s = DenoiseSettings {
            images: Some(40),
            noise: NoiseSpec::Fixed(0.7),
            ..DenoiseSettings::quick()
        };
        let model = s.new_model(&dev).unwrap();
        let t = s.trainer(&digits(100), model, &dev).unwrap();
        assert_eq!(t.task().train.len() + t.task().valid.len(), 40);
        assert_eq!(t.task().noise, NoiseSpec::Fixed(0.7));
        assert_eq!(t.task().valid_seed, s.valid_seed());
        let bad = DenoiseSettings {
            valid_fraction: 2.0,
            ..s.clone()
        };
        let model = s.new_model(&dev).unwrap();
        assert!(bad.trainer(&digits(100), model, &dev).is_err());
    }

    #[test]
    fn noise_is_clipped_and_has_the_right_spread() {
        let mut rng = Rng::new(11);
        let mid = vec![0.5f32; 100_000];
        let n = add_noise(&mid, 0.1, &mut rng);
        assert!(n.iter().all(|v| (0.0..=1.0).contains(v)));
        let mean = n.iter().map(|&v| v as f64).sum::<f64>() / n.len() as f64;
        let sd =
            (n.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n.len() as f64).sqrt();
        assert!((mean - 0.5).abs() < 0.002, "{mean}");
        assert!((sd - 0.1).abs() < 0.002, "{sd}");
        // On a black image, clipping leaves exactly half the pixels at 0, and
        // the mean is E[clip(fZ, 0, 1)] = f·(φ(0) − φ(1/f)) + P(Z > 1/f),
        // which is 0.255165 for f = 0.7.
        let black = vec![0.0f32; 200_000];
        let n = add_noise(&black, 0.7, &mut rng);
        let zeros = n.iter().filter(|&&v| v == 0.0).count() as f64 / n.len() as f64;
        assert!((zeros - 0.5).abs() < 0.005, "{zeros}");
        let mean = n.iter().map(|&v| v as f64).sum::<f64>() / n.len() as f64;
        let want = 0.255_165;
        assert!((mean - want).abs() < 0.003, "{mean} vs {want}");
        // A white image saturates at 1 half the time.
        let ones = add_noise(&vec![1.0f32; 10_000], 0.9, &mut rng)
            .iter()
            .filter(|&&v| v == 1.0)
            .count();
        assert!((4_700..5_300).contains(&ones), "{ones}");
        // Factor 0 is the identity.
        assert_eq!(add_noise(&mid[..10], 0.0, &mut rng), mid[..10].to_vec());
    }

    #[test]
    fn eval_noise_is_reproducible_per_image() {
        let img = vec![0.3f32; PIXELS];
        assert_eq!(eval_noise(&img, 0.5, 1, 7), eval_noise(&img, 0.5, 1, 7));
        assert_ne!(eval_noise(&img, 0.5, 1, 7), eval_noise(&img, 0.5, 1, 8));
        assert_ne!(eval_noise(&img, 0.5, 1, 7), eval_noise(&img, 0.7, 1, 7));
    }

    #[test]
    fn median_removes_salt() {
        let mut img = vec![0.0f32; PIXELS];
        img[100] = 1.0;
        assert!(median3(&img).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn noise_range_samples_inside() {
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let f = NoiseSpec::Range(0.3, 0.9).sample(&mut r);
            assert!((0.3..0.9).contains(&f));
        }
        assert_eq!(NoiseSpec::Fixed(0.5).sample(&mut r), 0.5);
    }
}
