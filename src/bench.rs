//! Benchmarks shared by `cargo bench --bench denoise`, `aelab bench` and
//! the page's bench: training throughput (images/s) of the denoisers and
//! the classifier at a chosen batch size, and the latency of denoising (or
//! classifying) one digit, on each CPU backend, with the engine's kernels
//! or burn's, and natively on a GPU backend (wgpu, CUDA). Synthetic
//! digits, so no assets are needed.

use crate::data::{Mnist, PIXELS};
#[cfg(not(target_arch = "wasm32"))]
use crate::engine::Kernels;
use crate::infer;
use crate::labs::denoise::{DenoiseTask, NoiseSpec};
use crate::models::{ClassifierConfig, DenoiserConfig, DenoiserKind};
use crate::platform::now_ms;
#[cfg(not(target_arch = "wasm32"))]
use crate::platform::{CpuBackend, NativeBackend};
use crate::training::classify::ClassifyTask;
use crate::training::{Event, Schedule, TrainConfig, Trainer};
use burn::prelude::*;

/// `n` synthetic digits (thick strokes at random angles), for benchmarking
/// without the dataset.
pub fn synthetic(n: usize) -> Mnist {
    let mut rng = crate::rng::Rng::new(9);
    let mut images = vec![0u8; n * PIXELS];
    for img in images.chunks_mut(PIXELS) {
        // A thick stroke at a random angle through the centre.
        let a = rng.uniform() * std::f32::consts::PI;
        for t in -10..=10 {
            for w in -1..=1 {
                let x = (14.0 + t as f32 * a.cos() - w as f32 * a.sin()).round() as usize;
                let y = (14.0 + t as f32 * a.sin() + w as f32 * a.cos()).round() as usize;
                if x < 28 && y < 28 {
                    img[y * 28 + x] = 255;
                }
            }
        }
    }
    Mnist {
        images,
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
    }
}

/// The models the benchmark trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum BenchModel {
    /// The Keras-blog denoiser (28 353 parameters), as in the PyTorch peer.
    Canonical,
    /// The shipped skip denoiser.
    Skip,
    /// The digit classifier (with batch norm and dropout).
    Classifier,
}

impl BenchModel {
    pub const ALL: [BenchModel; 3] = [
        BenchModel::Canonical,
        BenchModel::Skip,
        BenchModel::Classifier,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BenchModel::Canonical => "canonical",
            BenchModel::Skip => "skip",
            BenchModel::Classifier => "classifier",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown model '{s}': expected canonical, skip or classifier"))
    }
}

/// What one benchmark run measured.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Measurement {
    pub batch: usize,
    pub steps: usize,
    pub train_images_per_sec: f64,
    /// Denoising (or, for the classifier, classifying) one digit.
    pub denoise_one_ms: f64,
    pub denoise_one_runs: usize,
}

/// Trains a fresh `kind` denoiser on `set` at `batch` images per step:
/// `warmup` untimed steps (allocation, shader compilation), then `steps`
/// timed ones; then times `reps` one-digit denoisings. Async, so the page
/// runs the same code as `aelab bench`.
pub async fn measure(
    device: &Device,
    kind: DenoiserKind,
    set: Mnist,
    batch: usize,
    warmup: usize,
    steps: usize,
    reps: usize,
) -> Result<Measurement, String> {
    let task = DenoiseTask {
        train: set,
        valid: Mnist::default(),
        noise: NoiseSpec::Range(0.3, 0.9),
        valid_seed: 1,
        loss: crate::training::Loss::Bce,
    };
    let spec = crate::models::spec::presets::denoiser(&DenoiserConfig::new().with_kind(kind));
    let model = crate::models::Net::build(&spec, device).map_err(|e| e.message)?;
    let mut trainer =
        Trainer::new(task, model, bench_config(batch), device).map_err(|e| e.to_string())?;
    let ips = time_steps(&mut trainer, batch, warmup, steps).await?;
    let model = trainer.into_model();
    let one = vec![0.5f32; PIXELS];
    let ms = time_calls(reps, || infer::denoise(&model, &one, device)).await?;
    Ok(Measurement {
        batch,
        steps,
        train_images_per_sec: ips,
        denoise_one_ms: ms,
        denoise_one_runs: reps,
    })
}

/// The classifier's counterpart of [`measure`]: training throughput with
/// its shifts, then the time to classify one digit.
pub async fn measure_classifier(
    device: &Device,
    set: Mnist,
    batch: usize,
    warmup: usize,
    steps: usize,
    reps: usize,
) -> Result<Measurement, String> {
    let task = ClassifyTask {
        train: set,
        valid: Mnist::default(),
        max_shift: 2,
        affine: None,
    };
    let model = ClassifierConfig::new().init(device);
    let mut trainer =
        Trainer::new(task, model, bench_config(batch), device).map_err(|e| e.to_string())?;
    let ips = time_steps(&mut trainer, batch, warmup, steps).await?;
    let model = trainer.into_model();
    let one = vec![0.5f32; PIXELS];
    let ms = time_calls(reps, || infer::classify(&model, &one, device)).await?;
    Ok(Measurement {
        batch,
        steps,
        train_images_per_sec: ips,
        denoise_one_ms: ms,
        denoise_one_runs: reps,
    })
}

/// Either model's measurement.
pub async fn measure_model(
    device: &Device,
    model: BenchModel,
    batch: usize,
    warmup: usize,
    steps: usize,
    reps: usize,
) -> Result<Measurement, String> {
    let set = synthetic(batch * (warmup + steps + 1));
    match model {
        BenchModel::Canonical => {
            measure(
                device,
                DenoiserKind::Canonical,
                set,
                batch,
                warmup,
                steps,
                reps,
            )
            .await
        }
        BenchModel::Skip => {
            measure(device, DenoiserKind::Skip, set, batch, warmup, steps, reps).await
        }
        BenchModel::Classifier => measure_classifier(device, set, batch, warmup, steps, reps).await,
    }
}

fn bench_config(batch: usize) -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch_size: batch,
        learning_rate: 1e-3,
        schedule: Schedule::Constant,
        seed: 1,
        ..TrainConfig::default()
    }
}

/// Images per second over `steps` timed training steps, after `warmup`.
async fn time_steps<T: crate::training::Task>(
    trainer: &mut Trainer<T>,
    batch: usize,
    warmup: usize,
    steps: usize,
) -> Result<f64, String> {
    for _ in 0..warmup {
        trainer.step().await.map_err(|e| e.to_string())?;
    }
    let t0 = now_ms();
    let mut n = 0;
    for _ in 0..steps {
        if let Event::Step(_) = trainer.step().await.map_err(|e| e.to_string())? {
            n += batch;
        }
    }
    Ok(n as f64 / ((now_ms() - t0) / 1000.0).max(1e-9))
}

/// Milliseconds per call of `f`, over `reps` calls after 5 untimed ones.
async fn time_calls<R, F: std::future::Future<Output = Result<R, String>>>(
    reps: usize,
    f: impl Fn() -> F,
) -> Result<f64, String> {
    for _ in 0..5 {
        f().await?;
    }
    let t0 = now_ms();
    for _ in 0..reps {
        f().await?;
    }
    Ok((now_ms() - t0) / reps.max(1) as f64)
}

/// What `aelab bench` and `cargo bench` run.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub backends: Vec<NativeBackend>,
    pub kernels: Vec<Kernels>,
    pub models: Vec<BenchModel>,
    pub batches: Vec<usize>,
    /// Timed steps per run; `None`: a default per backend and batch.
    pub steps: Option<usize>,
    pub reps: usize,
    /// Also print one JSON line per run.
    pub json: bool,
}

#[cfg(not(target_arch = "wasm32"))]
impl BenchPlan {
    /// Every CPU backend, the engine's kernels, every model at batch 128
    /// and 16.
    pub fn full() -> Self {
        BenchPlan {
            backends: CpuBackend::ALL
                .iter()
                .map(|&c| NativeBackend::Cpu(c))
                .collect(),
            kernels: vec![Kernels::Engine],
            models: BenchModel::ALL.to_vec(),
            batches: vec![128, 16],
            steps: None,
            reps: 200,
            json: false,
        }
    }

    /// A smoke run: two steps of each.
    pub fn quick() -> Self {
        BenchPlan {
            steps: Some(2),
            reps: 20,
            ..Self::full()
        }
    }

    fn steps_for(&self, backend: NativeBackend, batch: usize) -> usize {
        if let Some(s) = self.steps {
            return s;
        }
        // About 2 500 images per run on Flex; NdArray is ~20x slower; a
        // GPU gets ten times Flex's share.
        let images = match backend {
            NativeBackend::Cpu(CpuBackend::Flex) => 2560,
            #[cfg(feature = "ndarray")]
            NativeBackend::Cpu(CpuBackend::NdArray) => 384,
            #[allow(unreachable_patterns)]
            _ => 25600,
        };
        (images / batch.max(1)).max(3)
    }
}

/// Prints a Markdown table of the measurements (and JSON lines if asked).
/// A GPU backend runs burn's own ops: its rows say "burn" as their kernels,
/// once, whichever CPU kernels the plan compares.
#[cfg(not(target_arch = "wasm32"))]
pub fn run(plan: &BenchPlan) -> Result<(), String> {
    println!("| backend | kernels | model | batch | train images/s | one digit (ms) |");
    println!("|---|---|---|---:|---:|---:|");
    for &backend in &plan.backends {
        let device = backend.device()?;
        let kernels: &[Kernels] = if backend.is_gpu() {
            &[Kernels::Burn]
        } else {
            &plan.kernels
        };
        for &kernels in kernels {
            for &model in &plan.models {
                for &batch in &plan.batches {
                    let steps = plan.steps_for(backend, batch);
                    let m = crate::engine::with_kernels(kernels, || {
                        crate::platform::block_on(measure_model(
                            &device, model, batch, 2, steps, plan.reps,
                        ))
                    })?;
                    println!(
                        "| {} | {} | {} | {batch} | {:.0} | {:.3} |",
                        backend.name(),
                        kernels.name(),
                        model.name(),
                        m.train_images_per_sec,
                        m.denoise_one_ms
                    );
                    if plan.json {
                        println!(
                            "{}",
                            serde_json::json!({
                                "backend": backend.name(),
                                "device": backend.describe(),
                                "kernels": kernels.name(),
                                "model": model.name(),
                                "threads": rayon::current_num_threads(),
                                "measurement": m,
                            })
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
