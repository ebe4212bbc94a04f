//! Batch normalisation in training mode on NCHW slices, with the ReLU that
//! follows it fused. burn's generic version transposes the activation to
//! `[channels, n·h·w]` for every reduction (four transposing copies per
//! step); here each image's channel planes are summed where they lie, in
//! parallel over the batch, and the partial sums reduced.
//!
//! The statistics and gradients are burn's: the biased variance,
//! `x̂ = (x − mean) / √(var + ε)`, `y = γ·x̂ + β`, and
//! `dx = γ/√(var + ε) · (dz − mean(dz) − x̂ · mean(dz·x̂))`.

use super::par;

/// The shape: `batch` images of `channels` planes of `plane` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormGeom {
    pub batch: usize,
    pub channels: usize,
    pub plane: usize,
}

impl NormGeom {
    fn image(&self) -> usize {
        self.channels * self.plane
    }
    fn count(&self) -> f64 {
        (self.batch * self.plane).max(1) as f64
    }
}

/// `Σ f(a[i], b[i])` in eight independent lanes, so that it vectorises
/// (a plain float sum is one serial chain).
#[inline(always)]
fn lanes(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += f(x[i], y[i]);
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(&x, &y)| f(x, y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// Per-channel sums of `f(channel, value index in image)` over images,
/// computed per batch chunk in parallel and reduced in f64.
fn channel_sums(
    g: &NormGeom,
    terms: usize,
    f: impl Fn(usize, usize, &mut [f64]) + Sync + Send,
) -> Vec<f64> {
    let ranges = par::ranges(g.batch, par::threads());
    let parts = par::map(ranges, |r| {
        let mut acc = vec![0.0f64; g.channels * terms];
        for i in r {
            for c in 0..g.channels {
                f(i, c, &mut acc[c * terms..(c + 1) * terms]);
            }
        }
        acc
    });
    let mut total = vec![0.0f64; g.channels * terms];
    for p in parts {
        total.iter_mut().zip(&p).for_each(|(t, v)| *t += v);
    }
    total
}

/// The forward pass's results.
#[derive(Debug)]
pub struct NormOut {
    pub y: Vec<f32>,
    pub mean: Vec<f32>,
    /// The biased variance of the batch.
    pub var: Vec<f32>,
}

fn inv_std(var: &[f32], eps: f64) -> Vec<f32> {
    var.iter()
        .map(|&v| (1.0 / (v as f64 + eps).sqrt()) as f32)
        .collect()
}

/// `act(γ · (x − mean) / √(var + ε) + β)` with the batch's own statistics.
pub fn forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    g: &NormGeom,
    eps: f64,
    relu: bool,
) -> NormOut {
    assert_eq!(x.len(), g.batch * g.image(), "batch norm: input size");
    assert_eq!(gamma.len(), g.channels, "batch norm: gamma size");
    assert_eq!(beta.len(), g.channels, "batch norm: beta size");
    let plane =
        |i: usize, c: usize| &x[i * g.image() + c * g.plane..i * g.image() + (c + 1) * g.plane];
    let sums = channel_sums(g, 1, |i, c, acc| {
        let p = plane(i, c);
        acc[0] += lanes(p, p, |v, _| v) as f64;
    });
    let mean: Vec<f32> = sums.iter().map(|s| (s / g.count()) as f32).collect();
    let sq = channel_sums(g, 1, |i, c, acc| {
        let (m, p) = (mean[c], plane(i, c));
        acc[0] += lanes(p, p, |v, _| (v - m) * (v - m)) as f64;
    });
    let var: Vec<f32> = sq.iter().map(|s| (s / g.count()) as f32).collect();
    let inv = inv_std(&var, eps);
    let y = par::each_item(g.batch, g.image(), |i, out| {
        for (c, o) in out.chunks_mut(g.plane.max(1)).enumerate() {
            let (scale, m, b) = (gamma[c] * inv[c], mean[c], beta[c]);
            for (ov, &v) in o.iter_mut().zip(plane(i, c)) {
                let z = (v - m) * scale + b;
                *ov = if relu { z.max(0.0) } else { z };
            }
        }
    });
    NormOut { y, mean, var }
}

/// The gradients of [`forward`].
#[derive(Debug)]
pub struct NormGrads {
    pub x: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// The backward pass: `y` is the forward output when the ReLU is fused.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    var: &[f32],
    y: Option<&[f32]>,
    dy: &[f32],
    g: &NormGeom,
    eps: f64,
) -> NormGrads {
    assert_eq!(
        x.len(),
        g.batch * g.image(),
        "batch norm backward: input size"
    );
    assert_eq!(dy.len(), x.len(), "batch norm backward: gradient size");
    let inv = inv_std(var, eps);
    let at = |i: usize, c: usize| i * g.image() + c * g.plane..i * g.image() + (c + 1) * g.plane;
    // dz, the gradient before the ReLU, of one plane into `buf`.
    let masked = |i: usize, c: usize, buf: &mut Vec<f32>| {
        let d = &dy[at(i, c)];
        buf.clear();
        match y {
            Some(y) => buf.extend(
                d.iter()
                    .zip(&y[at(i, c)])
                    .map(|(&d, &y)| if y > 0.0 { d } else { 0.0 }),
            ),
            None => buf.extend_from_slice(d),
        }
    };
    let sums = channel_sums(g, 2, |i, c, acc| {
        let mut dz = Vec::with_capacity(g.plane);
        masked(i, c, &mut dz);
        let (m, s) = (mean[c], inv[c]);
        acc[0] += lanes(&dz, &dz, |d, _| d) as f64;
        acc[1] += (lanes(&dz, &x[at(i, c)], |d, v| d * (v - m)) * s) as f64;
    });
    let beta_grad: Vec<f32> = (0..g.channels).map(|c| sums[2 * c] as f32).collect();
    let gamma_grad: Vec<f32> = (0..g.channels).map(|c| sums[2 * c + 1] as f32).collect();
    let dx = par::each_item(g.batch, g.image(), |i, out| {
        let mut dz = Vec::with_capacity(g.plane);
        for (c, o) in out.chunks_mut(g.plane.max(1)).enumerate() {
            masked(i, c, &mut dz);
            let (m, s) = (mean[c], inv[c]);
            let mean_dz = (sums[2 * c] / g.count()) as f32;
            let mean_dzx = (sums[2 * c + 1] / g.count()) as f32;
            let scale = gamma[c] * s;
            for ((ov, &v), &d) in o.iter_mut().zip(&x[at(i, c)]).zip(&dz) {
                let xhat = (v - m) * s;
                *ov = scale * (d - mean_dz - xhat * mean_dzx);
            }
        }
    });
    NormGrads {
        x: dx,
        gamma: gamma_grad,
        beta: beta_grad,
    }
}
