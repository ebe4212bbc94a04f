// Trains the Augment tab's generator in the page (Flex) on 100 examples of
// a 2 for each setting and seed, and prints the training time and the
// diversity panel's FID and recall: how the tab's defaults were chosen
// (docs/performance.md). A measurement, not a test.
// Usage: node tests/e2e/augment-defaults.mjs [dist] [settings, e.g. "16x10,32x20"] [seeds, e.g. "1,2,3"]
import { launchChromium } from './chromium.mjs';
import { serve } from './serve.mjs';

const dist = process.argv[2] || 'dist-release';
const settings = (process.argv[3] || '16x10').split(',').map((s) => s.split('x').map(Number));
const seeds = (process.argv[4] || '1,2,3').split(',');
const { server, origin } = await serve(dist);
const browser = await launchChromium();
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
try {
  console.log('| width | epochs | seed | training (s) | FID | recall |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const [width, epochs] of settings) {
    const got = [];
    for (const seed of seeds) {
      const page = await browser.newPage();
      await page.goto(`${origin}/?backend=flex&tab=augment`);
      await page.waitForFunction(() => document.querySelector('[data-testid=backend]')?.dataset.backend === 'flex', null, { timeout: 120_000 });
      await page.selectOption('#aug-digit', '2');
      await page.fill('#aug-examples', '100');
      await page.selectOption('#aug-latent', '16');
      await page.selectOption('#aug-width', String(width));
      await page.fill('#aug-epochs', String(epochs));
      await page.fill('#aug-seed', seed);
      const t0 = Date.now();
      await page.getByTestId('augment-train').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=augment-grid] figure').length === 100, null, { timeout: 1_800_000 });
      const secs = (Date.now() - t0) / 1000;
      const rows = await page.$$eval('#aug-diversity tbody tr', (trs) => Object.fromEntries(trs.map((tr) => [tr.children[0].textContent, tr.children[1].textContent])));
      const fid = Number(rows['FID (classifier features)']);
      const recall = Number(rows.recall);
      got.push({ secs, fid, recall });
      console.log(`| ${width} | ${epochs} | ${seed} | ${secs.toFixed(1)} | ${fid.toFixed(1)} | ${recall.toFixed(3)} |`);
      await page.close();
    }
    console.log(`| ${width} | ${epochs} | median | ${median(got.map((g) => g.secs)).toFixed(1)} | ${median(got.map((g) => g.fid)).toFixed(1)} | ${median(got.map((g) => g.recall)).toFixed(3)} |`);
  }
} finally {
  await browser.close();
  server.close();
}
