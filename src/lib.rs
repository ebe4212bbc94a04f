//! aelab: an autoencoder laboratory.
//!
//! The core (data, models, training, metrics, and one room per lab) is plain
//! Rust on burn, with no platform code; the CLI and the web page are thin
//! layers on top of it.

pub mod data;
pub mod engine;
pub mod fuzzing;
pub mod infer;
pub mod labs;
pub mod metrics;
pub mod models;
pub mod platform;
pub mod rng;
pub mod training;
pub mod workspace;

pub mod bench;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod figure;

/// The thin wasm-bindgen layer the page talks to.
#[cfg(target_arch = "wasm32")]
pub mod web;
