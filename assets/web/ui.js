// @ts-check
// Small DOM helpers shared by the labs' wiring. No computation here.

// The element of an id. Typed `any`: the ids are the HTML's, which the e2e
// tests exercise; the type check is for the calls into the wasm API.
/** @param {string} id @returns {any} */
export const $ = (id) => document.getElementById(id);
/**
 * The current session and its lab handles, as the tabs receive them.
 * @typedef {import('./aelab.js').Lab} Lab
 * @typedef {{ denoise: import('./aelab.js').DenoiseLab, augment: import('./aelab.js').AugmentLab, anomaly: import('./aelab.js').AnomalyLab }} Labs
 * @typedef {{ lab: () => Lab, handles: () => Labs, compute: import('./compute.js').Compute, [more: string]: any }} TabContext
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

export function digitCanvas(img, offset = 0, label = '28×28 digit') {
  const c = document.createElement('canvas');
  c.width = 28; c.height = 28;
  c.setAttribute('aria-label', label);
  paint(c, img, offset);
  return c;
}

const esc = (s) => String(s).replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' }[c]));
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
      session.draw_chart(chart);
      lastDraw = performance.now();
    }
    await new Promise((r) => setTimeout(r, 0)); // let the page breathe
  }
  session.draw_chart(chart);
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
 * @property {(canvas: HTMLCanvasElement) => void} draw_chart
 * @property {() => Uint8Array | undefined} checkpoint
 * @property {() => void} cancel
 * @property {() => void} free
 */
/**
 * @typedef {object} TrainingRun
 * @property {() => Promise<void>} [prepare]
 * @property {() => RunSession} begin
 * @property {(session: any) => Promise<void>} finish
 * @property {(session: RunSession | null) => void} register
 * @property {() => import('./aelab.js').Lab} lab
 * @property {string} cancelled
 * @property {(message: string) => string} failed
 * @property {(error: unknown) => Promise<boolean>} recover
 * @property {(checkpoint: Uint8Array, why: 'gpu' | 'worker') => Promise<void>} [rescue]
 * @property {() => boolean} [canStart]
 */
/** @param {any} ui the run's elements: start, cancel, bar, status, chart @param {TrainingRun} run */
export async function runTraining(ui, { prepare, begin, finish, register, lab, cancelled, failed, recover, rescue, canStart = () => true }) {
  ui.start.disabled = true;
  ui.cancel.disabled = false;
  ui.bar.value = 0;
  let session = null;
  try {
    if (prepare) await prepare();
    session = begin();
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
      const checkpoint = rescue && session ? session.checkpoint() : undefined;
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
      const checkpoint = rescue && session && lab().backend === 'webgpu' ? session.checkpoint() : undefined;
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
    if (session) session.free();
    register(null);
    ui.start.disabled = !canStart();
    ui.cancel.disabled = true;
  }
}
