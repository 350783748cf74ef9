// A small static file server for the built site (`wharf site serve`): loopback only, GET/HEAD,
// correct MIME types (including Pagefind's .pf_* files), directory → index.html, and no path can
// leave the output directory.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.xml': 'application/atom+xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  // Pagefind: gzip'd binary index chunks, fragments, filters and metadata.
  '.pagefind': 'application/octet-stream',
  '.pf_meta': 'application/octet-stream',
  '.pf_index': 'application/octet-stream',
  '.pf_fragment': 'application/octet-stream',
  '.pf_filter': 'application/octet-stream',
};

export function mimeType(path: string): string {
  return MIME[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** Map a URL path to a file inside `root`, or null when it would escape it or is malformed. */
export async function resolveInside(root: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter(Boolean);
  if (segments.some((s) => s === '..' || s === '.')) return null;
  let file = join(root, ...segments);
  try {
    let st = await stat(file);
    if (st.isDirectory()) {
      file = join(file, 'index.html');
      st = await stat(file);
    }
    if (!st.isFile()) return null;
    // Symlinks must not lead out of the site either.
    const real = await realpath(file);
    return real === root || real.startsWith(root + sep) ? real : null;
  } catch {
    return null;
  }
}

export interface ServeOptions {
  dir: string;
  port?: number;
  host?: string;
}

/** Start the server; resolves once it listens. `port: 0` picks a free port (see server.address()). */
export async function serveSite(opts: ServeOptions): Promise<{ server: Server; url: string }> {
  const root = await realpath(resolve(opts.dir));
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const file = await resolveInside(root, path);
      if (!file) {
        const notFound = await resolveInside(root, '/404.html');
        res.writeHead(404, { 'content-type': MIME['.html']! });
        if (notFound && req.method === 'GET') createReadStream(notFound).pipe(res);
        else res.end('not found\n');
        return;
      }
      const st = await stat(file);
      res.writeHead(200, {
        'content-type': mimeType(file),
        'content-length': st.size,
        'x-content-type-options': 'nosniff',
        'cache-control': file.includes(`${sep}pagefind${sep}`) ? 'public, max-age=300' : 'no-cache',
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 4321, host, () => ok());
  });
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : opts.port;
  return { server, url: `http://${host}:${port}/` };
}
