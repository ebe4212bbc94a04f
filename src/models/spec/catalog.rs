//! The layer types as a designer offers them: each type's fields, what kind
//! of value each takes, its default, and a new layer of the type. The page's
//! designer draws its rows from this list, so a field added to a layer here
//! (and to the parser, [`Op`]'s serde) reaches the page with no change there.

use super::{
    Activation, ActivationLayer, Conv, Dense, Dropout, Layer, Merge, Op, Pool, Reshape, Skip,
    Units, Upsample, UpsampleMode,
};
use serde::Serialize;

/// What a field holds, and so how a designer edits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub enum FieldKind {
    /// A whole number ≥ 1 (filters, kernel, stride, sizes).
    Count,
    /// A number between 0 and 1 (dropout's rate).
    Rate,
    /// A whole number, or a word: `units` (an earlier layer's name, or
    /// "input") and `padding` ("same", "valid").
    CountOrName,
    /// A list of whole numbers, one of them may be -1 (reshape).
    Shape,
    /// An earlier layer's name (or "input").
    Name,
    /// One of `choices`.
    Choice,
}

/// One field of a layer type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    /// For a choice: the values, the default first.
    pub choices: Vec<&'static str>,
    /// What an empty field means, or what to type, shown in the empty box.
    pub placeholder: Option<&'static str>,
    /// The value a spec leaves out (the core writes specs without it).
    #[cfg_attr(target_arch = "wasm32", tsify(type = "unknown"))]
    pub omitted: Option<serde_json::Value>,
}

/// A layer type: its JSON `type`, its title, its fields, and the layer a
/// designer adds for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct LayerType {
    #[serde(rename = "type")]
    pub type_name: &'static str,
    pub title: &'static str,
    pub fields: Vec<Field>,
    /// A new layer of this type as JSON text (`type` included; the fields
    /// in the order the core writes them).
    pub new_layer: String,
}

fn field(name: &'static str, kind: FieldKind) -> Field {
    Field {
        name,
        kind,
        choices: Vec::new(),
        placeholder: None,
        omitted: None,
    }
}

fn choice(name: &'static str, choices: Vec<&'static str>) -> Field {
    Field {
        choices,
        ..field(name, FieldKind::Choice)
    }
}

impl Field {
    fn placeholder(mut self, text: &'static str) -> Self {
        self.placeholder = Some(text);
        self
    }

    fn omitted(mut self, value: serde_json::Value) -> Self {
        self.omitted = Some(value);
        self
    }
}

fn activation() -> Field {
    choice(
        "activation",
        Activation::ALL.iter().map(|a| a.name()).collect(),
    )
    .omitted(Activation::Linear.name().into())
}

fn conv_fields() -> Vec<Field> {
    vec![
        field("filters", FieldKind::Count),
        field("kernel", FieldKind::Count).placeholder("3"),
        field("stride", FieldKind::Count)
            .placeholder("1")
            .omitted(1.into()),
        field("padding", FieldKind::CountOrName)
            .placeholder("same")
            .omitted("same".into()),
        activation(),
    ]
}

fn conv(filters: usize, kernel: usize, stride: usize) -> Conv {
    Conv {
        stride,
        ..Conv::new(filters, kernel, Activation::Relu)
    }
}

/// The fields of a layer type and the layer it starts as.
fn describe(op: &Op) -> Vec<Field> {
    use FieldKind::*;
    match op {
        Op::Conv2d(_) | Op::Conv1d(_) | Op::ConvTranspose2d(_) | Op::ConvTranspose1d(_) => {
            conv_fields()
        }
        Op::MaxPool(_) | Op::AvgPool(_) => vec![field("size", Count).placeholder("2")],
        Op::Upsample(_) => vec![
            field("factor", Count).placeholder("2"),
            choice("mode", vec!["nearest", "bilinear"]).omitted("nearest".into()),
        ],
        Op::Dense(_) | Op::Latent(_) => vec![
            field("units", CountOrName).placeholder("n or name"),
            activation(),
        ],
        Op::Flatten | Op::BatchNorm => vec![],
        Op::Reshape(_) => vec![
            field("shape", Shape).placeholder("c, h, w"),
            field("like", Name).placeholder("layer name"),
        ],
        Op::Dropout(_) => vec![field("rate", Rate)],
        Op::Activation(_) => vec![choice(
            "function",
            Activation::ALL.iter().map(|a| a.name()).collect(),
        )],
        Op::Skip(_) => vec![
            field("from", Name).placeholder("layer name"),
            choice("mode", vec!["add", "concat"]),
        ],
    }
}

/// A new layer of each type, in the order a designer lists them
/// ([`Op::TYPES`]).
fn new_layers() -> [Op; 15] {
    [
        Op::Conv2d(conv(16, 3, 1)),
        Op::Conv1d(conv(16, 7, 1)),
        Op::ConvTranspose2d(conv(16, 3, 2)),
        Op::ConvTranspose1d(conv(16, 4, 2)),
        Op::MaxPool(Pool { size: 2 }),
        Op::AvgPool(Pool { size: 2 }),
        Op::Upsample(Upsample {
            factor: 2,
            mode: UpsampleMode::Nearest,
        }),
        Op::Dense(Dense {
            units: Units::Count(32),
            activation: Activation::Relu,
        }),
        Op::Latent(Dense {
            units: Units::Count(16),
            activation: Activation::Linear,
        }),
        Op::Flatten,
        Op::Reshape(Reshape {
            shape: Some(vec![-1]),
            like: None,
        }),
        Op::BatchNorm,
        Op::Dropout(Dropout { rate: 0.1 }),
        Op::Activation(ActivationLayer {
            function: Activation::Relu,
        }),
        Op::Skip(Skip {
            from: "input".into(),
            mode: Merge::Add,
        }),
    ]
}

/// Every layer type with its fields and a new layer of it.
pub fn catalog() -> Vec<LayerType> {
    new_layers()
        .into_iter()
        .map(|op| LayerType {
            type_name: op.type_name(),
            title: op.title(),
            fields: describe(&op),
            new_layer: serde_json::to_string(&Layer::new(op))
                .expect("a layer always serialises to JSON"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_lists_every_type_with_the_parsers_fields() {
        let list = catalog();
        let types: Vec<_> = list.iter().map(|t| t.type_name).collect();
        assert_eq!(types, Op::TYPES);
        for t in &list {
            let names: Vec<_> = t.fields.iter().map(|f| f.name).collect();
            assert_eq!(
                Some(names.as_slice()),
                Op::fields(t.type_name),
                "{}",
                t.type_name
            );
            for f in &t.fields {
                assert_eq!(
                    f.kind == FieldKind::Choice,
                    !f.choices.is_empty(),
                    "{}.{}",
                    t.type_name,
                    f.name
                );
            }
        }
    }

    #[test]
    fn each_new_layer_parses_and_omitted_values_are_what_the_core_leaves_out() {
        for t in catalog() {
            // A new layer is a valid layer of its type.
            let layer: Layer = serde_json::from_str(&t.new_layer)
                .unwrap_or_else(|e| panic!("{}: {e}", t.type_name));
            let new_layer: serde_json::Value = serde_json::from_str(&t.new_layer).unwrap();
            assert_eq!(layer.op.type_name(), t.type_name);
            // Each choice's values parse, and a value marked as omitted is
            // left out when the core writes the layer.
            for f in &t.fields {
                let mut values: Vec<serde_json::Value> =
                    f.choices.iter().map(|&c| c.into()).collect();
                values.extend(f.omitted.clone());
                for v in values {
                    let mut json = new_layer.clone();
                    json[f.name] = v.clone();
                    let parsed: Layer = serde_json::from_value(json)
                        .unwrap_or_else(|e| panic!("{}.{} = {v}: {e}", t.type_name, f.name));
                    let written = serde_json::to_value(&parsed).unwrap();
                    assert_eq!(
                        written.get(f.name).is_none(),
                        f.omitted.as_ref() == Some(&v),
                        "{}.{} = {v}",
                        t.type_name,
                        f.name
                    );
                }
            }
        }
    }
}
