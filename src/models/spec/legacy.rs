//! aelab 0.1's model files ("denoiser", "augmenter", "series-autoencoder")
//! as nets: the file's configuration becomes its preset spec, and its
//! parameters move into the net's blocks unchanged, so a saved model (the
//! shipped ones, a student's download or the page's storage) computes
//! exactly what it did.

use super::net::Block;
use super::{presets, ModelSpec, Net, Purpose, SpecError};
use crate::models::record::{self, Weights, WeightsError};
use crate::models::{Denoiser, DenoiserConfig, LatentAe, LatentAeConfig, SeriesAe, SeriesAeConfig};
use burn::prelude::*;

/// The net of an aelab 0.1 denoiser, with the same parameters.
pub fn from_denoiser(m: Denoiser, c: &DenoiserConfig) -> Result<Net, SpecError> {
    let mut blocks = vec![Block::Conv2d(m.enc1), Block::Conv2d(m.enc2)];
    blocks.extend(m.mid.into_iter().map(Block::Conv2d));
    blocks.extend([Block::Conv2d(m.dec2), Block::Conv2d(m.out)]);
    Net::from_blocks(&presets::denoiser(c), blocks)
}

/// The net of an aelab 0.1 augmenter, with the same parameters.
pub fn from_latent_ae(m: LatentAe, c: &LatentAeConfig) -> Result<Net, SpecError> {
    let blocks = vec![
        Block::Conv2d(m.enc1),
        Block::Conv2d(m.enc2),
        Block::Dense(m.to_code),
        Block::Dense(m.from_code),
        Block::Conv2d(m.dec1),
        Block::Conv2d(m.out),
    ];
    Net::from_blocks(&presets::latent_ae(c), blocks)
}

/// The net of an aelab 0.1 series autoencoder, with the same parameters.
pub fn from_series_ae(m: SeriesAe, c: &SeriesAeConfig) -> Result<Net, SpecError> {
    let mut blocks: Vec<Block> = Vec::new();
    blocks.extend(m.dense_enc.into_iter().map(Block::Dense));
    blocks.extend(m.dense_dec.into_iter().map(Block::Dense));
    blocks.extend(m.conv_enc.into_iter().map(Block::Conv1d));
    blocks.extend(m.conv_down.into_iter().map(Block::Dense));
    blocks.extend(m.conv_up.into_iter().map(Block::Dense));
    blocks.extend(m.conv_dec.into_iter().map(Block::Conv1d));
    blocks.extend(m.conv_out.into_iter().map(Block::Conv1d));
    Net::from_blocks(&presets::series(c), blocks)
}

/// The file's model name that a lab reads from aelab 0.1.
fn legacy_name(p: Purpose) -> &'static str {
    match p {
        Purpose::Denoise => Denoiser::NAME,
        Purpose::Augment => LatentAe::NAME,
        Purpose::Anomaly => SeriesAe::NAME,
    }
}

/// Loads a model for a lab from a weights file: a net (any spec that suits
/// the lab), or an aelab 0.1 file of the lab's kind.
pub fn load(
    bytes: &[u8],
    device: &Device,
    purpose: Purpose,
) -> Result<(Net, ModelSpec, serde_json::Value), WeightsError> {
    let (name, _) = record::peek(bytes)?;
    let spec_err = |e: SpecError| WeightsError::BadHeader(e.message);
    let (net, meta) = match name.as_str() {
        n if n == Net::NAME => {
            let (net, spec, meta) = record::from_bytes::<Net>(bytes, device)?;
            purpose
                .check(&spec)
                .map_err(|e| WeightsError::Unsuited(e.message))?;
            (net, meta)
        }
        n if n == legacy_name(purpose) => match purpose {
            Purpose::Denoise => {
                let (m, c, meta) = record::from_bytes::<Denoiser>(bytes, device)?;
                (from_denoiser(m, &c).map_err(spec_err)?, meta)
            }
            Purpose::Augment => {
                let (m, c, meta) = record::from_bytes::<LatentAe>(bytes, device)?;
                (from_latent_ae(m, &c).map_err(spec_err)?, meta)
            }
            Purpose::Anomaly => {
                let (m, c, meta) = record::from_bytes::<SeriesAe>(bytes, device)?;
                (from_series_ae(m, &c).map_err(spec_err)?, meta)
            }
        },
        _ => {
            return Err(WeightsError::WrongModel {
                expected: format!("{} lab model", purpose.lab()),
                found: name,
            })
        }
    };
    let spec = net.spec().clone();
    Ok((net, spec, meta))
}

/// The lab model a weights file holds, by aelab 0.1's names: a net for
/// digits is a `"denoiser"` (any such net denoises, with or without a
/// latent layer), a net for series a `"series-autoencoder"`; other files
/// give their model's name (`"classifier"`, `"augmenter"`).
pub fn kind(bytes: &[u8]) -> Result<String, WeightsError> {
    let (name, _) = record::peek(bytes)?;
    if name != Net::NAME {
        return Ok(name);
    }
    let header = record::peek_header(bytes)?;
    let spec = ModelSpec::from_value(header.get("config").cloned().unwrap_or_default())
        .map_err(|e| WeightsError::BadHeader(e.message))?;
    Ok(if Purpose::Anomaly.check(&spec).is_ok() {
        SeriesAe::NAME
    } else {
        Denoiser::NAME
    }
    .to_string())
}
