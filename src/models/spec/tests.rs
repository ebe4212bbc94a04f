use super::presets::{self, PRESETS};
use super::*;
use crate::models::record::{self, Weights};
use crate::models::{DenoiserConfig, LatentAeConfig, SeriesAeConfig, SeriesModelKind};
use crate::platform::test_device;
use burn::module::Module;
use burn::prelude::*;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as().unwrap()
}

/// Each shipped preset file is the spec the lab's default settings make.
#[test]
fn preset_files_equal_the_generated_specs() {
    let want = [
        (
            "denoiser-canonical",
            presets::denoiser(&DenoiserConfig::canonical()),
        ),
        ("denoiser-skip", presets::denoiser(&DenoiserConfig::skip())),
        ("latent-ae", presets::latent_ae(&LatentAeConfig::new())),
        (
            "series-dense",
            presets::series(&SeriesAeConfig::new(SeriesModelKind::Dense, 140).with_latent(32)),
        ),
        (
            "series-conv1d",
            presets::series(&SeriesAeConfig::new(SeriesModelKind::Conv1d, 140).with_depth(2)),
        ),
    ];
    for (id, spec) in want {
        assert_eq!(presets::preset(id).unwrap(), spec, "{id}");
        // And a spec round-trips through its JSON.
        assert_eq!(ModelSpec::from_json(&spec.to_json()).unwrap(), spec, "{id}");
    }
    for p in PRESETS {
        p.purpose.check(&p.spec()).unwrap();
    }
}

/// Each preset builds a net with the parameter count of the model it
/// replaces, and computes the same outputs from the same weights.
#[test]
fn presets_match_the_models_they_replace() {
    let dev = test_device();
    for cfg in [
        DenoiserConfig::canonical(),
        DenoiserConfig::skip(),
        DenoiserConfig::skip().with_depth(1).with_width(8),
    ] {
        let old = cfg.init(&dev);
        let spec = presets::denoiser(&cfg);
        assert_eq!(spec.summary().unwrap().total_params, old.num_params());
        assert_eq!(
            Net::build(&spec, &dev).unwrap().num_params(),
            old.num_params()
        );
        let x = Tensor::<4>::random([2, 1, 28, 28], burn::tensor::Distribution::Default, &dev);
        let want = values(old.forward_logits(x.clone()));
        let net = legacy::from_denoiser(old, &cfg).unwrap();
        assert_eq!(values(net.forward_logits(x)), want, "{cfg:?}");
    }
    assert_eq!(
        presets::preset("denoiser-canonical")
            .unwrap()
            .summary()
            .unwrap()
            .total_params,
        28_353
    );
    let cfg = LatentAeConfig::new();
    let old = cfg.init(&dev);
    let net0 = Net::build(&presets::latent_ae(&cfg), &dev).unwrap();
    assert_eq!(net0.num_params(), old.num_params());
    let x = Tensor::<4>::random([2, 1, 28, 28], burn::tensor::Distribution::Default, &dev);
    let z = values(old.encode(x.clone()));
    let y = values(old.forward(x.clone()));
    let net = legacy::from_latent_ae(old, &cfg).unwrap();
    assert_eq!(net.latent(), 16);
    assert_eq!(values(net.encode(x.clone())), z);
    assert_eq!(values(net.forward(x)), y);
    for (kind, len, latent, depth) in [
        (SeriesModelKind::Dense, 140, 32, 3),
        (SeriesModelKind::Conv1d, 140, 8, 2),
        (SeriesModelKind::Conv1d, 37, 8, 3),
        (SeriesModelKind::Dense, 48, 8, 2),
    ] {
        let cfg = SeriesAeConfig::new(kind, len)
            .with_latent(latent)
            .with_depth(depth);
        let old = cfg.init(&dev);
        assert_eq!(
            presets::series(&cfg).summary().unwrap().total_params,
            old.num_params()
        );
        let x = Tensor::<2>::random([3, len], burn::tensor::Distribution::Default, &dev);
        let want = values(old.forward(x.clone()));
        let net = legacy::from_series_ae(old, &cfg).unwrap();
        assert_eq!(net.length(), len);
        assert_eq!(values(net.forward_series(x)), want, "{kind:?} {len}");
    }
}

/// A net's weights file holds its spec, loads back to the same outputs,
/// and a lab refuses a net that does not suit it.
#[test]
fn nets_round_trip_through_weights_files() {
    let dev = test_device();
    let spec = presets::preset("denoiser-skip").unwrap();
    let net = Net::build(&spec, &dev).unwrap();
    let x = Tensor::<4>::random([1, 1, 28, 28], burn::tensor::Distribution::Default, &dev);
    let want = values(net.forward(x.clone()));
    for storage in [record::Storage::F32, record::Storage::Q8] {
        let bytes = record::to_bytes_as(&net, &spec, serde_json::json!({"k": 1}), storage).unwrap();
        let (back, spec2, meta) = legacy::load(&bytes, &dev, Purpose::Denoise).unwrap();
        assert_eq!(spec2, spec);
        assert_eq!(meta["k"], 1);
        let got = values(back.forward(x.clone()));
        let tol = if storage == record::Storage::F32 {
            0.0
        } else {
            0.05
        };
        assert!(
            got.iter().zip(&want).all(|(a, b)| (a - b).abs() <= tol),
            "{storage:?}"
        );
        let e = legacy::load(&bytes, &dev, Purpose::Augment)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a latent layer is required for sampling"), "{e}");
        let e = legacy::load(&bytes, &dev, Purpose::Anomaly)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the Anomaly lab needs series"), "{e}");
    }
    // A file of aelab 0.1 loads as its preset.
    let cfg = DenoiserConfig::canonical();
    let old = cfg.init(&dev);
    let bytes = record::to_bytes(&old, &cfg, serde_json::Value::Null).unwrap();
    let (_, spec, _) = legacy::load(&bytes, &dev, Purpose::Denoise).unwrap();
    assert_eq!(spec, presets::preset("denoiser-canonical").unwrap());
    let e = legacy::load(&bytes, &dev, Purpose::Anomaly)
        .unwrap_err()
        .to_string();
    assert!(e.contains("denoiser") && e.contains("Anomaly"), "{e}");
    // A tampered spec in a file is refused with the spec's message.
    assert!(Net::validate(&ModelSpec {
        layers: vec![],
        ..spec
    })
    .is_err());
}

fn bad(json: &str) -> String {
    match ModelSpec::from_json(json) {
        Ok(s) => panic!("accepted {json}: {s:?}"),
        Err(e) => e.message,
    }
}

fn digits(layers: &str) -> String {
    format!(
        r#"{{"aelab_spec": 1, "input": {{"kind": "image", "height": 28, "width": 28, "channels": 1}}, "layers": [{layers}]}}"#
    )
}

const C32: &str = r#"{"type": "conv2d", "filters": 32, "activation": "relu"}"#;
const POOL: &str = r#"{"type": "max_pool"}"#;
const UP: &str = r#"{"type": "upsample"}"#;
const OUT: &str = r#"{"type": "conv2d", "filters": 1}"#;

/// Bad specs, each with the message it must give.
#[test]
fn bad_specs_say_what_is_wrong_and_where() {
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "the model spec is empty"),
        ("{".into(), "not valid JSON"),
        ("[]".into(), "a model spec is a JSON object"),
        (r#"{"layers": []}"#.into(), "not an aelab model spec"),
        (r#"{"aelab_spec": 9, "layers": []}"#.into(), "version 9"),
        (digits(""), "the model has no layers"),
        (digits(r#"{"type": "conv3d"}"#), "layer 1 has an unknown type \"conv3d\""),
        (digits(r#"{"filters": 3}"#), "layer 1 has no \"type\""),
        (
            digits(r#"{"type": "conv2d", "filters": 1, "activaton": "relu"}"#),
            "layer 1 (conv2d) has an unknown field \"activaton\"",
        ),
        (digits(r#"{"type": "conv2d"}"#), "layer 1 (conv2d): missing field `filters`"),
        (
            digits(r#"{"type": "conv2d", "filters": 1, "activation": "swish"}"#),
            "layer 1 (conv2d): unknown variant `swish`",
        ),
        (
            digits(r#"{"type": "conv2d", "filters": 1, "padding": "full"}"#),
            "padding \"full\" is not one of",
        ),
        (digits(r#"{"type": "conv2d", "filters": 0}"#), "layer 1 (Conv2d): filters is 0, outside 1–1024"),
        (
            digits(&format!("{C32}, {POOL}, {C32}, {POOL}, {}", r#"{"type": "conv2d", "filters": 64}"#)),
            "layer 5 (Conv2d) gives 7×7×64 but the decoder must end at 28×28×1 (the input's shape); MaxPool ÷2 of 14×14 gives 7×7, not 28×28",
        ),
        (
            digits(&format!("{C32}, {POOL}, {C32}, {POOL}, {C32}, {UP}, {OUT}")),
            "Upsample ×2 of 7×7 gives 14×14, not 28×28",
        ),
        (
            digits(&format!(r#"{{"name": "e1", "type": "conv2d", "filters": 8}}, {POOL}, {UP}, {{"type": "skip", "from": "e2"}}, {OUT}"#)),
            "layer 4 (Skip) refers to \"e2\", which is not the name of an earlier layer",
        ),
        (
            digits(&format!(r#"{{"name": "e1", "type": "conv2d", "filters": 8}}, {POOL}, {{"type": "skip", "from": "e1"}}, {UP}, {OUT}"#)),
            "layer 3 (Skip, add) gets 14×14×8 but \"e1\" is 28×28×8: MaxPool ÷2 of 28×28 gives 14×14, not 28×28",
        ),
        (
            digits(&format!(r#"{{"name": "a", "type": "conv2d", "filters": 8}}, {{"name": "a", "type": "conv2d", "filters": 8}}, {OUT}"#)),
            "layer 2 (Conv2d): the name \"a\" is already used by layer 1",
        ),
        (
            digits(r#"{"type": "dense", "units": 10}, {"type": "conv2d", "filters": 1}"#),
            "layer 1 (Dense) gets a 28×28×1 feature map but needs a vector (add a flatten layer before it)",
        ),
        (
            digits(r#"{"type": "flatten"}, {"type": "conv2d", "filters": 1}"#),
            "layer 2 (Conv2d) gets a vector of 784 but needs a feature map (add a reshape before it)",
        ),
        (
            digits(r#"{"type": "flatten"}, {"type": "reshape", "shape": [2, 28, 28]}"#),
            "layer 2 (Reshape) cannot turn 784 (784 values) into 28×28×2 (1568 values)",
        ),
        (
            digits(r#"{"type": "flatten"}, {"type": "latent", "units": 4}, {"type": "latent", "units": 4}, {"type": "dense", "units": 784}, {"type": "reshape", "shape": [1, 28, 28]}"#),
            "a model has one latent layer, and layer 2 is already one",
        ),
        (
            digits(r#"{"name": "f", "type": "flatten"}, {"type": "latent", "units": 784}, {"type": "skip", "from": "f"}, {"type": "reshape", "shape": [1, 28, 28]}"#),
            "the decoder must work from the code alone",
        ),
        (
            digits(r#"{"type": "dropout", "rate": 1.5}, {"type": "conv2d", "filters": 1}"#),
            "layer 1 (Dropout): the rate is 1.5, outside [0, 1)",
        ),
        (
            digits(r#"{"type": "max_pool", "size": 40}, {"type": "conv2d", "filters": 1}"#),
            "layer 1 (MaxPool): the size is 40, outside 1–16",
        ),
        (
            digits(r#"{"type": "conv2d", "filters": 1, "kernel": 5, "padding": "valid"}"#),
            "gives 24×24×1 but the decoder must end at 28×28×1",
        ),
    ];
    for (json, want) in cases {
        let got = bad(&json);
        assert!(got.contains(want), "{json}\n  gave: {got}\n  want: {want}");
    }
    // The error knows its layer, for the designer to mark it.
    let e = ModelSpec::from_json(&digits(r#"{"type": "conv2d", "filters": 0}"#)).unwrap_err();
    assert_eq!(e.layer, Some(1));
    // A lab's needs.
    let series = ModelSpec::from_json(presets::PRESETS[3].json).unwrap();
    let e = Purpose::Denoise.check(&series).unwrap_err().message;
    assert_eq!(
        e,
        "this model takes 140-point series, but the Denoise lab needs 28×28×1 digits"
    );
    let e = Purpose::Augment
        .check(&presets::preset("denoiser-skip").unwrap())
        .unwrap_err()
        .message;
    assert!(
        e.starts_with("a latent layer is required for sampling"),
        "{e}"
    );
}

#[test]
fn the_limits_say_which_is_exceeded() {
    let big = digits(
        r#"{"type": "flatten"}, {"type": "dense", "units": 4096}, {"type": "dense", "units": 784}, {"type": "reshape", "shape": [1, 28, 28]}"#,
    );
    let spec = ModelSpec::from_json(&big).unwrap();
    let e = spec
        .check_limits(&Limits::default(), 16)
        .unwrap_err()
        .message;
    assert!(
        e.starts_with("the model has 6,427,408 parameters, over the limit of 2,000,000"),
        "{e}"
    );
    let wide = digits(
        r#"{"type": "conv2d", "filters": 256, "activation": "relu"}, {"type": "conv2d", "filters": 256}, {"type": "conv2d", "filters": 1}"#,
    );
    let e = ModelSpec::from_json(&wide)
        .unwrap()
        .check_limits(&Limits::default(), 16)
        .unwrap_err()
        .message;
    assert!(
        e.contains("MFLOPs per example, over the limit of 100"),
        "{e}"
    );
    let skip = presets::preset("denoiser-skip").unwrap();
    let s = skip.check_limits(&Limits::default(), 128).unwrap();
    assert!(
        s.total_mflops > 20.0 && s.total_mflops < 60.0,
        "{}",
        s.total_mflops
    );
    let e = skip
        .check_limits(&Limits::default(), 100_000)
        .unwrap_err()
        .message;
    assert!(
        e.contains("at batch 100000 the model's activations need about"),
        "{e}"
    );
}

#[test]
fn the_summary_lists_shapes_params_and_the_slow_path() {
    let s = presets::preset("denoiser-canonical")
        .unwrap()
        .summary()
        .unwrap();
    let outputs: Vec<&str> = s.rows.iter().map(|r| r.output.as_str()).collect();
    assert_eq!(
        outputs,
        [
            "28×28×32",
            "14×14×32",
            "14×14×32",
            "7×7×32",
            "7×7×32",
            "14×14×32",
            "14×14×32",
            "28×28×32",
            "28×28×1"
        ]
    );
    assert_eq!(s.rows[0].params, 320);
    assert!(s.rows.iter().all(|r| !r.slow));
    let t = s.table();
    assert!(t.contains("Total: 28,353 parameters"), "{t}");
    let odd = ModelSpec::from_json(&digits(
        r#"{"type": "conv2d", "filters": 4, "stride": 2, "activation": "gelu"}, {"type": "avg_pool"}, {"type": "conv_transpose2d", "filters": 4, "stride": 2, "activation": "tanh"}, {"type": "upsample", "mode": "bilinear"}, {"type": "batch_norm"}, {"type": "dropout", "rate": 0.1}, {"type": "activation", "function": "leaky_relu"}, {"type": "conv2d", "filters": 1}"#,
    ))
    .unwrap();
    let s = odd.summary().unwrap();
    let slow: Vec<bool> = s.rows.iter().map(|r| r.slow).collect();
    assert_eq!(slow, [false, true, true, true, false, false, false, false]);
    assert!(s.table().contains("[slow path]"));
}

/// A spec with every layer type builds, runs forward and backward on the
/// shapes its summary says, natively.
#[test]
fn every_layer_type_runs() {
    let dev = test_device();
    let json = digits(
        r#"{"name": "a", "type": "conv2d", "filters": 4, "activation": "leaky_relu"},
        {"type": "batch_norm"},
        {"type": "max_pool"},
        {"name": "b", "type": "conv2d", "filters": 6, "stride": 2, "padding": 1, "activation": "relu"},
        {"type": "avg_pool", "size": 7},
        {"type": "flatten"},
        {"type": "dropout", "rate": 0.2},
        {"type": "latent", "units": 5},
        {"type": "dense", "units": "b", "activation": "gelu"},
        {"type": "reshape", "like": "b"},
        {"name": "c", "type": "conv_transpose2d", "filters": 4, "stride": 2, "activation": "tanh"},
        {"type": "skip", "from": "d", "mode": "concat"},
        {"type": "upsample", "mode": "bilinear"},
        {"type": "upsample", "factor": 1},
        {"type": "activation", "function": "sigmoid"},
        {"type": "conv2d", "filters": 1}"#,
    );
    // "d" does not exist: the skip reads "c".
    assert!(ModelSpec::from_json(&json).is_err());
    let json = json.replace(r#""from": "d""#, r#""from": "c""#);
    let spec = ModelSpec::from_json(&json).unwrap();
    let net = Net::build(&spec, &dev.clone().autodiff()).unwrap();
    let x = Tensor::<4>::random(
        [2, 1, 28, 28],
        burn::tensor::Distribution::Default,
        &dev.clone().autodiff(),
    );
    let y = net.forward_logits(x);
    assert_eq!(y.dims(), [2, 1, 28, 28]);
    let grads = y.mean().backward();
    let g = GradientsParams::from_grads(grads, &net);
    assert!(!g.is_empty());
    assert_eq!(net.latent(), 5);
    // A series spec with 1-D layers, padded to the encoder's stride.
    let series = r#"{"aelab_spec": 1, "input": {"kind": "series", "length": 30},
      "layers": [{"type": "conv1d", "filters": 4, "kernel": 5, "stride": 2, "activation": "relu"},
                 {"type": "max_pool"}, {"type": "batch_norm"},
                 {"type": "conv_transpose1d", "filters": 4, "kernel": 4, "stride": 2},
                 {"type": "upsample", "mode": "bilinear"}, {"type": "avg_pool", "size": 1},
                 {"type": "conv1d", "filters": 1, "kernel": 3}]}"#;
    let spec = ModelSpec::from_json(series).unwrap();
    assert_eq!(spec.summary().unwrap().padded, Some(32));
    let net = Net::build(&spec, &dev).unwrap();
    let y = net.forward_series(Tensor::<2>::zeros([3, 30], &dev));
    assert_eq!(y.dims(), [3, 30]);
}

use burn::optim::GradientsParams;

/// What the page's designer shows: the summary of a valid spec, and the
/// problem (with its layer) of a spec, a lab's need or a limit.
#[test]
fn the_designer_sees_the_summary_or_the_problem() {
    let skip = presets::PRESETS[1].json;
    let d = design(skip, Purpose::Denoise, 16);
    assert!(d.trainable && d.error.is_none());
    assert_eq!(d.summary.unwrap().total_params, 185_281);
    let d = design(skip, Purpose::Augment, 16);
    assert!(!d.trainable && d.summary.is_some());
    assert!(d.error.unwrap().starts_with("a latent layer is required"));
    let d = design(skip, Purpose::Denoise, 1_000_000);
    assert!(!d.trainable);
    assert!(d.error.unwrap().contains("activations need about"));
    let d = design(
        &digits(r#"{"type": "conv2d", "filters": 0}"#),
        Purpose::Denoise,
        16,
    );
    assert_eq!((d.error_layer, d.summary.is_none()), (Some(1), true));
    // The labs' choices carry a designed spec as text, and refuse a bad one.
    let mut c = crate::labs::anomaly::AnomalyChoices {
        model: "dense".into(),
        spec: Some(presets::PRESETS[4].json.to_string()),
        ..Default::default()
    };
    assert_eq!(
        c.settings().unwrap().model_name(),
        "Conv1d series autoencoder"
    );
    c.spec = Some("{".into());
    assert!(c.settings().unwrap_err().contains("not valid JSON"));
    let a = crate::labs::augment::AugmentChoices {
        spec: Some(skip.to_string()),
        ..Default::default()
    };
    let s = a
        .apply(crate::labs::augment::AugmentSettings::quick(2, 10, 1))
        .unwrap();
    assert!(s
        .validate()
        .unwrap_err()
        .starts_with("a latent layer is required"));
}

/// The inside view traces every layer (no fusions) to the same output the
/// fused forward pass gives, and marks the encoder, the code and the
/// decoder.
#[test]
fn the_inside_view_traces_each_layer_to_the_output() {
    let dev = test_device();
    let image: Vec<f32> = (0..784).map(|i| ((i * 37) % 100) as f32 / 100.0).collect();
    for (id, code, shape) in [
        ("denoiser-canonical", 3, [32, 7, 7]),
        ("denoiser-skip", 3, [64, 7, 7]),
        ("latent-ae", 5, [16, 1, 1]),
    ] {
        let net = Net::build(&presets::preset(id).unwrap(), &dev).unwrap();
        let inside = crate::platform::block_on(crate::infer::inside(&net, &image, &dev)).unwrap();
        let fused = crate::platform::block_on(crate::infer::denoise(&net, &image, &dev)).unwrap();
        assert_eq!(inside.layers.len(), net.spec().layers.len());
        for (a, b) in inside.output.iter().zip(&fused) {
            assert!((a - b).abs() < 1e-5, "{id}: {a} vs {b}");
        }
        assert_eq!(crate::infer::code_layer(&net), code, "{id}");
        let parts: Vec<&str> = inside.layers.iter().map(|l| l.part.as_str()).collect();
        assert!(
            parts[..code].iter().all(|p| *p == "encoder"),
            "{id}: {parts:?}"
        );
        assert_eq!(parts[code], "code");
        assert!(
            parts[code + 1..].iter().all(|p| *p == "decoder"),
            "{id}: {parts:?}"
        );
        assert_eq!(inside.layers[code].shape, shape, "{id}");
        for l in &inside.layers {
            assert_eq!(l.values.len(), l.shape.iter().product::<usize>());
        }
    }
    let net = Net::build(&presets::preset("latent-ae").unwrap(), &dev).unwrap();
    let short = crate::platform::block_on(crate::infer::inside(&net, &image[..700], &dev));
    assert_eq!(short.unwrap_err(), "one 28×28 image is 784 values, not 700");
}

/// The nearest upsampling and average pooling the net runs as reshapes
/// give burn's `interpolate` and `avg_pool2d` results, and gradients, on
/// odd sizes too (a pool drops the rows and columns past the last window).
#[test]
fn reshaped_nearest_upsampling_and_average_pooling_equal_burns_ops() {
    use burn::nn::interpolate::{Interpolate2dConfig, InterpolateMode};
    use burn::nn::pool::AvgPool2dConfig;
    use burn::tensor::Distribution;
    let dev = test_device().autodiff();
    let close = |what: &str, a: Vec<f32>, b: Vec<f32>| {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!((x - y).abs() <= 1e-5, "{what}: element {i}: {x} vs {y}");
        }
    };
    for &[h, w] in &[[7usize, 9usize], [4, 4], [1, 5]] {
        let x0 = Tensor::<4>::random([2, 3, h, w], Distribution::Normal(0.0, 1.0), &dev);
        for f in [[2usize, 3usize], [1, 4], [3, 3]] {
            let r = Tensor::<4>::random([2, 3, h * f[0], w * f[1]], Distribution::Default, &dev);
            let x = x0.clone().require_grad();
            let ours = super::net::nearest(x.clone(), f);
            let g = (ours.clone() * r.clone()).sum().backward();
            let gx = x.grad(&g).unwrap();
            let x2 = x0.clone().require_grad();
            let theirs = Interpolate2dConfig::new()
                .with_output_size(Some([h * f[0], w * f[1]]))
                .with_mode(InterpolateMode::Nearest)
                .init()
                .forward(x2.clone());
            let g2 = (theirs.clone() * r).sum().backward();
            let gx2 = x2.grad(&g2).unwrap();
            close(
                &format!("nearest {h}x{w} x{f:?}"),
                values(ours),
                values(theirs),
            );
            close(
                &format!("nearest grad {h}x{w} x{f:?}"),
                values(gx),
                values(gx2),
            );
        }
        for k in [[2usize, 2usize], [1, 3], [3, 2]] {
            if h < k[0] || w < k[1] {
                continue;
            }
            let oh = (h / k[0], w / k[1]);
            let r = Tensor::<4>::random([2, 3, oh.0, oh.1], Distribution::Default, &dev);
            let x = x0.clone().require_grad();
            let ours = super::net::avg_pool(x.clone(), k);
            let g = (ours.clone() * r.clone()).sum().backward();
            let gx = x.grad(&g).unwrap();
            let x2 = x0.clone().require_grad();
            let theirs = AvgPool2dConfig::new(k).init().forward(x2.clone());
            let g2 = (theirs.clone() * r).sum().backward();
            let gx2 = x2.grad(&g2).unwrap();
            close(
                &format!("avg pool {h}x{w} /{k:?}"),
                values(ours),
                values(theirs),
            );
            close(
                &format!("avg pool grad {h}x{w} /{k:?}"),
                values(gx),
                values(gx2),
            );
        }
    }
}
