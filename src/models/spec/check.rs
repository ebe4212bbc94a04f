//! Shape inference over a spec: every layer's input and output shape, its
//! parameters and its cost, the messages that say what is wrong and
//! where, the summary table and the limits that keep a browser tab alive.

use super::{Activation, Input, Merge, ModelSpec, Op, Padding, SpecError, Units, UpsampleMode};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// The shape of one example as it flows through the model (burn's order:
/// channels first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub enum Shape {
    /// A feature map: channels × height × width.
    Map { c: usize, h: usize, w: usize },
    /// A series: channels × length.
    Seq { c: usize, l: usize },
    /// A vector.
    Flat(usize),
}

impl Shape {
    pub fn elems(&self) -> usize {
        match *self {
            Shape::Map { c, h, w } => c * h * w,
            Shape::Seq { c, l } => c * l,
            Shape::Flat(n) => n,
        }
    }

    /// Channels (features, for a vector).
    pub fn channels(&self) -> usize {
        match *self {
            Shape::Map { c, .. } | Shape::Seq { c, .. } => c,
            Shape::Flat(n) => n,
        }
    }

    /// Burn's dimensions without the batch.
    pub fn dims(&self) -> Vec<usize> {
        match *self {
            Shape::Map { c, h, w } => vec![c, h, w],
            Shape::Seq { c, l } => vec![c, l],
            Shape::Flat(n) => vec![n],
        }
    }

    /// The spatial part, as the messages write it ("7×7", "140").
    fn spatial(&self) -> String {
        match *self {
            Shape::Map { h, w, .. } => format!("{h}×{w}"),
            Shape::Seq { l, .. } => format!("{l}"),
            Shape::Flat(n) => format!("{n}"),
        }
    }

    /// A one-channel series read as a vector, and a vector as a
    /// one-channel series: dense layers and 1-D convolutions take both.
    fn as_flat(&self) -> Option<usize> {
        match *self {
            Shape::Flat(n) => Some(n),
            Shape::Seq { c: 1, l } => Some(l),
            _ => None,
        }
    }

    fn as_seq(&self) -> Option<(usize, usize)> {
        match *self {
            Shape::Seq { c, l } => Some((c, l)),
            Shape::Flat(n) => Some((1, n)),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Shape::Map { .. } => format!("a {self} feature map"),
            Shape::Seq { .. } => format!("a {self} series"),
            Shape::Flat(n) => format!("a vector of {n}"),
        }
    }
}

impl fmt::Display for Shape {
    /// Keras's order, as a student reads it: 28×28×1, 140×1, 16.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shape::Map { c, h, w } => write!(f, "{h}×{w}×{c}"),
            Shape::Seq { c, l } => write!(f, "{l}×{c}"),
            Shape::Flat(n) => write!(f, "{n}"),
        }
    }
}

/// Where a skip connection (or a size reference) reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Input,
    Layer(usize),
}

/// One layer, resolved: its shapes, parameters and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub input: Shape,
    pub output: Shape,
    pub params: usize,
    /// Floating-point operations per example (a multiply-add is two).
    pub flops: u64,
    /// Runs on burn's own ops rather than the engine's CPU kernels.
    pub slow: bool,
    /// A skip's source, or the layer whose shape a `reshape`/`dense` takes.
    pub source: Option<Source>,
}

/// A spec with every shape worked out: what [`super::Net`] is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The shape the first layer gets (a series padded, see `padded`).
    pub input: Shape,
    /// Series only: the length padded at its end (edge values) to a
    /// multiple of the encoder's total stride; the output is cropped back.
    pub padded: usize,
    pub steps: Vec<Step>,
}

impl Resolved {
    /// Which layers' outputs a later skip reads again, and whether one
    /// reads the input: what the forward pass (and the generated code) keeps.
    pub fn skip_reads(&self, layers: &[super::Layer]) -> (Vec<bool>, bool) {
        let mut kept = vec![false; layers.len()];
        let mut input = false;
        for (layer, step) in layers.iter().zip(&self.steps) {
            match (&layer.op, step.source) {
                (Op::Skip(_), Some(Source::Layer(j))) => kept[j] = true,
                (Op::Skip(_), Some(Source::Input)) => input = true,
                _ => {}
            }
        }
        (kept, input)
    }
}

/// How many times an activation's bytes the training memory estimate
/// takes: its value, its gradient and the kernels' working buffers.
pub const ACTIVATION_FACTOR: usize = 3;

/// The limits that keep a browser tab alive; the page and the CLI say
/// which one a model exceeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_params: usize,
    pub max_mflops: f64,
    pub max_activation_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_params: 2_000_000,
            max_mflops: 100.0,
            max_activation_bytes: 512 * 1024 * 1024,
        }
    }
}

/// What a lab needs of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// 28×28×1 digits in, the same out.
    Denoise,
    /// As `Denoise`, with a latent layer to sample and edit.
    Augment,
    /// Series in, series out.
    Anomaly,
}

impl Purpose {
    /// A lab by the page's name for it: denoise, augment or anomaly.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "denoise" => Ok(Purpose::Denoise),
            "augment" => Ok(Purpose::Augment),
            "anomaly" => Ok(Purpose::Anomaly),
            _ => Err(format!(
                "unknown lab '{s}': expected denoise, augment or anomaly"
            )),
        }
    }

    pub fn lab(self) -> &'static str {
        match self {
            Purpose::Denoise => "Denoise",
            Purpose::Augment => "Augment",
            Purpose::Anomaly => "Anomaly",
        }
    }

    /// Whether a (valid) spec suits this lab; the message says why not.
    pub fn check(self, spec: &ModelSpec) -> Result<(), SpecError> {
        let digits = Input::Image {
            height: 28,
            width: 28,
            channels: 1,
        };
        match self {
            Purpose::Denoise | Purpose::Augment if spec.input != digits => {
                return Err(SpecError::whole(format!(
                    "this model takes {}, but the {} lab needs 28×28×1 digits",
                    describe_input(&spec.input),
                    self.lab()
                )))
            }
            Purpose::Anomaly if !matches!(spec.input, Input::Series { .. }) => {
                return Err(SpecError::whole(format!(
                    "this model takes {}, but the Anomaly lab needs series",
                    describe_input(&spec.input)
                )))
            }
            _ => {}
        }
        if self == Purpose::Augment && spec.latent_index().is_none() {
            return Err(SpecError::whole(
                "a latent layer is required for sampling: the Augment lab draws new digits from its code",
            ));
        }
        Ok(())
    }
}

fn describe_input(i: &Input) -> String {
    match *i {
        Input::Image {
            height,
            width,
            channels,
        } => format!("{height}×{width}×{channels} images"),
        Input::Series { length } => format!("{length}-point series"),
    }
}

fn conv_out(n: usize, k: usize, s: usize, p: Padding) -> Option<usize> {
    match p {
        Padding::Same => Some(n.div_ceil(s)),
        Padding::Valid => (n >= k).then(|| (n - k) / s + 1),
        Padding::Explicit(p) => (n + 2 * p >= k).then(|| (n + 2 * p - k) / s + 1),
    }
}

fn conv_t_out(n: usize, k: usize, s: usize, p: Padding) -> Option<usize> {
    match p {
        Padding::Same => Some(n * s),
        Padding::Valid => Some((n - 1) * s + k),
        Padding::Explicit(p) => ((n - 1) * s + k).checked_sub(2 * p).filter(|&v| v > 0),
    }
}

/// burn's `(padding, padding_out)` for a transposed convolution with
/// kernel `k`, stride `s` and padding `p`: `same` gives an output of
/// `n · s`.
pub fn conv_t_padding(p: Padding, k: usize, s: usize) -> (usize, usize) {
    match p {
        Padding::Same => {
            let p = k.saturating_sub(s).div_ceil(2);
            (p, s + 2 * p - k)
        }
        Padding::Valid => (0, 0),
        Padding::Explicit(n) => (n, 0),
    }
}

fn in_range(
    at: usize,
    title: &str,
    what: &str,
    v: usize,
    lo: usize,
    hi: usize,
) -> Result<(), SpecError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(SpecError {
            layer: Some(at),
            message: format!("layer {at} ({title}): {what} is {v}, outside {lo}–{hi}"),
        })
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 32
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl ModelSpec {
    /// Infers every layer's shape from the input to the output and checks
    /// the spec: each layer's settings, the names it refers to, that the
    /// model ends at the input's shape, and that at most one layer is the
    /// latent, with no skip across it.
    pub fn check(&self) -> Result<(), SpecError> {
        self.resolve().map(|_| ())
    }

    /// [`ModelSpec::check`], returning the resolved layers.
    pub fn resolve(&self) -> Result<Resolved, SpecError> {
        let at_err = |at: usize, m: String| SpecError {
            layer: Some(at),
            message: m,
        };
        let (input, length) = match self.input {
            Input::Image {
                height,
                width,
                channels,
            } => {
                for (what, v, hi) in [
                    ("height", height, 512),
                    ("width", width, 512),
                    ("channels", channels, 16),
                ] {
                    if !(1..=hi).contains(&v) {
                        return Err(SpecError::whole(format!(
                            "the input's {what} is {v}, outside 1–{hi}"
                        )));
                    }
                }
                (
                    Shape::Map {
                        c: channels,
                        h: height,
                        w: width,
                    },
                    None,
                )
            }
            Input::Series { length } => {
                if !(4..=100_000).contains(&length) {
                    return Err(SpecError::whole(format!(
                        "the input series has {length} points, outside 4–100000"
                    )));
                }
                (Shape::Seq { c: 1, l: length }, Some(length))
            }
        };
        if self.layers.is_empty() {
            return Err(SpecError::whole("the model has no layers"));
        }
        if self.layers.len() > super::MAX_LAYERS {
            return Err(SpecError::whole(format!(
                "the model has {} layers; at most {} are allowed",
                self.layers.len(),
                super::MAX_LAYERS
            )));
        }
        // Series are padded to a multiple of the encoder's total stride.
        let mut padded = length.unwrap_or(0);
        if let Some(l) = length {
            let mut m: usize = 1;
            for layer in &self.layers {
                let f = match &layer.op {
                    Op::Conv1d(c) => c.stride,
                    Op::MaxPool(p) | Op::AvgPool(p) => p.size,
                    _ => 1,
                };
                m = m.saturating_mul(f.max(1)).min(1 << 20);
            }
            padded = l.div_ceil(m) * m;
        }
        let input = match input {
            Shape::Seq { c, .. } => Shape::Seq { c, l: padded },
            s => s,
        };
        let latent = self.latent_index();
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut steps: Vec<Step> = Vec::with_capacity(self.layers.len());
        let mut cur = input;
        // The last layer that resized the data, for the messages.
        let mut resize: Option<String> = None;
        for (i, layer) in self.layers.iter().enumerate() {
            let at = i + 1;
            let title = layer.op.title();
            let err = |m: String| at_err(at, m);
            if let Some(n) = &layer.name {
                if !valid_name(n) || n == "input" {
                    return Err(err(format!(
                        "layer {at} ({title}): the name \"{n}\" must be 1–32 letters, digits, _ or -, and not \"input\""
                    )));
                }
                if names.contains_key(n.as_str()) {
                    return Err(err(format!(
                        "layer {at} ({title}): the name \"{n}\" is already used by layer {}",
                        names[n.as_str()] + 1
                    )));
                }
            }
            if matches!(layer.op, Op::Latent(_)) && latent != Some(i) {
                return Err(err(format!(
                    "layer {at} (Latent): a model has one latent layer, and layer {} is already one",
                    latent.unwrap_or(0) + 1
                )));
            }
            let lookup = |n: &str| -> Result<(Source, Shape), SpecError> {
                if n == "input" {
                    return Ok((Source::Input, input));
                }
                match names.get(n) {
                    Some(&j) => Ok((Source::Layer(j), steps[j].output)),
                    None => Err(err(format!(
                        "layer {at} ({title}) refers to \"{n}\", which is not the name of an earlier layer"
                    ))),
                }
            };
            let needs = |what: &str, fix: &str| {
                err(format!(
                    "layer {at} ({title}) gets {} but needs {what}{fix}",
                    cur.describe()
                ))
            };
            let mut source = None;
            let mut slow = false;
            let (out, params, flops): (Shape, usize, u64) = match &layer.op {
                Op::Conv2d(c) | Op::ConvTranspose2d(c) => {
                    in_range(at, title, "filters", c.filters, 1, 1024)?;
                    in_range(at, title, "the kernel", c.kernel, 1, 15)?;
                    in_range(at, title, "the stride", c.stride, 1, 8)?;
                    let Shape::Map { c: cin, h, w } = cur else {
                        return Err(needs("a feature map", " (add a reshape before it)"));
                    };
                    let transpose = matches!(layer.op, Op::ConvTranspose2d(_));
                    let size = |n: usize| {
                        if transpose {
                            conv_t_out(n, c.kernel, c.stride, c.padding)
                        } else {
                            conv_out(n, c.kernel, c.stride, c.padding)
                        }
                    };
                    let (Some(oh), Some(ow)) = (size(h), size(w)) else {
                        return Err(err(format!(
                            "layer {at} ({title}): a {k}×{k} kernel does not fit {h}×{w} with {p:?} padding",
                            k = c.kernel,
                            p = c.padding
                        )));
                    };
                    slow = transpose;
                    let kk = c.kernel * c.kernel;
                    let macs = if transpose { h * w } else { oh * ow } * kk * cin * c.filters;
                    let o = Shape::Map {
                        c: c.filters,
                        h: oh,
                        w: ow,
                    };
                    if (oh, ow) != (h, w) {
                        resize = Some(format!(
                            "{title} (stride {}) of {h}×{w} gives {oh}×{ow}",
                            c.stride
                        ));
                    }
                    (
                        o,
                        kk * cin * c.filters + c.filters,
                        2 * macs as u64 + o.elems() as u64,
                    )
                }
                Op::Conv1d(c) | Op::ConvTranspose1d(c) => {
                    in_range(at, title, "filters", c.filters, 1, 1024)?;
                    in_range(at, title, "the kernel", c.kernel, 1, 31)?;
                    in_range(at, title, "the stride", c.stride, 1, 8)?;
                    let Some((cin, l)) = cur.as_seq() else {
                        return Err(needs("a series", " (add a reshape before it)"));
                    };
                    let transpose = matches!(layer.op, Op::ConvTranspose1d(_));
                    let ol = if transpose {
                        conv_t_out(l, c.kernel, c.stride, c.padding)
                    } else {
                        conv_out(l, c.kernel, c.stride, c.padding)
                    };
                    let Some(ol) = ol else {
                        return Err(err(format!(
                            "layer {at} ({title}): a kernel of {} does not fit {l} points with {:?} padding",
                            c.kernel, c.padding
                        )));
                    };
                    slow = transpose;
                    let macs = if transpose { l } else { ol } * c.kernel * cin * c.filters;
                    let o = Shape::Seq {
                        c: c.filters,
                        l: ol,
                    };
                    if ol != l {
                        resize = Some(format!("{title} (stride {}) of {l} gives {ol}", c.stride));
                    }
                    (
                        o,
                        c.kernel * cin * c.filters + c.filters,
                        2 * macs as u64 + o.elems() as u64,
                    )
                }
                Op::MaxPool(p) | Op::AvgPool(p) => {
                    in_range(at, title, "the size", p.size, 1, 16)?;
                    slow = matches!(layer.op, Op::AvgPool(_));
                    let o = match cur {
                        Shape::Map { c, h, w } if h >= p.size && w >= p.size => Shape::Map {
                            c,
                            h: h / p.size,
                            w: w / p.size,
                        },
                        Shape::Seq { c, l } if l >= p.size => Shape::Seq { c, l: l / p.size },
                        Shape::Flat(_) => {
                            return Err(needs(
                                "a feature map or a series",
                                " (pool before flattening)",
                            ))
                        }
                        _ => {
                            return Err(err(format!(
                                "layer {at} ({title}): a window of {} is larger than {}",
                                p.size,
                                cur.spatial()
                            )))
                        }
                    };
                    resize = Some(format!(
                        "{title} ÷{} of {} gives {}",
                        p.size,
                        cur.spatial(),
                        o.spatial()
                    ));
                    (o, 0, (o.elems() * p.size * p.size) as u64)
                }
                Op::Upsample(u) => {
                    in_range(at, title, "the factor", u.factor, 1, 8)?;
                    slow = u.mode == UpsampleMode::Bilinear || u.factor != 2;
                    let o = match cur {
                        Shape::Map { c, h, w } => Shape::Map {
                            c,
                            h: h * u.factor,
                            w: w * u.factor,
                        },
                        Shape::Seq { c, l } => Shape::Seq { c, l: l * u.factor },
                        Shape::Flat(_) => {
                            return Err(needs(
                                "a feature map or a series",
                                " (add a reshape before it)",
                            ))
                        }
                    };
                    resize = Some(format!(
                        "Upsample ×{} of {} gives {}",
                        u.factor,
                        cur.spatial(),
                        o.spatial()
                    ));
                    (o, 0, o.elems() as u64)
                }
                Op::Dense(d) | Op::Latent(d) => {
                    let units = match &d.units {
                        Units::Count(n) => *n,
                        Units::SizeOf(name) => {
                            let (s, shape) = lookup(name)?;
                            source = Some(s);
                            shape.elems()
                        }
                    };
                    in_range(at, title, "the units", units, 1, 65_536)?;
                    let Some(n) = cur.as_flat() else {
                        return Err(needs("a vector", " (add a flatten layer before it)"));
                    };
                    let params = n * units + units;
                    if params > 64 * 1024 * 1024 {
                        return Err(err(format!(
                            "layer {at} ({title}) would hold {params} weights"
                        )));
                    }
                    (
                        Shape::Flat(units),
                        params,
                        2 * (n * units) as u64 + units as u64,
                    )
                }
                Op::Flatten => (Shape::Flat(cur.elems()), 0, 0),
                Op::Reshape(r) => {
                    let target = match (&r.shape, &r.like) {
                        (Some(_), Some(_)) | (None, None) => {
                            return Err(err(format!(
                                "layer {at} (Reshape) needs either \"shape\" or \"like\""
                            )))
                        }
                        (None, Some(name)) => {
                            let (s, shape) = lookup(name)?;
                            source = Some(s);
                            shape
                        }
                        (Some(dims), None) => reshape_to(dims, cur.elems())
                            .map_err(|m| err(format!("layer {at} (Reshape): {m}")))?,
                    };
                    if target.elems() != cur.elems() {
                        return Err(err(format!(
                            "layer {at} (Reshape) cannot turn {} ({} values) into {target} ({} values)",
                            cur,
                            cur.elems(),
                            target.elems()
                        )));
                    }
                    (target, 0, 0)
                }
                Op::BatchNorm => {
                    slow = !matches!(cur, Shape::Map { .. });
                    let c = cur.channels();
                    (cur, 2 * c, 2 * cur.elems() as u64)
                }
                Op::Dropout(d) => {
                    if !(d.rate.is_finite() && (0.0..1.0).contains(&d.rate)) {
                        return Err(err(format!(
                            "layer {at} (Dropout): the rate is {}, outside [0, 1)",
                            d.rate
                        )));
                    }
                    (cur, 0, 0)
                }
                Op::Activation(_) => (cur, 0, cur.elems() as u64),
                Op::Skip(s) => {
                    let (src, shape) = lookup(&s.from)?;
                    source = Some(src);
                    if let Some(l) = latent {
                        let before = match src {
                            Source::Input => true,
                            Source::Layer(j) => j < l,
                        };
                        if before && i > l {
                            return Err(err(format!(
                                "layer {at} (Skip) reads \"{}\" from before the latent layer {}: the decoder must work from the code alone",
                                s.from,
                                l + 1
                            )));
                        }
                    }
                    let out = match s.mode {
                        Merge::Add if shape == cur => Some(cur),
                        Merge::Add => None,
                        Merge::Concat => match (cur, shape) {
                            (
                                Shape::Map { c, h, w },
                                Shape::Map {
                                    c: c2,
                                    h: h2,
                                    w: w2,
                                },
                            ) if (h, w) == (h2, w2) => Some(Shape::Map { c: c + c2, h, w }),
                            (Shape::Seq { c, l }, Shape::Seq { c: c2, l: l2 }) if l == l2 => {
                                Some(Shape::Seq { c: c + c2, l })
                            }
                            (Shape::Flat(a), Shape::Flat(b)) => Some(Shape::Flat(a + b)),
                            _ => None,
                        },
                    };
                    let Some(out) = out else {
                        let why = match &resize {
                            Some(r) if cur.spatial() != shape.spatial() => {
                                format!(": {r}, not {}", shape.spatial())
                            }
                            _ => String::new(),
                        };
                        return Err(err(format!(
                            "layer {at} (Skip, {}) gets {cur} but \"{}\" is {shape}{why}",
                            if s.mode == Merge::Add {
                                "add"
                            } else {
                                "concat"
                            },
                            s.from
                        )));
                    };
                    (out, 0, out.elems() as u64)
                }
            };
            if let Some(n) = &layer.name {
                names.insert(n.as_str(), i);
            }
            steps.push(Step {
                input: cur,
                output: out,
                params,
                flops,
                slow,
                source,
            });
            cur = out;
        }
        // The model must give back what it takes.
        let ends_right = match (input, cur) {
            (Shape::Seq { c: 1, l }, out) => out.as_flat() == Some(l),
            (a, b) => a == b,
        };
        if !ends_right {
            let last = self.layers.len();
            let title = self.layers[last - 1].op.title();
            let want = match self.input {
                Input::Series { length } => format!("{length}×1 (the input's length)"),
                _ => format!("{input} (the input's shape)"),
            };
            let why = match &resize {
                Some(r) if cur.spatial() != input.spatial() => {
                    format!("; {r}, not {}", input.spatial())
                }
                _ => String::new(),
            };
            return Err(at_err(
                last,
                format!(
                    "layer {last} ({title}) gives {cur} but the decoder must end at {want}{why}"
                ),
            ));
        }
        Ok(Resolved {
            input,
            padded,
            steps,
        })
    }

    /// The summary: each layer's output shape, parameters and MFLOPs per
    /// example, with totals, like Keras's `model.summary()`.
    pub fn summary(&self) -> Result<Summary, SpecError> {
        let r = self.resolve()?;
        let rows: Vec<SummaryRow> = self
            .layers
            .iter()
            .zip(&r.steps)
            .enumerate()
            .map(|(i, (l, s))| SummaryRow {
                index: i + 1,
                layer: l.op.title().to_string(),
                name: l.name.clone(),
                detail: detail(&l.op),
                output: s.output.to_string(),
                output_dims: s.output.dims(),
                params: s.params,
                mflops: s.flops as f64 / 1e6,
                slow: s.slow,
            })
            .collect();
        let elems: usize =
            r.input.elems() + r.steps.iter().map(|s| s.output.elems()).sum::<usize>();
        Ok(Summary {
            input: r.input.to_string(),
            padded: match self.input {
                Input::Series { length } if r.padded != length => Some(r.padded),
                _ => None,
            },
            total_params: rows.iter().map(|r| r.params).sum(),
            total_mflops: rows.iter().map(|r| r.mflops).sum(),
            activation_bytes_per_example: (elems * 4 * ACTIVATION_FACTOR) as u64,
            latent: self.latent_index().map(|i| r.steps[i].output.elems()),
            rows,
        })
    }

    /// [`ModelSpec::summary`] within `limits` at `batch` examples per step;
    /// the message says which limit the model exceeds, and by how much.
    pub fn check_limits(&self, limits: &Limits, batch: usize) -> Result<Summary, SpecError> {
        let s = self.summary()?;
        s.within(limits, batch)?;
        Ok(s)
    }
}

/// A short description of a layer's settings, for the summary.
pub fn detail(op: &Op) -> String {
    let act = |a: Activation| {
        if a == Activation::Linear {
            String::new()
        } else {
            format!(", {}", a.name())
        }
    };
    match op {
        Op::Conv2d(c) | Op::Conv1d(c) | Op::ConvTranspose2d(c) | Op::ConvTranspose1d(c) => {
            let mut s = format!("{} × {}", c.filters, c.kernel);
            if matches!(op, Op::Conv2d(_) | Op::ConvTranspose2d(_)) {
                s = format!("{} × {k}×{k}", c.filters, k = c.kernel);
            }
            if c.stride != 1 {
                s += &format!(", stride {}", c.stride);
            }
            match c.padding {
                Padding::Same => {}
                Padding::Valid => s += ", valid",
                Padding::Explicit(p) => s += &format!(", pad {p}"),
            }
            s + &act(c.activation)
        }
        Op::MaxPool(p) | Op::AvgPool(p) => format!("÷{}", p.size),
        Op::Upsample(u) => format!(
            "×{}{}",
            u.factor,
            if u.mode == UpsampleMode::Bilinear {
                ", bilinear"
            } else {
                ""
            }
        ),
        Op::Dense(d) | Op::Latent(d) => match &d.units {
            Units::Count(n) => format!("{n}{}", act(d.activation)),
            Units::SizeOf(name) => format!("size of {name}{}", act(d.activation)),
        },
        Op::Flatten | Op::BatchNorm => String::new(),
        Op::Reshape(r) => match (&r.shape, &r.like) {
            (Some(s), _) => format!("{s:?}"),
            (_, Some(l)) => format!("like {l}"),
            _ => String::new(),
        },
        Op::Dropout(d) => format!("{}", d.rate),
        Op::Activation(a) => a.function.name().to_string(),
        Op::Skip(s) => format!(
            "{} {}",
            if s.mode == Merge::Add {
                "add"
            } else {
                "concat"
            },
            s.from
        ),
    }
}

fn reshape_to(dims: &[i64], elems: usize) -> Result<Shape, String> {
    if dims.is_empty() || dims.len() > 3 {
        return Err("the shape has 1 to 3 entries ([n], [c, length] or [c, h, w])".into());
    }
    let unknown = dims.iter().filter(|&&d| d == -1).count();
    if unknown > 1 || dims.iter().any(|&d| d == 0 || d < -1) {
        return Err("the shape's entries are positive, with at most one -1".into());
    }
    let known: usize = dims
        .iter()
        .filter(|&&d| d > 0)
        .map(|&d| d as usize)
        .product();
    let fill = if unknown == 1 {
        if known == 0 || elems % known != 0 {
            return Err(format!("{elems} values do not divide into {dims:?}"));
        }
        elems / known
    } else {
        0
    };
    let d: Vec<usize> = dims
        .iter()
        .map(|&d| if d == -1 { fill } else { d as usize })
        .collect();
    Ok(match d[..] {
        [n] => Shape::Flat(n),
        [c, l] => Shape::Seq { c, l },
        [c, h, w] => Shape::Map { c, h, w },
        _ => unreachable!("checked above"),
    })
}

/// One row of the summary table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct SummaryRow {
    /// 1-based.
    pub index: usize,
    /// "Conv2d", "MaxPool", …
    pub layer: String,
    pub name: Option<String>,
    /// Its settings in short ("32 × 3×3, relu").
    pub detail: String,
    /// As Keras writes it: 14×14×32.
    pub output: String,
    /// burn's dimensions, without the batch.
    pub output_dims: Vec<usize>,
    pub params: usize,
    pub mflops: f64,
    /// Runs on burn's own ops, not the engine's CPU kernels.
    pub slow: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Summary {
    pub input: String,
    /// A series' padded length, when it is padded.
    pub padded: Option<usize>,
    pub rows: Vec<SummaryRow>,
    pub total_params: usize,
    pub total_mflops: f64,
    /// Training memory per example, estimated ([`ACTIVATION_FACTOR`]).
    pub activation_bytes_per_example: u64,
    /// The size of the code, when the model has a latent layer.
    pub latent: Option<usize>,
}

impl Summary {
    /// Whether the model stays within `limits` at `batch` per step.
    pub fn within(&self, limits: &Limits, batch: usize) -> Result<(), SpecError> {
        if self.total_params > limits.max_params {
            return Err(SpecError::whole(format!(
                "the model has {} parameters, over the limit of {} that keeps a browser tab alive",
                group(self.total_params),
                group(limits.max_params)
            )));
        }
        if self.total_mflops > limits.max_mflops {
            return Err(SpecError::whole(format!(
                "the model costs {:.1} MFLOPs per example, over the limit of {}",
                self.total_mflops, limits.max_mflops
            )));
        }
        let bytes = self.activation_bytes_per_example * batch.max(1) as u64;
        if bytes > limits.max_activation_bytes {
            return Err(SpecError::whole(format!(
                "at batch {batch} the model's activations need about {} MB, over the limit of {} MB; use a smaller batch (at most {})",
                bytes / (1024 * 1024),
                limits.max_activation_bytes / (1024 * 1024),
                (limits.max_activation_bytes / self.activation_bytes_per_example.max(1)).max(1)
            )));
        }
        Ok(())
    }

    /// The table as text, as `aelab model summary` prints it.
    pub fn table(&self) -> String {
        let mut rows: Vec<[String; 5]> = vec![[
            "#".into(),
            "Layer".into(),
            "Output".into(),
            "Params".into(),
            "MFLOPs".into(),
        ]];
        rows.push([
            "".into(),
            "Input".into(),
            self.input.clone(),
            "".into(),
            "".into(),
        ]);
        for r in &self.rows {
            let mut layer = r.layer.clone();
            if let Some(n) = &r.name {
                layer += &format!(" '{n}'");
            }
            if !r.detail.is_empty() {
                layer += &format!(" ({})", r.detail);
            }
            if r.slow {
                layer += " [slow path]";
            }
            rows.push([
                r.index.to_string(),
                layer,
                r.output.clone(),
                group(r.params),
                format!("{:.2}", r.mflops),
            ]);
        }
        let mut widths = [0usize; 5];
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |r: &[String; 5]| {
            let mut s = String::new();
            for (k, (c, w)) in r.iter().zip(widths).enumerate() {
                let pad = w - c.chars().count();
                if k >= 3 {
                    s += &" ".repeat(pad);
                    s += c;
                } else {
                    s += c;
                    s += &" ".repeat(pad);
                }
                s += "  ";
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = line(&rows[0]);
        out += &"-".repeat(widths.iter().sum::<usize>() + 8);
        out += "\n";
        for r in &rows[1..] {
            out += &line(r);
        }
        out += &format!(
            "Total: {} parameters, {:.2} MFLOPs per example, about {:.1} MB of activations per example in training",
            group(self.total_params),
            self.total_mflops,
            self.activation_bytes_per_example as f64 / (1024.0 * 1024.0)
        );
        if let Some(p) = self.padded {
            out += &format!("\nSeries are padded to {p} points (a multiple of the encoder's stride) and cropped back.");
        }
        if self.rows.iter().any(|r| r.slow) {
            out += "\n[slow path]: runs on burn's own ops, not aelab's CPU kernels.";
        }
        out + "\n"
    }
}

/// 28353 → "28,353".
pub fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// What the designer shows for a spec as a student edits it: the summary
/// when the spec is valid, else the message and the layer it is about; and
/// whether it suits the lab and stays within the page's limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Design {
    pub summary: Option<Summary>,
    /// What is wrong, if anything (the spec, the lab's needs or a limit).
    pub error: Option<String>,
    /// The 1-based layer the error is about.
    pub error_layer: Option<usize>,
    /// The spec can be trained in this lab, in the page.
    pub trainable: bool,
}

/// [`Design`] of a spec's JSON text, for `purpose`, at `batch` examples per
/// step.
pub fn design(json: &str, purpose: Purpose, batch: usize) -> Design {
    let spec = match ModelSpec::from_json(json) {
        Ok(s) => s,
        Err(e) => {
            return Design {
                summary: None,
                error: Some(e.message),
                error_layer: e.layer,
                trainable: false,
            }
        }
    };
    let summary = spec.summary().ok();
    let problem = purpose.check(&spec).err().or_else(|| {
        summary
            .as_ref()
            .and_then(|s| s.within(&Limits::default(), batch).err())
    });
    Design {
        summary,
        trainable: problem.is_none(),
        error_layer: problem.as_ref().and_then(|e| e.layer),
        error: problem.map(|e| e.message),
    }
}
