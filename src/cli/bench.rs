//! `aelab bench`: training throughput and denoising latency (the same code
//! as `cargo bench --bench denoise`).

use crate::bench::{BenchModel, BenchPlan};
use crate::engine::Kernels;
use crate::platform::NativeBackend;
use clap::Args;

#[derive(Args, Debug)]
pub(super) struct BenchArgs {
    /// A short smoke run.
    #[arg(long)]
    quick: bool,
    /// Only these backends (comma-separated): flex, ndarray, wgpu, cuda.
    /// Default: the CPU ones, and beside Flex the GPU one `--backend`
    /// names.
    #[arg(long = "backends", value_delimiter = ',')]
    backends: Vec<String>,
    /// Which CPU kernels: engine (aelab's own, the default), burn
    /// (burn's ops, for comparison), or both.
    #[arg(long, default_value = "engine")]
    kernels: String,
    /// Only these models (comma-separated): canonical, skip, classifier.
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Batch sizes (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [128, 16])]
    batch: Vec<usize>,
    /// Timed training steps per run (default: about 2 560 images).
    #[arg(long)]
    steps: Option<usize>,
    /// Also print one JSON line per run.
    #[arg(long)]
    json: bool,
}

/// The flags as a benchmark plan; `backend` is the global `--backend`.
fn plan(a: BenchArgs, backend: NativeBackend) -> Result<BenchPlan, String> {
    let mut plan = if a.quick {
        BenchPlan::quick()
    } else {
        BenchPlan::full()
    };
    if !a.backends.is_empty() {
        plan.backends = a
            .backends
            .iter()
            .map(|b| NativeBackend::parse(b))
            .collect::<Result<_, _>>()?;
    } else if backend.is_gpu() {
        plan.backends = vec![NativeBackend::parse("flex")?, backend];
    }
    plan.kernels = match a.kernels.as_str() {
        "both" => vec![Kernels::Engine, Kernels::Burn],
        k => vec![Kernels::parse(k).map_err(|e| format!("{e} (or 'both')"))?],
    };
    if !a.models.is_empty() {
        plan.models = a
            .models
            .iter()
            .map(|m| BenchModel::parse(m))
            .collect::<Result<_, _>>()?;
    }
    if a.batch.contains(&0) {
        return Err("the batch size must be at least 1".into());
    }
    plan.batches = a.batch;
    if a.steps == Some(0) {
        return Err("--steps must be at least 1".into());
    }
    plan.steps = a.steps.or(plan.steps);
    plan.json = a.json;
    Ok(plan)
}

pub(super) fn run(a: BenchArgs, backend: NativeBackend) -> Result<(), String> {
    crate::bench::run(&plan(a, backend)?)
}
