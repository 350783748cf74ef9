// Loopback HTTP servers that answer like the real APIs, and small builders for watch tests.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pLimit from 'p-limit';
import { afterAll, beforeAll } from 'vitest';
import { zApp, type App, type AppInput, type UpstreamState } from '../../catalog/schema.ts';
import { zWatchConfig, type WatchConfig } from '../../publisher/watch/config.ts';
import { HttpClient } from '../../publisher/watch/http.ts';
import { checkApp, type Outcome } from '../../publisher/watch/sweep.ts';

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface FakeServer {
  url: string;
  host: string;
  /** Every request seen: method, path+query, headers. */
  log: { path: string; headers: IncomingMessage['headers'] }[];
  route(path: string, h: Handler): void;
  close(): Promise<void>;
}

export async function startServer(): Promise<FakeServer> {
  const routes = new Map<string, Handler>();
  const log: FakeServer['log'] = [];
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    log.push({ path: url.pathname + url.search, headers: req.headers });
    const h = routes.get(url.pathname);
    if (!h) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
      return;
    }
    try {
      await h(req, res, url);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    log,
    route: (p, h) => void routes.set(p, h),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A loopback server started before this file's tests and closed after them; the handle it returns
 * forwards to that server (use it inside tests and hooks, not at module load).
 */
export function useServer(): FakeServer {
  let s: FakeServer | undefined;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(() => s?.close());
  const live = (): FakeServer => {
    if (!s) throw new Error('useServer: the server starts in beforeAll; use it inside a test or hook');
    return s;
  };
  return {
    get url() {
      return live().url;
    },
    get host() {
      return live().host;
    },
    get log() {
      return live().log;
    },
    route: (p, h) => live().route(p, h),
    close: () => live().close(),
  };
}

/** Answer with a body and a strong ETag; a matching If-None-Match gets 304 (as GitHub does). */
export function sendWithEtag(
  req: IncomingMessage,
  res: ServerResponse,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  const etag = `"${createHash('sha1').update(body).digest('hex')}"`;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag, ...headers }).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', etag, ...headers }).end(body);
}

export function testConfig(over: Record<string, unknown> = {}): WatchConfig {
  return zWatchConfig.parse({ retries: 2, retryBaseMs: 10, timeoutMs: 5000, maxRetryWaitMs: 3000, ...over });
}

export function makeApp(input: Partial<AppInput> & { id: string; upstream: AppInput['upstream'] }): App {
  return zApp.parse({ name: input.id, title: { en: input.id }, category: 'tools', ...input });
}

/** Check one app the way the sweep does (fresh client, shared memo), returning the outcome. */
export async function check(
  app: App,
  prev?: UpstreamState,
  cfg: WatchConfig = testConfig(),
  env: NodeJS.ProcessEnv = {},
): Promise<{ outcome: Outcome; http: HttpClient }> {
  const http = new HttpClient(cfg);
  const memo = new Map<string, Promise<unknown>>();
  const spawn = pLimit(2);
  try {
    const outcome = await checkApp(app, prev, {
      cfg,
      env,
      http,
      memo: <T>(k: string, fn: () => Promise<T>) => {
        if (!memo.has(k)) memo.set(k, fn());
        return memo.get(k) as Promise<T>;
      },
      spawnSlot: (fn) => spawn(fn),
    });
    return { outcome, http };
  } finally {
    await http.close();
  }
}

export function versionsOf(o: Outcome): string[] {
  if (o.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(o)}`);
  return o.policy.versions;
}
