// @ts-check
// The student's work, kept across reloads in IndexedDB: trained models,
// uploaded series, the anomaly comparison table and the settings. One
// object store of key → value (bytes, JSON-able objects).
//
// Every call resolves; a failure is reported through the `onProblem`
// callback (storage full, storage unavailable) and the work stays in
// memory, where the page can still download it.

const DB_NAME = 'aelab';
const STORE = 'work';
let dbPromise = null;
/** @type {(kind: string, what: string, error: unknown) => void} */
let problem = () => {};

export function onProblem(fn) { problem = fn; }

function request(r) {
  return new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
}

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((ok, fail) => {
      if (!('indexedDB' in self)) { fail(new Error('this browser has no IndexedDB')); return; }
      const r = indexedDB.open(DB_NAME, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE);
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error || new Error('IndexedDB refused to open'));
      r.onblocked = () => fail(new Error('IndexedDB is blocked by another tab'));
    }).catch((e) => { dbPromise = null; throw e; });
  }
  return dbPromise;
}

function isQuota(e) {
  return e && (e.name === 'QuotaExceededError' || e.code === 22 || /quota/i.test(String(e.message)));
}

// For the tests: `window.aelabTest.storageFails = 'quota'` makes every
// write fail as a full disk would.
function injected() {
  const f = self.aelabTest && self.aelabTest.storageFails;
  if (f === 'quota') return new DOMException('The quota has been exceeded (test).', 'QuotaExceededError');
  return null;
}

async function tx(mode, fn) {
  const db = await open();
  return new Promise((ok, fail) => {
    const t = db.transaction(STORE, mode);
    let result;
    t.oncomplete = () => ok(result);
    t.onerror = () => fail(t.error);
    t.onabort = () => fail(t.error || new Error('the storage transaction was aborted'));
    request(fn(t.objectStore(STORE))).then((r) => { result = r; }, () => {});
  });
}

// Reads a key; resolves to undefined when it is missing or storage fails.
export async function get(key) {
  try { return await tx('readonly', (s) => s.get(key)); } catch (e) { problem('read', key, e); return undefined; }
}

// Writes a key; resolves to true when stored. `what` names the work for
// the message when it cannot be stored.
export async function put(key, value, what = key) {
  try {
    const e = injected();
    if (e) throw e;
    await tx('readwrite', (s) => s.put(value, key));
    return true;
  } catch (e) {
    problem(isQuota(e) ? 'quota' : 'write', what, e);
    return false;
  }
}

export async function del(key) {
  try { await tx('readwrite', (s) => s.delete(key)); } catch (e) { problem('write', key, e); }
}

export async function keys() {
  try { return await tx('readonly', (s) => s.getAllKeys()); } catch { return []; }
}

// Empties the store (Reset lab).
export async function clear() {
  await tx('readwrite', (s) => s.clear());
}
