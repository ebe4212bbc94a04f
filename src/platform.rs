//! The one place where native and wasm differ for the core: the clock, the
//! default CPU device, and driving the async training step to completion.

use burn::tensor::Device;

#[cfg(not(target_arch = "wasm32"))]
mod gpu;
#[cfg(not(target_arch = "wasm32"))]
pub use gpu::NativeBackend;

/// Milliseconds from an arbitrary origin, monotonic where the platform has it.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

/// `performance.now()` of the page or worker (sub-millisecond, monotonic),
/// `Date.now()` where there is none.
#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> f64 {
    use wasm_bindgen::JsCast;
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// Keeps freed memory for reuse instead of handing it back to the kernel.
///
/// A training step frees and allocates the same few-megabyte activation and
/// gradient buffers every time. glibc serves blocks that large with fresh
/// `mmap`s and unmaps them on free, so each step paid for page faults and
/// TLB shootdowns on every buffer (16 % of a profiled training run). A fixed
/// mmap threshold of 256 MB keeps them in the heap, and a trim threshold as
/// high keeps the heap from shrinking between steps. Natively, on glibc
/// only; the CLI and `cargo bench` call it at start.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const LIMIT: libc::c_int = 256 << 20;
        // SAFETY: mallopt only sets allocator parameters; it is called at
        // start-up, before other threads allocate.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, LIMIT);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 2 * LIMIT);
        }
    }
}

/// The CPU backends aelab can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuBackend {
    /// burn's pure-Rust Flex backend (gemm-based; the default).
    Flex,
    /// burn's NdArray backend (deprecated upstream, kept for comparison
    /// natively; the page is built without it: the `ndarray` feature).
    #[cfg(feature = "ndarray")]
    NdArray,
}

impl CpuBackend {
    /// Every CPU backend in this build, the default first.
    pub const ALL: &'static [CpuBackend] = &[
        CpuBackend::Flex,
        #[cfg(feature = "ndarray")]
        CpuBackend::NdArray,
    ];

    /// The names `parse` accepts, for error messages: "'flex' or 'ndarray'".
    fn expected() -> String {
        let names: Vec<String> = Self::ALL
            .iter()
            .map(|b| format!("'{}'", b.name()))
            .collect();
        names.join(" or ")
    }

    /// The backend named `s`, from the names in `ALL`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(&b) = Self::ALL.iter().find(|b| b.name() == s) {
            return Ok(b);
        }
        if s == "ndarray" {
            // Only reached in a build without the `ndarray` feature.
            return Err(
                "the NdArray backend is not part of this build (it is about 16x slower \
                 than Flex in wasm, so the page leaves it out to load faster); use 'flex'"
                    .to_string(),
            );
        }
        Err(format!(
            "unknown backend '{s}': expected {}",
            Self::expected()
        ))
    }

    pub fn name(self) -> &'static str {
        match self {
            CpuBackend::Flex => "flex",
            #[cfg(feature = "ndarray")]
            CpuBackend::NdArray => "ndarray",
        }
    }

    pub fn device(self) -> Device {
        match self {
            CpuBackend::Flex => Device::flex(),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            CpuBackend::NdArray => Device::ndarray(),
        }
    }
}

/// The device the unit tests run on: NdArray, as the project's tests use
/// (Flex in a build without it).
#[cfg(test)]
pub fn test_device() -> Device {
    #[cfg(feature = "ndarray")]
    return CpuBackend::NdArray.device();
    #[cfg(not(feature = "ndarray"))]
    return CpuBackend::Flex.device();
}

/// Runs a future to completion on the current thread. On the CPU backends
/// every tensor read is ready at once, so this never really waits; on a
/// GPU (`--backend wgpu`) a read waits for the device, and the thread parks
/// between polls (for at most a millisecond, in case the runtime's future
/// does not wake it).
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park_timeout(std::time::Duration::from_millis(1)),
        }
    }
}

/// Runs the module's static constructors, once (later calls do nothing).
/// cubecl registers its IR dialects through `inventory`, about 4900
/// constructors in the single-threaded module, and WebGPU needs them
/// before its first kernel. The module calls this from its start
/// (`web::start`) and from [`webgpu_device`] (tests have no start).
///
/// The explicit call matters for speed too: a module that never calls
/// `__wasm_call_ctors` itself is linked "command-style", and wasm-ld then
/// wraps every export (wasm-bindgen's externref helpers too) in a call to
/// all the constructors, which cost each call into the module milliseconds
/// (docs/performance.md). The threaded module links no constructors.
/// `scripts/build-web.sh` checks that neither module wraps its exports.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub fn run_static_constructors() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: the linker's own function, called once per instance; the
    // constructors only register cubecl's types (and `inventory` guards
    // each against a second run).
    ONCE.call_once(|| unsafe { __wasm_call_ctors() });
}

/// Nothing to run: the threaded module and native builds have no
/// command-style wrappers (natively the loader runs the constructors).
#[cfg(not(all(target_arch = "wasm32", not(target_feature = "atomics"))))]
pub fn run_static_constructors() {}

/// The browser's WebGPU device, initialised once per page: burn registers
/// one server per device, so a second initialisation fails; later calls
/// (a switch back to WebGPU, another session) reuse the first device.
#[cfg(all(target_arch = "wasm32", feature = "webgpu"))]
pub async fn webgpu_device() -> Result<Device, String> {
    use burn::tensor::wgpu::WgpuBackend;
    use std::cell::RefCell;
    thread_local! {
        static GPU: RefCell<Option<Device>> = const { RefCell::new(None) };
    }
    if let Some(d) = GPU.with(|g| g.borrow().clone()) {
        return Ok(d);
    }
    run_static_constructors();
    let device = Device::wgpu_options()
        .graphics_api(WgpuBackend::WebGpu)
        .init_async()
        .await
        .map_err(|e| describe_webgpu_error(&e))?;
    GPU.with(|g| *g.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// The page's CPU-only modules (the first one it loads, and the threaded
/// one, built with atomics, where wgpu's WebGPU types are not `Send`) have
/// no WebGPU: the page loads the WebGPU module (the `webgpu` feature) for it.
#[cfg(all(target_arch = "wasm32", not(feature = "webgpu")))]
pub async fn webgpu_device() -> Result<Device, String> {
    Err("this is aelab's CPU module, which has no WebGPU".into())
}

/// Whether this module has WebGPU (the `webgpu` feature).
pub const HAS_WEBGPU: bool = cfg!(feature = "webgpu");

/// How many threads the CPU backends compute on: rayon's pool natively and
/// in the threaded module, 1 in the single-threaded module.
pub fn cpu_threads() -> usize {
    crate::engine::par::threads()
}

/// Why WebGPU cannot start, in words for the page's banner (never the
/// error's debug form).
#[cfg(all(target_arch = "wasm32", feature = "webgpu"))]
fn describe_webgpu_error(e: &burn::tensor::wgpu::WgpuInitError) -> String {
    use burn::tensor::wgpu::WgpuInitError as E;
    match e {
        E::AdapterUnavailable { .. } => "this browser offers no WebGPU adapter".into(),
        E::RequestDevice { message } => format!("the GPU refused a device: {message}"),
        E::UnsupportedGraphicsApi { .. } => "this build has no WebGPU support".into(),
        E::InvalidConfiguration { message } | E::Registration { message } => {
            format!("WebGPU could not be set up: {message}")
        }
        #[allow(unreachable_patterns)]
        other => other.to_string(),
    }
}

/// Lets the browser handle input and paint between chunks of a long
/// computation (a macrotask turn). On the CPU backends a tensor read is
/// ready at once, so without this a long evaluation would freeze the tab.
/// `scheduler.yield()` where the browser has it: a chain of `setTimeout(0)`
/// is clamped to 4 ms a turn on the page's thread after the fifth, which a
/// 500-image evaluation paid on every chunk. Natively it does nothing.
#[cfg(target_arch = "wasm32")]
pub async fn yield_now() {
    use wasm_bindgen::JsCast;
    let global = js_sys::global();
    if let Ok(scheduler) = js_sys::Reflect::get(&global, &"scheduler".into()) {
        if let Ok(f) = js_sys::Reflect::get(&scheduler, &"yield".into()) {
            if let Some(f) = f.dyn_ref::<js_sys::Function>() {
                if let Ok(p) = f.call0(&scheduler) {
                    if let Ok(p) = p.dyn_into::<js_sys::Promise>() {
                        let _ = wasm_bindgen_futures::JsFuture::from(p).await;
                        return;
                    }
                }
            }
        }
    }
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let global = js_sys::global();
        if let Ok(f) = js_sys::Reflect::get(&global, &"setTimeout".into()) {
            if let Some(f) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Function>(&f) {
                let _ = f.call2(&global, &resolve, &0.into());
                return;
            }
        }
        let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(not(target_arch = "wasm32"))]
pub async fn yield_now() {}

#[cfg(test)]
mod tests {
    use super::CpuBackend;

    #[test]
    fn every_backend_parses_from_its_name_and_unknown_names_are_refused() {
        for &b in CpuBackend::ALL {
            assert_eq!(CpuBackend::parse(b.name()), Ok(b));
        }
        let err = CpuBackend::parse("tpu").unwrap_err();
        assert!(err.contains("unknown backend 'tpu'"), "{err}");
        #[cfg(feature = "ndarray")]
        assert!(err.contains("expected 'flex' or 'ndarray'"), "{err}");
        #[cfg(not(feature = "ndarray"))]
        assert!(CpuBackend::parse("ndarray")
            .unwrap_err()
            .contains("not part of this build"));
    }
}
