#![allow(dead_code)] // each test binary uses part of it
//! The browser/native parity case, shared by `tests/parity.rs` (native,
//! checks and writes the fixture) and `tests/web.rs` (in Chromium).

use aelab::data::PIXELS;
use aelab::infer;
use aelab::labs::denoise::{eval_noise, EVAL_SEED};
use aelab::models::spec::{legacy, Purpose};
use aelab::models::Classifier;
use burn::tensor::Device;

/// The noise level of the parity case.
pub const LEVEL: f32 = 0.7;
/// Largest absolute difference allowed between the browser and native,
/// per pixel and per probability. The CPU backends agree to about 1e-6;
/// WebGPU sums in a different order.
pub const TOLERANCE_CPU: f32 = 1e-4;
pub const TOLERANCE_GPU: f32 = 2e-3;

pub static DENOISER: &[u8] = include_bytes!("../../assets/models/denoiser-skip.aelab");
pub static CLASSIFIER: &[u8] = include_bytes!("../../assets/models/classifier.aelab");

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
pub struct Parity {
    /// MNIST test indices of the images.
    pub indices: Vec<usize>,
    /// Their clean pixels (784 each).
    pub clean: Vec<f32>,
    /// The denoised noisy images.
    pub denoised: Vec<f32>,
    /// Class probabilities of clean, noisy and denoised, 10 each, in that
    /// order per image.
    pub probabilities: Vec<f32>,
}

pub fn noisy(indices: &[usize], clean: &[f32]) -> Vec<f32> {
    indices
        .iter()
        .zip(clean.chunks(PIXELS))
        .flat_map(|(&i, c)| eval_noise(c, LEVEL, EVAL_SEED, i))
        .collect()
}

/// Runs the case on `device`.
pub async fn compute(indices: &[usize], clean: &[f32], device: &Device) -> Result<Parity, String> {
    let (den, _, _) =
        legacy::load(DENOISER, device, Purpose::Denoise).map_err(|e| e.to_string())?;
    let (cls, _, _) = aelab::models::record::from_bytes::<Classifier>(CLASSIFIER, device)
        .map_err(|e| e.to_string())?;
    let noisy = noisy(indices, clean);
    let denoised = infer::denoise(&den, &noisy, device).await?;
    let mut probabilities = Vec::new();
    for (k, c) in clean.chunks(PIXELS).enumerate() {
        let r = k * PIXELS..(k + 1) * PIXELS;
        let three = [c, &noisy[r.clone()], &denoised[r]].concat();
        probabilities.extend(infer::probabilities(&cls, &three, device).await?);
    }
    Ok(Parity {
        indices: indices.to_vec(),
        clean: clean.to_vec(),
        denoised,
        probabilities,
    })
}

/// The largest absolute difference between two equally long slices.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
