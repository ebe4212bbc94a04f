// A minimal static server for dist/, on 127.0.0.1 only (a secure context,
// so WebGPU is allowed). Used by scripts/serve.sh, the e2e test and the
// bench script. With `isolate`, every response carries COOP/COEP, so the
// page is cross-origin isolated (SharedArrayBuffer, the threaded module).
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
  '.png': 'image/png', '.svg': 'image/svg+xml', '.webmanifest': 'application/manifest+json',
};

export async function serve(root, port = 0, { isolate = false } = {}) {
  const base = path.resolve(root);
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      let file = path.normalize(path.join(base, decodeURIComponent(url.pathname)));
      if (!file.startsWith(base)) { res.writeHead(403).end(); return; }
      if (url.pathname.endsWith('/')) file = path.join(file, 'index.html');
      const body = await fs.readFile(file);
      const headers = { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-cache' };
      if (isolate) {
        headers['cross-origin-opener-policy'] = 'same-origin';
        headers['cross-origin-embedder-policy'] = 'require-corp';
      }
      res.writeHead(200, headers);
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

// node tests/e2e/serve.mjs [dist] [port] [--isolate]
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2).filter((a) => a !== '--isolate');
  const isolate = process.argv.includes('--isolate');
  const root = args[0] || 'dist';
  const { origin } = await serve(root, Number(args[1] || 8080), { isolate });
  console.log(`aelab: ${origin}/ (serving ${root}/${isolate ? ', cross-origin isolated' : ''}; Ctrl-C stops)`);
}
