//! Reader for the IDX format of the original MNIST files, plain or gzipped.
//!
//! Every malformed input gives an [`IdxError`] with a message a person can
//! act on; nothing here panics or allocates more than the input justifies.

use std::fmt;
use std::io::Read;

/// The largest decompressed IDX file accepted (the MNIST training images
/// are 47 MB); a guard against gzip bombs and absurd headers.
pub const MAX_IDX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdxError {
    /// Fewer bytes than even the header needs.
    TooShort { len: usize, need: usize },
    /// The first bytes are not an IDX magic number for unsigned bytes.
    BadMagic { found: [u8; 4] },
    /// The file has a different number of dimensions than expected.
    WrongRank { expected: usize, found: usize },
    /// The header promises more data than the file holds.
    Truncated { expected: usize, found: usize },
    /// The file holds more data than the header describes.
    TrailingBytes { extra: usize },
    /// Images are not 28×28 (or whatever the caller asked for).
    WrongImageSize {
        expected: (usize, usize),
        found: (usize, usize),
    },
    /// Image and label files disagree on the number of items.
    CountMismatch { images: usize, labels: usize },
    /// A label outside 0–9.
    BadLabel { index: usize, value: u8 },
    /// The gzip stream is corrupt.
    Gzip(String),
    /// The decompressed or declared size is beyond [`MAX_IDX_BYTES`].
    TooLarge { bytes: usize },
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdxError::TooShort { len, need } => write!(
                f,
                "not an IDX file: it has {len} bytes, but the header alone needs {need}"
            ),
            IdxError::BadMagic { found } => write!(
                f,
                "not an IDX file of unsigned bytes: the magic number is {:02x} {:02x} {:02x} {:02x}, expected 00 00 08 01 (labels) or 00 00 08 03 (images)",
                found[0], found[1], found[2], found[3]
            ),
            IdxError::WrongRank { expected, found } => write!(
                f,
                "IDX file has {found} dimensions, expected {expected} (labels have 1, images 3)"
            ),
            IdxError::Truncated { expected, found } => write!(
                f,
                "IDX file is truncated: the header promises {expected} data bytes but only {found} follow"
            ),
            IdxError::TrailingBytes { extra } => write!(
                f,
                "IDX file has {extra} bytes more than its header describes"
            ),
            IdxError::WrongImageSize { expected, found } => write!(
                f,
                "images are {}x{}, expected {}x{}",
                found.0, found.1, expected.0, expected.1
            ),
            IdxError::CountMismatch { images, labels } => write!(
                f,
                "the image file holds {images} images but the label file holds {labels} labels"
            ),
            IdxError::BadLabel { index, value } => {
                write!(f, "label {index} is {value}, expected a digit 0-9")
            }
            IdxError::Gzip(e) => write!(f, "the gzip stream is corrupt: {e}"),
            IdxError::TooLarge { bytes } => write!(
                f,
                "IDX data of {bytes} bytes is larger than the limit of {MAX_IDX_BYTES} bytes"
            ),
        }
    }
}

impl std::error::Error for IdxError {}

/// A parsed IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Decompresses `bytes` if they start with the gzip magic, else returns them.
pub fn maybe_gunzip(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, IdxError> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::new();
        let mut dec = flate2::read::GzDecoder::new(bytes).take(MAX_IDX_BYTES as u64 + 1);
        dec.read_to_end(&mut out)
            .map_err(|e| IdxError::Gzip(e.to_string()))?;
        if out.len() > MAX_IDX_BYTES {
            return Err(IdxError::TooLarge { bytes: out.len() });
        }
        Ok(std::borrow::Cow::Owned(out))
    } else {
        Ok(std::borrow::Cow::Borrowed(bytes))
    }
}

/// Parses an IDX file of unsigned bytes (type code 0x08) with `rank` dimensions.
/// Accepts gzipped input.
pub fn parse_idx(bytes: &[u8], rank: usize) -> Result<IdxArray, IdxError> {
    let bytes = maybe_gunzip(bytes)?;
    let bytes = bytes.as_ref();
    if bytes.len() < 4 {
        return Err(IdxError::TooShort {
            len: bytes.len(),
            need: 4,
        });
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] == 0 || magic[3] > 4 {
        return Err(IdxError::BadMagic { found: magic });
    }
    let found_rank = magic[3] as usize;
    if found_rank != rank {
        return Err(IdxError::WrongRank {
            expected: rank,
            found: found_rank,
        });
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(IdxError::TooShort {
            len: bytes.len(),
            need: header,
        });
    }
    let mut dims = Vec::with_capacity(rank);
    let mut total: usize = 1;
    for d in 0..rank {
        let o = 4 + 4 * d;
        let v = u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize;
        dims.push(v);
        total = total
            .checked_mul(v)
            .ok_or(IdxError::TooLarge { bytes: usize::MAX })?;
    }
    if total > MAX_IDX_BYTES {
        return Err(IdxError::TooLarge { bytes: total });
    }
    let body = &bytes[header..];
    if body.len() < total {
        return Err(IdxError::Truncated {
            expected: total,
            found: body.len(),
        });
    }
    if body.len() > total {
        return Err(IdxError::TrailingBytes {
            extra: body.len() - total,
        });
    }
    Ok(IdxArray {
        dims,
        data: body.to_vec(),
    })
}

/// Serialises an IDX array of unsigned bytes (used by tests and tools).
pub fn write_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn parses_good_files_plain_and_gzipped() {
        let raw = write_idx(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let a = parse_idx(&raw, 3).unwrap();
        assert_eq!(a.dims, vec![2, 2, 3]);
        assert_eq!(a.data[11], 12);
        assert_eq!(parse_idx(&gz(&raw), 3).unwrap(), a);
        let labels = parse_idx(&write_idx(&[3], &[7, 8, 9]), 1).unwrap();
        assert_eq!(labels.data, vec![7, 8, 9]);
    }

    #[test]
    fn reports_bad_magic() {
        let mut raw = write_idx(&[1], &[0]);
        raw[2] = 0x0D; // float type code
        let e = parse_idx(&raw, 1).unwrap_err();
        assert!(matches!(e, IdxError::BadMagic { .. }));
        assert!(e.to_string().contains("magic number is 00 00 0d 01"), "{e}");
        let e = parse_idx(b"PK\x03\x04 not idx at all", 1).unwrap_err();
        assert!(matches!(e, IdxError::BadMagic { .. }));
    }

    #[test]
    fn reports_truncation_and_trailing_bytes() {
        let raw = write_idx(&[10, 28, 28], &vec![0u8; 10 * 784]);
        let e = parse_idx(&raw[..raw.len() - 5], 3).unwrap_err();
        assert_eq!(
            e,
            IdxError::Truncated {
                expected: 7840,
                found: 7835
            }
        );
        assert!(e.to_string().contains("truncated"));
        let e = parse_idx(&raw[..10], 3).unwrap_err();
        assert!(matches!(e, IdxError::TooShort { need: 16, .. }), "{e:?}");
        let mut long = raw.clone();
        long.push(0);
        assert_eq!(
            parse_idx(&long, 3).unwrap_err(),
            IdxError::TrailingBytes { extra: 1 }
        );
        // A truncated gzip stream is reported, not a panic.
        let z = gz(&raw);
        assert!(matches!(
            parse_idx(&z[..z.len() / 2], 3).unwrap_err(),
            IdxError::Gzip(_)
        ));
    }

    #[test]
    fn reports_wrong_rank_and_absurd_headers() {
        let raw = write_idx(&[3], &[1, 2, 3]);
        assert_eq!(
            parse_idx(&raw, 3).unwrap_err(),
            IdxError::WrongRank {
                expected: 3,
                found: 1
            }
        );
        let huge = write_idx(&[u32::MAX as usize, u32::MAX as usize, 28], &[]);
        assert!(matches!(
            parse_idx(&huge, 3).unwrap_err(),
            IdxError::TooLarge { .. }
        ));
        assert!(matches!(
            parse_idx(&[], 1).unwrap_err(),
            IdxError::TooShort { len: 0, .. }
        ));
    }
}
