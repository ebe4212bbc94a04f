// @ts-check
// The Report view: the practical's report, items 1–7, assembled from the
// student's own work in the three tabs (their models, figures, tables and
// run tables), with the team's names and the student's text kept across
// reloads. It prints to a clean PDF (the print stylesheet) and downloads as
// one self-contained HTML file. Loaded when the Report tab first opens.
import { renderTable, download, errText } from './ui.js';
import * as store from './store.js';

const TEXT_KEY = 'report-text';

/** The practical's items, in order. */
const SECTIONS = [
  { n: 1, title: 'The convolutional autoencoder: the code that creates and trains it', prompt: 'How you built the model and why (optional).' },
  { n: 2, title: 'Denoising: ten digits before and after, at f = 0.5, 0.7 and 0.9', prompt: 'What the figure and the table show (optional).' },
  { n: 3, title: 'Conclusion on denoising', prompt: 'Your conclusion: how well does the autoencoder remove the noise, at each level, and what limits it?' },
  { n: 4, title: 'Data augmentation: generated 2s, 3s and 8s and their diversity', prompt: 'What the generated digits and the diversity figures show (optional).' },
  { n: 5, title: 'Few-shot generation (1000, 100, 10 examples) and fooling the classifier', prompt: 'How the number of examples changes the digits, and what fooling the classifier took (optional).' },
  { n: 6, title: 'Answers to the notebook\'s questions', prompt: 'Your answers.' },
  { n: 7, title: 'Anomaly detection: the models compared', prompt: 'Which model worked better, what you did to improve the models, and whether the convolutional autoencoder works better.' },
];

/** @param {string} s */
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
/** @param {number} v @param {number} [d] */
const num = (v, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '–');

/** A canvas as an <img> (a PNG data URL), so that it prints and travels in the HTML file. */
function imageOf(canvas, alt) {
  const img = document.createElement('img');
  img.src = canvas.toDataURL('image/png');
  img.alt = alt;
  img.className = 'report-figure';
  return img;
}

/** Up to `max` frames of a walk (n × 784 values) side by side, 28 px each. */
function strip(images, max = 12) {
  const n = Math.floor(images.length / 784);
  const pick = n <= max ? [...Array(n).keys()] : [...Array(max).keys()].map((i) => Math.round(i * (n - 1) / (max - 1)));
  const c = document.createElement('canvas');
  c.width = 28 * pick.length + 4 * (pick.length - 1);
  c.height = 28;
  const g = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
  g.fillStyle = '#fff';
  g.fillRect(0, 0, c.width, c.height);
  pick.forEach((f, k) => {
    const img = g.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(255 * Math.max(0, Math.min(1, images[784 * f + i])));
      img.data.set([v, v, v, 255], 4 * i);
    }
    g.putImageData(img, 32 * k, 0);
  });
  return { canvas: c, frames: pick };
}

/** A table element from {caption, head, rows}. */
function table(t) {
  const d = document.createElement('div');
  d.className = 'table-wrap';
  renderTable(d, t);
  return d;
}

/** A paragraph saying what is missing and where to make it. */
function missing(text) {
  const p = document.createElement('p');
  p.className = 'report-missing';
  p.textContent = text;
  return p;
}

const metricOf = (row, name) => {
  const m = row.metrics.find((x) => x.name === name);
  return m ? m.value : NaN;
};

/**
 * Shows the report in `root`, filled from the tabs' work.
 * @param {HTMLElement} root
 * @param {{ api: () => any, denoise: { material: () => Promise<any>, make: (n: number) => Promise<void> }, augment: { material: () => Promise<any> }, anomaly: { material: () => Promise<any> } }} ctx
 */
export async function showReport(root, ctx) {
  const saved = (await store.get(TEXT_KEY)) || {};
  const text = { team: saved.team || '', notes: { ...(saved.notes || {}) } };
  let timer = 0;
  const keep = () => { clearTimeout(timer); timer = window.setTimeout(() => store.put(TEXT_KEY, text, 'the report\'s text'), 300); };

  root.innerHTML = `<div class="report-actions row">
      <button class="report-refresh">Refresh from my work</button>
      <button class="report-print" data-testid="report-pdf">Print or save as PDF</button>
      <button class="report-html" data-testid="report-html">Download as HTML</button>
      <span class="report-msg muted" role="status"></span>
    </div>
    <article class="report-doc">
      <header class="report-head">
        <h1>Autoencoders: practical report</h1>
        <label class="report-team-label">Team members <input class="report-team" data-testid="report-team" placeholder="the names of the team's members" value="${esc(text.team)}"></label>
        <p class="report-team-print print-text"></p>
        <p class="muted report-made"></p>
      </header>
      ${SECTIONS.map((s) => `<section class="report-section" data-section="${s.n}" data-testid="report-section-${s.n}">
        <h2>${s.n}. ${esc(s.title)}</h2>
        <div class="report-body"></div>
        <label class="report-notes-label">${esc(s.prompt)}<textarea class="report-notes" data-n="${s.n}" rows="${s.n === 3 || s.n === 6 || s.n === 7 ? 6 : 3}">${esc(text.notes[s.n] || '')}</textarea></label>
        <div class="report-notes-print print-text"></div>
      </section>`).join('')}
    </article>`;
  const msg = /** @type {HTMLElement} */ (root.querySelector('.report-msg'));
  const team = /** @type {HTMLInputElement} */ (root.querySelector('.report-team'));
  const teamPrint = /** @type {HTMLElement} */ (root.querySelector('.report-team-print'));
  const mirror = () => {
    teamPrint.textContent = text.team ? `Team: ${text.team}` : '';
    for (const ta of /** @type {NodeListOf<HTMLTextAreaElement>} */ (root.querySelectorAll('.report-notes'))) {
      /** @type {HTMLElement} */ (ta.closest('section')?.querySelector('.report-notes-print')).textContent = ta.value;
    }
  };
  team.addEventListener('input', () => { text.team = team.value; mirror(); keep(); });
  root.querySelectorAll('.report-notes').forEach((el) => {
    const ta = /** @type {HTMLTextAreaElement} */ (el);
    ta.addEventListener('input', () => { text.notes[ta.dataset.n || ''] = ta.value; mirror(); keep(); });
  });
  mirror();

  const body = (n) => /** @type {HTMLElement} */ (root.querySelector(`[data-section="${n}"] .report-body`));

  async function fill() {
    msg.textContent = 'assembling the report from your work…';
    /** @type {HTMLElement} */ (root.querySelector('.report-made')).textContent =
      `Made with aelab on ${new Date().toLocaleString()}. Every figure and number comes from the team's own runs in the page.`;
    const problems = [];
    const part = async (fn) => { try { return await fn(); } catch (e) { problems.push(errText(e)); return null; } };
    const [den, aug, an] = await Promise.all([part(ctx.denoise.material), part(ctx.augment.material), part(ctx.anomaly.material)]);
    await part(() => section1(den));
    section2(den);
    body(3).replaceChildren();
    section4(aug);
    section5(aug);
    body(6).replaceChildren();
    section7(an);
    msg.textContent = problems.length ? `Some parts could not be filled: ${problems.join('; ')}` : '';
    root.dataset.filled = 'true';
  }

  async function section1(den) {
    const b = body(1);
    b.replaceChildren();
    if (!den) { b.append(missing('The denoiser could not be read.')); return; }
    const design = await ctx.api().spec_design(den.spec, 'denoise', 16);
    const s = design.summary;
    const intro = document.createElement('p');
    intro.textContent = `The current denoiser: ${den.info.name}, ${den.info.params.toLocaleString('en')} parameters` +
      (den.info.trained_in === 'browser' ? `, trained in the browser on ${den.info.images} images for ${den.info.epochs} epoch(s).` : '.');
    b.append(intro);
    if (s) {
      b.append(table({
        caption: `Model summary (input ${s.input}): ${s.total_params.toLocaleString('en')} parameters, ${num(s.total_mflops, 2)} MFLOPs per image`,
        head: ['#', 'layer', 'settings', 'output', 'parameters', 'MFLOPs'],
        rows: s.rows.map((r) => [r.index, r.name ? `${r.layer} "${r.name}"` : r.layer, r.detail, r.output, r.params.toLocaleString('en'), num(r.mflops, 2)]),
      }));
    }
    const code = document.createElement('pre');
    code.className = 'report-code';
    code.textContent = await ctx.api().spec_code(den.spec, 'rust');
    const cap = document.createElement('p');
    cap.textContent = 'The code that creates and trains it (burn, Rust; generated by aelab from the model\'s spec):';
    b.append(cap, code);
    const last = den.runs[den.runs.length - 1];
    if (last) {
      const p = document.createElement('p');
      p.append('Trained by the run of ', new Date(last.started).toLocaleString(), ' (', last.settings, '); the same training on the command line: ');
      const c = document.createElement('code');
      c.textContent = last.command;
      p.append(c);
      b.append(p);
    }
  }

  function section2(den) {
    const b = body(2);
    b.replaceChildren();
    if (den && den.figure && den.table) {
      b.append(imageOf(den.figure, 'Ten test digits, clean, noisy and denoised at f = 0.5, 0.7 and 0.9'), table(den.table));
      return;
    }
    b.append(missing('The figure is made in the Denoise tab (Report figure → Make report), or here:'));
    const make = document.createElement('button');
    make.textContent = 'Make it now (500 test images)';
    make.className = 'report-make-figure';
    make.addEventListener('click', async () => {
      make.disabled = true;
      make.textContent = 'making the figure and its table…';
      try { await ctx.denoise.make(500); await fill(); } catch (e) { make.textContent = `failed: ${errText(e)}`; }
    });
    b.append(make);
  }

  function augmentRows(rows, caption, keep = () => true) {
    const rs = rows.filter(keep);
    return table({
      caption,
      head: ['digit', 'examples', 'model', 'recognised', 'confidence', 'FID', 'precision', 'recall', 'duplicates'],
      rows: rs.map((r) => {
        const m = /digit (\d+), (\d+) examples/.exec(r.settings) || [];
        return [m[1] || '?', m[2] || '?', r.model, `${num(100 * metricOf(r, 'recognised'), 1)} %`, num(metricOf(r, 'confidence')),
          num(metricOf(r, 'FID'), 1), num(metricOf(r, 'precision')), num(metricOf(r, 'recall')), num(metricOf(r, 'duplicates'))];
      }),
    });
  }

  function section4(aug) {
    const b = body(4);
    b.replaceChildren();
    const runs = aug ? aug.runs : [];
    const wanted = runs.filter((r) => /digit [238],/.test(r.settings));
    if (runs.length) {
      b.append(augmentRows(wanted.length ? wanted : runs, wanted.length
        ? 'The generators of 2s, 3s and 8s trained in the Augment tab, judged by the classifier, and the diversity of what they generate'
        : 'The generators trained in the Augment tab (none of 2s, 3s or 8s yet)'));
    } else {
      b.append(missing('No generator has been trained yet: train generators of 2s, 3s and 8s in the Augment tab; each run adds a row here.'));
    }
    if (aug && aug.grid) {
      const cap = document.createElement('p');
      cap.textContent = `Digits generated by the current generator (${aug.info.digit}s from ${aug.info.examples} example(s), d = ${aug.info.latent}), with the classifier's verdicts:`;
      b.append(cap, imageOf(aug.grid, 'Generated digits'));
      if (aug.diversity) b.append(table(aug.diversity));
    }
  }

  function section5(aug) {
    const b = body(5);
    b.replaceChildren();
    const runs = aug ? [...aug.runs] : [];
    const fewShot = (r) => /, (1000|100|10) examples/.test(r.settings);
    if (runs.some(fewShot)) {
      const ex = (r) => Number((/, (\d+) examples/.exec(r.settings) || [])[1]);
      runs.sort((a, c) => ex(c) - ex(a));
      b.append(augmentRows(runs, 'Few-shot generation: the same digit from 1000, 100 and 10 examples', fewShot));
    } else {
      b.append(missing('Train the same digit from 1000, 100 and 10 examples in the Augment tab to compare them here.'));
    }
    if (aug && aug.fool) {
      const { canvas, frames } = strip(aug.fool.images);
      const cap = document.createElement('p');
      cap.textContent = `Fooling the classifier: the walk through the latent space, step by step (${frames.length} of ${aug.fool.path.length} steps shown). ${aug.fool.text}`;
      b.append(cap, imageOf(canvas, 'The fooling path, step by step'));
      const path = aug.fool.path;
      b.append(table({
        caption: 'The fooling path: what the classifier sees at each step shown',
        head: ['step', 'seen as', 'confidence', `P(${aug.info ? aug.info.digit : 'digit'})`, 'distance'],
        rows: frames.map((f) => [f + 1, path[f].digit, `${num(100 * path[f].confidence, 0)} %`, `${num(100 * path[f].target_probability, 0)} %`, num(path[f].distance)]),
      }));
    } else {
      b.append(missing('Fool the classifier in the Augment tab (Explore the latent space → Fool the classifier) to show its path here.'));
    }
  }

  function section7(an) {
    const b = body(7);
    b.replaceChildren();
    if (!an) { b.append(missing('The anomaly tab could not be read.')); return; }
    if (an.runs.length) {
      b.append(table({
        caption: 'The anomaly models trained, with their metrics at the threshold they set',
        head: ['#', 'model', 'settings', 'AUROC', 'AUPRC', 'precision', 'recall', 'F1'],
        rows: an.runs.map((r, i) => [i + 1, `${r.model} (${r.params.toLocaleString('en')} parameters)`, r.settings,
          num(metricOf(r, 'AUROC')), num(metricOf(r, 'AUPRC')), num(metricOf(r, 'precision')), num(metricOf(r, 'recall')), num(metricOf(r, 'F1'))]),
      }));
    }
    if (an.compare) b.append(table(an.compare));
    if (!an.runs.length && !an.compare) b.append(missing('Train a dense and a convolutional model in the Anomaly tab (and add runs to the comparison) to compare them here.'));
    if (an.plots.length) {
      const cap = document.createElement('p');
      cap.textContent = `The last run's plots (${an.data}): the reconstruction errors with the threshold, the ROC curve, and the test data with what was flagged.`;
      b.append(cap, ...an.plots.map((c) => imageOf(c, c.getAttribute('aria-label') || 'plot')));
    }
  }

  root.querySelector('.report-refresh')?.addEventListener('click', () => fill());
  root.querySelector('.report-print')?.addEventListener('click', () => window.print());
  root.querySelector('.report-html')?.addEventListener('click', () => {
    const doc = /** @type {HTMLElement} */ (root.querySelector('.report-doc'));
    download(new Blob([standalone(doc)], { type: 'text/html' }), 'aelab-report.html');
  });
  await fill();
  return { fill };
}

// The styles of the downloaded report: it carries no script and needs no
// other file.
const CSS = `body{font:15px/1.45 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#111}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left}
caption{text-align:left;font-style:italic;padding:.3em 0}pre{background:#f5f5f5;padding:.6em;overflow-x:auto;font-size:.8em;white-space:pre-wrap}
img{max-width:100%;image-rendering:pixelated}.report-missing{color:#666;font-style:italic}.notes{white-space:pre-wrap;border-left:3px solid #999;padding-left:.6em}
@media print{h2{break-after:avoid}table,img,pre{break-inside:avoid}}`;

/** The report as one HTML document with its images inside and no script. */
function standalone(doc) {
  const c = /** @type {HTMLElement} */ (doc.cloneNode(true));
  c.querySelectorAll('button, .report-team-label, .print-text').forEach((e) => e.remove());
  const team = /** @type {HTMLInputElement | null} */ (doc.querySelector('.report-team'));
  const head = c.querySelector('.report-head h1');
  if (head && team && team.value) {
    const p = document.createElement('p');
    p.textContent = `Team: ${team.value}`;
    head.after(p);
  }
  const originals = doc.querySelectorAll('textarea');
  c.querySelectorAll('label.report-notes-label').forEach((label, i) => {
    const value = originals[i] ? originals[i].value : '';
    if (!value.trim()) { label.remove(); return; }
    const d = document.createElement('div');
    d.className = 'notes';
    d.textContent = value;
    label.replaceWith(d);
  });
  const title = head ? head.textContent : 'Report';
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title || 'Report')}</title><style>${CSS}</style></head><body>${c.outerHTML}</body></html>\n`;
}
