//! One room for each lab of the course: denoising and augmentation (anomaly
//! detection comes with its issue).

pub mod augment;
pub mod denoise;
