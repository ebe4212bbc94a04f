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
// pages that are not isolated, run a single-threaded one: the CPU-only
// module (cpu/aelab.js) for the CPU, the WebGPU module (aelab.js) for WebGPU.

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
 * many threads it computes on, and why only one. `threads`, when given (the
 * bench page), sizes the threaded module's pool instead of one thread per
 * core, one thread included.
 * @returns {Promise<{ threads: number, note: string, threaded: boolean }>}
 */
async function loadModule(choice, threads) {
  let note = '';
  const cores = Math.max(1, Math.min(threads || scope.navigator.hardwareConcurrency || 1, 16));
  const cpu = await onCpu(choice);
  if (cpu) {
    if (!scope.crossOriginIsolated) {
      note = 'This page is not cross-origin isolated, so the CPU trains on one thread.';
    } else if (cores < 2 && !threads) {
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
  if (cpu) {
    try {
      // The CPU-only module (cpu/), a third of the WebGPU one's size.
      const url = new URL('./cpu/aelab.js', import.meta.url).href;
      /** @type {Module} */
      const st = await import(url);
      await st.default({ module_or_path: new URL('./cpu/aelab_bg.wasm', import.meta.url) });
      aelab = st;
      return { threads: 1, note, threaded: false };
    } catch (e) {
      console.warn(`the CPU-only module did not load (${errText(e)}); loading the WebGPU one`);
    }
  }
  const st = await import('./aelab.js');
  await st.default({ module_or_path: 'aelab_bg.wasm' });
  aelab = st;
  return { threads: 1, note, threaded: false };
}

/** FNV-1a of `bytes`: tells one upload from another of the same length. */
function hash(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
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
    this.anomaly = lab.anomaly();
    this.loaded = { train: false, test: false };
    /** The Anomaly data loaded, as its source's JSON (loaded again only when it changes). */
    this.series = '';
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

  /**
   * Loads the Anomaly tab's data from `source`, as the page did: ECG5000,
   * the generated machine signal (its seed), or an uploaded CSV (its name,
   * bytes and reading options). Loading is deterministic, so the page and
   * the worker hold the same split.
   */
  async series_from(source, status) {
    const key = JSON.stringify({ ...source, bytes: source.bytes ? [source.bytes.length, hash(source.bytes)] : undefined });
    if (this.series === key) return;
    this.series = '';
    if (source.kind === 'ecg') {
      status('loading ECG5000 in the compute worker…');
      const [tr, te] = await Promise.all([fetchBytes('ecg5000/ECG5000_TRAIN.tsv.gz'), fetchBytes('ecg5000/ECG5000_TEST.tsv.gz')]);
      this.anomaly.use_ecg(tr, te);
    } else if (source.kind === 'machine') {
      this.anomaly.use_machine(source.seed);
    } else if (source.kind === 'csv') {
      status(`reading ${source.name} in the compute worker…`);
      await this.anomaly.use_csv(source.name, source.bytes, source.options);
    } else {
      throw Object.assign(new Error(`unknown anomaly data "${source.kind}"`), { kind: 'bad-input' });
    }
    this.series = key;
  }

  free() {
    this.denoise.free();
    this.augment.free();
    this.anomaly.free();
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
 * checkpoint goes to the page. `onCheckpoint(bytes, at)`, when given, sees
 * each checkpoint first (`at`: where the run is, in epochs); it must not
 * keep `bytes`, which go to the page next.
 * @param {import('./aelab.js').TrainSession} run
 * @param {(bytes: Uint8Array, at: number) => void} [onCheckpoint]
 */
async function steps(run, emit, onCheckpoint) {
  let at = 0;
  for (;;) {
    const ev = await run.step();
    if (ev.kind === 'step') at = ev.at;
    const ck = run.fresh_checkpoint();
    if (ck) {
      if (onCheckpoint) onCheckpoint(ck, at);
      emit({ kind: 'checkpoint', bytes: ck }, [ck.buffer]);
    }
    if (ev.kind === 'finished') return;
    emit(ev);
    // A step on the CPU settles without leaving the task: yield, so that
    // a cancel message is read between steps.
    await new Promise((r) => setTimeout(r, 0));
  }
}

/**
 * The Augment grid while its generator trains: a checkpoint is loaded in
 * the report's session (never the run's), the Gaussian fitted to its
 * codes, and `samples` digits drawn from it with the same `seed` each time
 * (so the grid shows one set of draws improving), judged, and sent as a
 * 'preview' event like the page's own sampling. A preview runs beside the
 * steps, not between them, one at a time, and the next one waits at least
 * `every_ms` and four times as long as the last one took, so that previews
 * hold a slow device (SwiftShader's WebGPU) to a fifth of its time at most.
 * A preview that fails is skipped: the run goes on. `settled()` resolves
 * once none is running.
 * @param {{ samples: number, seed: number, every_ms: number }} preview
 * @param {Uint8Array} classifier
 */
async function previewer({ samples, seed, every_ms }, classifier, emit) {
  const r = await reporting();
  // A report's session made before the run loaded MNIST shares it now.
  const t = training();
  if (!r.loaded.train || !r.loaded.test) { r.lab.share_data(t.lab); r.loaded = { ...t.loaded }; }
  r.lab.load_classifier(classifier);
  let next = 0;
  /** @type {Promise<void> | null} */
  let running = null;
  const one = async (bytes, at) => {
    const t0 = performance.now();
    try {
      await r.augment.load(bytes);
      const out = await r.augment.sample(samples, BigInt(seed));
      emit({ kind: 'preview', at, result: out.result, images: out.images }, [out.images.buffer]);
    } catch (e) {
      console.warn(`no preview of the grid at epoch ${at.toFixed(1)}: ${errText(e)}`);
    }
    const t1 = performance.now();
    next = t1 + Math.max(every_ms, 4 * (t1 - t0));
    running = null;
  };
  return {
    /** @param {Uint8Array} bytes @param {number} at */
    onCheckpoint(bytes, at) {
      if (running || performance.now() < next) return;
      running = one(bytes.slice(), at);
    },
    async settled() { if (running) await running; },
  };
}

/**
 * What each training request loads into the session before its run
 * starts, and how the run starts: shared by the run and by its timing
 * ('measure-run').
 * @type {Record<string, { load(s: Session, payload: any, status: (text: string) => void): Promise<void>, start(s: Session, payload: any): import('./aelab.js').TrainSession }>}
 */
const runs = {
  'train-denoise': {
    async load(s, { denoiser, classifier }, status) {
      s.lab.load_classifier(classifier);
      s.denoise.load(denoiser);
      await s.mnist('train', status);
      await s.mnist('test', status);
    },
    start: (s, { settings }) => s.denoise.start_training(settings),
  },
  'train-augment': {
    async load(s, { classifier }, status) {
      s.lab.load_classifier(classifier);
      await s.mnist('train', status);
      await s.mnist('test', status);
    },
    start: (s, { settings }) => s.augment.start_training(settings),
  },
  'train-anomaly': {
    load: (s, { source }, status) => s.series_from(source, status),
    start: (s, { settings }) => s.anomaly.start_training(settings),
  },
};

/** @type {Record<string, (id: number, payload: any, emit: (event: any, transfer?: Transferable[]) => void) => Promise<any>>} */
const handlers = {
  /**
   * Starts the module and a session on `choice` ("auto", "webgpu", "flex");
   * `threads` (optional) sizes the threaded module's pool.
   */
  async init(_id, payload) {
    if (!started) started = loadModule(payload.choice, payload.threads);
    const { note: threadNote, threaded } = await started;
    for (const s of [trainer, reporter]) if (s) s.free();
    reporter = null;
    // The threaded module is the CPU's: "auto" there means Flex.
    choice = threaded && (payload.choice === 'auto' || payload.choice === 'webgpu') ? 'flex' : payload.choice;
    trainer = new Session(await aelab.Lab.create(choice));
    const note = [trainer.lab.note, threadNote].filter(Boolean).join(' ');
    // `backend_note`: why the backend is not the one asked for (no WebGPU
    // adapter), without the threads' note.
    return { backend: trainer.lab.backend, note, backend_note: trainer.lab.note, threads: aelab.cpu_threads() };
  },

  /**
   * The benchmark (bench.html) of this worker's session: with the threaded
   * module, the CPU's figures on every thread of its pool.
   */
  async bench(_id, { batch, steps }) {
    const row = await training().lab.bench(batch, steps);
    return { ...row, threads: aelab.cpu_threads() };
  },

  /**
   * Times the training run `kind` would start with `payload` (a
   * 'train-denoise', 'train-augment' or 'train-anomaly' request's): after
   * one warm-up step, the mean wall time of the next `steps` steps, on this
   * worker's backend, or of fewer (one at least) once they took `limit_ms`
   * (a software GPU takes seconds a step). The run is dropped, not adopted.
   * `step_ms` is null where the run ended before a step could be timed.
   */
  async 'measure-run'(id, { kind, payload, steps, limit_ms = Infinity }, emit) {
    const r = runs[kind];
    if (!r) throw Object.assign(new Error(`the compute worker cannot time "${kind}"`), { kind: 'bad-input' });
    const j = job(id);
    const s = training();
    await r.load(s, payload, (text) => emit({ kind: 'status', text }));
    j.check();
    const run = r.start(s, payload);
    j.run = run;
    try {
      let timed = -1;
      let t0 = 0;
      while (timed < steps) {
        const ev = await run.step();
        if (ev.kind === 'finished') break;
        if (ev.kind !== 'step') continue;
        if (++timed === 0) t0 = performance.now();
        else if (performance.now() - t0 > limit_ms) break;
        await new Promise((res) => setTimeout(res, 0));
      }
      j.check();
      return { step_ms: timed > 0 ? (performance.now() - t0) / timed : null, backend: s.lab.backend };
    } finally {
      j.run = null;
      run.free();
    }
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
  async 'train-augment'(id, { settings, classifier, preview }, emit) {
    const j = job(id);
    const s = training();
    await runs['train-augment'].load(s, { classifier }, (text) => emit({ kind: 'status', text }));
    j.check();
    const run = runs['train-augment'].start(s, { settings });
    j.run = run;
    try {
      if (preview) run.set_checkpoint_every(preview.every_ms);
      const p = preview ? await previewer(preview, classifier, emit) : null;
      await steps(run, emit, p ? (bytes, at) => p.onCheckpoint(bytes, at) : undefined);
      // The last preview before the answer (a failed or cancelled run does
      // not wait: its late preview is dropped with its request).
      if (p) await p.settled();
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
   * Trains the Anomaly tab's model on the data `source` names (see
   * Session.series_from) with `settings` (the tab's form), then measures
   * the errors and sets the threshold (cross-validated: five more models,
   * each announced by a 'fold' event: { fold, folds }). The answer is
   * the run and its model as bytes, which the page restores on its own
   * copy of the data.
   */
  async 'train-anomaly'(id, { source, settings }, emit) {
    const j = job(id);
    const s = training();
    const status = (text) => emit({ kind: 'status', text });
    await runs['train-anomaly'].load(s, { source }, status);
    j.check();
    const run = runs['train-anomaly'].start(s, { settings });
    j.run = run;
    try {
      await steps(run, emit);
      status('done; measuring the errors…');
      // The session's cancel stops the cross-validation's folds too.
      await s.anomaly.finish(run, (fold, folds) => emit({ kind: 'fold', fold, folds }));
    } finally {
      j.run = null;
      run.free();
    }
    j.check();
    const runBytes = s.anomaly.run_bytes();
    const model = await s.anomaly.model_bytes();
    return { value: { run: runBytes, model }, transfer: [runBytes.buffer, model.buffer] };
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
    await runs['train-denoise'].load(s, { denoiser, classifier }, status);
    j.check();
    status('measuring the current model…');
    await new Promise((r) => setTimeout(r, 0));
    const before = await s.denoise.evaluate(compare);
    j.check();
    const run = runs['train-denoise'].start(s, { settings });
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
