//! The networks, as burn modules. They hold no backend type: burn 0.22
//! dispatches on the [`Device`](burn::tensor::Device) the tensors live on,
//! so one model type runs on NdArray, Flex or WebGPU, with or without
//! autodiff.

pub mod classifier;
pub mod denoiser;
pub mod latent;
pub mod record;
pub mod series;
pub mod spec;

pub use classifier::{Classifier, ClassifierConfig};
pub use denoiser::{Denoiser, DenoiserConfig, DenoiserKind};
pub use latent::{LatentAe, LatentAeConfig};
pub use series::{SeriesAe, SeriesAeConfig, SeriesModelKind};
pub use spec::{ModelSpec, Net};

use burn::prelude::*;

/// Binary cross-entropy between `sigmoid(logits)` and `target` in [0, 1],
/// computed from the logits for numerical stability:
/// `max(z, 0) - z·y + log(1 + exp(-|z|))`, averaged over all elements.
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
    let pos = logits.clone().clamp_min(0.0);
    let cross = logits.clone() * target;
    let soft = logits.abs().neg().exp().add_scalar(1.0).log();
    (pos - cross + soft).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::test_device;

    #[test]
    fn upsample_repeats_pixels() {
        let dev = test_device();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]),
            &dev,
        );
        let y: Vec<f32> = crate::engine::upsample2(x)
            .into_data()
            .try_into_vec_as()
            .unwrap();
        assert_eq!(
            y,
            vec![1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]
        );
    }

    #[test]
    fn bce_matches_hand_value() {
        let dev = test_device();
        // z = 0 -> p = 0.5; BCE = ln 2 whatever the target.
        let z = Tensor::<1>::from_data(TensorData::new(vec![0.0f32, 0.0], [2]), &dev);
        let y = Tensor::<1>::from_data(TensorData::new(vec![0.0f32, 1.0], [2]), &dev);
        let l: f32 = bce_with_logits(z, y).into_scalar();
        assert!((l - std::f32::consts::LN_2).abs() < 1e-6);
        // z = 2, y = 1 -> ln(1 + e^-2) = 0.126928
        let z = Tensor::<1>::from_data(TensorData::new(vec![2.0f32], [1]), &dev);
        let y = Tensor::<1>::from_data(TensorData::new(vec![1.0f32], [1]), &dev);
        let l: f32 = bce_with_logits(z, y).into_scalar();
        assert!((l - 0.126_928).abs() < 1e-5);
    }
}
