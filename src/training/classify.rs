//! Training the classifier on clean MNIST, with geometric augmentation only:
//! random shifts, and optionally random rotations, scalings and shears.

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
    /// Largest shift in pixels, each way (0 turns shifting off).
    pub max_shift: i32,
    /// Random affine distortion on top of the shift (none: shifts only).
    pub affine: Option<Affine>,
}

/// Ranges of a random affine distortion about the image centre, each drawn
/// uniformly in ±range. Geometric only: pixel values are resampled
/// (bilinear), never changed otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    /// Rotation, in degrees.
    pub rotate: f32,
    /// Relative change of scale (0.1: 90 % to 110 %).
    pub scale: f32,
    /// Horizontal shear factor.
    pub shear: f32,
}

impl Affine {
    /// The classifier's default: ±12°, ±10 % scale, ±0.2 shear.
    pub const DEFAULT: Affine = Affine {
        rotate: 12.0,
        scale: 0.1,
        shear: 0.2,
    };
}

/// Warps a 28×28 image: rotation by `deg`, scaling by `scale`, shear by
/// `shear`, all about the centre, then a shift by (dx, dy); bilinear, with 0
/// outside the image.
pub fn affine_image(
    src: &[u8],
    deg: f32,
    scale: f32,
    shear: f32,
    dx: f32,
    dy: f32,
    out: &mut Vec<f32>,
) {
    // Forward map: p' = S·H·R·(p − c) + c + d. Each output pixel samples
    // the source at the inverse image.
    let (s, c) = deg.to_radians().sin_cos();
    // A = scale · [[1, shear], [0, 1]] · [[c, −s], [s, c]]
    let a = [
        [scale * (c + shear * s), scale * (-s + shear * c)],
        [scale * s, scale * c],
    ];
    let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    let inv = [
        [a[1][1] / det, -a[0][1] / det],
        [-a[1][0] / det, a[0][0] / det],
    ];
    let ctr = (SIDE as f32 - 1.0) / 2.0;
    let px = |x: i32, y: i32| -> f32 {
        if (0..SIDE as i32).contains(&x) && (0..SIDE as i32).contains(&y) {
            src[y as usize * SIDE + x as usize] as f32 / 255.0
        } else {
            0.0
        }
    };
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (u, v) = (x as f32 - ctr - dx, y as f32 - ctr - dy);
            let sx = inv[0][0] * u + inv[0][1] * v + ctr;
            let sy = inv[1][0] * u + inv[1][1] * v + ctr;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i32, y0 as i32);
            let top = px(x0, y0) * (1.0 - fx) + px(x0 + 1, y0) * fx;
            let bottom = px(x0, y0 + 1) * (1.0 - fx) + px(x0 + 1, y0 + 1) * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
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
            match self.affine {
                None => shift_image(self.train.image(i), dx, dy, &mut px),
                Some(a) => {
                    let deg = rng.uniform_range(-a.rotate, a.rotate);
                    let scale = 1.0 + rng.uniform_range(-a.scale, a.scale);
                    let shear = rng.uniform_range(-a.shear, a.shear);
                    let img = self.train.image(i);
                    affine_image(img, deg, scale, shear, dx as f32, dy as f32, &mut px)
                }
            }
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

    #[test]
    fn affine_identity_and_integer_shift_match_shift_image() {
        let img: Vec<u8> = (0..PIXELS).map(|i| (i * 37 % 256) as u8).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        affine_image(&img, 0.0, 1.0, 0.0, 0.0, 0.0, &mut a);
        shift_image(&img, 0, 0, &mut b);
        assert_eq!(a, b);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        affine_image(&img, 0.0, 1.0, 0.0, 2.0, -1.0, &mut a);
        shift_image(&img, 2, -1, &mut b);
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-5, "{p} vs {q}");
        }
    }

    #[test]
    fn affine_rotation_quarter_turn_and_scale() {
        // A pixel right of the centre goes below it after +90° (y down).
        let mut img = vec![0u8; PIXELS];
        let c = SIDE / 2; // 14: the centre is 13.5, so use a symmetric pair
        img[13 * SIDE + c + 4] = 255; // (x 18, y 13)
        let mut out = Vec::new();
        affine_image(&img, 90.0, 1.0, 0.0, 0.0, 0.0, &mut out);
        // (18, 13) − (13.5, 13.5) = (4.5, −0.5) → rotated (0.5, 4.5) → (14, 18)
        assert!((out[18 * SIDE + 14] - 1.0).abs() < 1e-4);
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-3);
        // Scaling by 2 spreads mass over about four times the area but keeps
        // the values in [0, 1].
        let blob: Vec<u8> = (0..PIXELS)
            .map(|i| {
                if (i / SIDE).abs_diff(13) < 3 && (i % SIDE).abs_diff(13) < 3 {
                    255
                } else {
                    0
                }
            })
            .collect();
        let mut out = Vec::new();
        affine_image(&blob, 0.0, 2.0, 0.0, 0.0, 0.0, &mut out);
        let mass: f32 = out.iter().sum();
        assert!(mass > 3.0 * 25.0 && mass < 5.0 * 25.0, "{mass}");
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
