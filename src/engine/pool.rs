//! Max-pooling and nearest-neighbour upsampling by small integer factors
//! on `[planes, h, w]` slices (a plane is one channel of one image), forward
//! and backward, split over the planes. A 1-D series is `h = 1, fh = 1`.
//! The per-plane functions are also what the fused convolutions call.

use super::par;

/// The shape both ops work on: `planes` maps of `h × w`, and the factor in
/// each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneGeom {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub fh: usize,
    pub fw: usize,
}

impl PlaneGeom {
    /// The pooled size (the last odd row or column is dropped, as burn does).
    pub fn pooled(&self) -> (usize, usize) {
        (self.h / self.fh, self.w / self.fw)
    }
    pub fn upsampled(&self) -> (usize, usize) {
        (self.h * self.fh, self.w * self.fw)
    }
    fn plane(&self) -> usize {
        self.h * self.w
    }
    fn pooled_plane(&self) -> usize {
        let (a, b) = self.pooled();
        a * b
    }
    fn upsampled_plane(&self) -> usize {
        let (a, b) = self.upsampled();
        a * b
    }
}

/// The larger of two values; NaN if either is (as burn's max pool).
#[inline(always)]
fn max_nan(a: f32, b: f32) -> f32 {
    if a > b || a.is_nan() {
        a
    } else {
        b
    }
}

/// Max-pools one plane into `y`; with `argmax`, also records for each
/// window which of its values (in reading order) is the first largest.
pub fn max_pool_plane(x: &[f32], g: &PlaneGeom, y: &mut [f32], argmax: Option<&mut [u8]>) {
    let (oh, ow) = g.pooled();
    if g.fh == 2 && g.fw == 2 && argmax.is_none() {
        // The common case, vectorisable.
        for (oy, out) in y.chunks_exact_mut(ow).enumerate().take(oh) {
            let r0 = &x[2 * oy * g.w..2 * oy * g.w + 2 * ow];
            let r1 = &x[(2 * oy + 1) * g.w..(2 * oy + 1) * g.w + 2 * ow];
            for ((o, a), b) in out
                .iter_mut()
                .zip(r0.chunks_exact(2))
                .zip(r1.chunks_exact(2))
            {
                *o = max_nan(max_nan(a[0], a[1]), max_nan(b[0], b[1]));
            }
        }
        return;
    }
    let mut argmax = argmax;
    if g.fh == 2 && g.fw == 2 {
        if let Some(am) = argmax.as_deref_mut() {
            for oy in 0..oh {
                let r0 = &x[2 * oy * g.w..2 * oy * g.w + 2 * ow];
                let r1 = &x[(2 * oy + 1) * g.w..(2 * oy + 1) * g.w + 2 * ow];
                for ox in 0..ow {
                    let v = [r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]];
                    let k = argmax4(v[0], v[1], v[2], v[3]);
                    y[oy * ow + ox] = v[k];
                    am[oy * ow + ox] = k as u8;
                }
            }
            return;
        }
    }
    for oy in 0..oh {
        for ox in 0..ow {
            let (mut m, mut k) = (f32::NEG_INFINITY, 0usize);
            for a in 0..g.fh {
                let row = &x[(oy * g.fh + a) * g.w + ox * g.fw..][..g.fw];
                for (b, &v) in row.iter().enumerate() {
                    // NaN propagates, as in burn's max pool.
                    if v > m || (v.is_nan() && !m.is_nan()) || (a == 0 && b == 0) {
                        m = v;
                        k = a * g.fw + b;
                    }
                }
            }
            y[oy * ow + ox] = m;
            if let Some(am) = argmax.as_deref_mut() {
                am[oy * ow + ox] = k as u8;
            }
        }
    }
}

/// Which of a 2×2 window's values (in reading order) is its first largest.
#[inline(always)]
fn argmax4(a: f32, b: f32, c: f32, d: f32) -> usize {
    let (mut k, mut m) = (0, a);
    if b > m {
        k = 1;
        m = b;
    }
    if c > m {
        k = 2;
        m = c;
    }
    if d > m {
        k = 3;
    }
    k
}

/// The gradient of one plane's max-pool: each window's gradient goes to its
/// first largest input; every value of `dx` is written.
pub fn max_pool_backward_plane(x: &[f32], dy: &[f32], g: &PlaneGeom, dx: &mut [f32]) {
    let (oh, ow) = g.pooled();
    if g.fh == 2 && g.fw == 2 && g.h == 2 * oh && g.w == 2 * ow {
        for oy in 0..oh {
            let (top, bottom) = dx[2 * oy * g.w..(2 * oy + 2) * g.w].split_at_mut(g.w);
            let x0 = &x[2 * oy * g.w..(2 * oy + 1) * g.w];
            let x1 = &x[(2 * oy + 1) * g.w..(2 * oy + 2) * g.w];
            for ox in 0..ow {
                let j = 2 * ox;
                let k = argmax4(x0[j], x0[j + 1], x1[j], x1[j + 1]);
                let gv = dy[oy * ow + ox];
                top[j] = if k == 0 { gv } else { 0.0 };
                top[j + 1] = if k == 1 { gv } else { 0.0 };
                bottom[j] = if k == 2 { gv } else { 0.0 };
                bottom[j + 1] = if k == 3 { gv } else { 0.0 };
            }
        }
        return;
    }
    dx.fill(0.0);
    for oy in 0..oh {
        for ox in 0..ow {
            let mut best = (oy * g.fh) * g.w + ox * g.fw;
            let mut m = x[best];
            for a in 0..g.fh {
                for b in 0..g.fw {
                    let at = (oy * g.fh + a) * g.w + ox * g.fw + b;
                    if x[at] > m {
                        m = x[at];
                        best = at;
                    }
                }
            }
            dx[best] += dy[oy * ow + ox];
        }
    }
}

/// Repeats every value of one plane `fh × fw` times into `y`.
pub fn upsample_plane(x: &[f32], g: &PlaneGeom, y: &mut [f32]) {
    let uw = g.w * g.fw;
    for iy in 0..g.h {
        let src = &x[iy * g.w..(iy + 1) * g.w];
        let (first, rest) = y[iy * g.fh * uw..(iy + 1) * g.fh * uw].split_at_mut(uw);
        if g.fw == 2 {
            for (o, &v) in first.chunks_exact_mut(2).zip(src) {
                o[0] = v;
                o[1] = v;
            }
        } else {
            for (o, &v) in first.chunks_mut(g.fw).zip(src) {
                o.fill(v);
            }
        }
        for r in rest.chunks_exact_mut(uw) {
            r.copy_from_slice(first);
        }
    }
}

/// The gradient of one plane's upsampling: each input gets the sum of its
/// copies.
pub fn upsample_backward_plane(dy: &[f32], g: &PlaneGeom, dx: &mut [f32]) {
    let uw = g.w * g.fw;
    for (iy, out) in dx.chunks_exact_mut(g.w).enumerate().take(g.h) {
        if g.fh == 2 && g.fw == 2 {
            let r0 = &dy[2 * iy * uw..(2 * iy + 1) * uw];
            let r1 = &dy[(2 * iy + 1) * uw..(2 * iy + 2) * uw];
            for ((o, a), b) in out
                .iter_mut()
                .zip(r0.chunks_exact(2))
                .zip(r1.chunks_exact(2))
            {
                *o = (a[0] + a[1]) + (b[0] + b[1]);
            }
            continue;
        }
        out.fill(0.0);
        for a in 0..g.fh {
            let row = &dy[(iy * g.fh + a) * uw..(iy * g.fh + a + 1) * uw];
            for (o, block) in out.iter_mut().zip(row.chunks(g.fw)) {
                *o += block.iter().sum::<f32>();
            }
        }
    }
}

/// Max over each `fh × fw` window.
pub fn max_pool(x: &[f32], g: &PlaneGeom) -> Vec<f32> {
    assert_eq!(x.len(), g.planes * g.plane(), "max pool: input size");
    let n = g.plane();
    par::each_item(g.planes, g.pooled_plane(), |i, yp| {
        max_pool_plane(&x[i * n..(i + 1) * n], g, yp, None)
    })
}

/// The gradient of [`max_pool`].
pub fn max_pool_backward(x: &[f32], dy: &[f32], g: &PlaneGeom) -> Vec<f32> {
    assert_eq!(
        x.len(),
        g.planes * g.plane(),
        "max pool backward: input size"
    );
    assert_eq!(
        dy.len(),
        g.planes * g.pooled_plane(),
        "max pool backward: gradient size"
    );
    let (n, m) = (g.plane(), g.pooled_plane());
    par::each_item(g.planes, n, |i, dp| {
        max_pool_backward_plane(&x[i * n..(i + 1) * n], &dy[i * m..(i + 1) * m], g, dp)
    })
}

/// Nearest-neighbour upsampling: every value repeated `fh × fw` times.
pub fn upsample(x: &[f32], g: &PlaneGeom) -> Vec<f32> {
    assert_eq!(x.len(), g.planes * g.plane(), "upsample: input size");
    let n = g.plane();
    par::each_item(g.planes, g.upsampled_plane(), |i, yp| {
        upsample_plane(&x[i * n..(i + 1) * n], g, yp)
    })
}

/// The gradient of [`upsample`].
pub fn upsample_backward(dy: &[f32], g: &PlaneGeom) -> Vec<f32> {
    assert_eq!(
        dy.len(),
        g.planes * g.upsampled_plane(),
        "upsample backward: gradient size"
    );
    let u = g.upsampled_plane();
    par::each_item(g.planes, g.plane(), |i, dp| {
        upsample_backward_plane(&dy[i * u..(i + 1) * u], g, dp)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_and_upsample_by_hand() {
        let g = PlaneGeom {
            planes: 1,
            h: 2,
            w: 4,
            fh: 2,
            fw: 2,
        };
        let x = [1.0, 5.0, 2.0, 0.0, 3.0, 4.0, -1.0, 7.0];
        assert_eq!(max_pool(&x, &g), vec![5.0, 7.0]);
        let mut y = vec![0.0; 2];
        let mut am = vec![0u8; 2];
        max_pool_plane(&x, &g, &mut y, Some(&mut am));
        assert_eq!((y, am), (vec![5.0, 7.0], vec![1, 3]));
        assert_eq!(
            max_pool_backward(&x, &[10.0, 20.0], &g),
            vec![0.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0]
        );
        let g = PlaneGeom {
            planes: 2,
            h: 1,
            w: 2,
            fh: 2,
            fw: 2,
        };
        let up = upsample(&[1.0, 2.0, 3.0, 4.0], &g);
        assert_eq!(
            up,
            vec![1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]
        );
        assert_eq!(upsample_backward(&up, &g), vec![4.0, 8.0, 12.0, 16.0]);
        // 1-D: only the width; an odd last value is dropped by the pool.
        let g = PlaneGeom {
            planes: 1,
            h: 1,
            w: 5,
            fh: 1,
            fw: 2,
        };
        assert_eq!(max_pool(&[1.0, 2.0, 3.0, 0.0, 9.0], &g), vec![2.0, 3.0]);
        assert_eq!(
            upsample(&[1.0, 2.0], &PlaneGeom { w: 2, ..g }),
            vec![1.0, 1.0, 2.0, 2.0]
        );
        assert_eq!(
            upsample_backward(&[1.0, 2.0, 3.0, 4.0], &PlaneGeom { w: 2, ..g }),
            vec![3.0, 7.0]
        );
        // Ties go to the first value; a 3×3 window through the general path.
        let g = PlaneGeom {
            planes: 1,
            h: 3,
            w: 3,
            fh: 3,
            fw: 3,
        };
        let x = [0.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let mut y = vec![0.0];
        let mut am = vec![0u8];
        max_pool_plane(&x, &g, &mut y, Some(&mut am));
        assert_eq!((y[0], am[0]), (2.0, 1));
        assert_eq!(max_pool_backward(&x, &[1.0], &g)[1], 1.0);
    }
}
