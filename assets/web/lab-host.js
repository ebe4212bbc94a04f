// @ts-check
// The lab's session, where the page's views compute: the pad's denoising
// and verdicts, the charts, the Augment tab's generator and the Anomaly
// tab's plots. It runs in the lab worker (lab-worker.js), so that the
// page's thread only handles the DOM; from file:// and in aelab.html, where
// a page cannot start module workers, on the page's thread. Either way the
// page calls it through remote.js; `api` is what it offers.

/** The module's API (wasm-bindgen's glue). @typedef {typeof import('./aelab.js')} Module */
/**
 * The module this host runs, once started: the CPU-only one (cpu/, a third
 * of the size: the page's first load) or the WebGPU one (aelab.js). A host
 * keeps its module; a session on WebGPU in a host on the CPU-only one makes
 * the page start a new lab worker on the WebGPU module (app.js).
 * @type {Module}
 */
let aelab;

/** @type {any} */
const scope = globalThis;

/** News for the page ('gpu-lost'); the host's setup sets it. @type {(msg: any) => void} */
let tell = () => {};

// Every GPUDevice the module asks for, so that a lost one is reported to
// the page at once (it moves to the CPU), and the tests can destroy them
// (window.aelabTest.loseGpu).
/** @type {GPUDevice[]} */
const gpuDevices = [];
/** The device of the last session started on WebGPU. @type {GPUDevice | null} */
let current = null;
if (scope.GPUAdapter && scope.GPUAdapter.prototype.requestDevice) {
  const request = scope.GPUAdapter.prototype.requestDevice;
  scope.GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await request.apply(this, args);
    gpuDevices.push(device);
    device.lost.then((info) => tell({ kind: 'gpu-lost', current: device === current, reason: info.reason, message: info.message }));
    return device;
  };
}

/** @type {Promise<Module> | null} */
let ready = null;

/**
 * Loads the module: the CPU-only one where it can, unless `gpu`. From a
 * web server only: from file:// and in aelab.html the host runs on the
 * page's thread, where the WebGPU module is the one at hand.
 * @param {boolean} gpu @returns {Promise<Module>}
 */
async function load(gpu) {
  if (!gpu && /^https?:$/.test(scope.location.protocol)) {
    try {
      // Not a literal: aelab.html embeds the WebGPU module only.
      const url = new URL('./cpu/aelab.js', import.meta.url).href;
      /** @type {Module} */
      const cpu = await import(url);
      await cpu.default({ module_or_path: new URL('./cpu/aelab_bg.wasm', import.meta.url).href });
      return cpu;
    } catch (e) {
      console.warn(`the CPU-only module did not load (${e && e.message ? e.message : e}); loading the WebGPU one`);
    }
  }
  const full = await import('./aelab.js');
  // A relative path, as aelab.html's fetch answers it.
  await full.default({ module_or_path: 'aelab_bg.wasm' });
  return full;
}

export const api = {
  /**
   * Starts the module (once: the CPU-only one unless `gpu`) and says what
   * it offers: its CPU backends, the forms' defaults, and whether it has
   * WebGPU.
   * @param {boolean} [gpu]
   */
  async start(gpu = false) {
    if (!ready) ready = load(gpu);
    aelab = await ready;
    return { cpu_backends: aelab.cpu_backends(), form_defaults: aelab.form_defaults(), webgpu: aelab.has_webgpu() };
  },
  /** A session on `choice` (Lab.create). @param {string} choice */
  async createLab(choice) {
    const before = gpuDevices.length;
    const lab = await aelab.Lab.create(choice);
    if (lab.backend === 'webgpu' && gpuDevices.length > before) current = gpuDevices[gpuDevices.length - 1];
    return lab;
  },
  /** @param {number} epochs */
  lossChart: (epochs) => new aelab.LossChart(epochs),
  /** @param {Uint8Array} bytes */
  weights_kind: (bytes) => aelab.weights_kind(bytes),
  // The model designer's calls (src/web/design.rs).
  /** @param {string} json @param {string} lab @param {number} batch */
  spec_design: (json, lab, batch) => aelab.spec_design(json, lab, batch),
  /** @param {string} json @param {string} lang */
  spec_code: (json, lang) => aelab.spec_code(json, lang),
  spec_presets: () => aelab.spec_presets(),
  spec_layer_types: () => aelab.spec_layer_types(),
  // The run tables' calls (src/web/runs.rs).
  /** @param {string} lab @param {Uint8Array} weights @param {any} measured @param {string} started @param {number} seconds */
  run_record: (lab, weights, measured, started, seconds) => aelab.run_record(lab, weights, measured, started, seconds),
  /** @param {any[]} rows */
  runs_csv: (rows) => aelab.runs_csv(rows),
  // The workspace file (src/web/workspace.rs).
  /** @param {string} entries @param {Uint8Array[]} blobs @param {string} saved */
  workspace_pack: (entries, blobs, saved) => aelab.workspace_pack(entries, blobs, saved),
  /** @param {Uint8Array} bytes */
  workspace_unpack: (bytes) => aelab.workspace_unpack(bytes),
  /** Destroys every WebGPU device (the lost-device test); how many. */
  loseGpu() {
    for (const d of gpuDevices) d.destroy();
    return gpuDevices.length;
  },
};

/** Where news for the page goes. @param {(msg: any) => void} f */
export function onNews(f) { tell = f; }
