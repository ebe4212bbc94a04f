// One small driver for the browsers beyond Chromium, so that a test is
// written once and runs in each:
//   firefox  Debian's Firefox ESR, headless, driven by puppeteer-core over
//            WebDriver BiDi;
//   webkit   WebKitGTK's MiniBrowser, driven by Debian's WebKitWebDriver
//            (W3C WebDriver over HTTP) in its own Xvfb display (MiniBrowser
//            has --automation but no headless mode).
// Both send real pointer events: a stroke on the pad is what a mouse does.
// `scripts/setup-web.sh --downloads` installs them (apt).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import puppeteer from 'puppeteer-core';

const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER || '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env.MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

export const BROWSERS = ['firefox', 'webkit'];

/** Why `name` cannot run here (what is missing), or null. */
export function missing(name) {
  const need = name === 'firefox' ? [FIREFOX] : [WEBKIT_DRIVER, MINIBROWSER, '/usr/bin/Xvfb'];
  const absent = need.filter((f) => !fs.existsSync(f));
  return absent.length ? `${absent.join(', ')} not installed (scripts/setup-web.sh --downloads installs it)` : null;
}

/**
 * @typedef {object} Driver
 * @property {string} name the browser and its version
 * @property {(url: string) => Promise<void>} goto
 * @property {(fn: Function, ...args: any[]) => Promise<any>} eval runs `fn(...args)` in the page (awaited)
 * @property {(fn: Function, args?: any[], timeoutMs?: number) => Promise<any>} waitFor polls `fn` until it returns something truthy
 * @property {(selector: string) => Promise<void>} click a real click on the element
 * @property {(selector: string, points: number[][], size: number) => Promise<void>} stroke a pressed pointer along `points`, given in a `size`×`size` square over the element
 * @property {(selector: string, name: string, text: string) => Promise<void>} upload gives the file input a file, as a person choosing one does
 * @property {() => Promise<void>} close
 */

/** @param {'firefox' | 'webkit'} name @returns {Promise<Driver>} */
export async function launch(name) {
  const why = missing(name);
  if (why) throw new Error(`${name}: ${why}`);
  return name === 'firefox' ? firefox() : webkit();
}

// The page's side of an upload: a File in a DataTransfer, set on the input,
// and its change event (the same in every browser).
function setFile(selector, name, text) {
  const input = /** @type {HTMLInputElement} */ (document.querySelector(selector));
  const dt = new DataTransfer();
  dt.items.add(new File([text], name, { type: 'text/csv' }));
  input.files = dt.files;
  input.dispatchEvent(new Event('change', { bubbles: true }));
}

function boxOf(selector) {
  const el = document.querySelector(selector);
  el.scrollIntoView({ block: 'center', inline: 'center' });
  const r = el.getBoundingClientRect();
  return { x: r.x, y: r.y, width: r.width, height: r.height };
}

async function poll(check, timeoutMs, what) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function firefox() {
  const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true, protocol: 'webDriverBiDi' });
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  return {
    name: `Firefox ${(await browser.version()).replace(/^firefox\//, '')}`,
    async goto(url) { await page.goto(url); },
    async eval(fn, ...args) { return page.evaluate(/** @type {any} */ (fn), ...args); },
    async waitFor(fn, args = [], timeoutMs = 120_000) {
      return poll(() => page.evaluate(/** @type {any} */ (fn), ...args), timeoutMs, String(fn));
    },
    async click(selector) {
      await page.evaluate(boxOf, selector);
      await page.click(selector);
    },
    async stroke(selector, points, size) {
      const box = await page.evaluate(boxOf, selector);
      const at = ([x, y]) => [box.x + x * box.width / size, box.y + y * box.height / size];
      await page.mouse.move(...at(points[0]));
      await page.mouse.down();
      for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 8 });
      await page.mouse.up();
    },
    async upload(selector, name, text) { await page.evaluate(setFile, selector, name, text); },
    async close() { await browser.close(); },
  };
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = /** @type {net.AddressInfo} */ (s.address()); s.close(() => ok(port)); });
  });
}

async function webkit() {
  // Xvfb picks a free display and writes its number on fd 3.
  const xvfb = spawn('/usr/bin/Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
  const display = await new Promise((ok, fail) => {
    let out = '';
    xvfb.stdio[3].on('data', (d) => { out += d; if (out.includes('\n')) ok(`:${out.trim()}`); });
    xvfb.on('exit', (code) => fail(new Error(`Xvfb exited (${code})`)));
  });
  const port = await freePort();
  const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`, '--host=127.0.0.1'], { stdio: 'ignore', env: { ...process.env, DISPLAY: display } });
  const stopAll = () => { driver.kill(); xvfb.kill(); };
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const r = await fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const j = await r.json();
    if (!r.ok) throw new Error(`WebKitWebDriver ${method} ${path}: ${j.value && j.value.message ? j.value.message : JSON.stringify(j.value)}`);
    return j.value;
  };
  try {
    await poll(() => fetch(`${base}/status`).then((r) => r.ok, () => false), 20_000, 'WebKitWebDriver');
    const s = await call('POST', '/session', {
      capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } } },
    });
    const S = `/session/${s.sessionId}`;
    await call('POST', `${S}/window/rect`, { width: 1200, height: 900 }).catch(() => {});
    // Runs `fn(...args)` in the page; its promise is awaited there, and an
    // exception comes back as one.
    const run = async (fn, args) => {
      const out = await call('POST', `${S}/execute/async`, {
        script: `const done = arguments[arguments.length - 1];
          Promise.resolve().then(() => (${fn}).apply(null, Array.from(arguments).slice(0, -1)))
            .then((value) => done({ value: value === undefined ? null : value }), (e) => done({ error: String(e && e.message || e) }));`,
        args,
      });
      if (out.error) throw new Error(out.error);
      return out.value;
    };
    const element = async (selector) => Object.values(await call('POST', `${S}/element`, { using: 'css selector', value: selector }))[0];
    return {
      name: `WebKitGTK ${s.capabilities.browserVersion}`,
      async goto(url) { await call('POST', `${S}/url`, { url }); },
      eval: (fn, ...args) => run(fn, args),
      async waitFor(fn, args = [], timeoutMs = 120_000) { return poll(() => run(fn, args), timeoutMs, String(fn)); },
      async click(selector) {
        // WebKitWebDriver does not scroll an element whose edge is in view,
        // and its click then lands outside the viewport: centre it first.
        await run((sel) => document.querySelector(sel).scrollIntoView({ block: 'center' }), [selector]);
        await call('POST', `${S}/element/${await element(selector)}/click`, {});
      },
      async stroke(selector, points, size) {
        const box = await run(boxOf, [selector]);
        // Pointer positions are integers in the viewport's CSS pixels.
        const at = ([x, y]) => ({ x: Math.round(box.x + x * box.width / size), y: Math.round(box.y + y * box.height / size) });
        const actions = [{ type: 'pointerMove', duration: 0, origin: 'viewport', ...at(points[0]) }, { type: 'pointerDown', button: 0 }];
        let last = points[0];
        for (const p of points.slice(1)) {
          for (let k = 1; k <= 8; k++) {
            actions.push({ type: 'pointerMove', duration: 10, origin: 'viewport', ...at([last[0] + (p[0] - last[0]) * k / 8, last[1] + (p[1] - last[1]) * k / 8]) });
          }
          last = p;
        }
        actions.push({ type: 'pointerUp', button: 0 });
        await call('POST', `${S}/actions`, { actions: [{ type: 'pointer', id: 'mouse', parameters: { pointerType: 'mouse' }, actions }] });
        await call('DELETE', `${S}/actions`).catch(() => {});
      },
      async upload(selector, name, text) { await run(setFile, [selector, name, text]); },
      async close() {
        await call('DELETE', S).catch(() => {});
        stopAll();
      },
    };
  } catch (e) {
    stopAll();
    throw e;
  }
}
