// End-to-end test of the built page (dist/) in headless Debian Chromium,
// driven by playwright-core: real pointer events on the draw pad, the
// verdicts shown, backends, bad files, training and cancelling.
// Run by scripts/test-web.sh after `scripts/build-web.sh`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium } from './chromium.mjs';
import { serve } from './serve.mjs';
import { singleFile } from '../../scripts/single-file.mjs';
import { DIGITS, ucrCsv, drawStroke } from './fixtures.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';

const DIST = process.env.AELAB_DIST || 'dist';
let browser, server, origin;
const foreign = [];
const cspViolations = [];

before(async () => {
  ({ server, origin } = await serve(DIST));
  browser = await launchChromium();
});
after(async () => { await browser?.close(); server?.close(); });

async function open(query = '', pageOptions = { viewport: { width: 1200, height: 900 } }) {
  const page = await browser.newPage(pageOptions);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (/Content Security Policy/.test(m.text())) cspViolations.push(m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) foreign.push(r.url()); });
  await page.addInitScript(countWasmOnPage);
  await page.goto(`${origin}/index.html${query}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  const ms = await page.evaluate(() => window.aelabFirstDenoiseMs);
  console.log(`# first denoise ${ms.toFixed(0)} ms after navigation start (${query || 'default backend'})`);
  return { page, errors };
}

// Counts the wasm modules the page's own thread compiles or instantiates
// (window.aelabWasmOnPage): served over http, the lab's session and the
// compute run in workers, and this thread only handles the DOM.
function countWasmOnPage() {
  window.aelabWasmOnPage = 0;
  for (const name of ['instantiate', 'instantiateStreaming', 'compile', 'compileStreaming']) {
    const f = WebAssembly[name];
    WebAssembly[name] = function (...args) { window.aelabWasmOnPage += 1; return f.apply(this, args); };
  }
  const M = WebAssembly.Module;
  WebAssembly.Module = function (...args) { window.aelabWasmOnPage += 1; return new M(...args); };
}

/** The pixels of a canvas, to tell two drawings apart. */
const pixelsOf = (page, id) => page.evaluate((i) => {
  const c = document.getElementById(i);
  return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join(',');
}, id);

async function ready(page) {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  await page.waitForSelector('body[data-restored="true"]', { timeout: 300_000 });
}

async function idle(page) {
  await page.waitForFunction(() => document.body.dataset.busy === 'false', null, { timeout: 120_000 });
}

async function verdictOf(page, id) {
  await idle(page);
  return (await page.getByTestId(id).textContent()).trim();
}

test('drawn digits are recognised after denoising (CPU backend)', async () => {
  const { page, errors } = await open('?backend=flex');
  assert.match(await page.getByTestId('backend').textContent(), /Flex/);
  await page.getByRole('button', { name: '0.5', exact: true }).click();
  assert.equal(await page.getByTestId('noise-factor').inputValue(), '0.5');
  for (const [digit, strokes] of Object.entries(DIGITS)) {
    await page.getByTestId('clear').click();
    assert.equal(await verdictOf(page, 'verdict-denoised'), '–', 'Clear empties the verdicts');
    for (const s of strokes) await drawStroke(page, s);
    const v = await verdictOf(page, 'verdict-denoised');
    const n = await verdictOf(page, 'verdict-noisy');
    console.log(`# drew ${digit}: noisy "${n}", denoised "${v}"`);
    assert.ok(v.startsWith(digit), `drew ${digit}, the denoised verdict is "${v}"`);
  }
  // The lab's session runs in the lab worker: the page's thread never
  // started the wasm module.
  assert.equal(await page.evaluate(() => window.aelabTest.labWhere()), 'worker');
  assert.equal(await page.evaluate(() => window.aelabWasmOnPage), 0, 'the main thread instantiated no wasm module');
  // The slider is keyboard-operable and moves the noise level.
  await page.getByTestId('noise-factor').focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByTestId('noise-factor').inputValue(), '0.51');
  assert.deepEqual(errors, []);
  await page.close();
});

test('presentation mode shows a large pad and large results in high contrast, still denoises what is drawn on it, and Esc leaves it', async () => {
  const { page, errors } = await open('?backend=flex');
  const pad = page.getByTestId('draw-pad');
  const small = await pad.boundingBox();
  await page.getByTestId('present').click();
  assert.equal(await page.getByTestId('present').getAttribute('aria-pressed'), 'true');
  const big = await pad.boundingBox();
  assert.ok(big.width >= 1.7 * small.width, `the pad grows (${small.width} → ${big.width} px)`);
  // The pad, its Clear button and the three results are all on the screen.
  const onScreen = await page.evaluate(() => ['pad', 'clear', 'img-input', 'img-denoised', 'verdict-denoised'].filter((id) => {
    const r = document.getElementById(id).getBoundingClientRect();
    return r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth;
  }));
  assert.deepEqual(onScreen, [], 'nothing of the pad and its results is off the screen');
  const look = await page.evaluate(() => ({
    verdict: parseFloat(getComputedStyle(document.getElementById('verdict-denoised')).fontSize),
    image: document.getElementById('img-denoised').getBoundingClientRect().width,
    ink: getComputedStyle(document.body).color,
    card: getComputedStyle(document.querySelector('.card')).backgroundColor,
  }));
  assert.ok(look.verdict >= 32, `verdicts are large (${look.verdict} px)`);
  assert.ok(look.image >= 150, `the denoised digit is large (${look.image} px, 140 outside presentation mode)`);
  assert.deepEqual([look.ink, look.card], ['rgb(0, 0, 0)', 'rgb(255, 255, 255)'], 'black on white');
  // The pad maps the larger strokes onto its 28×28 input as before.
  await page.getByTestId('clear').click();
  await drawStroke(page, DIGITS[7][0]);
  const v = await verdictOf(page, 'verdict-denoised');
  assert.ok(v.startsWith('7'), `a 7 drawn on the large pad is denoised as "${v}"`);
  await page.keyboard.press('Escape');
  assert.equal(await page.getByTestId('present').getAttribute('aria-pressed'), 'false');
  assert.equal((await pad.boundingBox()).width, small.width, 'Esc brings the page back');
  // `?present` opens in it, for a lecture's bookmark.
  await page.goto(`${origin}/index.html?backend=flex&present`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  assert.equal(await page.getByTestId('present').getAttribute('aria-pressed'), 'true');
  assert.deepEqual(errors, []);
  await page.close();
});

test("charts are drawn at the width they are shown at: full size on a laptop, the screen's width on a phone", async () => {
  const shown = (page) => page.$eval('#an-preview', (c) => ({ width: c.width, height: c.height, client: c.clientWidth }));
  const load = async (page) => {
    await page.click('#tab-anomaly');
    await page.click('#an-machine');
    await page.waitForFunction(() => /generated machine signal/.test(document.getElementById('an-preview-text').textContent));
    // The core draws the chart in the lab worker; the page paints it.
    await page.waitForFunction(() => Number(document.getElementById('an-preview').dataset.painted) > 0);
  };
  const wide = await open('?backend=flex');
  await load(wide.page);
  assert.deepEqual(await shown(wide.page), { width: 900, height: 220, client: 900 }, 'the full size of index.html');
  await wide.page.close();
  const { page: phone, errors } = await open('?backend=flex', { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await load(phone);
  // Nothing makes the page wider than the phone's screen, in any tab.
  for (const tab of ['#tab-anomaly', '#tab-augment', '#tab-denoise']) {
    await phone.click(tab);
    assert.equal(await phone.evaluate(() => document.documentElement.scrollWidth), 360, `the ${tab.slice(5)} tab fits the screen`);
  }
  await phone.click('#tab-anomaly');
  const p = await shown(phone);
  assert.ok(p.width < 360 && p.width >= 250, `drawn at the phone's width (${p.width} px)`);
  assert.equal(p.client, p.width, 'not scaled down by CSS, so its text keeps its size');
  assert.ok(p.height >= 0.75 * 220 - 1, `and tall enough to read (${p.height} px)`);
  assert.deepEqual(errors, []);
  await phone.close();
});

test('a test digit can be picked and the report figure drawn', async () => {
  const { page, errors } = await open('?backend=flex');
  await page.waitForFunction(() => /test digits/.test(document.getElementById('pick-note').textContent), null, { timeout: 60_000 });
  await page.fill('#pick-index', '0');
  await page.click('#pick-show');
  await page.waitForFunction(() => /labelled 7/.test(document.getElementById('pick-note').textContent));
  assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('7'));
  await page.selectOption('#report-n', '500');
  await page.click('#report-make');
  await page.waitForSelector('#report-table table', { timeout: 300_000 });
  const rows = await page.$$eval('#report-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.equal(rows.length, 3);
  assert.deepEqual(rows.map((r) => r[0]), ['0.5', '0.7', '0.9']);
  for (const r of rows) assert.ok(Number(r[2]) > Number(r[1]), `denoising raises PSNR at f=${r[0]}`);
  const size = await page.$eval('#report-canvas', (c) => [c.width, c.height]);
  assert.ok(size[0] > 900 && size[1] > 600, `figure size ${size}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a wrong weights file gets a clear message and the model stays', async () => {
  const { page } = await open('?backend=flex');
  await page.setInputFiles('#model-file', { name: 'junk.aelab', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a model') });
  await page.waitForFunction(() => /Could not load junk\.aelab/.test(document.getElementById('model-msg').textContent));
  assert.match(await page.textContent('#model-msg'), /not an aelab weights file|current model stays/);
  await page.setInputFiles('#model-file', { name: 'empty.aelab', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) });
  await page.waitForFunction(() => /empty/.test(document.getElementById('model-msg').textContent));
  await page.getByTestId('clear').click();
  await drawStroke(page, DIGITS[1][0]);
  assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('1'));
  await page.close();
});

test('training in the compute worker runs, reports progress, denoises the pad meanwhile, can be cancelled, survives a lost worker, and replaces the model', async () => {
  const { page, errors } = await open('?backend=flex');
  await page.fill('#train-images', '300');
  await page.fill('#train-epochs', '1');
  await page.fill('#train-batch', '32');
  await page.getByTestId('train-start').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=train-progress]').value > 0, null, { timeout: 300_000 });
  await page.waitForFunction(() => /^done:/.test(document.getElementById('train-status').textContent), null, { timeout: 600_000 });
  const rows = await page.$$eval('#train-compare tbody tr', (trs) => trs.map((tr) => tr.children[0].textContent));
  assert.deepEqual(rows, ['before', 'before', 'before', 'after', 'after', 'after']);
  assert.match(await page.textContent('#model-info'), /trained in this browser/);
  // Served over http, the run trains in the compute worker; this server
  // sends no COOP/COEP (and this fresh context has no service worker to add
  // them), so on one thread, and the pill says why.
  assert.equal(await page.getAttribute('#train-status', 'data-where'), 'worker');
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
  const pill = page.getByTestId('backend');
  assert.equal(await pill.textContent(), 'CPU · Flex · 1 thread');
  assert.match(await pill.getAttribute('title'), /not cross-origin isolated, so the CPU trains on one thread/);
  assert.equal(await page.getByTestId('denoise-source').getAttribute('data-preview'), 'false');
  // A longer run: while it trains, the pad denoises a drawn digit with the
  // run's latest checkpoint; cancelled, the trained model stays.
  await page.fill('#train-images', '20000');
  await page.getByTestId('train-start').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=denoise-source]').dataset.preview === 'true', null, { timeout: 300_000 });
  assert.match(await page.getByTestId('denoise-source').textContent(), /^Denoised by the model being trained \((epoch \d+, step \d+|after epoch \d+)\)/);
  await page.getByTestId('clear').click();
  await drawStroke(page, DIGITS[1][0]);
  assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('1'), 'a digit drawn during training is denoised and judged');
  // The next checkpoint denoises the same digit again, differently.
  const first = { source: await page.textContent('#denoise-source'), pixels: await pixelsOf(page, 'img-denoised') };
  await page.waitForFunction((was) => document.getElementById('denoise-source').textContent !== was, first.source, { timeout: 300_000 });
  await idle(page);
  assert.notEqual(await pixelsOf(page, 'img-denoised'), first.pixels, 'a new checkpoint changes the denoised digit');
  assert.match(await verdictOf(page, 'verdict-denoised'), /^\d \(\d+%\)$/);
  assert.match(await page.textContent('#train-status'), /^epoch 1\/1 · step \d+/, 'the run is still going');
  // A click on a tab is answered meanwhile.
  await page.click('#tab-augment');
  await page.waitForSelector('#lab-augment:not([hidden])', { timeout: 10_000 });
  await page.click('#tab-denoise');
  await page.waitForSelector('#lab-denoise:not([hidden])', { timeout: 10_000 });
  assert.equal(await page.getByTestId('train-cancel').isEnabled(), true);
  await page.getByTestId('train-cancel').click();
  await page.waitForFunction(() => /cancelled/.test(document.getElementById('train-status').textContent), null, { timeout: 120_000 });
  assert.equal(await page.getByTestId('train-start').isEnabled(), true);
  assert.match(await page.textContent('#model-info'), /trained in this browser/);
  assert.equal(await page.getByTestId('denoise-source').getAttribute('data-preview'), 'false', 'the preview ends with the run');
  // The worker stops mid-run: the run's last checkpoint becomes the model,
  // and the next run gets a new worker.
  await page.getByTestId('train-start').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=denoise-source]').dataset.preview === 'true', null, { timeout: 300_000 });
  assert.equal(await page.evaluate(() => window.aelabTest.killWorker()), true);
  await page.waitForFunction(() => /compute worker stopped during training; aelab kept the model as trained up to/.test(document.getElementById('train-status').textContent), null, { timeout: 60_000 });
  assert.match(await page.textContent('#model-info'), /\(checkpoint at epoch \d+, step \d+\)/);
  assert.equal(await page.getByTestId('train-start').isEnabled(), true);
  await page.fill('#train-images', '300');
  await page.getByTestId('train-start').click();
  await page.waitForFunction(() => /^done:/.test(document.getElementById('train-status').textContent), null, { timeout: 600_000 });
  assert.equal(await page.evaluate(() => window.aelabWasmOnPage), 0, 'the main thread instantiated no wasm module');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a model designed in the Denoise tab: the filters changed in three actions and trained, a layer added, the summary and the code view follow, a mistake is named, and the design travels in a link and a reload', async () => {
  const { page, errors } = await open('?backend=flex');
  await page.fill('#train-images', '200');
  await page.fill('#train-epochs', '1');
  await page.fill('#train-batch', '32');
  const d = page.locator('#denoise-designer');
  const total = () => d.getByTestId('designer-summary').locator('tr').last().textContent();
  // 1: open the designer (it starts from the form's preset, the canonical model).
  await d.locator('summary').first().click();
  await page.waitForFunction(() => /28,353/.test(document.querySelector('#denoise-designer [data-testid=designer-summary]')?.textContent), null, { timeout: 60_000 });
  assert.equal(await d.getByTestId('designer-layer').count(), 9);
  // 2: change the first layer's filters (typed, then Tab); the summary follows.
  await d.getByLabel('layer 1 filters').fill('8');
  await d.getByLabel('layer 1 filters').press('Tab');
  await page.waitForFunction(() => /21,201/.test(document.querySelector('#denoise-designer [data-testid=designer-summary]')?.textContent), null, { timeout: 30_000 });
  assert.match(await d.textContent('.designer-note'), /training uses your design/);
  // 3: start training. The design trains from scratch.
  await page.getByTestId('train-start').click();
  await page.waitForFunction(() => /^done:/.test(document.getElementById('train-status').textContent), null, { timeout: 600_000 });
  assert.match(await page.textContent('#model-info'), /Canonical denoiser \(9 layers, 21,201 parameters\), trained in this browser/);
  // The run table has the run: the design, its settings and metrics, the
  // command that trains it again and the hash of its weights.
  const runs = page.locator('#denoise-runs');
  await runs.getByTestId('runs-table').waitFor({ timeout: 60_000 });
  const row = runs.locator('tr.runs-row');
  assert.equal(await row.count(), 1);
  const rowText = await row.textContent();
  assert.match(rowText, /Canonical denoiser \(21,201 parameters\)/);
  assert.match(rowText, /200 images, f ~ U\[0\.3, 1\], 1 epoch, batch 32/);
  assert.match(rowText, /PSNR f=0\.5 \(dB\) \d+\.\d/);
  const command = await runs.locator('.runs-command').textContent();
  assert.match(command, /^aelab denoise train --model canonical-denoiser\.json --epochs 1 --batch-size 32 --lr 0\.001 --seed \d+ --limit 200 --noise-min 0\.3 --noise-max 1 --out aelab-denoiser\.aelab$/);
  const [w] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Weights' }).click()]);
  const sha = createHash('sha256').update(fs.readFileSync(await w.path())).digest('hex');
  assert.equal(await row.locator('code[title]').getAttribute('title'), sha);
  const [sp] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Spec' }).click()]);
  assert.equal(sp.suggestedFilename(), 'canonical-denoiser.json');
  assert.equal(JSON.parse(fs.readFileSync(await sp.path(), 'utf8')).layers[0].filters, 8);
  const [csv] = await Promise.all([page.waitForEvent('download'), runs.getByTestId('runs-csv').click()]);
  const csvText = fs.readFileSync(await csv.path(), 'utf8');
  assert.match(csvText, /^lab,started,seconds,model,parameters,settings,PSNR f=0\.5 \(dB\),PSNR f=0\.7 \(dB\),PSNR f=0\.9 \(dB\),accuracy f=0\.5,/);
  assert.ok(csvText.includes(`,${sha},aelab denoise train --model canonical-denoiser.json`));
  // Add a layer: one more row, and the parameters of a 32-filter 3×3 convolution.
  await d.getByTestId('designer-add-layer').click();
  await page.waitForFunction(() => /30,449/.test(document.querySelector('#denoise-designer [data-testid=designer-summary]')?.textContent), null, { timeout: 30_000 });
  assert.equal(await d.getByTestId('designer-layer').count(), 10);
  assert.match(await total(), /30,449/);
  // The code view: the layers in burn and in Keras.
  await d.getByTestId('designer-code').locator('summary').click();
  await page.waitForFunction(() => /Conv2dConfig::new\(\[1, 8\], \[3, 3\]\)/.test(document.querySelector('#denoise-designer [data-testid=designer-code-text]')?.textContent), null, { timeout: 30_000 });
  const rust = await d.getByTestId('designer-code-text').textContent();
  assert.match(rust, /^\/\/ Generated by aelab/);
  assert.equal((rust.match(/Conv2dConfig::new/g) || []).length, 6);
  await d.getByRole('button', { name: 'Keras 3' }).click();
  await page.waitForFunction(() => /layers\.Conv2D\(8, 3, padding="same", activation="relu"\)/.test(document.querySelector('#denoise-designer [data-testid=designer-code-text]')?.textContent), null, { timeout: 30_000 });
  // A mistake is named, with its layer marked; undone, it goes.
  await d.getByLabel('layer 10 filters').fill('2');
  await d.getByLabel('layer 10 filters').press('Tab');
  await page.waitForFunction(() => /layer 10 \(Conv2d\) gives 28×28×2 but the decoder must end at 28×28×1/.test(document.querySelector('#denoise-designer [data-testid=designer-error]')?.textContent), null, { timeout: 30_000 });
  assert.equal(await d.locator('li.bad').count(), 1);
  assert.match(await d.textContent('.designer-note'), /has a problem/);
  await d.getByLabel('layer 10 filters').fill('1');
  await d.getByLabel('layer 10 filters').press('Tab');
  await page.waitForFunction(() => document.querySelector('#denoise-designer [data-testid=designer-error]')?.textContent === '', null, { timeout: 30_000 });
  // The link holds the design: another page opens it in its designer.
  await d.getByTestId('designer-share').click();
  const link = await d.getByTestId('designer-link').inputValue();
  assert.match(link, /#design=denoise\.[\w-]+$/);
  const table = await d.getByTestId('designer-summary').textContent();
  const other = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await other.goto(link);
  await ready(other);
  const d2 = other.locator('#denoise-designer');
  await other.waitForFunction(() => /30,449/.test(document.querySelector('#denoise-designer [data-testid=designer-summary]')?.textContent), null, { timeout: 60_000 });
  assert.equal(await d2.getByTestId('designer-summary').textContent(), table);
  assert.equal(await d2.getByTestId('designer-layer').count(), 10);
  await other.close();
  // A reload keeps the design, still the one that trains.
  await page.reload();
  await ready(page);
  await page.waitForFunction(() => /training uses your design/.test(document.querySelector('#denoise-designer .designer-note')?.textContent), null, { timeout: 60_000 });
  // The run stays in its table, and its model comes back from its row.
  assert.equal(await runs.locator('tr.runs-row').count(), 1);
  await page.click('#model-reset');
  await page.waitForFunction(() => /pre-trained/.test(document.getElementById('model-info').textContent), null, { timeout: 60_000 });
  await runs.getByRole('button', { name: 'Use this model' }).click();
  await page.waitForFunction(() => /21,201 parameters/.test(document.getElementById('model-info').textContent), null, { timeout: 60_000 });
  assert.match(await runs.locator('.runs-msg').textContent(), /is now the current denoiser/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('see inside: the feature maps of the drawn digit, layer by layer down to the code and back up, follow the pad live', async () => {
  const { page, errors } = await open('?backend=flex');
  const view = page.getByTestId('inside-view');
  await view.locator('summary').click();
  // The shipped skip denoiser: three encoder layers, the 7×7×64 code, ten decoder layers.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=inside-layer]').length === 14, null, { timeout: 60_000 });
  assert.equal(await view.getByTestId('inside-encoder').getByTestId('inside-layer').count(), 3);
  assert.equal(await view.getByTestId('inside-decoder').getByTestId('inside-layer').count(), 10);
  assert.match(await view.getByTestId('inside-code').textContent(), /4 · MaxPool · 7×7×64/);
  assert.equal(await view.locator('canvas').count(), 32 * 13 + 1); // at most 32 channels a layer
  assert.match(await view.locator('.inside-caption').textContent(), /Skip denoiser, on the noisy digit \(f = 0\.50\)/);
  // What the code's maps hold, as painted.
  const codePixels = () => page.evaluate(() => [...document.querySelectorAll('[data-testid=inside-code] canvas')]
    .map((c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)).join(',')).join(';'));
  const before = await codePixels();
  assert.ok(/[1-9]/.test(before), 'the code is not all black');
  // Another digit on the pad: the maps follow, live.
  await page.click('#clear');
  await drawStroke(page, DIGITS[1][0]);
  await page.waitForFunction((b) => {
    const now = [...document.querySelectorAll('[data-testid=inside-code] canvas')]
      .map((c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)).join(',')).join(';');
    return now !== b;
  }, before, { timeout: 60_000 });
  await page.getByRole('button', { name: '0.9', exact: true }).click();
  await page.waitForFunction(() => /f = 0\.90/.test(document.querySelector('#denoise-inside .inside-caption')?.textContent), null, { timeout: 60_000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test('the skip denoiser rebuilt layer by layer in the designer is the preset (JSON-equal)', async () => {
  const { page, errors } = await open('?backend=flex');
  const d = page.locator('#denoise-designer');
  const label = (text) => d.getByLabel(text, { exact: true });
  const set = async (text, value) => { await label(text).fill(value); await label(text).press('Tab'); };
  await d.locator('summary').first().click();
  await d.getByTestId('designer-layer').first().waitFor({ timeout: 60_000 });
  // Empty the list, then add fourteen layers and make each one.
  while (await d.getByTestId('designer-layer').count()) await d.getByRole('button', { name: 'remove layer 1', exact: true }).click();
  for (let i = 0; i < 14; i++) await d.getByTestId('designer-add-layer').click();
  const layers = [
    ['conv2d', { name: 'e1', filters: '32' }], ['max_pool', {}], ['conv2d', { name: 'e2', filters: '64' }], ['max_pool', {}],
    ['conv2d', { filters: '64' }], ['conv2d', { filters: '64' }], ['conv2d', { filters: '64' }], ['conv2d', { filters: '64' }],
    ['upsample', {}], ['skip', { from: 'e2' }], ['conv2d', { filters: '32' }], ['upsample', {}], ['skip', { from: 'e1' }],
    ['conv2d', { filters: '1', activation: 'linear' }],
  ];
  for (const [k, [type, fields]] of layers.entries()) {
    const n = k + 1;
    await label(`layer ${n} type`).selectOption(type);
    for (const [f, v] of Object.entries(fields)) {
      if (f === 'activation') await label(`layer ${n} activation`).selectOption(v);
      else await set(`layer ${n} ${f}`, v);
    }
  }
  await set('Model name', 'Skip denoiser');
  await page.waitForFunction(() => /185,281/.test(document.querySelector('#denoise-designer [data-testid=designer-summary]')?.textContent), null, { timeout: 30_000 });
  assert.equal(await d.getByTestId('designer-error').textContent(), '');
  const [dl] = await Promise.all([page.waitForEvent('download'), d.getByTestId('designer-save').click()]);
  const saved = JSON.parse(fs.readFileSync(await dl.path(), 'utf8'));
  const preset = JSON.parse(fs.readFileSync(new URL('../../assets/specs/denoiser-skip.json', import.meta.url), 'utf8'));
  assert.deepStrictEqual(saved, preset);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a lab worker that stops is started again with the models and the data, and the pad denoises again', async () => {
  const { page, errors } = await open('?backend=flex');
  await page.getByTestId('clear').click();
  await drawStroke(page, DIGITS[7][0]);
  assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('7'));
  assert.equal(await page.evaluate(() => window.aelabTest.killLabWorker()), true);
  await page.waitForFunction(() => /lab worker stopped \(killed by the test\); aelab started it again, with your models and data/.test(document.getElementById('banner').textContent), null, { timeout: 120_000 });
  await page.getByTestId('clear').click();
  await drawStroke(page, DIGITS[1][0]);
  assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('1'), 'the new worker denoises');
  assert.equal(await page.evaluate(() => window.aelabTest.labWhere()), 'worker');
  assert.deepEqual(errors, []);
  await page.close();
});

test('in a cross-origin-isolated page the compute worker trains on the threaded CPU module, a thread per core', async () => {
  // (Without isolation it trains on one thread: the test above.)
  const train = async (page) => {
    await page.fill('#train-images', '200');
    await page.fill('#train-epochs', '1');
    await page.fill('#train-batch', '32');
    await page.getByTestId('train-start').click();
    await page.waitForFunction(() => /^done:/.test(document.getElementById('train-status').textContent), null, { timeout: 600_000 });
    assert.equal(await page.getAttribute('#train-status', 'data-where'), 'worker');
    const rows = await page.$$eval('#train-compare tbody tr', (trs) => trs.map((tr) => tr.children[0].textContent));
    assert.deepEqual(rows, ['before', 'before', 'before', 'after', 'after', 'after']);
    const pill = page.getByTestId('backend');
    return { threads: Number(await pill.getAttribute('data-threads')), text: await pill.textContent(), title: await pill.getAttribute('title') };
  };
  // scripts/serve.sh serves like this (COOP/COEP).
  const iso = await serve(DIST, 0, { isolate: true });
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(`${iso.origin}/index.html?backend=flex`);
    await ready(page);
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const got = await train(page);
    assert.equal(got.threads, Math.min(cores, 16), `the pool has a thread per core (${got.text})`);
    assert.ok(got.threads >= 2 || cores < 2, 'the threaded module computes on 2 or more threads');
    assert.match(got.text, new RegExp(`^CPU · Flex · ${got.threads} threads?$`));
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    iso.server.close();
  }
});

test('Auto starts on the CPU, times WebGPU against it in the compute worker, and takes the faster; the user can override it', async () => {
  const { page, errors } = await open('');
  const pill = page.getByTestId('backend');
  assert.equal(await pill.getAttribute('data-backend'), 'flex', 'the first verdict comes from the CPU');
  assert.equal(await pill.getAttribute('data-module'), 'cpu', 'the page starts on the CPU-only module');
  await page.getByTestId('clear').click();
  await drawStroke(page, DIGITS[7][0]);
  assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('7'));
  // The measurement runs in the background, once: both figures, in words.
  await page.waitForFunction(() => document.querySelector('[data-testid=backend]').dataset.measured === 'true', null, { timeout: 300_000 });
  const title = await pill.getAttribute('title');
  console.log(`# auto: ${title}`);
  const m = /CPU (\d+) images\/s on (\d+) threads?, ([\d.]+) ms a digit; WebGPU (\d+) images\/s, ([\d.]+) ms a digit\. Auto trains on (WebGPU|the CPU) and denoises on (WebGPU|the CPU)/.exec(title);
  assert.ok(m, 'the pill says what was measured and what Auto does with it');
  const [cpuTrain, gpuTrain, cpuOne, gpuOne] = [m[1], m[4], m[3], m[5]].map(Number);
  assert.equal(m[6], gpuTrain > cpuTrain ? 'WebGPU' : 'the CPU', 'training takes the faster');
  assert.equal(m[7], gpuOne < cpuOne ? 'WebGPU' : 'the CPU', 'the pad takes the faster');
  assert.equal(await pill.getAttribute('data-backend'), gpuOne < cpuOne ? 'webgpu' : 'flex');
  // The user overrides it: WebGPU, then the CPU. WebGPU moves the lab to
  // the module with WebGPU, with the drawn digit and the models.
  await page.selectOption('#backend-select', 'webgpu');
  await page.waitForFunction(() => document.querySelector('[data-testid=backend]').dataset.backend === 'webgpu');
  assert.equal(await pill.getAttribute('data-module'), 'webgpu');
  assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('7'));
  await page.selectOption('#backend-select', 'flex');
  await page.waitForFunction(() => document.querySelector('[data-testid=backend]').dataset.backend === 'flex');
  assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('7'));
  // The page offers the backends its build has: Auto, WebGPU and Flex.
  // NdArray, 16x slower than Flex in wasm, is left out of the page's download.
  assert.deepEqual(await page.$$eval('#backend-select option', (os) => os.map((o) => o.value)), ['auto', 'webgpu', 'flex']);
  // Kept figures that say WebGPU denoises sooner: the next visit starts on
  // the CPU all the same, then moves the pad to WebGPU without measuring again.
  await page.selectOption('#backend-select', 'auto');
  await page.evaluate(() => new Promise((ok, fail) => {
    const r = indexedDB.open('aelab', 1);
    r.onerror = () => fail(r.error);
    r.onsuccess = () => {
      const tx = r.result.transaction('work', 'readwrite');
      const st = tx.objectStore('work');
      const get = st.get('measured-backends');
      get.onsuccess = () => {
        const m = get.result;
        m.gpu = { train_images_per_sec: 1e6, denoise_one_ms: 0.01 };
        st.put(m, 'measured-backends');
      };
      tx.oncomplete = () => ok(undefined);
      tx.onerror = () => fail(tx.error);
    };
  }));
  await page.waitForTimeout(500); // the settings are saved 200 ms after a change
  await page.reload();
  await page.waitForSelector('[data-testid=backend][data-measured="true"]', { timeout: 120_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=backend]').dataset.backend === 'webgpu');
  assert.match(await page.textContent('#banner'), /WebGPU measured faster here, so the pad now denoises on it/);
  assert.match(await pill.getAttribute('title'), /WebGPU 1000000 images\/s.*Auto trains on WebGPU and denoises on WebGPU.*Each model is timed on both before its first training run here/);
  // A training run times its own model on both backends first, trains on
  // the faster for it, and keeps the timing: the next run of that model
  // is not timed again.
  await page.click('#tab-anomaly');
  await page.getByTestId('anomaly-upload').setInputFiles({ name: 'beats.csv', mimeType: 'text/csv', buffer: Buffer.from(ucrCsv()) });
  await page.waitForFunction(() => /beats\.csv: series of 24 points/.test(document.getElementById('an-preview-text').textContent));
  await page.fill('#an-epochs', '2');
  await page.evaluate(() => {
    window.aelabStatus = [];
    const el = document.getElementById('an-status');
    new MutationObserver(() => window.aelabStatus.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  });
  const trainOnce = async () => {
    await page.evaluate(() => { window.aelabStatus.length = 0; });
    await page.getByTestId('anomaly-train').click();
    await page.waitForFunction(() => /^done: /.test(document.getElementById('an-status').textContent), null, { timeout: 300_000 });
    return page.evaluate(() => window.aelabStatus.slice());
  };
  const first = await trainOnce();
  assert.ok(first.some((t) => /^timing this model on WebGPU and on the CPU first/.test(t)), first.join('\n'));
  const chose = first.map((t) => /^training on (WebGPU|the CPU), measured faster for this model here \(a step: WebGPU (\d+) ms, the CPU (\d+) ms\)/.exec(t)).find(Boolean);
  assert.ok(chose, `the run says what it measured: ${first.join('\n')}`);
  console.log(`# auto, this model: ${chose[0]}`);
  assert.equal(chose[1], Number(chose[2]) < Number(chose[3]) ? 'WebGPU' : 'the CPU', 'the run trains on the faster for its model');
  assert.equal(await page.$eval('#an-status', (el) => el.dataset.where), 'worker');
  const second = await trainOnce();
  assert.ok(!second.some((t) => /^timing this model/.test(t)), `timed once: ${second.join('\n')}`);
  assert.ok(second.some((t) => /measured faster for this model here/.test(t)), second.join('\n'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a backend this build does not have (NdArray, saved by an older version) gets a message, and the page starts', async () => {
  const { page, errors } = await open('?backend=ndarray&tab=denoise');
  assert.match(await page.textContent('#banner'), /The backend "ndarray" is not in this version of aelab; it runs on CPU \(Flex\) and WebGPU/);
  assert.equal(await page.getByTestId('backend').getAttribute('data-backend'), 'flex', 'Auto instead, which starts on the CPU');
  assert.equal(await page.$eval('#backend-select', (el) => el.value), 'auto');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the Augment tab trains on 10 examples, fills the grid with verdicts, explores and fools', async () => {
  const { page, errors } = await open('?backend=flex&tab=augment');
  assert.equal(await page.isVisible('#lab-augment'), true);
  await page.selectOption('#aug-digit', '2');
  await page.click('.aug-preset[data-n="10"]');
  await page.waitForFunction(() => document.querySelectorAll('#aug-examples-grid figure').length === 10, null, { timeout: 120_000 });
  await page.selectOption('#aug-latent', '2');
  await page.fill('#aug-epochs', '3');
  await page.getByTestId('augment-train').click();
  await page.waitForFunction(() => document.getElementById('aug-progress').value > 0, null, { timeout: 300_000 });
  // The finished generator's grid (checkpoints fill it while it trains).
  await page.waitForFunction(() => {
    const grid = document.querySelector('[data-testid=augment-grid]');
    return grid.querySelectorAll('figure').length === 100 && grid.dataset.preview === 'false';
  }, null, { timeout: 300_000 });
  assert.equal(await page.getAttribute('#aug-status', 'data-where'), 'worker', 'served over http, the generator trains in the compute worker');
  const previews = Number(await page.getAttribute('[data-testid=augment-grid]', 'data-previews'));
  console.log(`# augment: the grid was sampled from ${previews} checkpoint(s) while the generator trained`);
  assert.ok(previews >= 1, 'the grid was sampled from a checkpoint of the generator being trained');
  assert.equal(await page.textContent('#aug-grid-source'), '', 'the note about the checkpoint is gone');
  // The run's row: the preset at the form's latent size, its judgement, its command.
  await page.locator('#augment-runs tr.runs-row').waitFor({ timeout: 60_000 });
  const augRow = await page.textContent('#augment-runs tr.runs-row');
  assert.match(augRow, /Latent autoencoder .*digit 2, 10 examples/);
  assert.match(augRow, /recognised \d\.\d{3}.*FID \d+/);
  assert.match(await page.textContent('#augment-runs .runs-command'), /^aelab augment --digit 2 --examples 10 --latent 2 --width 16 --epochs 3 --batch-size 32 --lr 0\.002 --seed \d+ --code-noise 0\.3 --code-penalty 0\.001 --out aelab-augmenter\.aelab$/);
  const verdicts = await page.$$eval('[data-testid=augment-grid] figcaption', (cs) => cs.map((c) => c.textContent));
  for (const v of verdicts) assert.match(v, /^\d \d+%/, `verdict "${v}"`);
  const wrong = await page.$$eval('[data-testid=augment-grid] figure.wrong', (fs) => fs.map((f) => f.dataset.digit));
  assert.ok(wrong.every((d) => d !== '2'), 'only digits not called 2 are marked');
  const rate = await page.getByTestId('augment-recognised-rate').textContent();
  console.log(`# augment, 10 examples, 3 epochs, d = 2: ${rate}; ${wrong.length} marked`);
  assert.match(rate, /^\d+(\.\d)? % recognised as 2$/);
  assert.equal(Number(rate.split(' ')[0]), 100 - wrong.length);
  const table = await page.$$eval('#aug-diversity tbody tr', (trs) => trs.map((tr) => tr.children[0].textContent));
  assert.deepEqual(table, ['recognised rate', 'mean confidence', 'pairwise L2 ratio', 'FID (classifier features)', 'precision', 'recall', 'density', 'coverage', 'duplicate rate']);
  // d = 2: one slider per dimension and the latent plane; a click decodes.
  assert.equal(await page.locator('#aug-sliders input').count(), 2);
  assert.equal(await page.isVisible('#aug-plane'), true);
  await page.click('#aug-plane', { position: { x: 200, y: 120 } });
  await page.waitForFunction(() => /^\d \(\d+%\)$/.test(document.getElementById('aug-preview-verdict').textContent));
  await page.click('#aug-interp');
  await page.waitForFunction(() => document.querySelectorAll('#aug-strip figure').length === 10, null, { timeout: 120_000 });
  await page.click('#aug-perturb');
  await page.waitForFunction(() => document.querySelectorAll('#aug-variations figure').length === 10, null, { timeout: 120_000 });
  await page.click('#aug-load-code');
  await page.click('#aug-fool');
  await page.waitForFunction(() => /fooled|nothing to fool/.test(document.getElementById('aug-fool-status').textContent), null, { timeout: 300_000 });
  console.log(`# fool: ${await page.textContent('#aug-fool-status')}`);
  // Sample again after a backend switch: the generator is kept.
  await page.selectOption('#aug-samples', '20');
  await page.selectOption('#backend-select', 'webgpu');
  await page.waitForFunction(() => document.querySelector('[data-testid=backend]').dataset.backend === 'webgpu');
  await page.click('#aug-resample');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=augment-grid] figure').length === 20, null, { timeout: 300_000 });
  // Opening the page again (without the query) brings the generator back
  // from the browser's storage, on the backend and tab chosen last.
  await page.goto(`${origin}/index.html`);
  await ready(page);
  assert.match(await page.textContent('#aug-status'), /^restored: a generator of 2s from 10 example/);
  assert.equal(await page.getByTestId('backend').getAttribute('data-backend'), 'webgpu', 'the backend choice is kept');
  assert.equal(await page.isVisible('#lab-augment'), true, 'the tab is kept');
  assert.match(await page.textContent('#restore-note'), /your 2 generator/);
  assert.equal(await page.locator('#aug-sliders input').count(), 2);
  assert.deepEqual(errors, []);
  await page.close();
});

// A small UCR-style CSV: class 1 = a clean sine, class 2 = the same with a bump.
test('the Anomaly tab takes an uploaded CSV, trains, and shows metrics; a malformed CSV gets a message', async () => {
  const { page, errors } = await open('?backend=flex&tab=anomaly');
  assert.equal(await page.isVisible('#lab-anomaly'), true);
  // Malformed: a ragged row, then a NaN.
  await page.getByTestId('anomaly-upload').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('1,2,3,4,5,6,7,8,9\n1,2,3,4,5,6,7,8,9\n1,2,3\n') });
  await page.waitForFunction(() => /line 3 has 3 fields/.test(document.querySelector('[data-testid=anomaly-error]').textContent));
  await page.getByTestId('anomaly-upload').setInputFiles({ name: 'nan.csv', mimeType: 'text/csv', buffer: Buffer.from('1,2,3,4,5,6,7,8,9\n1,2,NaN,4,5,6,7,8,9\n') });
  await page.waitForFunction(() => /line 2, column 3: the value is NaN/.test(document.querySelector('[data-testid=anomaly-error]').textContent));
  await page.getByTestId('anomaly-upload').setInputFiles({ name: 'empty.csv', mimeType: 'text/csv', buffer: Buffer.alloc(0) });
  await page.waitForFunction(() => /empty/.test(document.querySelector('[data-testid=anomaly-error]').textContent));
  assert.equal(await page.getByTestId('anomaly-train').isDisabled(), true, 'nothing to train on yet');
  // A file name with markup is shown as text.
  await page.getByTestId('anomaly-upload').setInputFiles({ name: '<img src=x onerror=alert(1)>.csv', mimeType: 'text/csv', buffer: Buffer.from(ucrCsv()) });
  await page.waitForFunction(() => /<img src=x onerror=alert\(1\)>\.csv: series/.test(document.getElementById('an-preview-text').textContent));
  assert.equal(await page.locator('#lab-anomaly img').count(), 0, 'no markup from a file name');
  // A CSV header with markup, echoed in the message about a missing column, is text too.
  await page.$eval('#an-value', (el) => { el.value = 'value'; });
  await page.getByTestId('anomaly-upload').setInputFiles({ name: 'hostile.csv', mimeType: 'text/csv', buffer: Buffer.from('time,<img src=x onerror="window.pwned=1">,label\n1,2,0\n2,3,0\n') });
  await page.waitForFunction(() => /the header has: time, <img src=x onerror="window\.pwned=1">, label/.test(document.querySelector('[data-testid=anomaly-error]').textContent));
  assert.equal(await page.locator('#lab-anomaly img').count(), 0, 'no markup from a CSV header');
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  await page.$eval('#an-value', (el) => { el.value = ''; });
  // A good file.
  await page.getByTestId('anomaly-upload').setInputFiles({ name: 'beats.csv', mimeType: 'text/csv', buffer: Buffer.from(ucrCsv()) });
  await page.waitForFunction(() => /beats\.csv: series of 24 points/.test(document.getElementById('an-preview-text').textContent));
  assert.equal(await page.getByTestId('anomaly-error').textContent(), '');
  await page.fill('#an-epochs', '30');
  await page.fill('#an-latent', '4');
  await page.getByTestId('anomaly-train').click();
  await page.waitForFunction(() => /^\d\.\d{4}$/.test(document.querySelector('[data-testid=anomaly-auroc]').textContent), null, { timeout: 300_000 });
  const auroc = Number(await page.getByTestId('anomaly-auroc').textContent());
  console.log(`# anomaly, uploaded CSV, dense (latent 4), 30 epochs: AUROC ${auroc}, F1 ${await page.textContent('#an-f1')}`);
  assert.ok(auroc > 0.5 && auroc <= 1, `AUROC ${auroc}`);
  assert.equal(await page.$eval('#an-status', (el) => el.dataset.where), 'worker', 'the model trained in the compute worker');
  assert.match(await page.textContent('#an-best'), /best threshold would be \d\.\d{5} \(F1 \d\.\d{4}\); it is shown, never used to choose/);
  assert.match(await page.textContent('#an-note'), /cross-validated: it rests on the errors of all 30 normal training series, each from a model trained without it \(5 folds\)/, 'a 6-beat validation split is too thin, so the threshold is cross-validated, and says so');
  // A drawn series: it starts from a normal test beat; a high plateau drawn
  // across it raises its error, live.
  await page.waitForFunction(() => /^error \d\.\d{4} (≤|>) threshold \d\.\d{4}/.test(document.querySelector('[data-testid=anomaly-beat-error]').textContent));
  const beatError = async () => {
    const m = /^error (\d\.\d{4}) (≤|>) threshold (\d\.\d{4}): (flagged as anomalous|passes as normal)/.exec(await page.getByTestId('anomaly-beat-error').textContent());
    assert.ok(m, 'the error is shown');
    assert.equal(m[2] === '>', Number(m[1]) > Number(m[3]), 'the verdict follows the threshold');
    assert.equal(m[4] === 'flagged as anomalous', m[2] === '>');
    return Number(m[1]);
  };
  const e0 = await beatError();
  await page.getByTestId('anomaly-beat').scrollIntoViewIfNeeded();
  const box = await page.getByTestId('anomaly-beat').boundingBox();
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.15);
  await page.mouse.down();
  for (let k = 1; k <= 10; k++) await page.mouse.move(box.x + box.width * (0.2 + 0.05 * k), box.y + box.height * 0.15);
  await page.mouse.up();
  await page.waitForFunction((before) => {
    const m = /^error (\d\.\d{4})/.exec(document.querySelector('[data-testid=anomaly-beat-error]').textContent);
    return m && Number(m[1]) > before;
  }, e0);
  const e1 = await beatError();
  console.log(`# anomaly, a drawn plateau: error ${e0} → ${e1}`);
  assert.ok(e1 > e0 * 1.5, `drawing raised the error: ${e0} → ${e1}`);
  const cells = await page.$$eval('#an-confusion tbody td', (tds) => tds.map((t) => t.textContent));
  assert.equal(Number(cells[1]) + Number(cells[2]) + Number(cells[4]) + Number(cells[5]), 30 + 20, 'the test set: half of the 60 normal rows and the 20 anomalous ones');
  // Moving the threshold to its maximum flags nothing: recall 0.
  await page.$eval('#an-threshold', (el) => { el.value = el.max; el.dispatchEvent(new Event('input')); });
  await page.waitForFunction(() => document.getElementById('an-rec').textContent === '0.0000');
  await page.click('#an-keep');
  assert.equal(await page.locator('#an-compare tbody tr').count(), 1);
  // The generated machine signal loads and trains too.
  await page.click('#an-machine');
  await page.waitForFunction(() => /generated machine signal/.test(document.getElementById('an-preview-text').textContent));
  await page.fill('#an-epochs', '2');
  await page.getByTestId('anomaly-train').click();
  await page.waitForFunction(() => /events: \d+ of 12 found/.test(document.getElementById('an-events').textContent), null, { timeout: 300_000 });
  assert.deepEqual(errors, []);
  await page.close();
});

// A long series with timestamps and no labels, with an anomaly planted in
// its second half.
function unlabelledCsv() {
  const rows = ['timestamp,value'];
  for (let i = 0; i < 3000; i++) {
    let v = Math.sin(i * 2 * Math.PI / 50) + 0.3 * Math.sin(i * 2 * Math.PI / 13);
    if (i >= 2200 && i < 2240) v = Math.floor(i / 4) % 2 === 0 ? 2.5 : -2.5;
    rows.push(`${1700000000 + 60 * i},${v.toFixed(4)}`);
  }
  return rows.join('\n') + '\n';
}

test('an unlabelled series is flagged, not scored: the stretches show in the table and the CSV download', async () => {
  const { page, errors } = await open('?backend=flex&tab=anomaly');
  await page.click('#lab-anomaly details summary'); // the CSV options
  await page.fill('#an-window', '40');
  await page.fill('#an-stride', '10');
  await page.getByTestId('anomaly-upload').setInputFiles({ name: 'traffic.csv', mimeType: 'text/csv', buffer: Buffer.from(unlabelledCsv()) });
  await page.waitForFunction(() => /unlabelled windows to test/.test(document.getElementById('an-preview-text').textContent));
  const preview = await page.textContent('#an-preview-text');
  assert.match(preview, /no labels/);
  assert.match(preview, /timestamps in "timestamp" \(found by its name\)/);
  await page.fill('#an-epochs', '20');
  await page.getByTestId('anomaly-train').click();
  await page.waitForFunction(() => /nothing is scored: \d+ stretch/.test(document.querySelector('[data-testid=anomaly-flagged]').textContent), null, { timeout: 300_000 });
  console.log(`# unlabelled: ${await page.getByTestId('anomaly-flagged').textContent()}`);
  assert.equal(await page.getByTestId('anomaly-auroc').textContent(), '–', 'no AUROC without labels');
  const cells = await page.$$eval('#an-flagged tbody td', (tds) => tds.map((t) => t.textContent));
  assert.ok(cells.length >= 4, `a table of stretches: ${cells}`);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#an-flags')]);
  const csv = fs.readFileSync(await dl.path(), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'start,end,peak_error,start_time,end_time');
  const hits = csv.slice(1).map((l) => l.split(',').map(Number)).filter(([a, b]) => a <= 2240 && b >= 2200);
  assert.equal(hits.length, 1, `the planted anomaly is flagged: ${csv.join(' | ')}`);
  assert.equal(hits[0][3], 1700000000 + 60 * hits[0][0], 'in the file\'s timestamps');
  assert.deepEqual(errors, []);
  await page.close();
});

test('models, uploads, the comparison table and settings survive a reload; Reset lab clears them', async () => {
  const { page, errors } = await open('?backend=flex');
  await page.getByRole('button', { name: '0.7', exact: true }).click();
  // A denoiser loaded from a file (the canonical one shipped in dist/).
  await page.setInputFiles('#model-file', path.join(DIST, 'models/denoiser-canonical.aelab'));
  await page.waitForFunction(() => /Loaded denoiser-canonical\.aelab/.test(document.getElementById('model-msg').textContent));
  // An uploaded series, a trained anomaly model, a threshold and a kept run.
  await page.click('#tab-anomaly');
  await page.getByTestId('anomaly-upload').setInputFiles({ name: 'beats.csv', mimeType: 'text/csv', buffer: Buffer.from(ucrCsv()) });
  await page.waitForFunction(() => /beats\.csv: series of 24 points/.test(document.getElementById('an-preview-text').textContent));
  await page.fill('#an-epochs', '20');
  await page.fill('#an-latent', '4');
  await page.getByTestId('anomaly-train').click();
  await page.waitForFunction(() => /^\d\.\d{4}$/.test(document.querySelector('[data-testid=anomaly-auroc]').textContent), null, { timeout: 300_000 });
  await page.selectOption('#an-rule', 'pct:95');
  await page.click('#an-apply-rule');
  await page.click('#an-keep');
  const before = { auroc: await page.textContent('#an-auroc'), f1: await page.textContent('#an-f1'), threshold: await page.textContent('#an-threshold-value') };
  await page.waitForTimeout(600); // the threshold and settings are saved after a short pause
  // The run table has the anomaly run, with the command that trains it again.
  const runRow = page.locator('#anomaly-runs tr.runs-row');
  await runRow.first().waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#anomaly-runs .runs-command').first().textContent(), /^aelab anomaly --train beats\.csv --model dense --latent 4 --depth 3 --epochs 20 --batch-size 32 --lr 0\.002 --seed \d+ --valid-fraction 0\.2 --threshold-from auto$/);
  await page.waitForTimeout(600); // the threshold and settings are saved after a short pause
  // What a later visit finds: after a reload, and after a workspace file is opened.
  async function allBack() {
    assert.equal(await page.isVisible('#lab-anomaly'), true, 'the tab is kept');
    assert.equal(await page.getByTestId('noise-factor').inputValue(), '0.7', 'the noise level is kept');
    assert.match(await page.textContent('#model-info'), /canonical/i);
    assert.match(await page.textContent('#model-info'), /loaded from a file/);
    assert.match(await page.textContent('#an-preview-text'), /beats\.csv: series of 24 points/);
    assert.match(await page.textContent('#an-status'), /^restored: dense autoencoder \(latent 4, depth 3, 20 epochs\)/);
    const after = { auroc: await page.textContent('#an-auroc'), f1: await page.textContent('#an-f1'), threshold: await page.textContent('#an-threshold-value') };
    assert.deepEqual(after, before, 'the run and its threshold are back, unchanged');
    assert.equal(await page.locator('#an-compare tbody tr').count(), 1);
    assert.equal(await runRow.count(), 1);
    await page.waitForFunction(() => /^error \d\.\d{4}/.test(document.querySelector('[data-testid=anomaly-beat-error]').textContent), null, { timeout: 60_000 });
  }
  await page.reload();
  await ready(page);
  await allBack();
  assert.match(await page.textContent('#restore-note'), /your denoiser.*beats\.csv.*anomaly run/);
  // The whole workspace goes to one file.
  const [ws] = await Promise.all([page.waitForEvent('download'), page.getByTestId('workspace-save').click()]);
  assert.match(ws.suggestedFilename(), /^aelab-workspace-\d{4}-\d{2}-\d{2}\.aelab-workspace$/);
  const wsBytes = fs.readFileSync(await ws.path());
  assert.equal(wsBytes.subarray(0, 8).toString('latin1'), 'AELABWS\n');
  // Reset lab, confirmed: everything is forgotten.
  page.once('dialog', (d) => d.accept());
  await Promise.all([page.waitForEvent('load'), page.click('#reset-lab')]);
  await ready(page);
  assert.equal(await page.isVisible('#lab-denoise'), true);
  assert.equal(await page.getByTestId('noise-factor').inputValue(), '0.5');
  assert.match(await page.textContent('#model-info'), /pre-trained/);
  assert.equal(await page.textContent('#restore-note'), '');
  assert.equal(await page.locator('#an-compare tbody tr').count(), 0);
  assert.equal(await runRow.count(), 0);
  // A damaged workspace file is refused with the reason; nothing changes.
  await page.getByTestId('workspace-open').setInputFiles({ name: 'cut.aelab-workspace', mimeType: 'application/octet-stream', buffer: wsBytes.subarray(0, wsBytes.length - 100) });
  await page.waitForFunction(() => /Could not open cut\.aelab-workspace: the workspace file is cut short/.test(document.getElementById('banner').textContent), null, { timeout: 30_000 });
  assert.match(await page.textContent('#banner'), /The work in this browser is unchanged/);
  await page.getByTestId('workspace-open').setInputFiles({ name: 'beats.csv', mimeType: 'text/csv', buffer: Buffer.from(ucrCsv()) });
  await page.waitForFunction(() => /Could not open beats\.csv: this is not an aelab workspace file/.test(document.getElementById('banner').textContent), null, { timeout: 30_000 });
  // Opened, confirmed: everything is back as it was.
  page.once('dialog', (d) => d.accept());
  await Promise.all([page.waitForEvent('load'), page.getByTestId('workspace-open').setInputFiles({ name: 'work.aelab-workspace', mimeType: 'application/octet-stream', buffer: wsBytes })]);
  await ready(page);
  await allBack();
  assert.match(await page.textContent('#restore-note'), /^Opened the workspace work\.aelab-workspace/);
  // The run's model and scores come back from its row (at the default threshold).
  await page.selectOption('#an-rule', 'mad:4');
  await page.click('#an-apply-rule');
  await page.waitForFunction((t) => document.getElementById('an-threshold-value').textContent !== t, before.threshold, { timeout: 30_000 });
  const atDefault = { f1: await page.textContent('#an-f1'), threshold: await page.textContent('#an-threshold-value') };
  await page.fill('#an-epochs', '1');
  await page.getByTestId('anomaly-train').click();
  await page.waitForFunction(() => document.querySelectorAll('#anomaly-runs tr.runs-row').length === 2, null, { timeout: 300_000 });
  await runRow.first().getByRole('button', { name: 'Use this model' }).click();
  await page.waitForFunction(() => /are back|^Run 1:/.test(document.querySelector('#anomaly-runs .runs-msg')?.textContent), null, { timeout: 60_000 });
  assert.match(await page.textContent('#anomaly-runs .runs-msg'), /are back/);
  assert.deepEqual({ auroc: await page.textContent('#an-auroc'), f1: await page.textContent('#an-f1'), threshold: await page.textContent('#an-threshold-value') }, { auroc: before.auroc, ...atDefault });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a full storage quota gives a message, and the work can still be downloaded', async () => {
  const { page, errors } = await open('?backend=flex');
  await page.evaluate(() => { window.aelabTest.storageFails = 'quota'; });
  await page.setInputFiles('#model-file', path.join(DIST, 'models/denoiser-canonical.aelab'));
  await page.waitForFunction(() => /storage is full, so the loaded denoiser was not saved/.test(document.getElementById('banner').textContent));
  assert.equal(await page.evaluate(() => document.body.dataset.storage), 'full');
  assert.match(await page.textContent('#model-info'), /canonical/i, 'the model is loaded all the same');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#model-download')]);
  const file = await dl.path();
  assert.equal(fs.readFileSync(file).subarray(0, 8).toString(), 'AELABW01', 'a weights file');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a lost WebGPU device moves the page to the CPU and keeps what was trained', async () => {
  // Lost while idle: the page notices at once.
  {
    const { page, errors } = await open('?backend=webgpu');
    assert.equal(await page.getByTestId('backend').getAttribute('data-backend'), 'webgpu');
    assert.ok(await page.evaluate(() => window.aelabTest.loseGpu()) >= 1);
    await page.waitForFunction(() => document.querySelector('[data-testid=backend]').dataset.backend === 'flex', null, { timeout: 60_000 });
    assert.match(await page.textContent('#banner'), /GPU device was lost.*moved to the CPU/);
    await page.getByTestId('clear').click();
    await drawStroke(page, DIGITS[7][0]);
    assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('7'), 'denoising goes on, on the CPU');
    assert.deepEqual(errors, []);
    await page.close();
  }
  // Lost during training: the run's last checkpoint is kept.
  const { page, errors } = await open('?backend=webgpu&tab=augment');
  assert.equal(await page.getByTestId('backend').getAttribute('data-backend'), 'webgpu');
  // Small, as WebGPU runs on SwiftShader here: lost in the second epoch,
  // after the checkpoint at the first one's end.
  await page.selectOption('#aug-digit', '3');
  await page.fill('#aug-examples', '10');
  await page.selectOption('#aug-latent', '2');
  await page.fill('#aug-epochs', '30');
  await page.getByTestId('augment-train').click();
  await page.waitForFunction(() => /^epoch 2\//.test(document.getElementById('aug-status').textContent), null, { timeout: 600_000 });
  await page.evaluate(() => window.aelabTest.loseGpu());
  await page.waitForFunction(() => /kept the generator as trained up to its last checkpoint|could not be loaded/.test(document.getElementById('aug-status').textContent), null, { timeout: 300_000 });
  assert.match(await page.textContent('#aug-status'), /kept the generator/);
  assert.equal(await page.getByTestId('backend').getAttribute('data-backend'), 'flex');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=augment-grid] figure').length > 0, null, { timeout: 300_000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a 200 MB CSV is refused at once, with the limit stated, and the tab stays responsive', async () => {
  const big = path.join(os.tmpdir(), `aelab-200mb-${process.pid}.csv`);
  const line = Buffer.from('2024-01-01 00:00:00,0.123456789,0\n');
  const block = Buffer.concat(Array(32768).fill(line));
  const fd = fs.openSync(big, 'w');
  for (let written = 0; written < 200e6; written += block.length) fs.writeSync(fd, block);
  fs.closeSync(fd);
  try {
    const { page, errors } = await open('?backend=flex&tab=anomaly');
    // Every click's delay: from the input event to its handler.
    await page.evaluate(() => {
      window.clickDelays = [];
      document.getElementById('tab-anomaly').addEventListener('click', (ev) => window.clickDelays.push(performance.now() - ev.timeStamp));
    });
    const upload = page.getByTestId('anomaly-upload').setInputFiles(big);
    for (let i = 0; i < 5; i++) await page.click('#tab-anomaly');
    await upload;
    await page.waitForFunction(() => /over the limit of 50 MB/.test(document.querySelector('[data-testid=anomaly-error]').textContent), null, { timeout: 10_000 });
    assert.match(await page.getByTestId('anomaly-error').textContent(), /is 2\d\d\.\d MB, over the limit of 50 MB/);
    for (let i = 0; i < 5; i++) await page.click('#tab-anomaly');
    const delays = await page.evaluate(() => window.clickDelays);
    console.log(`# 200 MB upload: refused; click delays ${delays.map((d) => d.toFixed(0)).join(', ')} ms`);
    assert.equal(delays.length, 10);
    assert.ok(Math.max(...delays) < 200, `a click waited ${Math.max(...delays).toFixed(0)} ms`);
    assert.deepEqual(errors, []);
    await page.close();
  } finally { fs.rmSync(big, { force: true }); }
});

test('the Report view fills its sections from the work in the tabs, keeps the team and the text, prints to a PDF with a section per item, and downloads as one HTML file', async () => {
  const { page, errors } = await open('?backend=flex');
  // Denoise: the report figure and its table, on 500 test digits.
  await page.selectOption('#report-n', '500');
  await page.click('#report-make');
  await page.waitForFunction(() => /Current denoiser: 500 test images/.test(document.getElementById('report-table').textContent), null, { timeout: 300_000 });
  // Anomaly: a dense model on an uploaded CSV, kept for comparison.
  await page.click('#tab-anomaly');
  await page.getByTestId('anomaly-upload').setInputFiles({ name: 'beats.csv', mimeType: 'text/csv', buffer: Buffer.from(ucrCsv()) });
  await page.waitForFunction(() => /beats\.csv: series of 24 points/.test(document.getElementById('an-preview-text').textContent));
  await page.fill('#an-epochs', '20');
  await page.fill('#an-latent', '4');
  await page.getByTestId('anomaly-train').click();
  await page.waitForFunction(() => /^\d\.\d{4}$/.test(document.querySelector('[data-testid=anomaly-auroc]').textContent), null, { timeout: 300_000 });
  await page.click('#an-keep');
  await page.locator('#anomaly-runs tr.runs-row').waitFor({ timeout: 60_000 });
  // The report, assembled from that work.
  await page.getByTestId('tab-report').click();
  const view = page.getByTestId('report-view');
  await page.waitForFunction(() => document.querySelector('#lab-report .report-root')?.dataset.filled === 'true', null, { timeout: 120_000 });
  assert.equal(await view.locator('.report-section').count(), 7);
  const section = (n) => view.getByTestId(`report-section-${n}`);
  assert.match(await section(1).textContent(), /Skip denoiser, 185,281 parameters/);
  assert.match(await section(1).locator('pre').textContent(), /Conv2dConfig::new\(\[1, 32\], \[3, 3\]\)/);
  assert.equal(await section(2).locator('img.report-figure').count(), 1);
  assert.match(await section(2).textContent(), /PSNR denoised/);
  assert.match(await section(4).textContent(), /No generator has been trained yet/);
  assert.match(await section(7).textContent(), /AUROC.*Dense series autoencoder \(1,164 parameters\)/s);
  assert.equal(await section(7).locator('img.report-figure').count(), 3);
  assert.match(await section(7).textContent(), /Runs kept for comparison/);
  // The team and the student's text.
  await view.getByTestId('report-team').fill('Ada Lovelace, Alan Turing');
  await section(3).locator('textarea').fill('The skip denoiser keeps the digits readable up to f = 0.9.');
  await page.waitForTimeout(600); // kept after a short pause
  // Printed (Chromium's PDF): the team, one heading per item, the text, and none of the labs.
  const pdfPath = path.join(os.tmpdir(), `aelab-report-${process.pid}.pdf`);
  await page.pdf({ path: pdfPath, format: 'A4' });
  const text = execFileSync('pdftotext', [pdfPath, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
  assert.match(text, /Autoencoders: practical report/);
  assert.match(text, /Team: Ada Lovelace, Alan Turing/);
  for (const h of ['1. The convolutional autoencoder', '2. Denoising: ten digits', '3. Conclusion on denoising', '4. Data augmentation', '5. Few-shot generation', '6. Answers to the notebook', '7. Anomaly detection']) {
    assert.ok(text.includes(h), `the PDF has "${h}"`);
  }
  assert.match(text, /The skip denoiser keeps the digits readable up to f = 0\.9\./);
  assert.doesNotMatch(text, /Start training|Draw a digit, add noise/, 'the labs are not printed');
  // One self-contained HTML file: its images inside, no script.
  const [h] = await Promise.all([page.waitForEvent('download'), view.getByTestId('report-html').click()]);
  assert.equal(h.suggestedFilename(), 'aelab-report.html');
  const html = fs.readFileSync(await h.path(), 'utf8');
  assert.ok(!/<script/i.test(html), 'no script');
  assert.equal((html.match(/<img[^>]+src="data:image\/png;base64,/g) || []).length, 4);
  assert.match(html, /<h2>7\. Anomaly detection: the models compared<\/h2>/);
  assert.match(html, /Team: Ada Lovelace, Alan Turing/);
  assert.match(html, /The skip denoiser keeps the digits readable/);
  // After a reload the Report tab comes back with the team and the text.
  await page.reload();
  await ready(page);
  await page.waitForFunction(() => document.querySelector('#lab-report .report-root')?.dataset.filled === 'true', null, { timeout: 120_000 });
  assert.equal(await view.getByTestId('report-team').inputValue(), 'Ada Lovelace, Alan Turing');
  assert.equal(await section(3).locator('textarea').inputValue(), 'The skip denoiser keeps the digits readable up to f = 0.9.');
  assert.deepEqual(errors, []);
  await page.close();
});

test('after the first visit the page and its data work offline', async () => {
  const { page, errors } = await open('?backend=flex');
  await page.waitForSelector('body[data-offline="ready"]', { timeout: 120_000 });
  await page.context().setOffline(true);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  await page.getByTestId('clear').click();
  await drawStroke(page, DIGITS[1][0]);
  assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('1'), 'denoising works offline');
  // The other labs' data come from the cache too.
  const sizes = await page.evaluate(async () => Promise.all(
    ['mnist/train-images-idx3-ubyte.gz', 'ecg5000/ECG5000_TEST.tsv.gz'].map(async (u) => (await (await fetch(u)).arrayBuffer()).byteLength)));
  assert.ok(sizes[0] > 9e6 && sizes[1] > 3e6, `cached sizes ${sizes}`);
  assert.equal(await page.evaluate(() => navigator.onLine), false, 'the network is really off');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the single-file build opens from file:// and works with no server', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aelab-single-'));
  const file = path.join(dir, 'aelab.html');
  fs.writeFileSync(file, singleFile(DIST));
  console.log(`# aelab.html: ${(fs.statSync(file).size / 1e6).toFixed(1)} MB`);
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  const network = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (/Content Security Policy/.test(m.text())) cspViolations.push(m.text()); });
  page.on('request', (r) => { if (!/^(file|blob|data):/.test(r.url())) network.push(r.url()); });
  try {
    await page.goto(`file://${file}`);
    await ready(page);
    const backend = await page.getByTestId('backend').getAttribute('data-backend');
    console.log(`# file:// backend: ${backend}`);
    assert.equal(backend, 'flex', 'Auto starts on the CPU');
    assert.match(await page.getByTestId('backend').getAttribute('title'), /opened from a file, aelab cannot measure WebGPU in the background/, 'and says why it stays there');
    await page.getByTestId('clear').click();
    await drawStroke(page, DIGITS[7][0]);
    assert.ok((await verdictOf(page, 'verdict-denoised')).startsWith('7'), 'a drawn 7 is denoised and recognised');
    // The labs' data are inside the file too.
    await page.waitForFunction(() => /10000 test digits/.test(document.getElementById('pick-note').textContent), null, { timeout: 120_000 });
    await page.click('#tab-anomaly');
    await page.click('#an-ecg');
    await page.waitForFunction(() => /ECG5000: series of 140 points/.test(document.getElementById('an-preview-text').textContent), null, { timeout: 120_000 });
    assert.deepEqual(network, [], 'no request leaves the file');
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the page made no request outside its own origin, and broke no rule of its CSP', () => {
  assert.deepEqual(foreign, []);
  assert.deepEqual(cspViolations, []);
});
