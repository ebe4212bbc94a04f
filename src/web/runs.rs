//! The run tables' calls: a run's row from its weights file and the lab's
//! measurements, and the table as CSV. The rules are the core's
//! (`labs::runs`); this file only crosses the boundary.

use super::{bad_input, from_js, to_js};
use crate::labs::runs::{self, RunRecord};
use crate::models::spec::Purpose;
use wasm_bindgen::prelude::*;

/// The row of a run of `lab` (denoise, augment, anomaly) that started at
/// `started` (ISO 8601) and took `seconds`: from its weights file and
/// `measured`, the lab's measurements of the trained model (`EvalReport`,
/// `Judged`, or the anomaly `RunMetrics`).
#[wasm_bindgen(unchecked_return_type = "RunRecord")]
pub fn run_record(
    lab: &str,
    weights: &[u8],
    measured: JsValue,
    started: &str,
    seconds: f64,
) -> Result<JsValue, JsValue> {
    let purpose = Purpose::parse(lab).map_err(bad_input)?;
    let measured: serde_json::Value = from_js(measured, "the run's measurements")?;
    to_js(&runs::record(purpose, weights, &measured, started, seconds).map_err(bad_input)?)
}

/// The rows as CSV, one column per metric.
#[wasm_bindgen]
pub fn runs_csv(
    #[wasm_bindgen(unchecked_param_type = "RunRecord[]")] rows: JsValue,
) -> Result<String, JsValue> {
    let rows: Vec<RunRecord> = from_js(rows, "the run table")?;
    Ok(runs::csv(&rows))
}
