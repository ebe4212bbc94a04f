//! `aelab workspace`: a workspace file saved by the page (“Save
//! workspace”), listed or unpacked into files the command line uses.

use super::io::write_file;
use crate::labs::runs::RunRecord;
use crate::workspace;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum WorkspaceCmd {
    /// What a workspace file holds: when it was saved, its items and its runs.
    List { file: PathBuf },
    /// Unpack a workspace into a folder: the models, the designs, and in
    /// runs/ each lab's run table (CSV), the commands that train its runs
    /// again, the runs' weights, and the specs and uploads the commands read.
    Extract {
        file: PathBuf,
        #[arg(long, default_value = "aelab-workspace")]
        out: PathBuf,
    },
}

fn open(file: &PathBuf) -> Result<Vec<u8>, String> {
    let meta =
        std::fs::metadata(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if meta.len() > workspace::MAX_BYTES as u64 {
        return Err(format!(
            "{}: {} MB; a workspace file holds at most {} MB",
            file.display(),
            meta.len() >> 20,
            workspace::MAX_BYTES >> 20
        ));
    }
    std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))
}

pub(super) fn run(cmd: WorkspaceCmd) -> Result<(), String> {
    match cmd {
        WorkspaceCmd::List { file } => {
            let bytes = open(&file)?;
            let (m, blobs) =
                workspace::unpack(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
            println!(
                "{}: saved {} by aelab {}; {} items, {} byte arrays ({:.1} MB)",
                file.display(),
                m.saved,
                m.aelab,
                m.entries().len(),
                blobs.len(),
                bytes.len() as f64 / 1e6
            );
            for (key, v) in &m.entries() {
                let Some(rows) = key.strip_prefix("runs-").and(v.as_array()) else {
                    println!("  {key}");
                    continue;
                };
                println!("  {key}: {} run(s)", rows.len());
                for (n, row) in rows.iter().enumerate() {
                    if let Ok(r) = serde_json::from_value::<RunRecord>(row.clone()) {
                        let metrics: Vec<String> = r
                            .metrics
                            .iter()
                            .map(|m| format!("{} {:.4}", m.name, m.value))
                            .collect();
                        println!(
                            "    {}. {} ({} parameters), {}; {}\n       {}",
                            n + 1,
                            r.model,
                            r.params,
                            r.started,
                            metrics.join(", "),
                            r.command
                        );
                    }
                }
            }
            Ok(())
        }
        WorkspaceCmd::Extract { file, out } => {
            let bytes = open(&file)?;
            let (m, blobs) =
                workspace::unpack(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
            let files = workspace::files(&m, &blobs);
            for (name, contents) in &files {
                write_file(&out.join(name), contents)?;
            }
            eprintln!(
                "wrote {} files to {}; the runs' commands run in {}",
                files.len(),
                out.display(),
                out.join("runs").display()
            );
            Ok(())
        }
    }
}
