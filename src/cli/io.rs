//! Files: writing weights and outputs.

use crate::models::record::{self, Weights};
use std::path::Path;

pub(super) fn save<M: Weights>(
    model: &M,
    config: &M::Config,
    meta: serde_json::Value,
    out: &Path,
) -> Result<(), String> {
    let bytes = record::to_bytes(model, config, meta).map_err(|e| e.to_string())?;
    write_file(out, &bytes)?;
    // The hash the page's run tables give, to tell one file from another.
    eprintln!(
        "saved {} (sha256 {})",
        out.display(),
        crate::labs::runs::sha256_hex(&bytes)
    );
    Ok(())
}

/// Writes `bytes` to `out`, creating its folder if needed.
pub(super) fn write_file(out: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = out.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    std::fs::write(out, bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))
}
