//! Image-quality and classification metrics, in plain Rust on `f32` slices.

pub mod detection;
pub mod diversity;
pub mod linalg;

/// Peak signal-to-noise ratio in dB of one image against its reference,
/// with pixel values in [0, 1] (peak 1). Identical images give 100 dB (the
/// MSE is floored at 1e-10) so that averages stay finite.
pub fn psnr(reference: &[f32], test: &[f32]) -> f64 {
    assert_eq!(reference.len(), test.len(), "psnr: images differ in size");
    let mse = reference
        .iter()
        .zip(test)
        .map(|(&a, &b)| ((a - b) as f64).powi(2))
        .sum::<f64>()
        / reference.len().max(1) as f64;
    10.0 * (1.0 / mse.max(1e-10)).log10()
}

/// Window parameters of the standard SSIM (Wang et al. 2004): an 11×11
/// Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03, dynamic range 1.
pub const SSIM_WINDOW: usize = 11;
pub const SSIM_SIGMA: f64 = 1.5;
const SSIM_C1: f64 = (0.01 * 1.0) * (0.01 * 1.0);
const SSIM_C2: f64 = (0.03 * 1.0) * (0.03 * 1.0);

fn gaussian_window() -> [f64; SSIM_WINDOW] {
    let mut w = [0.0; SSIM_WINDOW];
    let r = (SSIM_WINDOW / 2) as f64;
    for (i, v) in w.iter_mut().enumerate() {
        let d = i as f64 - r;
        *v = (-d * d / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let s: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= s);
    w
}

/// Mean structural similarity of two `width × height` grey images in [0, 1],
/// with the standard Gaussian window, averaged over every position where the
/// window fits wholly inside the image (as MATLAB's `ssim_index` and
/// scikit-image's `structural_similarity(gaussian_weights=True,
/// data_range=1)` do).
pub fn ssim(reference: &[f32], test: &[f32], width: usize, height: usize) -> f64 {
    assert_eq!(
        reference.len(),
        width * height,
        "ssim: wrong reference size"
    );
    assert_eq!(test.len(), width * height, "ssim: wrong test size");
    assert!(
        width >= SSIM_WINDOW && height >= SSIM_WINDOW,
        "ssim: image smaller than the window"
    );
    let w = gaussian_window();
    // Separable filtering: rows first, then columns, over the five maps.
    let n = width * height;
    let mut maps = [
        vec![0.0f64; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
    ];
    for i in 0..n {
        let x = reference[i] as f64;
        let y = test[i] as f64;
        maps[0][i] = x;
        maps[1][i] = y;
        maps[2][i] = x * x;
        maps[3][i] = y * y;
        maps[4][i] = x * y;
    }
    let ow = width - SSIM_WINDOW + 1;
    let oh = height - SSIM_WINDOW + 1;
    let filt = |m: &[f64]| -> Vec<f64> {
        let mut rows = vec![0.0; height * ow];
        for r in 0..height {
            for c in 0..ow {
                let mut s = 0.0;
                for (k, wk) in w.iter().enumerate() {
                    s += wk * m[r * width + c + k];
                }
                rows[r * ow + c] = s;
            }
        }
        let mut out = vec![0.0; oh * ow];
        for r in 0..oh {
            for c in 0..ow {
                let mut s = 0.0;
                for (k, wk) in w.iter().enumerate() {
                    s += wk * rows[(r + k) * ow + c];
                }
                out[r * ow + c] = s;
            }
        }
        out
    };
    let [mx, my, mxx, myy, mxy] = maps.map(|m| filt(&m));
    let mut total = 0.0;
    for i in 0..ow * oh {
        let (ux, uy) = (mx[i], my[i]);
        let vx = mxx[i] - ux * ux;
        let vy = myy[i] - uy * uy;
        let cxy = mxy[i] - ux * uy;
        total += ((2.0 * ux * uy + SSIM_C1) * (2.0 * cxy + SSIM_C2))
            / ((ux * ux + uy * uy + SSIM_C1) * (vx + vy + SSIM_C2));
    }
    total / (ow * oh) as f64
}

/// The share of predictions equal to their labels.
pub fn accuracy(predictions: &[u8], labels: &[u8]) -> f64 {
    assert_eq!(predictions.len(), labels.len());
    if labels.is_empty() {
        return 0.0;
    }
    predictions
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count() as f64
        / labels.len() as f64
}

/// Index of the largest value; ties go to the first.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_matches_hand_values() {
        let a = vec![0.5f32; 784];
        let b = vec![0.6f32; 784]; // MSE 0.01 -> 20 dB
        assert!((psnr(&a, &b) - 20.0).abs() < 1e-4);
        let c: Vec<f32> = (0..784)
            .map(|i| if i % 2 == 0 { 0.0 } else { 0.5 })
            .collect();
        let z = vec![0.0f32; 784]; // MSE 0.125 -> 9.0309 dB
        assert!((psnr(&z, &c) - 9.030_899_87).abs() < 1e-6);
        assert!((psnr(&a, &a) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn ssim_matches_hand_values() {
        let img: Vec<f32> = (0..784).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
        assert!((ssim(&img, &img, 28, 28) - 1.0).abs() < 1e-12);
        // Constant images: the variances are zero, so SSIM reduces to the
        // luminance term (2ab + C1) / (a² + b² + C1).
        let a = vec![0.5f32; 784];
        let b = vec![0.25f32; 784];
        let want = (2.0 * 0.5 * 0.25 + 1e-4) / (0.25 + 0.0625 + 1e-4);
        assert!((ssim(&a, &b, 28, 28) - want).abs() < 1e-9);
        // A negated pattern about the same mean has correlation -1: the
        // structure term is (C2 - 2σ²) / (2σ² + C2), strongly negative.
        let p: Vec<f32> = (0..784)
            .map(|i| if (i / 28 + i) % 2 == 0 { 0.3 } else { 0.7 })
            .collect();
        let q: Vec<f32> = p.iter().map(|v| 1.0 - v).collect();
        let s = ssim(&p, &q, 28, 28);
        assert!(s < -0.9, "{s}");
        // Symmetry.
        let r: Vec<f32> = img.iter().map(|v| v * 0.8 + 0.1).collect();
        assert!((ssim(&img, &r, 28, 28) - ssim(&r, &img, 28, 28)).abs() < 1e-12);
    }

    #[test]
    fn gaussian_window_is_normalised_and_symmetric() {
        let w = gaussian_window();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(w[0], w[10]);
        assert!(w[5] > w[4]);
    }

    #[test]
    fn accuracy_and_argmax() {
        assert_eq!(accuracy(&[1, 2, 3, 4], &[1, 2, 0, 4]), 0.75);
        assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), 1);
    }
}
