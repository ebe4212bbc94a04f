// @ts-check
// The lab's session, where the page's views compute: the pad's denoising
// and verdicts, the charts, the Augment tab's generator and the Anomaly
// tab's plots. It runs in the lab worker (lab-worker.js), so that the
// page's thread only handles the DOM; from file:// and in aelab.html, where
// a page cannot start module workers, on the page's thread. Either way the
// page calls it through remote.js; `api` is what it offers.
import init, * as aelab from './aelab.js';

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

/** @type {Promise<any> | null} */
let ready = null;

export const api = {
  /**
   * Starts the module (once) and says what the build offers: its CPU
   * backends and the forms' defaults.
   */
  async start() {
    if (!ready) ready = init({ module_or_path: 'aelab_bg.wasm' });
    await ready;
    return { cpu_backends: aelab.cpu_backends(), form_defaults: aelab.form_defaults() };
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
