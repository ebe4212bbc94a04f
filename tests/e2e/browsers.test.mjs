// The page beyond Chromium: the same built page as e2e.mjs, in Firefox ESR
// and WebKitGTK (browsers.mjs drives both), drawing digits to denoise and
// uploading a series to train on. Run by scripts/test-web.sh after e2e.mjs;
// AELAB_BROWSERS="firefox" (or "webkit", or "") picks which.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BROWSERS, launch } from './browsers.mjs';
import { DIGITS, ucrCsv } from './fixtures.mjs';
import { serve } from './serve.mjs';

const DIST = process.env.AELAB_DIST || 'dist';
const WANTED = process.env.AELAB_BROWSERS === undefined ? BROWSERS : process.env.AELAB_BROWSERS.split(/[ ,]+/).filter(Boolean);
for (const w of WANTED) if (!BROWSERS.includes(w)) throw new Error(`AELAB_BROWSERS: no browser "${w}" (there are ${BROWSERS.join(', ')})`);

let server, origin;
before(async () => { ({ server, origin } = await serve(DIST)); });
after(() => server?.close());

/** Rust's debug output, which must never reach the page: `Kind { field: … }`, a panic. */
const DEBUG_TEXT = /\b[A-Z]\w+ \{ \w+: |panicked at|RUST_BACKTRACE|called `\w+::unwrap\(\)`/;

for (const name of WANTED) {
  describe(name, () => {
    /** @type {import('./browsers.mjs').Driver} */
    let b;
    before(async () => {
      b = await launch(/** @type {'firefox' | 'webkit'} */ (name));
      console.log(`# ${b.name}`);
    });
    after(async () => { await b?.close(); });

    const ready = () => b.waitFor(() => document.body.dataset.ready === 'true' && document.body.dataset.restored === 'true', [], 300_000);
    const idle = () => b.waitFor(() => document.body.dataset.busy === 'false');
    const text = (id) => b.eval((i) => document.getElementById(i).textContent.trim(), id);

    test('drawn digits are denoised and recognised, and the messages are plain words', async () => {
      await b.goto(`${origin}/index.html`);
      await ready();
      const pill = await text('backend');
      const banner = await b.eval(() => { const el = document.getElementById('banner'); return el.hidden ? '' : el.textContent; });
      const title = await b.eval(() => document.getElementById('backend').title);
      console.log(`# ${b.name}: backend "${pill}"${banner ? `, banner "${banner}"` : ''}`);
      for (const t of [pill, banner, title]) assert.doesNotMatch(t, DEBUG_TEXT, `no Rust debug text: "${t}"`);
      assert.match(pill, /^(WebGPU|CPU · Flex · [1-9]\d* threads?)$/, 'the pill names the backend and its threads');
      for (const [digit, strokes] of Object.entries(DIGITS)) {
        await b.click('#clear');
        await idle();
        assert.equal(await text('verdict-denoised'), '–', 'Clear empties the verdicts');
        for (const s of strokes) await b.stroke('#pad', s, 280);
        await b.waitFor(() => document.getElementById('verdict-denoised').textContent.trim() !== '–');
        await idle();
        const v = await text('verdict-denoised');
        console.log(`# ${b.name}: drew ${digit}, denoised "${v}"`);
        assert.ok(v.startsWith(digit), `drew ${digit}, the denoised verdict is "${v}"`);
      }
      // Auto's measurement, in words too.
      await b.waitFor(() => document.getElementById('backend').dataset.measured === 'true', [], 300_000);
      const measured = await b.eval(() => document.getElementById('backend').title);
      console.log(`# ${b.name}: ${measured}`);
      assert.match(measured, /^[^{}]*Measured in this browser \(canonical denoiser, batch 16\): CPU \d+ images\/s on \d+ threads?, [\d.]+ ms a digit; (WebGPU \d+ images\/s|WebGPU: none here\. [^{}]+)/);
      assert.doesNotMatch(measured, DEBUG_TEXT);
    });

    test('the Anomaly tab takes an uploaded CSV, trains on it in the compute worker, and scores it', async () => {
      await b.goto(`${origin}/index.html?backend=flex&tab=anomaly`);
      await ready();
      await b.upload('#an-file', 'bad.csv', '1,2,3,4,5,6,7,8,9\n1,2,NaN,4,5,6,7,8,9\n');
      await b.waitFor(() => /line 2, column 3: the value is NaN/.test(document.getElementById('an-error').textContent));
      await b.upload('#an-file', 'beats.csv', ucrCsv());
      await b.waitFor(() => /beats\.csv: series of 24 points/.test(document.getElementById('an-preview-text').textContent));
      assert.equal(await text('an-error'), '');
      await b.eval(() => {
        for (const [id, v] of [['an-epochs', '30'], ['an-latent', '4']]) {
          const el = /** @type {HTMLInputElement} */ (document.getElementById(id));
          el.value = v;
          el.dispatchEvent(new Event('change', { bubbles: true }));
        }
      });
      await b.click('#an-train');
      // A click can be lost when the page moves under it (the note on the
      // measured backends appears while the test runs): if Train did not
      // start within 15 s, click it once more, and say so.
      try {
        await b.waitFor(() => document.getElementById('an-status').textContent !== '', [], 15_000);
      } catch {
        console.log(`# ${b.name}: the click on Train did not start it; clicking again`);
        await b.click('#an-train');
      }
      const auroc = Number(await b.waitFor(() => {
        const t = document.getElementById('an-auroc').textContent;
        return /^\d\.\d{4}$/.test(t) && t;
      }, [], 300_000));
      console.log(`# ${b.name}: anomaly, uploaded CSV, dense (latent 4), 30 epochs: AUROC ${auroc}`);
      assert.ok(auroc > 0.5 && auroc <= 1, `AUROC ${auroc}`);
      assert.equal(await b.eval(() => document.getElementById('an-status').dataset.where), 'worker', 'it trained in the compute worker');
      assert.match(await text('an-status'), /^done: dense autoencoder \(latent 4, depth 3, 30 epochs\)\.$/);
      // The model came back to the page: a drawn series is scored.
      await b.waitFor(() => /^error \d\.\d{4} (≤|>) threshold \d\.\d{4}/.test(document.getElementById('an-beat-error').textContent));
    });
  });
}
