//! Datasets: the IDX reader and MNIST.

pub mod idx;
pub mod mnist;
pub mod preprocess;

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
