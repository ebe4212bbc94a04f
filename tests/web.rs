//! In-browser tests, run in headless Chromium by wasm-bindgen-test-runner
//! (`scripts/test-web.sh`): the models give the native results, and one
//! training step lowers the loss on every backend the page has: WebGPU and
//! Flex (the page is built without NdArray; natively, tests/parity.rs and
//! tests/training.rs cover it).
#![cfg(target_arch = "wasm32")]

#[path = "common/parity.rs"]
mod parity;

use aelab::data::{Mnist, PIXELS};
use aelab::labs::denoise::{DenoiseTask, NoiseSpec};
use aelab::models::spec::presets;
use aelab::models::{DenoiserConfig, Net};
use aelab::platform::CpuBackend;
use aelab::training::{read_scalar, Event, Loss, Schedule, Task, TrainConfig, Trainer};
use burn::tensor::Device;
use parity::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

static FIXTURE: &str = include_str!("fixtures/parity.json");

async fn webgpu() -> Device {
    aelab::platform::webgpu_device()
        .await
        .expect("no WebGPU adapter: run Chromium with --enable-unsafe-webgpu (webdriver.json)")
}

async fn check_parity(device: &Device, tolerance: f32, name: &str) {
    let want: Parity = serde_json::from_str(FIXTURE).unwrap();
    let got = compute(&want.indices, &want.clean, device).await.unwrap();
    let dd = max_diff(&got.denoised, &want.denoised);
    let dp = max_diff(&got.probabilities, &want.probabilities);
    web_sys::console::log_1(
        &format!("parity {name}: denoised {dd:e}, probabilities {dp:e}").into(),
    );
    assert!(dd <= tolerance, "{name}: denoised pixels differ by {dd}");
    assert!(dp <= tolerance, "{name}: probabilities differ by {dp}");
}

#[wasm_bindgen_test]
async fn flex_in_the_browser_matches_native() {
    check_parity(&CpuBackend::Flex.device(), TOLERANCE_CPU, "flex").await;
}

/// The message of an error the page API returned (a JS `Error`).
fn message(e: wasm_bindgen::JsValue) -> String {
    use wasm_bindgen::JsCast;
    e.dyn_into::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|e| format!("{e:?}"))
}

/// The page is built without NdArray (16x slower than Flex in wasm): it
/// offers Flex, and asking for NdArray is an error that says so.
#[wasm_bindgen_test]
async fn the_page_build_offers_flex_and_explains_that_ndarray_is_left_out() {
    assert_eq!(aelab::web::cpu_backends(), vec!["flex".to_string()]);
    let err = match aelab::web::Lab::create("ndarray".into()).await {
        Ok(_) => panic!("the page build has no NdArray backend"),
        Err(e) => message(e),
    };
    assert!(err.contains("not part of this build"), "{err}");
    let err = match aelab::web::Lab::create("tpu".into()).await {
        Ok(_) => panic!("there is no 'tpu' backend"),
        Err(e) => message(e),
    };
    assert!(err.contains("expected 'flex'"), "{err}");
}

#[wasm_bindgen_test]
async fn webgpu_matches_native() {
    check_parity(&webgpu().await, TOLERANCE_GPU, "webgpu").await;
}

/// Eight crude strokes: enough for a tiny denoiser to learn something.
fn tiny_set() -> Mnist {
    let mut images = vec![0u8; 8 * PIXELS];
    for (k, img) in images.chunks_mut(PIXELS).enumerate() {
        for t in 0..18 {
            let (x, y) = (5 + t, 5 + (t * (k + 1)) % 18);
            img[y * 28 + x] = 255;
            img[y * 28 + (27 - x)] = 200;
        }
    }
    Mnist {
        images,
        labels: (0..8).collect(),
    }
}

/// The loss on the (fixed-noise) batch before and after one training step.
async fn one_step(device: Device) -> (f32, f32) {
    let set = tiny_set();
    let task = DenoiseTask {
        train: set.clone(),
        valid: set,
        noise: NoiseSpec::Fixed(0.5),
        valid_seed: 3,
        loss: Loss::Bce,
    };
    let spec = presets::denoiser(&DenoiserConfig::canonical().with_width(4));
    let model = Net::build(&spec, &device).unwrap();
    let idx: Vec<usize> = (0..8).collect();
    let before = read_scalar(task.valid_loss(&model, &idx, &device))
        .await
        .unwrap();
    let config = TrainConfig {
        epochs: 1,
        batch_size: 8,
        learning_rate: 1e-2,
        schedule: Schedule::Constant,
        seed: 5,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(task, model, config, &device).unwrap();
    assert!(matches!(trainer.step().await.unwrap(), Event::Step(_)));
    let after = match trainer.step().await.unwrap() {
        Event::EpochEnd(s) => s.valid_loss.unwrap(),
        e => panic!("expected the end of the epoch, got {e:?}"),
    };
    (before, after)
}

async fn check_step(device: Device, name: &str) {
    let (before, after) = one_step(device).await;
    web_sys::console::log_1(&format!("{name}: loss {before} -> {after}").into());
    assert!(before.is_finite() && after.is_finite());
    assert!(
        after < before,
        "{name}: one step did not lower the loss: {before} -> {after}"
    );
}

#[wasm_bindgen_test]
async fn one_training_step_lowers_the_loss_on_webgpu() {
    check_step(webgpu().await, "webgpu").await;
}

#[wasm_bindgen_test]
async fn one_training_step_lowers_the_loss_on_flex() {
    check_step(CpuBackend::Flex.device(), "flex").await;
}

#[wasm_bindgen_test]
async fn the_page_api_reports_bad_weights_and_preprocesses_drawings() {
    let lab = aelab::web::Lab::create("flex".into()).await.unwrap();
    assert_eq!(lab.backend(), "flex");
    let den = lab.denoise();
    assert!(den.load(b"not a weights file").is_err());
    assert!(den.load(&DENOISER[..DENOISER.len() / 2]).is_err());
    assert!(
        den.load(CLASSIFIER).is_err(),
        "a classifier is not a denoiser"
    );
    den.load(DENOISER).unwrap();
    assert_eq!(aelab::web::weights_kind(CLASSIFIER).unwrap(), "classifier");
    assert!(aelab::web::preprocess(&[0.0; 100], 10, 10).is_none());
    let mut pad = vec![0f32; 280 * 280];
    for y in 40..240 {
        for x in 130..150 {
            pad[y * 280 + x] = 1.0;
        }
    }
    let img = aelab::web::preprocess(&pad, 280, 280).unwrap().to_vec();
    assert_eq!(img.len(), PIXELS);
    assert!(img.iter().any(|&v| v > 0.9));
}

/// Output and gradients of `f` on `x` with one kernel set: the output, the
/// input gradient and the gradients of `params`, all as plain values.
async fn engine_run<const D: usize>(
    kernels: aelab::engine::Kernels,
    x: &burn::tensor::Tensor<4>,
    f: &dyn Fn(burn::tensor::Tensor<4>) -> burn::tensor::Tensor<D>,
    params: &dyn Fn(&burn::tensor::Gradients) -> Vec<burn::tensor::Tensor<1>>,
) -> Vec<Vec<f32>> {
    use aelab::infer::read_f32;
    let (y, gx, gp) = aelab::engine::with_kernels(kernels, || {
        let x = x.clone().detach().require_grad();
        let y = f(x.clone());
        let n: usize = y.dims().iter().product();
        let r: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let r = burn::tensor::Tensor::<1>::from_floats(r.as_slice(), &y.device()).reshape(y.dims());
        let grads = (y.clone() * r).sum().backward();
        (y.detach(), x.grad(&grads).unwrap(), params(&grads))
    });
    let mut out = vec![read_f32(y).await.unwrap(), read_f32(gx).await.unwrap()];
    for p in gp {
        out.push(read_f32(p).await.unwrap());
    }
    out
}

/// The engine's kernels (wasm, simd128, one thread) against burn's own ops
/// on Flex in the browser: convolutions plain and fused with the pool or
/// the upsampling, a strided 1-D convolution and a training batch norm.
#[wasm_bindgen_test]
async fn the_engine_matches_burns_ops_in_the_browser() {
    use aelab::engine::{self, Act, Kernels};
    use burn::module::Param;
    use burn::nn::conv::{Conv1dConfig, Conv2dConfig};
    use burn::nn::pool::MaxPool2dConfig;
    use burn::nn::{BatchNormConfig, PaddingConfig1d, PaddingConfig2d};
    use burn::tensor::{Distribution, Tensor};
    let dev = CpuBackend::Flex.device().autodiff();
    // Inputs, weights and biases on a grid of powers of two, where every sum
    // is exact in f32 whatever its order and never zero: both sides then
    // agree on every ReLU mask (random values may land within rounding of
    // zero and be rectified on one side only; src/engine/tests.rs).
    let mut rng = aelab::rng::Rng::new(3);
    let mut grid = |dims: Vec<usize>, step: f32, offset: f32| {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| offset + step * (rng.below(9) as f32 - 4.0))
            .collect();
        burn::tensor::TensorData::new(v, dims)
    };
    let pool = MaxPool2dConfig::new([2, 2]).init();
    let mut conv = |cin: usize, cout: usize, k: usize| {
        let mut c = Conv2dConfig::new([cin, cout], [k, k])
            .with_padding(PaddingConfig2d::Same)
            .init(&dev);
        c.weight = Param::from_tensor(Tensor::from_data(
            grid(vec![cout, cin, k, k], 1.0 / 16.0, 0.0),
            &dev,
        ));
        c.bias = Some(Param::from_tensor(Tensor::from_data(
            grid(vec![cout], 1.0 / 128.0, 1.0 / 256.0),
            &dev,
        )));
        c
    };
    let (c1, c2, c3) = (conv(1, 8, 3), conv(8, 16, 3), conv(16, 1, 5));
    let mut c1d = Conv1dConfig::new(4, 6, 7)
        .with_stride(2)
        .with_padding(PaddingConfig1d::Explicit(3, 3))
        .init(&dev);
    c1d.weight = Param::from_tensor(Tensor::from_data(
        grid(vec![6, 4, 7], 1.0 / 16.0, 0.0),
        &dev,
    ));
    c1d.bias = Some(Param::from_tensor(Tensor::from_data(
        grid(vec![6], 1.0 / 128.0, 1.0 / 256.0),
        &dev,
    )));
    let bn = [
        BatchNormConfig::new(8).init(&dev),
        BatchNormConfig::new(8).init(&dev),
    ];
    let mut input =
        |dims: [usize; 4]| Tensor::<4>::from_data(grid(dims.to_vec(), 1.0 / 8.0, 0.0), &dev);
    let x1 = input([3, 1, 14, 14]);
    let x8 = input([5, 8, 7, 7]);
    let x16 = input([2, 16, 6, 6]);
    let xs = input([3, 4, 1, 37]);
    // Batch norm's outputs cannot be exact; its fused ReLU is checked
    // natively (with burn given the engine's mask), its arithmetic here.
    let xbn = Tensor::<4>::random([5, 8, 7, 7], Distribution::Default, &dev);
    let wb = |c: &burn::nn::conv::Conv2d| {
        let (w, b) = (c.weight.clone(), c.bias.clone().unwrap());
        move |g: &burn::tensor::Gradients| {
            vec![w.grad(g).unwrap().flatten(0, 3), b.grad(g).unwrap()]
        }
    };
    let mut cases: Vec<(&str, [Vec<Vec<f32>>; 2])> = Vec::new();
    for (name, k) in [("engine", Kernels::Engine), ("burn", Kernels::Burn)] {
        let _ = name;
        let i = usize::from(k == Kernels::Burn);
        let runs = [
            engine_run(
                k,
                &x1,
                &|x| engine::conv2d_pool(&c1, &pool, x, Act::Relu),
                &wb(&c1),
            )
            .await,
            engine_run(
                k,
                &x8,
                &|x| engine::upsample_conv2d(&c2, x, Act::Relu),
                &wb(&c2),
            )
            .await,
            engine_run(k, &x16, &|x| engine::conv2d(&c3, x, Act::Linear), &wb(&c3)).await,
            engine_run(
                k,
                &xs,
                &|x| {
                    let [n, c, _, l] = x.dims();
                    engine::conv1d(&c1d, x.reshape([n, c, l]), Act::Relu)
                },
                &|g| vec![c1d.weight.grad(g).unwrap().flatten(0, 2)],
            )
            .await,
            engine_run(
                k,
                &xbn,
                &|x| engine::batch_norm(&bn[i], x, Act::Linear),
                &|g| vec![bn[i].gamma.grad(g).unwrap(), bn[i].beta.grad(g).unwrap()],
            )
            .await,
        ];
        for (j, r) in runs.into_iter().enumerate() {
            if i == 0 {
                cases.push((
                    [
                        "conv+pool",
                        "upsample+conv",
                        "conv 16->1 k5",
                        "conv1d stride 2",
                        "batch norm",
                    ][j],
                    [r, Vec::new()],
                ));
            } else {
                cases[j].1[1] = r;
            }
        }
    }
    for (name, [e, b]) in &cases {
        for (part, (ev, bv)) in e.iter().zip(b).enumerate() {
            assert_eq!(ev.len(), bv.len(), "{name}, part {part}: sizes");
            let scale = bv.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            let d = max_diff(ev, bv);
            web_sys::console::log_1(
                &format!("engine {name}, part {part}: {d:e} of {scale}").into(),
            );
            assert!(
                d <= 2e-4 * scale,
                "{name}, part {part}: engine and burn differ by {d} (scale {scale})"
            );
        }
    }
}

/// A cancelled training session rejects its next step with an Error whose
/// `kind` is "cancelled" (the page switches on it, not on the message), and
/// bad settings (a value the core refuses, or a field of the wrong type) are
/// refused as "bad-input" with a message that names them.
#[wasm_bindgen_test]
async fn a_cancelled_session_says_so_in_its_error_kind() {
    use aelab::data::idx::write_idx;
    use wasm_bindgen::JsValue;
    let object = |json: &str| js_sys::JSON::parse(json).unwrap();
    let lab = aelab::web::Lab::create("flex".into()).await.unwrap();
    let n = 40;
    let images = write_idx(&[n, 28, 28], &vec![128u8; n * 784]);
    let labels = write_idx(&[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>());
    lab.load_train_set(&images, &labels).unwrap();
    let cfg = r#"{"images": 20, "epochs": 1, "batch_size": 4, "learning_rate": 0.001,
                 "noise_min": 0.3, "noise_max": 0.9, "from_scratch": true, "kind": "canonical"}"#;
    let den = lab.denoise();
    let session = den.start_training(object(cfg)).unwrap();
    session.cancel();
    let err = wasm_bindgen_futures::JsFuture::from(session.step())
        .await
        .expect_err("a cancelled session fails its step");
    let kind = js_sys::Reflect::get(&err, &JsValue::from_str("kind")).unwrap();
    assert_eq!(kind.as_string().as_deref(), Some("cancelled"));
    for (wrong, says) in [
        (
            cfg.replace("\"noise_max\": 0.9", "\"noise_max\": 3"),
            "noise factors",
        ),
        (
            cfg.replace("\"epochs\": 1", "\"epochs\": \"one\""),
            "bad training settings",
        ),
        (
            cfg.replace("\"canonical\"", "\"unet\""),
            "bad training settings",
        ),
    ] {
        let bad = den
            .start_training(object(&wrong))
            .err()
            .unwrap_or_else(|| panic!("{wrong} is refused"));
        let kind = js_sys::Reflect::get(&bad, &JsValue::from_str("kind")).unwrap();
        assert_eq!(kind.as_string().as_deref(), Some("bad-input"), "{wrong}");
        let msg = js_sys::Reflect::get(&bad, &JsValue::from_str("message")).unwrap();
        assert!(msg.as_string().unwrap().contains(says), "{msg:?}");
    }
}

/// What the compute worker relies on: a session hands each new checkpoint
/// over once (`fresh_checkpoint`), the checkpoint denoises as a preview
/// without replacing the current denoiser, a file that is no denoiser is
/// refused and the preview stays, and the chart of a run elsewhere records
/// the session's own step events.
#[wasm_bindgen_test]
async fn a_run_hands_over_each_checkpoint_once_and_it_denoises_as_a_preview() {
    use aelab::data::idx::write_idx;
    use wasm_bindgen_futures::JsFuture;
    let lab = aelab::web::Lab::create("flex".into()).await.unwrap();
    let n = 24;
    let images = write_idx(&[n, 28, 28], &vec![90u8; n * 784]);
    let labels = write_idx(&[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>());
    lab.load_train_set(&images, &labels).unwrap();
    let den = lab.denoise();
    let cfg = r#"{"images": 16, "epochs": 1, "batch_size": 8, "learning_rate": 0.001,
                 "noise_min": 0.3, "noise_max": 0.9, "from_scratch": true, "kind": "canonical"}"#;
    let session = den
        .start_training(js_sys::JSON::parse(cfg).unwrap())
        .unwrap();
    assert!(
        session.fresh_checkpoint().is_none(),
        "no checkpoint before a step"
    );
    let mut chart = aelab::web::LossChart::new(1);
    let mut events = Vec::new();
    loop {
        let ev = JsFuture::from(session.step()).await.unwrap();
        let kind = js_sys::Reflect::get(&ev, &"kind".into())
            .unwrap()
            .as_string()
            .unwrap();
        chart.record(ev.clone());
        events.push(kind.clone());
        if kind == "finished" {
            break;
        }
    }
    assert_eq!(events, ["step", "step", "epoch", "finished"]);
    assert_eq!(chart.recorded_steps(), 2, "the chart has both steps");
    let ck = session
        .fresh_checkpoint()
        .expect("a checkpoint at the epoch's end");
    assert!(
        session.fresh_checkpoint().is_none(),
        "each checkpoint is handed over once"
    );
    // No denoiser is loaded: the preview alone denoises.
    assert!(!den.previewing());
    let at = den.set_preview(&ck.to_vec()).unwrap();
    assert_eq!(
        js_sys::Reflect::get(&at, &"epoch".into()).unwrap().as_f64(),
        Some(1.0)
    );
    assert!(den.previewing());
    let out = JsFuture::from(den.run(vec![0.5; 784]).unwrap())
        .await
        .unwrap();
    assert_eq!(js_sys::Float32Array::from(out).length(), 784);
    assert!(den.set_preview(b"not a weights file").is_err());
    assert!(den.previewing(), "a refused file leaves the preview");
    den.clear_preview();
    assert!(!den.previewing());
    assert!(
        den.run(vec![0.5; 784]).is_err(),
        "without the preview there is no denoiser"
    );
}
