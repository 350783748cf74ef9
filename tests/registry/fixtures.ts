// Test fixtures shared by the registry, sign and publish tests: tiny OCI image layouts (a config blob,
// one gzip'd tar layer made with tar-stream, an OCI manifest) and a loopback HTTP proxy in front of a
// real docker-registry that can inject faults, require a Bearer token handshake or corrupt answers.
import { createHash, randomBytes } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { writeLayout } from '../../publisher/registry/layout.ts';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../publisher/registry/media.ts';
import { freePort } from '../helpers/ports.ts';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface TinyImage {
  dir: string;
  digest: string;
  manifest: Buffer;
  config: Buffer;
  layer: Buffer;
}

/** Write a one-layer OCI image layout; `seed` makes different images. */
export async function makeTinyImage(dir: string, seed: string, extraBytes = 0): Promise<TinyImage> {
  const files: Record<string, string> = { 'hello.txt': `hello from ${seed}\n` };
  // Random padding does not compress, so the layer really is that large.
  if (extraBytes) files['pad.bin'] = randomBytes(extraBytes).toString('base64').slice(0, extraBytes);
  const rawTar = await tarOf(files);
  const layer = gzipSync(rawTar, { level: 1 });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/hello'], Labels: { 'org.opencontainers.image.title': seed } },
      rootfs: { type: 'layers', diff_ids: [sha(rawTar)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha(config), size: config.length },
      layers: [{ mediaType: OCI_LAYER_GZIP, digest: sha(layer), size: layer.length }],
    }),
  );
  await writeLayout(dir, [{ manifest, mediaType: OCI_MANIFEST, blobs: [config, layer] }]);
  return { dir, digest: sha(manifest), manifest, config, layer };
}

export type FaultDecision = 'pass' | 'fail500' | 'reset' | 'corrupt' | 'digestInvalid';

export interface ProxyOptions {
  /**
   * Decide per request what to do: pass it on, answer 500, reset the connection, corrupt a GET answer,
   * or answer 400 DIGEST_INVALID (what distribution 2.x says when a concurrent push races a manifest PUT).
   */
  fault?: (req: IncomingMessage) => FaultDecision;
  /** Require the Bearer token handshake with these Basic credentials at /token. */
  auth?: { username: string; password: string };
  /** Require plain Basic auth on every request (registries without a token service). */
  basic?: { username: string; password: string };
}

export interface FaultProxy {
  host: string;
  url: string;
  /** Requests seen, as "METHOD path". */
  log: string[];
  setFault(f: ProxyOptions['fault']): void;
  stop(): Promise<void>;
}

/** An HTTP proxy on loopback in front of `upstream` (host:port of a real registry). */
export async function startFaultProxy(upstream: string, opts: ProxyOptions = {}): Promise<FaultProxy> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const log: string[] = [];
  let fault = opts.fault;
  const token = `tok-${Math.random().toString(36).slice(2)}`;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    log.push(`${req.method} ${req.url}`);
    if (opts.auth && req.url?.startsWith('/token')) {
      const want = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
      if (req.headers.authorization !== want) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      const u = new URL(req.url, `http://${host}`);
      if (!u.searchParams.getAll('scope').length || u.searchParams.get('service') !== 'test-registry') {
        res.writeHead(400).end('missing scope or service');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    if (opts.auth && req.headers.authorization !== `Bearer ${token}`) {
      const scope = /^\/v2\/(.+)\/(manifests|blobs|tags)\//.exec(req.url ?? '')?.[1];
      res
        .writeHead(401, {
          'content-type': 'application/json',
          'www-authenticate': `Bearer realm="http://${host}/token",service="test-registry"${scope ? `,scope="repository:${scope}:pull,push"` : ''}`,
        })
        .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (opts.basic) {
      const want = `Basic ${Buffer.from(`${opts.basic.username}:${opts.basic.password}`).toString('base64')}`;
      if (req.headers.authorization !== want) {
        req.resume();
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
        return;
      }
    }
    const decision = fault?.(req) ?? 'pass';
    if (decision === 'fail500') {
      req.resume();
      res
        .writeHead(500, { 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}');
      return;
    }
    if (decision === 'digestInvalid') {
      req.resume();
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(
          '{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}',
        );
      return;
    }
    if (decision === 'reset') {
      req.socket.destroy();
      return;
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    const up = httpRequest(
      {
        host: upstream.split(':')[0],
        port: Number(upstream.split(':')[1]),
        method: req.method,
        path: req.url,
        headers,
      },
      (ur) => {
        if (decision === 'corrupt' && req.method === 'GET') {
          const chunks: Buffer[] = [];
          ur.on('data', (c: Buffer) => chunks.push(c));
          ur.on('end', () => {
            const body = Buffer.concat(chunks);
            const bad = Buffer.from(body.toString('utf8').replace(/}\s*$/, ',"x":1}'));
            const h = { ...ur.headers, 'content-length': String(bad.length) };
            res.writeHead(ur.statusCode ?? 502, h).end(bad);
          });
          return;
        }
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    host,
    url: `http://${host}`,
    log,
    setFault(f) {
      fault = f;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
