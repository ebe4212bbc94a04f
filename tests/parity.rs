//! Native side of the browser parity test: the committed fixture
//! `tests/fixtures/parity.json` must be what the native CPU backends
//! compute. `tests/web.rs` checks the browser against the same fixture.
//! Regenerate it after retraining with `AELAB_BLESS=1 cargo test --test parity`.

#[path = "common/parity.rs"]
mod parity;

use aelab::data::{assets_dir, load_mnist, Split};
use aelab::platform::{block_on, CpuBackend};
use parity::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/parity.json");

#[test]
fn native_backends_reproduce_the_parity_fixture() {
    let test = load_mnist(&assets_dir().join("mnist"), Split::Test).unwrap();
    let indices = vec![0, 1, 2, 3];
    let clean = test.batch_f32(&indices);
    let got = block_on(compute(&indices, &clean, &CpuBackend::Flex.device())).unwrap();
    if std::env::var_os("AELAB_BLESS").is_some() {
        std::fs::write(FIXTURE, serde_json::to_string(&got).unwrap()).unwrap();
    }
    let want: Parity = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    assert_eq!(want.indices, indices);
    assert_eq!(want.clean, clean, "the fixture's inputs are MNIST's");
    // The denoised digits are still recognised: the fixture is meaningful.
    for (k, &i) in indices.iter().enumerate() {
        let p = &want.probabilities[(3 * k + 2) * 10..(3 * k + 3) * 10];
        assert_eq!(aelab::metrics::argmax(p), test.labels[i] as usize);
    }
    for backend in [CpuBackend::Flex, CpuBackend::NdArray] {
        let got = block_on(compute(&indices, &clean, &backend.device())).unwrap();
        let dd = max_diff(&got.denoised, &want.denoised);
        let dp = max_diff(&got.probabilities, &want.probabilities);
        assert!(dd <= 1e-5 && dp <= 1e-5, "{backend:?}: {dd} {dp}");
    }
}

/// The shipped denoiser and classifier on `--backend wgpu` (natively, on
/// the system's Vulkan; Mesa's lavapipe in CI) against the same fixture,
/// within the GPU tolerance the browser's WebGPU gets.
#[cfg(feature = "wgpu")]
#[test]
fn wgpu_reproduces_the_parity_fixture() {
    use aelab::platform::NativeBackend;
    let want: Parity = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    let device = NativeBackend::parse("wgpu")
        .unwrap()
        .device()
        .unwrap_or_else(|e| {
            panic!("{e}: install Mesa's Vulkan driver (Debian: mesa-vulkan-drivers)")
        });
    let got = block_on(compute(&want.indices, &want.clean, &device)).unwrap();
    let dd = max_diff(&got.denoised, &want.denoised);
    let dp = max_diff(&got.probabilities, &want.probabilities);
    assert!(
        dd <= TOLERANCE_GPU && dp <= TOLERANCE_GPU,
        "wgpu: denoised pixels differ by {dd}, probabilities by {dp}"
    );
}
