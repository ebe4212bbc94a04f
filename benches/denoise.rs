//! `cargo bench --bench denoise`: see `aelab::bench`. Set
//! AELAB_BENCH_QUICK=1 for a short smoke run.

fn main() {
    let quick = std::env::var_os("AELAB_BENCH_QUICK").is_some();
    aelab::bench::run(quick, aelab::platform::CpuBackend::ALL);
}
