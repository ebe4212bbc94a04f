//! The workspace file's calls: the page's stored work into one file and
//! back. The format and its checks are the core's (`crate::workspace`);
//! this file only crosses the boundary.

use super::bad_input;
use crate::workspace;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const WORKSPACE_TS: &str = r#"
/** An opened workspace file (workspace_unpack): the stored values as JSON text, with `{"$bytes": i}` for `blobs[i]`. */
export interface Workspace { aelab: string; saved: string; entries: string; blobs: Uint8Array[] }
"#;

/// The workspace file of `entries` (JSON text of an object of stored
/// values, with `{"$bytes": i}` for `blobs[i]`), saved at `saved`.
#[wasm_bindgen]
pub fn workspace_pack(
    entries: &str,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array[]")] blobs: Array,
    saved: &str,
) -> Result<Uint8Array, JsValue> {
    let blobs: Vec<Vec<u8>> = blobs.iter().map(|b| Uint8Array::new(&b).to_vec()).collect();
    let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
    let file = workspace::pack(entries, &refs, saved).map_err(bad_input)?;
    Ok(Uint8Array::from(file.as_slice()))
}

/// A workspace file opened, or what is wrong with it.
#[wasm_bindgen(unchecked_return_type = "Workspace")]
pub fn workspace_unpack(bytes: &[u8]) -> Result<JsValue, JsValue> {
    let (m, blobs) = workspace::unpack(bytes).map_err(bad_input)?;
    let out = js_sys::Object::new();
    let list: Array = blobs.iter().map(|b| Uint8Array::from(*b)).collect();
    for (k, v) in [
        ("aelab", JsValue::from(m.aelab)),
        ("saved", JsValue::from(m.saved)),
        ("entries", JsValue::from(m.entries)),
        ("blobs", list.into()),
    ] {
        js_sys::Reflect::set(&out, &k.into(), &v)?;
    }
    Ok(out.into())
}
