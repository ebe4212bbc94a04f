// aelab's service worker: after the first visit every asset is cached, so
// the page reloads and all three labs work with the network off. Requests
// go to the network first (so a new build is picked up at once) and fall
// back to the cache when the network is gone.
//
// It also makes the page cross-origin isolated where the host sends no
// COOP/COEP headers (a static host, GitHub Pages): every answer it gives
// carries them, so from the second visit on the compute worker can run the
// threaded CPU module (the coi-serviceworker pattern). scripts/serve.sh
// sends them itself.
const CACHE = 'aelab-v14';
const ASSETS = [
  './', 'index.html', 'app.js', 'ui.js', 'store.js', 'denoise.js', 'augment.js', 'anomaly.js', 'compute.js', 'worker.js', 'remote.js',
  'lab-host.js', 'lab-worker.js', 'designer.js', 'inside.js', 'report.js', 'style.css',
  'aelab.js', 'aelab_bg.wasm', 'cpu/aelab.js', 'cpu/aelab_bg.wasm', 'bench.html', 'bench.js',
  'models/classifier.aelab', 'models/denoiser-skip.aelab', 'models/denoiser-canonical.aelab',
  'mnist/t10k-images-idx3-ubyte.gz', 'mnist/t10k-labels-idx1-ubyte.gz',
  'mnist/train-images-idx3-ubyte.gz', 'mnist/train-labels-idx1-ubyte.gz',
  'ecg5000/ECG5000_TRAIN.tsv.gz', 'ecg5000/ECG5000_TEST.tsv.gz',
];

self.addEventListener('install', (ev) => {
  ev.waitUntil(caches.open(CACHE).then(async (c) => {
    await c.addAll(ASSETS);
    // The threaded module's files (scripts/build-web.sh lists them, with
    // wasm-bindgen-rayon's worker helper); a build without it still installs.
    try {
      const r = await fetch('mt/files.json');
      if (r.ok) await c.addAll(await r.json());
    } catch (e) { console.warn(`the threaded module is not cached for offline use: ${e}`); }
  }).then(() => self.skipWaiting()));
});

/** `resp` with the headers that make a page cross-origin isolated. */
function isolated(resp) {
  if (resp.type === 'opaque' || resp.status === 0) return resp;
  const headers = new Headers(resp.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  return new Response(resp.body, { status: resp.status, statusText: resp.statusText, headers });
}

self.addEventListener('activate', (ev) => {
  ev.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (ev) => {
  const req = ev.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  ev.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const resp = await fetch(req);
      if (resp.ok && resp.type === 'basic') cache.put(req, resp.clone()).catch(() => {});
      return isolated(resp);
    } catch (e) {
      const hit = await cache.match(req, { ignoreSearch: true });
      if (hit) return isolated(hit);
      throw e;
    }
  })());
});
