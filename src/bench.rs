//! Benchmarks shared by `cargo bench --bench denoise` and `aelab bench`:
//! training throughput of the denoisers at batch 128 (images/s) and the
//! latency of denoising one digit, on each CPU backend. Synthetic digits,
//! so no assets are needed.

use crate::data::{Mnist, PIXELS};
use crate::infer;
use crate::labs::denoise::{DenoiseTask, NoiseSpec};
use crate::models::{DenoiserConfig, DenoiserKind};
use crate::platform::now_ms;
#[cfg(not(target_arch = "wasm32"))]
use crate::platform::CpuBackend;
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

/// What one benchmark run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Measurement {
    pub batch: usize,
    pub steps: usize,
    pub train_images_per_sec: f64,
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
    };
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: batch,
        learning_rate: 1e-3,
        schedule: Schedule::Constant,
        seed: 1,
    };
    let config = DenoiserConfig::new().with_kind(kind);
    let mut trainer =
        Trainer::new(task, config.init(device), cfg, device).map_err(|e| e.to_string())?;
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
    let ips = n as f64 / ((now_ms() - t0) / 1000.0).max(1e-9);
    let model = trainer.into_model();
    let one = vec![0.5f32; PIXELS];
    for _ in 0..5 {
        infer::denoise(&model, &one, device).await?;
    }
    let t0 = now_ms();
    for _ in 0..reps {
        infer::denoise(&model, &one, device).await?;
    }
    Ok(Measurement {
        batch,
        steps,
        train_images_per_sec: ips,
        denoise_one_ms: (now_ms() - t0) / reps.max(1) as f64,
        denoise_one_runs: reps,
    })
}

/// Prints a Markdown table of the measurements; `quick` for a smoke run.
#[cfg(not(target_arch = "wasm32"))]
pub fn run(quick: bool, backends: &[CpuBackend]) {
    let batch = 128;
    println!("| backend | model | train images/s (batch {batch}) | denoise one digit (ms) |");
    println!("|---|---|---|---|");
    for &backend in backends {
        // NdArray trains about 20x slower than Flex: time fewer steps there.
        let steps = match (quick, backend) {
            (true, _) => 2,
            (false, CpuBackend::Flex) => 20,
            #[cfg(feature = "ndarray")]
            (false, CpuBackend::NdArray) => 3,
        };
        let reps = if quick { 20 } else { 200 };
        for kind in [DenoiserKind::Canonical, DenoiserKind::Skip] {
            let set = synthetic(batch * (steps + 2));
            let m = crate::platform::block_on(measure(
                &backend.device(),
                kind,
                set,
                batch,
                2,
                steps,
                reps,
            ))
            .unwrap();
            println!(
                "| {} | {} | {:.0} | {:.3} |",
                backend.name(),
                kind.name(),
                m.train_images_per_sec,
                m.denoise_one_ms
            );
        }
    }
}
