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
import init, * as aelab from './aelab.js';

/** @type {any} */
const scope = self;
/** @type {aelab.Lab | null} */
let lab = null;
/** @type {Promise<void> | null} */
let started = null;
/** Requests that can be cancelled, by id. @type {Map<number, { cancel(): void }>} */
const running = new Map();
/** What is loaded already. */
const loaded = { train: false, test: false };

const errText = (e) => (e && e.message) ? e.message : String(e);

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

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`could not load ${url} (HTTP ${r.status})`);
  return new Uint8Array(await r.arrayBuffer());
}

/** The session, once `init` made it. */
function session() {
  if (!lab) throw Object.assign(new Error('the compute worker has not started'), { kind: 'device' });
  return lab;
}

async function loadMnist(which, status) {
  const s = session();
  if (loaded[which]) return;
  if (which === 'train') {
    status('loading the MNIST training set (10 MB) in the compute worker…');
    const [im, lb] = await Promise.all([fetchBytes('mnist/train-images-idx3-ubyte.gz'), fetchBytes('mnist/train-labels-idx1-ubyte.gz')]);
    s.load_train_set(im, lb);
  } else {
    status('loading the MNIST test set in the compute worker…');
    const [im, lb] = await Promise.all([fetchBytes('mnist/t10k-images-idx3-ubyte.gz'), fetchBytes('mnist/t10k-labels-idx1-ubyte.gz')]);
    s.load_test_set(im, lb);
  }
  loaded[which] = true;
}

/**
 * Runs a training session to its end: each step event and each new
 * checkpoint goes to the page.
 * @param {aelab.TrainSession} run
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
  async init(_id, { choice }) {
    if (!started) started = init({ module_or_path: 'aelab_bg.wasm' }).then(() => {});
    await started;
    if (lab) lab.free();
    lab = await aelab.Lab.create(choice);
    loaded.train = loaded.test = false;
    return { backend: lab.backend, note: lab.note };
  },

  /** Destroys the worker's WebGPU devices (the lost-device test). */
  async 'lose-gpu'() {
    for (const d of gpuDevices) d.destroy();
    return gpuDevices.length;
  },

  /**
   * Trains the Augment tab's generator on `settings` (the tab's form), with
   * `classifier` (a weights file) to judge it; the answer is its weights file, which the page loads (encoding the examples
   * and fitting the Gaussian there). Events: status lines, step events and
   * checkpoints (kept by the page in case the worker stops).
   */
  async 'train-augment'(id, { settings, classifier }, emit) {
    const s = session();
    s.load_classifier(classifier);
    const status = (text) => emit({ kind: 'status', text });
    await loadMnist('train', status);
    await loadMnist('test', status);
    const a = s.augment();
    const run = a.start_training(settings);
    running.set(id, run);
    try {
      await steps(run, emit);
      await a.adopt(run);
    } finally {
      running.delete(id);
      run.free();
    }
    const bytes = await a.bytes();
    return { value: { bytes }, transfer: [bytes.buffer] };
  },

  /**
   * The report's table for a denoiser (`denoiser`, a weights file) on the
   * first `images` test digits, judged by `classifier`.
   */
  async 'evaluate-denoiser'(_id, { denoiser, classifier, images }, emit) {
    const s = session();
    await loadMnist('test', (text) => emit({ kind: 'status', text }));
    s.load_classifier(classifier);
    s.denoise().load(denoiser);
    return await s.denoise().evaluate(images);
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
    const s = session();
    const d = s.denoise();
    const status = (text) => emit({ kind: 'status', text });
    s.load_classifier(classifier);
    d.load(denoiser);
    await loadMnist('train', status);
    await loadMnist('test', status);
    let stop = false;
    running.set(id, { cancel: () => { stop = true; } });
    status('measuring the current model…');
    await new Promise((r) => setTimeout(r, 0));
    const before = await d.evaluate(compare);
    if (stop) throw Object.assign(new Error('training was cancelled'), { kind: 'cancelled' });
    const run = d.start_training(settings);
    running.set(id, run);
    try {
      run.set_checkpoint_every(checkpoint_ms);
      await steps(run, emit);
      d.adopt(run);
    } finally {
      running.delete(id);
      run.free();
    }
    const bytes = await d.bytes();
    status('done; measuring the new model…');
    const after = await d.evaluate(compare);
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
    running.delete(id);
    scope.postMessage({ id, kind: 'error', error: { message: errText(e), kind: (e && e.kind) || null } });
  }
};
