//! How varied and how real generated digits are. Every function works on
//! flat `f32` rows of `dim` values: pixels (784) or classifier features.

use super::linalg::{matmul, mean_cov, sqrt_psd, symmetric_eigen};

fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = (*x - *y) as f64;
            d * d
        })
        .sum()
}

fn rows(data: &[f32], dim: usize) -> Vec<&[f32]> {
    assert!(dim > 0 && data.len() % dim == 0, "ragged rows");
    data.chunks(dim).collect()
}

/// Mean Euclidean distance over all pairs of rows (0 with fewer than two).
pub fn mean_pairwise_l2(data: &[f32], dim: usize) -> f64 {
    let n = rows(data, dim).len();
    let mut sum = 0.0;
    add_pairwise_l2(data, dim, 0..n, &mut sum);
    mean_of_pairs(sum, n)
}

/// Adds to `sum` the distances of the pairs (i, j) with i in `from` and
/// j > i: [`mean_pairwise_l2`] in pieces, in the same order.
pub fn add_pairwise_l2(data: &[f32], dim: usize, from: std::ops::Range<usize>, sum: &mut f64) {
    let r = rows(data, dim);
    for i in from {
        for j in i + 1..r.len() {
            *sum += dist2(r[i], r[j]).sqrt();
        }
    }
}

fn mean_of_pairs(sum: f64, n: usize) -> f64 {
    if n < 2 {
        return 0.0;
    }
    sum / (n * (n - 1) / 2) as f64
}

/// [`mean_pairwise_l2`], awaiting `turn` between pieces of at most about
/// `work` multiply-adds, so that a page stays responsive while 500 digits
/// (about 10⁸ of them) are compared. The result is the same to the bit.
pub async fn mean_pairwise_l2_in_turns(
    data: &[f32],
    dim: usize,
    work: usize,
    turn: impl AsyncFn(),
) -> f64 {
    let n = rows(data, dim).len();
    let mut sum = 0.0;
    let mut i = 0;
    while i < n {
        let (mut end, mut done) = (i, 0);
        while end < n && (end == i || done + (n - end - 1) * dim <= work) {
            done += (n - end - 1) * dim;
            end += 1;
        }
        add_pairwise_l2(data, dim, i..end, &mut sum);
        i = end;
        if i < n {
            turn().await;
        }
    }
    mean_of_pairs(sum, n)
}

/// The mean pairwise distance of the generated images relative to that of
/// real ones: 1 means as varied as real digits, near 0 means all alike.
pub fn pairwise_l2_ratio(generated: &[f32], real: &[f32], dim: usize) -> f64 {
    let r = mean_pairwise_l2(real, dim);
    if r > 0.0 {
        mean_pairwise_l2(generated, dim) / r
    } else {
        0.0
    }
}

/// The Fréchet distance between two Gaussians:
/// `‖μ₁ − μ₂‖² + tr(C₁ + C₂ − 2 (C₁^½ C₂ C₁^½)^½)`.
pub fn frechet_distance(mu1: &[f64], c1: &[f64], mu2: &[f64], c2: &[f64], d: usize) -> f64 {
    let dm: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b) * (a - b)).sum();
    let tr = |c: &[f64]| (0..d).map(|i| c[i * d + i]).sum::<f64>();
    let s1 = sqrt_psd(c1, d);
    let m = matmul(&matmul(&s1, c2, d), &s1, d);
    // Symmetrise against rounding before the eigendecomposition.
    let mut sym = m.clone();
    for i in 0..d {
        for j in 0..d {
            sym[i * d + j] = 0.5 * (m[i * d + j] + m[j * d + i]);
        }
    }
    let (vals, _) = symmetric_eigen(&sym, d);
    let tr_sqrt: f64 = vals.iter().map(|v| v.max(0.0).sqrt()).sum();
    (dm + tr(c1) + tr(c2) - 2.0 * tr_sqrt).max(0.0)
}

/// FID between two sets of feature rows (here the classifier's penultimate
/// layer instead of Inception's): 0 when the two distributions' means and
/// covariances agree; larger is further apart.
pub fn fid(generated: &[f32], real: &[f32], dim: usize) -> f64 {
    let (m1, c1) = mean_cov(generated, dim);
    let (m2, c2) = mean_cov(real, dim);
    frechet_distance(&m1, &c1, &m2, &c2, dim)
}

/// Precision, recall, density and coverage (Naeem et al., 2020).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Prdc {
    /// Share of generated rows inside some real row's k-NN ball: realism.
    pub precision: f64,
    /// Share of real rows inside some generated row's k-NN ball: how much
    /// of the real variety is reached.
    pub recall: f64,
    /// How many real balls hold each generated row, over k: realism that is
    /// robust to real outliers (1 for a perfect match, can exceed 1).
    pub density: f64,
    /// Share of real rows whose ball holds a generated row: variety.
    pub coverage: f64,
}

/// Distance from each row to its k-th nearest other row.
fn knn_radii(r: &[&[f32]], k: usize) -> Vec<f64> {
    let n = r.len();
    let mut d = Vec::with_capacity(n);
    (0..n)
        .map(|i| {
            d.clear();
            d.extend((0..n).filter(|&j| j != i).map(|j| dist2(r[i], r[j])));
            if d.is_empty() {
                return 0.0;
            }
            let kk = k.clamp(1, d.len()) - 1;
            d.select_nth_unstable_by(kk, f64::total_cmp);
            d[kk].sqrt()
        })
        .collect()
}

pub fn prdc(real: &[f32], generated: &[f32], dim: usize, k: usize) -> Prdc {
    let x = rows(real, dim);
    let y = rows(generated, dim);
    let (n, m) = (x.len(), y.len());
    if n == 0 || m == 0 {
        return Prdc {
            precision: 0.0,
            recall: 0.0,
            density: 0.0,
            coverage: 0.0,
        };
    }
    let rx = knn_radii(&x, k);
    let ry = knn_radii(&y, k);
    // d[i][j] = distance between real i and generated j.
    let d: Vec<f64> = x
        .iter()
        .flat_map(|a| y.iter().map(move |b| dist2(a, b).sqrt()))
        .collect();
    let at = |i: usize, j: usize| d[i * m + j];
    let mut precise = 0usize;
    let mut dens = 0usize;
    for j in 0..m {
        let inside = (0..n).filter(|&i| at(i, j) <= rx[i]).count();
        precise += (inside > 0) as usize;
        dens += inside;
    }
    let recalled = (0..n)
        .filter(|&i| (0..m).any(|j| at(i, j) <= ry[j]))
        .count();
    let covered = (0..n)
        .filter(|&i| (0..m).any(|j| at(i, j) <= rx[i]))
        .count();
    Prdc {
        precision: precise as f64 / m as f64,
        recall: recalled as f64 / n as f64,
        density: dens as f64 / (k.max(1) * m) as f64,
        coverage: covered as f64 / n as f64,
    }
}

/// Distance from each row of `from` to its nearest row of `to`.
pub fn nearest_distances(from: &[f32], to: &[f32], dim: usize) -> Vec<f64> {
    let t = rows(to, dim);
    rows(from, dim)
        .iter()
        .map(|a| {
            t.iter()
                .map(|b| dist2(a, b))
                .fold(f64::INFINITY, f64::min)
                .sqrt()
        })
        .collect()
}

/// [`nearest_distances`], awaiting `turn` between pieces of at most about
/// `work` multiply-adds (at least one row each). The same result.
pub async fn nearest_distances_in_turns(
    from: &[f32],
    to: &[f32],
    dim: usize,
    work: usize,
    turn: impl AsyncFn(),
) -> Vec<f64> {
    let per_row = rows(to, dim).len().max(1) * dim;
    let piece = (work / per_row).max(1) * dim;
    let mut out = Vec::with_capacity(from.len() / dim);
    for (k, part) in from.chunks(piece).enumerate() {
        if k > 0 {
            turn().await;
        }
        out.extend(nearest_distances(part, to, dim));
    }
    out
}

/// Share of generated rows closer than `threshold` to some training row:
/// copies of the training set rather than new digits.
pub fn duplicate_rate(generated: &[f32], train: &[f32], dim: usize, threshold: f64) -> f64 {
    share_below(&nearest_distances(generated, train, dim), threshold)
}

/// Share of `distances` below `threshold` (0 for none): the duplicate
/// rate from distances already measured.
pub fn share_below(distances: &[f64], threshold: f64) -> f64 {
    if distances.is_empty() {
        return 0.0;
    }
    distances.iter().filter(|&&v| v < threshold).count() as f64 / distances.len() as f64
}

/// The median of a list (0 for an empty one).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn pairwise_distance_by_hand() {
        // (0,0), (3,4), (0,0): distances 5, 0, 5 -> mean 10/3.
        let d = mean_pairwise_l2(&[0.0, 0.0, 3.0, 4.0, 0.0, 0.0], 2);
        assert!((d - 10.0 / 3.0).abs() < 1e-12);
        // Half as spread out -> ratio 0.5; identical sets -> 1.
        let real = [0.0, 0.0, 2.0, 0.0, 0.0, 2.0];
        let half = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        assert!((pairwise_l2_ratio(&half, &real, 2) - 0.5).abs() < 1e-12);
        assert!((pairwise_l2_ratio(&real, &real, 2) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn frechet_distance_of_known_gaussians() {
        // Same covariance, means 2 apart: FD = 4.
        let i2 = [1.0, 0.0, 0.0, 1.0];
        let fd = frechet_distance(&[0.0, 0.0], &i2, &[2.0, 0.0], &i2, 2);
        assert!((fd - 4.0).abs() < 1e-10);
        // Diagonal covariances: FD = Σ (σ₁ − σ₂)² = (1−2)² + (2−1)² = 2.
        let a = [1.0, 0.0, 0.0, 4.0];
        let b = [4.0, 0.0, 0.0, 1.0];
        let fd = frechet_distance(&[0.0, 0.0], &a, &[0.0, 0.0], &b, 2);
        assert!((fd - 2.0).abs() < 1e-10, "{fd}");
        // Same samples -> 0.
        let mut rng = Rng::new(3);
        let s: Vec<f32> = (0..300).map(|_| rng.normal()).collect();
        assert!(fid(&s, &s, 3).abs() < 1e-8);
    }

    #[test]
    fn prdc_of_known_sets() {
        let mut rng = Rng::new(7);
        let real: Vec<f32> = (0..200).map(|_| rng.normal()).collect();
        // The real set against itself: every point is inside its own ball,
        // so precision, recall and coverage are 1; each ball holds itself
        // and its k neighbours, so density is (k + 1) / k.
        let p = prdc(&real, &real, 2, 5);
        assert_eq!((p.precision, p.recall, p.coverage), (1.0, 1.0, 1.0));
        assert!((p.density - 6.0 / 5.0).abs() < 1e-12, "{}", p.density);
        // A generated set far away: nothing matches.
        let far: Vec<f32> = real.iter().map(|v| v + 100.0).collect();
        let p = prdc(&real, &far, 2, 5);
        assert_eq!(
            (p.precision, p.recall, p.density, p.coverage),
            (0.0, 0.0, 0.0, 0.0)
        );
        // A collapsed generator (one real point repeated) is precise but
        // covers almost nothing.
        let collapsed: Vec<f32> = real[..2].repeat(100);
        let p = prdc(&real, &collapsed, 2, 5);
        assert_eq!(p.precision, 1.0);
        assert!(p.coverage < 0.2, "{}", p.coverage);
    }

    #[test]
    fn duplicates_and_nearest() {
        let train = [0.0f32, 0.0, 10.0, 10.0];
        let gen = [0.0f32, 0.1, 5.0, 5.0, 10.0, 10.0, 20.0, 20.0];
        let d = nearest_distances(&gen, &train, 2);
        assert!((d[0] - 0.1).abs() < 1e-6 && d[2] == 0.0);
        assert_eq!(duplicate_rate(&gen, &train, 2, 1.0), 0.5);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn the_measures_in_turns_give_the_same_bits_and_take_their_turns() {
        let mut rng = Rng::new(11);
        let a: Vec<f32> = (0..37 * 5).map(|_| rng.normal()).collect();
        let b: Vec<f32> = (0..11 * 5).map(|_| rng.normal()).collect();
        let turns = std::cell::Cell::new(0);
        let turn = async || turns.set(turns.get() + 1);
        for work in [0, 1, 40, 200, 1 << 30] {
            turns.set(0);
            let m = crate::platform::block_on(mean_pairwise_l2_in_turns(&a, 5, work, turn));
            assert_eq!(
                m.to_bits(),
                mean_pairwise_l2(&a, 5).to_bits(),
                "work {work}"
            );
            let pairwise_turns = turns.get();
            turns.set(0);
            let d = crate::platform::block_on(nearest_distances_in_turns(&a, &b, 5, work, turn));
            assert_eq!(d, nearest_distances(&a, &b, 5), "work {work}");
            // Small pieces: a turn between each (the last row has no pairs
            // of its own); one piece: none.
            if work <= 1 {
                assert_eq!((pairwise_turns, turns.get()), (36, 36));
            } else if work == 1 << 30 {
                assert_eq!((pairwise_turns, turns.get()), (0, 0));
            } else {
                assert!(pairwise_turns > 0 && turns.get() > 0);
            }
        }
        assert_eq!(
            crate::platform::block_on(mean_pairwise_l2_in_turns(&a[..5], 5, 0, turn)),
            0.0
        );
    }
}
