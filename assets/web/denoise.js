// @ts-check
// The Denoise tab: DOM wiring only. The draw pad, the live pipeline (input →
// noisy → denoised → verdicts), the noise, the MNIST test digits, the
// report, training in the page and the model files; every number comes from
// the Rust core through the Lab.
import { $, errText, fetchBytes, paint, paintDrawing, showVerdict, renderTable, toCsv, download, runTraining, designerSlot, runsPanel } from './ui.js';
import * as store from './store.js';
import { workerAvailable, workerSession, useWorker, workerPlace } from './compute.js';

const PAD = 280;
const BRUSH = 22;
const MAX_UPLOAD = 64 * 1024 * 1024;
// How often a run in the compute worker sends the page a checkpoint to
// denoise with, in ms (and at each epoch's end).
const PREVIEW_MS = 2000;

// `app`: the page's shared state and services (app.js).
/** @param {{ state: { api: import('./ui.js').LabApi, lab: import('./ui.js').Lab, labs: import('./ui.js').Labs, backend: string, [more: string]: any }, compute: import('./compute.js').Compute, [more: string]: any }} app */
export function setupDenoise(app) {
  const { state, save, recover, saveSettingsSoon } = app;

  // The compute worker (app.js makes it; compute.js): denoiser training and
  // the report's table run there where the page can have one (served over
  // http), so the page keeps answering, and the pad denoises with a run's
  // latest checkpoint. From file:// they run on the page's thread.
  const { compute } = app;

  // ---------- draw pad ----------
  const pad = $('pad');
  const pctx = pad.getContext('2d', { willReadFrequently: true });
  function clearPad() {
    pctx.fillStyle = '#000';
    pctx.fillRect(0, 0, PAD, PAD);
  }
  clearPad();
  let drawing = null;
  function padPoint(ev) {
    const r = pad.getBoundingClientRect();
    return [(ev.clientX - r.left) * PAD / r.width, (ev.clientY - r.top) * PAD / r.height];
  }
  function stroke(from, to, pressure) {
    pctx.strokeStyle = '#fff';
    pctx.lineCap = 'round';
    pctx.lineJoin = 'round';
    pctx.lineWidth = BRUSH * (pressure > 0 && pressure !== 0.5 ? 0.6 + 0.8 * pressure : 1);
    pctx.beginPath();
    pctx.moveTo(from[0], from[1]);
    pctx.lineTo(to[0], to[1]);
    pctx.stroke();
  }
  pad.addEventListener('pointerdown', (ev) => {
    ev.preventDefault();
    pad.setPointerCapture(ev.pointerId);
    const p = padPoint(ev);
    drawing = { id: ev.pointerId, last: p };
    stroke(p, p, ev.pressure);
    state.source = 'pad';
    schedule();
  });
  pad.addEventListener('pointermove', (ev) => {
    if (!drawing || ev.pointerId !== drawing.id) return;
    const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
    for (const e of (events.length ? events : [ev])) {
      const p = padPoint(e);
      stroke(drawing.last, p, e.pressure);
      drawing.last = p;
    }
    schedule();
  });
  for (const t of ['pointerup', 'pointercancel', 'lostpointercapture']) {
    pad.addEventListener(t, () => { if (drawing) { drawing = null; schedule(); } });
  }
  $('clear').addEventListener('click', () => { clearPad(); state.source = 'pad'; update(); });

  // A "7" drawn with the brush: the first thing the page denoises.
  function drawSample() {
    clearPad();
    const pts = [[80, 70], [200, 70], [190, 95], [150, 160], [125, 215]];
    for (let i = 1; i < pts.length; i++) stroke(pts[i - 1], pts[i], 0.5);
    state.source = 'pad';
  }
  $('sample').addEventListener('click', () => { drawSample(); update(); });

  /** The pad's ink: its red channel, 0–255. */
  function padInk() {
    const rgba = pctx.getImageData(0, 0, PAD, PAD).data;
    const ink = new Uint8Array(PAD * PAD);
    for (let i = 0; i < ink.length; i++) ink[i] = rgba[4 * i];
    return ink;
  }

  function showOnPad(img) {
    const data = pctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const g = Math.round(img[i] * 255);
      data.data[4 * i] = g; data.data[4 * i + 1] = g; data.data[4 * i + 2] = g; data.data[4 * i + 3] = 255;
    }
    const tmp = document.createElement('canvas');
    tmp.width = 28; tmp.height = 28;
    tmp.getContext('2d').putImageData(data, 0, 0);
    clearPad();
    pctx.imageSmoothingEnabled = true;
    pctx.drawImage(tmp, 0, 0, PAD, PAD);
  }

  // ---------- the live pipeline: input → noisy → denoised → verdicts ----------
  let frame = 0;
  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; update(); });
  }

  // What one update of the pipeline took, from the drawn input to the
  // painted verdicts (its last 200; tests/e2e/longtask.mjs reads them).
  const updateMs = [];
  window.aelabUpdateMs = updateMs;
  function keepUpdateMs(ms) {
    if (updateMs.push(ms) > 200) updateMs.shift();
  }

  async function update() {
    if (!state.lab) return;
    if (state.busy) { state.dirty = true; return; }
    state.busy = true;
    document.body.dataset.busy = 'true';
    let retry = false;
    try {
      do {
        state.dirty = false;
        const t0 = performance.now();
        // Centring (for a drawing), noise, denoising and the three
        // verdicts: one call to the lab's session.
        const seed = BigInt(state.seed);
        const r = state.source === 'test'
          ? (state.testImage ? await state.labs.denoise.pipeline(state.testImage, state.noise, seed) : undefined)
          : await state.labs.denoise.pipeline_drawing(padInk(), PAD, PAD, state.noise, seed);
        if (!r) {
          for (const id of ['img-input', 'img-noisy', 'img-denoised']) paint($(id), null);
          for (const id of ['verdict-input', 'verdict-noisy', 'verdict-denoised']) showVerdict($(id), null);
          continue;
        }
        const { input, noisy, denoised, probs } = r;
        state.lastNoisy = noisy;
        showInside();
        paint($('img-input'), input);
        paint($('img-noisy'), noisy);
        paint($('img-denoised'), denoised);
        showVerdict($('verdict-input'), probs.subarray(0, 10));
        showVerdict($('verdict-noisy'), probs.subarray(10, 20));
        showVerdict($('verdict-denoised'), probs.subarray(20, 30));
        keepUpdateMs(performance.now() - t0);
        if (!window.aelabFirstDenoiseMs) {
          window.aelabFirstDenoiseMs = performance.now();
          document.body.dataset.ready = 'true';
        }
      } while (state.dirty);
    } catch (e) {
      retry = await recover(e, 'denoising');
    } finally {
      state.busy = false;
      document.body.dataset.busy = 'false';
    }
    if (retry) update();
  }

  // ---------- see inside ----------
  // Every layer's maps for the noisy digit the denoiser gets, redrawn as
  // the pad changes while the view is open (inside.js, loaded then).
  const insideView = $('denoise-inside');
  const inside = { busy: false, pending: false, mod: null };
  async function showInside() {
    if (!insideView.open || !state.lastNoisy) return;
    inside.pending = true;
    if (inside.busy) return;
    inside.busy = true;
    const body = insideView.querySelector('.inside-body');
    try {
      if (!inside.mod) inside.mod = await import('./inside.js');
      while (inside.pending) {
        inside.pending = false;
        const r = await state.labs.denoise.inside(state.lastNoisy);
        const info = await state.labs.denoise.info();
        inside.mod.renderInside(body, r, `${info.name}, on the noisy digit (f = ${state.noise.toFixed(2)}). Each square is one channel, scaled to its layer's range (grey from 0; blue below 0, red above, where a layer has negative values).`);
      }
    } catch (e) {
      body.textContent = `The layers could not be shown: ${errText(e)}`;
      delete body.dataset.signature;
    } finally { inside.busy = false; }
  }
  insideView.addEventListener('toggle', () => { if (insideView.open) showInside(); });

  // ---------- noise ----------
  function setNoise(f, refresh = true) {
    state.noise = Math.min(1, Math.max(0, Number(f) || 0));
    $('noise').value = String(state.noise);
    $('noise-value').textContent = state.noise.toFixed(2);
    saveSettingsSoon();
    if (refresh) update();
  }
  $('noise').addEventListener('input', (ev) => setNoise(ev.target.value));
  for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.preset'))) b.addEventListener('click', () => setNoise(Number(b.dataset.f)));
  $('new-noise').addEventListener('click', () => { state.seed = (state.seed * 1103515245 + 12345) % 2147483647; update(); });

  // ---------- MNIST test digits ----------
  // Runs `make` once, on first use, and shares its promise; a failure clears
  // it so that the next call tries again.
  function once(key, make) {
    if (!state[key]) state[key] = make().catch((e) => { state[key] = null; throw e; });
    return state[key];
  }
  const fetchPair = (images, labels) => Promise.all([fetchBytes(images), fetchBytes(labels)]);

  function testSet() {
    return once('testSet', async () => {
      $('pick-note').textContent = 'loading the MNIST test set…';
      try {
        const [im, lb] = await fetchPair('mnist/t10k-images-idx3-ubyte.gz', 'mnist/t10k-labels-idx1-ubyte.gz');
        const n = await state.lab.load_test_set(im, lb);
        $('pick-note').textContent = `${n} test digits`;
        $('pick-index').max = String(n - 1);
        return n;
      } catch (e) { $('pick-note').textContent = ''; throw e; }
    });
  }

  async function showTest(index) {
    try {
      await testSet();
      const img = await state.lab.test_image(index);
      state.testImage = img;
      state.source = 'test';
      showOnPad(img);
      $('pick-index').value = String(index);
      $('pick-note').textContent = `test digit #${index}, labelled ${await state.lab.test_label(index)}`;
      update();
    } catch (e) { $('pick-note').textContent = errText(e); }
  }
  $('pick-show').addEventListener('click', () => {
    const i = Number($('pick-index').value);
    if (!Number.isInteger(i) || i < 0) { $('pick-note').textContent = 'enter a whole number from 0 to 9999'; return; }
    showTest(i);
  });
  $('pick-random').addEventListener('click', async () => {
    try {
      await testSet();
      const seed = BigInt(Math.floor(Math.random() * 2 ** 32));
      showTest(await state.lab.random_test_index(Number($('pick-class').value), seed));
    } catch (e) { $('pick-note').textContent = errText(e); }
  });

  // ---------- report ----------
  function reportTable(rep, caption) {
    const rows = rep.levels.map((l) => [l.noise.toFixed(1), l.psnr_noisy.toFixed(2), l.psnr_denoised.toFixed(2),
      l.ssim_noisy.toFixed(3), l.ssim_denoised.toFixed(3), (100 * l.accuracy_noisy).toFixed(2),
      (100 * l.accuracy_denoised).toFixed(2), (100 * l.accuracy_median3).toFixed(2)]);
    const head = ['f', 'PSNR noisy (dB)', 'PSNR denoised (dB)', 'SSIM noisy', 'SSIM denoised',
      'accuracy noisy (%)', 'accuracy denoised (%)', 'accuracy 3×3 median (%)'];
    return { head, rows, caption: `${caption}: ${rep.images} test images, classifier ${(100 * rep.classifier_accuracy_clean).toFixed(2)} % on clean digits` };
  }
  // The figure is drawn here; the table (n test digits, up to 10000) is
  // computed in the compute worker where the page has one.
  async function makeReport(n, canvas) {
    await testSet();
    paintDrawing(canvas, await state.labs.denoise.draw_report());
    return await table(n);
  }
  // The report's table of the current denoiser (the test set is loaded): in
  // the worker when one can run, else here.
  async function table(n) {
    if (workerAvailable()) {
      let started = false;
      try {
        await compute.ensure(state.backend);
        started = true;
        return await compute.request('evaluate-denoiser', { denoiser: state.bytes.denoiser, classifier: state.bytes.classifier, images: n }).done;
      } catch (e) {
        if (started && (!e || e.kind !== 'worker-lost')) throw e;
        console.warn(`${errText(e)}: the table is computed on the page's thread`);
      }
    }
    return await state.labs.denoise.evaluate(n);
  }
  $('report-make').addEventListener('click', async () => {
    const btn = $('report-make');
    btn.disabled = true;
    $('report-table').textContent = 'computing…';
    try {
      await makeReportNow(Number($('report-n').value));
    } catch (e) {
      $('report-table').textContent = '';
      await recover(e, 'making the report');
    } finally { btn.disabled = false; }
  });
  $('report-png').addEventListener('click', () => $('report-canvas').toBlob((b) => download(b, 'aelab-denoise-report.png'), 'image/png'));
  $('report-csv').addEventListener('click', () => {
    const t = state.reportRows;
    if (!t) return;
    download(new Blob([toCsv(t)], { type: 'text/csv' }), 'aelab-denoise-report.csv');
  });

  // ---------- training ----------
  function trainSet() {
    return once('trainSet', async () => {
      const [im, lb] = await fetchPair('mnist/train-images-idx3-ubyte.gz', 'mnist/train-labels-idx1-ubyte.gz');
      return await state.lab.load_train_set(im, lb);
    });
  }

  // ---------- the model designer (designer.js, loaded when opened) ----------
  const designer = designerSlot({
    lab: 'denoise', details: $('denoise-designer'), api: () => state.api,
    batch: () => Math.floor(Number($('train-batch').value)) || 16,
    preset: () => `denoiser-${$('train-kind').value}`,
    // Designing means training that design from scratch.
    onActive: () => { /** @type {HTMLInputElement} */ (document.querySelector('input[name=start][value=scratch]')).checked = true; },
  });

  function trainSettings() {
    const num = (id) => Number($(id).value);
    const spec = designer.spec();
    return {
      images: Math.floor(num('train-images')),
      epochs: Math.floor(num('train-epochs')),
      batch_size: Math.floor(num('train-batch')),
      learning_rate: num('train-lr'),
      noise_min: num('train-nmin'),
      noise_max: num('train-nmax'),
      from_scratch: !!spec || /** @type {HTMLInputElement} */ (document.querySelector('input[name=start]:checked')).value === 'scratch',
      kind: $('train-kind').value,
      seed: Math.floor(Math.random() * 1e9),
      spec: spec || undefined,
    };
  }

  const COMPARE_N = 500;

  function compareTable(before, after) {
    const t = reportTable(after, 'Trained here');
    const b = reportTable(before, 'Before');
    renderTable($('train-compare'), {
      caption: `Before and after training, on the first ${COMPARE_N} test images`,
      head: ['model', ...b.head],
      rows: [...b.rows.map((r) => ['before', ...r]), ...t.rows.map((r) => ['after', ...r])],
    });
  }

  const atText = (at) => at.step === 0 ? `after epoch ${at.epoch}` : `epoch ${at.epoch + 1}, step ${at.step}`;

  // A checkpoint from the worker: the pad denoises with it from now on.
  async function showPreview(bytes) {
    try {
      const at = await state.labs.denoise.set_preview(bytes);
      $('denoise-source').textContent = `Denoised by the model being trained (${at ? atText(at) : 'latest checkpoint'}). Cancel, and the current model is back.`;
      $('denoise-source').dataset.preview = 'true';
      update();
    } catch (e) { console.warn(`checkpoint not shown: ${errText(e)}`); }
  }
  async function endPreview() {
    $('denoise-source').textContent = '';
    $('denoise-source').dataset.preview = 'false';
    try {
      const was = state.labs && await state.labs.denoise.previewing();
      if (state.labs) await state.labs.denoise.clear_preview();
      if (was) update();
    } catch (e) { console.warn(`the preview could not be cleared: ${errText(e)}`); }
  }

  // The model of a run kept after a failure: its last checkpoint.
  async function rescue(checkpoint, why, ui) {
    await endPreview();
    await state.labs.denoise.load(checkpoint);
    state.bytes.denoiser = checkpoint;
    save('denoiser', checkpoint, 'the trained denoiser');
    const at = (await state.labs.denoise.info()).checkpoint || { epoch: 0, step: 0 };
    const kept = `kept the model as trained up to ${atText(at)} (its last checkpoint)`;
    ui.status.textContent = why === 'worker'
      ? `The compute worker stopped during training; aelab ${kept}. The next run starts a new worker.`
      : `WebGPU failed during training; aelab moved to the CPU and ${kept}.`;
    showModelInfo();
    update();
  }

  // The run table: a row for each finished run, whose model can come back.
  const runs = runsPanel({
    lab: 'denoise', root: $('denoise-runs'), api: () => state.api,
    use: async (weights, _extra, row) => {
      await endPreview();
      await state.labs.denoise.load(weights);
      state.bytes.denoiser = weights;
      save('denoiser', weights, 'the denoiser of a run');
      state.pretrainedReport = null;
      showModelInfo();
      update();
      return `The model of the run started ${new Date(row.started).toLocaleString()} is now the current denoiser.`;
    },
  });
  runs.restore();

  let starting = false;
  $('train-start').addEventListener('click', async () => {
    if (state.training || starting) return;
    const cfg = trainSettings();
    for (const [k, v] of Object.entries(cfg)) {
      if (typeof v === 'number' && !Number.isFinite(v)) { $('train-status').textContent = `"${k}" is not a number`; return; }
    }
    const ui = { start: $('train-start'), cancel: $('train-cancel'), bar: $('train-progress'), status: $('train-status'), chart: $('train-chart') };
    $('train-compare').textContent = '';
    const common = {
      register: (session) => { state.training = session; if (!session) endPreview(); },
      backend: () => state.backend,
      cancelled: 'cancelled: the previous model stays.',
      failed: (msg) => `training failed: ${msg}. The model from before the run stays.`,
      recover: (e) => recover(e, 'training'),
      rescue: (checkpoint, why) => rescue(checkpoint, why, ui),
    };
    const keep = (bytes) => {
      state.bytes.denoiser = bytes;
      save('denoiser', bytes, 'the trained denoiser');
    };
    const done = (where = '') => {
      ui.status.textContent = `done: the trained model is now the current denoiser.${where}`;
      showModelInfo();
      update();
    };
    const started = new Date();
    const t0 = performance.now();
    starting = true;
    ui.start.disabled = true;
    const payload = {
      denoiser: state.bytes.denoiser, classifier: state.bytes.classifier, settings: cfg,
      compare: COMPARE_N, checkpoint_ms: PREVIEW_MS,
    };
    let inWorker = false;
    try {
      if (workerAvailable()) ui.status.textContent = 'starting the compute worker…';
      inWorker = await useWorker(compute, (t) => { ui.status.textContent = t; }, { kind: 'train-denoise', payload });
    } finally { starting = false; ui.start.disabled = false; }
    if (inWorker) {
      ui.status.dataset.where = 'worker';
      // The worker may train on another backend than the pad's (measured
      // faster, or no WebGPU there).
      const where = compute.backend !== state.backend ? workerPlace(compute) : '';
      await runTraining(ui, {
        ...common,
        begin: () => workerSession(compute, 'train-denoise', payload, { api: state.api, epochs: cfg.epochs, onStatus: (t) => { ui.status.textContent = t; }, onCheckpoint: showPreview }),
        finish: async (session) => {
          const { bytes, before, after } = session.result;
          const ms = performance.now() - t0;
          await endPreview();
          await state.labs.denoise.load(bytes);
          keep(bytes);
          compareTable(before, after);
          done(where);
          await runs.add(bytes, after, started, ms);
        },
      });
      return;
    }
    // No worker here (file://, or it could not start): train on the page's thread.
    ui.status.dataset.where = 'page';
    await runTraining(ui, {
      ...common,
      prepare: async () => {
        ui.status.textContent = 'loading the MNIST training set (10 MB)…';
        await trainSet();
        await testSet();
        if (!state.pretrainedReport) {
          ui.status.textContent = 'measuring the current model…';
          state.pretrainedReport = await state.labs.denoise.evaluate(COMPARE_N);
        }
      },
      begin: () => state.labs.denoise.start_training(cfg),
      finish: async (session) => {
        const ms = performance.now() - t0;
        await state.labs.denoise.adopt(session);
        const bytes = await state.labs.denoise.bytes();
        keep(bytes);
        ui.status.textContent = 'done; measuring the new model…';
        const after = await state.labs.denoise.evaluate(COMPARE_N);
        compareTable(state.pretrainedReport, after);
        done();
        await runs.add(bytes, after, started, ms);
      },
    });
  });
  $('train-cancel').addEventListener('click', () => { if (state.training) state.training.cancel(); });

  // ---------- models ----------
  async function showModelInfo() {
    try {
      const c = await state.labs.denoise.info();
      let origin = c.trained_in === 'browser' ? `trained in this browser on ${c.images} images, ${c.epochs} epoch(s)` : (state.bytes.denoiser === state.bytes.pretrained ? 'pre-trained (shipped with aelab)' : 'loaded from a file');
      // Counted as in the status line: epochs from 1.
      if (c.checkpoint) origin += ` (checkpoint ${c.checkpoint.step === 0 ? '' : 'at '}${atText(c.checkpoint)})`;
      $('model-info').textContent = `Current denoiser: ${c.name} (${c.layers} layers, ${c.params.toLocaleString('en')} parameters), ${origin}.`;
    } catch (e) { $('model-info').textContent = ''; }
  }
  $('model-download').addEventListener('click', async () => {
    try { download(new Blob([await state.labs.denoise.bytes()]), 'aelab-denoiser.aelab'); } catch (e) { $('model-msg').textContent = errText(e); }
  });
  $('model-file').addEventListener('change', async (ev) => {
    const file = ev.target.files[0];
    ev.target.value = '';
    if (!file) return;
    const msg = $('model-msg');
    if (file.size === 0) { msg.textContent = `${file.name} is empty.`; return; }
    if (file.size > MAX_UPLOAD) { msg.textContent = `${file.name} is ${(file.size / 1e6).toFixed(0)} MB; aelab weight files are far smaller (limit 64 MB).`; return; }
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const kind = await state.api.weights_kind(bytes);
      if (kind === 'denoiser') { await state.labs.denoise.load(bytes); state.bytes.denoiser = bytes; save('denoiser', bytes, 'the loaded denoiser'); }
      else if (kind === 'classifier') { await state.lab.load_classifier(bytes); state.bytes.classifier = bytes; save('classifier', bytes, 'the loaded classifier'); }
      else throw new Error(`it holds a "${kind}" model, which this lab does not use`);
      msg.textContent = `Loaded ${file.name} (${kind}).`;
      state.pretrainedReport = null;
      showModelInfo();
      update();
    } catch (e) { msg.textContent = `Could not load ${file.name}: ${errText(e)}. The current model stays.`; }
  });
  $('model-reset').addEventListener('click', async () => {
    try { await state.labs.denoise.load(state.bytes.pretrained); } catch (e) { $('model-msg').textContent = errText(e); return; }
    state.bytes.denoiser = state.bytes.pretrained;
    store.del('denoiser');
    state.pretrainedReport = null;
    $('model-msg').textContent = 'Back to the pre-trained denoiser.';
    showModelInfo();
    update();
  });

  // What the Report view shows of this tab (report.js).
  async function report() {
    return {
      spec: await state.labs.denoise.spec_json(),
      info: await state.labs.denoise.info(),
      figure: state.reportRows ? $('report-canvas') : null,
      table: state.reportRows || null,
      runs: runs.rows(),
    };
  }
  /** Makes the report figure and its table on `n` test digits, as "Make report" does. @param {number} n */
  async function makeReportNow(n) {
    const rep = await makeReport(n, $('report-canvas'));
    const t = reportTable(rep, 'Current denoiser');
    state.reportRows = t;
    renderTable($('report-table'), t);
    $('report-png').disabled = false;
    $('report-csv').disabled = false;
  }

  return { update, showModelInfo, setNoise, drawSample, testSet, trainSet, designer, runs, report, makeReportNow };
}
