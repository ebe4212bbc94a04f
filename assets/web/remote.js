// @ts-check
// Calls into the lab's session where it lives: in the lab worker
// (lab-worker.js) where the page can have workers, or on the page's own
// thread (file://, aelab.html). The page sees the same API either way:
// each method of a remote object resolves to its result, and a getter is a
// method with no arguments. No computation here.
//
// The protocol (one message each way per call):
//   page → host  { id, ref, method, args }   calls `method` of object `ref`
//                                              (0: the host's API, lab-host.js)
//                { id, ref, method: '$free' } forgets object `ref` and frees it
//   host → page  { id, value }               the answer; one of the module's
//                                              objects (a Lab, a lab handle, a
//                                              TrainSession, a LossChart) stays
//                                              with the host and comes as
//                                              { $ref: n }, a remote object here
//                { id, error: { message, kind } }
//                { kind, ... }                news from the host ('panic',
//                                              'gpu-lost'): `onNews`
// Errors keep the core's `kind` (cancelled, diverged, bad-input, device);
// a lost host fails every call with kind 'worker-lost'.

const errText = (e) => (e && e.message) ? e.message : String(e);

/** Whether `v` is one of the wasm module's objects (wasm-bindgen's classes). */
const isModuleObject = (v) => !!v && typeof v === 'object' && typeof v.free === 'function' && '__wbg_ptr' in v;

/**
 * The host's side: answers the page's calls on `api` and on the objects
 * its calls return. `post` sends an answer to the page.
 * @param {object} api @param {(msg: any) => void} post
 * @returns {(msg: any) => Promise<void>}
 */
export function serve(api, post) {
  /** @type {Map<number, any>} */
  const objects = new Map([[0, api]]);
  let next = 1;
  // A remote object passed back as an argument is the object itself.
  const resolve = (a) => (a && typeof a === 'object' && typeof a.$ref === 'number' && objects.has(a.$ref) ? objects.get(a.$ref) : a);
  return async (msg) => {
    const { id, ref, method } = msg;
    try {
      const args = (msg.args || []).map(resolve);
      const target = objects.get(ref);
      if (!target) throw new Error(`object ${ref} was freed`);
      if (method === '$free') {
        objects.delete(ref);
        if (ref !== 0 && isModuleObject(target)) target.free();
        post({ id, value: undefined });
        return;
      }
      const member = target[method];
      let value = typeof member === 'function' ? await member.apply(target, args) : member;
      if (isModuleObject(value)) {
        objects.set(next, value);
        value = { $ref: next++ };
      }
      post({ id, value });
    } catch (e) {
      post({ id, error: { message: errText(e), kind: (e && e.kind) || null } });
    }
  };
}

/** The page's side: remote objects whose calls `send` carries to the host. */
export class Remote {
  /** @param {(msg: any) => void} send */
  constructor(send) {
    this.send = send;
    this.nextId = 1;
    /** @type {Map<number, { resolve: (v: any) => void, reject: (e: any) => void }>} */
    this.pending = new Map();
    /** Why the host is gone, once it is: every call then fails with it. */
    this.lostWhy = '';
    /** News from the host that answers no call ('panic', 'gpu-lost'). @type {(msg: any) => void} */
    this.onNews = () => {};
    /** The ref of each remote object, to pass it back as an argument. @type {WeakMap<object, number>} */
    this.refs = new WeakMap();
  }

  /** The host's API. @returns {any} */
  root() { return this.proxy(0); }

  /** @param {number} ref @param {string} method @param {any[]} args */
  call(ref, method, args) {
    return new Promise((resolve, reject) => {
      if (this.lostWhy) { reject(Object.assign(new Error(this.lostWhy), { kind: 'worker-lost' })); return; }
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.send({ id, ref, method, args: args.map((a) => (a && typeof a === 'object' && this.refs.has(a) ? { $ref: this.refs.get(a) } : a)) });
    }).then((v) => (v && typeof v === 'object' && typeof v.$ref === 'number' ? this.proxy(v.$ref) : v));
  }

  /** @param {number} ref */
  proxy(ref) {
    const p = new Proxy({}, {
      get: (_, name) => {
        // Not a promise: `await` of a remote object is the object.
        if (name === 'then' || typeof name === 'symbol') return undefined;
        const method = name === 'free' ? '$free' : name;
        return (...args) => this.call(ref, method, args);
      },
    });
    this.refs.set(p, ref);
    return p;
  }

  /** An answer or news from the host. */
  receive(msg) {
    if (msg.id === undefined) { this.onNews(msg); return; }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(Object.assign(new Error(msg.error.message), { kind: msg.error.kind }));
    else p.resolve(msg.value);
  }

  /** The host is gone: every call, pending or later, fails with `why`. */
  lost(why) {
    this.lostWhy = why;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(Object.assign(new Error(why), { kind: 'worker-lost' }));
  }
}
