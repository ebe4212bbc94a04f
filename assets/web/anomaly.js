// @ts-check
// The Anomaly tab: DOM wiring only. Parsing, training, errors, metrics and
// plots are computed by the Rust core through the Lab.
import { $, errText, fetchBytes, renderTable, toCsv, download, runTraining, drawChart, frameOf, paintDrawing, designerSlot, runsPanel } from './ui.js';
import { workerAvailable, useWorker, workerSession } from './compute.js';

const MAX_UPLOAD = 50 * 1024 * 1024;

/** @param {import('./ui.js').TabContext} app */
export function setupAnomaly(app) {
  const an = () => app.handles().anomaly;
  const st = { loaded: false, long: false, result: null, threshold: 0, axis: null, runs: [], settings: null, drawing: false, again: false,
    // Where the loaded data came from (the compute worker loads it again
    // from this), and a count of loads (a run in the worker belongs to one).
    source: /** @type {any} */ (null), loads: 0 };

  // ---------- data ----------
  function showError(msg) { $('an-error').textContent = msg || ''; }
  // `source` says how to load the same data again at the next visit.
  /** @param {import('./aelab.js').Preview} p @param {object} [source] */
  function loaded(p, source) {
    if (source) {
      app.save('anomaly-data', source, source.kind === 'csv' ? `the uploaded ${source.name}` : 'the chosen data');
      app.del('anomaly-run');
    }
    if (source) st.source = source;
    st.loads += 1;
    st.loaded = true;
    st.long = !!p.long;
    st.result = null;
    const parts = [`${p.name}: series of ${p.length} points; ${p.train} ${p.labelled ? "normal " : ""}to train`];
    if (p.valid != null) parts.push(`${p.valid} normal to set the threshold`);
    parts.push(p.labelled ? `${p.test} to test (${p.test_normal} normal, ${p.test_anomalous} anomalous)` : `${p.test} unlabelled ${p.long ? 'windows' : 'series'} to test`);
    if (p.long) parts.push(`windows of ${p.long.window} every ${p.long.stride} over ${p.long.points} test points`);
    const file = p.details.file;
    if (file) {
      parts.push(`read as ${file.shape} shape, ${file.separator}-separated${file.header ? ', with a header' : ''}`);
      const how = (c) => `"${c.name}"${c.how === 'given' ? '' : c.how === 'guessed' ? ' (guessed)' : ' (found by its name)'}`;
      parts.push(file.label ? `labels in ${how(file.label)}${file.normal_label ? `, normal class ${file.normal_label}` : ''}` : 'no labels: the test part will be flagged, not scored');
      if (file.value) parts.push(`values in ${how(file.value)}`);
      if (file.timestamp) parts.push(`timestamps in ${how(file.timestamp)}`);
    }
    if (p.details.events) parts.push(`${p.details.events.length} labelled anomalies: ${[...new Set(p.details.events.map((e) => e.kind))].join(', ')}`);
    $('an-preview-text').textContent = parts.join('; ') + '.';
    drawChart($('an-preview'), (f) => an().draw_preview(f)).catch((e) => showError(errText(e)));
    $('an-train').disabled = false;
    for (const id of ['an-threshold', 'an-apply-rule', 'an-png', 'an-keep', 'an-flags']) $(id).disabled = true;
    startBeat();
    showError('');
    // Sensible sizes for the series length.
    const dense = $('an-model').value === 'dense';
    $('an-epochs').value = p.name === 'ECG5000' ? (dense ? '300' : '200') : (dense ? '40' : '20');
  }
  async function useEcg() {
    const [tr, te] = await Promise.all([fetchBytes('ecg5000/ECG5000_TRAIN.tsv.gz'), fetchBytes('ecg5000/ECG5000_TEST.tsv.gz')]);
    return an().use_ecg(tr, te);
  }
  $('an-ecg').addEventListener('click', async () => {
    $('an-preview-text').textContent = 'loading ECG5000 (3.4 MB)…';
    try {
      loaded(await useEcg(), { kind: 'ecg' });
    } catch (e) { showError(errText(e)); $('an-preview-text').textContent = ''; }
  });
  $('an-machine').addEventListener('click', async () => {
    const seed = Math.floor(Math.random() * 1000);
    try { loaded(await an().use_machine(seed), { kind: 'machine', seed }); } catch (e) { showError(errText(e)); }
  });
  function csvOptions() {
    return {
      format: $('an-format').value,
      label_column: $('an-label').value,
      normal_label: $('an-normal').value,
      value_column: $('an-value').value,
      timestamp_column: $('an-ts').value,
      window: Math.floor(Number($('an-window').value)),
      stride: Math.floor(Number($('an-stride').value)),
      split: $('an-split').value,
    };
  }
  async function upload(file) {
    if (!file) return;
    showError('');
    if (file.size === 0) { showError(`${file.name} is empty.`); return; }
    if (file.size > MAX_UPLOAD) { showError(`${file.name} is ${(file.size / 1e6).toFixed(1)} MB, over the limit of 50 MB.`); return; }
    const o = csvOptions();
    if (!(o.window >= 4 && o.stride >= 1)) { showError('the window must be at least 4 and the stride at least 1'); return; }
    $('an-preview-text').textContent = `reading ${file.name}…`;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      await new Promise((r) => setTimeout(r, 0));
      loaded(await an().use_csv(file.name, bytes, o), { kind: 'csv', name: file.name, bytes, options: o });
    } catch (e) {
      showError(`${file.name}: ${errText(e)}`);
      $('an-preview-text').textContent = st.loaded ? 'The previous data stays loaded.' : 'No data loaded yet.';
    }
  }
  $('an-file').addEventListener('change', (ev) => { const f = ev.target.files[0]; ev.target.value = ''; upload(f); });
  const drop = $('an-drop');
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => { ev.preventDefault(); drop.classList.remove('over'); upload(ev.dataTransfer.files[0]); });
  $('an-model').addEventListener('change', () => {
    const dense = $('an-model').value === 'dense';
    $('an-latent').value = dense ? '32' : '8';
    $('an-depth').value = dense ? '3' : '2';
  });

  // ---------- the model designer (designer.js, loaded when opened) ----------
  const designer = designerSlot({
    lab: 'anomaly', details: $('anomaly-designer'), api: () => app.api(), batch: () => 32,
    preset: () => `series-${$('an-model').value}`,
  });

  // ---------- training ----------
  // The run table: a row for each finished run; its model and scores come
  // back on the data it was trained on.
  const runs = runsPanel({
    lab: 'anomaly', root: $('anomaly-runs'), api: app.api,
    use: async (weights, extra, row) => {
      if (!st.loaded) throw new Error('load the data it was trained on first');
      let res;
      try { res = await an().restore_run(extra.run); } catch (e) { throw new Error(`it does not fit the data now loaded (${errText(e)}); load the data it was trained on`); }
      await an().restore_model(weights);
      showRun(res, extra.settings);
      startBeat();
      app.save('anomaly-run', { bytes: extra.run, model: weights, settings: extra.settings }, 'the anomaly run');
      return `The model and scores of the run started ${new Date(row.started).toLocaleString()} are back.`;
    },
  });
  runs.restore();
  let session = null;
  $('an-train').addEventListener('click', async () => {
    if (session || app.isTraining()) { $('an-status').textContent = 'another training run is in progress'; return; }
    const started = new Date();
    const t0 = performance.now();
    const num = (id) => Math.floor(Number($(id).value));
    const from = /** @type {import('./aelab.js').ThresholdFrom} */ ($('an-threshold-from').value);
    const cfg = { model: $('an-model').value, latent: num('an-latent'), depth: num('an-depth'), epochs: num('an-epochs'), threshold_from: from, seed: Math.floor(Math.random() * 1e9), spec: designer.spec() || undefined };
    for (const k of ['latent', 'depth', 'epochs']) if (!(cfg[k] >= 1)) { $('an-status').textContent = `${k} must be a whole number ≥ 1`; return; }
    // In the compute worker where the page has one (compute.js): it loads
    // the same data, trains, measures the errors and sets the threshold,
    // and the page restores the run and its model from the bytes it sends.
    if (workerAvailable()) $('an-status').textContent = 'starting the compute worker…';
    $('an-train').disabled = true;
    let inWorker = false;
    try {
      inWorker = !!st.source && await useWorker(app.compute, (t) => { $('an-status').textContent = t; },
        { kind: 'train-anomaly', payload: { source: st.source, settings: cfg } });
    } finally { $('an-train').disabled = false; }
    if (session || app.isTraining()) return;
    $('an-status').dataset.where = inWorker ? 'worker' : 'page';
    const loads = st.loads;
    const ui = { start: $('an-train'), cancel: $('an-cancel'), bar: $('an-progress'), status: $('an-status'), chart: $('an-chart') };
    const folds = (k, n) => {
      $('an-status').textContent = `setting the threshold by cross-validation: training fold ${k + 1} of ${n} (each on the normal series the others hold out)…`;
      $('an-progress').value = k / n;
    };
    /** Shows a finished run and keeps it (with its model) for the next visit. */
    const adopt = (res, bytes, model) => {
      // The bar stopped at the last fold's start.
      $('an-progress').value = 1;
      const ms = performance.now() - t0;
      showRun(res, cfg);
      startBeat();
      app.save('anomaly-run', { bytes, model, settings: cfg }, 'the anomaly run');
      if (model) runs.add(model, res, started, ms, { run: bytes, settings: cfg });
    };
    await runTraining(ui, {
      begin: () => inWorker
        ? workerSession(app.compute, 'train-anomaly', { source: st.source, settings: cfg }, {
          api: app.api(),
          epochs: cfg.epochs,
          onStatus: (t) => { $('an-status').textContent = t; },
          onEvent: (ev) => { if (ev.kind === 'fold') folds(ev.fold, ev.folds); },
        })
        : an().start_training(cfg),
      finish: async (done) => {
        if (inWorker) {
          // Other data was loaded on the page while the worker trained.
          if (loads !== st.loads) {
            $('an-status').textContent = 'other data was loaded while the model trained, so this run was dropped; train again on the data now loaded.';
            return;
          }
          const { run, model } = done.result;
          const res = await an().restore_run(run);
          await an().restore_model(model);
          adopt(res, run, model);
          return;
        }
        $('an-status').textContent = 'done; measuring the errors…';
        const res = await an().finish(done, folds);
        let model;
        try { model = await an().model_bytes(); } catch { model = undefined; }
        adopt(res, await an().run_bytes(), model);
      },
      register: (x) => { session = x; app.setTraining(x); },
      backend: app.backend,
      cancelled: 'cancelled.',
      failed: (msg) => `training failed: ${msg}`,
      recover: (e) => app.recover(e, 'training the anomaly model'),
      canStart: () => st.loaded,
    });
  });
  $('an-cancel').addEventListener('click', () => { if (session) session.cancel(); });

  function showRun(res, cfg, rule = 'mad:4', threshold = res.threshold) {
    st.settings = cfg;
    $('an-status').textContent = `done: ${cfg.model} autoencoder (latent ${cfg.latent}, depth ${cfg.depth}, ${cfg.epochs} epochs).`;
    const th = $('an-threshold');
    th.min = String(res.error_min);
    th.max = String(res.error_max);
    th.step = String((res.error_max - res.error_min) / 1000 || 1e-6);
    for (const id of ['an-threshold', 'an-apply-rule', 'an-png', 'an-keep', 'an-flags']) $(id).disabled = false;
    st.rule = rule;
    setThreshold(threshold, threshold === res.threshold ? res : undefined);
  }

  // ---------- threshold, metrics, plots ----------
  const f = (x, d = 4) => Number.isFinite(x) ? x.toFixed(d) : '–';
  /** @param {import('./aelab.js').RunMetrics} res */
  function show(res) {
    const d = res.detection;
    $('an-auroc').textContent = f(d?.auroc);
    $('an-auprc').textContent = f(d?.auprc);
    $('an-acc').textContent = f(d?.accuracy);
    $('an-prec').textContent = f(d?.precision);
    $('an-rec').textContent = f(d?.recall);
    $('an-f1').textContent = f(d?.f1);
    $('an-threshold-value').textContent = f(res.threshold, 5);
    const notes = [];
    if (res.threshold_note) notes.push(`Note: ${res.threshold_note}.`);
    if (res.floor != null) notes.push(`Windows with an error below the floor ${f(res.floor, 5)} (the dashed line: 70% of the 1st percentile of the normal windows' errors) are flagged too: a stuck signal has none of the normal noise, so it is reconstructed too well.`);
    $('an-note').textContent = notes.join(' ');
    $('an-roc').hidden = !res.labelled;
    if (d) {
      const c = d.confusion;
      renderTable($('an-confusion'), { caption: 'Confusion matrix (anomaly is positive)', head: ['truth \\ verdict', 'normal', 'anomaly'], rows: [['normal', c[0][0], c[0][1]], ['anomaly', c[1][0], c[1][1]]] });
    } else {
      $('an-confusion').replaceChildren();
    }
    const fl = res.flagged;
    const unit = st.long ? 'points' : 'test series';
    $('an-flagged-text').textContent = res.labelled ? '' : `No labels, so nothing is scored: ${fl.length} stretch${fl.length === 1 ? '' : 'es'} above the threshold${fl.length ? ' (yellow on the series plot)' : ''}.`;
    if (!res.labelled && fl.length) {
      const timed = fl.some((s) => s.start_time !== undefined);
      const SHOWN = 20;
      renderTable($('an-flagged'), {
        caption: `Flagged stretches${fl.length > SHOWN ? ` (the first ${SHOWN} of ${fl.length}; the CSV has them all)` : ''}`,
        head: [unit, 'peak error', ...(timed ? ['from', 'to'] : [])],
        rows: fl.slice(0, SHOWN).map((s) => [`${s.start}–${s.end}`, f(s.peak_error, 5), ...(timed ? [s.start_time ?? '', s.end_time ?? ''] : [])]),
      });
    } else {
      $('an-flagged').replaceChildren();
    }
    $('an-best').textContent = d && Number.isFinite(d.best_f1) ? `Hint: on these test labels the best threshold would be ${f(d.best_threshold, 5)} (F1 ${f(d.best_f1)}); it is shown, never used to choose.` : '';
    const e = res.events;
    $('an-events').textContent = e ? `· events: ${e.detected} of ${e.events} found (recall ${f(e.event_recall, 3)}), ${e.false_alarms} false alarms (${f(e.false_alarms_per_1000, 2)} per 1000 points)` : '';
    st.last = res;
  }
  function redraw() {
    if (st.drawing) { st.again = true; return; }
    st.drawing = true;
    requestAnimationFrame(async () => {
      try {
        const t = st.threshold;
        // Asked for together, painted together.
        const plots = await Promise.all(['histogram', 'roc', 'series', 'recon'].map((what) => {
          const id = { histogram: 'an-hist', roc: 'an-roc', series: 'an-series', recon: 'an-recon' }[what];
          return an().draw(/** @type {any} */ (what), frameOf($(id)), t).then((p) => [id, p]);
        }));
        for (const [id, p] of plots) paintDrawing($(id), p.drawing);
        st.axis = plots[0][1].axis;
      } catch (e) { showError(errText(e)); }
      st.drawing = false;
      if (st.again) { st.again = false; redraw(); }
    });
  }
  let thresholdTimer = 0;
  async function setThreshold(t, res) {
    st.threshold = t;
    clearTimeout(thresholdTimer);
    thresholdTimer = setTimeout(() => app.save('anomaly-threshold', { rule: st.rule, threshold: t }, 'the threshold'), 300);
    $('an-threshold').value = String(t);
    redraw();
    scoreBeat();
    try {
      const m = res || await an().metrics(t);
      // Answers come in order; a later threshold's are shown last.
      if (st.threshold === t) show(m);
    } catch (e) { showError(errText(e)); }
  }
  $('an-threshold').addEventListener('input', (ev) => { st.rule = 'by hand'; setThreshold(Number(ev.target.value)); });
  $('an-apply-rule').addEventListener('click', async () => {
    try { st.rule = $('an-rule').value; await setThreshold(await an().threshold(st.rule)); } catch (e) { showError(errText(e)); }
  });
  // Dragging on the histogram moves the threshold.
  const hist = $('an-hist');
  let dragging = false;
  function dragTo(ev) {
    if (!st.axis) return;
    const r = hist.getBoundingClientRect();
    const x = (ev.clientX - r.left) * hist.width / r.width;
    const a = st.axis;
    const t = a.lo + (x - a.x0) / (a.x1 - a.x0) * (a.hi - a.lo);
    st.rule = 'by hand';
    setThreshold(Math.min(a.hi, Math.max(a.lo, t)));
  }
  hist.addEventListener('pointerdown', (ev) => { if ($('an-threshold').disabled) return; dragging = true; hist.setPointerCapture(ev.pointerId); dragTo(ev); });
  hist.addEventListener('pointermove', (ev) => { if (dragging) dragTo(ev); });
  for (const t of ['pointerup', 'pointercancel']) hist.addEventListener(t, () => { dragging = false; });

  // ---------- a drawn series, scored live ----------
  const pad = $('an-beat');
  const beat = { values: /** @type {Float32Array | null} */ (null), frame: null, busy: false, again: false, down: false, last: [0, 0], n: 0,
    /** The strokes being applied, one after another. @type {Promise<void>} */
    strokes: Promise.resolve() };
  function beatText(msg) { $('an-beat-error').textContent = msg; }
  async function startBeat() {
    let ready = false;
    try { ready = st.loaded && await an().has_model(); } catch { ready = false; }
    for (const id of ['an-beat-reset', 'an-beat-next']) $(id).disabled = !ready;
    if (!ready) {
      beat.values = null; beat.frame = null;
      pad.getContext('2d').clearRect(0, 0, pad.width, pad.height);
      beatText('Train a model to draw a series and see its error.');
      return;
    }
    try {
      beat.values = new Float32Array(await an().beat_start(/** @type {any} */ ($('an-beat-from').value), beat.n));
      scoreBeat();
    } catch (e) { beat.values = null; beatText(errText(e)); }
  }
  async function scoreBeat() {
    if (!beat.values) return;
    if (beat.busy) { beat.again = true; return; }
    beat.busy = true;
    try {
      const v = await an().score_beat(frameOf(pad), beat.values, st.threshold);
      paintDrawing(pad, v.drawing);
      beat.frame = v.frame;
      beatText(v.below_floor
        ? `error ${f(v.error)} < floor ${f(v.floor ?? NaN)}: flagged as anomalous, smoother than any normal window (a stuck signal?).`
        : `error ${f(v.error)} ${v.flagged ? '>' : '≤'} threshold ${f(v.threshold)}: ${v.flagged ? 'flagged as anomalous' : 'passes as normal'}.`);
    } catch (e) { beatText(errText(e)); }
    beat.busy = false;
    if (beat.again) { beat.again = false; scoreBeat(); }
  }
  /** The pointer as (point, value) on the drawn series' plot. */
  function beatPoint(ev) {
    const a = beat.frame, r = pad.getBoundingClientRect();
    const x = (ev.clientX - r.left) * pad.width / r.width, y = (ev.clientY - r.top) * pad.height / r.height;
    return [(x - a.x0) / (a.x1 - a.x0) * (a.len - 1), a.hi - (y - a.y0) / (a.y1 - a.y0) * (a.hi - a.lo)];
  }
  function stroke(ev) {
    const p = beatPoint(ev);
    const from = beat.last;
    const radius = Number($('an-beat-brush').value);
    beat.last = p;
    // Each stroke bends the series the one before it left.
    beat.strokes = beat.strokes.then(async () => {
      if (!beat.values) return;
      beat.values = await an().brush(beat.values, from[0], from[1], p[0], p[1], radius);
      scoreBeat();
    }).catch((e) => beatText(errText(e)));
  }
  pad.addEventListener('pointerdown', (ev) => {
    if (!beat.values || !beat.frame) return;
    beat.down = true;
    pad.setPointerCapture(ev.pointerId);
    beat.last = beatPoint(ev);
    stroke(ev);
  });
  pad.addEventListener('pointermove', (ev) => { if (beat.down) stroke(ev); });
  for (const t of ['pointerup', 'pointercancel']) pad.addEventListener(t, () => { beat.down = false; });
  $('an-beat-from').addEventListener('change', () => { beat.n = 0; startBeat(); });
  $('an-beat-reset').addEventListener('click', startBeat);
  $('an-beat-next').addEventListener('click', () => { beat.n += 1; startBeat(); });

  // ---------- exports and the comparison table ----------
  $('an-png').addEventListener('click', () => {
    // The plots as drawn (narrower on a phone): histogram and ROC side by
    // side, then the series and the reconstructions.
    const [hist, roc, series, recon] = ['an-hist', 'an-roc', 'an-series', 'an-recon'].map($);
    const c = document.createElement('canvas');
    const top = Math.max(hist.height, roc.height);
    c.width = Math.max(hist.width + roc.width, series.width, recon.width);
    c.height = top + series.height + recon.height;
    const g = c.getContext('2d');
    g.fillStyle = '#fff'; g.fillRect(0, 0, c.width, c.height);
    g.drawImage(hist, 0, 0); g.drawImage(roc, hist.width, 0);
    g.drawImage(series, 0, top); g.drawImage(recon, 0, top + series.height);
    c.toBlob((b) => download(b, 'aelab-anomaly-plots.png'), 'image/png');
  });
  const HEAD = ['data', 'model', 'latent', 'depth', 'epochs', 'threshold rule', 'threshold', 'AUROC', 'AUPRC', 'precision', 'recall', 'F1'];
  function compareTable() {
    return { caption: 'Runs kept for comparison', head: HEAD, rows: st.runs };
  }
  $('an-keep').addEventListener('click', () => {
    if (!st.last || !st.settings) return;
    const d = st.last.detection;
    const s = st.settings;
    st.runs.push([st.last.data, s.model, s.latent, s.depth, s.epochs, st.rule, f(st.last.threshold, 5), f(d?.auroc), f(d?.auprc), f(d?.precision), f(d?.recall), f(d?.f1)]);
    renderTable($('an-compare'), compareTable());
    $('an-csv').disabled = false;
    app.save('anomaly-runs', st.runs, 'the comparison table');
  });
  $('an-flags').addEventListener('click', async () => {
    try { download(new Blob([await an().flagged_csv(st.threshold)], { type: 'text/csv' }), 'aelab-anomaly-flagged.csv'); } catch (e) { showError(errText(e)); }
  });
  $('an-csv').addEventListener('click', () => download(new Blob([toCsv(compareTable())], { type: 'text/csv' }), 'aelab-anomaly-comparison.csv'));

  // At start: the data, the run, the threshold and the comparison table
  // kept from the last visit.
  async function restore() {
    const [source, run, th, runs] = await Promise.all(['anomaly-data', 'anomaly-run', 'anomaly-threshold', 'anomaly-runs'].map(app.get));
    const found = [];
    if (Array.isArray(runs) && runs.length) {
      st.runs = runs;
      renderTable($('an-compare'), compareTable());
      $('an-csv').disabled = false;
      found.push(`the comparison table (${runs.length} run${runs.length > 1 ? 's' : ''})`);
    }
    if (!source) return found.join(', ') || null;
    try {
      let p;
      if (source.kind === 'ecg') {
        p = await useEcg();
      } else if (source.kind === 'machine') {
        p = await an().use_machine(source.seed);
      } else {
        p = await an().use_csv(source.name, source.bytes, source.options);
      }
      loaded(p);
      st.source = source;
      found.push(source.kind === 'csv' ? `the uploaded ${source.name}` : 'the anomaly data');
      if (run && run.bytes) {
        const res = await an().restore_run(run.bytes);
        if (run.model) {
          try { await an().restore_model(run.model); } catch (e) { beatText(`The saved model could not be restored (${errText(e)}); train again to draw a series.`); }
        }
        showRun(res, run.settings, th ? th.rule : undefined, th ? th.threshold : undefined);
        $('an-status').textContent = `restored: ${run.settings.model} autoencoder (latent ${run.settings.latent}, depth ${run.settings.depth}, ${run.settings.epochs} epochs).`;
        found.push('the anomaly run');
        if (await an().has_model()) await startBeat();
      }
    } catch (e) {
      showError(`Your saved anomaly work could not be restored: ${errText(e)}`);
    }
    return found.join(', ') || null;
  }

  // After a backend switch the run moves with the data, but the model's
  // tensors do not: it is loaded again from its saved weights file.
  async function reload() {
    if (!st.loaded || await an().has_model()) return;
    const run = await app.get('anomaly-run');
    if (run && run.model) {
      try { await an().restore_model(run.model); } catch (e) { beatText(`The saved model could not be restored (${errText(e)}); train again to draw a series.`); return; }
    }
    await startBeat();
  }

  // Charts are drawn at the width they are shown at (web::chart_root): a
  // tab shown (or a window resized) redraws them at its width.
  function onShow() {
    if (!$('an-train').disabled) drawChart($('an-preview'), (f) => an().draw_preview(f)).catch(() => { /* no data loaded yet */ });
    if (st.last) redraw();
  }
  // What the Report view shows of this tab (report.js).
  async function report() {
    return {
      compare: st.runs.length ? compareTable() : null,
      plots: st.last ? ['an-hist', 'an-roc', 'an-series'].map($) : [],
      data: st.last ? st.last.data : '',
      runs: runs.rows(),
    };
  }
  return { onShow, restore, reload, designer, runs, report };
}
