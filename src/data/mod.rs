//! Datasets: the IDX reader and MNIST, time series from CSV, and the
//! machine-signal generator.

pub mod idx;
pub mod machine;
pub mod mnist;
pub mod preprocess;
pub mod series;

pub use idx::IdxError;
pub use mnist::{Mnist, Split, PIXELS, SIDE};

/// Loads an MNIST split from a directory holding the gzipped IDX assets
/// written by `scripts/fetch-data.sh` (`assets/mnist`). Native only.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_mnist(dir: &std::path::Path, split: Split) -> Result<Mnist, String> {
    let (im, lb) = split.file_names();
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let images = read(im)?;
    let labels = read(lb)?;
    Mnist::from_idx(&images, &labels).map_err(|e| format!("{}: {e}", dir.join(im).display()))
}

/// The directory of the committed assets: `$AELAB_ASSETS`, else `assets/`
/// in the current directory when it has MNIST, else `assets/` beside the
/// Cargo.toml the binary was built from. (The build path alone goes stale
/// when several checkouts share one target directory.)
#[cfg(not(target_arch = "wasm32"))]
pub fn assets_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("AELAB_ASSETS") {
        return dir.into();
    }
    let here = std::path::PathBuf::from("assets");
    if here.join("mnist").is_dir() {
        return here;
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// Loads `ECG5000_TRAIN` or `ECG5000_TEST` from the gzipped assets
/// (`assets/ecg5000`). Native only.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_ecg5000(dir: &std::path::Path, split: Split) -> Result<series::SeriesSet, String> {
    let name = match split {
        Split::Train => "ECG5000_TRAIN.tsv.gz",
        Split::Test => "ECG5000_TEST.tsv.gz",
    };
    let p = dir.join(name);
    let bytes = std::fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    series::ecg5000(&bytes).map_err(|e| format!("{}: {e}", p.display()))
}
