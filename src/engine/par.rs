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

/// Runs `f(item, range, out)` for each of `items` (one per range of
/// `ranges`, which partition `0..n`), in parallel, on a new vector of
/// `n * item_len` values: `out` is the range's part of it. Each thread zeroes
/// its own part first, so the zeroing is split over the threads instead of
/// being one serial `memset` before them.
pub fn fill_parts<T: Send, R: Send>(
    n: usize,
    item_len: usize,
    ranges: &[std::ops::Range<usize>],
    items: Vec<T>,
    f: impl Fn(T, std::ops::Range<usize>, &mut [f32]) -> R + Sync + Send,
) -> (Vec<f32>, Vec<R>) {
    use std::mem::MaybeUninit;
    assert_eq!(
        ranges.iter().map(|r| r.len()).sum::<usize>(),
        n,
        "ranges must cover the items"
    );
    assert_eq!(items.len(), ranges.len());
    let len = n * item_len;
    let mut v: Vec<f32> = Vec::with_capacity(len);
    let parts = split(&mut v.spare_capacity_mut()[..len], ranges, item_len);
    let jobs: Vec<_> = items
        .into_iter()
        .zip(ranges.iter().cloned())
        .zip(parts)
        .collect();
    let results = map(
        jobs,
        |((item, r), part): ((T, std::ops::Range<usize>), &mut [MaybeUninit<f32>])| {
            part.fill(MaybeUninit::new(0.0));
            // SAFETY: every element of `part` was just initialised, and
            // MaybeUninit<f32> has f32's layout.
            let part = unsafe { &mut *(part as *mut [MaybeUninit<f32>] as *mut [f32]) };
            f(item, r, part)
        },
    );
    // SAFETY: the parts partition [0, len) (the ranges cover 0..n, checked
    // above) and each was initialised by its job; a panicking job never
    // gets here.
    unsafe { v.set_len(len) };
    (v, results)
}

/// The fewest values [`each_item`] splits over the threads: below it (one
/// image's planes: 64 pooled 14×14 planes are 12 544 values) handing parts
/// to other threads costs more than it saves. Natively, one digit through
/// the skip denoiser took 0.92–0.95 ms on two threads with every plane
/// split, 0.59 ms with this (as on one thread), and training throughput
/// stayed the same.
pub const MIN_SPLIT: usize = 1 << 16;

/// A new vector of `n` items of `item_len` values each, `f(index, item)`
/// writing every item, split over the threads by [`fill_parts`] when there
/// are at least [`MIN_SPLIT`] values.
pub fn each_item(
    n: usize,
    item_len: usize,
    f: impl Fn(usize, &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    if item_len == 0 {
        return Vec::new();
    }
    let parts = if n * item_len >= MIN_SPLIT {
        threads()
    } else {
        1
    };
    let ranges = ranges(n, parts);
    let units = vec![(); ranges.len()];
    fill_parts(n, item_len, &ranges, units, |(), r, out| {
        for (i, item) in r.zip(out.chunks_mut(item_len)) {
            f(i, item);
        }
    })
    .0
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

    #[test]
    fn each_item_writes_every_item_below_and_above_the_split() {
        for n in [MIN_SPLIT / 64 - 1, MIN_SPLIT / 64, 4 * MIN_SPLIT / 64 + 3] {
            let v = each_item(n, 64, |i, out| {
                assert!(out.iter().all(|&x| x == 0.0));
                for (j, o) in out.iter_mut().enumerate() {
                    *o = (i * 64 + j) as f32;
                }
            });
            assert_eq!(v.len(), n * 64);
            assert!(v.iter().enumerate().all(|(k, &x)| x == k as f32));
        }
    }

    #[test]
    fn fill_parts_hands_each_range_its_zeroed_part() {
        let r = ranges(7, 3);
        let items: Vec<usize> = (0..r.len()).collect();
        let (v, lens) = fill_parts(7, 2, &r, items, |k, range, out| {
            assert_eq!(range, r[k], "each item comes with its own range");
            assert!(out.iter().all(|&x| x == 0.0));
            for (j, o) in out.iter_mut().enumerate() {
                *o = (range.start * 2 + j) as f32;
            }
            out.len()
        });
        assert_eq!(lens.iter().sum::<usize>(), 14);
        assert_eq!(v, (0..14).map(|i| i as f32).collect::<Vec<_>>());
    }
}
