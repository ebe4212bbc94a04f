//! The engine's ops inside burn: a backend extension implemented for Flex
//! (the forward passes, on the tensors' own buffers) and for autodiff over
//! Flex (the same forwards, with backward steps of our own). burn routes a
//! call to one of the two from the tensors' device; [`super`] decides when
//! to call them at all.

use super::conv::{self, ConvGeom, Fused, Saved, Wanted};
use super::norm::{self, NormGeom};
use super::pool::{self, PlaneGeom};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, AutodiffBackend, Backend, Flex, TensorMetadata};
use burn::tensor::{Shape, TensorData};
use std::sync::Arc;

/// A convolution's settings besides its tensors. The input is
/// `[n, cin, h, w]` or, for 1-D, `[n, cin, l]` (then `kernel[0]`,
/// `stride[0]` and `padding[0]` are 1, 1 and (0, 0)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// (top, bottom), (left, right).
    pub padding: [(usize, usize); 2],
    /// Apply a ReLU to the output (and mask the gradient by it).
    pub relu: bool,
    /// Upsample the input (nearest) by these factors first ([1, 1]: no).
    pub up: [usize; 2],
    /// Max-pool the output by these windows last ([1, 1]: no).
    pub pool: [usize; 2],
}

impl ConvSpec {
    pub fn fused(&self) -> Fused {
        Fused {
            relu: self.relu,
            up: self.up,
            pool: self.pool,
        }
    }
}

/// A batch norm's settings besides its tensors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormSpec {
    pub epsilon: f64,
    /// Apply a ReLU to the output (and mask the gradient by it).
    pub relu: bool,
}

#[backend_extension(Flex, Autodiff)]
pub trait EngineBackend: Backend {
    /// `act(conv(x, weight) + bias)`. A layer without a bias passes zeros.
    fn engine_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self>;
    /// Max over `factor[0] × factor[1]` windows of the last two axes.
    fn engine_max_pool(x: FloatTensor<Self>, factor: [usize; 2]) -> FloatTensor<Self>;
    /// Nearest-neighbour upsampling of the last two axes.
    fn engine_upsample(x: FloatTensor<Self>, factor: [usize; 2]) -> FloatTensor<Self>;
    /// Training-mode batch norm over axis 1 (then the ReLU when asked):
    /// the output, and the batch's mean and biased variance.
    fn engine_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        spec: NormSpec,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

fn norm_geom(x: &FlexTensor) -> NormGeom {
    let s = x.shape();
    NormGeom {
        batch: s[0],
        channels: s[1],
        plane: s.num_elements() / (s[0] * s[1]).max(1),
    }
}

fn norm_forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    spec: &NormSpec,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let g = norm_geom(x);
    let out = norm::forward(
        &values(x),
        &values(gamma),
        &values(beta),
        &g,
        spec.epsilon,
        spec.relu,
    );
    (
        tensor(out.y, x.shape().to_vec()),
        tensor(out.mean, vec![g.channels]),
        tensor(out.var, vec![g.channels]),
    )
}

/// A tensor's values, contiguous (a copy only when the layout is strided).
fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(
            t.to_contiguous()
                .as_slice::<f32>()
                .expect("contiguous")
                .to_vec(),
        ),
    }
}

fn tensor(v: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape))
}

/// The input as `[n, c, h, w]` (a 1-D input has `h = 1`).
fn dims4(shape: &Shape) -> [usize; 4] {
    match shape.num_dims() {
        3 => [shape[0], shape[1], 1, shape[2]],
        4 => [shape[0], shape[1], shape[2], shape[3]],
        d => panic!("engine: a {d}-D input; expected 3-D or 4-D"),
    }
}

/// The convolution's geometry: on the upsampled input when fused.
fn geom(x: &FlexTensor, w: &FlexTensor, spec: &ConvSpec) -> ConvGeom {
    let [n, cin, h, wd] = dims4(&x.shape());
    let cout = w.shape()[0];
    let size = [h * spec.up[0], wd * spec.up[1]];
    ConvGeom::new(
        [n, cin, size[0], size[1]],
        cout,
        spec.kernel,
        spec.stride,
        spec.padding,
    )
    .expect("engine: the dispatcher checked the geometry")
}

fn out_shape(x: &FlexTensor, g: &ConvGeom, spec: &ConvSpec) -> Vec<usize> {
    let (oh, ow) = (g.oh / spec.pool[0], g.ow / spec.pool[1]);
    if x.shape().num_dims() == 3 {
        vec![g.batch, g.cout, ow]
    } else {
        vec![g.batch, g.cout, oh, ow]
    }
}

fn plane_geom(x: &FlexTensor, factor: [usize; 2]) -> PlaneGeom {
    let [n, c, h, w] = dims4(&x.shape());
    PlaneGeom {
        planes: n * c,
        h,
        w,
        fh: factor[0],
        fw: factor[1],
    }
}

fn with_last2(x: &FlexTensor, h: usize, w: usize) -> Vec<usize> {
    let s = x.shape();
    if s.num_dims() == 3 {
        vec![s[0], s[1], w]
    } else {
        vec![s[0], s[1], h, w]
    }
}

fn conv_forward(
    x: &FlexTensor,
    w: &FlexTensor,
    b: &FlexTensor,
    spec: &ConvSpec,
) -> (FlexTensor, Vec<u8>) {
    let g = geom(x, w, spec);
    let out = conv::forward(&values(x), &values(w), Some(&values(b)), &g, &spec.fused());
    (tensor(out.y, out_shape(x, &g, spec)), out.argmax)
}

fn pool_forward(x: &FlexTensor, factor: [usize; 2]) -> FlexTensor {
    let g = plane_geom(x, factor);
    let (oh, ow) = g.pooled();
    tensor(pool::max_pool(&values(x), &g), with_last2(x, oh, ow))
}

fn upsample_forward(x: &FlexTensor, factor: [usize; 2]) -> FlexTensor {
    let g = plane_geom(x, factor);
    let (uh, uw) = g.upsampled();
    tensor(pool::upsample(&values(x), &g), with_last2(x, uh, uw))
}

impl EngineBackend for Flex {
    fn engine_conv(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        spec: ConvSpec,
    ) -> FlexTensor {
        conv_forward(&x, &weight, &bias, &spec).0
    }

    fn engine_max_pool(x: FlexTensor, factor: [usize; 2]) -> FlexTensor {
        pool_forward(&x, factor)
    }

    fn engine_upsample(x: FlexTensor, factor: [usize; 2]) -> FlexTensor {
        upsample_forward(&x, factor)
    }

    fn engine_batch_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        spec: NormSpec,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        norm_forward(&x, &gamma, &beta, &spec)
    }
}

/// What the batch norm's backward step keeps.
#[derive(Debug, Clone)]
struct NormState {
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    var: FlexTensor,
    /// The output, when the ReLU is fused.
    y: Option<FlexTensor>,
    spec: NormSpec,
}

#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    type State = NormState;

    fn backward(self, ops: Ops<NormState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_g, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let s = ops.state;
        let g = norm_geom(&s.x);
        let y = s.y.as_ref().map(values);
        let got = norm::backward(
            &values(&s.x),
            &values(&s.gamma),
            &values(&s.mean),
            &values(&s.var),
            y.as_deref(),
            &values(&dy),
            &g,
            s.spec.epsilon,
        );
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(got.x, s.x.shape().to_vec()));
        }
        if let Some(node) = node_g {
            grads.register::<Flex>(node.id, tensor(got.gamma, vec![g.channels]));
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, tensor(got.beta, vec![g.channels]));
        }
    }
}

/// What the convolution's backward step keeps from the forward pass.
#[derive(Debug, Clone)]
struct ConvState {
    x: FlexTensor,
    w: FlexTensor,
    /// The output, when the ReLU is fused: its zeros mask the gradient.
    y: Option<FlexTensor>,
    /// The fused pool's argmax (empty without one).
    argmax: Arc<Vec<u8>>,
    spec: ConvSpec,
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let s = ops.state;
        let g = geom(&s.x, &s.w, &s.spec);
        let wanted = Wanted {
            x: node_x.is_some(),
            w: node_w.is_some(),
            bias: node_b.is_some(),
        };
        let y = s.y.as_ref().map(values);
        let (xv, wv) = (values(&s.x), values(&s.w));
        let saved = Saved {
            x: &xv,
            w: &wv,
            y: y.as_deref(),
            argmax: &s.argmax,
        };
        let got = conv::backward(saved, &values(&dy), &g, &s.spec.fused(), wanted);
        if let (Some(node), Some(v)) = (node_x, got.x) {
            grads.register::<Flex>(node.id, tensor(v, s.x.shape().to_vec()));
        }
        if let (Some(node), Some(v)) = (node_w, got.w) {
            grads.register::<Flex>(node.id, tensor(v, s.w.shape().to_vec()));
        }
        if let (Some(node), Some(v)) = (node_b, got.bias) {
            grads.register::<Flex>(node.id, tensor(v, vec![g.cout]));
        }
    }
}

#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    /// The input and the factor.
    type State = (FlexTensor, [usize; 2]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, factor) = ops.state;
        if let Some(node) = node {
            let g = plane_geom(&x, factor);
            let dx = pool::max_pool_backward(&values(&x), &values(&dy), &g);
            grads.register::<Flex>(node.id, tensor(dx, x.shape().to_vec()));
        }
    }
}

#[derive(Debug)]
struct UpsampleBackward;

impl Backward<Flex, 1> for UpsampleBackward {
    /// The input's shape and the factor.
    type State = (Vec<usize>, [usize; 2]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (shape, factor) = ops.state;
        if let Some(node) = node {
            let dims = dims4(&Shape::from(shape.clone()));
            let g = PlaneGeom {
                planes: dims[0] * dims[1],
                h: dims[2],
                w: dims[3],
                fh: factor[0],
                fw: factor[1],
            };
            let dx = pool::upsample_backward(&values(&dy), &g);
            grads.register::<Flex>(node.id, tensor(dx, shape));
        }
    }
}

impl<C: CheckpointStrategy> EngineBackend for Autodiff<Flex, C> {
    fn engine_conv(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self> {
        let prep = ConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful();
        let (xp, wp, bp) = (x.primitive(), weight.primitive(), bias.primitive());
        let (y, argmax) = conv_forward(xp, wp, bp, &spec);
        match prep {
            OpsKind::Tracked(prep) => {
                let state = ConvState {
                    x: xp.clone(),
                    w: wp.clone(),
                    y: spec.relu.then(|| y.clone()),
                    argmax: Arc::new(argmax),
                    spec,
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn engine_max_pool(x: FloatTensor<Self>, factor: [usize; 2]) -> FloatTensor<Self> {
        let prep = PoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful();
        let y = pool_forward(x.primitive(), factor);
        match prep {
            OpsKind::Tracked(prep) => prep.finish((x.primitive().clone(), factor), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn engine_upsample(x: FloatTensor<Self>, factor: [usize; 2]) -> FloatTensor<Self> {
        let prep = UpsampleBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful();
        let y = upsample_forward(x.primitive(), factor);
        match prep {
            OpsKind::Tracked(prep) => prep.finish((x.primitive().shape().to_vec(), factor), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn engine_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        spec: NormSpec,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let prep = NormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (y, mean, var) =
            norm_forward(x.primitive(), gamma.primitive(), beta.primitive(), &spec);
        let stats = |t: FlexTensor| <Self as AutodiffBackend>::from_inner(t);
        let out = match prep {
            OpsKind::Tracked(prep) => {
                let state = NormState {
                    x: x.primitive().clone(),
                    gamma: gamma.primitive().clone(),
                    mean: mean.clone(),
                    var: var.clone(),
                    y: spec.relu.then(|| y.clone()),
                    spec,
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (out, stats(mean), stats(var))
    }
}
