//! Weights files: round trips, storages, and bad files.

use super::quant::*;
use super::*;
use crate::models::DenoiserKind;
use crate::models::{ClassifierConfig, DenoiserConfig};
use crate::platform::test_device;

/// The largest absolute difference between two outputs.
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn async_copy_to_another_backend_keeps_outputs_and_bytes() {
    use crate::models::{LatentAe, LatentAeConfig};
    let flex = crate::platform::CpuBackend::Flex.device();
    let cfg = LatentAeConfig::new().with_latent(3).with_width(4);
    let m: LatentAe = cfg.init(&flex);
    let nd = test_device();
    let copy = crate::platform::block_on(to_device_async(m.clone(), &nd)).unwrap();
    let x = Tensor::<4>::ones([2, 1, 28, 28], &flex);
    let a: Vec<f32> = m.forward(x).into_data().try_into_vec_as().unwrap();
    let y = Tensor::<4>::ones([2, 1, 28, 28], &nd);
    let b: Vec<f32> = copy.forward(y).into_data().try_into_vec_as().unwrap();
    // Two backends, two convolution kernels: equal up to rounding.
    let worst = max_diff(&a, &b);
    assert_eq!(a.len(), b.len());
    assert!(worst < 1e-5, "outputs differ by {worst}");
    // The file written from the copy is the file written directly.
    let direct = to_bytes(&m, &cfg, serde_json::json!({"k": 1})).unwrap();
    let async_ =
        crate::platform::block_on(to_bytes_async(&m, &cfg, serde_json::json!({"k": 1}))).unwrap();
    assert_eq!(direct, async_);
    // And it loads back into a model with the same outputs.
    let (back, _, meta) = from_bytes::<LatentAe>(&async_, &flex).unwrap();
    assert_eq!(meta["k"], 1);
    let x = Tensor::<4>::ones([2, 1, 28, 28], &flex);
    let c: Vec<f32> = back.forward(x).into_data().try_into_vec_as().unwrap();
    assert!(a == c, "the reloaded model's outputs differ");
}

#[test]
fn half_precision_files_are_half_the_size_and_load_as_f32() {
    let flex = crate::platform::CpuBackend::Flex.device();
    let cfg = ClassifierConfig::new();
    let m: Classifier = cfg.init(&flex);
    let full = to_bytes(&m, &cfg, serde_json::json!({"k": 2})).unwrap();
    let (half, name) = convert(&full, Storage::F16).unwrap();
    assert_eq!(name, "classifier");
    // Every parameter goes from 4 bytes to 2 (the header is the same;
    // the container aligns each tensor, which moves a few bytes either way).
    let saved = full.len() - half.len();
    let n = m.num_params();
    assert!(n > 400_000);
    assert!(
        (2 * n - 4096..2 * n + 4096).contains(&saved),
        "{} -> {} bytes",
        full.len(),
        half.len()
    );
    // Halving a half file again keeps its size.
    assert_eq!(convert(&half, Storage::F16).unwrap().0.len(), half.len());
    let dev = test_device();
    let (back, _, meta) = from_bytes::<Classifier>(&half, &dev).unwrap();
    assert_eq!(meta["k"], 2);
    let x = Tensor::<4>::random(
        [3, 1, 28, 28],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &flex,
    );
    let xd = Tensor::<4>::from_data(x.to_data(), &dev);
    let out = back.probabilities(xd);
    assert_eq!(out.dtype(), DType::F32);
    let a: Vec<f32> = m.probabilities(x).into_data().try_into_vec_as().unwrap();
    let b: Vec<f32> = out.into_data().try_into_vec_as().unwrap();
    let worst = max_diff(&a, &b);
    assert!(worst < 5e-3, "probabilities differ by {worst}");
    assert!(worst > 0.0, "f16 storage should round something");
    // Not an aelab file: a clear error, not a panic.
    assert_eq!(
        convert(b"nope", Storage::F16).unwrap_err(),
        WeightsError::NotAelab
    );
}

/// The classifier loaded from a quantised `file` gives logits within
/// `tol` × their largest magnitude of `m`'s (and not identical: the
/// weights were rounded), and converting the file to f32 keeps the
/// quantised values exactly.
fn quantised_is_close_and_exact_in_f32(m: &Classifier, file: &[u8], tol: f32) {
    let flex = crate::platform::CpuBackend::Flex.device();
    let dev = test_device();
    let x = Tensor::<4>::random(
        [3, 1, 28, 28],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &flex,
    );
    let logits = |c: &Classifier| -> Vec<f32> {
        let xd = Tensor::<4>::from_data(x.to_data(), &dev);
        c.forward(xd).into_data().try_into_vec_as().unwrap()
    };
    let a: Vec<f32> = m.forward(x.clone()).into_data().try_into_vec_as().unwrap();
    let (back, _, _) = from_bytes::<Classifier>(file, &dev).unwrap();
    let b = logits(&back);
    let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = max_diff(&a, &b);
    assert!(
        worst > 0.0 && worst < tol * scale,
        "logits differ by {worst} (scale {scale})"
    );
    let (f32_again, _) = convert(file, Storage::F32).unwrap();
    let (again, _, _) = from_bytes::<Classifier>(&f32_again, &dev).unwrap();
    assert_eq!(b, logits(&again));
}

#[test]
fn eight_bit_files_are_a_quarter_and_close() {
    let flex = crate::platform::CpuBackend::Flex.device();
    let cfg = ClassifierConfig::new();
    let m: Classifier = cfg.init(&flex);
    let full = to_bytes(&m, &cfg, serde_json::json!({"k": 3})).unwrap();
    let (q8, name) = convert(&full, Storage::Q8).unwrap();
    assert_eq!(name, "classifier");
    let n = m.num_params();
    assert!(
        q8.len() < n + n / 8,
        "{} bytes for {n} parameters",
        q8.len()
    );
    let dev = test_device();
    let (_, _, meta) = from_bytes::<Classifier>(&q8, &dev).unwrap();
    assert_eq!(meta["k"], 3);
    assert_eq!(peek(&q8).unwrap().0, "classifier");
    quantised_is_close_and_exact_in_f32(&m, &q8, 0.05);
    // Damaged 8-bit files: clear errors, never a panic.
    let (h, body) = split(&q8).unwrap();
    let start = 12 + h.len();
    for cut in [1, 5, body.len() / 2, body.len() - 1] {
        let e = from_bytes::<Classifier>(&q8[..start + cut], &dev).unwrap_err();
        assert!(
            matches!(e, WeightsError::Truncated | WeightsError::Record(_)),
            "{e:?}"
        );
    }
    let mut extra = q8.clone();
    extra.push(0);
    assert!(matches!(
        from_bytes::<Classifier>(&extra, &dev).unwrap_err(),
        WeightsError::Record(_)
    ));
    let mut bad_kind = q8.clone();
    bad_kind[start + 20] = 7; // conv1's weight: rank 4, four dims, then its kind
    let e = from_bytes::<Classifier>(&bad_kind, &dev).unwrap_err();
    assert!(e.to_string().contains("unknown encoding"), "{e}");
    // Another model's 8-bit body under this configuration.
    let other = ClassifierConfig::new().with_hidden(64);
    let small = to_bytes_as(
        &other.init(&flex),
        &other,
        serde_json::Value::Null,
        Storage::Q8,
    )
    .unwrap();
    let (_, small_body) = split(&small).unwrap();
    let mut forged = q8[..start].to_vec();
    forged.extend_from_slice(small_body);
    let e = from_bytes::<Classifier>(&forged, &dev).unwrap_err();
    assert!(e.to_string().contains("shape"), "{e}");
}

#[test]
fn four_bit_dense_layers_are_smaller_and_close() {
    let flex = crate::platform::CpuBackend::Flex.device();
    let cfg = ClassifierConfig::new();
    let m: Classifier = cfg.init(&flex);
    let full = to_bytes(&m, &cfg, serde_json::Value::Null).unwrap();
    let (q8, _) = convert(&full, Storage::Q8).unwrap();
    let (q4, name) = convert(&full, Storage::Q4).unwrap();
    assert_eq!(name, "classifier");
    // fc1 (3136 × 128 values) goes from one byte per value to half.
    let fc1 = 3136 * 128;
    assert!(
        q4.len() + fc1 / 2 - 64 <= q8.len() && q8.len() <= q4.len() + fc1 / 2 + 64,
        "q8 {} bytes, q4 {} bytes",
        q8.len(),
        q4.len()
    );
    // Every nibble survives re-encoding, the signs of -7 … -1 included.
    quantised_is_close_and_exact_in_f32(&m, &q4, 0.15);
    let dev = test_device();
    // A 4-bit tensor cut short is an error, not a panic.
    let e = from_bytes::<Classifier>(&q4[..q4.len() - 300], &dev).unwrap_err();
    assert!(
        matches!(e, WeightsError::Truncated | WeightsError::Record(_)),
        "{e:?}"
    );
}

#[test]
fn nibbles_round_trip() {
    // An odd count, every level from -7 to 7, one all-zero slice.
    let mut values: Vec<f32> = (-7..=7).map(|v| v as f32 * 0.5).collect();
    values.extend([0.0; 15]);
    let dims = [2usize, 15];
    let mut body = Vec::new();
    q8_encode(&values, &dims, true, &mut body);
    assert_eq!(body[12], 2, "kind byte");
    assert_eq!(body.len(), 4 + 8 + 1 + 2 * 4 + 15);
    let back = q8_decode(&body, &[dims.to_vec()]).unwrap();
    let got: Vec<f32> = back[0].try_to_vec().unwrap();
    assert_eq!(got, values);
}

#[test]
fn round_trip_keeps_outputs() {
    let dev = test_device();
    let cfg = DenoiserConfig::canonical();
    let m = cfg.init(&dev);
    let bytes = to_bytes(&m, &cfg, serde_json::json!({"note": "test"})).unwrap();
    let (m2, cfg2, meta) = from_bytes::<Denoiser>(&bytes, &dev).unwrap();
    assert_eq!(cfg2.kind, DenoiserKind::Canonical);
    assert_eq!(meta["note"], "test");
    let x = Tensor::<4>::ones([1, 1, 28, 28], &dev);
    let a: Vec<f32> = m.forward(x.clone()).into_data().try_into_vec_as().unwrap();
    let b: Vec<f32> = m2.forward(x).into_data().try_into_vec_as().unwrap();
    assert_eq!(a, b);
    assert_eq!(peek(&bytes).unwrap().0, "denoiser");
}

#[test]
fn bad_files_give_clear_errors() {
    let dev = test_device();
    let cfg = DenoiserConfig::canonical();
    let bytes = to_bytes(&cfg.init(&dev), &cfg, serde_json::Value::Null).unwrap();
    assert_eq!(
        from_bytes::<Denoiser>(&[], &dev).unwrap_err(),
        WeightsError::Empty
    );
    assert_eq!(
        from_bytes::<Denoiser>(b"\x89PNG\r\n\x1a\n....", &dev).unwrap_err(),
        WeightsError::NotAelab
    );
    assert_eq!(
        from_bytes::<Denoiser>(&bytes[..10], &dev).unwrap_err(),
        WeightsError::Truncated
    );
    // Truncated burn record.
    let e = from_bytes::<Denoiser>(&bytes[..bytes.len() - 100], &dev).unwrap_err();
    assert!(matches!(e, WeightsError::Record(_)), "{e:?}");
    // A classifier file offered as a denoiser.
    let ccfg = ClassifierConfig::new();
    let cbytes = to_bytes(&ccfg.init(&dev), &ccfg, serde_json::Value::Null).unwrap();
    let e = from_bytes::<Denoiser>(&cbytes, &dev).unwrap_err();
    assert!(e.to_string().contains("holds a classifier"), "{e}");
    // Weights of another architecture under the right name.
    let skip = DenoiserConfig::skip();
    let mut forged = to_bytes(&skip.init(&dev), &skip, serde_json::Value::Null).unwrap();
    let canon_header = serde_json::to_vec(&Header {
        model: "denoiser".into(),
        config: &cfg,
        meta: serde_json::Value::Null,
        encoding: None,
    })
    .unwrap();
    let (_, body) = split(&forged).unwrap();
    let body = body.to_vec();
    forged.clear();
    forged.extend_from_slice(MAGIC);
    forged.extend_from_slice(&(canon_header.len() as u32).to_le_bytes());
    forged.extend_from_slice(&canon_header);
    forged.extend_from_slice(&body);
    assert!(matches!(
        from_bytes::<Denoiser>(&forged, &dev).unwrap_err(),
        WeightsError::Record(_)
    ));
    // A header whose configuration would make an absurd model.
    let mut huge = serde_json::to_value(&cfg).unwrap();
    huge["width"] = serde_json::json!(1_000_000);
    let header =
        serde_json::to_vec(&serde_json::json!({"model": "denoiser", "config": huge})).unwrap();
    let mut evil = MAGIC.to_vec();
    evil.extend_from_slice(&(header.len() as u32).to_le_bytes());
    evil.extend_from_slice(&header);
    evil.extend_from_slice(&body);
    let e = from_bytes::<Denoiser>(&evil, &dev).unwrap_err();
    assert!(e.to_string().contains("width is 1000000"), "{e}");
    // Garbage header JSON.
    let mut bad = bytes.clone();
    bad[12] = b'#';
    assert!(matches!(
        from_bytes::<Denoiser>(&bad, &dev).unwrap_err(),
        WeightsError::BadHeader(_)
    ));
}
