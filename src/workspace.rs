//! The workspace file: all the work a browser keeps (models, designs, run
//! tables, uploads, report text, settings) in one file a student can carry
//! home and open again, on another computer, in another browser.
//!
//! The page's storage holds JSON-like values and byte arrays. The page
//! replaces each byte array with `{"$bytes": i}`; the file holds those
//! values as the page's JSON text, unchanged (so every number comes back
//! as it was), and the arrays after them, so weights are not inflated by
//! an encoding:
//!
//! ```text
//! "AELABWS\n"  8 bytes
//! u32 LE       the length of the manifest
//! manifest     JSON: {"aelab_workspace": 1, "aelab": version, "saved": when,
//!                     "entries": "{key: value, …}", "blobs": [length, …]}
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
    /// The stored values by key, byte arrays as `{"$bytes": i}`: the JSON
    /// text of an object, as the page wrote it.
    pub entries: String,
    /// The length of each byte array.
    pub blobs: Vec<u64>,
}

/// The file of `entries` (the JSON text of an object of stored values,
/// with `{"$bytes": i}` for `blobs[i]`), saved at `saved`.
pub fn pack(entries: &str, blobs: &[&[u8]], saved: &str) -> Result<Vec<u8>, String> {
    let parsed = parse_entries(entries).map_err(|e| format!("bad workspace: {e}"))?;
    check_refs(&parsed, blobs.len())?;
    let manifest = Manifest {
        aelab_workspace: FORMAT,
        aelab: crate::labs::runs::VERSION.into(),
        saved: saved.into(),
        entries: entries.into(),
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
    let entries =
        parse_entries(&m.entries).map_err(|e| format!("the workspace file is damaged ({e})"))?;
    check_refs(&entries, blobs.len())?;
    Ok((m, blobs))
}

/// The entries' text as an object.
fn parse_entries(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(o)) => Ok(o),
        Ok(_) => Err("its entries are not an object".into()),
        Err(e) => Err(format!("its entries are not JSON: {e}")),
    }
}

impl Manifest {
    /// The stored values by key (checked when the file was opened).
    pub fn entries(&self) -> serde_json::Map<String, serde_json::Value> {
        parse_entries(&self.entries).unwrap_or_default()
    }
}

/// The files a workspace holds, for the command line (`aelab workspace
/// extract`), as (relative path, contents):
/// - the current models (`denoiser.aelab`, `augmenter.aelab`, …);
/// - the designs (`design-denoise.json`, …);
/// - in `runs/`, each lab's run table as CSV, the commands that train its
///   runs again (`denoise-commands.sh`), each kept run's weights
///   (`denoise-run-1.aelab`), the designed specs the commands read, and the
///   uploaded series they train on, so that the commands run there;
/// - `workspace.json`: every stored value, byte arrays left out.
pub fn files(m: &Manifest, blobs: &[&[u8]]) -> Vec<(String, Vec<u8>)> {
    use crate::labs::runs::{csv, RunRecord};
    let blob = |v: &serde_json::Value| -> Option<Vec<u8>> {
        let i = v.as_object()?.get("$bytes")?.as_u64()? as usize;
        blobs.get(i).map(|b| b.to_vec())
    };
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let entries = m.entries();
    for (key, v) in &entries {
        if let Some(b) = blob(v) {
            out.push((format!("{}.aelab", safe_name(key)), b));
        }
        if let Some(lab) = key.strip_prefix("design-") {
            if let Some(json) = v["json"].as_str() {
                out.push((
                    format!("design-{}.json", safe_name(lab)),
                    json.as_bytes().to_vec(),
                ));
            }
        }
        if key == "anomaly-data" && v["kind"] == "csv" {
            if let (Some(name), Some(b)) = (v["name"].as_str(), blob(&v["bytes"])) {
                out.push((format!("runs/{}", safe_name(name)), b));
            }
        }
        if let Some(lab) = key.strip_prefix("runs-") {
            let Some(rows) = v.as_array() else { continue };
            let lab = safe_name(lab);
            let mut records = Vec::new();
            let mut script = format!(
                "#!/bin/sh\n# The {lab} runs of an aelab workspace saved {}: each command trains its run again.\n",
                m.saved
            );
            for (n, row) in rows.iter().enumerate() {
                let Ok(r) = serde_json::from_value::<RunRecord>(row.clone()) else {
                    continue;
                };
                let id = match &row["id"] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let model = entries
                    .get(&format!("run-model-{lab}-{id}"))
                    .and_then(|v| blob(&v["weights"]));
                if let Some(w) = model {
                    out.push((format!("runs/{lab}-run-{}.aelab", n + 1), w));
                }
                if let Some(f) = &r.spec_file {
                    out.push((
                        format!("runs/{}", safe_name(f)),
                        r.spec.clone().into_bytes(),
                    ));
                }
                script.push_str(&format!(
                    "\n# run {}: {} ({}), started {}; weights sha256 {}\n{}\n",
                    n + 1,
                    r.model,
                    r.settings,
                    r.started,
                    r.weights_sha256,
                    r.command
                ));
                records.push(r);
            }
            out.push((format!("runs/{lab}-runs.csv"), csv(&records).into_bytes()));
            out.push((format!("runs/{lab}-commands.sh"), script.into_bytes()));
        }
    }
    let plain = serde_json::json!({
        "aelab_workspace": m.aelab_workspace,
        "aelab": m.aelab,
        "saved": m.saved,
        "entries": entries,
    });
    if let Ok(text) = serde_json::to_vec_pretty(&plain) {
        out.push(("workspace.json".into(), text));
    }
    out
}

/// A file name made safe: no folders, no leading dot, nothing odd.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let s: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "file".into()
    } else {
        s
    }
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

    fn entries(v: serde_json::Value) -> String {
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn a_workspace_comes_back_as_it_was_saved() {
        let e = entries(json!({
            "denoiser": {"$bytes": 0},
            "anomaly-run": {"bytes": {"$bytes": 1}, "model": {"$bytes": 2}, "settings": {"epochs": 3}},
            "runs-denoise": [{"lab": "denoise", "command": "aelab denoise train"}],
            "report-text": {"3": "The skip model wins."},
        }));
        // The page's text comes back as it was: its numbers too (serde_json
        // reading 1796440426047.2659 gave 1796440426047.266).
        let e = format!(
            "{},{}}}",
            &e[..e.len() - 1],
            r#""numbers":[1796440426047.2659,0.30000000000000004,1e-7,-0.0]"#
        );
        let blobs: [&[u8]; 3] = [b"weights", b"", &[0, 255, 7]];
        let file = pack(&e, &blobs, "2026-12-05T10:00:00Z").unwrap();
        let (m, back) = unpack(&file).unwrap();
        assert_eq!(m.entries, e);
        assert!(m
            .entries
            .ends_with(r#""numbers":[1796440426047.2659,0.30000000000000004,1e-7,-0.0]}"#));
        assert_eq!(back, blobs.to_vec());
        assert_eq!(
            (m.aelab_workspace, m.saved.as_str()),
            (1, "2026-12-05T10:00:00Z")
        );
    }

    #[test]
    fn a_workspace_extracts_to_files_whose_commands_run_there() {
        let row = json!({"lab": "anomaly", "started": "2026-12-05T10:00:00Z", "seconds": 2.0, "model": "Wide", "params": 10,
            "settings": "s", "metrics": [{"name": "AUROC", "value": 0.9}], "version": "0.2.0", "weights_sha256": "ab",
            "command": "aelab anomaly --train beats.csv --model wide.json", "spec": "{}", "spec_file": "wide.json", "id": "17-ab", "kept": true});
        let e = entries(json!({
            "denoiser": {"$bytes": 0},
            "anomaly-data": {"kind": "csv", "name": "../../beats.csv", "bytes": {"$bytes": 1}},
            "runs-anomaly": [row],
            "run-model-anomaly-17-ab": {"weights": {"$bytes": 2}, "extra": {"run": {"$bytes": 3}}},
            "design-denoise": {"json": "{\"layers\": []}", "active": true},
        }));
        let blobs: [&[u8]; 4] = [b"den", b"1,2\n", b"w", b"r"];
        let file = pack(&e, &blobs, "then").unwrap();
        let (m, b) = unpack(&file).unwrap();
        let files = files(&m, &b);
        let get = |p: &str| {
            files
                .iter()
                .find(|(n, _)| n == p)
                .map(|(_, b)| b.clone())
                .unwrap_or_else(|| {
                    panic!(
                        "no {p} in {:?}",
                        files.iter().map(|f| &f.0).collect::<Vec<_>>()
                    )
                })
        };
        assert_eq!(get("denoiser.aelab"), b"den");
        assert_eq!(get("runs/beats.csv"), b"1,2\n");
        assert_eq!(get("runs/anomaly-run-1.aelab"), b"w");
        assert_eq!(get("runs/wide.json"), b"{}");
        assert_eq!(get("design-denoise.json"), b"{\"layers\": []}");
        let script = String::from_utf8(get("runs/anomaly-commands.sh")).unwrap();
        assert!(script.contains("\naelab anomaly --train beats.csv --model wide.json\n"));
        assert!(String::from_utf8(get("runs/anomaly-runs.csv"))
            .unwrap()
            .contains(",0.9000,"));
        assert!(get("workspace.json").len() > 10);
        assert!(files.iter().all(|(n, _)| !n.contains("..")));
    }

    #[test]
    fn a_damaged_or_foreign_file_says_what_is_wrong() {
        let e = entries(json!({"denoiser": {"$bytes": 0}}));
        let file = pack(&e, &[b"0123456789"], "now").unwrap();
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
        assert!(pack(&entries(json!({"x": {"$bytes": 1}})), &[b"a"], "")
            .unwrap_err()
            .contains("\"x\" refers to data"));
        let bad = String::from_utf8_lossy(&file).replace(r#"{\"$bytes\":0}"#, r#"{\"$bytes\":5}"#);
        assert!(err(bad.as_bytes()).contains("\"denoiser\" refers to data"));
    }
}
