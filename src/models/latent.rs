//! A convolutional autoencoder with a vector latent, for the augmentation
//! lab: conv encoder → dense bottleneck of `latent` dimensions → dense →
//! conv decoder. New digits are made by decoding chosen latent codes.

use crate::engine::{self, Act};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

#[derive(Config, Debug)]
pub struct LatentAeConfig {
    /// Dimensions of the code: 2 for a picture of the latent plane, 8–32
    /// for quality.
    #[config(default = 16)]
    pub latent: usize,
    /// Channels of the 28×28 layers; the 14×14 layers have twice as many.
    #[config(default = 16)]
    pub width: usize,
}

#[derive(Module, Debug)]
pub struct LatentAe {
    pub(crate) enc1: Conv2d,
    pub(crate) enc2: Conv2d,
    pub(crate) to_code: Linear,
    pub(crate) from_code: Linear,
    pub(crate) dec1: Conv2d,
    pub(crate) out: Conv2d,
    pool: MaxPool2d,
    /// Channels at 7×7 (twice the width).
    deep: usize,
}

impl LatentAeConfig {
    pub fn init(&self, device: &Device) -> LatentAe {
        let w = self.width;
        let deep = 2 * w;
        let conv = |a: usize, b: usize| {
            Conv2dConfig::new([a, b], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        LatentAe {
            enc1: conv(1, w),
            enc2: conv(w, deep),
            to_code: LinearConfig::new(deep * 49, self.latent).init(device),
            from_code: LinearConfig::new(self.latent, deep * 49).init(device),
            dec1: conv(deep, w),
            out: conv(w, 1),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            deep,
        }
    }
}

impl LatentAe {
    pub fn latent(&self) -> usize {
        self.to_code.weight.dims()[1]
    }

    /// Codes, `[n, latent]`.
    pub fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        let h = engine::conv2d_pool(&self.enc1, &self.pool, x, Act::Relu); // 14×14
        let h = engine::conv2d_pool(&self.enc2, &self.pool, h, Act::Relu); // 7×7
        let [n, c, hh, ww] = h.dims();
        self.to_code.forward(h.reshape([n, c * hh * ww]))
    }

    /// Pre-sigmoid images, `[n, 1, 28, 28]`.
    pub fn decode_logits(&self, z: Tensor<2>) -> Tensor<4> {
        let [n, _] = z.dims();
        let h = relu(self.from_code.forward(z)).reshape([n, self.deep, 7, 7]);
        let h = engine::upsample_conv2d(&self.dec1, h, Act::Relu); // 14×14
        engine::upsample_conv2d(&self.out, h, Act::Linear) // 28×28
    }

    /// Images in [0, 1], `[n, 1, 28, 28]`.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<4> {
        sigmoid(self.decode_logits(z))
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::test_device;

    #[test]
    fn shapes() {
        let dev = test_device();
        for d in [2, 16] {
            let m = LatentAeConfig::new().with_latent(d).init(&dev);
            assert_eq!(m.latent(), d);
            let x = Tensor::<4>::zeros([3, 1, 28, 28], &dev);
            let z = m.encode(x.clone());
            assert_eq!(z.dims(), [3, d]);
            let y = m.decode(z);
            assert_eq!(y.dims(), [3, 1, 28, 28]);
            let v: Vec<f32> = y.into_data().try_into_vec_as().unwrap();
            assert!(v.iter().all(|p| (0.0..=1.0).contains(p)));
        }
    }
}
