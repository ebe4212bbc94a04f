//! The training loop on real digits: losses fall, divergence and
//! cancellation are reported.

use aelab::data::{assets_dir, load_mnist, Mnist, Split};
use aelab::labs::denoise::{DenoiseTask, NoiseSpec};
use aelab::models::{ClassifierConfig, DenoiserConfig};
use aelab::platform::{block_on, CpuBackend};
use aelab::training::classify::ClassifyTask;
use aelab::training::{Event, Schedule, TrainConfig, TrainError, Trainer};

fn digits(n: usize) -> Mnist {
    load_mnist(&assets_dir().join("mnist"), Split::Test)
        .unwrap()
        .take(n)
}

fn cfg(epochs: usize, batch: usize, lr: f64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: batch,
        learning_rate: lr,
        schedule: Schedule::Constant,
        seed: 3,
    }
}

/// Repeated steps on one small batch must lower its loss, on both CPU backends.
#[test]
fn denoiser_loss_falls_on_a_small_batch() {
    for backend in [CpuBackend::NdArray, CpuBackend::Flex] {
        let device = backend.device();
        let task = DenoiseTask {
            train: digits(32),
            valid: digits(16),
            noise: NoiseSpec::Fixed(0.5),
            valid_seed: 1,
        };
        // One batch per epoch, so each step sees the same 32 images.
        let mut t = Trainer::new(
            task,
            DenoiserConfig::canonical().init(&device),
            cfg(12, 32, 3e-3),
            &device,
        )
        .unwrap();
        let mut losses = Vec::new();
        let mut valid = Vec::new();
        block_on(t.run(|e| match e {
            Event::Step(p) => losses.push(p.loss),
            Event::EpochEnd(s) => valid.push(s.valid_loss.unwrap()),
            Event::Finished => {}
        }))
        .unwrap();
        assert_eq!(losses.len(), 12);
        assert!(losses[11] < 0.8 * losses[0], "{backend:?}: {losses:?}");
        assert!(valid[11] < valid[0], "{backend:?}: {valid:?}");
        assert_eq!(t.history().len(), 12);
    }
}

#[test]
fn classifier_loss_falls() {
    let device = CpuBackend::NdArray.device();
    let task = ClassifyTask {
        train: digits(64),
        valid: Mnist::default(),
        max_shift: 0,
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

#[test]
fn divergence_stops_with_a_clear_error() {
    let device = CpuBackend::NdArray.device();
    let task = ClassifyTask {
        train: digits(64),
        valid: Mnist::default(),
        max_shift: 0,
    };
    // An absurd learning rate blows the weights up within a few steps.
    let mut t = Trainer::new(
        task,
        ClassifierConfig::new().init(&device),
        cfg(50, 16, 1e9),
        &device,
    )
    .unwrap();
    let err = block_on(t.run(|_| {})).unwrap_err();
    match &err {
        TrainError::Diverged { loss, .. } => assert!(!loss.is_finite()),
        other => panic!("expected divergence, got {other:?}"),
    }
    assert!(err.to_string().contains("diverged"));
}

#[test]
fn cancellation_and_progress() {
    let device = CpuBackend::NdArray.device();
    let task = DenoiseTask {
        train: digits(40),
        valid: Mnist::default(),
        noise: NoiseSpec::Range(0.3, 0.9),
        valid_seed: 1,
    };
    let mut t = Trainer::new(
        task,
        DenoiserConfig::canonical().init(&device),
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
            if seen == 3 {
                token.cancel();
            }
        }
    }))
    .unwrap_err();
    assert_eq!(err, TrainError::Cancelled);
    assert_eq!(seen, 3);
    // Empty data is refused up front.
    let empty = DenoiseTask {
        train: Mnist::default(),
        valid: Mnist::default(),
        noise: NoiseSpec::Fixed(0.5),
        valid_seed: 1,
    };
    assert!(matches!(
        Trainer::new(
            empty,
            DenoiserConfig::canonical().init(&device),
            cfg(1, 10, 1e-3),
            &device
        ),
        Err(TrainError::Empty)
    ));
}
