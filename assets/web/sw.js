// aelab's service worker: after the first visit every asset is cached, so
// the page reloads and all three labs work with the network off. Requests
// go to the network first (so a new build is picked up at once) and fall
// back to the cache when the network is gone.
const CACHE = 'aelab-v8';
const ASSETS = [
  './', 'index.html', 'app.js', 'ui.js', 'store.js', 'denoise.js', 'augment.js', 'anomaly.js', 'compute.js', 'worker.js', 'style.css',
  'aelab.js', 'aelab_bg.wasm', 'bench.html', 'bench.js',
  'models/classifier.aelab', 'models/denoiser-skip.aelab', 'models/denoiser-canonical.aelab',
  'mnist/t10k-images-idx3-ubyte.gz', 'mnist/t10k-labels-idx1-ubyte.gz',
  'mnist/train-images-idx3-ubyte.gz', 'mnist/train-labels-idx1-ubyte.gz',
  'ecg5000/ECG5000_TRAIN.tsv.gz', 'ecg5000/ECG5000_TEST.tsv.gz',
];

self.addEventListener('install', (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});

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
      return resp;
    } catch (e) {
      const hit = await cache.match(req, { ignoreSearch: true });
      if (hit) return hit;
      throw e;
    }
  })());
});
