// Makes one self-contained aelab.html from a built dist/: the page, its
// style and scripts, the wasm, the weights and the data of all three labs,
// inlined. Double-clicked, it opens the full lab from file:// with no
// server and no network (docs/usage.md: "One file for the lecture hall").
//
//   node scripts/single-file.mjs [dist] [out.html]
//
// How it works: every binary file is a base64 <script type="application/
// octet-stream"> block (never executed); a small loader answers the page's
// fetch() of those paths from them, and loads the ES modules from blob:
// URLs with their relative imports rewritten. No file of the page changes.
// Files that are not compressed already (the wasm, the weights) are stored
// gzipped and unpacked with the browser's DecompressionStream.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

// The modules, each after those it imports.
const MODULES = ['store.js', 'ui.js', 'designer.js', 'inside.js', 'report.js', 'aelab.js', 'remote.js', 'lab-host.js', 'compute.js', 'denoise.js', 'augment.js', 'anomaly.js', 'app.js'];
const DATA = [
  'aelab_bg.wasm',
  'models/denoiser-skip.aelab', 'models/classifier.aelab', 'models/denoiser-canonical.aelab',
  'mnist/t10k-images-idx3-ubyte.gz', 'mnist/t10k-labels-idx1-ubyte.gz',
  'mnist/train-images-idx3-ubyte.gz', 'mnist/train-labels-idx1-ubyte.gz',
  'ecg5000/ECG5000_TRAIN.tsv.gz', 'ecg5000/ECG5000_TEST.tsv.gz',
];
// Inline scripts and blob: modules need their own CSP; still no network.
const CSP = "default-src 'none'; script-src 'unsafe-inline' 'wasm-unsafe-eval' blob:; " +
  "style-src 'unsafe-inline'; img-src data: blob:; connect-src 'none'; object-src 'none'; base-uri 'none'";

export function singleFile(dist) {
  const read = (f) => {
    const p = path.join(dist, f);
    if (!fs.existsSync(p)) throw new Error(`${p} is missing: build the page first (scripts/build-web.sh --release)`);
    return fs.readFileSync(p);
  };
  let html = read('index.html').toString();
  const css = read('style.css').toString();
  const sources = Object.fromEntries(MODULES.map((m) => [m, read(m).toString()]));
  const esc = (s) => s.replace(/<\/(script|style)/gi, '<\\/$1');
  html = html
    .replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, `<meta http-equiv="Content-Security-Policy" content="${CSP}">`)
    .replace(/<link[^>]*rel="(?:modulepreload|preload)"[^>]*>\s*/g, '')
    .replace(/<link[^>]*rel="stylesheet"[^>]*>/, () => `<style>${esc(css)}</style>`)
    .replace(/<script type="module" src="app\.js"><\/script>/, '');
  const blocks = DATA.map((f) => {
    const raw = read(f);
    const gz = !f.endsWith('.gz');
    const body = gz ? zlib.gzipSync(raw, { level: 9 }) : raw;
    return `<script type="application/octet-stream" data-path="${f}"${gz ? ' data-gzip' : ''}>${body.toString('base64')}</script>`;
  }).join('\n');
  const loader = `<script type="module">
// aelab, single file: the data blocks above answer fetch(); the modules load
// from blob: URLs.
const sources = ${esc(JSON.stringify(sources))};
const types = { wasm: 'application/wasm' };
const blocks = new Map([...document.querySelectorAll('script[data-path]')].map((s) => [s.dataset.path, s]));
const cache = new Map();
function bytesOf(p) {
  if (!cache.has(p)) {
    const block = blocks.get(p);
    const bin = atob(block.textContent);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    cache.set(p, block.hasAttribute('data-gzip')
      ? new Response(new Blob([out]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer()
      : Promise.resolve(out.buffer));
  }
  return cache.get(p);
}
const base = new URL('.', location.href).href;
const netFetch = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url, location.href);
  const p = url.href.startsWith(base) ? decodeURIComponent(url.href.slice(base.length).split(/[?#]/)[0]) : null;
  if (p !== null && blocks.has(p)) {
    const ext = p.split('.').pop();
    return new Response(await bytesOf(p), { status: 200, headers: { 'Content-Type': types[ext] || 'application/octet-stream' } });
  }
  return netFetch(input, init);
};
const urls = {};
for (const name of ${JSON.stringify(MODULES)}) {
  const src = sources[name].replace(/(from\\s*|import\\s*\\(\\s*)(['"])\\.\\/([\\w.-]+\\.js)\\2/g, (m, pre, q, f) => pre + q + urls[f] + q);
  urls[name] = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
}
document.documentElement.dataset.singleFile = 'true';
import(urls['app.js']).catch((e) => {
  const b = document.getElementById('banner');
  b.textContent = 'aelab could not start from this file: ' + (e && e.message || e);
  b.hidden = false;
});
</script>`;
  html = html.replace('</body>', `${blocks}\n${loader}\n</body>`);
  return html;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dist = process.argv[2] || 'dist';
  const out = process.argv[3] || 'aelab.html';
  try {
    const html = singleFile(dist);
    fs.writeFileSync(out, html);
    console.log(`wrote ${out}: ${(html.length / 1e6).toFixed(1)} MB, from ${dist}`);
  } catch (e) {
    console.error(`single-file: ${e.message}`);
    process.exit(1);
  }
}
