// @ts-check
// Small DOM helpers shared by the labs' wiring. No computation here.
import * as store from './store.js';

// The element of an id. Typed `any`: the ids are the HTML's, which the e2e
// tests exercise; the type check is for the calls into the wasm API.
/** @param {string} id @returns {any} */
export const $ = (id) => document.getElementById(id);
/**
 * The lab's session (lab-host.js, in the lab worker) and its lab handles,
 * as the tabs receive them: remote objects (remote.js), whose methods
 * resolve to their results.
 * @typedef {Remote<typeof import('./lab-host.js').api>} LabApi
 * @typedef {Remote<import('./aelab.js').Lab>} Lab
 * @typedef {{ denoise: Remote<import('./aelab.js').DenoiseLab>, augment: Remote<import('./aelab.js').AugmentLab>, anomaly: Remote<import('./aelab.js').AnomalyLab> }} Labs
 * @typedef {{ lab: () => Lab, handles: () => Labs, api: () => LabApi, backend: () => string, compute: import('./compute.js').Compute, [more: string]: any }} TabContext
 */
export const errText = (e) => (e && e.message) ? e.message : String(e);
/** "1 thread", "4 threads". @param {number} n */
export const threadsText = (n) => `${n} thread${n === 1 ? '' : 's'}`;

// A same-origin file as bytes; an HTTP error is an Error with the file's name.
export async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`could not load ${url} (HTTP ${r.status})`);
  return new Uint8Array(await r.arrayBuffer());
}

// Paints a 28×28 image (784 floats in [0, 1]) on a 28×28 canvas.
export function paint(canvas, img, offset = 0) {
  const ctx = canvas.getContext('2d');
  const data = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const g = Math.round(Math.min(1, Math.max(0, img ? img[offset + i] : 0)) * 255);
    data.data[4 * i] = g; data.data[4 * i + 1] = g; data.data[4 * i + 2] = g; data.data[4 * i + 3] = 255;
  }
  ctx.putImageData(data, 0, 0);
}

// The most probable digit of ten class probabilities.
export function bestDigit(probs) {
  let best = 0;
  for (let d = 1; d < 10; d++) if (probs[d] > probs[best]) best = d;
  return best;
}

// Shows the classifier's verdict ("7 (93%)") in `el`, or "–" without
// probabilities. `low(best, p)` says when to mark it (by default: below
// 50 %); `data-digit` holds the digit for the tests.
export function showVerdict(el, probs, low = (best, p) => p < 0.5) {
  if (!probs) { el.textContent = '–'; el.classList.remove('low'); return; }
  const best = bestDigit(probs);
  el.textContent = `${best} (${(probs[best] * 100).toFixed(0)}%)`;
  el.dataset.digit = String(best);
  el.classList.toggle('low', low(best, probs[best]));
}

/**
 * Where a chart's canvas is shown, for the core to draw it at that width
 * (src/web/sketch.rs, Frame): its full size (its size in index.html, kept
 * in data-full-width and data-full-height) and the width it is shown at
 * (0 when hidden). At its full width the canvas is as wide as its
 * container lets it be (max-width: 100%). Nothing of the canvas changes.
 * @param {HTMLCanvasElement} canvas @returns {import('./aelab.js').ChartFrame}
 */
export function frameOf(canvas) {
  const full = (name, now) => {
    const v = Number(canvas.getAttribute(name));
    if (v > 0) return v;
    canvas.setAttribute(name, String(now));
    return now;
  };
  const width = full('data-full-width', canvas.width);
  const height = full('data-full-height', canvas.height);
  if (canvas.width === width) return { width, height, shown: canvas.clientWidth };
  // Drawn narrower: the width it would be shown at in full, measured with
  // a CSS width (which keeps the picture, where resizing the canvas would
  // clear it until the new drawing comes).
  const was = canvas.style.width;
  canvas.style.width = `${width + canvas.offsetWidth - canvas.clientWidth}px`; // its borders too
  const shown = canvas.clientWidth;
  canvas.style.width = was;
  return { width, height, shown };
}

/**
 * Paints a chart the core drew (a Drawing: operations recorded by
 * src/web/sketch.rs, whose header lists them) on `canvas`, at its size.
 * @param {HTMLCanvasElement} canvas @param {import('./aelab.js').Drawing} d
 */
export function paintDrawing(canvas, d) {
  if (canvas.width !== d.width) canvas.width = d.width;
  if (canvas.height !== d.height) canvas.height = d.height;
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, d.width, d.height);
  // How many drawings the canvas has shown (the tests wait for one).
  canvas.dataset.painted = String(Number(canvas.dataset.painted || 0) + 1);
  const { ops, texts } = d;
  const css = (rgb, a) => `rgba(${rgb >> 16},${(rgb >> 8) & 255},${rgb & 255},${a})`;
  // A vertical or horizontal line on a pixel's middle, so that it is sharp.
  const half = (a, b) => (a === b ? a - 0.5 : a);
  const H = ['left', 'center', 'right'];
  const V = ['top', 'middle', 'bottom'];
  let i = 0;
  while (i < ops.length) {
    const op = ops[i++];
    if (op === 0) {
      const [x0, y0, x1, y1, rgb, a, w] = ops.subarray(i, i + 7); i += 7;
      g.strokeStyle = css(rgb, a); g.lineWidth = w;
      g.beginPath(); g.moveTo(half(x0, x1), half(y0, y1)); g.lineTo(half(x1, x0), half(y1, y0)); g.stroke();
    } else if (op === 1) {
      const [x0, y0, x1, y1, rgb, a, w, fill] = ops.subarray(i, i + 8); i += 8;
      if (fill) { g.fillStyle = css(rgb, a); g.fillRect(x0, y0, x1 - x0, y1 - y0); }
      else { g.strokeStyle = css(rgb, a); g.lineWidth = w; g.strokeRect(x0, y0, x1 - x0, y1 - y0); }
    } else if (op === 2 || op === 3) {
      const n = ops[i];
      const head = op === 2 ? 4 : 3;
      const [rgb, a, w] = ops.subarray(i + 1, i + head);
      const pts = ops.subarray(i + head, i + head + 2 * n);
      i += head + 2 * n;
      if (!n) continue;
      g.beginPath();
      g.moveTo(pts[0], pts[1]);
      for (let k = 2; k < pts.length; k += 2) g.lineTo(pts[k], pts[k + 1]);
      if (op === 2) { g.strokeStyle = css(rgb, a); g.lineWidth = w; g.stroke(); }
      else { g.closePath(); g.fillStyle = css(rgb, a); g.fill(); }
    } else if (op === 4) {
      const [x, y, r, rgb, a, w, fill] = ops.subarray(i, i + 7); i += 7;
      g.beginPath(); g.arc(x, y, r, 0, 2 * Math.PI);
      if (fill) { g.fillStyle = css(rgb, a); g.fill(); } else { g.strokeStyle = css(rgb, a); g.lineWidth = w; g.stroke(); }
    } else if (op === 5) {
      const [t, f, x, y, rgb, a, h, v, turns] = ops.subarray(i, i + 9); i += 9;
      g.save();
      g.translate(x, y);
      if (turns) g.rotate(turns * Math.PI / 2);
      g.font = texts[f]; g.textAlign = /** @type {CanvasTextAlign} */ (H[h]); g.textBaseline = /** @type {CanvasTextBaseline} */ (V[v]);
      g.fillStyle = css(rgb, a);
      g.fillText(texts[t], 0, 0);
      g.restore();
    } else if (op === 6) {
      const [x, y, rgb, a] = ops.subarray(i, i + 4); i += 4;
      g.fillStyle = css(rgb, a); g.fillRect(x, y, 1, 1);
    } else {
      throw new Error(`unknown drawing operation ${op}`);
    }
  }
}

/**
 * Has the core draw a chart for `canvas` (`draw(frame)` resolves to a
 * Drawing) and paints it.
 * @param {HTMLCanvasElement} canvas @param {(frame: import('./aelab.js').ChartFrame) => Promise<import('./aelab.js').Drawing>} draw
 */
export async function drawChart(canvas, draw) {
  paintDrawing(canvas, await draw(frameOf(canvas)));
}

export function digitCanvas(img, offset = 0, label = '28×28 digit') {
  const c = document.createElement('canvas');
  c.width = 28; c.height = 28;
  c.setAttribute('aria-label', label);
  paint(c, img, offset);
  return c;
}

// Text for HTML, in an element or in a quoted attribute.
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
export function renderTable(el, t) {
  el.innerHTML = `<table><caption>${esc(t.caption)}</caption><thead><tr>${t.head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function toCsv(t) {
  const cell = (c) => /[",\n]/.test(String(c)) ? `"${String(c).replace(/"/g, '""')}"` : String(c);
  return [t.head, ...t.rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

export function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function fmtTime(ms) {
  if (!isFinite(ms)) return '–';
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

// Drives a TrainSession to its end: a progress bar, a status line and the
// loss chart, redrawn at most every 300 ms. Throws when training fails or
// is cancelled.
export async function driveSession(session, { bar, status, chart }) {
  let lastDraw = 0;
  for (;;) {
    const ev = await session.step();
    if (ev.kind === 'finished') break;
    if (ev.kind === 'step') {
      const p = ev.progress;
      bar.value = ev.fraction;
      status.textContent = `epoch ${p.epoch + 1}/${p.epochs} · step ${p.step}/${p.steps_per_epoch} · loss ${p.loss.toFixed(4)} · ${p.images_per_sec.toFixed(0)} images/s · ${fmtTime(p.eta_ms)} left`;
    }
    if (ev.kind === 'epoch' || performance.now() - lastDraw > 300) {
      await drawChart(chart, (f) => session.draw_chart(f));
      lastDraw = performance.now();
    }
    await new Promise((r) => setTimeout(r, 0)); // let the page breathe
  }
  await drawChart(chart, (f) => session.draw_chart(f));
}

// One training run of any tab, from the click to the end: the buttons, the
// progress bar, the status line and the loss chart (`ui`). `prepare()`
// loads what the run needs, `begin()` makes the session, `finish(session)`
// adopts what it trained; `register(session or null)` tells the page that
// a run is in progress. A cancelled run and a failed one say so (`cancelled`,
// `failed(message)`) and keep the model from before. The core's errors carry
// a `kind`; when the backend failed (kind `device`, or an error without a
// kind), `recover(error)` moves the page to the CPU after a WebGPU failure
// and says whether it did, and then `rescue(checkpoint)`, if given, adopts
// the run's last checkpoint.
// The buttons come back in every case (`canStart()` for the start button).
// A run that trains in the compute worker (compute.js) looks the same; when
// the worker stops mid-run (kind `worker-lost`), `rescue(checkpoint,
// 'worker')` adopts the last checkpoint it sent.
/**
 * What runTraining drives: the core's TrainSession, or a run in the compute
 * worker (compute.js's workerSession).
 * @typedef {object} RunSession
 * @property {() => Promise<import('./aelab.js').StepEvent>} step
 * @property {(frame: import('./aelab.js').ChartFrame) => Promise<import('./aelab.js').Drawing>} draw_chart
 * @property {() => Promise<Uint8Array | undefined>} checkpoint
 * @property {() => Promise<void> | void} cancel
 * @property {() => Promise<void> | void} free
 */
/**
 * @typedef {object} TrainingRun
 * @property {() => Promise<void>} [prepare]
 * @property {() => RunSession | Promise<RunSession>} begin
 * @property {(session: any) => Promise<void>} finish
 * @property {(session: RunSession | null) => void} register
 * @property {() => string} backend the backend of the page's session
 * @property {string} cancelled
 * @property {(message: string) => string} failed
 * @property {(error: unknown) => Promise<boolean>} recover
 * @property {(checkpoint: Uint8Array, why: 'gpu' | 'worker') => Promise<void>} [rescue]
 * @property {() => boolean} [canStart]
 */
/** @param {any} ui the run's elements: start, cancel, bar, status, chart @param {TrainingRun} run */
export async function runTraining(ui, { prepare, begin, finish, register, backend, cancelled, failed, recover, rescue, canStart = () => true }) {
  ui.start.disabled = true;
  ui.cancel.disabled = false;
  ui.bar.value = 0;
  let session = null;
  try {
    if (prepare) await prepare();
    session = await begin();
    register(session);
    await driveSession(session, ui);
    await finish(session);
  } catch (e) {
    const msg = errText(e);
    // The core's errors carry a kind: cancelled, diverged, bad-input, device.
    if (e && e.kind === 'cancelled') ui.status.textContent = cancelled;
    else if (e && e.kind === 'bad-input') ui.status.textContent = `cannot train with these settings: ${msg}`;
    else if (e && e.kind === 'diverged') ui.status.textContent = failed(msg);
    else if (e && e.kind === 'worker-lost') {
      // The compute worker stopped; the page's own session is fine.
      ui.status.textContent = failed(msg);
      const checkpoint = rescue && session ? await session.checkpoint() : undefined;
      if (checkpoint) {
        try {
          await rescue(checkpoint, 'worker');
        } catch (e2) {
          ui.status.textContent = `the compute worker stopped and its checkpoint could not be loaded: ${errText(e2)}`;
        }
      }
    } else {
      // The backend failed (or something unforeseen): on WebGPU, move to the CPU.
      ui.status.textContent = failed(msg);
      const checkpoint = rescue && session && backend() === 'webgpu' ? await session.checkpoint().catch(() => undefined) : undefined;
      const moved = await recover(e);
      if (moved && checkpoint) {
        try {
          await rescue(checkpoint, 'gpu');
        } catch (e2) {
          ui.status.textContent = `WebGPU failed during training and its checkpoint could not be loaded: ${errText(e2)}`;
        }
      }
    }
  } finally {
    if (session) await Promise.resolve(session.free()).catch(() => {});
    register(null);
    ui.start.disabled = !canStart();
    ui.cancel.disabled = true;
  }
}

/**
 * A tab's "Design the model" panel: the designer (designer.js) loads when
 * the panel is first opened, or when a link or the storage brings a
 * design; the design is kept across reloads. `spec()` is the design's JSON
 * when training should use it (the student edited it or ticked "Train this
 * design", and the core accepts it for this lab), else null.
 * @param {{ lab: string, details: HTMLDetailsElement, api: () => LabApi, batch: () => number, preset: () => string, onActive?: () => void }} o
 *   `preset`: the id of the preset the tab's form describes now.
 */
export function designerSlot(o) {
  const key = `design-${o.lab}`;
  /** @type {{ json: string, active: boolean, trainable: boolean, name: string } | null} */
  let current = null;
  /** @type {Promise<any> | null} */
  let mounting = null;
  const body = /** @type {HTMLElement} */ (o.details.querySelector('.designer-body'));
  const note = o.details.querySelector('.designer-note');
  const show = () => {
    if (note) note.textContent = current && current.active ? (current.trainable ? `: training uses your design “${current.name}”` : ': your design has a problem (see below); training uses the form\'s preset') : '';
  };
  async function mount(start) {
    if (!mounting) {
      mounting = (async () => {
        const m = await import('./designer.js');
        let json = start;
        if (!json) {
          const presets = await o.api().spec_presets();
          const p = presets.find((x) => x.id === o.preset()) || presets.find((x) => x.lab === o.lab);
          json = p ? p.json : '{}';
        }
        return await m.mountDesigner(body, {
          lab: o.lab, api: o.api, batch: o.batch, start: json,
          onChange: (d) => {
            const was = current && current.active;
            current = d;
            show();
            store.put(key, { json: d.json, active: d.active }, 'the model design').catch(() => {});
            if (d.active && !was && o.onActive) o.onActive();
          },
        });
      })();
      // A designer that could not start is tried again on the next open.
      mounting.catch(() => { mounting = null; });
    }
    return mounting;
  }
  o.details.addEventListener('toggle', () => { if (o.details.open) mount(current ? current.json : null).catch((e) => { if (body) body.textContent = `The designer could not start: ${errText(e)}`; }); });
  // A design kept from an earlier visit.
  store.get(key).then((v) => {
    if (v && v.json && !current) {
      current = { json: v.json, active: !!v.active, trainable: false, name: '' };
      if (v.active) mount(v.json).then((d) => d.set(v.json, true)).catch(() => {});
    }
  }).catch(() => {});
  return {
    spec: () => (current && current.active && current.trainable ? current.json : null),
    /** Opens the panel with a design (from a link), to train. @param {string} json */
    async open(json) {
      o.details.open = true;
      const d = await mount(json);
      d.set(json, true);
      o.details.scrollIntoView({ block: 'start' });
    },
  };
}

// How many runs of a lab keep their model (the oldest rows' models go
// first; their rows stay).
const KEPT_RUN_MODELS = 20;

/** A metric's value as the table shows it. @param {number} v */
function metricText(v) {
  if (!Number.isFinite(v)) return '–';
  return Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3);
}

/**
 * A lab's run table (`data-testid="runs-table"`): a row for each training
 * run, made by the core (`run_record`) from the run's weights file and
 * the lab's measurements, kept across reloads with the run's model (the
 * newest KEPT_RUN_MODELS). Each row can put its model back (`use`),
 * download its spec and weights, and the table exports as CSV.
 * @param {{ lab: string, root: HTMLElement, api: () => LabApi,
 *   use: (weights: Uint8Array, extra: any, row: any) => Promise<string> }} o
 */
export function runsPanel(o) {
  const key = `runs-${o.lab}`;
  const modelKey = (id) => `run-model-${o.lab}-${id}`;
  /** @type {any[]} */
  let rows = [];
  o.root.innerHTML = `<h3>Runs</h3><p class="muted runs-empty">Each training run gets a row here: its model, settings, metrics, the aelab version, the SHA-256 of its weights and the <code>aelab</code> command that trains it again.</p>
    <div class="table-wrap runs-wrap"></div>
    <div class="row"><button class="runs-csv" data-testid="runs-csv" disabled>Download the table (CSV)</button></div>
    <p class="runs-msg" role="status"></p>`;
  const wrap = /** @type {HTMLElement} */ (o.root.querySelector('.runs-wrap'));
  const msg = /** @type {HTMLElement} */ (o.root.querySelector('.runs-msg'));
  const csvButton = /** @type {HTMLButtonElement} */ (o.root.querySelector('.runs-csv'));
  const persist = () => store.put(key, rows, 'the run table');

  function render() {
    csvButton.disabled = rows.length === 0;
    if (!rows.length) { wrap.innerHTML = ''; return; }
    const cell = (t) => `<td>${esc(t)}</td>`;
    const head = ['#', 'started', 'model', 'settings', 'metrics', 'time', 'aelab', 'weights (SHA-256)', ''];
    wrap.innerHTML = `<table data-testid="runs-table"><caption>Training runs of this tab, newest last</caption><thead><tr>${
      head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')
    }</tr></thead><tbody>${rows.map((r, i) => `<tr class="runs-row" data-run="${esc(r.id)}">${cell(String(i + 1))}${cell(new Date(r.started).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }))}` +
      `${cell(`${r.model} (${r.params.toLocaleString('en')} parameters)`)}${cell(r.settings)}` +
      `<td class="runs-metrics">${r.metrics.map((m) => `<span>${esc(m.name)} <b>${esc(metricText(m.value))}</b></span>`).join(' ') || '–'}</td>` +
      `${cell(fmtTime(r.seconds * 1000))}${cell(r.version)}<td><code title="${esc(r.weights_sha256)}">${esc(r.weights_sha256.slice(0, 12))}…</code></td>` +
      `<td class="runs-actions"><button data-act="use" ${r.kept ? '' : 'disabled title="this run\'s model is no longer kept"'}>Use this model</button> ` +
      `<button data-act="spec">Spec</button> <button data-act="weights" ${r.kept ? '' : 'disabled'}>Weights</button> ` +
      `<button data-act="remove" aria-label="Remove run ${i + 1}">✕</button></td></tr>` +
      `<tr class="runs-command-row" data-run="${esc(r.id)}" data-command-of="${i + 1}"><td></td><td colspan="${head.length - 1}">to train it again: <code class="runs-command">${esc(r.command)}</code> <button data-act="copy">Copy</button></td></tr>`).join('')}</tbody></table>`;
  }

  wrap.addEventListener('click', async (ev) => {
    const b = /** @type {HTMLElement} */ (ev.target).closest('button');
    const tr = b && b.closest('tr');
    if (!b || !tr) return;
    const i = rows.findIndex((r) => String(r.id) === tr.dataset.run);
    const r = rows[i];
    if (!r) return;
    const act = b.dataset.act;
    try {
      if (act === 'spec') {
        download(new Blob([r.spec], { type: 'application/json' }), r.spec_file || `${o.lab}-run-${i + 1}.json`);
      } else if (act === 'copy') {
        await navigator.clipboard.writeText(r.command);
        msg.textContent = `Copied run ${i + 1}'s command.`;
      } else if (act === 'remove') {
        rows.splice(i, 1);
        await store.del(modelKey(r.id));
        await persist();
        render();
        msg.textContent = `Removed run ${i + 1}.`;
      } else {
        const kept = await store.get(modelKey(r.id));
        if (!kept || !kept.weights) { msg.textContent = `Run ${i + 1}'s model is no longer kept.`; return; }
        if (act === 'weights') download(new Blob([kept.weights]), `aelab-${o.lab}-run-${i + 1}.aelab`);
        else { msg.textContent = `loading run ${i + 1}'s model…`; msg.textContent = await o.use(kept.weights, kept.extra, r); }
      }
    } catch (e) { msg.textContent = `Run ${i + 1}: ${errText(e)}`; }
  });
  csvButton.addEventListener('click', async () => {
    try { download(new Blob([await o.api().runs_csv(rows)], { type: 'text/csv' }), `aelab-${o.lab}-runs.csv`); } catch (e) { msg.textContent = errText(e); }
  });

  return {
    /** The rows kept from earlier visits (their count). */
    async restore() {
      const r = await store.get(key);
      // Rows of the shape the core makes (a workspace file may hold others).
      const ok = (x) => x && (typeof x.id === 'string' || typeof x.id === 'number') && Array.isArray(x.metrics) &&
        x.metrics.every((m) => m && typeof m.name === 'string' && typeof m.value === 'number') &&
        typeof x.params === 'number' && typeof x.seconds === 'number' &&
        ['lab', 'started', 'model', 'settings', 'version', 'weights_sha256', 'command', 'spec'].every((k) => typeof x[k] === 'string');
      rows = Array.isArray(r) ? r.filter(ok) : [];
      render();
      return rows.length;
    },
    /**
     * Adds a finished run's row: its weights file, the lab's measurements,
     * when it started and how long it took (ms); `extra` is kept with the
     * model for `use`.
     * @param {Uint8Array} weights @param {any} measured @param {Date} started @param {number} ms @param {any} [extra]
     */
    async add(weights, measured, started, ms, extra) {
      try {
        const row = await o.api().run_record(o.lab, weights, measured, started.toISOString(), ms / 1000);
        const id = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
        rows.push({ ...row, id, kept: true });
        const withModels = rows.filter((x) => x.kept);
        for (const old of withModels.slice(0, Math.max(0, withModels.length - KEPT_RUN_MODELS))) {
          old.kept = false;
          await store.del(modelKey(old.id));
        }
        await store.put(modelKey(id), { weights, extra }, 'the run\'s model');
        await persist();
        render();
        msg.textContent = '';
      } catch (e) { msg.textContent = `This run could not be added to the table: ${errText(e)}`; }
    },
    rows: () => rows,
    /** Replaces the rows (a workspace import). @param {any[]} r */
    set(r) { rows = r; render(); },
  };
}
