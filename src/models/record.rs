//! aelab weight files: a small self-describing container around burn's
//! record bytes, so that a file says which model and configuration it holds
//! and a wrong or corrupt file gives a clear message.
//!
//! Layout: `AELABW01` · u32 LE length of a JSON header · the JSON header
//! `{"model": "denoiser", "config": {...}, "meta": {...}}` · burnpack bytes.

use super::{
    Classifier, ClassifierConfig, Denoiser, DenoiserConfig, LatentAe, LatentAeConfig, SeriesAe,
    SeriesAeConfig, SeriesModelKind,
};
use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, DType};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fmt;

pub const MAGIC: &[u8; 8] = b"AELABW01";
/// No aelab model is near this; larger files are refused before parsing.
pub const MAX_WEIGHTS_BYTES: usize = 64 * 1024 * 1024;
const MAX_HEADER: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum WeightsError {
    Empty,
    TooLarge(usize),
    NotAelab,
    Truncated,
    BadHeader(String),
    WrongModel { expected: String, found: String },
    Record(String),
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightsError::Empty => write!(f, "the weights file is empty"),
            WeightsError::TooLarge(n) => write!(
                f,
                "the weights file is {n} bytes, over the limit of {MAX_WEIGHTS_BYTES} bytes"
            ),
            WeightsError::NotAelab => write!(
                f,
                "not an aelab weights file (it does not start with AELABW01)"
            ),
            WeightsError::Truncated => write!(f, "the weights file is truncated"),
            WeightsError::BadHeader(e) => write!(f, "the weights file's header is corrupt: {e}"),
            WeightsError::WrongModel { expected, found } => write!(
                f,
                "this file holds a {found} model, but a {expected} was expected"
            ),
            WeightsError::Record(e) => write!(f, "the weights do not fit the model: {e}"),
        }
    }
}

impl std::error::Error for WeightsError {}

#[derive(Serialize, Deserialize)]
struct Header<C> {
    model: String,
    config: C,
    #[serde(default)]
    meta: serde_json::Value,
    /// How the body holds the parameters: absent for burn's record bytes
    /// (f32 or f16), `"q8"` or `"q4"` for aelab's quantised encodings
    /// ([`Storage::Q8`], [`Storage::Q4`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encoding: Option<String>,
}

const Q8: &str = "q8";
const Q4: &str = "q4";
/// In q4 files, weight tensors with at least this many values (the large
/// dense layers) are stored 4-bit; smaller kernels stay 8-bit.
const Q4_MIN_VALUES: usize = 65_536;

#[derive(Deserialize)]
struct ModelOnly {
    model: String,
}

/// A model type that can live in a weights file.
pub trait Weights: Module + Sized {
    type Config: Serialize + DeserializeOwned;
    const NAME: &'static str;
    /// Checks a configuration (which may come from an untrusted file)
    /// before any layer is built from it.
    fn validate(config: &Self::Config) -> Result<(), String>;
    fn build(config: &Self::Config, device: &Device) -> Self;
}

fn in_range(name: &str, v: usize, lo: usize, hi: usize) -> Result<(), String> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(format!("{name} is {v}, outside {lo}..={hi}"))
    }
}

impl Weights for Denoiser {
    type Config = DenoiserConfig;
    const NAME: &'static str = "denoiser";
    fn validate(c: &DenoiserConfig) -> Result<(), String> {
        in_range("width", c.width, 1, 256)?;
        in_range("bottleneck", c.bottleneck, 1, 512)?;
        in_range("depth", c.depth, 1, 16)
    }
    fn build(config: &DenoiserConfig, device: &Device) -> Self {
        config.init(device)
    }
}

impl Weights for Classifier {
    type Config = ClassifierConfig;
    const NAME: &'static str = "classifier";
    fn validate(c: &ClassifierConfig) -> Result<(), String> {
        in_range("channels1", c.channels1, 1, 256)?;
        in_range("channels2", c.channels2, 1, 256)?;
        in_range("hidden", c.hidden, 1, 4096)?;
        if !(c.dropout.is_finite() && (0.0..1.0).contains(&c.dropout)) {
            return Err(format!("dropout is {}, outside [0, 1)", c.dropout));
        }
        Ok(())
    }
    fn build(config: &ClassifierConfig, device: &Device) -> Self {
        config.init(device)
    }
}

impl Weights for LatentAe {
    type Config = LatentAeConfig;
    const NAME: &'static str = "augmenter";
    fn validate(c: &LatentAeConfig) -> Result<(), String> {
        in_range("latent", c.latent, 1, 256)?;
        in_range("width", c.width, 1, 128)
    }
    fn build(config: &LatentAeConfig, device: &Device) -> Self {
        config.init(device)
    }
}

impl Weights for SeriesAe {
    type Config = SeriesAeConfig;
    const NAME: &'static str = "series-autoencoder";
    fn validate(c: &SeriesAeConfig) -> Result<(), String> {
        in_range("length", c.length, 4, 100_000)?;
        in_range("latent", c.latent, 1, 512)?;
        in_range("depth", c.depth, 1, 6)?;
        if c.kind == SeriesModelKind::Dense && (c.latent << (c.depth - 1)) > 4096 {
            return Err("latent × 2^(depth − 1) is over 4096".into());
        }
        if c.kind == SeriesModelKind::Dense && c.length * (c.latent << (c.depth - 1)) > 16_000_000 {
            return Err("the first dense layer would hold over 16 million weights".into());
        }
        Ok(())
    }
    fn build(config: &SeriesAeConfig, device: &Device) -> Self {
        config.init(device)
    }
}

/// Collects a module's float parameters (their values, flattened, and
/// shapes) without reading them.
struct Grab {
    tensors: Vec<(Tensor<1>, burn::tensor::Shape)>,
}

impl burn::module::ModuleVisitor for Grab {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let t = param.val();
        let shape = t.shape();
        let n = shape.num_elements();
        self.tensors.push((t.reshape([n]), shape));
    }
}

/// Puts read values back, in visiting order, as tensors on `device`.
struct Put<'a> {
    values: std::vec::IntoIter<TensorData>,
    device: &'a Device,
}

impl burn::module::ModuleMapper for Put<'_> {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        let (id, old, mapper) = param.consume();
        match self.values.next() {
            Some(data) => burn::module::Param::from_mapped_value(
                id,
                Tensor::from_data(data, self.device),
                mapper,
            ),
            None => burn::module::Param::from_mapped_value(id, old, mapper),
        }
    }
}

/// The shapes of a freshly built module's float parameters, in visiting
/// order, without initialising them (burn's parameters are lazy: the random
/// init would be thrown away when the stored values are put in).
struct Shapes(Vec<Vec<usize>>);

impl burn::module::ModuleVisitor for Shapes {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        self.0.push(param.lazy_shape().to_vec());
    }
}

/// Loads decoded values into a freshly built module, in visiting order, as
/// burn's record loading does: the lazy parameters are never initialised.
struct Load<'a> {
    values: std::vec::IntoIter<TensorData>,
    device: &'a Device,
}

impl burn::module::ModuleMapper for Load<'_> {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        match self.values.next() {
            Some(data) => {
                let id = param.id;
                param.transform_for_load(Tensor::from_data(data, self.device), id)
            }
            None => param,
        }
    }
}

/// A copy of `model` on `device`, reading every parameter the async way, so
/// that it works from WebGPU in the browser (where a synchronous read
/// panics). A failed read (a lost GPU device, say) is an error, not a
/// panic.
pub async fn to_device_async<M: Module>(model: M, device: &Device) -> Result<M, String> {
    let mut grab = Grab {
        tensors: Vec::new(),
    };
    model.visit(&mut grab);
    let mut values = Vec::with_capacity(grab.tensors.len());
    for (t, shape) in grab.tensors {
        let data = t
            .into_data_async()
            .await
            .map_err(|e| format!("reading the model's weights failed: {e:?}"))?;
        let (bytes, _, dtype) = data.into_parts();
        values.push(TensorData::from_bytes(bytes, shape, dtype));
    }
    Ok(model.map(&mut Put {
        values: values.into_iter(),
        device,
    }))
}

/// [`to_bytes`] for a model on any device: the weights are read the async
/// way and serialised from a CPU copy.
pub async fn to_bytes_async<M: Weights>(
    model: &M,
    config: &M::Config,
    meta: serde_json::Value,
) -> Result<Vec<u8>, WeightsError> {
    let cpu = crate::platform::CpuBackend::Flex.device();
    let copy = to_device_async(model.clone(), &cpu)
        .await
        .map_err(WeightsError::Record)?;
    to_bytes(&copy, config, meta)
}

/// How a weights file stores the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// burn's record with f32 parameters: exact (training, downloads).
    F32,
    /// burn's record with f16 parameters: half the size.
    F16,
    /// aelab's 8-bit encoding: every weight matrix or kernel as signed
    /// bytes with one f32 scale per output slice (its first dimension);
    /// biases and normalisation statistics stay f32. A quarter of the size,
    /// for the weights the page loads at start.
    Q8,
    /// As [`Storage::Q8`], but the large dense matrices (65 536 values or
    /// more) are stored 4-bit, two values per byte, each slice with the
    /// scale that minimises its squared error. About an eighth of f32 for
    /// the classifier, whose first dense layer holds most of its weights.
    Q4,
}

impl Storage {
    pub fn parse(s: &str) -> Result<Storage, String> {
        match s {
            "f32" => Ok(Storage::F32),
            "f16" => Ok(Storage::F16),
            "q8" => Ok(Storage::Q8),
            "q4" => Ok(Storage::Q4),
            _ => Err(format!("unknown storage {s:?}: use f32, f16, q8 or q4")),
        }
    }
}

/// Casts every float parameter to another dtype (f16 storage; loading
/// casts them back to the model's f32).
struct CastFloats(DType);

impl burn::module::ModuleMapper for CastFloats {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        let (id, t, mapper) = param.consume();
        burn::module::Param::from_mapped_value(id, t.cast(self.0), mapper)
    }
}

/// [`to_bytes`] with the parameters stored as `storage` says. The model
/// must be on a CPU device (its weights are read synchronously).
/// [`from_bytes`] reads every kind and computes in f32.
pub fn to_bytes_as<M: Weights>(
    model: &M,
    config: &M::Config,
    meta: serde_json::Value,
    storage: Storage,
) -> Result<Vec<u8>, WeightsError> {
    match storage {
        Storage::F32 => to_bytes(model, config, meta),
        Storage::F16 => to_bytes(
            &model.clone().map(&mut CastFloats(DType::F16)),
            config,
            meta,
        ),
        Storage::Q8 | Storage::Q4 => {
            let mut grab = Grab {
                tensors: Vec::new(),
            };
            model.visit(&mut grab);
            let mut body = Vec::new();
            for (t, shape) in grab.tensors {
                let values: Vec<f32> = t
                    .into_data()
                    .try_into_vec_as::<f32>()
                    .map_err(|e| WeightsError::Record(format!("{e:?}")))?;
                let four = storage == Storage::Q4 && values.len() >= Q4_MIN_VALUES;
                q8_encode(&values, &shape.to_vec(), four, &mut body);
            }
            let tag = if storage == Storage::Q4 { Q4 } else { Q8 };
            Ok(assemble(&header::<M>(config, meta, Some(tag))?, &body))
        }
    }
}

/// One tensor of a q8/q4 body: its rank and dimensions (u32 LE), a kind
/// byte, then f32 values (kind 0); or one f32 scale per slice of the first
/// dimension followed by one i8 per value (kind 1), or by two signed 4-bit
/// values per byte, low nibble first (kind 2, only when `four`).
fn q8_encode(values: &[f32], dims: &[usize], four: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_le_bytes());
    }
    if dims.len() < 2 || values.is_empty() {
        out.push(0);
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        return;
    }
    let (top, kind) = if four { (7.0f32, 2u8) } else { (127.0, 1) };
    out.push(kind);
    let slices = dims[0];
    let per = values.len() / slices;
    let quant = |v: f32, s: f32| {
        if s > 0.0 {
            (v / s).round().clamp(-top, top)
        } else {
            0.0
        }
    };
    let scales: Vec<f32> = values
        .chunks(per)
        .map(|c| {
            let max = c.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if !four {
                return max / top;
            }
            // With 15 levels, clipping the largest values lowers the error
            // of all the others: pick the clip that minimises it.
            let err = |s: f32| -> f32 { c.iter().map(|&v| (v - quant(v, s) * s).powi(2)).sum() };
            (10..=20)
                .map(|k| {
                    let s = max * k as f32 / 20.0 / top;
                    (err(s), s)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map_or(0.0, |(_, s)| s)
        })
        .collect();
    for s in &scales {
        out.extend_from_slice(&s.to_le_bytes());
    }
    let q: Vec<i8> = values
        .chunks(per)
        .zip(&scales)
        .flat_map(|(c, &s)| c.iter().map(move |&v| quant(v, s) as i8))
        .collect();
    if four {
        for pair in q.chunks(2) {
            let lo = pair[0] as u8 & 0x0f;
            let hi = pair.get(1).map_or(0, |&h| h as u8 & 0x0f);
            out.push(lo | (hi << 4));
        }
    } else {
        out.extend(q.iter().map(|&v| v as u8));
    }
}

/// Little-endian f32 values.
fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Reads a q8 body against the model's parameter shapes, in visiting order.
fn q8_decode(body: &[u8], shapes: &[Vec<usize>]) -> Result<Vec<TensorData>, WeightsError> {
    let mut pos = 0usize;
    let mut take = |n: usize| -> Result<&[u8], WeightsError> {
        let end = pos.checked_add(n).ok_or(WeightsError::Truncated)?;
        let b = body.get(pos..end).ok_or(WeightsError::Truncated)?;
        pos = end;
        Ok(b)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let mut out = Vec::with_capacity(shapes.len());
    for (i, want) in shapes.iter().enumerate() {
        let rank = u32_at(take(4)?);
        if rank != want.len() {
            return Err(WeightsError::Record(format!(
                "parameter {i} has rank {rank} in the file, {} in the model",
                want.len()
            )));
        }
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(u32_at(take(4)?));
        }
        if &dims != want {
            return Err(WeightsError::Record(format!(
                "parameter {i} has shape {dims:?} in the file, {want:?} in the model"
            )));
        }
        let n: usize = dims.iter().product();
        let values: Vec<f32> = match take(1)?[0] {
            0 => f32s(take(n.checked_mul(4).ok_or(WeightsError::Truncated)?)?),
            kind @ (1 | 2) if rank >= 2 && dims[0] > 0 => {
                let slices = dims[0];
                let scales = f32s(take(slices * 4)?);
                if scales.iter().any(|s| !s.is_finite()) {
                    return Err(WeightsError::Record(format!(
                        "parameter {i} has a scale that is not a finite number"
                    )));
                }
                let per = (n / slices).max(1);
                let q: Vec<i8> = if kind == 1 {
                    take(n)?.iter().map(|&b| b as i8).collect()
                } else {
                    // Two signed nibbles per byte, low first; sign-extend.
                    take(n.div_ceil(2))?
                        .iter()
                        .flat_map(|&b| [((b << 4) as i8) >> 4, (b as i8) >> 4])
                        .take(n)
                        .collect()
                };
                q.iter()
                    .enumerate()
                    .map(|(k, &q)| q as f32 * scales[k / per])
                    .collect()
            }
            k => {
                return Err(WeightsError::Record(format!(
                    "parameter {i} has an unknown encoding {k}"
                )))
            }
        };
        out.push(TensorData::new(values, dims));
    }
    if pos != body.len() {
        return Err(WeightsError::Record(format!(
            "{} bytes after the last parameter",
            body.len() - pos
        )));
    }
    Ok(out)
}

/// Rewrites a weights file of any aelab model with another storage.
/// Returns the new file and the model's name.
pub fn convert(bytes: &[u8], storage: Storage) -> Result<(Vec<u8>, String), WeightsError> {
    fn go<M: Weights>(bytes: &[u8], storage: Storage) -> Result<Vec<u8>, WeightsError> {
        let device = crate::platform::CpuBackend::Flex.device();
        let (m, c, meta) = from_bytes::<M>(bytes, &device)?;
        to_bytes_as(&m, &c, meta, storage)
    }
    let (name, _) = peek(bytes)?;
    let out = match name.as_str() {
        n if n == Denoiser::NAME => go::<Denoiser>(bytes, storage)?,
        n if n == Classifier::NAME => go::<Classifier>(bytes, storage)?,
        n if n == LatentAe::NAME => go::<LatentAe>(bytes, storage)?,
        n if n == SeriesAe::NAME => go::<SeriesAe>(bytes, storage)?,
        _ => {
            return Err(WeightsError::WrongModel {
                expected: "an aelab model".into(),
                found: name,
            })
        }
    };
    Ok((out, name))
}

/// The JSON header of a weights file for a model of type `M`.
fn header<M: Weights>(
    config: &M::Config,
    meta: serde_json::Value,
    encoding: Option<&str>,
) -> Result<Vec<u8>, WeightsError> {
    serde_json::to_vec(&Header {
        model: M::NAME.to_string(),
        config,
        meta,
        encoding: encoding.map(String::from),
    })
    .map_err(|e| WeightsError::BadHeader(e.to_string()))
}

fn assemble(header: &[u8], body: &[u8]) -> Vec<u8> {
    container(MAGIC, header, body)
}

/// aelab's file container: an 8-byte magic, a little-endian u32 header
/// length, the header (JSON), then the body. Weights files use it with
/// [`MAGIC`]; the anomaly lab's run files with their own magic.
pub fn container(magic: &[u8; 8], header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + header.len() + body.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(body);
    out
}

/// Serialises a model with its configuration and free-form metadata.
pub fn to_bytes<M: Weights>(
    model: &M,
    config: &M::Config,
    meta: serde_json::Value,
) -> Result<Vec<u8>, WeightsError> {
    let header = header::<M>(config, meta, None)?;
    let record = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| WeightsError::Record(format!("{e:?}")))?;
    Ok(assemble(&header, &record))
}

fn split(bytes: &[u8]) -> Result<(&[u8], &[u8]), WeightsError> {
    open_container(MAGIC, bytes, MAX_WEIGHTS_BYTES)
}

/// The header and body of a [`container`] with `magic`, of at most
/// `max_len` bytes.
pub fn open_container<'a>(
    magic: &[u8; 8],
    bytes: &'a [u8],
    max_len: usize,
) -> Result<(&'a [u8], &'a [u8]), WeightsError> {
    if bytes.is_empty() {
        return Err(WeightsError::Empty);
    }
    if bytes.len() > max_len {
        return Err(WeightsError::TooLarge(bytes.len()));
    }
    if bytes.len() < 8 || &bytes[..8] != magic {
        return Err(WeightsError::NotAelab);
    }
    if bytes.len() < 12 {
        return Err(WeightsError::Truncated);
    }
    let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    if n > MAX_HEADER {
        return Err(WeightsError::BadHeader(format!(
            "header length {n} is absurd"
        )));
    }
    if bytes.len() < 12 + n {
        return Err(WeightsError::Truncated);
    }
    Ok((&bytes[12..12 + n], &bytes[12 + n..]))
}

/// Which model a weights file holds, and its metadata.
pub fn peek(bytes: &[u8]) -> Result<(String, serde_json::Value), WeightsError> {
    let (h, _) = split(bytes)?;
    let v: serde_json::Value =
        serde_json::from_slice(h).map_err(|e| WeightsError::BadHeader(e.to_string()))?;
    let m: ModelOnly =
        serde_json::from_value(v.clone()).map_err(|e| WeightsError::BadHeader(e.to_string()))?;
    Ok((m.model, v.get("meta").cloned().unwrap_or_default()))
}

/// Loads a model of type `M` from a weights file, on `device`.
pub fn from_bytes<M: Weights>(
    bytes: &[u8],
    device: &Device,
) -> Result<(M, M::Config, serde_json::Value), WeightsError> {
    let (h, body) = split(bytes)?;
    let m: ModelOnly =
        serde_json::from_slice(h).map_err(|e| WeightsError::BadHeader(e.to_string()))?;
    if m.model != M::NAME {
        return Err(WeightsError::WrongModel {
            expected: M::NAME.into(),
            found: m.model,
        });
    }
    let header: Header<M::Config> =
        serde_json::from_slice(h).map_err(|e| WeightsError::BadHeader(e.to_string()))?;
    M::validate(&header.config).map_err(WeightsError::BadHeader)?;
    if body.is_empty() {
        return Err(WeightsError::Truncated);
    }
    match header.encoding.as_deref() {
        None => {}
        Some(Q8 | Q4) => {
            let model = M::build(&header.config, device);
            let mut shapes = Shapes(Vec::new());
            model.visit(&mut shapes);
            let values = q8_decode(body, &shapes.0)?;
            let model = model.map(&mut Load {
                values: values.into_iter(),
                device,
            });
            return Ok((model, header.config, header.meta));
        }
        Some(other) => {
            return Err(WeightsError::BadHeader(format!(
                "unknown parameter encoding {other:?}"
            )))
        }
    }
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(body.to_vec()))
        .map_err(|e| WeightsError::Record(format!("{e:?}")))?
        .cast_to_module_dtype();
    let model = M::build(&header.config, device)
        .try_load_record(record)
        .map_err(|e| WeightsError::Record(format!("{e:?}")))?;
    Ok((model, header.config, header.meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::DenoiserKind;
    use crate::platform::test_device;

    /// The largest absolute difference between two outputs.
    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn async_copy_to_another_backend_keeps_outputs_and_bytes() {
        use crate::models::{LatentAe, LatentAeConfig};
        let flex = crate::platform::CpuBackend::Flex.device();
        let cfg = LatentAeConfig::new().with_latent(3).with_width(4);
        let m: LatentAe = cfg.init(&flex);
        let nd = test_device();
        let copy = crate::platform::block_on(to_device_async(m.clone(), &nd)).unwrap();
        let x = Tensor::<4>::ones([2, 1, 28, 28], &flex);
        let a: Vec<f32> = m.forward(x).into_data().try_into_vec_as().unwrap();
        let y = Tensor::<4>::ones([2, 1, 28, 28], &nd);
        let b: Vec<f32> = copy.forward(y).into_data().try_into_vec_as().unwrap();
        // Two backends, two convolution kernels: equal up to rounding.
        let worst = max_diff(&a, &b);
        assert_eq!(a.len(), b.len());
        assert!(worst < 1e-5, "outputs differ by {worst}");
        // The file written from the copy is the file written directly.
        let direct = to_bytes(&m, &cfg, serde_json::json!({"k": 1})).unwrap();
        let async_ =
            crate::platform::block_on(to_bytes_async(&m, &cfg, serde_json::json!({"k": 1})))
                .unwrap();
        assert_eq!(direct, async_);
        // And it loads back into a model with the same outputs.
        let (back, _, meta) = from_bytes::<LatentAe>(&async_, &flex).unwrap();
        assert_eq!(meta["k"], 1);
        let x = Tensor::<4>::ones([2, 1, 28, 28], &flex);
        let c: Vec<f32> = back.forward(x).into_data().try_into_vec_as().unwrap();
        assert!(a == c, "the reloaded model's outputs differ");
    }

    #[test]
    fn half_precision_files_are_half_the_size_and_load_as_f32() {
        let flex = crate::platform::CpuBackend::Flex.device();
        let cfg = ClassifierConfig::new();
        let m: Classifier = cfg.init(&flex);
        let full = to_bytes(&m, &cfg, serde_json::json!({"k": 2})).unwrap();
        let (half, name) = convert(&full, Storage::F16).unwrap();
        assert_eq!(name, "classifier");
        // Every parameter goes from 4 bytes to 2 (the header is the same;
        // the container aligns each tensor, which moves a few bytes either way).
        let saved = full.len() - half.len();
        let n = m.num_params();
        assert!(n > 400_000);
        assert!(
            (2 * n - 4096..2 * n + 4096).contains(&saved),
            "{} -> {} bytes",
            full.len(),
            half.len()
        );
        // Halving a half file again keeps its size.
        assert_eq!(convert(&half, Storage::F16).unwrap().0.len(), half.len());
        let dev = test_device();
        let (back, _, meta) = from_bytes::<Classifier>(&half, &dev).unwrap();
        assert_eq!(meta["k"], 2);
        let x = Tensor::<4>::random(
            [3, 1, 28, 28],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &flex,
        );
        let xd = Tensor::<4>::from_data(x.to_data(), &dev);
        let out = back.probabilities(xd);
        assert_eq!(out.dtype(), DType::F32);
        let a: Vec<f32> = m.probabilities(x).into_data().try_into_vec_as().unwrap();
        let b: Vec<f32> = out.into_data().try_into_vec_as().unwrap();
        let worst = max_diff(&a, &b);
        assert!(worst < 5e-3, "probabilities differ by {worst}");
        assert!(worst > 0.0, "f16 storage should round something");
        // Not an aelab file: a clear error, not a panic.
        assert_eq!(
            convert(b"nope", Storage::F16).unwrap_err(),
            WeightsError::NotAelab
        );
    }

    /// The classifier loaded from a quantised `file` gives logits within
    /// `tol` × their largest magnitude of `m`'s (and not identical: the
    /// weights were rounded), and converting the file to f32 keeps the
    /// quantised values exactly.
    fn quantised_is_close_and_exact_in_f32(m: &Classifier, file: &[u8], tol: f32) {
        let flex = crate::platform::CpuBackend::Flex.device();
        let dev = test_device();
        let x = Tensor::<4>::random(
            [3, 1, 28, 28],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &flex,
        );
        let logits = |c: &Classifier| -> Vec<f32> {
            let xd = Tensor::<4>::from_data(x.to_data(), &dev);
            c.forward(xd).into_data().try_into_vec_as().unwrap()
        };
        let a: Vec<f32> = m.forward(x.clone()).into_data().try_into_vec_as().unwrap();
        let (back, _, _) = from_bytes::<Classifier>(file, &dev).unwrap();
        let b = logits(&back);
        let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = max_diff(&a, &b);
        assert!(
            worst > 0.0 && worst < tol * scale,
            "logits differ by {worst} (scale {scale})"
        );
        let (f32_again, _) = convert(file, Storage::F32).unwrap();
        let (again, _, _) = from_bytes::<Classifier>(&f32_again, &dev).unwrap();
        assert_eq!(b, logits(&again));
    }

    #[test]
    fn eight_bit_files_are_a_quarter_and_close() {
        let flex = crate::platform::CpuBackend::Flex.device();
        let cfg = ClassifierConfig::new();
        let m: Classifier = cfg.init(&flex);
        let full = to_bytes(&m, &cfg, serde_json::json!({"k": 3})).unwrap();
        let (q8, name) = convert(&full, Storage::Q8).unwrap();
        assert_eq!(name, "classifier");
        let n = m.num_params();
        assert!(
            q8.len() < n + n / 8,
            "{} bytes for {n} parameters",
            q8.len()
        );
        let dev = test_device();
        let (_, _, meta) = from_bytes::<Classifier>(&q8, &dev).unwrap();
        assert_eq!(meta["k"], 3);
        assert_eq!(peek(&q8).unwrap().0, "classifier");
        quantised_is_close_and_exact_in_f32(&m, &q8, 0.05);
        // Damaged 8-bit files: clear errors, never a panic.
        let (h, body) = split(&q8).unwrap();
        let start = 12 + h.len();
        for cut in [1, 5, body.len() / 2, body.len() - 1] {
            let e = from_bytes::<Classifier>(&q8[..start + cut], &dev).unwrap_err();
            assert!(
                matches!(e, WeightsError::Truncated | WeightsError::Record(_)),
                "{e:?}"
            );
        }
        let mut extra = q8.clone();
        extra.push(0);
        assert!(matches!(
            from_bytes::<Classifier>(&extra, &dev).unwrap_err(),
            WeightsError::Record(_)
        ));
        let mut bad_kind = q8.clone();
        bad_kind[start + 20] = 7; // conv1's weight: rank 4, four dims, then its kind
        let e = from_bytes::<Classifier>(&bad_kind, &dev).unwrap_err();
        assert!(e.to_string().contains("unknown encoding"), "{e}");
        // Another model's 8-bit body under this configuration.
        let other = ClassifierConfig::new().with_hidden(64);
        let small = to_bytes_as(
            &other.init(&flex),
            &other,
            serde_json::Value::Null,
            Storage::Q8,
        )
        .unwrap();
        let (_, small_body) = split(&small).unwrap();
        let mut forged = q8[..start].to_vec();
        forged.extend_from_slice(small_body);
        let e = from_bytes::<Classifier>(&forged, &dev).unwrap_err();
        assert!(e.to_string().contains("shape"), "{e}");
    }

    #[test]
    fn four_bit_dense_layers_are_smaller_and_close() {
        let flex = crate::platform::CpuBackend::Flex.device();
        let cfg = ClassifierConfig::new();
        let m: Classifier = cfg.init(&flex);
        let full = to_bytes(&m, &cfg, serde_json::Value::Null).unwrap();
        let (q8, _) = convert(&full, Storage::Q8).unwrap();
        let (q4, name) = convert(&full, Storage::Q4).unwrap();
        assert_eq!(name, "classifier");
        // fc1 (3136 × 128 values) goes from one byte per value to half.
        let fc1 = 3136 * 128;
        assert!(
            q4.len() + fc1 / 2 - 64 <= q8.len() && q8.len() <= q4.len() + fc1 / 2 + 64,
            "q8 {} bytes, q4 {} bytes",
            q8.len(),
            q4.len()
        );
        // Every nibble survives re-encoding, the signs of -7 … -1 included.
        quantised_is_close_and_exact_in_f32(&m, &q4, 0.15);
        let dev = test_device();
        // A 4-bit tensor cut short is an error, not a panic.
        let e = from_bytes::<Classifier>(&q4[..q4.len() - 300], &dev).unwrap_err();
        assert!(
            matches!(e, WeightsError::Truncated | WeightsError::Record(_)),
            "{e:?}"
        );
    }

    #[test]
    fn nibbles_round_trip() {
        // An odd count, every level from -7 to 7, one all-zero slice.
        let mut values: Vec<f32> = (-7..=7).map(|v| v as f32 * 0.5).collect();
        values.extend([0.0; 15]);
        let dims = [2usize, 15];
        let mut body = Vec::new();
        q8_encode(&values, &dims, true, &mut body);
        assert_eq!(body[12], 2, "kind byte");
        assert_eq!(body.len(), 4 + 8 + 1 + 2 * 4 + 15);
        let back = q8_decode(&body, &[dims.to_vec()]).unwrap();
        let got: Vec<f32> = back[0].try_to_vec().unwrap();
        assert_eq!(got, values);
    }

    #[test]
    fn round_trip_keeps_outputs() {
        let dev = test_device();
        let cfg = DenoiserConfig::canonical();
        let m = cfg.init(&dev);
        let bytes = to_bytes(&m, &cfg, serde_json::json!({"note": "test"})).unwrap();
        let (m2, cfg2, meta) = from_bytes::<Denoiser>(&bytes, &dev).unwrap();
        assert_eq!(cfg2.kind, DenoiserKind::Canonical);
        assert_eq!(meta["note"], "test");
        let x = Tensor::<4>::ones([1, 1, 28, 28], &dev);
        let a: Vec<f32> = m.forward(x.clone()).into_data().try_into_vec_as().unwrap();
        let b: Vec<f32> = m2.forward(x).into_data().try_into_vec_as().unwrap();
        assert_eq!(a, b);
        assert_eq!(peek(&bytes).unwrap().0, "denoiser");
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let dev = test_device();
        let cfg = DenoiserConfig::canonical();
        let bytes = to_bytes(&cfg.init(&dev), &cfg, serde_json::Value::Null).unwrap();
        assert_eq!(
            from_bytes::<Denoiser>(&[], &dev).unwrap_err(),
            WeightsError::Empty
        );
        assert_eq!(
            from_bytes::<Denoiser>(b"\x89PNG\r\n\x1a\n....", &dev).unwrap_err(),
            WeightsError::NotAelab
        );
        assert_eq!(
            from_bytes::<Denoiser>(&bytes[..10], &dev).unwrap_err(),
            WeightsError::Truncated
        );
        // Truncated burn record.
        let e = from_bytes::<Denoiser>(&bytes[..bytes.len() - 100], &dev).unwrap_err();
        assert!(matches!(e, WeightsError::Record(_)), "{e:?}");
        // A classifier file offered as a denoiser.
        let ccfg = ClassifierConfig::new();
        let cbytes = to_bytes(&ccfg.init(&dev), &ccfg, serde_json::Value::Null).unwrap();
        let e = from_bytes::<Denoiser>(&cbytes, &dev).unwrap_err();
        assert!(e.to_string().contains("holds a classifier"), "{e}");
        // Weights of another architecture under the right name.
        let skip = DenoiserConfig::skip();
        let mut forged = to_bytes(&skip.init(&dev), &skip, serde_json::Value::Null).unwrap();
        let canon_header = serde_json::to_vec(&Header {
            model: "denoiser".into(),
            config: &cfg,
            meta: serde_json::Value::Null,
            encoding: None,
        })
        .unwrap();
        let (_, body) = split(&forged).unwrap();
        let body = body.to_vec();
        forged.clear();
        forged.extend_from_slice(MAGIC);
        forged.extend_from_slice(&(canon_header.len() as u32).to_le_bytes());
        forged.extend_from_slice(&canon_header);
        forged.extend_from_slice(&body);
        assert!(matches!(
            from_bytes::<Denoiser>(&forged, &dev).unwrap_err(),
            WeightsError::Record(_)
        ));
        // A header whose configuration would make an absurd model.
        let mut huge = serde_json::to_value(&cfg).unwrap();
        huge["width"] = serde_json::json!(1_000_000);
        let header =
            serde_json::to_vec(&serde_json::json!({"model": "denoiser", "config": huge})).unwrap();
        let mut evil = MAGIC.to_vec();
        evil.extend_from_slice(&(header.len() as u32).to_le_bytes());
        evil.extend_from_slice(&header);
        evil.extend_from_slice(&body);
        let e = from_bytes::<Denoiser>(&evil, &dev).unwrap_err();
        assert!(e.to_string().contains("width is 1000000"), "{e}");
        // Garbage header JSON.
        let mut bad = bytes.clone();
        bad[12] = b'#';
        assert!(matches!(
            from_bytes::<Denoiser>(&bad, &dev).unwrap_err(),
            WeightsError::BadHeader(_)
        ));
    }
}
