// Runs dist/bench.html in headless Chromium and prints its results: the
// in-browser training throughput and one-digit latency per backend.
// Usage: node tests/e2e/bench.mjs [dist] [query, e.g. "steps=10&backends=flex"]
import { launchChromium } from './chromium.mjs';
import { serve } from './serve.mjs';

const dist = process.argv[2] || 'dist';
const query = process.argv[3] || '';
// Cross-origin isolated, so that the compute worker's row runs threaded.
const { server, origin } = await serve(dist, 0, { isolate: true });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', String(e)));
  await page.goto(`${origin}/bench.html?${query}`);
  await page.waitForFunction(() => window.aelabBenchResults, null, { timeout: 1_200_000 });
  const rows = JSON.parse(await page.evaluate(() => window.aelabBenchResults));
  const ua = await page.evaluate(() => navigator.userAgent);
  console.log(`# ${ua}`);
  console.log('| backend | training (images/s, batch ' + (rows.find((r) => r.batch)?.batch ?? '?') + ') | denoise one digit (ms) |');
  console.log('|---|---:|---:|');
  for (const r of rows) {
    const b = r.threads ? `${r.backend}, worker, ${r.threads} thread(s)` : r.backend;
    console.log(r.error ? `| ${b} | ${r.error} | |` : `| ${b} | ${r.train_images_per_sec.toFixed(1)} | ${r.denoise_one_ms.toFixed(2)} |`);
  }
  console.log(JSON.stringify(rows));
} finally {
  await browser.close();
  server.close();
}
