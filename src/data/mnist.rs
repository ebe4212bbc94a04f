//! MNIST as 28×28 grey-level bytes with digit labels.

use super::idx::{parse_idx, IdxError};
use crate::rng::Rng;

pub const SIDE: usize = 28;
pub const PIXELS: usize = SIDE * SIDE;

/// A set of MNIST digits: `images` holds `len() * 784` bytes, row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mnist {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    pub fn file_names(self) -> (&'static str, &'static str) {
        match self {
            Split::Train => ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            Split::Test => ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        }
    }
}

impl Mnist {
    /// Builds the set from an image file and a label file in IDX format
    /// (plain or gzipped), checking that they agree.
    pub fn from_idx(images: &[u8], labels: &[u8]) -> Result<Self, IdxError> {
        let im = parse_idx(images, 3)?;
        let lb = parse_idx(labels, 1)?;
        if im.dims[1] != SIDE || im.dims[2] != SIDE {
            return Err(IdxError::WrongImageSize {
                expected: (SIDE, SIDE),
                found: (im.dims[1], im.dims[2]),
            });
        }
        if im.dims[0] != lb.dims[0] {
            return Err(IdxError::CountMismatch {
                images: im.dims[0],
                labels: lb.dims[0],
            });
        }
        if let Some((index, &value)) = lb.data.iter().enumerate().find(|(_, &v)| v > 9) {
            return Err(IdxError::BadLabel { index, value });
        }
        Ok(Self {
            images: im.data,
            labels: lb.data,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// The image as floats in [0, 1].
    pub fn image_f32(&self, i: usize) -> Vec<f32> {
        self.image(i).iter().map(|&p| p as f32 / 255.0).collect()
    }

    /// The chosen images, concatenated, as floats in [0, 1].
    pub fn batch_f32(&self, indices: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * PIXELS);
        for &i in indices {
            out.extend(self.image(i).iter().map(|&p| p as f32 / 255.0));
        }
        out
    }

    pub fn subset(&self, indices: &[usize]) -> Mnist {
        let mut images = Vec::with_capacity(indices.len() * PIXELS);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Mnist { images, labels }
    }

    /// The first `n` items (or all, if there are fewer).
    pub fn take(&self, n: usize) -> Mnist {
        let n = n.min(self.len());
        Mnist {
            images: self.images[..n * PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// Splits off a seeded random share `fraction` as a validation set.
    pub fn split_validation(&self, fraction: f32, seed: u64) -> (Mnist, Mnist) {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        Rng::derive(seed, 0x5A11D).shuffle(&mut idx);
        let n_val = ((self.len() as f32 * fraction).round() as usize).min(self.len());
        let (val, train) = idx.split_at(n_val);
        (self.subset(train), self.subset(val))
    }

    /// Index of the first example of each digit 0–9, if every digit occurs.
    pub fn first_of_each_digit(&self) -> Option<[usize; 10]> {
        let mut out = [usize::MAX; 10];
        for (i, &l) in self.labels.iter().enumerate() {
            if out[l as usize] == usize::MAX {
                out[l as usize] = i;
            }
        }
        out.iter().all(|&i| i != usize::MAX).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::write_idx;

    fn tiny(n: usize) -> (Vec<u8>, Vec<u8>) {
        let images: Vec<u8> = (0..n * PIXELS).map(|i| (i % 251) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        (
            write_idx(&[n, SIDE, SIDE], &images),
            write_idx(&[n], &labels),
        )
    }

    #[test]
    fn builds_from_matching_files() {
        let (im, lb) = tiny(12);
        let m = Mnist::from_idx(&im, &lb).unwrap();
        assert_eq!(m.len(), 12);
        assert_eq!(m.image(1)[0], (PIXELS % 251) as u8);
        assert_eq!(m.first_of_each_digit().unwrap()[3], 3);
        let (tr, va) = m.split_validation(0.25, 1);
        assert_eq!((tr.len(), va.len()), (9, 3));
        let f = m.image_f32(0);
        assert!(f.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn reports_mismatched_counts_and_bad_labels() {
        let (im, _) = tiny(12);
        let (_, lb) = tiny(11);
        assert_eq!(
            Mnist::from_idx(&im, &lb).unwrap_err(),
            IdxError::CountMismatch {
                images: 12,
                labels: 11
            }
        );
        let (im, _) = tiny(2);
        let e = Mnist::from_idx(&im, &write_idx(&[2], &[1, 12])).unwrap_err();
        assert_eq!(
            e,
            IdxError::BadLabel {
                index: 1,
                value: 12
            }
        );
        let small = write_idx(&[1, 20, 20], &[0; 400]);
        assert!(matches!(
            Mnist::from_idx(&small, &write_idx(&[1], &[1])).unwrap_err(),
            IdxError::WrongImageSize { .. }
        ));
        // Labels passed where images belong.
        assert!(matches!(
            Mnist::from_idx(&lb, &lb).unwrap_err(),
            IdxError::WrongRank { .. }
        ));
    }
}
