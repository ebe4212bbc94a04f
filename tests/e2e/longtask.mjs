// A benchmark, not a test: how long the page's main thread is held while a
// model trains, and how soon a digit drawn meanwhile gets its verdict.
// Each tab's training run starts in headless Chromium; a PerformanceObserver
// for long tasks (≥ 50 ms) records the main thread's tasks from the click to
// the end of the run. During the Denoise run, a 7 is drawn and the time from
// the pointer's release to the verdict is taken, and the pad's own clock for
// each update (input to painted verdicts) is read, then again with nothing
// training.
// Usage: node tests/e2e/longtask.mjs [dist] [query, e.g. "worker=off"]
import { launchChromium } from './chromium.mjs';
import { serve } from './serve.mjs';
import { DIGITS, ucrCsv, drawStroke } from './fixtures.mjs';

const dist = process.argv[2] || 'dist';
const query = process.argv[3] || '';
const { server, origin } = await serve(dist, 0, { isolate: true });
const browser = await launchChromium();

const observe = () => {
  const w = /** @type {any} */ (window);
  w.aelabLong = [];
  (w.aelabUpdateMs || []).splice(0);
  new PerformanceObserver((l) => { for (const e of l.getEntries()) w.aelabLong.push(e.duration); }).observe({ type: 'longtask' });
};
const summary = (name, long, extra = '') => {
  const max = long.length ? Math.max(...long) : 0;
  const total = long.reduce((a, b) => a + b, 0);
  console.log(`| ${name} | ${long.length} | ${max.toFixed(0)} | ${total.toFixed(0)} |${extra}`);
};

/** @type {[string, number[]][]} */
const updates = [];
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('pageerror', (e) => console.error('page error:', String(e)));
  await page.goto(`${origin}/index.html?backend=flex${query ? `&${query}` : ''}`);
  await page.waitForSelector('body[data-restored="true"]', { timeout: 300_000 });
  console.log(`# ${await page.evaluate(() => navigator.userAgent)}; ${await page.getByTestId('backend').textContent()}; query "${query}"`);
  console.log('| training run | long tasks | longest (ms) | total (ms) | verdict after a stroke (ms) |');
  console.log('|---|---:|---:|---:|---:|');

  // Denoise: 2000 images, 2 epochs, batch 16.
  await page.fill('#train-images', '2000');
  await page.fill('#train-epochs', '2');
  await page.fill('#train-batch', '16');
  await page.evaluate(observe);
  await page.getByTestId('train-start').click();
  await page.waitForFunction(() => document.getElementById('train-progress').value > 0.05, null, { timeout: 600_000 });
  await page.getByTestId('clear').click();
  await drawStroke(page, DIGITS[7][0]);
  // The stroke's end: the verdict is timed from here.
  const released = await page.evaluate(() => performance.now());
  const verdictAt = await page.evaluate(() => new Promise((resolve) => {
    const el = document.getElementById('verdict-denoised');
    const check = () => (el.textContent.trim() !== '–' && document.body.dataset.busy === 'false' ? resolve(performance.now()) : requestAnimationFrame(check));
    check();
  }));
  await page.waitForFunction(() => document.getElementById('train-start').disabled === false, null, { timeout: 600_000 });
  const during = await page.evaluate(() => (window.aelabUpdateMs || []).splice(0));
  summary(`Denoise (2000 images, 2 epochs, batch 16), ${await page.getAttribute('#train-status', 'data-where')}`, await page.evaluate(() => window.aelabLong), ` ${(verdictAt - released).toFixed(0)} |`);
  // The pad's updates (input to painted verdicts, the page's own clock) while
  // the run trained, and for the same strokes with nothing training.
  for (const digit of [1, 7, 0]) {
    await page.getByTestId('clear').click();
    for (const stroke of DIGITS[digit]) await drawStroke(page, stroke);
  }
  await page.waitForFunction(() => document.body.dataset.busy === 'false');
  const idle = await page.evaluate(() => (window.aelabUpdateMs || []).splice(0));
  updates.push(['while the Denoise run trained', during], ['with nothing training', idle]);

  // Augment: 100 examples of 2, 10 epochs.
  await page.click('#tab-augment');
  await page.click('.aug-preset[data-n="100"]');
  await page.fill('#aug-epochs', '10');
  await page.waitForFunction(() => document.querySelectorAll('#aug-examples-grid figure').length > 0, null, { timeout: 300_000 });
  await page.evaluate(observe);
  await page.getByTestId('augment-train').click();
  await page.waitForFunction(() => /^done: a generator/.test(document.getElementById('aug-status').textContent), null, { timeout: 600_000 });
  summary(`Augment (100 examples, 10 epochs), ${await page.getAttribute('#aug-status', 'data-where')}`, await page.evaluate(() => window.aelabLong), ' |');

  // Anomaly: the uploaded UCR-shaped CSV, 30 epochs, cross-validated threshold.
  await page.click('#tab-anomaly');
  await page.getByTestId('anomaly-upload').setInputFiles({ name: 'beats.csv', mimeType: 'text/csv', buffer: Buffer.from(ucrCsv()) });
  await page.waitForFunction(() => /beats\.csv: series/.test(document.getElementById('an-preview-text').textContent));
  await page.fill('#an-epochs', '30');
  await page.evaluate(observe);
  await page.getByTestId('anomaly-train').click();
  await page.waitForFunction(() => /^done: /.test(document.getElementById('an-status').textContent), null, { timeout: 600_000 });
  summary(`Anomaly (80 series, 30 epochs, 5 folds), ${await page.getAttribute('#an-status', 'data-where')}`, await page.evaluate(() => window.aelabLong), ' |');
  console.log('\n| the pad, one update (input to painted verdicts) | updates | median (ms) | 90th percentile (ms) | longest (ms) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [when, ms] of updates) {
    console.log(ms.length ? `| ${when} | ${ms.length} | ${quantile(ms, 0.5).toFixed(2)} | ${quantile(ms, 0.9).toFixed(2)} | ${Math.max(...ms).toFixed(2)} |` : `| ${when} | 0 | | | |`);
  }
} finally {
  await browser.close();
  server.close();
}
