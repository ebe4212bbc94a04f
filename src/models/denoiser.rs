//! Convolutional denoising autoencoders for 28×28 digits.

use crate::engine::{self, upsample2, Act};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

/// Which architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub enum DenoiserKind {
    /// The Keras-blog denoiser: Conv 32 → pool → Conv 32 → pool → Conv 32 →
    /// up → Conv 32 → up → Conv 1 (sigmoid).
    Canonical,
    /// A skip-connected variant: a wider, deeper 7×7 bottleneck and additive
    /// skips from the 28×28 and 14×14 encoder features into the decoder.
    Skip,
}

impl DenoiserKind {
    pub fn name(self) -> &'static str {
        match self {
            DenoiserKind::Canonical => "canonical",
            DenoiserKind::Skip => "skip",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "canonical" => Ok(Self::Canonical),
            "skip" => Ok(Self::Skip),
            _ => Err(format!(
                "unknown denoiser kind '{s}': expected 'canonical' or 'skip'"
            )),
        }
    }
}

#[derive(Config, Debug)]
pub struct DenoiserConfig {
    #[config(default = "DenoiserKind::Canonical")]
    pub kind: DenoiserKind,
    /// Channels of the first layers (32 in the canonical model).
    #[config(default = 32)]
    pub width: usize,
    /// Channels of the 7×7 bottleneck of the skip model.
    #[config(default = 64)]
    pub bottleneck: usize,
    /// Number of 3×3 convolutions at 7×7 in the skip model.
    #[config(default = 3)]
    pub depth: usize,
}

fn conv(cin: usize, cout: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [3, 3])
        .with_padding(PaddingConfig2d::Same)
        .init(device)
}

#[derive(Module, Debug)]
pub struct Denoiser {
    pub(crate) enc1: Conv2d,
    pub(crate) enc2: Conv2d,
    /// Canonical: one conv at 7×7. Skip: `depth` convs.
    pub(crate) mid: Vec<Conv2d>,
    /// Canonical: the decoder's 14×14 conv. Skip: also the 14×14 conv.
    pub(crate) dec2: Conv2d,
    pub(crate) out: Conv2d,
    pool: MaxPool2d,
    pub(crate) skip: bool,
}

impl DenoiserConfig {
    pub fn canonical() -> Self {
        Self::new()
    }

    pub fn skip() -> Self {
        Self::new().with_kind(DenoiserKind::Skip)
    }

    pub fn init(&self, device: &Device) -> Denoiser {
        let w = self.width;
        let pool = MaxPool2dConfig::new([2, 2]).init();
        match self.kind {
            DenoiserKind::Canonical => Denoiser {
                enc1: conv(1, w, device),
                enc2: conv(w, w, device),
                mid: vec![conv(w, w, device)],
                dec2: conv(w, w, device),
                out: conv(w, 1, device),
                pool,
                skip: false,
            },
            DenoiserKind::Skip => {
                let b = self.bottleneck;
                let w2 = 2 * w;
                let mut mid = vec![conv(w2, b, device)];
                for _ in 1..self.depth.max(1) {
                    mid.push(conv(b, b, device));
                }
                // The last bottleneck conv returns to the 14×14 width.
                mid.push(conv(b, w2, device));
                Denoiser {
                    enc1: conv(1, w, device),
                    enc2: conv(w, w2, device),
                    mid,
                    dec2: conv(w2, w, device),
                    out: conv(w, 1, device),
                    pool,
                    skip: true,
                }
            }
        }
    }
}

impl Denoiser {
    /// Pre-sigmoid output, `[n, 1, 28, 28]`, for a loss on logits.
    pub fn forward_logits(&self, x: Tensor<4>) -> Tensor<4> {
        if !self.skip {
            // Nothing but the pool reads the encoder's maps, and nothing but
            // the next conv the upsampled ones: fused on the engine.
            let h = engine::conv2d_pool(&self.enc1, &self.pool, x, Act::Relu); // 14×14
            let mut h = engine::conv2d_pool(&self.enc2, &self.pool, h, Act::Relu); // 7×7
            for c in &self.mid {
                h = engine::conv2d(c, h, Act::Relu);
            }
            let h = engine::upsample_conv2d(&self.dec2, h, Act::Relu); // 14×14
            return engine::upsample_conv2d(&self.out, h, Act::Linear); // 28×28
        }
        let e1 = engine::conv2d(&self.enc1, x, Act::Relu); // 28×28
        let p1 = engine::max_pool2d(&self.pool, e1.clone()); // 14×14
        let e2 = engine::conv2d(&self.enc2, p1, Act::Relu);
        let mut h = engine::max_pool2d(&self.pool, e2.clone()); // 7×7
        for c in &self.mid {
            h = engine::conv2d(c, h, Act::Relu);
        }
        let h = upsample2(h) + e2; // 14×14
        let h = upsample2(engine::conv2d(&self.dec2, h, Act::Relu)) + e1; // 28×28
        engine::conv2d(&self.out, h, Act::Linear)
    }

    /// Denoised images in [0, 1], `[n, 1, 28, 28]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        sigmoid(self.forward_logits(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::test_device;

    #[test]
    fn output_shapes_and_range() {
        let dev = test_device();
        for cfg in [DenoiserConfig::canonical(), DenoiserConfig::skip()] {
            let m = cfg.init(&dev);
            let x = Tensor::<4>::random([3, 1, 28, 28], burn::tensor::Distribution::Default, &dev);
            let y = m.forward(x);
            assert_eq!(y.dims(), [3, 1, 28, 28]);
            let v: Vec<f32> = y.into_data().try_into_vec_as().unwrap();
            assert!(v.iter().all(|p| (0.0..=1.0).contains(p)));
        }
        // The canonical model has the Keras blog's 28 353 parameters.
        assert_eq!(DenoiserConfig::canonical().init(&dev).num_params(), 28_353);
    }
}
