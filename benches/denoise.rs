//! `cargo bench --bench denoise`: see `aelab::bench`. Set
//! AELAB_BENCH_QUICK=1 for a short smoke run.

fn main() {
    aelab::platform::tune_allocator();
    let plan = if std::env::var_os("AELAB_BENCH_QUICK").is_some() {
        aelab::bench::BenchPlan::quick()
    } else {
        aelab::bench::BenchPlan::full()
    };
    if let Err(e) = aelab::bench::run(&plan) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
