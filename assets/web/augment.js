// @ts-check
// The Augment tab: DOM wiring only. Training, sampling, judging, diversity
// and the fooling walk are computed by the Rust core through the Lab.
import { $, errText, paint, paintDrawing, bestDigit, showVerdict, digitCanvas, renderTable, toCsv, download, runTraining, designerSlot, runsPanel } from './ui.js';
import { workerAvailable, useWorker, workerSession } from './compute.js';

const SHOW_EXAMPLES = 100; // at most this many chosen examples are shown
// How often the grid is sampled again from the generator being trained.
const PREVIEW_MS = 3000;

/** @param {import('./ui.js').TabContext} app */
export function setupAugment(app) {
  const st = {
    info: null, // {digit, examples, latent, codes, mean, std}
    code: null, // the code the sliders show
    sample: null, // last sampling: {judged, verdicts, codes}
    busy: false,
    fooling: false,
  };
  const lab = () => app.lab();
  const aug = () => app.handles().augment;

  // ---------- the model designer (designer.js, loaded when opened) ----------
  const designer = designerSlot({
    lab: 'augment', details: $('augment-designer'), api: () => app.api(), batch: () => 32, preset: () => 'latent-ae',
  });

  // ---------- settings and the chosen examples ----------
  function settings() {
    const num = (id) => Number($(id).value);
    return {
      spec: designer.spec() || undefined,
      digit: num('aug-digit'),
      examples: Math.floor(num('aug-examples')),
      latent: num('aug-latent'),
      width: num('aug-width'),
      epochs: Math.floor(num('aug-epochs')),
      seed: Math.floor(num('aug-seed')),
    };
  }
  function check(s) {
    if (!Number.isInteger(s.examples) || s.examples < 1 || s.examples > 6000) return 'examples must be a whole number from 1 to 6000';
    if (!Number.isInteger(s.epochs) || s.epochs < 1 || s.epochs > 100) return 'epochs must be a whole number from 1 to 100';
    if (!Number.isInteger(s.seed) || s.seed < 0) return 'the seed must be a whole number ≥ 0';
    return null;
  }
  let showing = 0;
  async function showExamples() {
    const s = settings();
    const bad = check(s);
    const note = $('aug-examples-note');
    if (bad) { note.textContent = bad; return; }
    const my = ++showing;
    try {
      note.textContent = 'loading the MNIST training set (10 MB)…';
      await app.trainSet();
      if (my !== showing) return;
      const imgs = await aug().examples(s.digit, s.examples, BigInt(s.seed));
      if (my !== showing) return;
      const grid = $('aug-examples-grid');
      grid.replaceChildren();
      const n = Math.min(SHOW_EXAMPLES, imgs.length / 784);
      for (let i = 0; i < n; i++) {
        const f = document.createElement('figure');
        f.append(digitCanvas(imgs, 784 * i, `training example ${i}`));
        grid.append(f);
      }
      note.textContent = `${s.examples} training example(s) of ${s.digit}` + (s.examples > n ? ` (the first ${n} shown)` : '');
    } catch (e) { note.textContent = errText(e); }
  }
  for (const id of ['aug-digit', 'aug-examples', 'aug-seed']) $(id).addEventListener('change', showExamples);
  for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.aug-preset'))) {
    b.addEventListener('click', () => { $('aug-examples').value = b.dataset.n; showExamples(); });
  }

  // ---------- training ----------
  // The run table: a row for each finished run, whose generator can come back.
  const runs = runsPanel({
    lab: 'augment', root: $('augment-runs'), api: app.api,
    use: async (weights, _extra, row) => {
      await Promise.all([app.trainSet(), app.testSet()]);
      await install(await aug().load(weights));
      await keep(weights);
      return `The generator of the run started ${new Date(row.started).toLocaleString()} is back.`;
    },
  });
  runs.restore();
  let session = null;
  $('aug-train').addEventListener('click', async () => {
    if (session || app.isTraining()) { $('aug-status').textContent = 'another training run is in progress'; return; }
    const started = new Date();
    const t0 = performance.now();
    const s = settings();
    const bad = check(s);
    if (bad) { $('aug-status').textContent = bad; return; }
    if (workerAvailable()) $('aug-status').textContent = 'starting the compute worker…';
    $('aug-train').disabled = true;
    let inWorker = false;
    try {
      inWorker = await useWorker(app.compute, (t) => { $('aug-status').textContent = t; },
        { kind: 'train-augment', payload: { settings: s, classifier: app.classifier() } });
    } finally { $('aug-train').disabled = false; }
    if (session || app.isTraining()) return;
    $('aug-status').dataset.where = inWorker ? 'worker' : 'page';
    await runTraining({ start: $('aug-train'), cancel: $('aug-cancel'), bar: $('aug-progress'), status: $('aug-status'), chart: $('aug-chart') }, {
      prepare: async () => {
        $('aug-status').textContent = 'loading MNIST…';
        await Promise.all([app.trainSet(), app.testSet()]);
        showExamples();
      },
      // In the compute worker where the page has one (compute.js).
      begin: () => inWorker
        ? workerSession(app.compute, 'train-augment', {
          settings: s, classifier: app.classifier(),
          preview: { samples: Number($('aug-samples').value), seed: Math.floor(Math.random() * 2 ** 32), every_ms: PREVIEW_MS },
        }, { api: app.api(), epochs: s.epochs, onStatus: (t) => { $('aug-status').textContent = t; }, onEvent: (ev) => { if (ev.kind === 'preview') showPreview(ev, s.epochs); } })
        : aug().start_training(s),
      finish: async (done) => {
        const ms = performance.now() - t0;
        $('aug-status').textContent = 'done; encoding the examples and fitting the Gaussian…';
        let bytes;
        if (inWorker) {
          bytes = done.result.bytes;
          await install(await aug().load(bytes));
          await keep(bytes);
        } else {
          await install(await aug().adopt(done));
          bytes = await keep();
        }
        await runs.add(bytes, st.sample && st.sample.judged, started, ms);
      },
      register: (x) => { session = x; app.setTraining(x); if (!x) endPreview(); },
      backend: app.backend,
      cancelled: 'cancelled: the previous generator (if any) stays.',
      failed: (msg) => `training failed: ${msg}. The previous generator (if any) stays.`,
      recover: (e) => app.recover(e, 'training the generator'),
      rescue: async (checkpoint, why) => {
        await install(await aug().load(checkpoint));
        await keep(checkpoint);
        $('aug-status').textContent = why === 'worker'
          ? 'The compute worker stopped during training; aelab kept the generator as trained up to its last checkpoint. The next run starts a new worker.'
          : 'WebGPU failed during training; aelab moved to the CPU and kept the generator as trained up to its last checkpoint.';
      },
    });
  });
  $('aug-cancel').addEventListener('click', () => { if (session) session.cancel(); });

  /** A generator from `adopt` or `load`. @param {import('./aelab.js').AugmenterInfo} info */
  async function install(info) {
    st.info = info;
    $('aug-status').textContent = `done: a generator of ${st.info.digit}s from ${st.info.examples} example(s), d = ${st.info.latent}.`;
    enable(true);
    setupLatent();
    await sample();
  }
  // Keeps the current generator's weights for the next visit and for a
  // backend switch.
  async function keep(bytes) {
    const b = bytes || await aug().bytes();
    app.setAugmenter(b);
    await app.save('augmenter', b, 'the trained generator');
    return b;
  }

  function enable(on) {
    for (const id of ['aug-resample', 'aug-load-code', 'aug-fool', 'aug-interp', 'aug-perturb', 'aug-model']) $(id).disabled = !on;
  }

  // ---------- sampling, verdicts, diversity ----------
  function diversityTable(j) {
    const d = j.diversity;
    return {
      caption: `${j.samples} digits generated from ${j.examples} example(s) of ${j.digit}, against ${'500'} real test ${j.digit}s`,
      head: ['figure', 'value', 'what it says'],
      rows: [
        ['recognised rate', `${(100 * j.recognised_rate).toFixed(1)} %`, `share the classifier calls ${j.digit}`],
        ['mean confidence', j.mean_confidence.toFixed(3), `mean probability of ${j.digit}`],
        ['pairwise L2 ratio', d.pairwise_l2_ratio.toFixed(3), 'spread of the samples / spread of real digits (1 = as varied)'],
        ['FID (classifier features)', d.fid.toFixed(2), 'distance between feature distributions (0 = same)'],
        ['precision', d.precision.toFixed(3), 'share of samples that look real'],
        ['recall', d.recall.toFixed(3), 'share of real variety the samples reach'],
        ['density', d.density.toFixed(3), 'realism robust to outliers (≈ 1 is a match)'],
        ['coverage', d.coverage.toFixed(3), 'share of real digits with a sample nearby'],
        ['duplicate rate', `${(100 * d.duplicate_rate).toFixed(1)} %`, 'samples that copy a training example'],
      ],
    };
  }
  async function sample() {
    if (st.busy) return;
    st.busy = true;
    $('aug-resample').disabled = true;
    try {
      const n = Number($('aug-samples').value);
      const seed = BigInt(Math.floor(Math.random() * 2 ** 32));
      const r = await aug().sample(n, seed);
      showGrid(r.result, r.images);
      $('aug-grid-source').textContent = '';
      $('aug-grid').dataset.preview = 'false';
      st.sample = r.result;
      const j = r.result.judged;
      st.table = diversityTable(j);
      renderTable($('aug-diversity'), st.table);
      $('aug-png').disabled = false;
      $('aug-csv').disabled = false;
    } catch (e) {
      await app.recover(e, 'sampling digits');
    } finally {
      st.busy = false;
      $('aug-resample').disabled = !st.info;
    }
  }
  /**
   * Fills the grid with sampled digits and their verdicts (`res`, `images`:
   * n·784 floats), from the current generator or from a checkpoint of the
   * one being trained.
   * @param {import('./aelab.js').Sampled} res @param {Float32Array} images
   */
  function showGrid(res, images) {
    const grid = $('aug-grid');
    grid.replaceChildren();
    res.verdicts.forEach((v, i) => {
      const f = document.createElement('figure');
      const ok = v.digit === res.judged.digit;
      f.className = ok ? 'ok' : 'wrong';
      f.dataset.digit = String(v.digit);
      const cap = document.createElement('figcaption');
      cap.className = 'aug-verdict';
      cap.textContent = `${v.digit} ${(100 * v.confidence).toFixed(0)}%${ok ? '' : ' ✗'}`;
      f.append(digitCanvas(images, 784 * i, `generated digit ${i}: classified ${v.digit}`), cap);
      f.title = ok ? 'recognised' : `not recognised: looks like a ${v.digit}`;
      grid.append(f);
    });
    const j = res.judged;
    $('aug-rate').textContent = `${(100 * j.recognised_rate).toFixed(1)} % recognised as ${j.digit}`;
  }
  // A run that ended without a new generator: the grid goes back to the
  // current one (or to empty).
  function endPreview() {
    if ($('aug-grid').dataset.preview !== 'true') return;
    $('aug-grid').dataset.preview = 'false';
    $('aug-grid-source').textContent = '';
    if (st.info) { sample(); return; }
    $('aug-grid').replaceChildren();
    $('aug-rate').textContent = '–';
  }
  // While a generator trains in the compute worker, the grid shows digits
  // sampled from its checkpoints (worker.js's previewer); the finished
  // generator samples it again.
  function showPreview(ev, epochs) {
    showGrid(ev.result, ev.images);
    const grid = $('aug-grid');
    grid.dataset.preview = 'true';
    grid.dataset.previews = String(Number(grid.dataset.previews || 0) + 1);
    $('aug-grid-source').textContent = `Sampled from the generator being trained (epoch ${Math.min(epochs, ev.at).toFixed(1)} of ${epochs}), the same draws each time. Cancel, and the previous generator stays.`;
  }
  $('aug-resample').addEventListener('click', sample);
  $('aug-png').addEventListener('click', async () => {
    try {
      const c = $('aug-grid-canvas');
      paintDrawing(c, await aug().draw_grid(10));
      c.toBlob((b) => download(b, 'aelab-augment-grid.png'), 'image/png');
    } catch (e) { app.banner(`Could not export the grid: ${errText(e)}`); }
  });
  $('aug-csv').addEventListener('click', () => {
    if (!st.table || !st.sample) return;
    const verdicts = st.sample.verdicts.map((v, i) => [i, v.digit, v.confidence.toFixed(4)]);
    const csv = toCsv(st.table) + '\n' + toCsv({ head: ['sample', 'class', 'confidence'], rows: verdicts });
    download(new Blob([csv], { type: 'text/csv' }), 'aelab-augment-diversity.csv');
  });
  $('aug-model').addEventListener('click', async () => {
    try { download(new Blob([await aug().bytes()]), 'aelab-augmenter.aelab'); } catch (e) { app.banner(errText(e)); }
  });

  // ---------- latent space: preview, sliders, plane ----------
  let decoding = false;
  let pending = null;
  async function showCode(code) {
    st.code = Float32Array.from(code);
    syncSliders();
    drawPlane();
    if (decoding) { pending = st.code; return; }
    decoding = true;
    try {
      let c = st.code;
      for (;;) {
        const img = await aug().decode(c);
        const probs = await lab().classify(img);
        paint($('aug-preview'), img);
        showVerdict($('aug-preview-verdict'), probs, (best) => !st.info || best !== st.info.digit);
        if (!pending) break;
        c = pending; pending = null;
      }
    } catch (e) { await app.recover(e, 'decoding a code'); } finally { decoding = false; }
  }
  function setupLatent() {
    const { latent, mean, std } = st.info;
    const box = $('aug-sliders');
    box.replaceChildren();
    for (let k = 0; k < latent; k++) {
      const lo = mean[k] - 4 * std[k];
      const hi = mean[k] + 4 * std[k];
      const label = document.createElement('label');
      const input = document.createElement('input');
      Object.assign(input, { type: 'range', min: String(lo), max: String(hi), step: String((hi - lo) / 400 || 0.01) });
      input.dataset.dim = String(k);
      input.setAttribute('aria-label', `latent dimension ${k}`);
      const out = document.createElement('output');
      input.addEventListener('input', () => {
        const c = Float32Array.from(st.code);
        c[k] = Number(input.value);
        showCode(c);
      });
      label.append(`z${k}`, input, out);
      box.append(label);
    }
    const n = st.info.examples;
    for (const id of ['aug-start', 'aug-ia', 'aug-ib']) $(id).max = String(n - 1);
    $('aug-ib').value = String(Math.min(1, n - 1));
    $('aug-plane').hidden = latent !== 2;
    $('aug-plane-note').textContent = latent === 2
      ? 'The training codes (dots), the current code (ring) and the fooling path (line). Click anywhere to decode that point.'
      : 'The latent plane appears for d = 2: train with d = 2 to see it.';
    loadExampleCode();
  }
  function syncSliders() {
    for (const input of $('aug-sliders').querySelectorAll('input')) {
      const k = Number(input.dataset.dim);
      input.value = String(st.code[k]);
      input.nextSibling.textContent = st.code[k].toFixed(2);
    }
  }
  function loadExampleCode() {
    const i = Math.floor(Number($('aug-start').value));
    const d = st.info.latent;
    if (!(i >= 0 && i < st.info.examples)) { $('aug-fool-status').textContent = `pick an example from 0 to ${st.info.examples - 1}`; return; }
    st.path = null;
    showCode(st.info.codes.slice(i * d, (i + 1) * d));
  }
  $('aug-load-code').addEventListener('click', loadExampleCode);

  // The latent plane (d = 2): bounds from the training codes ± 3 std.
  function planeBox() {
    const { mean, std } = st.info;
    return [mean[0] - 3.5 * std[0], mean[0] + 3.5 * std[0], mean[1] - 3.5 * std[1], mean[1] + 3.5 * std[1]];
  }
  function drawPlane() {
    if (!st.info || st.info.latent !== 2) return;
    const c = $('aug-plane');
    const g = c.getContext('2d');
    const [x0, x1, y0, y1] = planeBox();
    const W = c.width, H = c.height;
    const px = (x) => (x - x0) / (x1 - x0) * W;
    const py = (y) => H - (y - y0) / (y1 - y0) * H;
    g.fillStyle = '#fff'; g.fillRect(0, 0, W, H);
    g.strokeStyle = '#d8dce8'; g.lineWidth = 1;
    g.beginPath(); g.moveTo(px(st.info.mean[0]), 0); g.lineTo(px(st.info.mean[0]), H); g.moveTo(0, py(st.info.mean[1])); g.lineTo(W, py(st.info.mean[1])); g.stroke();
    g.fillStyle = '#2f6fde';
    const codes = st.info.codes;
    for (let i = 0; i < codes.length; i += 2) { g.beginPath(); g.arc(px(codes[i]), py(codes[i + 1]), 2.5, 0, 2 * Math.PI); g.fill(); }
    if (st.path) {
      g.strokeStyle = '#c62828'; g.lineWidth = 2; g.beginPath();
      st.path.forEach((p, i) => (i ? g.lineTo : g.moveTo).call(g, px(p.code[0]), py(p.code[1])));
      g.stroke();
    }
    if (st.code) { g.strokeStyle = '#1d2330'; g.lineWidth = 2; g.beginPath(); g.arc(px(st.code[0]), py(st.code[1]), 6, 0, 2 * Math.PI); g.stroke(); }
    g.fillStyle = '#5b6478'; g.font = '11px sans-serif';
    g.fillText(`z0 ∈ [${x0.toFixed(1)}, ${x1.toFixed(1)}], z1 ∈ [${y0.toFixed(1)}, ${y1.toFixed(1)}]`, 6, H - 6);
  }
  $('aug-plane').addEventListener('click', (ev) => {
    if (!st.info || st.info.latent !== 2) return;
    const c = $('aug-plane');
    const r = c.getBoundingClientRect();
    const [x0, x1, y0, y1] = planeBox();
    const x = x0 + (ev.clientX - r.left) / r.width * (x1 - x0);
    const y = y1 - (ev.clientY - r.top) / r.height * (y1 - y0);
    showCode([x, y]);
  });

  // ---------- strips: interpolation and variations ----------
  async function showStrip(strip, imgs, what) {
    const probs = await lab().classify(imgs);
    strip.replaceChildren();
    for (let i = 0; i < imgs.length / 784; i++) {
      const p = probs.subarray(10 * i, 10 * i + 10);
      const best = bestDigit(p);
      const f = document.createElement('figure');
      f.className = best === st.info.digit ? 'ok' : 'wrong';
      const cap = document.createElement('figcaption');
      cap.textContent = `${best} ${(100 * p[best]).toFixed(0)}%`;
      f.append(digitCanvas(imgs, 784 * i, `${what} ${i}`), cap);
      strip.append(f);
    }
  }
  $('aug-interp').addEventListener('click', async () => {
    const a = Math.floor(Number($('aug-ia').value));
    const b = Math.floor(Number($('aug-ib').value));
    try {
      await showStrip($('aug-strip'), await aug().interpolate(a, b, 10, $('aug-ikind').value), 'interpolation step');
    } catch (e) { $('aug-strip').textContent = errText(e); }
  });
  $('aug-perturb').addEventListener('click', async () => {
    const scale = Number($('aug-pscale').value);
    if (!(scale >= 0 && scale <= 5)) { $('aug-variations').textContent = 'the noise scale must be from 0 to 5'; return; }
    try {
      const seed = BigInt(Math.floor(Math.random() * 2 ** 32));
      await showStrip($('aug-variations'), await aug().perturb(Float32Array.from(st.code), scale, 10, seed), 'variation');
    } catch (e) { $('aug-variations').textContent = errText(e); }
  });

  // ---------- fooling the classifier ----------
  $('aug-fool').addEventListener('click', async () => {
    if (st.fooling || !st.code) return;
    st.fooling = true;
    $('aug-fool').disabled = true;
    const status = $('aug-fool-status');
    status.textContent = 'walking through the latent space…';
    try {
      const r = await aug().fool(0, Float32Array.from(st.code));
      const res = r.result;
      st.path = res.path;
      // Animate the walk, about 12 frames a second.
      for (let i = 0; i < res.path.length; i++) {
        const p = res.path[i];
        st.code = Float32Array.from(p.code);
        paint($('aug-preview'), r.images, 784 * i);
        const el = $('aug-preview-verdict');
        el.textContent = `${p.digit} (${(p.confidence * 100).toFixed(0)}%)`;
        el.classList.toggle('low', p.digit !== st.info.digit);
        syncSliders();
        drawPlane();
        status.textContent = `step ${i + 1}/${res.path.length}: distance ${p.distance.toFixed(3)}, P(${st.info.digit}) = ${(100 * p.target_probability).toFixed(0)} %`;
        await new Promise((ok) => setTimeout(ok, 80));
      }
      status.textContent = !res.start_recognised
        ? `this code is not recognised as a ${st.info.digit} to begin with (it looks like a ${res.path[0].digit}): nothing to fool; load another example's code.`
        : res.fooled
        ? `fooled: it became a ${res.became} (${(100 * res.became_confidence).toFixed(0)} %) at a distance of ${res.distance.toFixed(3)} (${res.distance_in_std.toFixed(2)} × the codes' typical spread); the walk was ${res.path_length.toFixed(3)} long.`
        : `not fooled within ${res.path.length} steps (distance ${res.distance.toFixed(3)}).`;
      status.dataset.fooled = String(res.fooled);
      st.fool = { images: r.images, path: res.path, text: status.textContent };
    } catch (e) {
      status.textContent = errText(e);
    } finally {
      st.fooling = false;
      $('aug-fool').disabled = false;
    }
  });

  return {
    designer,
    runs,
    // What the Report view shows of this tab (report.js).
    async report() {
      let grid = null;
      if (st.info) {
        grid = document.createElement('canvas');
        paintDrawing(grid, await aug().draw_grid(10));
      }
      return { info: st.info, grid, diversity: st.sample ? diversityTable(st.sample.judged) : null, fool: st.fool || null, runs: runs.rows() };
    },
    onShow() { if (!$('aug-examples-grid').childElementCount) showExamples(); },
    // After a backend switch: the same generator on the new session.
    async reload(bytes) {
      try { st.info = await aug().load(bytes); } catch (e) { $('aug-status').textContent = `The generator could not be moved: ${errText(e)}`; }
    },
    // At start: the generator kept from the last visit, if any.
    async restore() {
      const bytes = await app.get('augmenter');
      if (!bytes) return null;
      $('aug-status').textContent = 'restoring your generator from the last visit…';
      try {
        await Promise.all([app.trainSet(), app.testSet()]);
        await install(await aug().load(bytes));
        app.setAugmenter(bytes);
        $('aug-status').textContent = `restored: a generator of ${st.info.digit}s from ${st.info.examples} example(s), d = ${st.info.latent}.`;
        return `your ${st.info.digit} generator`;
      } catch (e) {
        $('aug-status').textContent = `Your saved generator could not be restored (${errText(e)}); train a new one.`;
        return null;
      }
    },
  };
}
