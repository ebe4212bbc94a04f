//! The shipped models as specs. Each preset file under `assets/specs/` is
//! read by the page (built in), by `--model` and by the tests; the
//! functions here write the same specs for other widths and depths (the
//! labs' settings), and a test checks that the files equal them.

use super::Merge;
use super::{
    Activation, Conv, Dense, Input, Layer, ModelSpec, Op, Padding, Pool, Purpose, Reshape, Skip,
    Units, Upsample, SPEC_VERSION,
};
use crate::models::{
    DenoiserConfig, DenoiserKind, LatentAeConfig, SeriesAeConfig, SeriesModelKind,
};

/// A preset: its id (the file's stem), the lab it is for and its JSON.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub id: &'static str,
    pub purpose: Purpose,
    pub json: &'static str,
}

pub const PRESETS: [Preset; 5] = [
    Preset {
        id: "denoiser-canonical",
        purpose: Purpose::Denoise,
        json: include_str!("../../../assets/specs/denoiser-canonical.json"),
    },
    Preset {
        id: "denoiser-skip",
        purpose: Purpose::Denoise,
        json: include_str!("../../../assets/specs/denoiser-skip.json"),
    },
    Preset {
        id: "latent-ae",
        purpose: Purpose::Augment,
        json: include_str!("../../../assets/specs/latent-ae.json"),
    },
    Preset {
        id: "series-dense",
        purpose: Purpose::Anomaly,
        json: include_str!("../../../assets/specs/series-dense.json"),
    },
    Preset {
        id: "series-conv1d",
        purpose: Purpose::Anomaly,
        json: include_str!("../../../assets/specs/series-conv1d.json"),
    },
];

impl Preset {
    pub fn spec(&self) -> ModelSpec {
        ModelSpec::from_json(self.json).expect("a shipped preset is valid (tested)")
    }
}

/// The preset with this id; the message lists the ids.
pub fn preset(id: &str) -> Result<ModelSpec, String> {
    PRESETS
        .iter()
        .find(|p| p.id == id)
        .map(Preset::spec)
        .ok_or_else(|| {
            format!(
                "no preset \"{id}\" (the presets: {})",
                PRESETS.map(|p| p.id).join(", ")
            )
        })
}

fn conv2d(filters: usize, activation: Activation) -> Op {
    Op::Conv2d(Conv::new(filters, 3, activation))
}

fn spec(name: &str, input: Input, layers: Vec<Layer>) -> ModelSpec {
    ModelSpec {
        aelab_spec: SPEC_VERSION,
        name: name.to_string(),
        input,
        layers,
    }
}

const DIGITS: Input = Input::Image {
    height: 28,
    width: 28,
    channels: 1,
};

fn l(op: Op) -> Layer {
    Layer::new(op)
}

fn pool() -> Layer {
    l(Op::MaxPool(Pool { size: 2 }))
}

fn up() -> Layer {
    l(Op::Upsample(Upsample {
        factor: 2,
        mode: Default::default(),
    }))
}

/// The denoisers ([`DenoiserConfig`]): the Keras blog's canonical model,
/// or the skip-connected one.
pub fn denoiser(c: &DenoiserConfig) -> ModelSpec {
    use Activation::{Linear, Relu};
    let w = c.width;
    match c.kind {
        DenoiserKind::Canonical => spec(
            "Canonical denoiser",
            DIGITS,
            vec![
                l(conv2d(w, Relu)),
                pool(),
                l(conv2d(w, Relu)),
                pool(),
                l(conv2d(w, Relu)),
                up(),
                l(conv2d(w, Relu)),
                up(),
                l(conv2d(1, Linear)),
            ],
        ),
        DenoiserKind::Skip => {
            let (w2, b) = (2 * w, c.bottleneck);
            let mut layers = vec![
                Layer::named("e1", conv2d(w, Relu)),
                pool(),
                Layer::named("e2", conv2d(w2, Relu)),
                pool(),
                l(conv2d(b, Relu)),
            ];
            for _ in 1..c.depth.max(1) {
                layers.push(l(conv2d(b, Relu)));
            }
            let skip = |from: &str| {
                l(Op::Skip(Skip {
                    from: from.into(),
                    mode: Merge::Add,
                }))
            };
            layers.extend([
                l(conv2d(w2, Relu)),
                up(),
                skip("e2"),
                l(conv2d(w, Relu)),
                up(),
                skip("e1"),
                l(conv2d(1, Linear)),
            ]);
            spec("Skip denoiser", DIGITS, layers)
        }
    }
}

/// The augmentation lab's autoencoder ([`LatentAeConfig`]): two
/// convolutions down, a dense code, and back.
pub fn latent_ae(c: &LatentAeConfig) -> ModelSpec {
    use Activation::{Linear, Relu};
    let (w, deep) = (c.width, 2 * c.width);
    spec(
        "Latent autoencoder",
        DIGITS,
        vec![
            l(conv2d(w, Relu)),
            pool(),
            l(conv2d(deep, Relu)),
            pool(),
            l(Op::Flatten),
            l(Op::Latent(Dense {
                units: Units::Count(c.latent),
                activation: Linear,
            })),
            l(Op::Dense(Dense {
                units: Units::Count(deep * 49),
                activation: Relu,
            })),
            l(Op::Reshape(Reshape {
                shape: Some(vec![deep as i64, 7, 7]),
                like: None,
            })),
            up(),
            l(conv2d(w, Relu)),
            up(),
            l(conv2d(1, Linear)),
        ],
    )
}

/// The anomaly lab's series autoencoders ([`SeriesAeConfig`]): the TF
/// tutorial's dense model, or strided 1-D convolutions around a dense
/// bottleneck.
pub fn series(c: &SeriesAeConfig) -> ModelSpec {
    use Activation::{Linear, Relu};
    let input = Input::Series { length: c.length };
    let dense = |units: Units, activation| Dense { units, activation };
    match c.kind {
        SeriesModelKind::Dense => {
            let widths: Vec<usize> = (0..c.depth).rev().map(|k| c.latent << k).collect();
            let mut layers = Vec::new();
            for (i, &h) in widths.iter().enumerate() {
                let d = dense(Units::Count(h), Relu);
                layers.push(l(if i + 1 == widths.len() {
                    Op::Latent(d)
                } else {
                    Op::Dense(d)
                }));
            }
            for &h in widths.iter().rev().skip(1) {
                layers.push(l(Op::Dense(dense(Units::Count(h), Relu))));
            }
            layers.push(l(Op::Dense(dense(Units::SizeOf("input".into()), Linear))));
            spec("Dense series autoencoder", input, layers)
        }
        SeriesModelKind::Conv1d => {
            let chans: Vec<usize> = (0..c.depth).map(|k| (16usize << k).min(64)).collect();
            let conv = |filters, stride, activation| {
                Op::Conv1d(Conv {
                    filters,
                    kernel: 7,
                    stride,
                    padding: if stride == 1 {
                        Padding::Same
                    } else {
                        Padding::Explicit(3)
                    },
                    activation,
                })
            };
            let mut layers = Vec::new();
            for (i, &ch) in chans.iter().enumerate() {
                let op = conv(ch, 2, Relu);
                layers.push(if i + 1 == chans.len() {
                    Layer::named("deep", op)
                } else {
                    l(op)
                });
            }
            layers.extend([
                l(Op::Flatten),
                l(Op::Latent(dense(Units::Count(c.latent), Linear))),
                l(Op::Dense(dense(Units::SizeOf("deep".into()), Relu))),
                l(Op::Reshape(Reshape {
                    shape: None,
                    like: Some("deep".into()),
                })),
            ]);
            for &ch in chans.iter().rev().skip(1).chain(std::iter::once(&16usize)) {
                layers.push(up());
                layers.push(l(conv(ch, 1, Relu)));
            }
            layers.push(l(conv(1, 1, Linear)));
            spec("Conv1d series autoencoder", input, layers)
        }
    }
}
