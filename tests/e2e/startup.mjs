// Where the time to the first denoise goes: opens the page N times in
// headless Chromium (a fresh context each time, so nothing is cached) and
// prints, per run, when the wasm was fetched and compiled, the weights
// fetched, the models loaded and the first digit denoised, in ms after
// navigation start.
// Usage: node tests/e2e/startup.mjs [dist] [runs] [query, default "backend=flex"]
import { launchChromium } from './chromium.mjs';
import { serve } from './serve.mjs';

const dist = process.argv[2] || 'dist';
const runs = Number(process.argv[3] || 5);
const query = process.argv[4] ?? 'backend=flex';
const { server, origin } = await serve(dist);
const browser = await launchChromium();
const cols = ['wasm fetched', 'wasm ready', 'weights fetched', 'models loaded', 'first denoise'];
console.log(`| run | ${cols.join(' | ')} |`);
console.log(`|---|${cols.map(() => '---:').join('|')}|`);
const firsts = [];
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error('page error:', String(e)));
    await page.goto(`${origin}/index.html?${query}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    const t = await page.evaluate(() => {
      const mark = (n) => performance.getEntriesByName(n)[0]?.startTime ?? NaN;
      const wasm = performance.getEntriesByType('resource').find((r) => r.name.endsWith('aelab_bg.wasm'));
      return [wasm ? wasm.responseEnd : NaN, mark('aelab:wasm-ready'), mark('aelab:weights-fetched'), mark('aelab:models-loaded'), window.aelabFirstDenoiseMs];
    });
    firsts.push(t[4]);
    console.log(`| ${i + 1} | ${t.map((x) => x.toFixed(0)).join(' | ')} |`);
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}
firsts.sort((a, b) => a - b);
console.log(`# first denoise: median ${firsts[firsts.length >> 1].toFixed(0)} ms, ${firsts[0].toFixed(0)}–${firsts[firsts.length - 1].toFixed(0)} ms over ${runs} runs`);
