//! The models a weights file can hold: each names itself and checks a
//! configuration (which may come from an untrusted file) before any layer
//! is built from it.

use crate::models::{
    Classifier, ClassifierConfig, Denoiser, DenoiserConfig, LatentAe, LatentAeConfig, ModelSpec,
    Net, SeriesAe, SeriesAeConfig, SeriesModelKind,
};
use burn::module::Module;
use burn::prelude::*;
use serde::{de::DeserializeOwned, Serialize};

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

/// The most parameters a net in a file may have (the page trains at most
/// 2 million, [`crate::models::spec::Limits`]; the CLI more).
pub const MAX_NET_PARAMS: usize = 16_000_000;

impl Weights for Net {
    type Config = ModelSpec;
    const NAME: &'static str = "net";
    fn validate(spec: &ModelSpec) -> Result<(), String> {
        let s = spec.summary()?;
        if s.total_params > MAX_NET_PARAMS {
            return Err(format!(
                "the model has {} parameters, over {MAX_NET_PARAMS}",
                s.total_params
            ));
        }
        Ok(())
    }
    fn build(spec: &ModelSpec, device: &Device) -> Self {
        Net::build(spec, device).expect("validated before it is built")
    }
}
