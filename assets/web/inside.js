// @ts-check
// The "see inside" view: every layer's output for the digit on the pad,
// the encoder's feature maps down to the code and the decoder's back up, as
// CNN Explainer shows a classifier. Drawing only: the values come from the
// core (infer::inside, through DenoiseLab.inside). Loaded when the view is
// first opened.

// The channels drawn per layer (the rest are counted).
const MAX_CHANNELS = 32;
// On-screen size of one map, in CSS pixels.
const MAP_PX = 44;

const PARTS = { encoder: 'Encoder', code: 'Code', decoder: 'Decoder' };

/** A value in [lo, hi] as a colour: grey for ≥ 0 layers, blue–white–red when the layer has negatives. */
function colour(v, lo, hi) {
  if (lo >= 0) {
    const g = hi > 0 ? Math.round(255 * Math.min(1, v / hi)) : 0;
    return [g, g, g];
  }
  const m = Math.max(-lo, hi) || 1;
  const t = Math.max(-1, Math.min(1, v / m));
  return t >= 0
    ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))]
    : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
}

/** Paints `w`×`h` values of `values` from `at` on `canvas`. */
function paintMap(canvas, values, at, w, h, lo, hi) {
  const g = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  const img = g.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, gg, b] = colour(values[at + i], lo, hi);
    img.data[4 * i] = r; img.data[4 * i + 1] = gg; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  g.putImageData(img, 0, 0);
}

/** The layers' shapes, to tell whether the view can be repainted in place. */
const signature = (inside) => inside.layers.map((l) => `${l.layer}:${l.shape.join('x')}`).join('|');

/**
 * Draws `inside` (an `Inside`: each layer's `shape` [c, h, w] and values)
 * in `root`, repainting in place while the model's layers stay the same.
 * @param {HTMLElement} root @param {any} inside @param {string} caption
 */
export function renderInside(root, inside, caption) {
  const sig = signature(inside);
  if (root.dataset.signature !== sig) build(root, inside, sig);
  /** @type {NodeListOf<HTMLElement>} */
  const blocks = root.querySelectorAll('.inside-layer');
  inside.layers.forEach((l, k) => {
    const block = blocks[k];
    const [c, h, w] = l.shape;
    let lo = Infinity, hi = -Infinity;
    for (const v of l.values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    /** @type {NodeListOf<HTMLCanvasElement>} */
    const canvases = block.querySelectorAll('canvas');
    if (h === 1 && w === 1) {
      // A vector (dense, latent, flattened): one strip of its values.
      paintMap(canvases[0], l.values, 0, c, 1, lo, hi);
    } else {
      canvases.forEach((cv, ch) => paintMap(cv, l.values, ch * h * w, w, h, lo, hi));
    }
    /** @type {HTMLElement} */ (block.querySelector('.inside-range')).textContent = `${lo.toFixed(2)} … ${hi.toFixed(2)}`;
  });
  /** @type {HTMLElement} */ (root.querySelector('.inside-caption')).textContent = caption;
}

function build(root, inside, sig) {
  root.dataset.signature = sig;
  root.replaceChildren();
  const cap = document.createElement('p');
  cap.className = 'inside-caption muted';
  root.append(cap);
  let part = '';
  let row = null;
  for (const l of inside.layers) {
    if (l.part !== part) {
      part = l.part;
      const h = document.createElement('h4');
      h.textContent = PARTS[part] || part;
      row = document.createElement('div');
      row.className = `inside-part inside-${part}`;
      row.dataset.testid = `inside-${part}`;
      root.append(h, row);
    }
    const [c, h, w] = l.shape;
    const block = document.createElement('figure');
    block.className = 'inside-layer';
    block.dataset.testid = 'inside-layer';
    const title = document.createElement('figcaption');
    const dims = h === 1 && w === 1 ? `${c}` : h === 1 ? `${w}×${c}` : `${h}×${w}×${c}`;
    title.innerHTML = '';
    title.append(`${l.index} · ${l.layer}${l.name ? ` “${l.name}”` : ''} · ${dims}`);
    const range = document.createElement('span');
    range.className = 'inside-range muted';
    title.append(document.createElement('br'), range);
    const maps = document.createElement('div');
    maps.className = 'inside-maps';
    if (h === 1 && w === 1) {
      const cv = document.createElement('canvas');
      cv.width = c; cv.height = 1;
      cv.className = 'inside-vector';
      cv.setAttribute('aria-label', `layer ${l.index}: ${c} values`);
      maps.append(cv);
    } else {
      const shown = Math.min(c, MAX_CHANNELS);
      for (let ch = 0; ch < shown; ch++) {
        const cv = document.createElement('canvas');
        cv.width = w; cv.height = h;
        cv.style.width = `${MAP_PX}px`;
        cv.style.height = `${Math.max(4, Math.round(MAP_PX * h / w))}px`;
        cv.title = `channel ${ch + 1}`;
        cv.setAttribute('aria-label', `layer ${l.index}, channel ${ch + 1}`);
        maps.append(cv);
      }
      if (c > shown) {
        const more = document.createElement('span');
        more.className = 'muted';
        more.textContent = `(the first ${shown} of ${c} channels)`;
        maps.append(more);
      }
    }
    block.append(title, maps);
    /** @type {HTMLElement} */ (row).append(block);
  }
}
