//! The model designer's calls: a spec's summary and problems as it is
//! edited, its code views, the presets to start from, and the layer types
//! with their fields. The rules are
//! the core's (`models::spec`); this file only crosses the boundary.

use super::{bad_input, to_js};
use crate::models::spec::{self, code, presets, Purpose};
use crate::models::ModelSpec;
use wasm_bindgen::prelude::*;

/// A preset the designer can start from.
#[derive(serde::Serialize, tsify::Tsify)]
pub struct PresetInfo {
    pub id: String,
    /// denoise, augment or anomaly.
    pub lab: String,
    pub name: String,
    /// The spec's JSON text.
    pub json: String,
}

/// The summary of a spec's JSON text as the `lab` (denoise, augment,
/// anomaly) would train it at `batch` per step, or what is wrong with it.
#[wasm_bindgen(unchecked_return_type = "Design")]
pub fn spec_design(json: &str, lab: &str, batch: usize) -> Result<JsValue, JsValue> {
    let purpose = Purpose::parse(lab).map_err(bad_input)?;
    to_js(&spec::design(json, purpose, batch))
}

/// A spec as code: `rust` (a burn module) or `keras`.
#[wasm_bindgen]
pub fn spec_code(json: &str, lang: &str) -> Result<String, JsValue> {
    let spec = ModelSpec::from_json(json).map_err(bad_input)?;
    match lang {
        "rust" => code::rust(&spec),
        "keras" => code::keras(&spec),
        _ => return Err(bad_input(format!("unknown language '{lang}'"))),
    }
    .map_err(bad_input)
}

/// The presets, in the order the designer lists them.
#[wasm_bindgen(unchecked_return_type = "PresetInfo[]")]
pub fn spec_presets() -> Result<JsValue, JsValue> {
    let list: Vec<PresetInfo> = presets::PRESETS
        .iter()
        .map(|p| PresetInfo {
            id: p.id.to_string(),
            lab: p.purpose.lab().to_lowercase(),
            name: p.spec().name,
            json: p.json.to_string(),
        })
        .collect();
    to_js(&list)
}

/// The layer types a designer offers: each one's fields (name, kind,
/// choices, default) and the layer it adds (`spec::catalog`).
#[wasm_bindgen(unchecked_return_type = "LayerType[]")]
pub fn spec_layer_types() -> Result<JsValue, JsValue> {
    to_js(&spec::catalog::catalog())
}
