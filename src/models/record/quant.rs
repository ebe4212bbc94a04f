//! aelab's 8-bit and 4-bit encodings of the parameters ([`super::Storage::Q8`],
//! [`super::Storage::Q4`]).

use super::WeightsError;
use burn::prelude::*;

pub(super) const Q8: &str = "q8";
pub(super) const Q4: &str = "q4";
/// In q4 files, weight tensors with at least this many values (the large
/// dense layers) are stored 4-bit; smaller kernels stay 8-bit.
pub(super) const Q4_MIN_VALUES: usize = 65_536;

/// One tensor of a q8/q4 body: its rank and dimensions (u32 LE), a kind
/// byte, then f32 values (kind 0); or one f32 scale per slice of the first
/// dimension followed by one i8 per value (kind 1), or by two signed 4-bit
/// values per byte, low nibble first (kind 2, only when `four`).
pub(super) fn q8_encode(values: &[f32], dims: &[usize], four: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_le_bytes());
    }
    if dims.len() < 2 || values.is_empty() {
        out.push(0);
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        return;
    }
    let (top, kind) = if four { (7.0f32, 2u8) } else { (127.0, 1) };
    out.push(kind);
    let slices = dims[0];
    let per = values.len() / slices;
    let quant = |v: f32, s: f32| {
        if s > 0.0 {
            (v / s).round().clamp(-top, top)
        } else {
            0.0
        }
    };
    let scales: Vec<f32> = values
        .chunks(per)
        .map(|c| {
            let max = c.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if !four {
                return max / top;
            }
            // With 15 levels, clipping the largest values lowers the error
            // of all the others: pick the clip that minimises it.
            let err = |s: f32| -> f32 { c.iter().map(|&v| (v - quant(v, s) * s).powi(2)).sum() };
            (10..=20)
                .map(|k| {
                    let s = max * k as f32 / 20.0 / top;
                    (err(s), s)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map_or(0.0, |(_, s)| s)
        })
        .collect();
    for s in &scales {
        out.extend_from_slice(&s.to_le_bytes());
    }
    let q: Vec<i8> = values
        .chunks(per)
        .zip(&scales)
        .flat_map(|(c, &s)| c.iter().map(move |&v| quant(v, s) as i8))
        .collect();
    if four {
        for pair in q.chunks(2) {
            let lo = pair[0] as u8 & 0x0f;
            let hi = pair.get(1).map_or(0, |&h| h as u8 & 0x0f);
            out.push(lo | (hi << 4));
        }
    } else {
        out.extend(q.iter().map(|&v| v as u8));
    }
}

/// Little-endian f32 values.
pub(super) fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Reads a q8 body against the model's parameter shapes, in visiting order.
pub(super) fn q8_decode(
    body: &[u8],
    shapes: &[Vec<usize>],
) -> Result<Vec<TensorData>, WeightsError> {
    let mut pos = 0usize;
    let mut take = |n: usize| -> Result<&[u8], WeightsError> {
        let end = pos.checked_add(n).ok_or(WeightsError::Truncated)?;
        let b = body.get(pos..end).ok_or(WeightsError::Truncated)?;
        pos = end;
        Ok(b)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let mut out = Vec::with_capacity(shapes.len());
    for (i, want) in shapes.iter().enumerate() {
        let rank = u32_at(take(4)?);
        if rank != want.len() {
            return Err(WeightsError::Record(format!(
                "parameter {i} has rank {rank} in the file, {} in the model",
                want.len()
            )));
        }
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(u32_at(take(4)?));
        }
        if &dims != want {
            return Err(WeightsError::Record(format!(
                "parameter {i} has shape {dims:?} in the file, {want:?} in the model"
            )));
        }
        let n: usize = dims.iter().product();
        let values: Vec<f32> = match take(1)?[0] {
            0 => f32s(take(n.checked_mul(4).ok_or(WeightsError::Truncated)?)?),
            kind @ (1 | 2) if rank >= 2 && dims[0] > 0 => {
                let slices = dims[0];
                let scales = f32s(take(slices * 4)?);
                if scales.iter().any(|s| !s.is_finite()) {
                    return Err(WeightsError::Record(format!(
                        "parameter {i} has a scale that is not a finite number"
                    )));
                }
                let per = (n / slices).max(1);
                let q: Vec<i8> = if kind == 1 {
                    take(n)?.iter().map(|&b| b as i8).collect()
                } else {
                    // Two signed nibbles per byte, low first; sign-extend.
                    take(n.div_ceil(2))?
                        .iter()
                        .flat_map(|&b| [((b << 4) as i8) >> 4, (b as i8) >> 4])
                        .take(n)
                        .collect()
                };
                q.iter()
                    .enumerate()
                    .map(|(k, &q)| q as f32 * scales[k / per])
                    .collect()
            }
            k => {
                return Err(WeightsError::Record(format!(
                    "parameter {i} has an unknown encoding {k}"
                )))
            }
        };
        out.push(TensorData::new(values, dims));
    }
    if pos != body.len() {
        return Err(WeightsError::Record(format!(
            "{} bytes after the last parameter",
            body.len() - pos
        )));
    }
    Ok(out)
}
