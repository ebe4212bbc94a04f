//! Where the engine's kernels get their threads: rayon natively (and in a
//! wasm build with atomics), the current thread in today's wasm. This is
//! the only platform `cfg` in the engine.

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
mod imp {
    use rayon::prelude::*;

    pub fn threads() -> usize {
        rayon::current_num_threads().max(1)
    }

    pub fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
        if items.len() <= 1 {
            return items.into_iter().map(f).collect();
        }
        items.into_par_iter().map(f).collect()
    }

    pub fn gemm_parallelism(work_threads: usize) -> gemm::Parallelism {
        if work_threads > 1 {
            gemm::Parallelism::Rayon(work_threads)
        } else {
            gemm::Parallelism::None
        }
    }
}

#[cfg(not(any(not(target_arch = "wasm32"), target_feature = "atomics")))]
mod imp {
    pub fn threads() -> usize {
        1
    }

    pub fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
        items.into_iter().map(f).collect()
    }

    pub fn gemm_parallelism(_work_threads: usize) -> gemm::Parallelism {
        gemm::Parallelism::None
    }
}

pub use imp::{gemm_parallelism, map, threads};

/// Splits `n` items into at most `parts` contiguous ranges of near-equal
/// size (none empty).
pub fn ranges(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.clamp(1, n.max(1));
    let (q, r) = (n / parts, n % parts);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for i in 0..parts {
        let len = q + usize::from(i < r);
        if len == 0 {
            continue;
        }
        out.push(start..start + len);
        start += len;
    }
    out
}

/// Splits `buf` (items of `item_len` values each) along `ranges`.
pub fn split<'a, T>(
    mut buf: &'a mut [T],
    ranges: &[std::ops::Range<usize>],
    item_len: usize,
) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(ranges.len());
    for r in ranges {
        let (head, tail) = buf.split_at_mut(r.len() * item_len);
        out.push(head);
        buf = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_item_once() {
        for n in 0..20 {
            for parts in 1..6 {
                let r = ranges(n, parts);
                let total: usize = r.iter().map(|r| r.len()).sum();
                assert_eq!(total, n);
                assert!(r.len() <= parts);
                assert!(r.iter().all(|r| !r.is_empty()));
                for w in r.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                }
            }
        }
    }
}
