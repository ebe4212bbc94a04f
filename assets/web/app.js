// @ts-check
// aelab's page: DOM wiring only. Every number is computed by the Rust core
// (aelab.js / aelab_bg.wasm, built by scripts/build-web.sh from src/web/),
// in the lab worker (lab-worker.js: the pad, the charts, the tabs' views)
// and the compute worker (worker.js: training, the report's table). This
// thread never starts the wasm module, except from file:// and in
// aelab.html, where a page cannot start module workers.
import { $, errText, threadsText, fetchBytes, renderTable, download } from './ui.js';
import { setupDenoise } from './denoise.js';
import { setupAugment } from './augment.js';
import { setupAnomaly } from './anomaly.js';
import * as store from './store.js';
import { Remote, serve } from './remote.js';
import { Compute, workerAvailable, measureBackends, measureRun, runKey, fasterToTrain, fasterToDenoise, measuredText } from './compute.js';

// The compute worker, shared by the tabs that train in it (compute.js).
const compute = new Compute((why) => console.warn(why));
compute.onChange = () => { if (state.lab) showBackend(); };
window.aelabTest = Object.assign(window.aelabTest || {}, {
  // Destroys the WebGPU devices of the lab's session and of the compute worker.
  async loseGpu() { compute.loseGpu(); return state.api ? await state.api.loseGpu() : 0; },
  // Stops the compute worker as a crash would.
  killWorker() { const had = !!compute.worker; compute.lost('the compute worker stopped (killed by the test)'); return had; },
  // Stops the lab worker as a crash would.
  killLabWorker() { const had = !!labWorker; if (labWorker) labLost('the lab worker stopped (killed by the test)'); return had; },
  // Where the lab's session runs: 'worker' or 'page'.
  labWhere: () => (labWorker ? 'worker' : 'page'),
});

const state = {
  /** The lab session's API (lab-host.js), where it runs. @type {import('./ui.js').LabApi | null} */
  api: null,
  /** @type {import('./ui.js').Lab | null} */
  lab: null,
  /** The current session's backend ("webgpu" or a CPU backend's name) and why, after a fallback. */
  backend: '',
  note: '',
  /** Whether the lab's module has WebGPU (the page starts on the CPU-only one). */
  hostGpu: false,
  /** The CPU backends of this build. @type {string[]} */
  cpus: ['flex'],
  // The current lab's handles: { denoise, augment, anomaly }.
  /** @type {import('./ui.js').Labs | null} */
  labs: null,
  bytes: { denoiser: null, classifier: null, pretrained: null, augmenter: null },
  noise: 0.5,
  seed: 1,
  source: 'pad', // or 'test'
  testImage: null,
  busy: false,
  dirty: false,
  testSet: null, // promise
  trainSet: null, // promise
  training: null,
  pretrainedReport: null,
  reportRows: null,
  started: performance.now(),
  tab: 'tab-denoise',
  // The backend asked for: "auto" (the faster one, measured), "webgpu" or a
  // CPU backend's name; the menu shows it.
  choice: 'auto',
  /** What the measurement found (compute.js), once it has. @type {import('./compute.js').Measured | null} */
  measured: null,
  /** The measurement in progress. @type {Promise<void> | null} */
  measuring: null,
};

// ---------- messages ----------
function banner(msg, kind = 'error') {
  const b = $('banner');
  b.textContent = msg;
  b.className = kind === 'info' ? 'banner info' : 'banner';
  b.hidden = false;
}
function clearBanner() { $('banner').hidden = true; }

// ---------- keeping the work (IndexedDB) ----------
let storageWarned = false;
store.onProblem((kind, what, e) => {
  if (kind === 'quota') {
    document.body.dataset.storage = 'full';
    banner(`The browser's storage is full, so ${what} was not saved for the next visit. It stays in this tab: download it before closing the tab. Free space by clearing other sites' data, or with Reset lab.`);
  } else if (!storageWarned) {
    storageWarned = true;
    document.body.dataset.storage = 'unavailable';
    banner(`This browser does not let aelab keep work between visits (${errText(e)}). Everything still works in this tab; download what you want to keep.`, 'info');
  }
});
const save = (key, value, what) => store.put(key, value, what);

// Settings: the value of every labelled control, saved when it changes.
const NOT_SETTINGS = new Set(['model-file', 'an-file', 'an-threshold', 'pick-index', 'backend-select']);
const isSetting = (el) => el && el.id && el.type !== 'file' && !NOT_SETTINGS.has(el.id) && (el.tagName === 'INPUT' || el.tagName === 'SELECT');
let settingsTimer = 0;
function saveSettingsSoon() {
  clearTimeout(settingsTimer);
  settingsTimer = setTimeout(() => {
    const s = { tab: state.tab, backend: $('backend-select').value, start: /** @type {HTMLInputElement | null} */ (document.querySelector('input[name=start]:checked'))?.value };
    for (const el of /** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll('input[id], select[id]'))) {
      if (isSetting(el)) s[el.id] = el.type === 'checkbox' ? el.checked : el.value;
    }
    save('settings', s, 'your settings');
  }, 200);
}
document.addEventListener('change', (ev) => { if (isSetting(ev.target) || /** @type {HTMLInputElement} */ (ev.target).name === 'start') saveSettingsSoon(); });
function applySettings(s) {
  for (const [id, v] of Object.entries(s)) {
    const el = /** @type {any} */ (document.getElementById(id));
    if (!isSetting(el)) continue;
    if (el.type === 'checkbox') el.checked = !!v;
    else if (el.tagName === 'SELECT' && ![...el.options].some((o) => o.value === v)) continue;
    else el.value = v;
  }
  if (s.start) { const r = /** @type {HTMLInputElement | null} */ (document.querySelector(`input[name=start][value="${s.start}"]`)); if (r) r.checked = true; }
}

// ---------- presentation mode ----------
// For a lecture hall: a large pad and large results, in high contrast
// (style.css, body.present). The button, `?present` in the address (for a
// bookmark), and Esc to leave.
function present(on) {
  document.body.classList.toggle('present', on);
  $('present').setAttribute('aria-pressed', String(on));
  $('present').textContent = on ? 'Leave presentation' : 'Present';
  // The pad and its results fill the screen: scroll the header away.
  if (on) $('h-draw').scrollIntoView({ block: 'start' });
}
$('present').addEventListener('click', () => present(!document.body.classList.contains('present')));
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && document.body.classList.contains('present')) present(false);
});
if (new URLSearchParams(location.search).has('present')) present(true);

$('reset-lab').addEventListener('click', async () => {
  if (!confirm('Reset lab? This forgets the models trained or loaded here, the uploaded series, the comparison table and your settings, in this browser. Downloaded files are not affected.')) return;
  if (state.training) state.training.cancel();
  try {
    await store.clear();
    location.reload();
  } catch (e) { banner(`Could not reset: ${errText(e)}`); }
});

// ---------- workspace ----------
// All the kept work in one file and back (the format is the core's:
// src/workspace.rs). What this browser measured of its own backends stays.
const MAX_WORKSPACE = 512 * 1024 * 1024;
/** Byte arrays out of a stored value, as {"$bytes": i}. @param {any} v @param {Uint8Array[]} blobs @returns {any} */
function flatten(v, blobs) {
  if (v instanceof ArrayBuffer) v = new Uint8Array(v);
  if (ArrayBuffer.isView(v)) {
    blobs.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return { $bytes: blobs.length - 1 };
  }
  if (Array.isArray(v)) return v.map((x) => flatten(x, blobs));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, flatten(x, blobs)]));
  return v;
}
/** The inverse of flatten. @param {any} v @param {Uint8Array[]} blobs @returns {any} */
function inflate(v, blobs) {
  if (Array.isArray(v)) return v.map((x) => inflate(x, blobs));
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$bytes') return blobs[v.$bytes];
    return Object.fromEntries(keys.map((k) => [k, inflate(v[k], blobs)]));
  }
  return v;
}
$('workspace-save').addEventListener('click', async () => {
  try {
    if (!state.api) throw new Error('aelab is still starting');
    const entries = {};
    /** @type {Uint8Array[]} */
    const blobs = [];
    for (const k of await store.keys()) {
      if (k === MEASURED_KEY) continue;
      const v = await store.get(k);
      if (v !== undefined) entries[String(k)] = flatten(v, blobs);
    }
    const now = new Date();
    const file = await state.api.workspace_pack(JSON.stringify(entries), blobs, now.toISOString());
    download(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (file)], { type: 'application/octet-stream' }), `aelab-workspace-${now.toISOString().slice(0, 10)}.aelab-workspace`);
    $('restore-note').textContent = `Saved the workspace: ${Object.keys(entries).length} item(s), ${(file.length / 1e6).toFixed(1)} MB. Open it with “Open workspace” on any computer.`;
  } catch (e) { banner(`Could not save the workspace: ${errText(e)}`); }
});
$('workspace-open').addEventListener('change', async (ev) => {
  const input = /** @type {HTMLInputElement} */ (ev.target);
  const file = input.files && input.files[0];
  input.value = '';
  if (!file) return;
  try {
    if (file.size === 0) throw new Error('the file is empty');
    if (file.size > MAX_WORKSPACE) throw new Error(`the file is ${(file.size / 1e6).toFixed(0)} MB; a workspace file holds at most ${MAX_WORKSPACE >> 20} MB`);
    if (!state.api) throw new Error('aelab is still starting');
    const w = await state.api.workspace_unpack(new Uint8Array(await file.arrayBuffer()));
    const entries = JSON.parse(w.entries);
    const when = new Date(w.saved);
    const saved = Number.isNaN(when.getTime()) ? 'at an unknown time' : `on ${when.toLocaleString()}`;
    if (!confirm(`Open the workspace ${file.name}, saved ${saved} by aelab ${w.aelab}? It replaces the work kept in this browser (save yours first if you need it).`)) return;
    if (state.training) state.training.cancel();
    await store.clear();
    for (const [k, v] of Object.entries(entries)) {
      if (!await store.put(k, inflate(v, w.blobs), `the workspace's ${k}`)) throw new Error('the browser did not store it');
    }
    sessionStorage.setItem('aelab-opened', `Opened the workspace ${file.name} (saved ${saved}).`);
    location.reload();
  } catch (e) { banner(`Could not open ${file.name}: ${errText(e)}. The work in this browser is unchanged.`); }
});

window.addEventListener('unhandledrejection', (ev) => banner(`Unexpected error: ${errText(ev.reason)}`));
window.addEventListener('error', (ev) => banner(`Unexpected error: ${ev.message}`));

// ---------- backend ----------
// The CPU backends' display names (the build says which it has: cpu_backends()).
const CPU_NAMES = { flex: 'Flex', ndarray: 'NdArray' };
const cpuName = (b) => CPU_NAMES[b] || b;
function showBackend() {
  const backend = state.backend;
  const el = $('backend');
  // Training runs in the compute worker, on the threaded CPU module where
  // the page is cross-origin isolated; the lab worker's module has one thread.
  // (A worker still starting has no count yet.)
  const threads = compute.worker && compute.threads > 0 && compute.backend !== 'webgpu' ? compute.threads : 1;
  const t = threadsText(threads);
  el.textContent = backend === 'webgpu' ? 'WebGPU' : `CPU · ${cpuName(backend)} · ${t}`;
  const why = backend === 'webgpu' ? 'WebGPU: the GPU computes.'
    : threads > 1 ? `Training runs on ${t} in the compute worker; the pad denoises on one thread in the lab worker.`
      : (compute.note || (self.crossOriginIsolated ? 'The CPU computes on one thread.'
        : 'This page is not cross-origin isolated (opened from a file, or from a server without COOP/COEP), so the CPU computes on one thread.'));
  el.title = [why, autoText()].filter(Boolean).join(' ');
  el.className = 'pill ' + (backend === 'webgpu' ? 'gpu' : 'cpu');
  el.dataset.backend = backend;
  // Which of the page's modules the lab runs (docs/architecture.md): the CPU-only one it starts on, or the one with WebGPU.
  el.dataset.module = state.hostGpu ? 'webgpu' : 'cpu';
  el.dataset.threads = String(threads);
  $('backend-select').value = state.choice;
  el.dataset.measured = state.measured ? 'true' : state.measuring ? 'measuring' : 'false';
}

// ---------- the faster backend, by measurement ----------
// "Auto" starts on the CPU, so the first verdict never waits for a GPU;
// then the compute worker times WebGPU and the CPU (once per browser: the
// figures are kept with the work) and training takes the faster one, as
// does the pad where WebGPU denoises a digit sooner. Choosing WebGPU or
// the CPU in the menu overrides it.
const MEASURED_KEY = 'measured-backends';
/** What "auto" does here, in words (for the pill's tooltip and the status lines). */
function autoText() {
  if (state.choice !== 'auto') return '';
  if (state.measured) {
    const m = state.measured;
    const train = fasterToTrain(m) === 'webgpu' ? 'WebGPU' : 'the CPU';
    const pad = fasterToDenoise(m) === 'webgpu' ? 'WebGPU' : 'the CPU';
    const each = m.gpu ? ' Each model is timed on both before its first training run here, and trains on the faster for it.' : '';
    return `${measuredText(m)} Auto trains on ${train} and denoises on ${pad}; choose a backend in the menu to override.${each}`;
  }
  if (state.measuring) return 'Auto: measuring WebGPU against the CPU in the compute worker…';
  return workerAvailable() ? '' : 'Auto runs on the CPU here: opened from a file, aelab cannot measure WebGPU in the background. Choose WebGPU in the menu to use the GPU.';
}
/** Measures (or takes the kept figures) and moves the pad to WebGPU where it is faster. */
function measureSoon(kept) {
  if (state.choice !== 'auto' || !workerAvailable() || state.measuring) return;
  const ua = navigator.userAgent;
  state.measuring = (async () => {
    try {
      let m = kept && kept.ua === ua && kept.cpu ? kept : null;
      if (!m) {
        m = await measureBackends(compute);
        save(MEASURED_KEY, m, 'the measured backends');
      }
      state.measured = m;
      if (state.choice === 'auto' && fasterToDenoise(m) === 'webgpu' && state.backend !== 'webgpu' && !state.training) {
        await startLab('webgpu', 'WebGPU measured faster here, so the pad now denoises on it.');
        update();
      }
    } catch (e) {
      console.warn(`the backends could not be measured: ${errText(e)}`);
    } finally {
      state.measuring = null;
      showBackend();
    }
  })();
  showBackend();
}
// A training run in Auto times its own model on both backends before it
// starts, once per model in this browser (kept with the figures above),
// and trains on the faster; where there is no WebGPU adapter it needs no
// timing. Without a measurement it trains on the CPU.
compute.trainChoice = async (say, run) => {
  if (state.choice !== 'auto') return state.choice;
  if (state.measuring) {
    say('measuring WebGPU against the CPU first (once in this browser, a few seconds)…');
    await state.measuring;
  }
  const m = state.measured;
  if (m && m.gpu && run) {
    const key = runKey(run);
    let r = m.runs && m.runs[key];
    if (!r) {
      say('timing this model on WebGPU and on the CPU first (once in this browser for this model)…');
      try {
        r = await measureRun(compute, run);
        m.runs = { ...m.runs, [key]: r };
        save(MEASURED_KEY, m, 'the measured backends');
      } catch (e) {
        console.warn(`this model could not be timed: ${errText(e)}`);
      }
    }
    if (r) {
      const on = r.gpu !== null && r.gpu < r.cpu ? 'webgpu' : 'flex';
      const gpu = r.gpu === null ? 'WebGPU could not run it' : `WebGPU ${r.gpu.toFixed(0)} ms`;
      say(`training on ${on === 'webgpu' ? 'WebGPU' : 'the CPU'}, measured faster for this model here (a step: ${gpu}, the CPU ${r.cpu.toFixed(0)} ms)…`);
      return on;
    }
  }
  const on = m ? fasterToTrain(m) : 'flex';
  say(`training on ${on === 'webgpu' ? 'WebGPU' : 'the CPU'}${m ? ', measured faster here' : ''}…`);
  return on;
};

/** Set when the lab worker moved to the WebGPU module: the next session restores the tabs' work. */
let movedModule = false;
/**
 * The lab worker starts on the CPU-only module, the page's first load. A
 * session on WebGPU needs the WebGPU module: a new lab worker starts on it
 * and takes the models and the data, as after a crash (labLost), without
 * the banner. True when it moved (the tabs then restore their work).
 */
async function useGpuModule() {
  if (state.hostGpu || !labWorker) return false;
  movedModule = true;
  labWorker.terminate();
  labWorker = null;
  if (labRemote) labRemote.lost('the lab moved to the WebGPU module');
  labRemote = null;
  state.api = null;
  state.lab = null;
  state.labs = null;
  state.testSet = null;
  state.trainSet = null;
  state.api = await openLab();
  state.hostGpu = (await state.api.start(true)).webgpu;
  return true;
}

async function startLab(choice, why) {
  if (choice === 'webgpu' || choice === 'auto') await useGpuModule();
  const api = state.api;
  const lab = await api.createLab(choice);
  const [backend, note] = await Promise.all([lab.backend(), lab.note()]);
  const labs = { denoise: await lab.denoise(), augment: await lab.augment(), anomaly: await lab.anomaly() };
  await lab.load_classifier(state.bytes.classifier);
  await labs.denoise.load(state.bytes.denoiser);
  const old = state.lab;
  const oldLabs = state.labs;
  if (old) await lab.share_data(old);
  state.lab = lab;
  state.labs = labs;
  state.backend = backend;
  state.note = note;
  if (old) {
    try { for (const h of [old, ...Object.values(oldLabs)]) await h.free(); } catch (e) { console.warn(`freeing the old session: ${errText(e)}`); }
    // The generator is reloaded from its weights file: the old session's
    // tensors may sit on a lost GPU.
    if (state.bytes.augmenter) await augmentTab.reload(state.bytes.augmenter);
    await anomalyTab.reload();
  }
  if (movedModule) {
    movedModule = false;
    await showModelInfo();
    await update();
    await Promise.all([augmentTab.restore(), anomalyTab.restore()]);
  }
  showBackend();
  const msg = [why, note].filter(Boolean).join(' ');
  if (msg) banner(msg, 'info');
  else clearBanner();
}

// A lost GPU device while nothing runs: move to the CPU at once. (While a
// step runs, the step fails and `recover` below does the same.)
async function onGpuLost(info) {
  if (!info.current || !state.lab || state.backend !== 'webgpu') return;
  console.warn(`WebGPU device lost: ${info.reason} ${info.message}`);
  if (state.training) return;
  try {
    state.choice = 'flex';
    await startLab('flex', `The GPU device was lost (${info.message || info.reason}); aelab moved to the CPU. Your models and data are kept.`);
    update();
  } catch (e) { banner(`The GPU device was lost and the CPU fallback failed: ${errText(e)}`); }
}

// A failure on WebGPU (device lost, validation error) moves the page to the
// CPU instead of leaving it broken.
async function recover(e, what) {
  const msg = errText(e);
  // The lab worker stopped: labLost starts it again and says so.
  if (e && e.kind === 'worker-lost') return false;
  if (state.lab && state.backend === 'webgpu') {
    try {
      state.choice = 'flex';
      await startLab('flex', `WebGPU failed while ${what} (${msg}); aelab switched to the CPU.`);
      return true;
    } catch (e2) {
      banner(`WebGPU failed (${msg}) and the CPU fallback failed too: ${errText(e2)}`);
      return false;
    }
  }
  banner(`Error while ${what}: ${msg}`);
  return false;
}

// ---------- the lab worker ----------
// The lab's session runs in a module worker (lab-worker.js) where the page
// can start one; from file:// (and in aelab.html) on this thread. The page
// calls it the same way in both (remote.js).
/** @type {Worker | null} */
let labWorker = null;
/** @type {Remote | null} */
let labRemote = null;
/** Set when the lab worker could not start: the session runs on this thread. */
let labOnPage = false;
/** Opens the lab's session: in a worker where one can start, else here. */
async function openLab() {
  if (workerAvailable() && !labOnPage) {
    const worker = new Worker(new URL('./lab-worker.js', import.meta.url), { type: 'module' });
    const remote = new Remote((msg) => worker.postMessage(msg));
    worker.onmessage = (ev) => remote.receive(ev.data);
    worker.onerror = (ev) => { ev.preventDefault(); labLost(`the lab worker stopped: ${ev.message || 'it could not load'}`); };
    worker.onmessageerror = () => labLost('the lab worker sent a message the page could not read');
    remote.onNews = (msg) => {
      if (msg.kind === 'panic') labLost(`the lab worker hit an internal error: ${msg.message}`);
      else if (msg.kind === 'gpu-lost') onGpuLost(msg);
    };
    labWorker = worker;
    labRemote = remote;
    return remote.root();
  }
  // On this thread: the same host, called through the same protocol.
  const host = await import('./lab-host.js');
  /** @type {(msg: any) => Promise<void>} */
  let handle = async () => {};
  const remote = new Remote((msg) => { queueMicrotask(() => handle(msg)); });
  handle = serve(host.api, (msg) => remote.receive(msg));
  host.onNews((msg) => { if (msg.kind === 'gpu-lost') onGpuLost(msg); });
  labRemote = remote;
  return remote.root();
}
window.aelabPanic = (msg) => banner(`aelab hit an internal error: ${msg}\nThe page may be unstable; reload it to start again. Your downloaded models and figures are not affected.`);

/**
 * The lab worker stopped (a crash, a panic): a new one starts with the
 * models and the data, and the tabs' work comes back from storage, as
 * after a reload. A run in the compute worker goes on.
 */
let restarting = null;
function labLost(why) {
  if (!labWorker) return;
  labWorker.terminate();
  labWorker = null;
  if (labRemote) labRemote.lost(why);
  labRemote = null;
  // Before the first session, main() falls back to this thread.
  if (!state.lab) return;
  state.api = null;
  state.lab = null;
  state.labs = null;
  state.testSet = null;
  state.trainSet = null;
  if (restarting) return;
  const what = `${why[0].toUpperCase()}${why.slice(1)}`;
  restarting = (async () => {
    banner(`${what}; aelab is starting it again with your models and data…`, 'info');
    try {
      state.api = await openLab();
      state.hostGpu = (await state.api.start(state.hostGpu)).webgpu;
      await startLab(state.choice === 'auto' ? 'flex' : state.choice, '');
      showModelInfo();
      await update();
      await Promise.all([augmentTab.restore(), anomalyTab.restore()]);
      banner(`${what}; aelab started it again, with your models and data.`, 'info');
    } catch (e) {
      banner(`${what}, and it could not start again (${errText(e)}). Reload the page; your work is kept.`);
    } finally { restarting = null; }
  })();
}

$('backend-select').addEventListener('change', async (ev) => {
  if (state.training) { banner('Cancel the training run before switching backends.', 'info'); showBackend(); return; }
  const choice = ev.target.value;
  try {
    state.choice = choice;
    const m = state.measured;
    await startLab(choice === 'auto' ? (m ? fasterToDenoise(m) : 'flex') : choice);
    update();
    measureSoon(await store.get(MEASURED_KEY));
  } catch (e) { banner(`Could not switch backend: ${errText(e)}`); showBackend(); }
});

// ---------- the Denoise tab (denoise.js) ----------
const { update, showModelInfo, setNoise, drawSample, testSet, trainSet, designer: denoiseDesigner, report: denoiseReport, makeReportNow: denoiseMake } = setupDenoise({
  state, save, recover, saveSettingsSoon, compute,
});


// ---------- benchmark ----------
async function runBench(report) {
  /** @type {[string, number][]} */
  const plan = [['auto', 3], ...state.cpus.map((c) => /** @type {[string, number]} */ ([c, c === 'flex' ? 5 : 2]))];
  const rows = [];
  if (await useGpuModule()) {
    // The bench runs on its own sessions; the lab's is started again on
    // the module it now runs.
    await startLab(state.backend || 'flex', '');
  }
  for (const [choice, steps] of plan) {
    const lab = await state.api.createLab(choice);
    const backend = await lab.backend();
    if (choice === 'auto' && backend !== 'webgpu') { rows.push({ backend: 'webgpu', error: (await lab.note()) || 'no WebGPU adapter' }); await lab.free(); report(rows); continue; }
    try { rows.push(await lab.bench(128, steps)); } catch (e) { rows.push({ backend, error: errText(e) }); }
    await lab.free();
    report(rows);
  }
  return rows;
}
function renderBench(rows) {
  renderTable($('bench-table'), {
    caption: 'Canonical denoiser, batch 128, in this browser',
    head: ['backend', 'training (images/s)', 'denoise one digit (ms)', 'steps timed'],
    rows: rows.map((r) => r.error ? [r.backend, r.error, '', ''] : [r.backend, r.train_images_per_sec.toFixed(1), r.denoise_one_ms.toFixed(2), r.steps]),
  });
}
$('bench-run').addEventListener('click', async () => {
  $('bench-run').disabled = true;
  $('bench-status').textContent = 'running… (about a minute)';
  try { await runBench(renderBench); $('bench-status').textContent = 'done'; } catch (e) { $('bench-status').textContent = errText(e); }
  $('bench-run').disabled = false;
});
window.aelabRunBench = () => runBench(renderBench);

// ---------- tabs ----------
const augmentTab = setupAugment({
  lab: () => state.lab,
  handles: () => state.labs,
  api: () => state.api,
  backend: () => state.backend,
  trainSet: () => trainSet(),
  testSet: () => testSet(),
  recover: (e, what) => recover(e, what),
  banner: (msg) => banner(msg),
  isTraining: () => !!state.training,
  setTraining: (s) => { state.training = s; },
  save,
  get: (key) => store.get(key),
  setAugmenter: (bytes) => { state.bytes.augmenter = bytes; },
  classifier: () => state.bytes.classifier,
  compute,
});
const anomalyTab = setupAnomaly({
  save,
  get: (key) => store.get(key),
  del: (key) => store.del(key),
  lab: () => state.lab,
  handles: () => state.labs,
  api: () => state.api,
  backend: () => state.backend,
  recover: (e, what) => recover(e, what),
  isTraining: () => !!state.training,
  setTraining: (s) => { state.training = s; },
  compute,
});
const tabs = [['tab-denoise', 'lab-denoise'], ['tab-augment', 'lab-augment'], ['tab-anomaly', 'lab-anomaly'], ['tab-report', 'lab-report']];
function showTab(id) {
  state.tab = id;
  for (const [tab, panel] of tabs) {
    const on = tab === id;
    $(tab).setAttribute('aria-selected', String(on));
    $(panel).hidden = !on;
  }
  if (id === 'tab-augment' && state.lab) augmentTab.onShow();
  if (id === 'tab-anomaly' && state.lab) anomalyTab.onShow();
  document.body.classList.toggle('report-shown', id === 'tab-report');
  if (id === 'tab-report' && state.lab) showReportView();
}

// ---------- the Report view (report.js, loaded when first shown) ----------
/** @type {Promise<any> | null} */
let reportView = null;
function showReportView() {
  if (reportView) { reportView.then((v) => v && v.fill()); return; }
  const root = /** @type {HTMLElement} */ (document.querySelector('#lab-report .report-root'));
  reportView = import('./report.js')
    .then((m) => m.showReport(root, {
      api: () => state.api,
      denoise: { material: denoiseReport, make: denoiseMake },
      augment: { material: augmentTab.report },
      anomaly: { material: anomalyTab.report },
    }))
    .catch((e) => { root.textContent = `The report could not be shown: ${errText(e)}`; reportView = null; return null; });
}
let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (state.tab === 'tab-anomaly' && state.lab) anomalyTab.onShow(); }, 250);
});
for (const [tab] of tabs) $(tab).addEventListener('click', () => { showTab(tab); saveSettingsSoon(); });

// ---------- offline ----------
// The service worker caches every asset on the first visit; after that the
// page and all three labs work without a network.
function registerOffline() {
  if (!('serviceWorker' in navigator) || !location.protocol.startsWith('http')) return;
  navigator.serviceWorker.register('sw.js')
    .then(() => navigator.serviceWorker.ready)
    .then(() => { document.body.dataset.offline = 'ready'; })
    .catch((e) => { console.warn(`offline cache unavailable: ${errText(e)}`); });
}

// ---------- start ----------
async function main() {
  // The weights and the saved work are fetched while the wasm compiles.
  const early = Promise.all([
    fetchBytes('models/denoiser-skip.aelab'), fetchBytes('models/classifier.aelab'),
    store.get('settings'), store.get('denoiser'), store.get('classifier'), store.get(MEASURED_KEY)]);
  early.catch(() => {}); // reported below, once the module runs
  /** @type {{ cpu_backends: string[], form_defaults: import('./aelab.js').FormDefaults, webgpu: boolean }} */
  let info;
  let fallback = '';
  // A page set to WebGPU loads the WebGPU module at once; otherwise the
  // CPU-only one, a third of the size (Auto starts on the CPU).
  const saved = await store.get('settings').catch(() => null);
  const gpuFirst = (new URLSearchParams(location.search).get('backend') || (saved && saved.backend)) === 'webgpu';
  try {
    try {
      state.api = await openLab();
      info = await state.api.start(gpuFirst);
    } catch (e) {
      if (!e || e.kind !== 'worker-lost') throw e;
      // No lab worker here: the session runs on this thread.
      labOnPage = true;
      fallback = `The lab worker could not start (${errText(e)}), so aelab computes on the page's own thread; the page may pause while it works.`;
      state.api = await openLab();
      info = await state.api.start(gpuFirst);
    }
    state.hostGpu = info.webgpu;
    performance.mark('aelab:wasm-ready'); // start-up timings, for tests/e2e/startup.mjs
  } catch (e) {
    banner(`The WebAssembly module could not start: ${errText(e)}. aelab needs a browser with WebAssembly (any current Chrome, Edge, Firefox or Safari).`);
    return;
  }
  try {
    const cpus = info.cpu_backends;
    state.cpus = cpus;
    const select = $('backend-select');
    for (const name of cpus) {
      if (![...select.options].some((o) => o.value === name)) select.add(new Option(`CPU (${cpuName(name)})`, name));
    }
    const [den, cls, settings, myDen, myCls, measured] = await early;
    state.bytes = { denoiser: den, classifier: cls, pretrained: den, augmenter: null };
    // The forms' defaults come from the core's presets; saved settings win.
    for (const [id, v] of Object.entries(info.form_defaults)) {
      const field = $(id);
      if (field) field.value = String(v);
    }
    if (settings) applySettings(settings);
    const query = new URLSearchParams(location.search);
    let choice = query.get('backend') || (settings && settings.backend) || 'auto';
    let why = fallback;
    if (choice !== 'auto' && choice !== 'webgpu' && !cpus.includes(choice)) {
      why = `${why ? `${why} ` : ''}The backend "${choice}" is not in this version of aelab; it runs on ${cpus.map((c) => `CPU (${cpuName(c)})`).join(' or ')} and WebGPU.`;
      choice = 'auto';
    }
    state.choice = choice;
    performance.mark('aelab:weights-fetched');
    // "auto" starts on the CPU: the first verdict never waits for a GPU.
    await startLab(choice === 'auto' ? 'flex' : choice, why);
    performance.mark('aelab:models-loaded');
    // The work kept from the last visit.
    const notes = [];
    for (const [key, bytes, load] of [['denoiser', myDen, (b) => state.labs.denoise.load(b)], ['classifier', myCls, (b) => state.lab.load_classifier(b)]]) {
      if (!bytes) continue;
      try { await load(bytes); state.bytes[key] = bytes; notes.push(`your ${key}`); } catch (e) {
        banner(`Your saved ${key} could not be loaded (${errText(e)}); the pre-trained one is used.`);
        store.del(key);
      }
    }
    await showModelInfo();
    setNoise(Number($('noise').value), false);
    drawSample();
    const tab = query.get('tab') || (settings && settings.tab && settings.tab.replace('tab-', ''));
    if (tab === 'augment' || tab === 'anomaly') showTab(`tab-${tab}`);
    await update();
    testSet().catch((e) => { $('pick-note').textContent = errText(e); });
    registerOffline();
    const restored = await Promise.all([augmentTab.restore(), anomalyTab.restore()]);
    if (tab === 'report') showTab('tab-report');
    for (const r of restored) if (r) notes.push(r);
    if (notes.length) $('restore-note').textContent = `Restored from your last visit: ${notes.join(', ')}. Reset lab forgets them.`;
    const opened = sessionStorage.getItem('aelab-opened');
    if (opened) {
      sessionStorage.removeItem('aelab-opened');
      $('restore-note').textContent = `${opened} ${notes.length ? `Restored: ${notes.join(', ')}.` : ''}`;
    }
    await openLinkedDesign();
    document.body.dataset.restored = 'true';
    measureSoon(measured);
  } catch (e) {
    banner(`aelab could not start: ${errText(e)}`);
  }
}
// A design shared as a link (the designer's "Share link"):
// #design=<lab>.<the spec's JSON, base64url>. It opens in its tab's designer.
async function openLinkedDesign() {
  const m = /^#design=(denoise|augment|anomaly)\.([\w-]+)$/.exec(location.hash);
  if (!m) return;
  try {
    const { decodeSpec } = await import('./designer.js');
    const json = decodeSpec(m[2]);
    JSON.parse(json);
    const slots = { denoise: denoiseDesigner, augment: augmentTab.designer, anomaly: anomalyTab.designer };
    showTab(`tab-${m[1]}`);
    await slots[m[1]].open(json);
  } catch (e) {
    banner(`The linked model design could not be read (${errText(e)}).`);
  }
}

main();
