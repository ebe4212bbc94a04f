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
use aelab::models::DenoiserConfig;
use aelab::platform::CpuBackend;
use aelab::training::{read_scalar, Event, Schedule, Task, TrainConfig, Trainer};
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
    };
    let model = DenoiserConfig::canonical().with_width(4).init(&device);
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
    let mut lab = aelab::web::Lab::create("flex".into()).await.unwrap();
    assert_eq!(lab.backend(), "flex");
    assert!(lab.load_denoiser(b"not a weights file").is_err());
    assert!(lab.load_denoiser(&DENOISER[..DENOISER.len() / 2]).is_err());
    assert!(
        lab.load_denoiser(CLASSIFIER).is_err(),
        "a classifier is not a denoiser"
    );
    lab.load_denoiser(DENOISER).unwrap();
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
