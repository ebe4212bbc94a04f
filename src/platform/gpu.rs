//! The native GPU backends: burn's wgpu runtime on the system's own graphics
//! API (Vulkan, Metal or DirectX 12; the `wgpu` feature, on by default) and
//! burn's CUDA runtime (the `cuda` feature, off by default). The CLI names
//! them with `--backend`; the labs and the `Trainer` run on them unchanged,
//! through burn's own ops (the engine's kernels are CPU-only).

use super::CpuBackend;
use burn::tensor::Device;

/// Every backend the native CLI can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeBackend {
    /// One of the CPU backends.
    Cpu(CpuBackend),
    /// burn's wgpu runtime, pinned to the system's native graphics API.
    #[cfg(feature = "wgpu")]
    Wgpu,
    /// burn's CUDA runtime, on the first CUDA device.
    #[cfg(feature = "cuda")]
    Cuda,
}

impl NativeBackend {
    /// Every backend in this build: the CPU ones (the default first), then
    /// the GPU ones.
    pub fn all() -> Vec<NativeBackend> {
        let mut all: Vec<NativeBackend> = CpuBackend::ALL.iter().map(|&c| Self::Cpu(c)).collect();
        #[cfg(feature = "wgpu")]
        all.push(Self::Wgpu);
        #[cfg(feature = "cuda")]
        all.push(Self::Cuda);
        all
    }

    /// The backend named `s` ("flex", "ndarray", "wgpu", "cuda").
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(b) = Self::all().into_iter().find(|b| b.name() == s) {
            return Ok(b);
        }
        let names: Vec<String> = Self::all()
            .iter()
            .map(|b| format!("'{}'", b.name()))
            .collect();
        match s {
            "wgpu" => Err(
                "this aelab was built without the wgpu backend (cargo feature 'wgpu'); \
                 use --backend flex"
                    .into(),
            ),
            "cuda" => Err("this aelab was built without CUDA: build it with \
                 `cargo build --release --features cuda` (docs/performance.md); \
                 use --backend flex meanwhile"
                .into()),
            "ndarray" => CpuBackend::parse(s).map(Self::Cpu),
            _ => Err(format!(
                "unknown backend '{s}': expected {}",
                names.join(", ")
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu(c) => c.name(),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => "wgpu",
            #[cfg(feature = "cuda")]
            Self::Cuda => "cuda",
        }
    }

    /// Whether this is a GPU backend (the engine's CPU kernels do not apply).
    pub fn is_gpu(self) -> bool {
        !matches!(self, Self::Cpu(_))
    }

    /// The backend's device, set up once per process. A GPU that is not
    /// there is an error in words, never a panic.
    pub fn device(self) -> Result<Device, String> {
        match self {
            Self::Cpu(c) => Ok(c.device()),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => wgpu_device(),
            #[cfg(feature = "cuda")]
            Self::Cuda => cuda_device(),
        }
    }

    /// What the device is, for the CLI's first line on a GPU ("wgpu on
    /// Vulkan: llvmpipe (LLVM 15.0.6, 256 bits)").
    pub fn describe(self) -> String {
        match self {
            Self::Cpu(c) => c.name().to_string(),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => match WGPU.get() {
                Some(Ok((_, what))) => format!("wgpu on {what}"),
                _ => "wgpu".into(),
            },
            #[cfg(feature = "cuda")]
            Self::Cuda => "cuda (device 0)".into(),
        }
    }
}

/// The graphics APIs tried for `--backend wgpu`, in order: the system's
/// own, never OpenGL. Pinning matters: wgpu's automatic choice would fall
/// back to Mesa's GL on a machine without a Vulkan driver, and run there
/// slowly instead of saying so.
#[cfg(feature = "wgpu")]
fn native_apis() -> &'static [burn::tensor::wgpu::WgpuBackend] {
    use burn::tensor::wgpu::WgpuBackend as Api;
    if cfg!(any(target_os = "macos", target_os = "ios")) {
        &[Api::Metal]
    } else if cfg!(target_os = "windows") {
        &[Api::Dx12, Api::Vulkan]
    } else {
        &[Api::Vulkan]
    }
}

#[cfg(feature = "wgpu")]
static WGPU: std::sync::OnceLock<Result<(Device, String), String>> = std::sync::OnceLock::new();

/// The wgpu device, initialised once per process (burn registers one
/// runtime per device; a second initialisation would fail).
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, String> {
    WGPU.get_or_init(init_wgpu)
        .as_ref()
        .map(|(d, _)| d.clone())
        .map_err(Clone::clone)
}

#[cfg(feature = "wgpu")]
fn init_wgpu() -> Result<(Device, String), String> {
    use burn::tensor::wgpu::WgpuInitError as E;
    let mut why = Vec::new();
    for &api in native_apis() {
        match Device::wgpu_options().graphics_api(api).init_with_setup() {
            Ok((device, setup)) => {
                let info = setup.adapter.get_info();
                return Ok((device, format!("{:?}: {}", api, info.name)));
            }
            Err(E::AdapterUnavailable { .. }) | Err(E::UnsupportedGraphicsApi { .. }) => {}
            Err(e) => why.push(format!("{api:?}: {e}")),
        }
    }
    let mut message = "no Vulkan/Metal/DX12 adapter found; use --backend flex".to_string();
    if !why.is_empty() {
        message.push_str(&format!(" ({})", why.join("; ")));
    }
    Err(message)
}

/// The first CUDA device. burn's CUDA runtime starts on the first tensor
/// and panics when there is no driver or device, so a one-element tensor
/// is made here, with the panic caught and put in words.
#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device, String> {
    static CUDA: std::sync::OnceLock<Result<Device, String>> = std::sync::OnceLock::new();
    CUDA.get_or_init(|| {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let probe = std::panic::catch_unwind(|| {
            let device = Device::cuda(0);
            let t = burn::tensor::Tensor::<1>::ones([1], &device);
            let _ = t.into_data();
            device
        });
        std::panic::set_hook(hook);
        probe.map_err(|p| {
            let detail = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let detail = detail.lines().next().unwrap_or("").trim().to_string();
            if detail.is_empty() {
                "no CUDA device found; use --backend flex".into()
            } else {
                format!("no CUDA device found ({detail}); use --backend flex")
            }
        })
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::NativeBackend;

    #[test]
    fn every_native_backend_parses_from_its_name_and_the_missing_ones_say_how_to_get_them() {
        for b in NativeBackend::all() {
            assert_eq!(NativeBackend::parse(b.name()), Ok(b));
        }
        assert_eq!(
            NativeBackend::parse("flex").map(NativeBackend::is_gpu),
            Ok(false)
        );
        let err = NativeBackend::parse("tpu").unwrap_err();
        assert!(err.contains("unknown backend 'tpu'"), "{err}");
        assert!(err.contains("'flex'"), "{err}");
        #[cfg(feature = "wgpu")]
        assert!(err.contains("'wgpu'"), "{err}");
        #[cfg(not(feature = "cuda"))]
        assert!(
            NativeBackend::parse("cuda")
                .unwrap_err()
                .contains("--features cuda"),
            "a build without CUDA says how to build it"
        );
    }
}
