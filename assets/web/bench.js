// @ts-check
// The bench page: runs aelab's benchmark on every backend this browser has
// and shows the figures. `window.aelabBenchResults` holds them as JSON when
// done, for scripts/bench-web.sh.
import init, * as aelab from './aelab.js';
import { Compute, workerAvailable } from './compute.js';
import { threadsText } from './ui.js';

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const batch = Number(params.get('batch')) || 128;

function render(rows) {
  const cell = (s) => `<td>${String(s).replace(/[&<>]/g, '')}</td>`;
  const where = (r) => `${r.backend}${r.threads ? ` (compute worker, ${threadsText(r.threads)})` : ''}`;
  $('bench-table').innerHTML = '<table><thead><tr><th>backend</th><th>training (images/s)</th><th>denoise one digit (ms)</th><th>timed steps</th></tr></thead><tbody>' +
    rows.map((r) => '<tr>' + (r.error ? cell(where(r)) + cell(r.error) + cell('') + cell('')
      : cell(where(r)) + cell(r.train_images_per_sec.toFixed(1)) + cell(r.denoise_one_ms.toFixed(2)) + cell(r.steps)) + '</tr>').join('') +
    '</tbody></table>';
}

async function run() {
  $('bench-run').disabled = true;
  $('bench-status').textContent = `running (batch ${batch})…`;
  const rows = [];
  const only = params.get('backends');
  // Every CPU backend of this build (Flex; NdArray where it is built in).
  const steps = Number(params.get('steps')) || 5;
  /** @type {[string, number][]} */
  const plan = [/** @type {[string, number]} */ (['auto', Number(params.get('gpu_steps')) || 3]), ...aelab.cpu_backends().map((c) => /** @type {[string, number]} */ ([c, c === 'flex' ? steps : 2]))]
    .filter(([c]) => !only || only.split(',').includes(c === 'auto' ? 'webgpu' : c));
  for (const [choice, steps] of plan) {
    let lab = null;
    try {
      lab = await aelab.Lab.create(choice);
      if (choice === 'auto' && lab.backend !== 'webgpu') rows.push({ backend: 'webgpu', error: lab.note || 'no WebGPU adapter' });
      else rows.push(await lab.bench(batch, steps));
    } catch (e) {
      rows.push({ backend: choice, error: e && e.message ? e.message : String(e) });
    } finally { if (lab) lab.free(); }
    render(rows);
  }
  // Flex in the compute worker: on the threaded module's pool where the
  // page is cross-origin isolated (one thread otherwise), beside the page's
  // single thread above. `pools=1,2` runs it once per pool size (the
  // threaded module on one thread too), instead of one thread per core.
  const pools = (params.get('pools') || '0').split(',').map(Number);
  for (const pool of workerAvailable() && (!only || only.split(',').includes('flex-worker')) ? pools : []) {
    const compute = new Compute(() => {});
    compute.poolThreads = pool;
    try {
      await compute.ensure('flex');
      rows.push(await compute.request('bench', { batch, steps }).done);
    } catch (e) {
      rows.push({ backend: 'flex', threads: compute.threads || 1, error: e && e.message ? e.message : String(e) });
    } finally { compute.stop(); }
    render(rows);
  }
  $('bench-status').textContent = 'done';
  $('bench-run').disabled = false;
  window.aelabBenchResults = JSON.stringify(rows);
}

await init({ module_or_path: 'aelab_bg.wasm' });
$('bench-run').addEventListener('click', run);
run();
