//! Training the classifier on clean MNIST, with random shifts of up to two
//! pixels as the only augmentation.

use super::Task;
use crate::data::{Mnist, PIXELS, SIDE};
use crate::infer::images_tensor;
use crate::models::Classifier;
use crate::rng::Rng;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;

pub struct ClassifyTask {
    pub train: Mnist,
    pub valid: Mnist,
    /// Largest shift in pixels, each way (0 turns augmentation off).
    pub max_shift: i32,
}

/// Shifts a 28×28 image by (dx, dy), filling with 0.
pub fn shift_image(src: &[u8], dx: i32, dy: i32, out: &mut Vec<f32>) {
    for y in 0..SIDE as i32 {
        for x in 0..SIDE as i32 {
            let (sx, sy) = (x - dx, y - dy);
            let v = if (0..SIDE as i32).contains(&sx) && (0..SIDE as i32).contains(&sy) {
                src[(sy as usize) * SIDE + sx as usize] as f32 / 255.0
            } else {
                0.0
            };
            out.push(v);
        }
    }
}

fn labels_tensor(set: &Mnist, indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let l: Vec<i64> = indices.iter().map(|&i| set.labels[i] as i64).collect();
    Tensor::from_data(TensorData::new(l, [indices.len()]), device)
}

impl Task for ClassifyTask {
    type Model = Classifier;

    fn train_len(&self) -> usize {
        self.train.len()
    }

    fn valid_len(&self) -> usize {
        self.valid.len()
    }

    fn train_loss(
        &self,
        model: &Classifier,
        indices: &[usize],
        rng: &mut Rng,
        device: &Device,
    ) -> Tensor<1> {
        let mut px = Vec::with_capacity(indices.len() * PIXELS);
        for &i in indices {
            let (dx, dy) = if self.max_shift > 0 {
                let span = (2 * self.max_shift + 1) as usize;
                (
                    rng.below(span) as i32 - self.max_shift,
                    rng.below(span) as i32 - self.max_shift,
                )
            } else {
                (0, 0)
            };
            shift_image(self.train.image(i), dx, dy, &mut px);
        }
        let logits = model.forward(images_tensor(&px, device));
        CrossEntropyLossConfig::new()
            .init(device)
            .forward(logits, labels_tensor(&self.train, indices, device))
    }

    fn valid_loss(&self, model: &Classifier, indices: &[usize], device: &Device) -> Tensor<1> {
        let logits = model.forward(images_tensor(&self.valid.batch_f32(indices), device));
        CrossEntropyLossConfig::new()
            .init(device)
            .forward(logits, labels_tensor(&self.valid, indices, device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_moves_pixels_and_fills_zero() {
        let mut img = vec![0u8; PIXELS];
        img[5 * SIDE + 5] = 255;
        let mut out = Vec::new();
        shift_image(&img, 2, -1, &mut out);
        assert_eq!(out.len(), PIXELS);
        assert_eq!(out[4 * SIDE + 7], 1.0);
        assert_eq!(out.iter().filter(|&&v| v > 0.0).count(), 1);
    }
}
