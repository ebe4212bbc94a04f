//! aelab weight files: a small self-describing container around burn's
//! record bytes, so that a file says which model and configuration it holds
//! and a wrong or corrupt file gives a clear message.
//!
//! Layout: `AELABW01` · u32 LE length of a JSON header · the JSON header
//! `{"model": "denoiser", "config": {...}, "meta": {...}}` · burnpack bytes
//! (or aelab's q8/q4 encoding).
//!
//! This file is the container and the storages; `weights.rs` the models a
//! file can hold, `visit.rs` the module visitors that read and put
//! parameters, `quant.rs` the 8- and 4-bit codec.

use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, DType};
use serde::{Deserialize, Serialize};
use std::fmt;

mod quant;
mod visit;
mod weights;

pub use visit::to_device_async;
pub use weights::Weights;

use crate::models::{Classifier, Denoiser, LatentAe, Net, SeriesAe};
use quant::{q8_decode, q8_encode, Q4, Q4_MIN_VALUES, Q8};
use visit::{CastFloats, Grab, Load, Shapes};

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
    WrongModel {
        expected: String,
        found: String,
    },
    /// A model that does not suit where it is loaded (a lab's needs).
    Unsuited(String),
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
            WeightsError::Unsuited(e) => write!(f, "{e}"),
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

#[derive(Deserialize)]
struct ModelOnly {
    model: String,
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
                    .map_err(|e| WeightsError::Record(e.to_string()))?;
                let four = storage == Storage::Q4 && values.len() >= Q4_MIN_VALUES;
                q8_encode(&values, &shape.to_vec(), four, &mut body);
            }
            let tag = if storage == Storage::Q4 { Q4 } else { Q8 };
            Ok(assemble(&header::<M>(config, meta, Some(tag))?, &body))
        }
    }
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
        n if n == Net::NAME => go::<Net>(bytes, storage)?,
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
        .map_err(|e| WeightsError::Record(e.to_string()))?;
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

/// A weights file's JSON header.
pub fn peek_header(bytes: &[u8]) -> Result<serde_json::Value, WeightsError> {
    let (h, _) = split(bytes)?;
    serde_json::from_slice(h).map_err(|e| WeightsError::BadHeader(e.to_string()))
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
        .map_err(|e| WeightsError::Record(e.to_string()))?
        .cast_to_module_dtype();
    let model = M::build(&header.config, device)
        .try_load_record(record)
        .map_err(|e| WeightsError::Record(e.to_string()))?;
    Ok((model, header.config, header.meta))
}

#[cfg(test)]
mod tests;
