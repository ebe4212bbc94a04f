// @ts-check
// The lab worker: a dedicated module worker that holds the lab's session
// (lab-host.js) for the page, which calls it through remote.js. The page's
// own thread never starts the wasm module where this worker can run.
import { serve } from './remote.js';
import { api, onNews } from './lab-host.js';

/** @type {any} */
const scope = self;
const post = (msg) => scope.postMessage(msg);
// A panic leaves the module unusable; the page starts a new worker.
scope.aelabPanic = (message) => post({ kind: 'panic', message });
onNews(post);
const handle = serve(api, post);
scope.onmessage = (ev) => { handle(ev.data); };
