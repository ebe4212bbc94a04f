//! The digit classifier that judges clean, noisy, denoised and generated
//! digits. It is trained on clean MNIST only (with small random shifts).

use crate::engine::{self, Act};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};

#[derive(Config, Debug)]
pub struct ClassifierConfig {
    #[config(default = 32)]
    pub channels1: usize,
    #[config(default = 64)]
    pub channels2: usize,
    /// Size of the penultimate layer: the feature space used by FID and the
    /// precision/recall metrics of the augmentation lab.
    #[config(default = 128)]
    pub hidden: usize,
    #[config(default = 0.25)]
    pub dropout: f64,
}

#[derive(Module, Debug)]
pub struct Classifier {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Conv2d,
    bn3: BatchNorm,
    fc1: Linear,
    dropout: Dropout,
    fc2: Linear,
    pool: MaxPool2d,
}

impl ClassifierConfig {
    pub fn init(&self, device: &Device) -> Classifier {
        let (c1, c2) = (self.channels1, self.channels2);
        let conv = |a: usize, b: usize| {
            Conv2dConfig::new([a, b], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        Classifier {
            conv1: conv(1, c1),
            bn1: BatchNormConfig::new(c1).init(device),
            conv2: conv(c1, c2),
            bn2: BatchNormConfig::new(c2).init(device),
            conv3: conv(c2, c2),
            bn3: BatchNormConfig::new(c2).init(device),
            fc1: LinearConfig::new(c2 * 7 * 7, self.hidden).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            fc2: LinearConfig::new(self.hidden, 10).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
        }
    }
}

impl Classifier {
    /// Penultimate-layer features, `[n, hidden]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let conv = |layer, x| engine::conv2d(layer, x, Act::Linear);
        let h = engine::batch_norm(&self.bn1, conv(&self.conv1, x), Act::Relu);
        let h = engine::max_pool2d(&self.pool, h); // 14×14
        let h = engine::batch_norm(&self.bn2, conv(&self.conv2, h), Act::Relu);
        let h = engine::max_pool2d(&self.pool, h); // 7×7
        let h = engine::batch_norm(&self.bn3, conv(&self.conv3, h), Act::Relu);
        let [n, c, hh, ww] = h.dims();
        relu(self.fc1.forward(h.reshape([n, c * hh * ww])))
    }

    /// Class logits, `[n, 10]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc2.forward(self.dropout.forward(self.features(x)))
    }

    /// Class probabilities, `[n, 10]`.
    pub fn probabilities(&self, x: Tensor<4>) -> Tensor<2> {
        softmax(self.forward(x), 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::test_device;

    #[test]
    fn output_shapes() {
        let dev = test_device();
        let m = ClassifierConfig::new().init(&dev);
        let x = Tensor::<4>::zeros([5, 1, 28, 28], &dev);
        assert_eq!(m.forward(x.clone()).dims(), [5, 10]);
        assert_eq!(m.features(x.clone()).dims(), [5, 128]);
        let p: Vec<f32> = m.probabilities(x).into_data().try_into_vec_as().unwrap();
        for row in p.chunks(10) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
}
