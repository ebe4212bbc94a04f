//! Convolution on plain `f32` slices in NCHW order: the forward pass, the
//! input gradient and the weight and bias gradients, each as well-shaped
//! GEMMs over im2col buffers that are kept per thread and reused.
//!
//! - forward: `Y = W · col(X)` (+ bias, then ReLU when fused);
//! - weight gradient: `dW = Σ dZ · col(X)ᵀ`, accumulated per thread and then
//!   reduced, with `dZ` the output gradient masked by the ReLU;
//! - input gradient: at stride 1 a convolution of `dZ` with the flipped,
//!   transposed kernel (no scatter); at larger strides `Wᵀ · dZ` followed by
//!   a col2im scatter.
//!
//! A 1-D convolution is the 2-D one with `h = kh = 1`. Small images are
//! batched into one GEMM so that its width stays useful (a 7×7 map alone is
//! a 49-column product).

use super::direct::{self, Padded};
use super::gemm::{matmul, matmul_strided, View};
use super::par;
use super::pool::{self, PlaneGeom};
use std::cell::RefCell;

/// The shape of one convolution: dilation 1, one group, zero padding
/// `pad_*` before (top, left) and whatever the output size implies after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub batch: usize,
    pub cin: usize,
    pub cout: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeom {
    /// The geometry for padding `(top, bottom)` and `(left, right)`, or
    /// `None` when the kernel does not fit the padded input.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        [batch, cin, h, w]: [usize; 4],
        cout: usize,
        [kh, kw]: [usize; 2],
        [sh, sw]: [usize; 2],
        [(top, bottom), (left, right)]: [(usize, usize); 2],
    ) -> Option<Self> {
        if kh == 0 || kw == 0 || sh == 0 || sw == 0 {
            return None;
        }
        let (ph, pw) = (h + top + bottom, w + left + right);
        if ph < kh || pw < kw {
            return None;
        }
        Some(ConvGeom {
            batch,
            cin,
            cout,
            h,
            w,
            kh,
            kw,
            sh,
            sw,
            pad_top: top,
            pad_left: left,
            oh: (ph - kh) / sh + 1,
            ow: (pw - kw) / sw + 1,
        })
    }

    pub fn in_plane(&self) -> usize {
        self.h * self.w
    }
    pub fn out_plane(&self) -> usize {
        self.oh * self.ow
    }
    pub fn in_len(&self) -> usize {
        self.cin * self.in_plane()
    }
    pub fn out_len(&self) -> usize {
        self.cout * self.out_plane()
    }
    /// The depth of the forward GEMM: one row of im2col per input channel
    /// and kernel tap.
    pub fn taps(&self) -> usize {
        self.cin * self.kh * self.kw
    }
    fn pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.sh == 1
            && self.sw == 1
            && self.pad_top == 0
            && self.pad_left == 0
            && self.oh == self.h
            && self.ow == self.w
    }

    /// At stride 1, the input gradient is this convolution of the output
    /// gradient (channels `cout → cin`) with the flipped, transposed kernel.
    fn input_grad_as_conv(&self) -> Option<ConvGeom> {
        if self.sh != 1 || self.sw != 1 || self.pad_top >= self.kh || self.pad_left >= self.kw {
            return None;
        }
        let top = self.kh - 1 - self.pad_top;
        let left = self.kw - 1 - self.pad_left;
        // Output rows of the transposed conv: oh + top + bottom - kh + 1 = h.
        let bottom = (self.h + self.kh - 1).checked_sub(self.oh + top)?;
        let right = (self.w + self.kw - 1).checked_sub(self.ow + left)?;
        let g = ConvGeom::new(
            [self.batch, self.cout, self.oh, self.ow],
            self.cin,
            [self.kh, self.kw],
            [1, 1],
            [(top, bottom), (left, right)],
        )?;
        (g.oh == self.h && g.ow == self.w).then_some(g)
    }

    /// Images per GEMM: enough to give the product about 256 columns.
    fn group(&self) -> usize {
        let p = self.out_plane().max(1);
        if p >= 160 {
            1
        } else {
            256usize.div_ceil(p).min(32)
        }
    }
}

/// Per-thread buffers, kept between calls so that a training step
/// allocates only its outputs.
#[derive(Default)]
struct Scratch {
    /// im2col rows, or a padded image for the direct kernels.
    col: Vec<f32>,
    /// The input gradient's im2col rows.
    col2: Vec<f32>,
    /// A group's output gradient.
    dz: Vec<f32>,
    /// A group's conv output (before pooling), or a grouped product.
    tmp: Vec<f32>,
    /// One channel of the direct kernels' output, on padded rows.
    ext: Vec<f32>,
    /// An upsampled input image.
    up: Vec<f32>,
    /// Full-resolution input gradients of a group, before summing back
    /// onto an upsampled input.
    full: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers.
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| {
        // Take the buffers out, so a nested call (none today) would get
        // fresh ones instead of a borrow panic.
        let mut taken = std::mem::take(&mut *s.borrow_mut());
        let r = f(&mut taken);
        *s.borrow_mut() = taken;
        r
    })
}

fn sized(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    &mut buf[..len]
}

/// Writes the im2col rows of one image into `col` (row stride `ld`,
/// starting at column `off`). The image's channel `c` is the plane at
/// `x[c * x_cs..]`.
fn im2col(x: &[f32], x_cs: usize, g: &ConvGeom, col: &mut [f32], ld: usize, off: usize) {
    let (oh, ow) = (g.oh, g.ow);
    for ci in 0..g.cin {
        let plane = &x[ci * x_cs..ci * x_cs + g.in_plane()];
        for a in 0..g.kh {
            for b in 0..g.kw {
                let row = (ci * g.kh + a) * g.kw + b;
                let dst = &mut col[row * ld + off..row * ld + off + oh * ow];
                if g.sh == 1 && g.sw == 1 && ow == g.w {
                    shifted_plane(
                        plane,
                        g.h,
                        g.w,
                        oh,
                        a as isize - g.pad_top as isize,
                        b as isize - g.pad_left as isize,
                        dst,
                    );
                    continue;
                }
                for oy in 0..oh {
                    let d = &mut dst[oy * ow..(oy + 1) * ow];
                    let iy = (oy * g.sh + a) as isize - g.pad_top as isize;
                    if iy < 0 || iy >= g.h as isize {
                        d.fill(0.0);
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let shift = b as isize - g.pad_left as isize;
                    if g.sw == 1 {
                        // ix = ox + shift must lie in [0, w).
                        let lo = (-shift).clamp(0, ow as isize) as usize;
                        let hi = (g.w as isize - shift).clamp(lo as isize, ow as isize) as usize;
                        d[..lo].fill(0.0);
                        let s0 = (lo as isize + shift) as usize;
                        d[lo..hi].copy_from_slice(&src[s0..s0 + (hi - lo)]);
                        d[hi..].fill(0.0);
                    } else {
                        for (ox, v) in d.iter_mut().enumerate() {
                            let ix = (ox * g.sw) as isize + shift;
                            *v = if ix >= 0 && ix < g.w as isize {
                                src[ix as usize]
                            } else {
                                0.0
                            };
                        }
                    }
                }
            }
        }
    }
}

/// One im2col row at stride 1 when output rows are as wide as input rows:
/// `dst[y][x] = src[y + sy][x + sx]`, zero outside. The valid part is one
/// flat copy (rows are contiguous in both); the columns that wrapped round
/// from the neighbouring row are then zeroed.
fn shifted_plane(
    src: &[f32],
    h: usize,
    w: usize,
    oh: usize,
    sy: isize,
    sx: isize,
    dst: &mut [f32],
) {
    let (hi, wi) = (h as isize, w as isize);
    let y0 = (-sy).clamp(0, oh as isize) as usize;
    let y1 = (hi - sy).clamp(y0 as isize, oh as isize) as usize;
    dst[..y0 * w].fill(0.0);
    dst[y1 * w..].fill(0.0);
    if y1 == y0 || sx.abs() >= wi {
        dst[y0 * w..y1 * w].fill(0.0);
        return;
    }
    // Flat output indices [start, end) read src at index + sy·w + sx.
    let start = y0 * w + (-sx).max(0) as usize;
    let end = y1 * w - sx.max(0) as usize;
    let shift = sy * wi + sx;
    let s0 = (start as isize + shift) as usize;
    dst[start..end].copy_from_slice(&src[s0..s0 + (end - start)]);
    // Zero the wrapped columns of each row: x < -sx or x >= w - sx.
    let left = (-sx).max(0) as usize;
    let right = sx.max(0) as usize;
    for y in y0..y1 {
        let r = &mut dst[y * w..(y + 1) * w];
        r[..left].fill(0.0);
        r[w - right..].fill(0.0);
    }
}

/// The inverse of [`im2col`] for one image: adds every column entry back
/// onto the input position it was read from.
fn col2im(col: &[f32], ld: usize, off: usize, g: &ConvGeom, x: &mut [f32]) {
    let (oh, ow) = (g.oh, g.ow);
    for ci in 0..g.cin {
        let plane = &mut x[ci * g.in_plane()..(ci + 1) * g.in_plane()];
        for a in 0..g.kh {
            for b in 0..g.kw {
                let row = (ci * g.kh + a) * g.kw + b;
                let src = &col[row * ld + off..row * ld + off + oh * ow];
                for oy in 0..oh {
                    let iy = (oy * g.sh + a) as isize - g.pad_top as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    for ox in 0..ow {
                        let ix = (ox * g.sw + b) as isize - g.pad_left as isize;
                        if ix >= 0 && ix < g.w as isize {
                            dst[ix as usize] += src[oy * ow + ox];
                        }
                    }
                }
            }
        }
    }
}

/// What runs around the convolution inside the same pass: the ReLU, a
/// nearest upsampling of the input before it and a max-pool of the output
/// after it. Fused, neither the upsampled input nor the full-resolution
/// output is ever stored for the batch: each image's lives in this thread's
/// scratch while it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fused {
    pub relu: bool,
    /// Upsampling factors of the input ([1, 1]: none).
    pub up: [usize; 2],
    /// Max-pool window (and stride) on the output ([1, 1]: none).
    pub pool: [usize; 2],
}

impl Fused {
    /// Only the activation.
    pub const fn act(relu: bool) -> Self {
        Fused {
            relu,
            up: [1, 1],
            pool: [1, 1],
        }
    }
    fn upsamples(&self) -> bool {
        self.up != [1, 1]
    }
    fn pools(&self) -> bool {
        self.pool != [1, 1]
    }
    /// One channel of the input as stored (before upsampling).
    fn low(&self, g: &ConvGeom) -> PlaneGeom {
        PlaneGeom {
            planes: 1,
            h: g.h / self.up[0],
            w: g.w / self.up[1],
            fh: self.up[0],
            fw: self.up[1],
        }
    }
    /// One channel of the conv output, pooled by `pool`.
    fn out(&self, g: &ConvGeom) -> PlaneGeom {
        PlaneGeom {
            planes: 1,
            h: g.oh,
            w: g.ow,
            fh: self.pool[0],
            fw: self.pool[1],
        }
    }
    /// Values per input image, as stored.
    pub fn x_len(&self, g: &ConvGeom) -> usize {
        let l = self.low(g);
        g.cin * l.h * l.w
    }
    /// Values per output plane, after pooling.
    pub fn y_plane(&self, g: &ConvGeom) -> usize {
        let (a, b) = self.out(g).pooled();
        a * b
    }
    /// Values per output image, after pooling.
    pub fn y_len(&self, g: &ConvGeom) -> usize {
        g.cout * self.y_plane(g)
    }
    /// Whether `g` (on the upsampled size) and these factors fit together.
    pub fn fits(&self, g: &ConvGeom) -> bool {
        let ok = |f: usize| (1..=16).contains(&f);
        self.up.iter().chain(&self.pool).all(|&f| ok(f))
            && g.h % self.up[0] == 0
            && g.w % self.up[1] == 0
            && self.pool[0] <= g.oh
            && self.pool[1] <= g.ow
    }
}

/// The forward pass's results.
#[derive(Debug)]
pub struct ForwardOut {
    /// `[batch, cout, oh', ow']` (pooled sizes when pooling).
    pub y: Vec<f32>,
    /// When pooling: for each output value, which value of its window (in
    /// reading order) it came from. Empty otherwise.
    pub argmax: Vec<u8>,
}

/// The forward pass: `y = pool(act(conv(up(x), w) + bias))` for the whole
/// batch. `x` is `[batch, cin, h/up, w/up]`, `w` is `[cout, cin, kh, kw]`.
pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &ConvGeom, f: &Fused) -> ForwardOut {
    assert!(f.fits(g), "conv: fused factors do not fit the geometry");
    assert_eq!(x.len(), g.batch * f.x_len(g), "conv: input size");
    assert_eq!(w.len(), g.cout * g.taps(), "conv: weight size");
    if let Some(b) = bias {
        assert_eq!(b.len(), g.cout, "conv: bias size");
    }
    let yl = f.y_len(g);
    let mut y = vec![0.0f32; g.batch * yl];
    let mut argmax = vec![0u8; if f.pools() { g.batch * yl } else { 0 }];
    // Threads take whole images. Fewer images than threads (one drawn
    // digit) stay on one thread, their GEMMs unsplit: split over two, one
    // digit took 1.7x as long natively (handing out parts of these layers'
    // GEMMs costs more than it saves).
    let ranges = par::ranges(g.batch, par::threads());
    let am_len = if f.pools() { yl } else { 0 };
    let jobs: Vec<_> = ranges
        .iter()
        .cloned()
        .zip(par::split(&mut y, &ranges, yl))
        .zip(par::split(&mut argmax, &ranges, am_len))
        .collect();
    let xl = f.x_len(g);
    par::map(jobs, |((r, out), am)| {
        let xs = &x[r.start * xl..r.end * xl];
        with_scratch(|s| forward_images(xs, w, bias, g, f, out, am, s));
    });
    ForwardOut { y, argmax }
}

/// One input image as the convolution sees it: `x` itself, or `x`
/// upsampled into `buf`.
fn input_image<'a>(x: &'a [f32], g: &ConvGeom, f: &Fused, buf: &'a mut Vec<f32>) -> &'a [f32] {
    if !f.upsamples() {
        return x;
    }
    let low = f.low(g);
    let (lp, p) = (low.h * low.w, g.in_plane());
    let up = sized(buf, g.in_len());
    for c in 0..g.cin {
        pool::upsample_plane(&x[c * lp..(c + 1) * lp], &low, &mut up[c * p..(c + 1) * p]);
    }
    up
}

/// Writes one output plane from the conv's plane `z` (`oh × ow`): ReLU,
/// then the max-pool with its argmax when fused.
fn finish_plane(z: &[f32], g: &ConvGeom, f: &Fused, out: &mut [f32], argmax: &mut [u8]) {
    if f.pools() {
        pool::max_pool_plane(z, &f.out(g), out, Some(argmax));
        if f.relu {
            out.iter_mut().for_each(|v| *v = v.max(0.0));
        }
    } else if f.relu {
        for (o, &v) in out.iter_mut().zip(z) {
            *o = v.max(0.0);
        }
    } else {
        out.copy_from_slice(z);
    }
}

#[allow(clippy::too_many_arguments)]
fn forward_images(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: &ConvGeom,
    f: &Fused,
    y: &mut [f32],
    argmax: &mut [u8],
    s: &mut Scratch,
) {
    let xl = f.x_len(g);
    let n = x.len() / xl.max(1);
    let (p, k) = (g.out_plane(), g.taps());
    let (yl, yp) = (f.y_len(g), f.y_plane(g));
    let am_p = if f.pools() { yp } else { 0 };
    if direct::suits(g) {
        let pad = Padded::new(g, g.cin);
        let offsets = direct_offsets(g, &pad);
        for i in 0..n {
            let xi = input_image(&x[i * xl..(i + 1) * xl], g, f, &mut s.up);
            let yi = &mut y[i * yl..(i + 1) * yl];
            let ami = &mut argmax[i * g.cout * am_p..(i + 1) * g.cout * am_p];
            let plane = &mut s.tmp;
            direct_image(
                xi,
                g.in_plane(),
                w,
                bias,
                g,
                &pad,
                &offsets,
                &mut s.col,
                &mut s.ext,
                |co, ext| {
                    let out = &mut yi[co * yp..(co + 1) * yp];
                    let am = &mut ami[co * am_p..(co + 1) * am_p];
                    if f.pools() {
                        let z = sized(plane, p);
                        direct::unpad_plane(ext, &pad, false, z);
                        finish_plane(z, g, f, out, am);
                    } else {
                        direct::unpad_plane(ext, &pad, f.relu, out);
                    }
                },
            );
        }
        return;
    }
    let group = g.group();
    let mut i0 = 0;
    while i0 < n {
        let gn = group.min(n - i0);
        let cols = gn * p;
        let ld = cols;
        let (rhs, rhs_ld): (&[f32], usize) = if gn == 1 && g.pointwise() && !f.upsamples() {
            (&x[i0 * xl..(i0 + 1) * xl], cols)
        } else {
            let col = sized(&mut s.col, k * ld);
            for j in 0..gn {
                let xj = &x[(i0 + j) * xl..(i0 + j + 1) * xl];
                let xi = input_image(xj, g, f, &mut s.up);
                im2col(xi, g.in_plane(), g, col, ld, j * p);
            }
            (col, ld)
        };
        let bias_rows = |dst: &mut [f32], ld: usize| {
            if let Some(b) = bias {
                for (row, &bv) in dst.chunks_mut(ld).zip(b) {
                    row.fill(bv);
                }
            }
        };
        let product = |dst: &mut [f32]| {
            matmul(
                g.cout,
                rhs_ld,
                k,
                dst,
                rhs_ld,
                bias.is_some(),
                View::rows(w, k),
                View::rows(rhs, rhs_ld),
                gemm::Parallelism::None,
            )
        };
        if gn == 1 && !f.pools() && rhs_ld == cols {
            // Straight into the output.
            let dst = &mut y[i0 * yl..(i0 + 1) * yl];
            bias_rows(dst, cols);
            product(dst);
            if f.relu {
                dst.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        } else {
            let z = sized(&mut s.tmp, g.cout * rhs_ld);
            bias_rows(z, rhs_ld);
            product(z);
            // One block per image, pooled when fused.
            for j in 0..gn {
                let yi = &mut y[(i0 + j) * yl..(i0 + j + 1) * yl];
                let ami = &mut argmax[(i0 + j) * g.cout * am_p..(i0 + j + 1) * g.cout * am_p];
                for co in 0..g.cout {
                    finish_plane(
                        &z[co * rhs_ld + j * p..co * rhs_ld + (j + 1) * p],
                        g,
                        f,
                        &mut yi[co * yp..(co + 1) * yp],
                        &mut ami[co * am_p..(co + 1) * am_p],
                    );
                }
            }
        }
        i0 += gn;
    }
}

/// One image through the direct kernels: `x` (the conv's input, channel
/// `c` at `x[c * x_cs..]`) padded into `xpad`, and each output channel's
/// plane, on padded rows, handed to `emit(channel, plane)`.
#[allow(clippy::too_many_arguments)]
fn direct_image(
    x: &[f32],
    x_cs: usize,
    w: &[f32],
    bias: Option<&[f32]>,
    g: &ConvGeom,
    pad: &Padded,
    offsets: &[usize],
    xpad: &mut Vec<f32>,
    ext: &mut Vec<f32>,
    mut emit: impl FnMut(usize, &[f32]),
) {
    let k = g.taps();
    let xpad = sized(xpad, pad.len);
    direct::pad_image(x, x_cs, g.cin, g.h, g.w, g.pad_top, g.pad_left, pad, xpad);
    let ext = sized(ext, pad.q);
    for co in 0..g.cout {
        let b = bias.map_or(0.0, |b| b[co]);
        direct::shifted_sum(ext, xpad, offsets, &w[co * k..(co + 1) * k], b);
        emit(co, ext);
    }
}

/// Where each weight's tap reads in a padded image: `(ci, a, b)` order.
fn direct_offsets(g: &ConvGeom, pad: &Padded) -> Vec<usize> {
    let taps = pad.taps(g);
    (0..g.cin)
        .flat_map(|ci| taps.iter().map(move |t| ci * pad.plane + t))
        .collect()
}

/// Sums a full-resolution input gradient back onto the stored input
/// (the upsampling's backward).
fn down_sum(full: &[f32], g: &ConvGeom, f: &Fused, dx: &mut [f32]) {
    let low = f.low(g);
    let (lp, p) = (low.h * low.w, g.in_plane());
    for c in 0..g.cin {
        pool::upsample_backward_plane(
            &full[c * p..(c + 1) * p],
            &low,
            &mut dx[c * lp..(c + 1) * lp],
        );
    }
}

/// What the backward pass returns; each part only when asked for.
#[derive(Debug, Default)]
pub struct ConvGrads {
    pub x: Option<Vec<f32>>,
    pub w: Option<Vec<f32>>,
    pub bias: Option<Vec<f32>>,
}

/// Which gradients to compute.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub x: bool,
    pub w: bool,
    pub bias: bool,
}

/// What the backward pass needs from the forward one.
#[derive(Debug, Clone, Copy)]
pub struct Saved<'a> {
    pub x: &'a [f32],
    pub w: &'a [f32],
    /// The output, when the ReLU is fused: its zeros mask the gradient.
    pub y: Option<&'a [f32]>,
    /// The pooling's argmax, when fused.
    pub argmax: &'a [u8],
}

/// The backward pass of [`forward`]: `dy` is the gradient of its output.
pub fn backward(saved: Saved, dy: &[f32], g: &ConvGeom, f: &Fused, wanted: Wanted) -> ConvGrads {
    let (x, w) = (saved.x, saved.w);
    assert!(
        f.fits(g),
        "conv backward: fused factors do not fit the geometry"
    );
    assert_eq!(x.len(), g.batch * f.x_len(g), "conv backward: input size");
    assert_eq!(
        dy.len(),
        g.batch * f.y_len(g),
        "conv backward: gradient size"
    );
    assert_eq!(w.len(), g.cout * g.taps(), "conv backward: weight size");
    if let Some(y) = saved.y {
        assert_eq!(y.len(), dy.len(), "conv backward: output size");
    }
    if f.pools() {
        assert_eq!(saved.argmax.len(), dy.len(), "conv backward: argmax size");
    }
    let k = g.taps();
    // The input gradient's kernel: wt[ci][(co, a, b)] = w[co][ci][kh-1-a][kw-1-b].
    let as_conv = g.input_grad_as_conv();
    let wt: Vec<f32> = match (&as_conv, wanted.x) {
        (Some(_), true) => {
            let kk = g.kh * g.kw;
            let mut wt = vec![0.0; w.len()];
            for co in 0..g.cout {
                for ci in 0..g.cin {
                    for t in 0..kk {
                        wt[(ci * g.cout + co) * kk + (kk - 1 - t)] = w[(co * g.cin + ci) * kk + t];
                    }
                }
            }
            wt
        }
        _ => Vec::new(),
    };
    let xl = f.x_len(g);
    let mut dx = if wanted.x {
        vec![0.0f32; x.len()]
    } else {
        Vec::new()
    };
    let ranges = par::ranges(g.batch, par::threads());
    let inner = par::gemm_parallelism(if ranges.len() < par::threads() {
        par::threads()
    } else {
        1
    });
    let dx_parts: Vec<&mut [f32]> = if wanted.x {
        par::split(&mut dx, &ranges, xl)
    } else {
        ranges.iter().map(|_| <&mut [f32]>::default()).collect()
    };
    let jobs: Vec<_> = ranges.iter().cloned().zip(dx_parts).collect();
    let ctx = BackCtx {
        saved,
        wt: &wt,
        dy,
        g,
        f,
        as_conv: as_conv.as_ref(),
        wanted,
        inner,
    };
    let partials = par::map(jobs, |(r, dx_part)| {
        let mut dwt = if wanted.w {
            vec![0.0f32; g.cout * k]
        } else {
            Vec::new()
        };
        let mut db = if wanted.bias {
            vec![0.0f32; g.cout]
        } else {
            Vec::new()
        };
        with_scratch(|s| ctx.images(r, dx_part, &mut dwt, &mut db, s));
        (dwt, db)
    });
    let mut parts = partials.into_iter();
    let (mut dwt, mut db) = parts.next().unwrap_or_default();
    for (pw, pb) in parts {
        dwt.iter_mut().zip(&pw).for_each(|(a, b)| *a += b);
        db.iter_mut().zip(&pb).for_each(|(a, b)| *a += b);
    }
    let mut dw = vec![0.0; if wanted.w { g.cout * k } else { 0 }];
    if wanted.w && !dwt.is_empty() {
        for (kk, row) in dwt.chunks(g.cout).enumerate() {
            for (co, &v) in row.iter().enumerate() {
                dw[co * k + kk] = v;
            }
        }
    }
    if wanted.bias && db.is_empty() {
        db = vec![0.0; g.cout];
    }
    ConvGrads {
        x: wanted.x.then_some(dx),
        w: wanted.w.then_some(dw),
        bias: wanted.bias.then_some(db),
    }
}

struct BackCtx<'a> {
    saved: Saved<'a>,
    wt: &'a [f32],
    dy: &'a [f32],
    g: &'a ConvGeom,
    f: &'a Fused,
    as_conv: Option<&'a ConvGeom>,
    wanted: Wanted,
    inner: gemm::Parallelism,
}

impl BackCtx<'_> {
    /// The gradient of image `i`'s conv output (before the ReLU and the
    /// pool) into `dz`: channel `co` at `dz[co * ld + off..]`.
    fn conv_grad(&self, i: usize, dz: &mut [f32], ld: usize, off: usize) {
        let (g, f) = (self.g, self.f);
        let (p, yp) = (g.out_plane(), f.y_plane(g));
        let at = i * f.y_len(g);
        let dy = &self.dy[at..at + f.y_len(g)];
        let y = self.saved.y.map(|y| &y[at..at + f.y_len(g)]);
        let am = if f.pools() {
            &self.saved.argmax[at..at + f.y_len(g)]
        } else {
            &[][..]
        };
        let pg = f.out(g);
        let pw = pg.pooled().1;
        for co in 0..g.cout {
            let out = &mut dz[co * ld + off..co * ld + off + p];
            let dyc = &dy[co * yp..(co + 1) * yp];
            if !f.pools() {
                match y {
                    Some(y) => {
                        let yc = &y[co * yp..(co + 1) * yp];
                        for ((o, &d), &yv) in out.iter_mut().zip(dyc).zip(yc) {
                            *o = if yv > 0.0 { d } else { 0.0 };
                        }
                    }
                    None => out.copy_from_slice(dyc),
                }
                continue;
            }
            out.fill(0.0);
            let amc = &am[co * yp..(co + 1) * yp];
            for (wi, (&d, &k)) in dyc.iter().zip(amc).enumerate() {
                if let Some(y) = y {
                    if y[co * yp + wi] <= 0.0 {
                        continue;
                    }
                }
                let (oy, ox) = (wi / pw, wi % pw);
                let (a, b) = (k as usize / pg.fw, k as usize % pg.fw);
                out[(oy * pg.fh + a) * g.ow + ox * pg.fw + b] = d;
            }
        }
    }

    /// The images in `r`: writes their input gradients into `dx` and adds
    /// their weight gradient (transposed, `[k][cout]`) onto `dwt` and their
    /// bias gradient onto `db`.
    fn images(
        &self,
        r: std::ops::Range<usize>,
        dx: &mut [f32],
        dwt: &mut [f32],
        db: &mut [f32],
        s: &mut Scratch,
    ) {
        let (g, f) = (self.g, self.f);
        let (p, k) = (g.out_plane(), g.taps());
        let xl = f.x_len(g);
        if direct::suits(g) {
            self.direct_images(r, dx, dwt, db, s);
            return;
        }
        let group = g.group();
        let mut i0 = r.start;
        while i0 < r.end {
            let gn = group.min(r.end - i0);
            let cols = gn * p;
            let ld = cols;
            // dZ for the group: [cout][ld], image j at column j·p. Taken
            // out of the scratch so that the GEMMs below can use the rest.
            let mut dz_buf = std::mem::take(&mut s.dz);
            let dz = sized(&mut dz_buf, g.cout * ld);
            for j in 0..gn {
                self.conv_grad(i0 + j, dz, ld, j * p);
            }
            let dz: &[f32] = dz;
            if self.wanted.bias {
                for (co, b) in db.iter_mut().enumerate() {
                    *b += dz[co * ld..co * ld + cols].iter().sum::<f32>();
                }
            }
            if self.wanted.w {
                let (rhs, rhs_ld): (&[f32], usize) = if gn == 1 && g.pointwise() && !f.upsamples() {
                    (&self.saved.x[i0 * xl..(i0 + 1) * xl], cols)
                } else {
                    let col = sized(&mut s.col, k * ld);
                    for j in 0..gn {
                        let xj = &self.saved.x[(i0 + j) * xl..(i0 + j + 1) * xl];
                        let xi = input_image(xj, g, f, &mut s.up);
                        im2col(xi, g.in_plane(), g, col, ld, j * p);
                    }
                    (col, ld)
                };
                // dW[cout×k] += dZ[cout×cols] · colᵀ[cols×k], accumulated
                // column-major (dwt = dWᵀ), so that gemm reads col as it
                // lies and packs only the small dZ.
                matmul_strided(
                    g.cout,
                    k,
                    cols,
                    dwt,
                    (1, g.cout),
                    true,
                    View {
                        data: dz,
                        rs: ld,
                        cs: 1,
                    },
                    View::rows_t(rhs, rhs_ld),
                    self.inner,
                );
            }
            if self.wanted.x {
                let local = (i0 - r.start) * xl;
                let dxg = &mut dx[local..local + gn * xl];
                if f.upsamples() {
                    let mut full_buf = std::mem::take(&mut s.full);
                    let full = sized(&mut full_buf, gn * g.in_len());
                    self.input_grad(dz, ld, gn, full, s);
                    for j in 0..gn {
                        down_sum(
                            &full[j * g.in_len()..(j + 1) * g.in_len()],
                            g,
                            f,
                            &mut dxg[j * xl..(j + 1) * xl],
                        );
                    }
                    s.full = full_buf;
                } else {
                    self.input_grad(dz, ld, gn, dxg, s);
                }
            }
            s.dz = dz_buf;
            i0 += gn;
        }
    }

    /// [`Self::images`] through the direct kernels, one image at a time.
    /// The weight gradient is still accumulated transposed, `[k][cout]`.
    fn direct_images(
        &self,
        r: std::ops::Range<usize>,
        dx: &mut [f32],
        dwt: &mut [f32],
        db: &mut [f32],
        s: &mut Scratch,
    ) {
        let (g, f) = (self.g, self.f);
        let (p, k) = (g.out_plane(), g.taps());
        let xl = f.x_len(g);
        let pad = Padded::new(g, g.cin);
        let offsets = direct_offsets(g, &pad);
        let mut dw_row = vec![0.0f32; k];
        for i in r.clone() {
            let mut dz_buf = std::mem::take(&mut s.dz);
            let dz = sized(&mut dz_buf, g.out_len());
            self.conv_grad(i, dz, p, 0);
            let dz: &[f32] = dz;
            if self.wanted.bias {
                for (co, b) in db.iter_mut().enumerate() {
                    *b += dz[co * p..(co + 1) * p].iter().sum::<f32>();
                }
            }
            if self.wanted.w {
                let xi = input_image(&self.saved.x[i * xl..(i + 1) * xl], g, f, &mut s.up);
                let xpad = sized(&mut s.col, pad.len);
                direct::pad_image(
                    xi,
                    g.in_plane(),
                    g.cin,
                    g.h,
                    g.w,
                    g.pad_top,
                    g.pad_left,
                    &pad,
                    xpad,
                );
                let dz_rows = sized(&mut s.col2, pad.q);
                for co in 0..g.cout {
                    direct::pad_rows(&dz[co * p..(co + 1) * p], &pad, dz_rows);
                    dw_row.fill(0.0);
                    direct::shifted_dots(&mut dw_row, dz_rows, xpad, &offsets);
                    for (kk, v) in dw_row.iter().enumerate() {
                        dwt[kk * g.cout + co] += v;
                    }
                }
            }
            if self.wanted.x {
                let t = self.as_conv.expect("the direct kernels run at stride 1");
                let local = (i - r.start) * xl;
                let tpad = Padded::new(t, t.cin);
                let toffsets = direct_offsets(t, &tpad);
                let pin = g.in_plane();
                let dxi = &mut dx[local..local + xl];
                if f.upsamples() {
                    let mut full_buf = std::mem::take(&mut s.full);
                    let full = sized(&mut full_buf, g.in_len());
                    direct_image(
                        dz,
                        p,
                        self.wt,
                        None,
                        t,
                        &tpad,
                        &toffsets,
                        &mut s.col,
                        &mut s.ext,
                        |ci, ext| {
                            direct::unpad_plane(
                                ext,
                                &tpad,
                                false,
                                &mut full[ci * pin..(ci + 1) * pin],
                            );
                        },
                    );
                    down_sum(full, g, f, dxi);
                    s.full = full_buf;
                } else {
                    direct_image(
                        dz,
                        p,
                        self.wt,
                        None,
                        t,
                        &tpad,
                        &toffsets,
                        &mut s.col,
                        &mut s.ext,
                        |ci, ext| {
                            direct::unpad_plane(
                                ext,
                                &tpad,
                                false,
                                &mut dxi[ci * pin..(ci + 1) * pin],
                            );
                        },
                    );
                }
            }
            s.dz = dz_buf;
        }
    }

    /// The full-resolution input gradient of `gn` images from their grouped
    /// `dz` (channel rows `ld` apart), into `dx` (`gn × cin × h × w`).
    fn input_grad(&self, dz: &[f32], ld: usize, gn: usize, dx: &mut [f32], s: &mut Scratch) {
        let g = self.g;
        let p = g.out_plane();
        match self.as_conv {
            Some(t) => {
                // dX = conv(dZ, flipped Wᵀ): a forward conv cout → cin.
                let (pin, kt) = (g.in_plane(), t.taps());
                let tcols = gn * pin;
                let tld = tcols;
                let col = sized(&mut s.col2, kt * tld);
                for j in 0..gn {
                    // Image j's dZ: channel planes `ld` apart.
                    im2col(&dz[j * p..], ld, t, col, tld, j * pin);
                }
                let col: &[f32] = col;
                let product = |dst: &mut [f32]| {
                    matmul(
                        g.cin,
                        tld,
                        kt,
                        dst,
                        tld,
                        false,
                        View::rows(self.wt, kt),
                        View::rows(col, tld),
                        self.inner,
                    )
                };
                if gn == 1 && tld == tcols {
                    product(dx);
                } else {
                    let tmp = sized(&mut s.tmp, g.cin * tld);
                    product(tmp);
                    for j in 0..gn {
                        let xi = &mut dx[j * g.in_len()..(j + 1) * g.in_len()];
                        for (ci, out) in xi.chunks_mut(pin).enumerate() {
                            out.copy_from_slice(&tmp[ci * tld + j * pin..ci * tld + (j + 1) * pin]);
                        }
                    }
                }
            }
            None => {
                // dcol = Wᵀ · dZ, then scatter back onto the input.
                let k = g.taps();
                let dcol = sized(&mut s.col2, k * ld);
                matmul(
                    k,
                    ld,
                    g.cout,
                    dcol,
                    ld,
                    false,
                    View::rows_t(self.saved.w, k),
                    View::rows(dz, ld),
                    self.inner,
                );
                let dcol: &[f32] = dcol;
                dx[..gn * g.in_len()].fill(0.0);
                for j in 0..gn {
                    let xi = &mut dx[j * g.in_len()..(j + 1) * g.in_len()];
                    col2im(dcol, ld, j * p, g, xi);
                }
            }
        }
    }
}

/// A direct (six nested loops) convolution, the reference the tests
/// compare the GEMM paths with.
#[cfg(test)]
pub fn reference_forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &ConvGeom) -> Vec<f32> {
    let mut y = vec![0.0; g.batch * g.out_len()];
    for n in 0..g.batch {
        for co in 0..g.cout {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let mut acc = bias.map_or(0.0, |b| b[co]) as f64;
                    for ci in 0..g.cin {
                        for a in 0..g.kh {
                            for b in 0..g.kw {
                                let iy = (oy * g.sh + a) as isize - g.pad_top as isize;
                                let ix = (ox * g.sw + b) as isize - g.pad_left as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w
                                {
                                    let xv = x[((n * g.cin + ci) * g.h + iy as usize) * g.w
                                        + ix as usize];
                                    let wv = w[((co * g.cin + ci) * g.kh + a) * g.kw + b];
                                    acc += xv as f64 * wv as f64;
                                }
                            }
                        }
                    }
                    y[((n * g.cout + co) * g.oh + oy) * g.ow + ox] = acc as f32;
                }
            }
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn rand(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.normal()).collect()
    }

    fn close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "at {i}: {x} vs {y}");
        }
    }

    /// Gradients of `sum(y · r)` by the reference, via the adjoint identity
    /// on basis vectors would be slow; instead check dW, db and dX against
    /// finite sums computed from the reference forward's linearity.
    fn reference_grads(
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        g: &ConvGeom,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut dx = vec![0.0f64; x.len()];
        let mut dw = vec![0.0f64; w.len()];
        let mut db = vec![0.0f64; g.cout];
        for n in 0..g.batch {
            for co in 0..g.cout {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let d = dy[((n * g.cout + co) * g.oh + oy) * g.ow + ox] as f64;
                        db[co] += d;
                        for ci in 0..g.cin {
                            for a in 0..g.kh {
                                for b in 0..g.kw {
                                    let iy = (oy * g.sh + a) as isize - g.pad_top as isize;
                                    let ix = (ox * g.sw + b) as isize - g.pad_left as isize;
                                    if iy >= 0
                                        && ix >= 0
                                        && (iy as usize) < g.h
                                        && (ix as usize) < g.w
                                    {
                                        let xi = ((n * g.cin + ci) * g.h + iy as usize) * g.w
                                            + ix as usize;
                                        let wi = ((co * g.cin + ci) * g.kh + a) * g.kw + b;
                                        dx[xi] += d * w[wi] as f64;
                                        dw[wi] += d * x[xi] as f64;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
        (f(dx), f(dw), f(db))
    }

    #[test]
    fn forward_and_gradients_match_the_direct_loops() {
        let mut rng = Rng::new(3);
        // (batch, cin, cout, h, w, k, stride, pad)
        let cases = [
            (1, 1, 1, 3, 3, 1, 1, 0),
            (2, 1, 4, 28, 28, 3, 1, 1),
            (3, 5, 3, 7, 7, 3, 1, 1),
            (17, 4, 6, 6, 5, 5, 1, 2),
            (4, 3, 2, 1, 37, 1, 1, 0),
            (5, 2, 3, 9, 11, 3, 2, 1),
            (3, 3, 2, 14, 14, 1, 1, 0),
        ];
        for &(n, ci, co, h, w, k, s, p) in &cases {
            let g = ConvGeom::new([n, ci, h, w], co, [k, k], [s, s], [(p, p), (p, p)]).unwrap();
            let x = rand(g.batch * g.in_len(), &mut rng);
            let wt = rand(g.cout * g.taps(), &mut rng);
            let b = rand(co, &mut rng);
            let want = reference_forward(&x, &wt, Some(&b), &g);
            let fwd = |relu| forward(&x, &wt, Some(&b), &g, &Fused::act(relu)).y;
            close(&fwd(false), &want, 1e-4);
            let relu = fwd(true);
            let want_relu: Vec<f32> = want.iter().map(|v| v.max(0.0)).collect();
            close(&relu, &want_relu, 1e-4);

            let dy = rand(g.batch * g.out_len(), &mut rng);
            let all = Wanted {
                x: true,
                w: true,
                bias: true,
            };
            let saved = Saved {
                x: &x,
                w: &wt,
                y: None,
                argmax: &[],
            };
            let got = backward(saved, &dy, &g, &Fused::act(false), all);
            let (dx, dw, db) = reference_grads(&x, &wt, &dy, &g);
            close(got.x.as_ref().unwrap(), &dx, 1e-3);
            close(got.w.as_ref().unwrap(), &dw, 1e-3);
            close(got.bias.as_ref().unwrap(), &db, 1e-3);

            // With the ReLU fused, dY is masked by the output's zeros.
            let masked: Vec<f32> = dy
                .iter()
                .zip(&relu)
                .map(|(&d, &y)| if y > 0.0 { d } else { 0.0 })
                .collect();
            let saved = Saved {
                y: Some(&relu),
                ..saved
            };
            let got = backward(saved, &dy, &g, &Fused::act(true), all);
            let (dx, dw, db) = reference_grads(&x, &wt, &masked, &g);
            close(got.x.as_ref().unwrap(), &dx, 1e-3);
            close(got.w.as_ref().unwrap(), &dw, 1e-3);
            close(got.bias.as_ref().unwrap(), &db, 1e-3);
        }
    }

    #[test]
    fn only_the_wanted_gradients_are_computed() {
        let g = ConvGeom::new([2, 2, 5, 5], 3, [3, 3], [1, 1], [(1, 1), (1, 1)]).unwrap();
        let x = vec![0.5; g.batch * g.in_len()];
        let w = vec![0.1; g.cout * g.taps()];
        let dy = vec![1.0; g.batch * g.out_len()];
        let saved = Saved {
            x: &x,
            w: &w,
            y: None,
            argmax: &[],
        };
        let got = backward(
            saved,
            &dy,
            &g,
            &Fused::act(false),
            Wanted {
                x: false,
                w: true,
                bias: false,
            },
        );
        assert!(got.x.is_none() && got.bias.is_none());
        assert_eq!(got.w.unwrap().len(), w.len());
    }

    #[test]
    fn geometry_refuses_a_kernel_larger_than_the_padded_input() {
        assert!(ConvGeom::new([1, 1, 2, 2], 1, [5, 5], [1, 1], [(0, 0), (0, 0)]).is_none());
        let g = ConvGeom::new([1, 1, 28, 28], 1, [3, 3], [1, 1], [(1, 1), (1, 1)]).unwrap();
        assert_eq!((g.oh, g.ow), (28, 28));
        let g = ConvGeom::new([1, 1, 1, 140], 1, [1, 7], [1, 2], [(0, 0), (3, 3)]).unwrap();
        assert_eq!((g.oh, g.ow), (1, 70));
    }
}
