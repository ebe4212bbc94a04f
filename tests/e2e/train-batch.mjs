// Trains the canonical denoiser from scratch in the page at two batch
// sizes (same images, epochs, lr) and prints the page's after-training table.
// Usage: node tests/e2e/train-batch.mjs [dist] [batch sizes, e.g. "64,16"]. A measurement
// for docs/performance.md, not a test: the numbers depend on the host and the seed.
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';
const { server, origin } = await serve(process.argv[2] || 'dist-release');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
try {
  for (const batch of (process.argv[3] || '64,16').split(',')) {
    const page = await browser.newPage();
    await page.goto(`${origin}/?backend=flex`);
    await page.waitForFunction(() => document.querySelector('[data-testid=backend]')?.dataset.backend === 'flex', null, { timeout: 120_000 });
    await page.check('input[name=start][value=scratch]');
    await page.selectOption('#train-kind', 'canonical');
    await page.fill('#train-images', '4000');
    await page.fill('#train-epochs', '2');
    await page.fill('#train-batch', batch);
    await page.fill('#train-lr', '0.002');
    await page.fill('#train-nmin', '0.3');
    await page.fill('#train-nmax', '1');
    const t0 = Date.now();
    await page.getByTestId('train-start').click();
    await page.waitForFunction(() => /^done:/.test(document.getElementById('train-status').textContent), null, { timeout: 900_000 });
    const secs = (Date.now() - t0) / 1000;
    const status = await page.textContent('#train-status');
    const rows = await page.$$eval('#train-compare tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent).join(' | ')));
    console.log(`## batch ${batch}: ${secs.toFixed(1)} s; ${status}`);
    for (const r of rows) console.log(r);
    await page.close();
  }
} finally { await browser.close(); server.close(); }
