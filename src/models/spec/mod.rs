//! Model specs: a student's autoencoder as a validated, versioned list of
//! layers, and the burn module built from it ([`Net`]).
//!
//! A spec is JSON (`assets/specs/*.json` are the presets):
//!
//! ```json
//! { "aelab_spec": 1, "name": "Canonical denoiser",
//!   "input": { "kind": "image", "height": 28, "width": 28, "channels": 1 },
//!   "layers": [
//!     { "type": "conv2d", "filters": 32, "kernel": 3, "activation": "relu" },
//!     { "type": "max_pool", "size": 2 }, … ] }
//! ```
//!
//! The last layer gives logits: aelab applies the sigmoid (the data are in
//! [0, 1]), and the loss is computed from the logits. A layer may carry a
//! `name`, which a later `skip` layer adds or concatenates, a `reshape`
//! copies the shape of, or a `dense` layer takes its `units` from.
//!
//! This file holds the types and the parser; [`check`] infers every
//! layer's shape and gives the summary and the messages; [`catalog`] lists
//! the layer types and their fields for a designer; [`net`] builds
//! and runs the module; [`presets`] the shipped models; [`code`] the Rust
//! and Keras views; [`legacy`] turns aelab 0.1's model files into nets.

pub mod catalog;
pub mod check;
pub mod code;
pub mod legacy;
pub mod net;
pub mod presets;

#[cfg(test)]
mod tests;

pub use check::{design, Design, Limits, Purpose, Shape, Summary, SummaryRow};
pub use net::Net;

use serde::{Deserialize, Serialize};
use std::fmt;

/// The version of the spec format this build reads and writes.
pub const SPEC_VERSION: u32 = 1;
/// The most layers a spec may have.
pub const MAX_LAYERS: usize = 64;
/// Specs larger than this are refused before parsing.
pub const MAX_SPEC_BYTES: usize = 64 * 1024;

/// A model: what it takes and its layers, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The format's version ([`SPEC_VERSION`]).
    pub aelab_spec: u32,
    #[serde(default)]
    pub name: String,
    pub input: Input,
    pub layers: Vec<Layer>,
}

/// What the model takes (and must give back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    Image {
        height: usize,
        width: usize,
        channels: usize,
    },
    /// A series of `length` points (the anomaly lab sets it from the data).
    Series { length: usize },
}

/// One layer: an optional name and what it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub op: Op,
}

impl Layer {
    pub fn new(op: Op) -> Self {
        Layer { name: None, op }
    }

    pub fn named(name: &str, op: Op) -> Self {
        Layer {
            name: Some(name.to_string()),
            op,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    Conv2d(Conv),
    Conv1d(Conv),
    ConvTranspose2d(Conv),
    ConvTranspose1d(Conv),
    MaxPool(Pool),
    AvgPool(Pool),
    Upsample(Upsample),
    Dense(Dense),
    /// A dense layer whose output is the code: the augmentation lab samples
    /// and edits it, and the decoder starts from it.
    Latent(Dense),
    Flatten,
    Reshape(Reshape),
    BatchNorm,
    Dropout(Dropout),
    Activation(ActivationLayer),
    Skip(Skip),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv {
    pub filters: usize,
    #[serde(default = "three")]
    pub kernel: usize,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stride: usize,
    #[serde(default, skip_serializing_if = "Padding::is_same")]
    pub padding: Padding,
    #[serde(default, skip_serializing_if = "Activation::is_linear")]
    pub activation: Activation,
}

impl Conv {
    pub fn new(filters: usize, kernel: usize, activation: Activation) -> Self {
        Conv {
            filters,
            kernel,
            stride: 1,
            padding: Padding::Same,
            activation,
        }
    }
}

fn three() -> usize {
    3
}
fn one() -> usize {
    1
}
fn two() -> usize {
    2
}
fn is_one(v: &usize) -> bool {
    *v == 1
}

/// Zero padding of a convolution: `same` keeps ⌈size / stride⌉, `valid`
/// adds none, a number adds that many on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "PaddingRepr", into = "PaddingRepr")]
pub enum Padding {
    #[default]
    Same,
    Valid,
    Explicit(usize),
}

impl Padding {
    fn is_same(&self) -> bool {
        *self == Padding::Same
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum PaddingRepr {
    Size(usize),
    Name(String),
}

impl TryFrom<PaddingRepr> for Padding {
    type Error = String;
    fn try_from(r: PaddingRepr) -> Result<Self, String> {
        match r {
            PaddingRepr::Size(n) => Ok(Padding::Explicit(n)),
            PaddingRepr::Name(s) if s == "same" => Ok(Padding::Same),
            PaddingRepr::Name(s) if s == "valid" => Ok(Padding::Valid),
            PaddingRepr::Name(s) => Err(format!(
                "padding \"{s}\" is not one of \"same\", \"valid\" or a number"
            )),
        }
    }
}

impl From<Padding> for PaddingRepr {
    fn from(p: Padding) -> Self {
        match p {
            Padding::Same => PaddingRepr::Name("same".into()),
            Padding::Valid => PaddingRepr::Name("valid".into()),
            Padding::Explicit(n) => PaddingRepr::Size(n),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    #[default]
    Linear,
    Relu,
    /// Negative slope 0.01.
    LeakyRelu,
    Gelu,
    Tanh,
    Sigmoid,
}

impl Activation {
    pub const ALL: [Activation; 6] = [
        Activation::Linear,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Gelu,
        Activation::Tanh,
        Activation::Sigmoid,
    ];

    fn is_linear(&self) -> bool {
        *self == Activation::Linear
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Gelu => "gelu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    #[serde(default = "two")]
    pub size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpsampleMode {
    #[default]
    Nearest,
    Bilinear,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upsample {
    #[serde(default = "two")]
    pub factor: usize,
    #[serde(default, skip_serializing_if = "is_nearest")]
    pub mode: UpsampleMode,
}

fn is_nearest(m: &UpsampleMode) -> bool {
    *m == UpsampleMode::Nearest
}

/// A dense layer's width: a number, or the size of an earlier layer's
/// output (`"input"` is the model's input), so that a spec fits any series
/// length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Units {
    Count(usize),
    SizeOf(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    pub units: Units,
    #[serde(default, skip_serializing_if = "Activation::is_linear")]
    pub activation: Activation,
}

/// A new shape for the same values: `shape` in burn's order (channels
/// first: `[c, h, w]` for maps, `[c, length]` for series, `[n]` flat; one
/// entry may be -1), or `like` an earlier layer's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reshape {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub like: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dropout {
    pub rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationLayer {
    pub function: Activation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Merge {
    #[default]
    Add,
    Concat,
}

/// Adds (or concatenates, along the channels) the output of the earlier
/// layer named `from` to the current one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skip {
    pub from: String,
    #[serde(default)]
    pub mode: Merge,
}

impl Op {
    /// The `type` in JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            Op::Conv2d(_) => "conv2d",
            Op::Conv1d(_) => "conv1d",
            Op::ConvTranspose2d(_) => "conv_transpose2d",
            Op::ConvTranspose1d(_) => "conv_transpose1d",
            Op::MaxPool(_) => "max_pool",
            Op::AvgPool(_) => "avg_pool",
            Op::Upsample(_) => "upsample",
            Op::Dense(_) => "dense",
            Op::Latent(_) => "latent",
            Op::Flatten => "flatten",
            Op::Reshape(_) => "reshape",
            Op::BatchNorm => "batch_norm",
            Op::Dropout(_) => "dropout",
            Op::Activation(_) => "activation",
            Op::Skip(_) => "skip",
        }
    }

    /// The layer's name as a person reads it (Keras's class names).
    pub fn title(&self) -> &'static str {
        match self {
            Op::Conv2d(_) => "Conv2d",
            Op::Conv1d(_) => "Conv1d",
            Op::ConvTranspose2d(_) => "ConvTranspose2d",
            Op::ConvTranspose1d(_) => "ConvTranspose1d",
            Op::MaxPool(_) => "MaxPool",
            Op::AvgPool(_) => "AvgPool",
            Op::Upsample(_) => "Upsample",
            Op::Dense(_) => "Dense",
            Op::Latent(_) => "Latent",
            Op::Flatten => "Flatten",
            Op::Reshape(_) => "Reshape",
            Op::BatchNorm => "BatchNorm",
            Op::Dropout(_) => "Dropout",
            Op::Activation(_) => "Activation",
            Op::Skip(_) => "Skip",
        }
    }

    /// The JSON fields a layer of this type may have (besides `type` and
    /// `name`): anything else is a typo, and the parser says so.
    fn fields(type_name: &str) -> Option<&'static [&'static str]> {
        Some(match type_name {
            "conv2d" | "conv1d" | "conv_transpose2d" | "conv_transpose1d" => {
                &["filters", "kernel", "stride", "padding", "activation"]
            }
            "max_pool" | "avg_pool" => &["size"],
            "upsample" => &["factor", "mode"],
            "dense" | "latent" => &["units", "activation"],
            "flatten" | "batch_norm" => &[],
            "reshape" => &["shape", "like"],
            "dropout" => &["rate"],
            "activation" => &["function"],
            "skip" => &["from", "mode"],
            _ => return None,
        })
    }

    /// Every layer type, in the order a designer lists them.
    pub const TYPES: [&'static str; 15] = [
        "conv2d",
        "conv1d",
        "conv_transpose2d",
        "conv_transpose1d",
        "max_pool",
        "avg_pool",
        "upsample",
        "dense",
        "latent",
        "flatten",
        "reshape",
        "batch_norm",
        "dropout",
        "activation",
        "skip",
    ];
}

/// What is wrong with a spec, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    /// The 1-based layer, when one layer is at fault.
    pub layer: Option<usize>,
    pub message: String,
}

impl SpecError {
    pub fn whole(message: impl Into<String>) -> Self {
        SpecError {
            layer: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

impl From<SpecError> for String {
    fn from(e: SpecError) -> String {
        e.message
    }
}

impl ModelSpec {
    /// Parses and checks a spec from JSON text: its structure, every
    /// layer's fields, and the shapes from the input to the output
    /// ([`ModelSpec::check`]).
    pub fn from_json(text: &str) -> Result<ModelSpec, SpecError> {
        if text.trim().is_empty() {
            return Err(SpecError::whole("the model spec is empty"));
        }
        if text.len() > MAX_SPEC_BYTES {
            return Err(SpecError::whole(format!(
                "the model spec is {} bytes, over the limit of {MAX_SPEC_BYTES}",
                text.len()
            )));
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| SpecError::whole(format!("the model spec is not valid JSON: {e}")))?;
        let spec = Self::from_value(value)?;
        spec.check()?;
        Ok(spec)
    }

    /// The spec in a JSON value, with its fields checked one by one, so
    /// that the message names the layer and the field.
    pub fn from_value(value: serde_json::Value) -> Result<ModelSpec, SpecError> {
        let obj = value
            .as_object()
            .ok_or_else(|| SpecError::whole("a model spec is a JSON object"))?;
        match obj.get("aelab_spec").and_then(|v| v.as_u64()) {
            Some(v) if v == SPEC_VERSION as u64 => {}
            Some(v) => {
                return Err(SpecError::whole(format!(
                    "this is a version {v} model spec; this aelab reads version {SPEC_VERSION}"
                )))
            }
            None => {
                return Err(SpecError::whole(
                    "not an aelab model spec (it has no \"aelab_spec\": 1)",
                ))
            }
        }
        for key in obj.keys() {
            if !["aelab_spec", "name", "input", "layers"].contains(&key.as_str()) {
                return Err(SpecError::whole(format!(
                    "unknown field \"{key}\" in the model spec"
                )));
            }
        }
        let input: Input = serde_json::from_value(obj.get("input").cloned().unwrap_or_default())
            .map_err(|e| SpecError::whole(format!("the spec's input: {e}")))?;
        let layers = obj
            .get("layers")
            .and_then(|l| l.as_array())
            .ok_or_else(|| SpecError::whole("the spec has no \"layers\" list"))?;
        if layers.len() > MAX_LAYERS {
            return Err(SpecError::whole(format!(
                "the spec has {} layers; at most {MAX_LAYERS} are allowed",
                layers.len()
            )));
        }
        let mut out = Vec::with_capacity(layers.len());
        for (i, l) in layers.iter().enumerate() {
            out.push(parse_layer(i + 1, l)?);
        }
        let name = match obj.get("name") {
            None => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(_) => return Err(SpecError::whole("the spec's name must be text")),
        };
        Ok(ModelSpec {
            aelab_spec: SPEC_VERSION,
            name,
            input,
            layers: out,
        })
    }

    /// Pretty JSON, as the preset files are written.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a spec serialises") + "\n"
    }

    /// The same spec for series of `length` points.
    pub fn with_length(mut self, length: usize) -> Self {
        if let Input::Series { length: l } = &mut self.input {
            *l = length;
        }
        self
    }

    /// The index of the latent layer, if any.
    pub fn latent_index(&self) -> Option<usize> {
        self.layers
            .iter()
            .position(|l| matches!(l.op, Op::Latent(_)))
    }
}

fn parse_layer(at: usize, v: &serde_json::Value) -> Result<Layer, SpecError> {
    let err = |m: String| SpecError {
        layer: Some(at),
        message: m,
    };
    let obj = v
        .as_object()
        .ok_or_else(|| err(format!("layer {at} is not a JSON object")))?;
    let ty = obj
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| err(format!("layer {at} has no \"type\"")))?;
    let fields = Op::fields(ty).ok_or_else(|| {
        err(format!(
            "layer {at} has an unknown type \"{ty}\" (known: {})",
            Op::TYPES.join(", ")
        ))
    })?;
    for key in obj.keys() {
        if key != "type" && key != "name" && !fields.contains(&key.as_str()) {
            return Err(err(format!(
                "layer {at} ({ty}) has an unknown field \"{key}\"{}",
                if fields.is_empty() {
                    String::new()
                } else {
                    format!(" (it takes {})", fields.join(", "))
                }
            )));
        }
    }
    serde_json::from_value::<Layer>(v.clone()).map_err(|e| err(format!("layer {at} ({ty}): {e}")))
}
