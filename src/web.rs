//! The thin wasm-bindgen layer between the page and the core. It only
//! converts types and picks the device; the work is done by the same code
//! the CLI runs. (The page itself is the web-lab issue.)

use crate::infer;
use crate::labs::denoise::add_noise;
use crate::models::record::{self, Weights};
use crate::models::{Classifier, Denoiser};
use crate::platform::CpuBackend;
use crate::rng::Rng;
use burn::tensor::wgpu::WgpuBackend;
use burn::tensor::Device;
use js_sys::{Float32Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// Turns a panic into a message in the console (the page shows it too).
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// One lab session: a device and the loaded models.
#[wasm_bindgen]
pub struct Lab {
    device: Device,
    backend: String,
    denoiser: Option<Denoiser>,
    classifier: Option<Classifier>,
}

fn load<M: Weights>(bytes: &[u8], device: &Device) -> Result<M, JsError> {
    record::from_bytes::<M>(bytes, device)
        .map(|(m, _, _)| m)
        .map_err(|e| JsError::new(&e.to_string()))
}

/// A promise that resolves to a Float32Array, or rejects with the message.
fn floats_promise(
    fut: impl std::future::Future<Output = Result<Vec<f32>, String>> + 'static,
) -> Promise {
    future_to_promise(async move {
        let out = fut.await.map_err(|e| JsValue::from(JsError::new(&e)))?;
        Ok(Float32Array::from(out.as_slice()).into())
    })
}

#[wasm_bindgen]
impl Lab {
    /// Starts on WebGPU when `prefer_gpu` is set and an adapter is found,
    /// else on the CPU (burn's Flex backend). `backend()` says which.
    pub async fn create(prefer_gpu: bool) -> Lab {
        let gpu = if prefer_gpu {
            Device::wgpu_options()
                .graphics_api(WgpuBackend::WebGpu)
                .init_async()
                .await
                .map_err(|e| format!(" (WebGPU unavailable: {e:?})"))
        } else {
            Err(String::new())
        };
        let (device, backend) = match gpu {
            Ok(device) => (device, "webgpu".to_string()),
            Err(note) => (CpuBackend::Flex.device(), format!("cpu{note}")),
        };
        Lab {
            device,
            backend,
            denoiser: None,
            classifier: None,
        }
    }

    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// Loads a denoiser weights file; a wrong or corrupt file is an error
    /// with a message, and the current model stays.
    pub fn load_denoiser(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        self.denoiser = Some(load(bytes, &self.device)?);
        Ok(())
    }

    pub fn load_classifier(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        self.classifier = Some(load(bytes, &self.device)?);
        Ok(())
    }

    /// `clip(x + f·N(0,1), 0, 1)` of a 28×28 image, with a seed.
    pub fn add_noise(&self, image: Vec<f32>, factor: f32, seed: u64) -> Vec<f32> {
        add_noise(&image, factor, &mut Rng::new(seed))
    }

    /// Denoises `n` 28×28 images (n·784 floats in [0, 1]); resolves to a
    /// Float32Array of the same length.
    pub fn denoise(&self, images: Vec<f32>) -> Result<Promise, JsError> {
        let model = self
            .denoiser
            .clone()
            .ok_or_else(|| JsError::new("no denoiser is loaded"))?;
        let device = self.device.clone();
        Ok(floats_promise(async move {
            infer::denoise(&model, &images, &device).await
        }))
    }

    /// Class probabilities of `n` images: resolves to n·10 floats.
    pub fn classify(&self, images: Vec<f32>) -> Result<Promise, JsError> {
        let model = self
            .classifier
            .clone()
            .ok_or_else(|| JsError::new("no classifier is loaded"))?;
        let device = self.device.clone();
        Ok(floats_promise(async move {
            infer::probabilities(&model, &images, &device).await
        }))
    }
}
