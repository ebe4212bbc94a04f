//! Batched inference helpers: images in, plain `Vec`s out. Async, because
//! tensor reads are async in the browser; natively drive them with
//! [`crate::platform::block_on`].

use crate::data::PIXELS;
use crate::metrics::argmax;
use crate::models::{Classifier, Denoiser};
use burn::prelude::*;

/// The largest batch pushed through a model at once. In the browser it is
/// smaller, and the page gets a turn between batches, so that a long
/// evaluation never freezes the tab.
#[cfg(not(target_arch = "wasm32"))]
pub const INFER_BATCH: usize = 500;
#[cfg(target_arch = "wasm32")]
pub const INFER_BATCH: usize = 64;

/// `[n, 1, 28, 28]` tensor from `n * 784` floats.
pub fn images_tensor(images: &[f32], device: &Device) -> Tensor<4> {
    let n = images.len() / PIXELS;
    Tensor::from_data(TensorData::new(images.to_vec(), [n, 1, 28, 28]), device)
}

pub async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, String> {
    t.into_data_async()
        .await
        .map_err(|e| format!("reading a tensor failed: {e}"))?
        .try_into_vec_as::<f32>()
        .map_err(|e| format!("reading a tensor failed: {e}"))
}

/// Runs `f` on `data` in chunks of `len` floats and concatenates what it
/// returns, with a turn for the page between chunks, not after the last:
/// the pad's one digit and a slider's one code need none (a timer turn
/// cost them 4 ms on the page's thread, where chained timers are clamped).
pub(crate) async fn in_chunks(
    data: &[f32],
    len: usize,
    f: impl AsyncFn(&[f32]) -> Result<Vec<f32>, String>,
) -> Result<Vec<f32>, String> {
    let mut out = Vec::new();
    let mut chunks = data.chunks(len).peekable();
    while let Some(chunk) = chunks.next() {
        out.extend(f(chunk).await?);
        if chunks.peek().is_some() {
            crate::platform::yield_now().await;
        }
    }
    Ok(out)
}

/// Runs `f` over the images in batches of [`INFER_BATCH`] and concatenates
/// what it returns.
pub(crate) async fn batched<const D: usize>(
    images: &[f32],
    device: &Device,
    f: impl Fn(Tensor<4>) -> Tensor<D>,
) -> Result<Vec<f32>, String> {
    in_chunks(images, INFER_BATCH * PIXELS, async |chunk| {
        read_f32(f(images_tensor(chunk, device))).await
    })
    .await
}

/// Denoises `n * 784` pixels in [0, 1].
pub async fn denoise(
    model: &Denoiser,
    images: &[f32],
    device: &Device,
) -> Result<Vec<f32>, String> {
    batched(images, device, |x| model.forward(x)).await
}

/// A classifier's verdict on one image.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Verdict {
    pub digit: u8,
    pub confidence: f32,
}

/// Class probabilities, 10 per image.
pub async fn probabilities(
    model: &Classifier,
    images: &[f32],
    device: &Device,
) -> Result<Vec<f32>, String> {
    batched(images, device, |x| model.probabilities(x)).await
}

pub async fn classify(
    model: &Classifier,
    images: &[f32],
    device: &Device,
) -> Result<Vec<Verdict>, String> {
    let p = probabilities(model, images, device).await?;
    Ok(p.chunks(10)
        .map(|row| {
            let d = argmax(row);
            Verdict {
                digit: d as u8,
                confidence: row[d],
            }
        })
        .collect())
}

/// Penultimate-layer features, `hidden` per image.
pub async fn features(
    model: &Classifier,
    images: &[f32],
    device: &Device,
) -> Result<Vec<f32>, String> {
    batched(images, device, |x| model.features(x)).await
}
