//! Autoencoders for fixed-length time series (values min–max scaled to
//! [0, 1]), sized to the input length: a dense one (the TF "Intro to
//! Autoencoders" ECG model: L → 32 → 16 → 8 and back) and a 1-D
//! convolutional one: strided convolutions down, a dense bottleneck, and
//! upsampling convolutions back. (Without the dense bottleneck, as in the
//! Keras NAB example, every position keeps its own code and the model
//! learns to copy anomalies too: AUROC 0.939 on ECG5000, against 0.99
//! with it; docs/results.md.)

use crate::engine::{self, upsample1, Act};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig1d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SeriesModelKind {
    Dense,
    Conv1d,
}

impl SeriesModelKind {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "dense" => Ok(Self::Dense),
            "conv1d" | "conv" => Ok(Self::Conv1d),
            _ => Err(format!("unknown model '{s}': expected dense or conv1d")),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Dense => "dense",
            Self::Conv1d => "conv1d",
        }
    }
}

#[derive(Config, Debug)]
pub struct SeriesAeConfig {
    pub kind: SeriesModelKind,
    /// Points per series.
    pub length: usize,
    /// The bottleneck width (8 in the tutorial's dense model); the conv1d
    /// model's dense bottleneck too.
    #[config(default = 8)]
    pub latent: usize,
    /// Dense: hidden layers each way (3: 32, 16, 8). Conv1d: stride-2
    /// convolutions each way.
    #[config(default = 3)]
    pub depth: usize,
}

#[derive(Module, Debug)]
pub struct SeriesAe {
    pub(crate) dense_enc: Vec<Linear>,
    pub(crate) dense_dec: Vec<Linear>,
    pub(crate) conv_enc: Vec<Conv1d>,
    pub(crate) conv_dec: Vec<Conv1d>,
    pub(crate) conv_out: Option<Conv1d>,
    /// The conv model's dense bottleneck: the deepest feature map, flattened,
    /// down to `latent` values and back.
    pub(crate) conv_down: Option<Linear>,
    pub(crate) conv_up: Option<Linear>,
    /// Channels of the deepest feature map (conv model).
    deep: usize,
    length: usize,
    /// The conv model pads the series to a multiple of 2^depth.
    padded: usize,
}

impl SeriesAeConfig {
    /// The widths of the dense layers from the input down: latent·2^(d−1),
    /// …, latent (32, 16, 8 for latent 8 and depth 3).
    fn dense_widths(&self) -> Vec<usize> {
        (0..self.depth).rev().map(|k| self.latent << k).collect()
    }

    pub fn init(&self, device: &Device) -> SeriesAe {
        let l = self.length;
        match self.kind {
            SeriesModelKind::Dense => {
                let w = self.dense_widths();
                let mut enc = Vec::new();
                let mut prev = l;
                for &h in &w {
                    enc.push(LinearConfig::new(prev, h).init(device));
                    prev = h;
                }
                let mut dec = Vec::new();
                for &h in w.iter().rev().skip(1) {
                    dec.push(LinearConfig::new(prev, h).init(device));
                    prev = h;
                }
                dec.push(LinearConfig::new(prev, l).init(device));
                SeriesAe {
                    dense_enc: enc,
                    dense_dec: dec,
                    conv_enc: vec![],
                    conv_dec: vec![],
                    conv_out: None,
                    conv_down: None,
                    conv_up: None,
                    deep: 0,
                    length: l,
                    padded: l,
                }
            }
            SeriesModelKind::Conv1d => {
                let conv = |a: usize, b: usize, stride: usize| {
                    Conv1dConfig::new(a, b, 7)
                        .with_stride(stride)
                        .with_padding(PaddingConfig1d::Explicit(3, 3))
                        .init(device)
                };
                // Channels from the top: 16, 32, 64, … (at most 64).
                let chans: Vec<usize> = (0..self.depth).map(|k| (16usize << k).min(64)).collect();
                let mut enc = Vec::new();
                let mut prev = 1;
                for &c in &chans {
                    enc.push(conv(prev, c, 2));
                    prev = c;
                }
                let deep = prev;
                let mut dec = Vec::new();
                for &c in chans.iter().rev().skip(1).chain(std::iter::once(&16usize)) {
                    dec.push(conv(prev, c, 1));
                    prev = c;
                }
                let m = 1usize << self.depth;
                let padded = l.div_ceil(m) * m;
                let flat = deep * (padded / m);
                SeriesAe {
                    dense_enc: vec![],
                    dense_dec: vec![],
                    conv_enc: enc,
                    conv_dec: dec,
                    conv_out: Some(conv(prev, 1, 1)),
                    conv_down: Some(LinearConfig::new(flat, self.latent).init(device)),
                    conv_up: Some(LinearConfig::new(self.latent, flat).init(device)),
                    deep,
                    length: l,
                    padded,
                }
            }
        }
    }
}

impl SeriesAe {
    pub fn length(&self) -> usize {
        self.length
    }

    /// Pre-sigmoid reconstructions, `[n, length]`.
    pub fn forward_logits(&self, x: Tensor<2>) -> Tensor<2> {
        if let Some(out) = &self.conv_out {
            let [n, l] = x.dims();
            let mut h = x.reshape([n, 1, l]);
            if self.padded > l {
                // Edge padding: repeat the last value.
                let last = h.clone().slice([0..n, 0..1, l - 1..l]);
                let pad = last.expand([n, 1, self.padded - l]);
                h = Tensor::cat(vec![h, pad], 2);
            }
            for c in &self.conv_enc {
                h = engine::conv1d(c, h, Act::Relu);
            }
            if let (Some(down), Some(up)) = (&self.conv_down, &self.conv_up) {
                let [_, c, w] = h.dims();
                let code = down.forward(h.reshape([n, c * w]));
                h = relu(up.forward(code)).reshape([n, self.deep, w]);
            }
            for c in &self.conv_dec {
                h = engine::conv1d(c, upsample1(h), Act::Relu);
            }
            let y = engine::conv1d(out, h, Act::Linear); // [n, 1, padded]
            y.slice([0..n, 0..1, 0..l]).reshape([n, l])
        } else {
            let mut h = x;
            for layer in &self.dense_enc {
                h = relu(layer.forward(h));
            }
            let last = self.dense_dec.len() - 1;
            for (i, layer) in self.dense_dec.iter().enumerate() {
                h = layer.forward(h);
                if i < last {
                    h = relu(h);
                }
            }
            h
        }
    }

    /// Reconstructions in [0, 1], `[n, length]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        sigmoid(self.forward_logits(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::test_device;

    #[test]
    fn shapes_for_odd_and_even_lengths() {
        let dev = test_device();
        for kind in [SeriesModelKind::Dense, SeriesModelKind::Conv1d] {
            for len in [140, 48, 37] {
                let m = SeriesAeConfig::new(kind, len).init(&dev);
                let x = Tensor::<2>::zeros([3, len], &dev);
                assert_eq!(m.forward(x).dims(), [3, len], "{kind:?} {len}");
            }
        }
        // The tutorial's dense model: 140-32-16-8-16-32-140.
        let m = SeriesAeConfig::new(SeriesModelKind::Dense, 140).init(&dev);
        let p = (140 * 32 + 32)
            + (32 * 16 + 16)
            + (16 * 8 + 8)
            + (8 * 16 + 16)
            + (16 * 32 + 32)
            + (32 * 140 + 140);
        assert_eq!(m.num_params(), p);
        // The conv1d model for 140 points (padded to 140, a multiple of 4):
        // 1 → 16 → 32 channels down, 32 × 35 flattened to 8 and back, then
        // 32 → 16 → 16 → 1 up.
        let m = SeriesAeConfig::new(SeriesModelKind::Conv1d, 140)
            .with_depth(2)
            .init(&dev);
        let conv = |a: usize, b: usize| b * a * 7 + b;
        let flat = 32 * 35;
        let p = conv(1, 16)
            + conv(16, 32)
            + (flat * 8 + 8)
            + (8 * flat + flat)
            + conv(32, 16)
            + conv(16, 16)
            + conv(16, 1);
        assert_eq!(m.num_params(), p);
    }
}
