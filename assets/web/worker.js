// @ts-check
// aelab's compute worker: a dedicated module worker that runs the same wasm
// module as the page and trains off the page's thread, so the page keeps
// answering while a model trains. It owns its own session (a device, the
// data, the models); the page talks to it through compute.js.
//
// The protocol (one message each way per event):
//   page → worker  { id, kind, payload }          a request
//                  { id, kind: 'cancel' }          cancels request `id`
//   worker → page  { id, kind: 'event', event }   progress of request `id`
//                  { id, kind: 'result', value }  its answer
//                  { id, kind: 'error', error: { message, kind } }
//                  { kind: 'panic', message }     the module broke: the page
//                                                 restarts the worker
// Error kinds are the core's (cancelled, diverged, bad-input, device); the
// page switches on them and never parses a message.
//
// The module: in a cross-origin-isolated page the CPU runs the threaded
// build (mt/aelab.js: atomics, rayon's pool on Web Workers); WebGPU, and
// pages that are not isolated, run the single-threaded one (aelab.js).

/** @typedef {typeof import('./aelab.js')} Module */
/** @type {Module} */
let aelab;

/** @type {any} */
const scope = self;

const errText = (e) => (e && e.message) ? e.message : String(e);
const cancelled = () => Object.assign(new Error('training was cancelled'), { kind: 'cancelled' });

scope.aelabPanic = (message) => scope.postMessage({ kind: 'panic', message });

// Every GPUDevice the module asks for, so that the page's lost-device test
// can destroy them here too (as app.js does on the page).
/** @type {GPUDevice[]} */
const gpuDevices = [];
if (scope.GPUAdapter && scope.GPUAdapter.prototype.requestDevice) {
  const request = scope.GPUAdapter.prototype.requestDevice;
  scope.GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await request.apply(this, args);
    gpuDevices.push(device);
    return device;
  };
}

/** Whether `choice` will run on the CPU: asked for, or no WebGPU adapter. */
async function onCpu(choice) {
  if (choice !== 'auto' && choice !== 'webgpu') return true;
  const gpu = scope.navigator.gpu;
  if (!gpu) return true;
  try {
    return !(await gpu.requestAdapter());
  } catch {
    return true;
  }
}

/**
 * Loads the module this worker runs for `choice` (once: a worker keeps its
 * module; the page starts another worker for another backend) and says how
 * many threads it computes on, and why only one.
 * @returns {Promise<{ threads: number, note: string, threaded: boolean }>}
 */
async function loadModule(choice) {
  let note = '';
  const cores = Math.max(1, Math.min(scope.navigator.hardwareConcurrency || 1, 16));
  if (await onCpu(choice)) {
    if (!scope.crossOriginIsolated) {
      note = 'This page is not cross-origin isolated, so the CPU trains on one thread.';
    } else if (cores < 2) {
      note = 'This browser reports one core, so the CPU trains on one thread.';
    } else {
      try {
        // Not a literal: the threaded build is optional (scripts/build-web.sh
        // leaves it out where no nightly toolchain is installed).
        const url = new URL('./mt/aelab.js', import.meta.url).href;
        /** @type {Module & { initThreadPool(n: number): Promise<void> }} */
        const mt = await import(url);
        await mt.default({ module_or_path: new URL('./mt/aelab_bg.wasm', import.meta.url) });
        // A pool whose threads cannot start never answers: give up after
        // 30 s and train on one thread instead of waiting for ever.
        let timer;
        const late = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('its threads did not start within 30 s')), 30_000);
        });
        try {
          await Promise.race([mt.initThreadPool(cores), late]);
        } finally {
          clearTimeout(timer);
        }
        aelab = mt;
        return { threads: cores, note: '', threaded: true };
      } catch (e) {
        note = `The threaded CPU module could not start (${errText(e)}), so the CPU trains on one thread.`;
      }
    }
  }
  const st = await import('./aelab.js');
  await st.default({ module_or_path: 'aelab_bg.wasm' });
  aelab = st;
  return { threads: 1, note, threaded: false };
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`could not load ${url} (HTTP ${r.status})`);
  return new Uint8Array(await r.arrayBuffer());
}

/** A session of the module with its lab handles and what it has loaded. */
class Session {
  /** @param {import('./aelab.js').Lab} lab */
  constructor(lab) {
    this.lab = lab;
    this.denoise = lab.denoise();
    this.augment = lab.augment();
    this.loaded = { train: false, test: false };
  }

  async mnist(which, status) {
    if (this.loaded[which]) return;
    if (which === 'train') {
      status('loading the MNIST training set (10 MB) in the compute worker…');
      const [im, lb] = await Promise.all([fetchBytes('mnist/train-images-idx3-ubyte.gz'), fetchBytes('mnist/train-labels-idx1-ubyte.gz')]);
      this.lab.load_train_set(im, lb);
    } else {
      status('loading the MNIST test set in the compute worker…');
      const [im, lb] = await Promise.all([fetchBytes('mnist/t10k-images-idx3-ubyte.gz'), fetchBytes('mnist/t10k-labels-idx1-ubyte.gz')]);
      this.lab.load_test_set(im, lb);
    }
    this.loaded[which] = true;
  }

  free() {
    this.denoise.free();
    this.augment.free();
    this.lab.free();
  }
}

/** @type {Promise<{ threads: number, note: string, threaded: boolean }> | null} */
let started = null;
let choice = '';
/** The session runs train in. @type {Session | null} */
let trainer = null;
/**
 * A second session for the report's tables, so that one asked for during a
 * run never touches the run's models. @type {Session | null}
 */
let reporter = null;
/** Requests that can be cancelled, by id. @type {Map<number, { cancel(): void }>} */
const running = new Map();

function training() {
  if (!trainer) throw Object.assign(new Error('the compute worker has not started'), { kind: 'device' });
  return trainer;
}

async function reporting() {
  const t = training();
  if (!reporter) {
    reporter = new Session(await aelab.Lab.create(choice));
    // The data decoded already is shared, not decoded again.
    reporter.lab.share_data(t.lab);
    reporter.loaded = { ...t.loaded };
  }
  return reporter;
}

/**
 * A request that can be cancelled at any point: before its training
 * session exists, between steps (the session's own cancel), and after the
 * steps, before it answers.
 */
function job(id) {
  const j = {
    stop: false,
    /** @type {import('./aelab.js').TrainSession | null} */
    run: null,
    cancel() { j.stop = true; if (j.run) j.run.cancel(); },
    check() { if (j.stop) throw cancelled(); },
  };
  running.set(id, j);
  return j;
}

/**
 * Runs a training session to its end: each step event and each new
 * checkpoint goes to the page.
 * @param {import('./aelab.js').TrainSession} run
 */
async function steps(run, emit) {
  for (;;) {
    const ev = await run.step();
    const ck = run.fresh_checkpoint();
    if (ck) emit({ kind: 'checkpoint', bytes: ck }, [ck.buffer]);
    if (ev.kind === 'finished') return;
    emit(ev);
    // A step on the CPU settles without leaving the task: yield, so that
    // a cancel message is read between steps.
    await new Promise((r) => setTimeout(r, 0));
  }
}

/** @type {Record<string, (id: number, payload: any, emit: (event: any, transfer?: Transferable[]) => void) => Promise<any>>} */
const handlers = {
  /** Starts the module and a session on `choice` ("auto", "webgpu", "flex"). */
  async init(_id, payload) {
    if (!started) started = loadModule(payload.choice);
    const { note: threadNote, threaded } = await started;
    for (const s of [trainer, reporter]) if (s) s.free();
    reporter = null;
    // The threaded module is the CPU's: "auto" there means Flex.
    choice = threaded && (payload.choice === 'auto' || payload.choice === 'webgpu') ? 'flex' : payload.choice;
    trainer = new Session(await aelab.Lab.create(choice));
    const note = [trainer.lab.note, threadNote].filter(Boolean).join(' ');
    return { backend: trainer.lab.backend, note, threads: aelab.cpu_threads() };
  },

  /**
   * The benchmark (bench.html) of this worker's session: with the threaded
   * module, the CPU's figures on every thread of its pool.
   */
  async bench(_id, { batch, steps }) {
    const row = await training().lab.bench(batch, steps);
    return { ...row, threads: aelab.cpu_threads() };
  },

  /** Destroys the worker's WebGPU devices (the lost-device test). */
  async 'lose-gpu'() {
    for (const d of gpuDevices) d.destroy();
    return gpuDevices.length;
  },

  /**
   * Trains the Augment tab's generator on `settings` (the tab's form), with
   * `classifier` (a weights file) to judge it; the answer is its weights
   * file, which the page loads (encoding the examples and fitting the
   * Gaussian there). Events: status lines, step events and checkpoints
   * (kept by the page in case the worker stops).
   */
  async 'train-augment'(id, { settings, classifier }, emit) {
    const j = job(id);
    const s = training();
    const status = (text) => emit({ kind: 'status', text });
    s.lab.load_classifier(classifier);
    await s.mnist('train', status);
    await s.mnist('test', status);
    j.check();
    const run = s.augment.start_training(settings);
    j.run = run;
    try {
      await steps(run, emit);
      await s.augment.adopt(run);
    } finally {
      j.run = null;
      run.free();
    }
    const bytes = await s.augment.bytes();
    j.check();
    return { value: { bytes }, transfer: [bytes.buffer] };
  },

  /**
   * The report's table for a denoiser (`denoiser`, a weights file) on the
   * first `images` test digits, judged by `classifier`.
   */
  async 'evaluate-denoiser'(_id, { denoiser, classifier, images }, emit) {
    const s = await reporting();
    await s.mnist('test', (text) => emit({ kind: 'status', text }));
    s.lab.load_classifier(classifier);
    s.denoise.load(denoiser);
    return await s.denoise.evaluate(images);
  },

  /**
   * Trains the denoiser: `denoiser` (the weights file the run starts from),
   * `classifier` (for the before/after table), `settings` (the Train form),
   * `compare` (test images for the table), `checkpoint_ms` (how often the
   * page gets a checkpoint to denoise with). Events: status lines, the
   * session's step events, and checkpoints; the answer is the trained
   * model's weights file and the two evaluations.
   */
  async 'train-denoise'(id, { denoiser, classifier, settings, compare, checkpoint_ms }, emit) {
    const j = job(id);
    const s = training();
    const status = (text) => emit({ kind: 'status', text });
    s.lab.load_classifier(classifier);
    s.denoise.load(denoiser);
    await s.mnist('train', status);
    await s.mnist('test', status);
    j.check();
    status('measuring the current model…');
    await new Promise((r) => setTimeout(r, 0));
    const before = await s.denoise.evaluate(compare);
    j.check();
    const run = s.denoise.start_training(settings);
    j.run = run;
    try {
      run.set_checkpoint_every(checkpoint_ms);
      await steps(run, emit);
      s.denoise.adopt(run);
    } finally {
      j.run = null;
      run.free();
    }
    status('done; measuring the new model…');
    const after = await s.denoise.evaluate(compare);
    const bytes = await s.denoise.bytes();
    j.check();
    return { value: { bytes, before, after }, transfer: [bytes.buffer] };
  },
};

scope.onmessage = async (/** @type {MessageEvent} */ msg) => {
  const { id, kind, payload } = msg.data || {};
  if (kind === 'cancel') { running.get(id)?.cancel(); return; }
  const handler = handlers[kind];
  const emit = (event, transfer = []) => scope.postMessage({ id, kind: 'event', event }, transfer);
  try {
    if (!handler) throw Object.assign(new Error(`the compute worker has no request "${kind}"`), { kind: 'bad-input' });
    const out = await handler(id, payload || {}, emit);
    const { value, transfer } = out && out.transfer ? out : { value: out, transfer: [] };
    scope.postMessage({ id, kind: 'result', value }, transfer);
  } catch (e) {
    scope.postMessage({ id, kind: 'error', error: { message: errText(e), kind: (e && e.kind) || null } });
  } finally {
    running.delete(id);
  }
};
