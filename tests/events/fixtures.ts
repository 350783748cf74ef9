// Shared pieces for the events tests: a fresh catalog with an app, records that stages would write,
// and a loopback webhook receiver that verifies Wharf-Signature.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatalogStore } from '../../catalog/store.ts';
import { newRunId } from '../../catalog/run-id.ts';
import type { Artifact, AppInput } from '../../catalog/schema.ts';
import { verifySignature } from '../../publisher/events/signature.ts';
import type { WharfEvent } from '../../publisher/events/types.ts';

export const redisApp: AppInput = {
  id: 'redis',
  name: 'redis',
  title: { en: 'Redis' },
  category: 'database',
  upstream: { backend: 'github', repo: 'redis/redis', scheme: 'semver' },
  recipes: {
    container: [
      {
        kind: 'container',
        tag: '8.6.4-oe2403sp4',
        dockerfile: '8.6.4/24.03-lts-sp4/Dockerfile',
        version: '8.6.4',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64'],
      },
    ],
  },
};

export async function freshCatalog(config: Record<string, unknown> = {}): Promise<CatalogStore> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-events-'));
  return CatalogStore.init(join(dir, 'catalog'), config as never);
}

export function baseArtifact(tag = '8.6.4-oe2403sp4'): Artifact {
  return {
    app: 'redis',
    kind: 'container',
    id: tag,
    version: '8.6.4',
    osVersion: '24.03-lts-sp4',
    arches: ['amd64'],
    records: {},
  };
}

export const digest = (c: string) => `sha256:${c.repeat(64).slice(0, 64)}`;

/** Commit one stage result on the redis artifact, like a pipeline stage does. */
export async function commitStage(
  store: CatalogStore,
  stage: 'build' | 'scan' | 'publish',
  tag = '8.6.4-oe2403sp4',
): Promise<string> {
  const runId = newRunId();
  const at = new Date().toISOString();
  const r = await store.commit(
    {
      subject: `redis ${tag}: ${stage}`,
      trailers: {
        App: 'redis',
        Version: '8.6.4',
        Kind: 'container',
        Artifact: tag,
        Stage: stage,
        'Run-Id': runId,
      },
    },
    async (tx) => {
      await tx.updateArtifact('redis', 'container', tag, (a) => {
        const x = a ?? baseArtifact(tag);
        if (stage === 'build') x.records.build = { runId, at, status: 'ok', manifestDigest: digest('a') };
        if (stage === 'scan')
          x.records.scan = {
            runId,
            at,
            status: 'ok',
            summary: {
              total: { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 0, UNKNOWN: 0 },
              fixable: { CRITICAL: 0, HIGH: 1, MEDIUM: 0, LOW: 0, UNKNOWN: 0 },
            },
            newSinceLast: ['CVE-2026-0001'],
          };
        if (stage === 'publish') {
          x.records.publish = {
            runId,
            at,
            status: 'ok',
            digest: digest('a'),
            targets: [{ target: 'local', ref: `127.0.0.1:5000/openeuler/redis:${tag}`, status: 'ok' }],
          };
          delete x.pending;
        }
        return x;
      });
    },
  );
  return r.sha!;
}

export interface Received {
  event: WharfEvent;
  verified: boolean;
  attempt: number;
  contentType: string;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Answer with this status (and headers) for the next n requests (then 200). */
  failNext(n: number, status?: number, headers?: Record<string, string>): void;
  /** Delay every answer by ms. */
  delay(ms: number): void;
  close(): Promise<void>;
}

export async function startReceiver(secret: string | null): Promise<Receiver> {
  const received: Received[] = [];
  let failing = 0;
  let failStatus = 500;
  let failHeaders: Record<string, string> = {};
  let delayMs = 0;
  const read = (req: IncomingMessage) =>
    new Promise<Buffer>((res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res(Buffer.concat(chunks)));
    });
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    if (failing > 0) {
      failing--;
      res.writeHead(failStatus, failHeaders).end();
      return;
    }
    const verified = secret
      ? verifySignature(secret, req.headers['wharf-signature'] as string | undefined, body).ok
      : false;
    received.push({
      event: JSON.parse(body.toString('utf8')) as WharfEvent,
      verified,
      attempt: Number(req.headers['wharf-delivery-attempt']),
      contentType: String(req.headers['content-type']),
    });
    res.writeHead(secret && !verified ? 401 : 204).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    failNext(n, status = 500, headers = {}) {
      failing = n;
      failStatus = status;
      failHeaders = headers;
    },
    delay(ms) {
      delayMs = ms;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
