//! The burn module a spec builds, and its forward pass. The layers the
//! engine covers run through it ([`crate::engine`]): convolutions with
//! ReLU fused, a convolution followed by a max-pool fused into one pass,
//! and a nearest ×2 upsample fused into the convolution after it. The rest
//! run on burn's own ops (the summary marks them "slow path").

use super::check::{conv_t_padding, Resolved, Shape, Source};
use super::{Activation, Merge, ModelSpec, Op, Padding, SpecError, UpsampleMode};
use crate::engine::{self, Act};
use burn::nn::conv::{
    Conv1d, Conv1dConfig, Conv2d, Conv2dConfig, ConvTranspose1d, ConvTranspose1dConfig,
    ConvTranspose2d, ConvTranspose2dConfig,
};
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{
    BatchNorm, BatchNormConfig, DropoutConfig, Linear, LinearConfig, PaddingConfig1d,
    PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::activation;
use std::sync::Arc;

/// A layer with parameters.
#[derive(Module, Debug)]
pub enum Block {
    Conv2d(Conv2d),
    Conv1d(Conv1d),
    ConvT2d(ConvTranspose2d),
    ConvT1d(ConvTranspose1d),
    Dense(Linear),
    Norm(BatchNorm),
}

/// What the forward pass follows: the spec, its resolved shapes, which
/// block each layer uses, and which outputs a later layer reads again.
#[derive(Debug, Clone)]
pub struct Plan {
    pub spec: ModelSpec,
    pub resolved: Resolved,
    block: Vec<Option<usize>>,
    keep: Vec<bool>,
    keep_input: bool,
}

impl Plan {
    fn new(spec: &ModelSpec) -> Result<Plan, SpecError> {
        let resolved = spec.resolve()?;
        let (keep, keep_input) = resolved.skip_reads(&spec.layers);
        // The index of each layer's block, for the layers with parameters.
        let mut next = 0;
        let block = spec
            .layers
            .iter()
            .map(|l| {
                let has = matches!(
                    l.op,
                    Op::Conv2d(_)
                        | Op::Conv1d(_)
                        | Op::ConvTranspose2d(_)
                        | Op::ConvTranspose1d(_)
                        | Op::Dense(_)
                        | Op::Latent(_)
                        | Op::BatchNorm
                );
                has.then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        Ok(Plan {
            spec: spec.clone(),
            resolved,
            block,
            keep,
            keep_input,
        })
    }
}

/// A model built from a [`ModelSpec`]. Its parameters are its blocks, in
/// layer order.
#[derive(Module, Debug)]
pub struct Net {
    pub(crate) blocks: Vec<Block>,
    #[module(skip)]
    plan: Arc<Plan>,
}

/// A batch of examples in the rank its shape has.
enum X {
    D2(Tensor<2>),
    D3(Tensor<3>),
    D4(Tensor<4>),
}

impl X {
    fn batch(&self) -> usize {
        match self {
            X::D2(t) => t.dims()[0],
            X::D3(t) => t.dims()[0],
            X::D4(t) => t.dims()[0],
        }
    }

    fn clone_x(&self) -> X {
        match self {
            X::D2(t) => X::D2(t.clone()),
            X::D3(t) => X::D3(t.clone()),
            X::D4(t) => X::D4(t.clone()),
        }
    }

    fn into_shape(self, s: Shape) -> X {
        let n = self.batch();
        match s {
            Shape::Map { c, h, w } => X::D4(self.d4([n, c, h, w])),
            Shape::Seq { c, l } => X::D3(self.d3([n, c, l])),
            Shape::Flat(f) => X::D2(self.d2([n, f])),
        }
    }

    fn d4(self, dims: [usize; 4]) -> Tensor<4> {
        match self {
            X::D4(t) if t.dims() == dims => t,
            X::D2(t) => t.reshape(dims),
            X::D3(t) => t.reshape(dims),
            X::D4(t) => t.reshape(dims),
        }
    }

    fn d3(self, dims: [usize; 3]) -> Tensor<3> {
        match self {
            X::D3(t) if t.dims() == dims => t,
            X::D2(t) => t.reshape(dims),
            X::D3(t) => t.reshape(dims),
            X::D4(t) => t.reshape(dims),
        }
    }

    fn d2(self, dims: [usize; 2]) -> Tensor<2> {
        match self {
            X::D2(t) if t.dims() == dims => t,
            X::D2(t) => t.reshape(dims),
            X::D3(t) => t.reshape(dims),
            X::D4(t) => t.reshape(dims),
        }
    }

    fn map(
        self,
        f4: impl FnOnce(Tensor<4>) -> Tensor<4>,
        f3: impl FnOnce(Tensor<3>) -> Tensor<3>,
        f2: impl FnOnce(Tensor<2>) -> Tensor<2>,
    ) -> X {
        match self {
            X::D2(t) => X::D2(f2(t)),
            X::D3(t) => X::D3(f3(t)),
            X::D4(t) => X::D4(f4(t)),
        }
    }
}

fn act<const D: usize>(t: Tensor<D>, a: Activation) -> Tensor<D> {
    match a {
        Activation::Linear => t,
        Activation::Relu => activation::relu(t),
        Activation::LeakyRelu => activation::leaky_relu(t, 0.01),
        Activation::Gelu => activation::gelu(t),
        Activation::Tanh => activation::tanh(t),
        Activation::Sigmoid => activation::sigmoid(t),
    }
}

fn act_x(x: X, a: Activation) -> X {
    x.map(|t| act(t, a), |t| act(t, a), |t| act(t, a))
}

/// The activation the engine fuses into a convolution, if it can.
fn fused(a: Activation) -> Option<Act> {
    match a {
        Activation::Linear => Some(Act::Linear),
        Activation::Relu => Some(Act::Relu),
        _ => None,
    }
}

fn pad2d(p: Padding) -> PaddingConfig2d {
    match p {
        Padding::Same => PaddingConfig2d::Same,
        Padding::Valid => PaddingConfig2d::Valid,
        Padding::Explicit(n) => PaddingConfig2d::Explicit(n, n, n, n),
    }
}

fn pad1d(p: Padding) -> PaddingConfig1d {
    match p {
        Padding::Same => PaddingConfig1d::Same,
        Padding::Valid => PaddingConfig1d::Valid,
        Padding::Explicit(n) => PaddingConfig1d::Explicit(n, n),
    }
}

impl Net {
    /// Builds the model a spec describes, with fresh parameters (from the
    /// device's seed). The spec is checked first.
    pub fn build(spec: &ModelSpec, device: &Device) -> Result<Net, SpecError> {
        let plan = Plan::new(spec)?;
        let mut blocks = Vec::new();
        for (layer, step) in spec.layers.iter().zip(&plan.resolved.steps) {
            let cin = step.input.channels();
            // A 1-D layer reads a vector as a one-channel series.
            let cin1 = if let Shape::Flat(_) = step.input {
                1
            } else {
                cin
            };
            blocks.push(match &layer.op {
                Op::Conv2d(c) => Block::Conv2d(
                    Conv2dConfig::new([cin, c.filters], [c.kernel, c.kernel])
                        .with_stride([c.stride, c.stride])
                        .with_padding(pad2d(c.padding))
                        .init(device),
                ),
                Op::Conv1d(c) => Block::Conv1d(
                    Conv1dConfig::new(cin1, c.filters, c.kernel)
                        .with_stride(c.stride)
                        .with_padding(pad1d(c.padding))
                        .init(device),
                ),
                Op::ConvTranspose2d(c) => {
                    let (p, po) = conv_t_padding(c.padding, c.kernel, c.stride);
                    Block::ConvT2d(
                        ConvTranspose2dConfig::new([cin, c.filters], [c.kernel, c.kernel])
                            .with_stride([c.stride, c.stride])
                            .with_padding([p, p])
                            .with_padding_out([po, po])
                            .init(device),
                    )
                }
                Op::ConvTranspose1d(c) => {
                    let (p, po) = conv_t_padding(c.padding, c.kernel, c.stride);
                    Block::ConvT1d(
                        ConvTranspose1dConfig::new([cin1, c.filters], c.kernel)
                            .with_stride(c.stride)
                            .with_padding(p)
                            .with_padding_out(po)
                            .init(device),
                    )
                }
                Op::Dense(_) | Op::Latent(_) => Block::Dense(
                    LinearConfig::new(step.input.elems(), step.output.elems()).init(device),
                ),
                Op::BatchNorm => Block::Norm(BatchNormConfig::new(cin).init(device)),
                _ => continue,
            });
        }
        Ok(Net {
            blocks,
            plan: Arc::new(plan),
        })
    }

    /// A net from its parts, in layer order (aelab 0.1's models, see
    /// [`super::legacy`]); the blocks must be those [`Net::build`] makes.
    pub(crate) fn from_blocks(spec: &ModelSpec, blocks: Vec<Block>) -> Result<Net, SpecError> {
        let plan = Plan::new(spec)?;
        if plan.block.iter().flatten().count() != blocks.len() {
            return Err(SpecError::whole("the model's layers do not match its spec"));
        }
        Ok(Net {
            blocks,
            plan: Arc::new(plan),
        })
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.plan.spec
    }

    /// The size of the code ([`Op::Latent`]'s units), if the model has one.
    pub fn latent(&self) -> usize {
        self.plan
            .spec
            .latent_index()
            .map_or(0, |i| self.plan.resolved.steps[i].output.elems())
    }

    /// The series length the model was built for.
    pub fn length(&self) -> usize {
        match self.plan.spec.input {
            super::Input::Series { length } => length,
            super::Input::Image { .. } => 0,
        }
    }

    fn conv2d(&self, i: usize) -> &Conv2d {
        match &self.blocks[self.plan.block[i].expect("a block")] {
            Block::Conv2d(c) => c,
            _ => unreachable!("layer {i} is a Conv2d"),
        }
    }

    fn block(&self, i: usize) -> &Block {
        &self.blocks[self.plan.block[i].expect("a block")]
    }

    /// Runs layers `from..to` on `x` (the input of layer `from`).
    fn run(&self, x: X, from: usize, to: usize, input: Option<X>) -> X {
        self.run_traced(x, from, to, input, None)
    }

    /// [`Net::run`], pushing each layer's output onto `trace` when given
    /// (layer by layer then: no fusions, the same values).
    fn run_traced(
        &self,
        mut x: X,
        from: usize,
        to: usize,
        input: Option<X>,
        mut trace: Option<&mut Vec<X>>,
    ) -> X {
        let plan = &*self.plan;
        let layers = &plan.spec.layers;
        let steps = &plan.resolved.steps;
        let mut saved: Vec<Option<X>> = (0..layers.len()).map(|_| None).collect();
        let mut i = from;
        while i < to {
            let step = &steps[i];
            let next = (trace.is_none() && i + 1 < to && !plan.keep[i]).then(|| &layers[i + 1].op);
            let mut took = 1;
            x = match &layers[i].op {
                Op::Conv2d(c) => {
                    let x4 = x.into_shape(step.input);
                    let X::D4(t) = x4 else { unreachable!() };
                    let conv = self.conv2d(i);
                    match (fused(c.activation), next) {
                        (Some(a), Some(Op::MaxPool(p))) => {
                            took = 2;
                            let pool = MaxPool2dConfig::new([p.size, p.size]).init();
                            X::D4(engine::conv2d_pool(conv, &pool, t, a))
                        }
                        (Some(a), _) => X::D4(engine::conv2d(conv, t, a)),
                        (None, _) => X::D4(act(engine::conv2d(conv, t, Act::Linear), c.activation)),
                    }
                }
                Op::Upsample(u) if u.mode == UpsampleMode::Nearest && u.factor == 2 => {
                    match (x.into_shape(step.input), next) {
                        (X::D4(t), Some(Op::Conv2d(c))) if fused(c.activation).is_some() => {
                            took = 2;
                            let a = fused(c.activation).expect("checked");
                            X::D4(engine::upsample_conv2d(self.conv2d(i + 1), t, a))
                        }
                        (X::D4(t), _) => X::D4(engine::upsample2(t)),
                        (X::D3(t), _) => X::D3(engine::upsample1(t)),
                        (X::D2(_), _) => unreachable!("checked: upsample needs a map or a series"),
                    }
                }
                Op::Upsample(u) => {
                    let (t, _) = self.as_plane(x, step.input);
                    let fh = if step.input_is_map() { u.factor } else { 1 };
                    let y = match u.mode {
                        UpsampleMode::Bilinear => bilinear(t, [fh, u.factor]),
                        UpsampleMode::Nearest => nearest(t, [fh, u.factor]),
                    };
                    X::D4(y).into_shape(step.output)
                }
                Op::MaxPool(p) => {
                    let (t, _) = self.as_plane(x, step.input);
                    let k = if step.input_is_map() {
                        [p.size, p.size]
                    } else {
                        [1, p.size]
                    };
                    let pool = MaxPool2dConfig::new(k).init();
                    X::D4(engine::max_pool2d(&pool, t)).into_shape(step.output)
                }
                Op::AvgPool(p) => {
                    let (t, _) = self.as_plane(x, step.input);
                    let k = if step.input_is_map() {
                        [p.size, p.size]
                    } else {
                        [1, p.size]
                    };
                    X::D4(avg_pool(t, k)).into_shape(step.output)
                }
                Op::Conv1d(c) => {
                    let X::D3(t) = x.into_shape(seq_of(step.input)) else {
                        unreachable!()
                    };
                    let Block::Conv1d(conv) = self.block(i) else {
                        unreachable!()
                    };
                    match fused(c.activation) {
                        Some(a) => X::D3(engine::conv1d(conv, t, a)),
                        None => X::D3(act(engine::conv1d(conv, t, Act::Linear), c.activation)),
                    }
                }
                Op::ConvTranspose2d(c) => {
                    let X::D4(t) = x.into_shape(step.input) else {
                        unreachable!()
                    };
                    let Block::ConvT2d(conv) = self.block(i) else {
                        unreachable!()
                    };
                    X::D4(act(conv.forward(t), c.activation))
                }
                Op::ConvTranspose1d(c) => {
                    let X::D3(t) = x.into_shape(seq_of(step.input)) else {
                        unreachable!()
                    };
                    let Block::ConvT1d(conv) = self.block(i) else {
                        unreachable!()
                    };
                    X::D3(act(conv.forward(t), c.activation))
                }
                Op::Dense(d) | Op::Latent(d) => {
                    let X::D2(t) = x.into_shape(Shape::Flat(step.input.elems())) else {
                        unreachable!()
                    };
                    let Block::Dense(lin) = self.block(i) else {
                        unreachable!()
                    };
                    X::D2(act(lin.forward(t), d.activation))
                }
                Op::Flatten | Op::Reshape(_) => x.into_shape(step.output),
                Op::BatchNorm => {
                    let Block::Norm(bn) = self.block(i) else {
                        unreachable!()
                    };
                    match x.into_shape(step.input) {
                        X::D4(t) => X::D4(engine::batch_norm(bn, t, Act::Linear)),
                        X::D3(t) => X::D3(bn.forward(t)),
                        X::D2(t) => {
                            let [n, f] = t.dims();
                            X::D2(bn.forward(t.reshape([n, f, 1])).reshape([n, f]))
                        }
                    }
                }
                Op::Dropout(d) => {
                    let drop = DropoutConfig::new(d.rate).init();
                    x.map(
                        |t| drop.forward(t),
                        |t| drop.forward(t),
                        |t| drop.forward(t),
                    )
                }
                Op::Activation(a) => act_x(x, a.function),
                Op::Skip(s) => {
                    let other = match step.source {
                        Some(Source::Input) => input.as_ref().map(X::clone_x),
                        Some(Source::Layer(j)) => saved[j].as_ref().map(X::clone_x),
                        None => None,
                    }
                    .expect("a skip's source is kept")
                    .into_shape(step.source_shape(&plan.resolved));
                    let cur = x.into_shape(step.input);
                    match (s.mode, cur, other) {
                        (Merge::Add, X::D4(a), X::D4(b)) => X::D4(a + b),
                        (Merge::Add, X::D3(a), X::D3(b)) => X::D3(a + b),
                        (Merge::Add, X::D2(a), X::D2(b)) => X::D2(a + b),
                        (Merge::Concat, X::D4(a), X::D4(b)) => X::D4(Tensor::cat(vec![a, b], 1)),
                        (Merge::Concat, X::D3(a), X::D3(b)) => X::D3(Tensor::cat(vec![a, b], 1)),
                        (Merge::Concat, X::D2(a), X::D2(b)) => X::D2(Tensor::cat(vec![a, b], 1)),
                        _ => unreachable!("checked: a skip joins equal ranks"),
                    }
                }
            };
            i += took;
            if plan.keep[i - 1] {
                saved[i - 1] = Some(x.clone_x());
            }
            if let Some(t) = trace.as_deref_mut() {
                t.push(x.clone_x());
            }
        }
        x
    }

    /// A map or a series as `[n, c, h, w]` (a series with `h = 1`), and
    /// its spatial size.
    fn as_plane(&self, x: X, s: Shape) -> (Tensor<4>, [usize; 2]) {
        let n = x.batch();
        match s {
            Shape::Map { c, h, w } => (x.d4([n, c, h, w]), [h, w]),
            Shape::Seq { c, l } => (x.d4([n, c, 1, l]), [1, l]),
            Shape::Flat(f) => (x.d4([n, 1, 1, f]), [1, f]),
        }
    }

    fn start(&self, x: X) -> (X, Option<X>) {
        let kept = self.plan.keep_input.then(|| x.clone_x());
        (x, kept)
    }

    /// Pre-sigmoid output for images, `[n, c, h, w]` in, the same out.
    pub fn forward_logits(&self, x: Tensor<4>) -> Tensor<4> {
        let n = x.dims()[0];
        let (x, input) = self.start(X::D4(x));
        let end = self.plan.spec.layers.len();
        let [_, c, h, w] = self.image_dims();
        self.run(x, 0, end, input).d4([n, c, h, w])
    }

    fn image_dims(&self) -> [usize; 4] {
        match self.plan.resolved.input {
            Shape::Map { c, h, w } => [0, c, h, w],
            _ => [0, 1, 1, 1],
        }
    }

    /// Every layer's output for images `x`, in the spec's order, each as
    /// `[n, elements]` (its shape is [`Net::layer_shapes`]'s). Computed
    /// layer by layer, without the fusions: the values `forward_logits`
    /// computes on the way (the last is its output).
    pub fn trace(&self, x: Tensor<4>) -> Vec<Tensor<2>> {
        let n = x.dims()[0];
        let (x, input) = self.start(X::D4(x));
        let end = self.plan.spec.layers.len();
        let mut out = Vec::with_capacity(end);
        self.run_traced(x, 0, end, input, Some(&mut out));
        out.into_iter()
            .zip(&self.plan.resolved.steps)
            .map(|(x, step)| x.d2([n, step.output.elems()]))
            .collect()
    }

    /// Each layer's output shape.
    pub fn layer_shapes(&self) -> Vec<Shape> {
        self.plan.resolved.steps.iter().map(|s| s.output).collect()
    }

    /// Images in [0, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        activation::sigmoid(self.forward_logits(x))
    }

    /// Codes, `[n, latent]`: the layers up to the latent one.
    pub fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        let l = self
            .plan
            .spec
            .latent_index()
            .expect("checked: a latent layer");
        let n = x.dims()[0];
        let (x, input) = self.start(X::D4(x));
        self.run(x, 0, l + 1, input).d2([n, self.latent()])
    }

    /// Pre-sigmoid images from codes: the layers after the latent one.
    pub fn decode_logits(&self, z: Tensor<2>) -> Tensor<4> {
        let l = self
            .plan
            .spec
            .latent_index()
            .expect("checked: a latent layer");
        let n = z.dims()[0];
        let end = self.plan.spec.layers.len();
        let [_, c, h, w] = self.image_dims();
        self.run(X::D2(z), l + 1, end, None).d4([n, c, h, w])
    }

    pub fn decode(&self, z: Tensor<2>) -> Tensor<4> {
        activation::sigmoid(self.decode_logits(z))
    }

    /// Pre-sigmoid reconstructions of series, `[n, length]`: the series
    /// are padded at their end with their last value to the plan's length,
    /// and the output is cropped back.
    pub fn forward_series_logits(&self, x: Tensor<2>) -> Tensor<2> {
        let [n, l] = x.dims();
        let padded = self.plan.resolved.padded.max(l);
        let mut h = x.reshape([n, 1, l]);
        if padded > l {
            let last = h.clone().slice([0..n, 0..1, l - 1..l]);
            let pad = last.expand([n, 1, padded - l]);
            h = Tensor::cat(vec![h, pad], 2);
        }
        let (h, input) = self.start(X::D3(h));
        let end = self.plan.spec.layers.len();
        let y = self.run(h, 0, end, input).d2([n, padded]);
        if padded > l {
            y.slice([0..n, 0..l])
        } else {
            y
        }
    }

    pub fn forward_series(&self, x: Tensor<2>) -> Tensor<2> {
        activation::sigmoid(self.forward_series_logits(x))
    }
}

impl super::check::Step {
    fn input_is_map(&self) -> bool {
        matches!(self.input, Shape::Map { .. })
    }

    /// The shape a skip's source has.
    fn source_shape(&self, r: &Resolved) -> Shape {
        match self.source {
            Some(Source::Input) | None => r.input,
            Some(Source::Layer(j)) => r.steps[j].output,
        }
    }
}

/// A series' shape for a 1-D layer (a vector is a one-channel series).
fn seq_of(s: Shape) -> Shape {
    match s {
        Shape::Flat(n) => Shape::Seq { c: 1, l: n },
        s => s,
    }
}

/// The weights of linear interpolation from `n` to `n · f` points with
/// half-pixel centres (Keras's and PyTorch's `align_corners=False`), as an
/// `[n · f, n]` matrix.
fn interpolation_matrix(n: usize, f: usize) -> Vec<f32> {
    let mut a = vec![0.0f32; n * f * n];
    for o in 0..n * f {
        let src = ((o as f32 + 0.5) / f as f32 - 0.5).clamp(0.0, (n - 1) as f32);
        let i0 = src.floor() as usize;
        let i1 = (i0 + 1).min(n - 1);
        let t = src - i0 as f32;
        a[o * n + i0] += 1.0 - t;
        a[o * n + i1] += t;
    }
    a
}

/// Nearest upsampling by `[fh, fw]`: each value repeated, as a broadcast
/// and a reshape. burn's `interpolate` gives the same values (its nearest
/// source is `floor(i / f)`), but it would bring every interpolation mode's
/// kernels into the page's module (about 0.7 MB of code before wasm-opt)
/// for this one layer.
pub(super) fn nearest(x: Tensor<4>, [fh, fw]: [usize; 2]) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n * c, h, 1, w, 1])
        .expand([n * c, h, fh, w, fw])
        .reshape([n, c, h * fh, w * fw])
}

/// Average pooling over non-overlapping `[kh, kw]` windows (stride = the
/// window, no padding, floor mode: what burn's `AvgPool2d` does with the
/// spec's settings), as a reshape and two means: burn's pooling op would
/// bring its kernels for every dtype and rank into the page's module.
pub(super) fn avg_pool(x: Tensor<4>, [kh, kw]: [usize; 2]) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let (oh, ow) = (h / kh, w / kw);
    let x = if (oh * kh, ow * kw) == (h, w) {
        x
    } else {
        x.slice([0..n, 0..c, 0..oh * kh, 0..ow * kw])
    };
    x.reshape([n * c, oh, kh, ow, kw])
        .mean_dim(4)
        .mean_dim(2)
        .reshape([n, c, oh, ow])
}

/// Bilinear upsampling by `[fh, fw]` as two matrix products, which every
/// backend differentiates (burn's NdArray has no bilinear backward).
fn bilinear(x: Tensor<4>, [fh, fw]: [usize; 2]) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let device = x.device();
    let ah = Tensor::<2>::from_data(
        TensorData::new(interpolation_matrix(h, fh), [h * fh, h]),
        &device,
    );
    let aw = Tensor::<2>::from_data(
        TensorData::new(interpolation_matrix(w, fw), [w * fw, w]),
        &device,
    );
    let b = n * c;
    let x = x.reshape([b, h, w]);
    let y = ah.unsqueeze::<3>().expand([b, h * fh, h]).matmul(x);
    let y = y.matmul(aw.transpose().unsqueeze::<3>().expand([b, w, w * fw]));
    y.reshape([n, c, h * fh, w * fw])
}
