//! Direct convolution for the layers whose GEMM would be a matrix–vector
//! product: few input channels (a digit model's first layer, 1 → 32) or few
//! output channels (its last, 32 → 1). im2col there writes nine values per
//! multiply-add, and the GEMM's k or m of 1–9 leaves its kernel idle.
//!
//! Stride 1 only. Each input plane is copied once into a zero-padded plane
//! of width `wp`; the output is computed on rows of the same width (the
//! last `wp − ow` columns of each row are junk and dropped). A kernel tap
//! `(a, b)` is then the padded plane read at a constant offset
//! `a·wp + b`: the convolution is a sum of shifted, scaled planes, done in
//! register-sized blocks of 32 outputs so that every tap is one load and
//! one multiply-add per value.

use super::conv::ConvGeom;

/// Output values per register block.
const BLOCK: usize = 32;

/// Whether the direct kernels beat im2col + GEMM for `g` (measured on the
/// digit models' first and last layers).
pub fn suits(g: &ConvGeom) -> bool {
    g.sh == 1 && g.sw == 1 && g.cin.min(g.cout) <= 4
}

/// The padded layout of one image.
#[derive(Debug, Clone, Copy)]
pub struct Padded {
    /// Row width: `w + left + right`.
    pub wp: usize,
    /// Values per padded plane, `hp · wp`.
    pub plane: usize,
    /// Output values per channel on padded rows, rounded up to [`BLOCK`].
    pub q: usize,
    /// Output rows and columns.
    pub oh: usize,
    pub ow: usize,
    /// Values in a padded image, with slack for the last taps' reads.
    pub len: usize,
}

impl Padded {
    /// The layout for an input of `channels` planes of `g.h × g.w` padded as
    /// `g` says.
    pub fn new(g: &ConvGeom, channels: usize) -> Self {
        let wp = (g.ow + g.kw - 1).max(g.w + g.pad_left);
        let hp = (g.oh + g.kh - 1).max(g.h + g.pad_top);
        let plane = hp * wp;
        let q = (g.oh * wp).div_ceil(BLOCK) * BLOCK;
        // The furthest read: the last block of the last plane at the last tap.
        let len = (channels - 1) * plane + q + (g.kh - 1) * wp + g.kw - 1;
        Padded {
            wp,
            plane,
            q,
            oh: g.oh,
            ow: g.ow,
            len: len.max(channels * plane),
        }
    }

    /// Tap offsets within a plane, in the weights' order (a, b).
    pub fn taps(&self, g: &ConvGeom) -> Vec<usize> {
        let mut t = Vec::with_capacity(g.kh * g.kw);
        for a in 0..g.kh {
            for b in 0..g.kw {
                t.push(a * self.wp + b);
            }
        }
        t
    }
}

/// Copies one image (`channels` planes of `h × w`, channel `c` at
/// `x[c * x_cs..]`) into `dst` in the padded layout, zeros around.
#[allow(clippy::too_many_arguments)]
pub fn pad_image(
    x: &[f32],
    x_cs: usize,
    channels: usize,
    h: usize,
    w: usize,
    top: usize,
    left: usize,
    p: &Padded,
    dst: &mut [f32],
) {
    dst[..p.len].fill(0.0);
    for c in 0..channels {
        for y in 0..h {
            let src = &x[c * x_cs + y * w..c * x_cs + (y + 1) * w];
            let at = c * p.plane + (y + top) * p.wp + left;
            dst[at..at + w].copy_from_slice(src);
        }
    }
}

/// Writes the valid columns of a padded-row output plane into `out`
/// (`oh × ow`), through the ReLU if asked.
pub fn unpad_plane(ext: &[f32], p: &Padded, relu: bool, out: &mut [f32]) {
    for y in 0..p.oh {
        let src = &ext[y * p.wp..y * p.wp + p.ow];
        let dst = &mut out[y * p.ow..(y + 1) * p.ow];
        if relu {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s.max(0.0);
            }
        } else {
            dst.copy_from_slice(src);
        }
    }
}

/// Lays an `oh × ow` plane out on padded rows, zero in the junk columns
/// and the tail: the form the weight gradient's dot products read.
pub fn pad_rows(plane: &[f32], p: &Padded, dst: &mut [f32]) {
    dst[..p.q].fill(0.0);
    for y in 0..p.oh {
        dst[y * p.wp..y * p.wp + p.ow].copy_from_slice(&plane[y * p.ow..(y + 1) * p.ow]);
    }
}

/// `out[q] = bias + Σ_i weights[i] · src[offsets[i] + q]` for `q < out.len()`
/// (a multiple of [`BLOCK`]).
pub fn shifted_sum(out: &mut [f32], src: &[f32], offsets: &[usize], weights: &[f32], bias: f32) {
    assert_eq!(offsets.len(), weights.len());
    assert_eq!(out.len() % BLOCK, 0);
    if let Some(&max) = offsets.iter().max() {
        assert!(
            max + out.len() <= src.len(),
            "direct conv: source too short"
        );
    }
    #[cfg(target_arch = "x86_64")]
    if fma_available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { shifted_sum_fma(out, src, offsets, weights, bias) };
        return;
    }
    shifted_sum_body::<false>(out, src, offsets, weights, bias);
}

/// `acc[i] += Σ_q dz[q] · src[offsets[i] + q]` for `q < dz.len()` (a
/// multiple of [`BLOCK`]).
pub fn shifted_dots(acc: &mut [f32], dz: &[f32], src: &[f32], offsets: &[usize]) {
    assert_eq!(acc.len(), offsets.len());
    assert_eq!(dz.len() % BLOCK, 0);
    if let Some(&max) = offsets.iter().max() {
        assert!(max + dz.len() <= src.len(), "direct conv: source too short");
    }
    #[cfg(target_arch = "x86_64")]
    if fma_available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { shifted_dots_fma(acc, dz, src, offsets) };
        return;
    }
    shifted_dots_body::<false>(acc, dz, src, offsets);
}

#[cfg(target_arch = "x86_64")]
fn fma_available() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn shifted_sum_fma(
    out: &mut [f32],
    src: &[f32],
    offsets: &[usize],
    weights: &[f32],
    bias: f32,
) {
    shifted_sum_body::<true>(out, src, offsets, weights, bias)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn shifted_dots_fma(acc: &mut [f32], dz: &[f32], src: &[f32], offsets: &[usize]) {
    shifted_dots_body::<true>(acc, dz, src, offsets)
}

#[inline(always)]
fn madd<const FMA: bool>(acc: f32, a: f32, b: f32) -> f32 {
    if FMA {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

#[inline(always)]
fn shifted_sum_body<const FMA: bool>(
    out: &mut [f32],
    src: &[f32],
    offsets: &[usize],
    weights: &[f32],
    bias: f32,
) {
    for (q0, block) in out.chunks_exact_mut(BLOCK).enumerate() {
        let q0 = q0 * BLOCK;
        let mut acc = [bias; BLOCK];
        for (&off, &wv) in offsets.iter().zip(weights) {
            let s: &[f32; BLOCK] = src[off + q0..off + q0 + BLOCK].try_into().unwrap();
            for i in 0..BLOCK {
                acc[i] = madd::<FMA>(acc[i], wv, s[i]);
            }
        }
        block.copy_from_slice(&acc);
    }
}

#[inline(always)]
fn shifted_dots_body<const FMA: bool>(acc: &mut [f32], dz: &[f32], src: &[f32], offsets: &[usize]) {
    for (a, &off) in acc.iter_mut().zip(offsets) {
        let mut sum = [0.0f32; BLOCK];
        for (q0, d) in dz.chunks_exact(BLOCK).enumerate() {
            let q0 = q0 * BLOCK;
            let s: &[f32; BLOCK] = src[off + q0..off + q0 + BLOCK].try_into().unwrap();
            for i in 0..BLOCK {
                sum[i] = madd::<FMA>(sum[i], d[i], s[i]);
            }
        }
        *a += sum.iter().sum::<f32>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_sum_and_dots_by_hand() {
        let src: Vec<f32> = (0..80).map(|i| i as f32).collect();
        let mut out = vec![0.0; 32];
        shifted_sum(&mut out, &src, &[0, 10], &[1.0, 0.5], 2.0);
        for (q, v) in out.iter().enumerate() {
            assert_eq!(*v, 2.0 + q as f32 + 0.5 * (q + 10) as f32);
        }
        let dz = vec![1.0; 32];
        let mut acc = vec![1.0, 0.0];
        shifted_dots(&mut acc, &dz, &src, &[0, 3]);
        assert_eq!(
            acc,
            vec![
                1.0 + (0..32).sum::<i32>() as f32,
                (3..35).sum::<i32>() as f32
            ]
        );
    }
}
