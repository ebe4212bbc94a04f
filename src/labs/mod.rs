//! One room for each lab of the course. Denoising is here; augmentation and
//! anomaly detection come with their issues.

pub mod denoise;
