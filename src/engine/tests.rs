//! The engine against burn's own ops on Flex: forward passes and every
//! gradient, on random shapes (batch 1–17, channels 1–64, sizes 3–28,
//! kernels 1, 3 and 5, 1-D and 2-D, with and without the fused ReLU).
//!
//! A ReLU makes a comparison fragile: a pre-activation within rounding of
//! zero may be positive on one side and negative on the other, and then a
//! whole term of the input gradient differs. So the convolution tests use
//! inputs, weights and biases on a grid of powers of two on which every
//! product and sum is exact, whatever the order, and which never sums to
//! zero; the batch-norm test, whose outputs cannot be exact, gives burn's
//! side the engine's ReLU mask and checks that the two masks differ only
//! where burn's pre-activation is within rounding of zero.

use super::*;
use crate::rng::Rng;
use burn::nn::conv::{Conv1dConfig, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::Distribution;

/// Relative tolerance of the comparisons: both sides sum the same products
/// in float32, in different orders.
const TOL: f32 = 2e-4;

fn device() -> Device {
    Device::flex().autodiff()
}

fn assert_close<const D: usize>(what: &str, got: Tensor<D>, want: Tensor<D>) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let g: Vec<f32> = got.into_data().try_into_vec_as::<f32>().unwrap();
    let w: Vec<f32> = want.into_data().try_into_vec_as::<f32>().unwrap();
    let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= TOL * scale,
            "{what}: element {i}: engine {a} vs burn {b} (scale {scale})"
        );
    }
}

/// A tensor of `dims` with values `offset + step · {-4, …, 4}`.
fn grid<const D: usize>(
    dims: [usize; D],
    step: f32,
    offset: f32,
    rng: &mut Rng,
    device: &Device,
) -> Tensor<D> {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| offset + step * (rng.below(9) as f32 - 4.0))
        .collect();
    Tensor::from_data(TensorData::new(v, dims), device)
}

/// Inputs on a grid of 1/8 in [-0.5, 0.5].
fn grid_input<const D: usize>(dims: [usize; D], rng: &mut Rng, device: &Device) -> Tensor<D> {
    grid(dims, 1.0 / 8.0, 0.0, rng, device)
}

/// Weights on a grid of 1/16 and biases on one of 1/128 shifted by 1/256:
/// every product with a grid input is a multiple of 1/128, every sum of up
/// to 64·25 of them is exact in f32, and with the bias it is never zero.
fn on_grid<const D: usize>(
    weight: &mut burn::module::Param<Tensor<D>>,
    bias: Option<&mut burn::module::Param<Tensor<1>>>,
    rng: &mut Rng,
) {
    let dev = weight.val().device();
    *weight =
        burn::module::Param::from_tensor(grid(weight.val().dims(), 1.0 / 16.0, 0.0, rng, &dev));
    if let Some(b) = bias {
        *b = burn::module::Param::from_tensor(grid(
            b.val().dims(),
            1.0 / 128.0,
            1.0 / 256.0,
            rng,
            &dev,
        ));
    }
}

/// A fixed pseudo-random tensor of `dims`, the same for both runs.
fn cotangent<const D: usize>(dims: [usize; D], device: &Device) -> Tensor<D> {
    let mut rng = Rng::new(99);
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
    Tensor::from_data(TensorData::new(v, dims), device)
}

type ParamGrads<'a> = Option<&'a dyn Fn(&burn::tensor::Gradients) -> Vec<Vec<f32>>>;

/// Runs `f` with the engine's kernels and with burn's, and returns for each
/// the output, the gradient of `sum(y · r)` for the input and, through
/// `params`, for the layer's parameters.
fn both<const D: usize, const N: usize>(
    x: &Tensor<N>,
    f: impl Fn(Tensor<N>) -> Tensor<D>,
    params: ParamGrads,
) -> [(Tensor<D>, Tensor<N>, Vec<Vec<f32>>); 2] {
    [Kernels::Engine, Kernels::Burn].map(|k| {
        with_kernels(k, || {
            let x = x.clone().detach().require_grad();
            let y = f(x.clone());
            let r = cotangent(y.dims(), &y.device());
            let grads = (y.clone() * r).sum().backward();
            let gx = x.grad(&grads).expect("input gradient");
            let gw = params.map(|p| p(&grads)).unwrap_or_default();
            (y.detach(), gx, gw)
        })
    })
}

#[test]
fn conv2d_and_its_gradients_match_burn_on_random_shapes() {
    let dev = device();
    let mut rng = Rng::new(17);
    for case in 0..24 {
        let n = 1 + rng.below(17);
        let cin = [1, 2, 3, 8, 16, 32, 64][rng.below(7)];
        let cout = [1, 4, 16, 32, 64][rng.below(5)];
        let k = [1, 3, 5][rng.below(3)];
        let size = (3 + rng.below(26)).max(k);
        let relu = rng.below(2) == 1;
        let mut layer = Conv2dConfig::new([cin, cout], [k, k])
            .with_padding(PaddingConfig2d::Same)
            .init(&dev);
        on_grid(&mut layer.weight, layer.bias.as_mut(), &mut rng);
        let x = grid_input([n, cin, size, size], &mut rng, &dev);
        let act = if relu { Act::Relu } else { Act::Linear };
        let wgrads = |g: &burn::tensor::Gradients| {
            let w = layer.weight.grad(g).expect("weight gradient");
            let b = layer.bias.as_ref().unwrap().grad(g).expect("bias gradient");
            vec![
                w.into_data().try_into_vec_as::<f32>().unwrap(),
                b.into_data().try_into_vec_as::<f32>().unwrap(),
            ]
        };
        let [(ye, gxe, gwe), (yb, gxb, gwb)] = both(&x, |x| conv2d(&layer, x, act), Some(&wgrads));
        let what = format!("case {case}: n {n}, {cin}->{cout}, {size}x{size}, k {k}, relu {relu}");
        assert_close(&format!("{what}: output"), ye, yb);
        assert_close(&format!("{what}: input gradient"), gxe, gxb);
        for (i, (e, b)) in gwe.into_iter().zip(gwb).enumerate() {
            let len = e.len();
            assert_close(
                &format!("{what}: parameter gradient {i}"),
                Tensor::<1>::from_data(TensorData::new(e, [len]), &Device::flex()),
                Tensor::<1>::from_data(TensorData::new(b, [len]), &Device::flex()),
            );
        }
    }
}

#[test]
fn conv1d_with_strides_and_its_gradients_match_burn() {
    let dev = device();
    let mut rng = Rng::new(5);
    for case in 0..16 {
        let n = 1 + rng.below(17);
        let cin = [1, 2, 8, 32][rng.below(4)];
        let cout = [1, 8, 16, 32][rng.below(4)];
        let k = [1, 3, 5, 7][rng.below(4)];
        let stride = 1 + rng.below(2);
        let len = (3 + rng.below(140)).max(k);
        let pad = if rng.below(2) == 0 {
            PaddingConfig1d::Explicit(k / 2, k / 2)
        } else {
            PaddingConfig1d::Same
        };
        let layer = Conv1dConfig::new(cin, cout, k)
            .with_stride(stride)
            .with_padding(pad.clone())
            .init(&dev);
        let mut layer = layer;
        on_grid(&mut layer.weight, layer.bias.as_mut(), &mut rng);
        let act = if rng.below(2) == 0 {
            Act::Relu
        } else {
            Act::Linear
        };
        let x = grid_input([n, cin, len], &mut rng, &dev);
        let wgrads = |g: &burn::tensor::Gradients| {
            let w = layer.weight.grad(g).expect("weight gradient");
            vec![w.into_data().try_into_vec_as::<f32>().unwrap()]
        };
        let [(ye, gxe, gwe), (yb, gxb, gwb)] = both(&x, |x| conv1d(&layer, x, act), Some(&wgrads));
        let what = format!(
            "case {case}: n {n}, {cin}->{cout}, l {len}, k {k}, stride {stride}, {pad:?}, {act:?}"
        );
        assert_close(&format!("{what}: output"), ye, yb);
        assert_close(&format!("{what}: input gradient"), gxe, gxb);
        let l = gwe[0].len();
        assert_close(
            &format!("{what}: weight gradient"),
            Tensor::<1>::from_data(TensorData::new(gwe[0].clone(), [l]), &Device::flex()),
            Tensor::<1>::from_data(TensorData::new(gwb[0].clone(), [l]), &Device::flex()),
        );
    }
}

#[test]
fn fused_pool_and_upsample_convolutions_match_burn() {
    let dev = device();
    let mut rng = Rng::new(23);
    let pool = MaxPool2dConfig::new([2, 2]).init();
    for case in 0..16 {
        let n = 1 + rng.below(17);
        let cin = [1, 3, 16, 32][rng.below(4)];
        let cout = [1, 2, 8, 32][rng.below(4)];
        let k = [1, 3, 5][rng.below(3)];
        let size = [4, 7, 14, 9][rng.below(4)];
        let act = if rng.below(2) == 0 {
            Act::Relu
        } else {
            Act::Linear
        };
        let mut layer = Conv2dConfig::new([cin, cout], [k, k])
            .with_padding(PaddingConfig2d::Same)
            .init(&dev);
        on_grid(&mut layer.weight, layer.bias.as_mut(), &mut rng);
        let x = grid_input([n, cin, size, size], &mut rng, &dev);
        let wgrads = |g: &burn::tensor::Gradients| {
            let w = layer.weight.grad(g).expect("weight gradient");
            let b = layer.bias.as_ref().unwrap().grad(g).expect("bias gradient");
            vec![
                w.into_data().try_into_vec_as::<f32>().unwrap(),
                b.into_data().try_into_vec_as::<f32>().unwrap(),
            ]
        };
        let up = rng.below(2) == 0;
        let what = format!(
            "case {case}: n {n}, {cin}->{cout}, {size}x{size}, k {k}, {act:?}, {}",
            if up { "upsample first" } else { "pool after" }
        );
        let f = |x| {
            if up {
                upsample_conv2d(&layer, x, act)
            } else {
                conv2d_pool(&layer, &pool, x, act)
            }
        };
        let [(ye, gxe, gwe), (yb, gxb, gwb)] = both(&x, f, Some(&wgrads));
        assert_close(&format!("{what}: output"), ye, yb);
        assert_close(&format!("{what}: input gradient"), gxe, gxb);
        for (i, (e, b)) in gwe.into_iter().zip(gwb).enumerate() {
            let len = e.len();
            assert_close(
                &format!("{what}: parameter gradient {i}"),
                Tensor::<1>::from_data(TensorData::new(e, [len]), &Device::flex()),
                Tensor::<1>::from_data(TensorData::new(b, [len]), &Device::flex()),
            );
        }
    }
}

#[test]
fn pooling_and_upsampling_match_burn() {
    let dev = device();
    let pool = MaxPool2dConfig::new([2, 2]).init();
    for &(n, c, h, w) in &[(1, 1, 4, 4), (3, 5, 28, 28), (17, 2, 7, 9), (2, 64, 14, 14)] {
        let x = Tensor::<4>::random([n, c, h, w], Distribution::Default, &dev);
        let [(ye, ge, _), (yb, gb, _)] = both(&x, |x| max_pool2d(&pool, x), None);
        assert_close("max pool", ye, yb);
        assert_close("max pool gradient", ge, gb);
        let [(ye, ge, _), (yb, gb, _)] = both(&x, upsample2, None);
        assert_close("upsample", ye, yb);
        assert_close("upsample gradient", ge, gb);
    }
    let x = Tensor::<3>::random([3, 4, 35], Distribution::Default, &dev);
    let [(ye, ge, _), (yb, gb, _)] = both(&x, upsample1, None);
    assert_close("upsample 1-D", ye, yb);
    assert_close("upsample 1-D gradient", ge, gb);
}

#[test]
fn the_engine_runs_only_on_flex_devices() {
    assert!(is_engine_device(&Device::flex()));
    assert!(is_engine_device(&Device::flex().autodiff()));
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)]
    {
        assert!(!is_engine_device(&Device::ndarray()));
        // On NdArray burn's ops run, and give burn's results.
        let dev = Device::ndarray();
        let layer = Conv2dConfig::new([2, 3], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(&dev);
        let x = Tensor::<4>::random([2, 2, 5, 5], Distribution::Default, &dev);
        let a = conv2d(&layer, x.clone(), Act::Relu);
        let b = relu(layer.forward(x));
        assert_close("ndarray", a, b);
    }
}

#[test]
fn kernels_parse_from_their_names() {
    for k in [Kernels::Engine, Kernels::Burn] {
        assert_eq!(Kernels::parse(k.name()), Ok(k));
    }
    assert!(Kernels::parse("fast")
        .unwrap_err()
        .contains("expected 'engine' or 'burn'"));
    assert_eq!(with_kernels(Kernels::Burn, kernels), Kernels::Burn);
    assert_eq!(kernels(), Kernels::Engine);
}

#[test]
fn batch_norm_in_training_matches_burn_with_its_running_statistics() {
    use burn::nn::BatchNormConfig;
    let dev = device();
    for &(n, c, h, act) in &[
        (2, 3, 5, Act::Relu),
        (17, 8, 7, Act::Linear),
        (4, 32, 14, Act::Relu),
    ] {
        let layers = [0, 1].map(|_| BatchNormConfig::new(c).init(&dev));
        let x = Tensor::<4>::random([n, c, h, h], Distribution::Normal(0.5, 2.0), &dev);
        let run = |k: Kernels, layer: &BatchNorm, mask: Option<&Tensor<4>>| {
            with_kernels(k, || {
                let x = x.clone().detach().require_grad();
                // Burn's side applies the engine's ReLU mask (see the top).
                let y = match mask {
                    Some(m) => batch_norm(layer, x.clone(), Act::Linear) * m.clone(),
                    None => batch_norm(layer, x.clone(), act),
                };
                let r = cotangent(y.dims(), &y.device());
                let grads = (y.clone() * r).sum().backward();
                let gx = x.grad(&grads).expect("input gradient");
                let gg = layer.gamma.grad(&grads).expect("gamma gradient");
                let gb = layer.beta.grad(&grads).expect("beta gradient");
                (y.detach(), gx, vec![gg, gb])
            })
        };
        let (ye, gxe, gwe) = run(Kernels::Engine, &layers[0], None);
        let mask = (act == Act::Relu).then(|| ye.clone().greater_elem(0.0).float());
        let what = format!("n {n}, c {c}, {h}x{h}, {act:?}");
        if let Some(m) = &mask {
            let z = with_kernels(Kernels::Burn, || {
                batch_norm(&BatchNormConfig::new(c).init(&dev), x.clone(), Act::Linear)
            });
            let zb: Vec<f32> = z.clone().into_data().try_into_vec_as::<f32>().unwrap();
            let me: Vec<f32> = m.clone().into_data().try_into_vec_as::<f32>().unwrap();
            let scale = zb.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            for (i, (z, m)) in zb.iter().zip(&me).enumerate() {
                assert!(
                    (*z > 0.0) == (*m > 0.5) || z.abs() <= TOL * scale,
                    "{what}: ReLU mask differs at {i} where burn's pre-activation is {z}"
                );
            }
        }
        let (yb, gxb, gwb) = run(Kernels::Burn, &layers[1], mask.as_ref());
        let what = format!("n {n}, c {c}, {h}x{h}, {act:?}");
        assert_close(&format!("{what}: output"), ye, yb);
        assert_close(&format!("{what}: input gradient"), gxe, gxb);
        for (e, b) in gwe.into_iter().zip(gwb) {
            assert_close(&format!("{what}: gamma/beta gradient"), e, b);
        }
        assert_close(
            &format!("{what}: running mean"),
            layers[0].running_mean.value(),
            layers[1].running_mean.value(),
        );
        assert_close(
            &format!("{what}: running variance"),
            layers[0].running_var.value(),
            layers[1].running_var.value(),
        );
    }
}
