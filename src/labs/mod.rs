//! One room for each lab of the course: denoising, augmentation and anomaly
//! detection.

pub mod anomaly;
pub mod augment;
pub mod denoise;
pub mod runs;
