//! The training loop on real digits: losses fall, divergence and
//! cancellation are reported, bad settings are refused.

use aelab::data::{assets_dir, load_mnist, Mnist, Split};
use aelab::engine::{with_kernels, Kernels};
use aelab::infer::images_tensor;
use aelab::labs::denoise::{DenoiseTask, NoiseSpec};
use aelab::models::spec::presets;
use aelab::models::{ClassifierConfig, DenoiserConfig, Net};
use aelab::platform::{block_on, CpuBackend};
use aelab::rng::Rng;
use aelab::training::classify::ClassifyTask;
use aelab::training::{Event, Loss, Schedule, Task, TrainConfig, TrainError, Trainer};
use burn::prelude::*;
use std::cell::Cell;

fn digits(n: usize) -> Mnist {
    load_mnist(&assets_dir().join("mnist"), Split::Test)
        .unwrap()
        .take(n)
}

/// The first `n` test digits for training and the next `m` for validation.
fn split(n: usize, m: usize) -> (Mnist, Mnist) {
    let all = digits(n + m);
    let idx: Vec<usize> = (0..n + m).collect();
    (all.subset(&idx[..n]), all.subset(&idx[n..]))
}

/// A fresh net of a denoiser preset.
fn denoiser(cfg: &DenoiserConfig, device: &Device) -> Net {
    Net::build(&presets::denoiser(cfg), device).unwrap()
}

fn cfg(epochs: usize, batch: usize, lr: f64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: batch,
        learning_rate: lr,
        schedule: Schedule::Constant,
        seed: 3,
        ..TrainConfig::default()
    }
}

/// Repeated steps on one small batch lower its loss, and the loss on
/// held-out digits falls too.
#[test]
fn denoiser_loss_falls_on_a_small_batch() {
    let device = CpuBackend::Flex.device();
    let (train, valid) = split(32, 16);
    let task = DenoiseTask {
        train,
        valid,
        noise: NoiseSpec::Fixed(0.5),
        valid_seed: 1,
        loss: Loss::Bce,
    };
    // One batch per epoch, so each step sees the same 32 images.
    let mut t = Trainer::new(
        task,
        denoiser(&DenoiserConfig::canonical(), &device),
        cfg(12, 32, 3e-3),
        &device,
    )
    .unwrap();
    let mut losses = Vec::new();
    let mut valid = Vec::new();
    let mut finished = false;
    block_on(t.run(|e| match e {
        Event::Step(p) => losses.push(p.loss),
        Event::EpochEnd(s) => valid.push(s.valid_loss.unwrap()),
        Event::Finished => finished = true,
    }))
    .unwrap();
    assert!(finished);
    assert_eq!(losses.len(), 12);
    assert!(losses[11] < 0.8 * losses[0], "{losses:?}");
    assert!(valid[11] < valid[0], "{valid:?}");
    assert_eq!(t.history().len(), 12);
}

/// The deprecated NdArray backend trains too (it is about 20× slower than
/// Flex, so the batch is tiny).
#[test]
fn ndarray_backend_lowers_the_loss() {
    let device = CpuBackend::NdArray.device();
    let task = DenoiseTask {
        train: digits(8),
        valid: Mnist::default(),
        noise: NoiseSpec::Fixed(0.5),
        valid_seed: 1,
        loss: Loss::Bce,
    };
    let mut t = Trainer::new(
        task,
        denoiser(&DenoiserConfig::canonical(), &device),
        cfg(6, 8, 5e-3),
        &device,
    )
    .unwrap();
    let mut losses = Vec::new();
    block_on(t.run(|e| {
        if let Event::Step(p) = e {
            losses.push(p.loss)
        }
    }))
    .unwrap();
    assert!(losses[5] < 0.9 * losses[0], "{losses:?}");
}

#[test]
fn classifier_loss_falls() {
    let device = CpuBackend::Flex.device();
    let task = ClassifyTask {
        train: digits(64),
        valid: Mnist::default(),
        max_shift: 0,
        affine: None,
    };
    let mut t = Trainer::new(
        task,
        ClassifierConfig::new().init(&device),
        cfg(8, 64, 2e-3),
        &device,
    )
    .unwrap();
    let mut losses = Vec::new();
    block_on(t.run(|e| {
        if let Event::Step(p) = e {
            assert!(p.images_per_sec > 0.0);
            losses.push(p.loss)
        }
    }))
    .unwrap();
    // Starts near ln 10 = 2.3 and falls well below it.
    assert!(losses[0] > 1.5, "{losses:?}");
    assert!(*losses.last().unwrap() < 0.5 * losses[0], "{losses:?}");
}

/// Trains `model` for `steps` batches of 16 on `task` with the given CPU
/// kernels and returns the losses.
fn losses_with<T: Task>(kernels: Kernels, task: T, model: T::Model, steps: usize) -> Vec<f32> {
    let device = CpuBackend::Flex.device();
    with_kernels(kernels, || {
        let mut t = Trainer::new(task, model, cfg(100, 16, 2e-3), &device).unwrap();
        let mut losses = Vec::new();
        while losses.len() < steps {
            if let Event::Step(p) = block_on(t.step()).unwrap() {
                losses.push(p.loss);
            }
        }
        losses
    })
}

/// The engine's kernels train as burn's did: from the same weights and
/// data, 30 steps of each model follow burn's loss curve. Both sum in
/// float32 in different orders, so the curves part slowly, and one batch's
/// loss at batch 16 is noisy: the classifier's batch norm parts single
/// steps by several per cent by step 30 (3.1 % once) while the mean over
/// the last ten steps agrees to 0.01 %. So the first four steps must agree
/// within 0.1 %, and the mean of each run of ten steps within 3 %; and the
/// loss falls.
#[test]
fn engine_kernels_follow_burns_loss_curve() {
    const STEPS: usize = 30;
    let device = CpuBackend::Flex.device();
    let denoise = || DenoiseTask {
        train: digits(640),
        valid: Mnist::default(),
        noise: NoiseSpec::Range(0.3, 0.9),
        valid_seed: 1,
        loss: Loss::Bce,
    };
    let classify = || ClassifyTask {
        train: digits(640),
        valid: Mnist::default(),
        max_shift: 2,
        affine: None,
    };
    let mut curves = Vec::new();
    device.seed(17);
    for cfg in [DenoiserConfig::canonical(), DenoiserConfig::skip()] {
        let model = denoiser(&cfg, &device);
        curves.push((
            format!("{:?} denoiser", cfg.kind),
            losses_with(Kernels::Engine, denoise(), model.clone(), STEPS),
            losses_with(Kernels::Burn, denoise(), model, STEPS),
        ));
    }
    // Without dropout: its masks are not what is compared.
    let model = ClassifierConfig::new().with_dropout(0.0).init(&device);
    curves.push((
        "classifier".to_string(),
        losses_with(Kernels::Engine, classify(), model.clone(), STEPS),
        losses_with(Kernels::Burn, classify(), model, STEPS),
    ));
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    for (what, engine, burn) in curves {
        for (i, (e, b)) in engine.iter().zip(&burn).take(4).enumerate() {
            assert!(
                (e - b).abs() <= 1e-3 * b.abs(),
                "{what}, step {}: engine {e} vs burn {b}\n{engine:?}\n{burn:?}",
                i + 1
            );
        }
        for (k, (e, b)) in engine.chunks(10).zip(burn.chunks(10)).enumerate() {
            let (e, b) = (mean(e), mean(b));
            assert!(
                (e - b).abs() <= 0.03 * b.abs(),
                "{what}, steps {}–{}: mean engine {e} vs burn {b}\n{engine:?}\n{burn:?}",
                10 * k + 1,
                10 * k + 10
            );
        }
        assert!(
            mean(&engine[STEPS - 10..]) < mean(&engine[..10]),
            "{what}: {engine:?}"
        );
    }
}

/// A task whose loss turns NaN at a chosen step.
struct PoisonedTask {
    inner: DenoiseTask,
    calls: Cell<usize>,
    poison_at: usize,
}

impl Task for PoisonedTask {
    type Model = Net;
    fn train_len(&self) -> usize {
        self.inner.train_len()
    }
    fn valid_len(&self) -> usize {
        0
    }
    fn train_loss(&self, model: &Net, idx: &[usize], rng: &mut Rng, device: &Device) -> Tensor<1> {
        self.calls.set(self.calls.get() + 1);
        let loss = self.inner.train_loss(model, idx, rng, device);
        if self.calls.get() == self.poison_at {
            loss * f32::NAN
        } else {
            loss
        }
    }
    fn valid_loss(&self, model: &Net, idx: &[usize], device: &Device) -> Tensor<1> {
        self.inner.valid_loss(model, idx, device)
    }
}

#[test]
fn divergence_stops_and_keeps_the_last_good_weights() {
    let device = CpuBackend::Flex.device();
    let probe = images_tensor(&digits(4).batch_f32(&[0, 1, 2, 3]), &device);
    let task = PoisonedTask {
        inner: DenoiseTask {
            train: digits(64),
            valid: Mnist::default(),
            noise: NoiseSpec::Fixed(0.5),
            valid_seed: 1,
            loss: Loss::Bce,
        },
        calls: Cell::new(0),
        poison_at: 4,
    };
    let mut t = Trainer::new(
        task,
        denoiser(&DenoiserConfig::canonical(), &device),
        cfg(10, 16, 1e-3),
        &device,
    )
    .unwrap();
    let outputs = |t: &Trainer<PoisonedTask>| -> Vec<f32> {
        t.model()
            .forward(probe.clone())
            .into_data()
            .try_into_vec_as()
            .unwrap()
    };
    block_on(t.step()).unwrap();
    block_on(t.step()).unwrap();
    // Step 3 starts from these weights and is the last step with a finite
    // loss: a divergence at step 4 rolls back to them.
    let before_step3 = outputs(&t);
    block_on(t.step()).unwrap();
    assert_ne!(outputs(&t), before_step3, "step 3 updated the weights");
    let err = block_on(t.step()).unwrap_err();
    match &err {
        TrainError::Diverged { step, loss, epoch } => {
            assert_eq!((*epoch, *step), (0, 4));
            assert!(loss.is_nan());
        }
        other => panic!("expected divergence, got {other:?}"),
    }
    assert!(err.to_string().contains("diverged"));
    assert_eq!(outputs(&t), before_step3);
}

#[test]
fn an_infinite_loss_from_huge_weights_is_caught() {
    let device = CpuBackend::Flex.device();
    let task = ClassifyTask {
        train: digits(64),
        valid: Mnist::default(),
        max_shift: 0,
        affine: None,
    };
    // An absurd learning rate blows the weights up within a few steps.
    let mut t = Trainer::new(
        task,
        ClassifierConfig::new().init(&device),
        cfg(20, 16, 1e12),
        &device,
    )
    .unwrap();
    let err = block_on(t.run(|_| {})).unwrap_err();
    assert!(matches!(err, TrainError::Diverged { .. }), "{err:?}");
}

#[test]
fn cancellation_and_progress() {
    let device = CpuBackend::Flex.device();
    let task = DenoiseTask {
        train: digits(40),
        valid: Mnist::default(),
        noise: NoiseSpec::Range(0.3, 0.9),
        valid_seed: 1,
        loss: Loss::Bce,
    };
    let mut t = Trainer::new(
        task,
        denoiser(&DenoiserConfig::canonical(), &device),
        cfg(2, 10, 1e-3),
        &device,
    )
    .unwrap();
    assert_eq!(t.total_steps(), 8);
    let token = t.cancel_token();
    let mut seen = 0;
    let err = block_on(t.run(|e| {
        if let Event::Step(p) = e {
            seen += 1;
            assert_eq!(p.global_step, seen);
            assert_eq!(p.steps_per_epoch, 4);
            assert!(p.eta_ms.is_finite() && p.eta_ms >= 0.0);
            if seen == 3 {
                token.cancel();
            }
        }
    }))
    .unwrap_err();
    assert_eq!(err, TrainError::Cancelled);
    assert_eq!(seen, 3);
}

#[test]
fn bad_settings_are_refused() {
    let device = CpuBackend::Flex.device();
    let mk = || DenoiseTask {
        train: digits(10),
        valid: Mnist::default(),
        noise: NoiseSpec::Fixed(0.5),
        valid_seed: 1,
        loss: Loss::Bce,
    };
    let model = || denoiser(&DenoiserConfig::canonical(), &device);
    let empty = DenoiseTask {
        train: Mnist::default(),
        ..mk()
    };
    assert!(matches!(
        Trainer::new(empty, model(), cfg(1, 10, 1e-3), &device),
        Err(TrainError::Empty)
    ));
    for (c, msg) in [
        (cfg(1, 0, 1e-3), "batch size"),
        (cfg(0, 10, 1e-3), "epochs"),
        (cfg(1, 10, f64::NAN), "learning rate"),
        (cfg(1, 10, -1.0), "learning rate"),
    ] {
        let e = Trainer::new(mk(), model(), c, &device).err().unwrap();
        assert!(matches!(e, TrainError::BadConfig(_)));
        assert!(e.to_string().contains(msg), "{e}");
    }
}

/// A designed model trains: a spec with layers off the engine (a strided
/// convolution, a transposed one, batch norm, a concatenating skip) and
/// each optimizer and loss lowers the loss on a small batch.
#[test]
fn a_designed_model_trains_with_each_optimizer_and_loss() {
    use aelab::models::ModelSpec;
    use aelab::training::OptimizerKind;
    let spec = ModelSpec::from_json(
        r#"{"aelab_spec": 1, "name": "Designed", "input": {"kind": "image", "height": 28, "width": 28, "channels": 1},
            "layers": [
              {"name": "top", "type": "conv2d", "filters": 8, "activation": "relu"},
              {"type": "conv2d", "filters": 16, "stride": 2, "activation": "relu"},
              {"type": "batch_norm"},
              {"type": "conv_transpose2d", "filters": 8, "stride": 2, "activation": "relu"},
              {"type": "skip", "from": "top", "mode": "concat"},
              {"type": "conv2d", "filters": 1}
            ]}"#,
    )
    .unwrap();
    let device = CpuBackend::Flex.device();
    for (optimizer, loss, lr) in [
        (OptimizerKind::Adam, Loss::Bce, 3e-3),
        (OptimizerKind::AdamW, Loss::Mse, 3e-3),
        (OptimizerKind::Sgd, Loss::Bce, 5e-2),
        (OptimizerKind::RmsProp, Loss::Mae, 1e-3),
    ] {
        let (train, valid) = split(32, 16);
        let task = DenoiseTask {
            train,
            valid,
            noise: NoiseSpec::Fixed(0.5),
            valid_seed: 1,
            loss,
        };
        device.seed(5);
        let config = TrainConfig {
            optimizer,
            weight_decay: 1e-4,
            ..cfg(10, 32, lr)
        };
        let mut t =
            Trainer::new(task, Net::build(&spec, &device).unwrap(), config, &device).unwrap();
        let mut losses = Vec::new();
        block_on(t.run(|e| {
            if let Event::Step(p) = e {
                losses.push(p.loss)
            }
        }))
        .unwrap();
        assert!(
            losses[9] < 0.8 * losses[0],
            "{optimizer:?} {loss:?}: {losses:?}"
        );
    }
}
