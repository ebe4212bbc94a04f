//! aelab's CPU engine: convolution, max-pooling and upsampling kernels of
//! our own, with their own backward passes, under burn.
//!
//! burn-flex has a convolution forward but no convolution backward, so
//! burn's generic fallbacks ran (a col2im scatter over a buffer nine times
//! the output, and a weight-gradient GEMM of the worst shape). Here every
//! pass is a well-shaped GEMM over reused im2col buffers ([`conv`]), split
//! over the batch on the machine's threads, with bias and ReLU fused; the
//! pooling and upsampling loops ([`pool`]) are split over the planes.
//!
//! **This module is the one place that decides** which implementation runs:
//! every model calls [`conv2d`] (or its fused forms [`conv2d_pool`] and
//! [`upsample_conv2d`]), [`conv1d`], [`max_pool2d`], [`upsample2`]
//! and [`upsample1`]. On a Flex device (with or without autodiff) they run
//! the engine's kernels through a burn backend extension ([`ext`]); on any
//! other device (WebGPU, NdArray) they run burn's own ops. The parameters
//! stay burn's `Conv2d`/`Conv1d` modules, so every saved weights file loads
//! as before.

pub mod conv;
mod direct;
mod ext;
mod gemm;
pub mod norm;
pub(crate) mod par;
pub mod pool;

use burn::backend::Dispatch;
use burn::nn::conv::{Conv1d, Conv2d};
use burn::nn::pool::MaxPool2d;
use burn::nn::BatchNorm;
use burn::nn::{PaddingConfig1d, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::DType;
use std::cell::Cell;

use ext::EngineBackend;
pub use ext::{ConvSpec, NormSpec};

/// The activation fused into a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Linear,
    Relu,
}

/// Which kernels the CPU runs: the engine's (the default) or burn's own,
/// kept for comparison (`aelab bench --kernels burn`) and for the tests
/// that check one against the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    Engine,
    Burn,
}

impl Kernels {
    pub fn name(self) -> &'static str {
        match self {
            Kernels::Engine => "engine",
            Kernels::Burn => "burn",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "engine" => Ok(Kernels::Engine),
            "burn" => Ok(Kernels::Burn),
            _ => Err(format!(
                "unknown kernels '{s}': expected 'engine' or 'burn'"
            )),
        }
    }
}

thread_local! {
    // Per thread, so that tests comparing the two run side by side; the
    // models are always called from the thread that set it.
    static KERNELS: Cell<Kernels> = const { Cell::new(Kernels::Engine) };
}

/// Chooses the CPU kernels for calls made from this thread.
pub fn set_kernels(k: Kernels) {
    KERNELS.with(|c| c.set(k));
}

pub fn kernels() -> Kernels {
    KERNELS.with(|c| c.get())
}

/// Runs `f` with `k` chosen, then puts back the previous choice.
pub fn with_kernels<R>(k: Kernels, f: impl FnOnce() -> R) -> R {
    let before = kernels();
    set_kernels(k);
    let r = f();
    set_kernels(before);
    r
}

/// Whether `device` runs the engine's kernels: a Flex device, with or
/// without autodiff.
pub fn is_engine_device(device: &Device) -> bool {
    use burn::backend::DispatchDevice as D;
    match device.as_dispatch() {
        D::Flex(_) => true,
        D::Autodiff(inner) => matches!(**inner, D::Flex(_)),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

fn engine_runs<const N: usize>(x: &Tensor<N>) -> bool {
    kernels() == Kernels::Engine && x.dtype() == DType::F32 && is_engine_device(&x.device())
}

/// burn's `Same` padding: (before, after) that keeps `ceil(size / stride)`.
fn same_padding(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = if out > 0 {
        ((out - 1) * stride + kernel).saturating_sub(size)
    } else {
        0
    };
    (total / 2, total - total / 2)
}

fn apply(x: Tensor<4>, act: Act) -> Tensor<4> {
    match act {
        Act::Linear => x,
        Act::Relu => relu(x),
    }
}

/// A layer's bias, or (untracked) zeros for a layer without one.
fn bias_or_zeros(
    bias: Option<&burn::module::Param<Tensor<1>>>,
    cout: usize,
    device: &Device,
) -> Tensor<1> {
    match bias {
        Some(b) => b.val(),
        None => Tensor::zeros([cout], device),
    }
}

/// `act(layer(x))` for `x` of shape `[n, cin, h, w]`.
pub fn conv2d(layer: &Conv2d, x: Tensor<4>, act: Act) -> Tensor<4> {
    conv2d_fused(layer, x, act, false, None)
}

/// `act(layer(upsample2(x)))`, in one pass on the engine: the upsampled
/// input is never stored for the batch.
pub fn upsample_conv2d(layer: &Conv2d, x: Tensor<4>, act: Act) -> Tensor<4> {
    conv2d_fused(layer, x, act, true, None)
}

/// `pool(act(layer(x)))`, in one pass on the engine: only the pooled output
/// (and each window's argmax) is stored.
pub fn conv2d_pool(layer: &Conv2d, pool: &MaxPool2d, x: Tensor<4>, act: Act) -> Tensor<4> {
    conv2d_fused(layer, x, act, false, Some(pool))
}

/// Whether the engine's pooling kernel covers `layer`: non-overlapping
/// windows (stride = kernel), no padding or dilation, floor mode.
fn plain_pool(layer: &MaxPool2d) -> bool {
    layer.stride == layer.kernel_size
        && layer.padding == PaddingConfig2d::Valid
        && layer.dilation == [1, 1]
        && !layer.ceil_mode
        && layer.kernel_size.iter().all(|&k| (1..=16).contains(&k))
}

fn conv2d_fused(
    layer: &Conv2d,
    x: Tensor<4>,
    act: Act,
    up: bool,
    pool: Option<&MaxPool2d>,
) -> Tensor<4> {
    let fallback = |x: Tensor<4>| {
        let x = if up { upsample2(x) } else { x };
        let y = apply(layer.forward(x), act);
        match pool {
            Some(p) => max_pool2d(p, y),
            None => y,
        }
    };
    let supported = layer.groups == 1 && layer.dilation == [1, 1] && pool.is_none_or(plain_pool);
    if !(supported && engine_runs(&x)) {
        return fallback(x);
    }
    let [n, c, lh, lw] = x.dims();
    let f = if up { 2 } else { 1 };
    let (h, w) = (lh * f, lw * f);
    let [kh, kw] = layer.kernel_size;
    let [sh, sw] = layer.stride;
    let padding = match layer.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Same => [same_padding(kh, sh, h), same_padding(kw, sw, w)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
    };
    let spec = ConvSpec {
        kernel: [kh, kw],
        stride: [sh, sw],
        padding,
        relu: act == Act::Relu,
        up: [f, f],
        pool: pool.map_or([1, 1], |p| p.kernel_size),
    };
    let cout = layer.weight.dims()[0];
    let fits = conv::ConvGeom::new([n, c, h, w], cout, spec.kernel, spec.stride, padding)
        .is_some_and(|g| spec.fused().fits(&g));
    if !fits {
        // A kernel larger than the padded input, or a pool larger than the
        // output: burn's ops report it.
        return fallback(x);
    }
    let x_device = x.device();
    Tensor::from_dispatch(<Dispatch as EngineBackend>::engine_conv(
        x.into_dispatch(),
        layer.weight.val().into_dispatch(),
        bias_or_zeros(layer.bias.as_ref(), cout, &x_device).into_dispatch(),
        spec,
    ))
}

/// `act(layer(x))` for `x` of shape `[n, cin, l]`.
pub fn conv1d(layer: &Conv1d, x: Tensor<3>, act: Act) -> Tensor<3> {
    let [n, c, l] = x.dims();
    let supported = layer.groups == 1 && layer.dilation == 1;
    let fallback = |x: Tensor<3>| {
        let y = layer.forward(x);
        match act {
            Act::Linear => y,
            Act::Relu => relu(y),
        }
    };
    if !(supported && engine_runs(&x)) {
        return fallback(x);
    }
    let (k, s) = (layer.kernel_size, layer.stride);
    let pad = match layer.padding {
        PaddingConfig1d::Valid => (0, 0),
        PaddingConfig1d::Same => same_padding(k, s, l),
        PaddingConfig1d::Explicit(left, right) => (left, right),
    };
    let spec = ConvSpec {
        kernel: [1, k],
        stride: [1, s],
        padding: [(0, 0), pad],
        relu: act == Act::Relu,
        up: [1, 1],
        pool: [1, 1],
    };
    if conv::ConvGeom::new(
        [n, c, 1, l],
        layer.weight.dims()[0],
        spec.kernel,
        spec.stride,
        spec.padding,
    )
    .is_none()
    {
        return fallback(x);
    }
    let x_device = x.device();
    Tensor::from_dispatch(<Dispatch as EngineBackend>::engine_conv(
        x.into_dispatch(),
        layer.weight.val().into_dispatch(),
        bias_or_zeros(layer.bias.as_ref(), layer.weight.dims()[0], &x_device).into_dispatch(),
        spec,
    ))
}

/// `layer(x)`: max-pooling. Non-overlapping windows (stride = kernel, no
/// padding or dilation, floor mode) run the engine's kernel.
pub fn max_pool2d(layer: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    if !(plain_pool(layer) && engine_runs(&x)) {
        return layer.forward(x);
    }
    Tensor::from_dispatch(<Dispatch as EngineBackend>::engine_max_pool(
        x.into_dispatch(),
        layer.kernel_size,
    ))
}

/// `act(layer(x))`: batch norm. In training (an autodiff device and a
/// layer that trains) the engine normalises with the batch's statistics
/// and updates the running ones as burn's layer does; at inference, and off
/// the engine, burn's layer runs.
pub fn batch_norm(layer: &BatchNorm, x: Tensor<4>, act: Act) -> Tensor<4> {
    let training = x.device().is_autodiff() && layer.training.is_enabled();
    if !(training && engine_runs(&x)) {
        return apply(layer.forward(x), act);
    }
    let device = x.device();
    let spec = NormSpec {
        epsilon: layer.epsilon,
        relu: act == Act::Relu,
    };
    let (y, mean, var) = <Dispatch as EngineBackend>::engine_batch_norm(
        x.into_dispatch(),
        layer.gamma.val().into_dispatch(),
        layer.beta.val().into_dispatch(),
        spec,
    );
    let (mean, var) = (
        Tensor::<1>::from_dispatch(mean),
        Tensor::<1>::from_dispatch(var),
    );
    let m = layer.momentum;
    let running_mean = layer.running_mean.value_sync().to_device(&device);
    let running_var = layer.running_var.value_sync().to_device(&device);
    layer
        .running_mean
        .update((running_mean.mul_scalar(1.0 - m) + mean.detach().mul_scalar(m)).detach());
    layer
        .running_var
        .update((running_var.mul_scalar(1.0 - m) + var.detach().mul_scalar(m)).detach());
    Tensor::from_dispatch(y)
}

/// Nearest-neighbour upsampling by 2 in both spatial dimensions.
pub fn upsample2(x: Tensor<4>) -> Tensor<4> {
    if !engine_runs(&x) {
        // reshape and expand: differentiable on every backend.
        let [n, c, h, w] = x.dims();
        return x
            .reshape([n, c, h, 1, w, 1])
            .expand([n, c, h, 2, w, 2])
            .reshape([n, c, h * 2, w * 2]);
    }
    Tensor::from_dispatch(<Dispatch as EngineBackend>::engine_upsample(
        x.into_dispatch(),
        [2, 2],
    ))
}

/// Nearest-neighbour upsampling by 2 of a series, `[n, c, l] → [n, c, 2l]`.
pub fn upsample1(x: Tensor<3>) -> Tensor<3> {
    if !engine_runs(&x) {
        let [n, c, l] = x.dims();
        return x
            .reshape([n, c, l, 1])
            .expand([n, c, l, 2])
            .reshape([n, c, l * 2]);
    }
    Tensor::from_dispatch(<Dispatch as EngineBackend>::engine_upsample(
        x.into_dispatch(),
        [1, 2],
    ))
}

#[cfg(test)]
mod tests;
