// @ts-check
// The page's side of the compute worker (worker.js, whose header gives the
// protocol): requests with ids, their progress events, cancellation, typed
// errors, and a worker that stopped, which is restarted for the next
// request. No computation here.
import { errText, threadsText } from './ui.js';

/** An Error with the core's `kind` (or 'worker-lost'). */
function kindError(message, kind) {
  return Object.assign(new Error(message), { kind: kind || null });
}

/**
 * Whether this page can have a compute worker: served over http(s), where
 * a module worker may load the page's own scripts. From file:// (and the
 * single-file aelab.html) the page trains on its own thread.
 */
export function workerAvailable() {
  // `?worker=off` trains on the page's thread, to compare.
  if (new URLSearchParams(location.search).get('worker') === 'off') return false;
  // The single-file build's modules are blob: URLs, even over http.
  return typeof Worker !== 'undefined' && /^https?:$/.test(location.protocol) && /^https?:/.test(import.meta.url);
}

export class Compute {
  /** @param {(why: string) => void} onLost called when a running worker stops */
  constructor(onLost) {
    this.onLost = onLost;
    /** @type {Worker | null} */
    this.worker = null;
    /** The backend asked for, and the one the worker runs on. */
    this.choice = '';
    this.backend = '';
    this.note = '';
    /** Why the backend is not the one asked for (no WebGPU adapter), or empty. */
    this.backendNote = '';
    /** How many threads the worker computes on (the threaded module: more than 1). */
    this.threads = 0;
    /**
     * The threaded module's pool size for the next worker: 0 for one
     * thread per core (the bench page sets it to compare pool sizes).
     */
    this.poolThreads = 0;
    /** Called when a worker starts or stops (the page's backend pill). */
    this.onChange = () => {};
    /**
     * The backend a training run (`run`: its request's kind and payload)
     * asks the worker for: the page's choice, or for "auto" the one
     * measured faster here for that run's model (app.js sets it; it may
     * time the run first and say so).
     * @type {(say: (text: string) => void, run?: Run) => Promise<string>}
     */
    this.trainChoice = async () => 'flex';
    this.nextId = 1;
    /** @type {Promise<void> | null} a start in progress */
    this.starting = null;
    /** @type {Map<number, { resolve: (v: any) => void, reject: (e: any) => void, onEvent?: (ev: any) => void }>} */
    this.pending = new Map();
  }

  /**
   * A worker on `choice`, started (or restarted) when needed. A worker
   * that is busy is kept whatever its backend (a report asked for during a
   * run waits for nothing and restarts nothing). Rejects when no worker can
   * start here.
   */
  async ensure(choice) {
    while (this.starting) await this.starting.catch(() => {});
    if (this.worker && (this.choice === choice || this.pending.size > 0)) return this;
    this.starting = this.start(choice);
    try {
      await this.starting;
    } finally {
      this.starting = null;
    }
    return this;
  }

  async start(choice) {
    this.stop();
    const url = new URL('./worker.js', import.meta.url);
    const worker = new Worker(url, { type: 'module' });
    this.worker = worker;
    worker.onmessage = (ev) => this.receive(ev.data);
    worker.onerror = (ev) => {
      ev.preventDefault();
      this.lost(`the compute worker stopped: ${ev.message || 'it could not load'}`);
    };
    worker.onmessageerror = () => this.lost('the compute worker sent a message the page could not read');
    try {
      const info = await this.request('init', { choice, threads: this.poolThreads || undefined }).done;
      this.choice = choice;
      this.backend = info.backend;
      this.note = info.note;
      this.backendNote = info.backend_note;
      this.threads = info.threads;
      this.onChange();
    } catch (e) {
      if (this.worker === worker) this.stop();
      throw e;
    }
  }

  /**
   * Sends a request; `done` settles with its answer, or rejects with an
   * Error whose `kind` says why. `onEvent` gets its progress events.
   * @param {string} kind @param {object} payload
   * @param {{ onEvent?: (ev: any) => void, transfer?: Transferable[] }} [opts]
   * @returns {{ id: number, done: Promise<any> }}
   */
  request(kind, payload, { onEvent, transfer = [] } = {}) {
    const id = this.nextId++;
    const done = new Promise((resolve, reject) => {
      if (!this.worker) { reject(kindError('the compute worker is not running', 'worker-lost')); return; }
      this.pending.set(id, { resolve, reject, onEvent });
      this.worker.postMessage({ id, kind, payload }, transfer);
    });
    return { id, done };
  }

  /** Loses the worker's WebGPU devices (for the lost-device test). */
  loseGpu() {
    if (this.worker) this.request('lose-gpu', {}).done.catch(() => {});
  }

  cancel(id) {
    if (this.worker) this.worker.postMessage({ id, kind: 'cancel' });
  }

  receive(msg) {
    // A panic leaves the module unusable: the next request gets a new worker.
    if (msg.kind === 'panic') { this.lost(`the compute worker hit an internal error: ${msg.message}`); return; }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.kind === 'event') { if (p.onEvent) p.onEvent(msg.event); return; }
    this.pending.delete(msg.id);
    if (msg.kind === 'result') p.resolve(msg.value);
    else p.reject(kindError(msg.error.message, msg.error.kind));
  }

  /** The worker stopped: every request fails with kind 'worker-lost'. */
  lost(why) {
    const had = this.pending.size > 0;
    this.stop(why);
    if (had) this.onLost(why);
  }

  /** Stops the worker; pending requests fail with `why`. */
  stop(why = 'the compute worker was stopped') {
    if (this.worker) this.worker.terminate();
    const had = !!this.worker;
    this.worker = null;
    this.choice = this.backend = this.note = this.backendNote = '';
    this.threads = 0;
    if (had) this.onChange();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(kindError(why, 'worker-lost'));
  }
}

/**
 * A training request for the worker: its kind ('train-denoise',
 * 'train-augment', 'train-anomaly') and payload.
 * @typedef {{ kind: string, payload: any }} Run
 */

/**
 * Whether this training run (`run`) can use the worker: it is started on
 * the backend the run trains on (`compute.trainChoice`) when needed; when
 * it cannot start, `say` gets why and the caller works on the page's thread.
 * @param {Compute} compute @param {(text: string) => void} say @param {Run} [run]
 */
export async function useWorker(compute, say, run) {
  if (!workerAvailable()) return false;
  try {
    await compute.ensure(await compute.trainChoice(say, run));
    return true;
  } catch (e) {
    say(`the compute worker could not start (${errText(e)}); training on the page's thread instead…`);
    return false;
  }
}

/** Where a run in the worker trained, for the end of its status line. */
export function workerPlace(compute) {
  const on = compute.backend === 'webgpu' ? 'WebGPU' : `the CPU (${threadsText(compute.threads)})`;
  return ` It trained on ${on} in the compute worker.${compute.note ? ` ${compute.note}` : ''}`;
}

// ---------- the faster backend, by measurement ----------
/**
 * What the measurement times: training steps of the canonical denoiser at
 * batch 16 (the Train form's default batch) after one warm-up step, and
 * denoising one digit.
 */
export const MEASURE = { batch: 16, steps: 3 };

/**
 * @typedef {{ train_images_per_sec: number, denoise_one_ms: number }} Speed
 * @typedef {{ ua: string, gpu: Speed | null, cpu: Speed, threads: number, why: string, runs?: Record<string, RunSpeed> }} Measured
 */

/**
 * Times WebGPU and the CPU in the compute worker, one after the other
 * (the CPU on the threaded module where the page is cross-origin
 * isolated). `gpu` is null, with `why`, where there is no WebGPU adapter.
 * A worker kept busy by another request (a report's table) is waited for,
 * so that each figure comes from the backend it names.
 * @param {Compute} compute @returns {Promise<Measured>}
 */
export async function measureBackends(compute) {
  const on = (choice) => onBackend(compute, choice);
  /** @type {Measured} */
  const m = { ua: navigator.userAgent, gpu: null, cpu: /** @type {any} */ (null), threads: 1, why: '' };
  await on('webgpu');
  if (compute.backend === 'webgpu') m.gpu = speed(await compute.request('bench', MEASURE).done);
  else m.why = compute.backendNote || 'This browser offers no WebGPU adapter.';
  await on('flex');
  m.cpu = speed(await compute.request('bench', MEASURE).done);
  m.threads = compute.threads;
  return m;
}
/**
 * A worker on `choice`: one kept busy by another request (a report's
 * table) is waited for, so that a figure comes from the backend it names.
 * @param {Compute} compute @param {string} choice
 */
async function onBackend(compute, choice) {
  for (;;) {
    await compute.ensure(choice);
    if (compute.choice === choice) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * What a run's own model takes a training step on each backend, in ms
 * (`gpu` is null where there is no WebGPU adapter or the run could not be
 * timed there).
 * @typedef {{ gpu: number | null, cpu: number }} RunSpeed
 */

/**
 * How many steps `measureRun` times after one warm-up step, and after how
 * long it stops with fewer (one at least).
 */
export const RUN_STEPS = 3;
export const RUN_LIMIT_MS = 3000;

/**
 * Times `run` (its first steps, then dropped) in the worker on WebGPU and
 * on the CPU, one after the other, as `measureBackends` does for the
 * canonical denoiser. Rejects when the CPU could not time it.
 * @param {Compute} compute @param {Run} run @returns {Promise<RunSpeed>}
 */
export async function measureRun(compute, run) {
  /** @returns {Promise<{ step_ms: number | null, backend: string }>} */
  const time = async (choice) => {
    await onBackend(compute, choice);
    return compute.request('measure-run', { kind: run.kind, payload: run.payload, steps: RUN_STEPS, limit_ms: RUN_LIMIT_MS }).done;
  };
  const gpu = await time('webgpu');
  const cpu = await time('flex');
  if (cpu.step_ms === null) throw new Error('the run ended before a step could be timed');
  return { gpu: gpu.backend === 'webgpu' ? gpu.step_ms : null, cpu: cpu.step_ms };
}

/**
 * The key a run's timing is kept under: what sets the speed of its steps
 * (the model, the batch, the data's shape), not what only sets how long
 * or how well it trains (epochs, seed, learning rate, noise).
 * @param {Run} run
 */
export function runKey({ kind, payload }) {
  const { epochs, seed, learning_rate, noise_min, noise_max, images, threshold_from, ...settings } = payload.settings || {};
  const src = payload.source;
  return JSON.stringify({
    kind,
    settings,
    // A fine-tuned denoiser is the current one.
    model: settings.from_scratch === false && payload.denoiser ? payload.denoiser.length : undefined,
    source: src ? { kind: src.kind, name: src.name, seed: src.seed, bytes: src.bytes ? src.bytes.length : undefined } : undefined,
  });
}

/** @returns {Speed} */
const speed = (row) => ({ train_images_per_sec: row.train_images_per_sec, denoise_one_ms: row.denoise_one_ms });

/** The backend that trains faster by `m` ("webgpu" or "flex"). @param {Measured} m */
export const fasterToTrain = (m) => (m.gpu && m.gpu.train_images_per_sec > m.cpu.train_images_per_sec ? 'webgpu' : 'flex');
/** The backend that denoises one digit sooner by `m`. @param {Measured} m */
export const fasterToDenoise = (m) => (m.gpu && m.gpu.denoise_one_ms < m.cpu.denoise_one_ms ? 'webgpu' : 'flex');

/** Both figures in words, for the backend pill and the status lines. @param {Measured} m */
export function measuredText(m) {
  const cpu = `CPU ${m.cpu.train_images_per_sec.toFixed(0)} images/s on ${threadsText(m.threads)}, ${m.cpu.denoise_one_ms.toFixed(1)} ms a digit`;
  const gpu = m.gpu ? `WebGPU ${m.gpu.train_images_per_sec.toFixed(0)} images/s, ${m.gpu.denoise_one_ms.toFixed(1)} ms a digit.` : `WebGPU: none here. ${m.why}`;
  return `Measured in this browser (canonical denoiser, batch ${MEASURE.batch}): ${cpu}; ${gpu}`;
}

/**
 * A training run in the worker, shaped like the core's TrainSession for
 * ui.js's runTraining: `step()` resolves to the next step event (and to
 * `{ kind: 'finished' }` once the answer is in `result`), `draw_chart`
 * draws the loss curves from the events, `checkpoint()` is the last
 * checkpoint the worker sent.
 * @param {Compute} compute @param {string} kind @param {object} payload
 * `onEvent` gets the events of the run's own kinds (worker.js: 'preview'
 * of the Augment grid, 'fold' of the Anomaly threshold's cross-validation).
 * The loss chart is recorded and drawn by the lab's session (`api`).
 * @param {{ api: import('./ui.js').LabApi, epochs: number, onStatus: (text: string) => void, onCheckpoint?: (bytes: Uint8Array) => void, onEvent?: (ev: any) => void, transfer?: Transferable[] }} opts
 * @returns {import('./ui.js').RunSession & { result: any }}
 */
export function workerSession(compute, kind, payload, { api, epochs, onStatus, onCheckpoint, onEvent, transfer }) {
  /** @type {{ ev?: any, err?: any }[]} */
  const queue = [];
  /** @type {((item: { ev?: any, err?: any }) => void) | null} */
  let waiting = null;
  const push = (item) => {
    if (waiting) { const w = waiting; waiting = null; w(item); } else queue.push(item);
  };
  const chart = api.lossChart(epochs);
  chart.catch(() => {}); // a lost lab worker: drawing the chart fails, the run goes on
  /** @type {Uint8Array | undefined} */
  let last;
  let settled = false;
  let freed = false;
  const run = {
    /** The worker's answer, once the run finished. @type {any} */
    result: null,
    async step() {
      const item = queue.length ? queue.shift() : await new Promise((r) => { waiting = r; });
      if (item.err) throw item.err;
      return item.ev;
    },
    async draw_chart(frame) { return (await chart).draw(frame); },
    async checkpoint() { return last; },
    cancel() { compute.cancel(id); },
    // A run given up by the page (its driver failed) is cancelled too.
    free() { if (!settled) compute.cancel(id); freed = true; chart.then((c) => c.free()).catch(() => {}); },
  };
  const { id, done } = compute.request(kind, payload, {
    transfer,
    onEvent: (ev) => {
      if (freed) return;
      if (ev.kind === 'status') onStatus(ev.text);
      else if (ev.kind === 'checkpoint') { last = ev.bytes; if (onCheckpoint) onCheckpoint(ev.bytes); }
      else if (ev.kind === 'step' || ev.kind === 'epoch') { chart.then((c) => c.record(ev)).catch(() => {}); push({ ev }); }
      else if (onEvent) onEvent(ev);
    },
  });
  done.then((value) => { settled = true; run.result = value; push({ ev: { kind: 'finished' } }); },
    (err) => { settled = true; push({ err }); });
  return run;
}
