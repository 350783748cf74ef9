// npm run bench:events — event throughput and latency against a loopback webhook receiver that checks
// every Wharf-Signature. Prints plain lines:
//   derive:   events derived from catalog commits per second (git log + cat-file + diff)
//   deliver:  signed deliveries per second (each marked done in the fsync'd outbox journal)
//   latency:  from the catalog commit returning to the receiver having the event (p50, p99), with a
//             delivery loop like the daemon's (sync + deliver on a short poll)
//   webhooks: signed GitHub deliveries into the daemon's hook handler over a synthetic catalog
//             (BENCH_WEBHOOK_APPS apps, BENCH_WEBHOOKS deliveries, 8 in flight): a run of no-op
//             deliveries (repositories no app maps to) and a run where every delivery queues a rebuild
//             (a new release of a distinct app, cycling), each: deliveries per second and p50/p99 of the
//             answer; then how long the rebuild spool took to drain them into the catalog, in how many commits
import { createHmac } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatalogStore } from '../../catalog/store.ts';
import { newRunId } from '../../catalog/run-id.ts';
import {
  Outbox,
  deliverPending,
  eventsSetup,
  syncOutbox,
  verifySignature,
} from '../../publisher/events/index.ts';
import { createHookHandler, parseTriggersConfig, RebuildSpool } from '../../publisher/triggers/index.ts';
import { buildSyntheticCatalog } from './synthetic-catalog.ts';

const N = Number(process.env.BENCH_EVENTS ?? 300);
const LATENCY_N = Number(process.env.BENCH_LATENCY_EVENTS ?? 100);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 50);
const SECRET = 'bench-secret';
process.env.WHARF_BENCH_SECRET = SECRET;

const received = new Map<string, number>();
let bad = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (!verifySignature(SECRET, req.headers['wharf-signature'] as string, body).ok) bad++;
    const ev = JSON.parse(body.toString('utf8')) as { subject: string };
    if (!received.has(ev.subject)) received.set(ev.subject, performance.now());
    res.writeHead(204).end();
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;

const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-events-'));
const store = await CatalogStore.init(join(dir, 'catalog'), {
  name: 'bench',
  events: { subscriptions: [{ name: 'bench', url, secretEnv: 'WHARF_BENCH_SECRET' }] },
} as never);
const setup = eventsSetup(await store.config());
const outbox = new Outbox(store.dir);
await store.commit({ subject: 'bench app' }, (tx) => {
  tx.putApp({ id: 'bench', name: 'bench', title: { en: 'Bench' }, category: 'tools' });
});
await syncOutbox(store, outbox, setup);
await deliverPending(outbox, setup.cfg);
received.clear();

/** One commit = one stage result on its own artifact = one image.built event with subject bench/<tag>. */
async function commitResult(i: number): Promise<string> {
  const tag = `1.0.${i}-oe2403sp4`;
  const runId = newRunId();
  await store.commit(
    {
      subject: `bench ${tag}: build`,
      trailers: { App: 'bench', Artifact: tag, Stage: 'build', 'Run-Id': runId },
    },
    (tx) => {
      tx.putArtifact({
        app: 'bench',
        kind: 'container',
        id: tag,
        version: `1.0.${i}`,
        osVersion: '24.03-lts-sp4',
        arches: ['amd64'],
        records: { build: { runId, at: new Date().toISOString(), status: 'ok' } },
      });
    },
  );
  return `bench/${tag}`;
}

console.log(
  `events bench: 1 subscription, loopback receiver verifying HMAC signatures, node ${process.version}`,
);
for (let i = 0; i < N; i++) await commitResult(i);
let t = performance.now();
const sync = await syncOutbox(store, outbox, setup);
const deriveS = (performance.now() - t) / 1000;
console.log(
  `derive: ${sync.events} events from ${sync.commits} commits in ${deriveS.toFixed(2)} s (${Math.round(sync.events / deriveS)} events/s)`,
);
t = performance.now();
const d = await deliverPending(outbox, setup.cfg, { maxPerSubscription: N + 10 });
const deliverS = (performance.now() - t) / 1000;
console.log(
  `deliver: ${d.delivered} events in ${deliverS.toFixed(2)} s (${Math.round(d.delivered / deliverS)} events/s delivered, ${bad} bad signatures)`,
);

// Latency: a background loop like the daemon's events job, polling every POLL_MS.
received.clear();
let stop = false;
const loop = (async () => {
  while (!stop) {
    await syncOutbox(store, outbox, setup);
    await deliverPending(outbox, setup.cfg);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
})();
const committedAt = new Map<string, number>();
for (let i = N; i < N + LATENCY_N; i++) {
  const subject = await commitResult(i);
  committedAt.set(subject, performance.now());
  await new Promise((r) => setTimeout(r, 20));
}
const deadline = Date.now() + 30_000;
while (received.size < LATENCY_N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
stop = true;
await loop;
const lat = [...committedAt].map(([s, at]) => (received.get(s) ?? Infinity) - at).sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)]!;
console.log(
  `latency commit→delivery: p50 ${pct(50).toFixed(0)} ms, p99 ${pct(99).toFixed(0)} ms over ${LATENCY_N} commits (delivery loop polling every ${POLL_MS} ms)`,
);
server.close();
await rm(dir, { recursive: true, force: true });

// ---------------------------------------------------------------- webhook deliveries
{
  const APPS = Number(process.env.BENCH_WEBHOOK_APPS ?? 1000);
  const HOOKS = Number(process.env.BENCH_WEBHOOKS ?? 2000);
  const HOOK_SECRET = 'bench-hook-secret';
  const wdir = await mkdtemp(join(tmpdir(), 'wharf-bench-hooks-'));
  const wstore = await buildSyntheticCatalog(join(wdir, 'catalog'), APPS);
  const spool = new RebuildSpool(wstore);
  const handler = createHookHandler({
    store: wstore,
    spool,
    config: parseTriggersConfig({ github: { secretEnv: 'WHARF_BENCH_HOOK' } }),
    env: { WHARF_BENCH_HOOK: HOOK_SECRET },
  });
  const hooks = createServer((req, res) => void handler(req, res, 'github'));
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(hooks.address() as { port: number }).port}/hooks/github`;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const post = (body: string, id: string) =>
    new Promise<number>((ok, fail) => {
      const req = request(
        hookUrl,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'x-github-event': 'release',
            'x-github-delivery': id,
            'x-hub-signature-256': `sha256=${createHmac('sha256', HOOK_SECRET).update(body).digest('hex')}`,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => ok(res.statusCode!));
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  const release = (repo: string, tag: string) =>
    JSON.stringify({
      action: 'published',
      release: { tag_name: tag },
      repository: { full_name: repo, html_url: `https://github.com/${repo}` },
    });
  const p = (xs: number[], q: number) =>
    [...xs].sort((a, b) => a - b)[Math.ceil((q / 100) * xs.length) - 1] ?? NaN;
  /** HOOKS deliveries, 8 in flight; `queues` makes every one a new release of a catalog app. */
  const run = async (label: string, queues: boolean) => {
    const times: number[] = [];
    let next = 0;
    let failed = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < HOOKS) {
          const i = next++;
          const body = queues
            ? release(`example/app-${String(i % APPS).padStart(5, '0')}`, `v3.${Math.floor(i / APPS)}.${i}`)
            : release(`other-org/repo-${i}`, `v1.${i}.0`);
          const s0 = performance.now();
          if ((await post(body, `bench-${label}-${i}`)) !== 202) failed++;
          times.push(performance.now() - s0);
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    console.log(
      `webhooks ${label}: ${HOOKS} signed deliveries over ${APPS} apps in ${secs.toFixed(1)} s ` +
        `(${Math.round(HOOKS / secs)} deliveries/s, ${failed} not 202): p50 ${p(times, 50).toFixed(0)} ms, p99 ${p(times, 99).toFixed(0)} ms`,
    );
    return t0;
  };
  await run('no-op', false);
  const t0 = await run('queueing a rebuild', true);
  await spool.settled();
  const drainS = (performance.now() - t0) / 1000;
  console.log(
    `webhooks drained: ${spool.stats.drained} rebuild requests committed ${drainS.toFixed(1)} s after the first delivery, ` +
      `in ${spool.stats.commits} commits (${spool.stats.drainFailures} failed drains, ${spool.stats.failedRequests} failed requests)`,
  );
  await spool.stop();
  agent.destroy();
  hooks.close();
  await rm(wdir, { recursive: true, force: true });
}
