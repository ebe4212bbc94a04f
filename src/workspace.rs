//! The workspace file: all the work a browser keeps (models, designs, run
//! tables, uploads, report text, settings) in one file a student can carry
//! home and open again, on another computer, in another browser.
//!
//! The page's storage holds JSON-like values and byte arrays. The page
//! replaces each byte array with `{"$bytes": i}`; the file holds those
//! values as JSON and the arrays after them, so weights are not inflated
//! by an encoding:
//!
//! ```text
//! "AELABWS\n"  8 bytes
//! u32 LE       the length of the manifest
//! manifest     JSON: {"aelab_workspace": 1, "aelab": version, "saved": when,
//!                     "entries": {key: value, …}, "blobs": [length, …]}
//! blobs        the byte arrays, one after another
//! ```

use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"AELABWS\n";
/// The version of the format this aelab writes and reads.
pub const FORMAT: u32 = 1;
/// The largest workspace file aelab opens.
pub const MAX_BYTES: usize = 512 << 20;
const MAX_MANIFEST: usize = 64 << 20;

/// What a workspace file says of itself, and its entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub aelab_workspace: u32,
    /// The aelab version that saved it.
    pub aelab: String,
    /// When it was saved (ISO 8601, the saving browser's clock).
    pub saved: String,
    /// The stored values by key, byte arrays as `{"$bytes": i}`.
    pub entries: serde_json::Map<String, serde_json::Value>,
    /// The length of each byte array.
    pub blobs: Vec<u64>,
}

/// The file of `entries` (values with `{"$bytes": i}` for `blobs[i]`),
/// saved at `saved`.
pub fn pack(
    entries: serde_json::Map<String, serde_json::Value>,
    blobs: &[&[u8]],
    saved: &str,
) -> Result<Vec<u8>, String> {
    check_refs(&entries, blobs.len())?;
    let manifest = Manifest {
        aelab_workspace: FORMAT,
        aelab: crate::labs::runs::VERSION.into(),
        saved: saved.into(),
        entries,
        blobs: blobs.iter().map(|b| b.len() as u64).collect(),
    };
    let head = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
    let total = 12 + head.len() + blobs.iter().map(|b| b.len()).sum::<usize>();
    if total > MAX_BYTES {
        return Err(format!(
            "the workspace would be {} MB, over the {} MB a workspace file may hold; remove some runs or uploads first",
            total >> 20,
            MAX_BYTES >> 20
        ));
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(&head);
    for b in blobs {
        out.extend_from_slice(b);
    }
    Ok(out)
}

/// The manifest and byte arrays of a workspace file; anything else, or a
/// damaged one, is an error that says what is wrong.
pub fn unpack(bytes: &[u8]) -> Result<(Manifest, Vec<&[u8]>), String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "the file is {} MB; a workspace file holds at most {} MB",
            bytes.len() >> 20,
            MAX_BYTES >> 20
        ));
    }
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err("this is not an aelab workspace file (save one with “Save workspace”)".into());
    }
    let n = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
    if n > MAX_MANIFEST || 12 + n > bytes.len() {
        return Err(
            "the workspace file is cut short or damaged (its contents list does not fit)".into(),
        );
    }
    let version: serde_json::Value = serde_json::from_slice(&bytes[12..12 + n])
        .map_err(|_| "the workspace file is damaged (its contents list is not JSON)".to_string())?;
    match version["aelab_workspace"].as_u64() {
        Some(v) if v > FORMAT as u64 => {
            return Err(format!(
                "this workspace was saved by a newer aelab ({}, workspace format {v}); this one reads format {FORMAT}",
                version["aelab"].as_str().unwrap_or("unknown version")
            ))
        }
        Some(_) => {}
        None => return Err("the workspace file is damaged (it has no format version)".into()),
    }
    let m: Manifest = serde_json::from_value(version)
        .map_err(|e| format!("the workspace file is damaged ({e})"))?;
    let mut blobs = Vec::with_capacity(m.blobs.len());
    let mut at = 12 + n;
    for (i, &len) in m.blobs.iter().enumerate() {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > bytes.len() - at {
            return Err(format!(
                "the workspace file is cut short: item {} of {} needs {len} bytes, {} remain",
                i + 1,
                m.blobs.len(),
                bytes.len() - at
            ));
        }
        blobs.push(&bytes[at..at + len]);
        at += len;
    }
    if at != bytes.len() {
        return Err(format!(
            "the workspace file is damaged: {} bytes follow its last item",
            bytes.len() - at
        ));
    }
    check_refs(&m.entries, blobs.len())?;
    Ok((m, blobs))
}

/// Every `{"$bytes": i}` in `entries` names one of `count` byte arrays.
fn check_refs(
    entries: &serde_json::Map<String, serde_json::Value>,
    count: usize,
) -> Result<(), String> {
    fn walk(v: &serde_json::Value, count: usize, key: &str) -> Result<(), String> {
        match v {
            serde_json::Value::Object(o) => {
                if let Some(i) = o.get("$bytes") {
                    return match i.as_u64() {
                        Some(i) if (i as usize) < count && o.len() == 1 => Ok(()),
                        _ => Err(format!(
                            "the workspace file is damaged: \"{key}\" refers to data it does not hold"
                        )),
                    };
                }
                o.values().try_for_each(|x| walk(x, count, key))
            }
            serde_json::Value::Array(a) => a.iter().try_for_each(|x| walk(x, count, key)),
            _ => Ok(()),
        }
    }
    entries.iter().try_for_each(|(k, v)| walk(v, count, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entries(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_workspace_comes_back_as_it_was_saved() {
        let e = entries(json!({
            "denoiser": {"$bytes": 0},
            "anomaly-run": {"bytes": {"$bytes": 1}, "model": {"$bytes": 2}, "settings": {"epochs": 3}},
            "runs-denoise": [{"lab": "denoise", "command": "aelab denoise train"}],
            "report-text": {"3": "The skip model wins."},
        }));
        let blobs: [&[u8]; 3] = [b"weights", b"", &[0, 255, 7]];
        let file = pack(e.clone(), &blobs, "2026-12-05T10:00:00Z").unwrap();
        let (m, back) = unpack(&file).unwrap();
        assert_eq!(m.entries, e);
        assert_eq!(back, blobs.to_vec());
        assert_eq!(
            (m.aelab_workspace, m.saved.as_str()),
            (1, "2026-12-05T10:00:00Z")
        );
    }

    #[test]
    fn a_damaged_or_foreign_file_says_what_is_wrong() {
        let e = entries(json!({"denoiser": {"$bytes": 0}}));
        let file = pack(e.clone(), &[b"0123456789"], "now").unwrap();
        let err = |b: &[u8]| unpack(b).unwrap_err();
        assert_eq!(err(b""), "the file is empty");
        assert!(err(b"col1,col2\n1,2\n").starts_with("this is not an aelab workspace file"));
        assert!(err(&file[..file.len() - 3])
            .starts_with("the workspace file is cut short: item 1 of 1 needs 10 bytes, 7 remain"));
        assert!(err(&file[..20]).contains("cut short or damaged"));
        let mut longer = file.clone();
        longer.push(0);
        assert!(err(&longer).contains("1 bytes follow its last item"));
        // A newer format is named, not misread.
        let newer = String::from_utf8_lossy(&file)
            .replace("\"aelab_workspace\":1", "\"aelab_workspace\":9");
        assert!(err(newer.as_bytes()).contains("workspace format 9"));
        // A reference to data it does not hold.
        assert!(pack(entries(json!({"x": {"$bytes": 1}})), &[b"a"], "")
            .unwrap_err()
            .contains("\"x\" refers to data"));
        let bad = String::from_utf8_lossy(&file).replace("{\"$bytes\":0}", "{\"$bytes\":5}");
        assert!(err(bad.as_bytes()).contains("\"denoiser\" refers to data"));
    }
}
