//! `aelab model`: a spec's summary table, its code in Rust or Keras, and
//! the presets.

use super::read_spec;
use crate::models::spec::{code, presets, Limits};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub(super) enum ModelCmd {
    /// Each layer's output shape, parameters and MFLOPs per example, with totals (like Keras's model.summary()).
    Summary {
        /// A spec file (JSON) or a preset's id.
        spec: String,
        /// For a series model: the length of the series (default: the spec's).
        #[arg(long)]
        length: Option<usize>,
        /// The batch size the page's memory limit is checked at.
        #[arg(long, default_value_t = 16)]
        batch: usize,
        #[arg(long)]
        json: bool,
    },
    /// The spec as code: a burn module in Rust, or the Keras 3 model.
    Code {
        spec: String,
        /// rust or keras.
        #[arg(long, default_value = "rust")]
        lang: String,
    },
    /// The presets: their ids, or one preset's spec (JSON) to start a design from.
    Presets {
        /// Print this preset's spec.
        id: Option<String>,
    },
}

pub(super) fn run(cmd: ModelCmd) -> Result<(), String> {
    match cmd {
        ModelCmd::Summary {
            spec,
            length,
            batch,
            json,
        } => {
            let mut spec = read_spec(&spec)?;
            if let Some(l) = length {
                spec = spec.with_length(l);
            }
            let summary = spec.summary()?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
                );
                return Ok(());
            }
            if !spec.name.is_empty() {
                println!("{}", spec.name);
            }
            print!("{}", summary.table());
            match summary.within(&Limits::default(), batch) {
                Ok(()) => println!("Within the page's limits at batch {batch}."),
                Err(e) => println!("In the page: {e}."),
            }
            Ok(())
        }
        ModelCmd::Code { spec, lang } => {
            let spec = read_spec(&spec)?;
            let text = match lang.as_str() {
                "rust" => code::rust(&spec)?,
                "keras" | "python" => code::keras(&spec)?,
                _ => return Err(format!("unknown language '{lang}': expected rust or keras")),
            };
            print!("{text}");
            Ok(())
        }
        ModelCmd::Presets { id } => {
            match id {
                Some(id) => print!("{}", presets::preset(&id)?.to_json()),
                None => {
                    for p in presets::PRESETS {
                        let s = p.spec();
                        println!(
                            "{:20} {:8} {} ({} parameters)",
                            p.id,
                            p.purpose.lab(),
                            s.name,
                            crate::models::spec::check::group(s.summary()?.total_params)
                        );
                    }
                }
            }
            Ok(())
        }
    }
}
