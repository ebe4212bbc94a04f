//! The one call into the `gemm` crate: `dst (+)= lhs · rhs` on strided f32
//! matrices, with the bounds checked before the unsafe call.

/// A read-only matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A row-major matrix with `cols` values per row.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        View {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` values per row.
    pub fn rows_t(data: &'a [f32], cols: usize) -> Self {
        View {
            data,
            rs: 1,
            cs: cols,
        }
    }

    fn fits(&self, r: usize, c: usize) -> bool {
        r == 0 || c == 0 || (r - 1) * self.rs + (c - 1) * self.cs < self.data.len()
    }
}

/// `dst[m×n] = lhs[m×k] · rhs[k×n]`, or `dst += …` when `accumulate`.
/// `dst` is row-major with `dst_rs` values between rows.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: View,
    rhs: View,
    parallelism: gemm::Parallelism,
) {
    matmul_strided(m, n, k, dst, (dst_rs, 1), accumulate, lhs, rhs, parallelism)
}

/// [`matmul`] into a strided `dst`: element `(i, j)` at `i * rs + j * cs`.
/// gemm's kernels want `dst` and `lhs` column-major and `rhs` contiguous
/// along k; where an operand is not, it is packed (a transposing copy), so
/// callers choose the layout that leaves the larger operand unpacked.
#[allow(clippy::too_many_arguments)]
pub fn matmul_strided(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    (dst_rs, dst_cs): (usize, usize),
    accumulate: bool,
    lhs: View,
    rhs: View,
    parallelism: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    let dst_view = View {
        data: dst,
        rs: dst_rs,
        cs: dst_cs,
    };
    assert!(dst_view.fits(m, n), "gemm: dst too small");
    assert!(lhs.fits(m, k) && rhs.fits(k, n), "gemm: operand too small");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst[i * dst_rs + j * dst_cs] = 0.0;
                }
            }
        }
        return;
    }
    // SAFETY: every index the kernel reads or writes was checked above to
    // lie inside the three slices, and `dst` does not alias the operands
    // (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: View, b: View) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs];
                }
            }
        }
        c
    }

    #[test]
    fn matches_a_naive_product_with_transposes_and_accumulation() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5 - 3.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 - 1.0).collect();
        let want = naive(m, n, k, View::rows(&a, k), View::rows(&b, n));
        let mut c = vec![0.0; m * n];
        matmul(
            m,
            n,
            k,
            &mut c,
            n,
            false,
            View::rows(&a, k),
            View::rows(&b, n),
            gemm::Parallelism::None,
        );
        assert_eq!(c, want);
        // The same product from transposed storage.
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        matmul(
            m,
            n,
            k,
            &mut c,
            n,
            true,
            View::rows_t(&at, m),
            View::rows_t(&bt, k),
            gemm::Parallelism::None,
        );
        let twice: Vec<f32> = want.iter().map(|v| 2.0 * v).collect();
        assert_eq!(c, twice);
        // Into a column-major dst.
        let mut ct = vec![0.0; m * n];
        matmul_strided(
            m,
            n,
            k,
            &mut ct,
            (1, m),
            false,
            View::rows(&a, k),
            View::rows(&b, n),
            gemm::Parallelism::None,
        );
        for i in 0..m {
            for j in 0..n {
                assert_eq!(ct[j * m + i], want[i * n + j]);
            }
        }
    }
}
