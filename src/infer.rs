//! Batched inference helpers: images in, plain `Vec`s out. Async, because
//! tensor reads are async in the browser; natively drive them with
//! [`crate::platform::block_on`].

use crate::data::PIXELS;
use crate::metrics::argmax;
use crate::models::{Classifier, Net};
use burn::prelude::*;

/// The largest batch pushed through a model at once. In the browser it is
/// smaller, and the page gets a turn between batches, so that a long
/// evaluation never freezes the tab.
#[cfg(not(target_arch = "wasm32"))]
pub const INFER_BATCH: usize = 500;
#[cfg(target_arch = "wasm32")]
pub const INFER_BATCH: usize = 64;

/// How long one chunk of inference may hold the thread it runs on, in ms,
/// where that thread must answer (the browser, on the CPU; natively there
/// is no limit). A chunk of [`INFER_BATCH`] images took 50–160 ms on the
/// page's thread for the classifier.
#[cfg(target_arch = "wasm32")]
const CHUNK_MS: f64 = 20.0;
#[cfg(not(target_arch = "wasm32"))]
const CHUNK_MS: f64 = f64::INFINITY;

/// The first chunk where chunks are timed, before the pace is known. Small:
/// code the browser has not optimised yet runs several times slower (the
/// Augment run's end on the page: its longest task 107–109 ms with a first
/// chunk of 8, 90–99 ms with 2).
const FIRST_CHUNK: usize = 2;

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

/// Runs `f` on `data` (items of `item_len` floats) in chunks and
/// concatenates what it returns, with a turn for the page between chunks,
/// not after the last: the pad's one digit and a slider's one code need
/// none (a timer turn cost them 4 ms on the page's thread, where chained
/// timers are clamped). A chunk holds at most [`INFER_BATCH`] items; on the
/// CPU in the browser, where a chunk holds the thread, each chunk after
/// the first takes as many items as [`CHUNK_MS`] fits at the last one's
/// pace. (On WebGPU the thread waits for the GPU without holding it.)
pub(crate) async fn in_chunks(
    data: &[f32],
    item_len: usize,
    device: &Device,
    f: impl AsyncFn(&[f32]) -> Result<Vec<f32>, String>,
) -> Result<Vec<f32>, String> {
    let items = data.len().div_ceil(item_len.max(1));
    let timed = CHUNK_MS.is_finite() && crate::engine::is_engine_device(device);
    let mut take = if timed { FIRST_CHUNK } else { INFER_BATCH };
    let mut out = Vec::new();
    let mut at = 0;
    while at < items {
        let end = (at + take).min(items);
        let t0 = crate::platform::now_ms();
        out.extend(f(&data[at * item_len..(end * item_len).min(data.len())]).await?);
        if end < items {
            if timed {
                take = chunk_after(end - at, crate::platform::now_ms() - t0, CHUNK_MS);
            }
            crate::platform::yield_now().await;
        }
        at = end;
    }
    Ok(out)
}

/// The next chunk's items: as many as `limit_ms` holds at the pace of the
/// last chunk (`items` in `ms`), from 1 to [`INFER_BATCH`].
fn chunk_after(items: usize, ms: f64, limit_ms: f64) -> usize {
    let fits = limit_ms * items.max(1) as f64 / ms;
    if fits.is_finite() && fits >= 0.0 {
        (fits as usize).clamp(1, INFER_BATCH)
    } else {
        INFER_BATCH
    }
}

/// Runs `f` over the images in batches of [`INFER_BATCH`] and concatenates
/// what it returns.
pub(crate) async fn batched<const D: usize>(
    images: &[f32],
    device: &Device,
    f: impl Fn(Tensor<4>) -> Tensor<D>,
) -> Result<Vec<f32>, String> {
    in_chunks(images, PIXELS, device, async |chunk| {
        read_f32(f(images_tensor(chunk, device))).await
    })
    .await
}

/// Denoises `n * 784` pixels in [0, 1].
pub async fn denoise(model: &Net, images: &[f32], device: &Device) -> Result<Vec<f32>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_takes_what_the_limit_holds_at_the_last_pace() {
        // 8 items in 4 ms, 0.5 ms each: 20 ms holds 40.
        assert_eq!(chunk_after(8, 4.0, 20.0), 40.min(INFER_BATCH));
        // Slow items: never fewer than one.
        assert_eq!(chunk_after(8, 1000.0, 20.0), 1);
        // Too fast to time, or no limit: the largest batch.
        assert_eq!(chunk_after(8, 0.0, 20.0), INFER_BATCH);
        assert_eq!(chunk_after(8, 4.0, f64::INFINITY), INFER_BATCH);
    }

    #[test]
    fn chunks_cover_the_data_in_order_natively_in_batches() {
        let items = 2 * INFER_BATCH + 3;
        let data: Vec<f32> = (0..items * 2).map(|i| i as f32).collect();
        let sizes = std::cell::RefCell::new(Vec::new());
        let out = crate::platform::block_on(in_chunks(
            &data,
            2,
            &crate::platform::test_device(),
            async |chunk: &[f32]| {
                sizes.borrow_mut().push(chunk.len() / 2);
                Ok(chunk.iter().map(|v| v + 1.0).collect())
            },
        ))
        .unwrap();
        assert_eq!(out, data.iter().map(|v| v + 1.0).collect::<Vec<_>>());
        assert_eq!(sizes.into_inner(), vec![INFER_BATCH, INFER_BATCH, 3]);
    }
}

/// One layer's output for one image, as the page's "see inside" view
/// shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct LayerView {
    /// The layer's number, from 1, and its type and name.
    pub index: usize,
    pub layer: String,
    pub name: Option<String>,
    /// `encoder`, `code` (the latent layer, or the narrowest one) or
    /// `decoder`.
    pub part: String,
    /// Channels, height and width: a vector is `[n, 1, 1]`, a series
    /// `[c, 1, l]`.
    pub shape: [usize; 3],
    /// `shape`'s values, channel by channel.
    pub values: Vec<f32>,
}

/// What a net computes from one 28×28 image, layer by layer: each
/// layer's output, and the output image (the last layer's through the
/// sigmoid).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Inside {
    pub layers: Vec<LayerView>,
    pub output: Vec<f32>,
}

/// The code layer of `net`: its latent layer, else the first layer with
/// the fewest values (the bottleneck), the output layer aside.
pub fn code_layer(net: &Net) -> usize {
    let shapes = net.layer_shapes();
    net.spec().latent_index().unwrap_or_else(|| {
        (0..shapes.len().saturating_sub(1))
            .min_by_key(|&i| (shapes[i].elems(), i))
            .unwrap_or(0)
    })
}

/// Every layer of `net` on one image (784 values in [0, 1]).
pub async fn inside(net: &Net, image: &[f32], device: &Device) -> Result<Inside, String> {
    if image.len() != PIXELS {
        return Err(format!(
            "one 28×28 image is {PIXELS} values, not {}",
            image.len()
        ));
    }
    let shapes = net.layer_shapes();
    let code = code_layer(net);
    let traced = net.trace(images_tensor(image, device));
    let mut layers = Vec::with_capacity(traced.len());
    let mut last = Vec::new();
    for (i, t) in traced.into_iter().enumerate() {
        let values = read_f32(t).await?;
        let shape = match shapes[i] {
            crate::models::spec::Shape::Map { c, h, w } => [c, h, w],
            crate::models::spec::Shape::Seq { c, l } => [c, 1, l],
            crate::models::spec::Shape::Flat(n) => [n, 1, 1],
        };
        let layer = &net.spec().layers[i];
        last.clone_from(&values);
        layers.push(LayerView {
            index: i + 1,
            layer: layer.op.title().into(),
            name: layer.name.clone(),
            part: match i.cmp(&code) {
                std::cmp::Ordering::Less => "encoder",
                std::cmp::Ordering::Equal => "code",
                std::cmp::Ordering::Greater => "decoder",
            }
            .into(),
            shape,
            values,
        });
    }
    let output = last.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect();
    Ok(Inside { layers, output })
}
