//! `aelab weights`: rewrite a weights file with another storage.

use super::io::write_file;
use crate::models::record;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum WeightsCmd {
    /// Rewrite a weights file with another storage for its parameters:
    /// f32 (exact), f16 (half the size), q8 (8-bit, a quarter of the
    /// size) or q4 (q8 with the large dense layers 4-bit). The model
    /// computes in f32.
    Convert {
        /// An aelab weights file (any model).
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// f32, f16, q8 or q4.
        #[arg(long, default_value = "q8")]
        to: String,
    },
}

pub(super) fn run(cmd: WeightsCmd) -> Result<(), String> {
    let WeightsCmd::Convert { input, out, to } = cmd;
    let storage = record::Storage::parse(&to)?;
    let bytes =
        std::fs::read(&input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let (converted, name) =
        record::convert(&bytes, storage).map_err(|e| format!("{}: {e}", input.display()))?;
    write_file(&out, &converted)?;
    eprintln!(
        "{name}: {} -> {} bytes ({to}), saved {}",
        bytes.len(),
        converted.len(),
        out.display()
    );
    Ok(())
}
