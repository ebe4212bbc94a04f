//! The small dense linear algebra the augmentation lab needs: means and
//! covariances, a Cholesky factor (to sample a fitted Gaussian) and the
//! symmetric eigendecomposition (for the matrix square root in FID).
//! Matrices are row-major `Vec<f64>` of `d × d`.

/// Mean and (unbiased, n − 1) covariance of `n` rows of `d` values.
pub fn mean_cov(rows: &[f32], d: usize) -> (Vec<f64>, Vec<f64>) {
    assert!(d > 0 && rows.len() % d == 0, "mean_cov: ragged rows");
    let n = rows.len() / d;
    let mut mean = vec![0.0f64; d];
    for r in rows.chunks(d) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += v as f64;
        }
    }
    if n > 0 {
        mean.iter_mut().for_each(|m| *m /= n as f64);
    }
    let mut cov = vec![0.0f64; d * d];
    let mut c = vec![0.0f64; d];
    for r in rows.chunks(d) {
        for k in 0..d {
            c[k] = r[k] as f64 - mean[k];
        }
        for i in 0..d {
            let ci = c[i];
            if ci == 0.0 {
                continue;
            }
            let row = &mut cov[i * d..(i + 1) * d];
            for j in i..d {
                row[j] += ci * c[j];
            }
        }
    }
    let div = (n.max(2) - 1) as f64;
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] / div;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    (mean, cov)
}

/// Lower-triangular `L` with `L·Lᵀ = a`, for a symmetric positive-definite
/// `a`. Returns `None` when `a` is not positive definite.
pub fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Eigenvalues and eigenvectors of a symmetric matrix by cyclic Jacobi
/// rotations. Returns `(values, vectors)` with eigenvector `k` in column
/// `k` of the row-major `vectors`.
pub fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = m.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
    for _sweep in 0..100 {
        let mut off = 0.0;
        for i in 0..d {
            for j in i + 1..d {
                off += m[i * d + j] * m[i * d + j];
            }
        }
        if off.sqrt() <= 1e-14 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = m[p * d + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let (app, aqq) = (m[p * d + p], m[q * d + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (mkp, mkq) = (m[k * d + p], m[k * d + q]);
                    m[k * d + p] = c * mkp - s * mkq;
                    m[k * d + q] = s * mkp + c * mkq;
                }
                for k in 0..d {
                    let (mpk, mqk) = (m[p * d + k], m[q * d + k]);
                    m[p * d + k] = c * mpk - s * mqk;
                    m[q * d + k] = s * mpk + c * mqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| m[i * d + i]).collect(), v)
}

/// `a · b` for square `d × d` matrices.
pub fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; d * d];
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..d {
                out[i * d + j] += aik * b[k * d + j];
            }
        }
    }
    out
}

/// The symmetric square root of a symmetric positive semi-definite matrix
/// (negative eigenvalues from rounding are clamped to zero).
pub fn sqrt_psd(a: &[f64], d: usize) -> Vec<f64> {
    let (vals, vecs) = symmetric_eigen(a, d);
    let mut out = vec![0.0f64; d * d];
    for k in 0..d {
        let s = vals[k].max(0.0).sqrt();
        if s == 0.0 {
            continue;
        }
        for i in 0..d {
            let vik = vecs[i * d + k] * s;
            for j in 0..d {
                out[i * d + j] += vik * vecs[j * d + k];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_covariance_by_hand() {
        // Rows (1, 2), (3, 6): mean (2, 4), var (2, 8), cov 4.
        let (m, c) = mean_cov(&[1.0, 2.0, 3.0, 6.0], 2);
        assert_eq!(m, vec![2.0, 4.0]);
        assert_eq!(c, vec![2.0, 4.0, 4.0, 8.0]);
    }

    #[test]
    fn cholesky_reconstructs() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let l = cholesky(&a, 2).unwrap();
        assert_eq!(l[1], 0.0);
        let lt = [l[0], l[2], l[1], l[3]];
        let back = matmul(&l, &lt, 2);
        for (x, y) in back.iter().zip(a) {
            assert!((x - y).abs() < 1e-12);
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn eigen_of_known_matrix() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let (mut vals, _) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        vals.sort_by(f64::total_cmp);
        assert!((vals[0] - 1.0).abs() < 1e-12 && (vals[1] - 3.0).abs() < 1e-12);
        // The square root squares back.
        let a = [5.0, 2.0, 0.5, 2.0, 4.0, 1.0, 0.5, 1.0, 3.0];
        let s = sqrt_psd(&a, 3);
        for (x, y) in matmul(&s, &s, 3).iter().zip(a) {
            assert!((x - y).abs() < 1e-10, "{x} vs {y}");
        }
    }
}
