// Webhook floods against a real `wharf daemon` process on loopback (issue 11 items 6, 7, 8 and the
// forged log line of item 10), over a 1,000-app catalog:
//   - 1,500 held connections each announcing a 1 MiB body: the daemon's RSS (from /proc) stays under
//     500 MB — bodies are read only after the cheap checks, at most maxConcurrentBodies at once;
//   - 20,000 requests to /hooks/<random>: /metrics keeps its bounded label set;
//   - 2,000 valid signed deliveries while another process keeps a core busy, answered from the app
//     index (one full catalog load for all of them), half of them a new release of a catalog app (each
//     of the 1,000 apps once) and half repositories no app maps to: p99 under 1 s over all 2,000 and
//     over the 1,000 that queue a rebuild (they are answered 202 once spooled, publisher/triggers/
//     spool.ts); then the spool's writer drains them: every one pending in the catalog, in a few commits;
//   - a signed `full_name` with a newline does not forge a log line.
import { createHmac, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { request, Agent } from 'node:http';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { buildSyntheticCatalog } from '../../scripts/bench/synthetic-catalog.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SECRET = 'flood-hook-secret-0451';
const APPS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let tmp: string;
let child: ResultPromise;
let url = '';
let port = 0;
let pid = 0;
let catalogDir = '';
const lines: string[] = [];

async function health(): Promise<Record<string, unknown>> {
  return (await (await fetch(`${url}/healthz`)).json()) as Record<string, unknown>;
}

async function rssMb(p: number): Promise<number> {
  const status = await readFile(`/proc/${p}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wharf-flood-'));
  const store = await buildSyntheticCatalog(join(tmp, 'catalog'), APPS);
  catalogDir = store.dir;
  const off = { enabled: false };
  await store.commit({ subject: 'daemon config' }, (tx) => {
    tx.putConfig({
      name: 'flood',
      daemon: {
        jobs: { watch: off, pipeline: off, rescan: off, site: off, events: off },
        triggers: { github: { secretEnv: 'WHARF_FLOOD_HOOK' } },
      },
    } as never);
  });
  // Text logs (not JSON): the forged-line check reads them as an operator would.
  child = execa(process.execPath, ['scripts/wharf.mjs', 'daemon', '--catalog', store.dir, '--port', '0'], {
    cwd: ROOT,
    env: { WHARF_FLOOD_HOOK: SECRET },
    reject: false,
    buffer: false,
  });
  let partial = '';
  child.stdout!.on('data', (b: Buffer) => {
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  const end = Date.now() + 60_000;
  while (!url) {
    const started = lines.find((l) => l.includes('daemon started'));
    const m = started && /url=(http:\/\/127\.0\.0\.1:(\d+))/.exec(started);
    if (m) {
      url = m[1]!;
      port = Number(m[2]);
    } else if (Date.now() > end) throw new Error(`daemon did not start: ${lines.slice(-5).join('\n')}`);
    else await sleep(50);
  }
  pid = (await health()).pid as number;
}, 180_000);

afterAll(async () => {
  child?.kill('SIGTERM');
  await child?.catch(() => {});
  await rm(tmp, { recursive: true, force: true });
});

describe('webhook floods on a real daemon', () => {
  it('1,500 held connections announcing 1 MiB each keep the daemon under 500 MB', async () => {
    const before = await rssMb(pid);
    const head = (i: number) =>
      'POST /hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${1024 * 1024}\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: held-${i}\r\n` +
      `X-Hub-Signature-256: sha256=${'0'.repeat(64)}\r\n\r\n`;
    // Everything but the last byte: the request is never complete.
    const almost = Buffer.alloc(1024 * 1024 - 1, 0x20);
    const sockets: Socket[] = [];
    const statuses = new Map<number, number>();
    let answered = 0;
    let peak = before;
    const sampler = setInterval(() => {
      rssMb(pid).then(
        (r) => (peak = Math.max(peak, r)),
        () => {},
      );
    }, 100);
    try {
      for (let i = 0; i < 1500; i += 100) {
        await Promise.all(
          Array.from({ length: 100 }, (_, j) => {
            const n = i + j;
            return new Promise<void>((ok) => {
              const s = connect(port, '127.0.0.1', () => ok());
              let first = true;
              const done = () => {
                if (first) answered++;
                first = false;
              };
              s.on('data', (b: Buffer) => {
                const st = Number(/^HTTP\/1\.1 (\d{3})/.exec(b.toString('latin1'))?.[1]);
                if (first && st) statuses.set(st, (statuses.get(st) ?? 0) + 1);
                done();
              });
              s.on('close', done);
              s.on('error', () => ok());
              s.write(head(n));
              s.write(almost);
              sockets.push(s);
            });
          }),
        );
      }
      // Wait (no timing assertion) until every connection was answered or closed by the daemon:
      // refused at once for want of a body slot (503), or cut off by the body deadline (408).
      const end = Date.now() + 90_000;
      while (answered < 1500 && Date.now() < end) await sleep(100);
    } finally {
      clearInterval(sampler);
      for (const s of sockets) s.destroy();
    }
    console.log(
      `held connections: RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB; answers ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(answered).toBe(1500);
    expect(peak).toBeLessThan(500);
    expect([...statuses.keys()].every((s) => s === 503 || s === 408)).toBe(true);
    // Some held a body slot until the body deadline (408); how many depends on how fast the 1,500
    // connected (a slot freed by a 408 takes a later connection), so only its presence is asserted.
    expect(statuses.get(408) ?? 0).toBeGreaterThan(0);
    expect((await health()).status).not.toBe('stopping');
  }, 240_000);

  it('20,000 requests to /hooks/<random> leave /metrics with its bounded label set', async () => {
    const agent = new Agent({ keepAlive: false, maxSockets: 64 });
    const one = (name: string) =>
      new Promise<number>((ok, fail) => {
        const req = request(`${url}/hooks/${name}`, { method: 'POST', agent }, (res) => {
          res.resume();
          res.on('end', () => ok(res.statusCode!));
        });
        req.on('error', fail);
        req.end('{}');
      });
    let next = 0;
    const codes = new Map<number, number>();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < 20_000) {
          next++;
          const name = randomBytes(9)
            .toString('base64')
            .replace(/[^a-z]/gi, 'x')
            .toLowerCase();
          const c = await one(name);
          codes.set(c, (codes.get(c) ?? 0) + 1);
        }
      }),
    );
    agent.destroy();
    expect(Object.fromEntries(codes)).toEqual({ 404: 20_000 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const series = metrics.split('\n').filter((l) => l.startsWith('wharf_triggers_total{'));
    console.log(
      `/metrics after 20,000 random hooks: ${metrics.length} bytes, ${series.length} trigger series`,
    );
    expect(series.length).toBeLessThanOrEqual(4 * 3); // (github|gitee|gitlab|unknown) × outcome
    expect(series).toContain('wharf_triggers_total{forge="unknown",outcome="refused"} 20000');
    expect(metrics.length).toBeLessThan(64 * 1024);
  }, 240_000);

  it('2,000 valid signed deliveries with a core busy elsewhere, half queueing a rebuild: p99 under 1 s, then all pending in a few commits', async () => {
    const headBefore = (await health()).head as string;
    // Another process keeps one core busy for the whole run (the daemon shares the machine).
    const burner = execa(
      process.execPath,
      ['-e', 'const end = Date.now() + 600000; while (Date.now() < end) {}'],
      {
        reject: false,
      },
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const post = (body: string, delivery: string) =>
      new Promise<{ status: number; body: string }>((ok, fail) => {
        const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
        const req = request(
          `${url}/hooks/github`,
          {
            method: 'POST',
            agent,
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              'x-github-event': 'release',
              'x-github-delivery': delivery,
              'x-hub-signature-256': sig,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => ok({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
          },
        );
        req.on('error', fail);
        req.end(body);
      });
    const release = (repo: string, tag: string) =>
      JSON.stringify({
        action: 'published',
        release: { tag_name: tag, prerelease: false },
        repository: { full_name: repo, html_url: `https://github.com/${repo}` },
      });
    const appOf = (i: number) => `app-${String(i / 2).padStart(5, '0')}`;
    const all: number[] = [];
    const queuing: number[] = [];
    let accepted = 0;
    const codes = new Map<number, number>();
    let next = 0;
    try {
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < 2000) {
            const i = next++;
            // Every other one is a new release of a catalog app (each of the 1,000 apps once: a
            // rebuild is queued); the rest are repositories no app maps to, as an organisation-wide
            // hook delivers them.
            const queues = i % 2 === 0;
            const body = queues
              ? release(`example/${appOf(i)}`, `v3.0.${i}`)
              : release(`other-org/repo-${i}`, `v1.${i}.0`);
            const t0 = performance.now();
            const r = await post(body, `flood-${i}`);
            const ms = performance.now() - t0;
            all.push(ms);
            if (queues) queuing.push(ms);
            codes.set(r.status, (codes.get(r.status) ?? 0) + 1);
            const out = JSON.parse(r.body) as {
              accepted?: boolean;
              delivery?: string;
              queued?: { app: string; version?: string }[];
            };
            // The answer says it was accepted and names the delivery; it does not claim a commit.
            if (out.accepted && /^[0-9a-f-]{36}$/.test(out.delivery ?? '')) accepted++;
            expect(out.queued).toEqual(queues ? [{ app: appOf(i), version: `3.0.${i}` }] : []);
          }
        }),
      );
    } finally {
      burner.kill();
      agent.destroy();
    }
    const pct = (xs: number[], p: number) =>
      [...xs].sort((a, b) => a - b)[Math.ceil((p / 100) * xs.length) - 1]!;
    // The spool's writer drains the 1,000 requests into the catalog (waited for, not timed).
    type Spool = { backlog: number; drained: number; commits: number; drainFailures: number };
    let spool: Spool = { backlog: -1, drained: 0, commits: 0, drainFailures: 0 };
    const end = Date.now() + 300_000;
    while (Date.now() < end) {
      spool = ((await health()).triggers as { spool: Spool }).spool;
      if (spool.drained >= 1000 && spool.backlog === 0) break;
      await sleep(200);
    }
    const idx = ((await health()).triggers as { index: Record<string, number> }).index;
    const commits = (
      await execa('git', ['log', '--format=%H', '--grep=^Stage: trigger$', `${headBefore}..HEAD`], {
        cwd: catalogDir,
      })
    ).stdout
      .split('\n')
      .filter(Boolean);
    console.log(
      `2,000 signed deliveries: p50 ${pct(all, 50).toFixed(0)} ms, p99 ${pct(all, 99).toFixed(0)} ms; ` +
        `the 1,000 queueing a rebuild: p50 ${pct(queuing, 50).toFixed(0)} ms, p99 ${pct(queuing, 99).toFixed(0)} ms; ` +
        `drained into ${commits.length} commits; spool ${JSON.stringify(spool)}; index ${JSON.stringify(idx)}`,
    );
    expect(Object.fromEntries(codes)).toEqual({ 202: 2000 });
    expect(accepted).toBe(2000);
    expect(idx.fullLoads).toBe(1);
    expect(idx.apps).toBe(APPS);
    expect(pct(all, 99)).toBeLessThan(1000);
    expect(pct(queuing, 99)).toBeLessThan(1000);
    // Every request ended up pending, as a queueRebuild of it would have written, in a few commits.
    expect(spool).toMatchObject({ backlog: 0, drained: 1000, drainFailures: 0 });
    expect(commits.length).toBeGreaterThan(0);
    expect(commits.length).toBeLessThanOrEqual(100);
    const snap = await (await CatalogStore.open(catalogDir)).load();
    const missing: string[] = [];
    for (let i = 0; i < 2000; i += 2) {
      const e = snap.apps.get(appOf(i))!;
      const a = e.artifacts.find((x) => x.id === `3.0.${i}-oe2403sp4`);
      if (!a?.pending || !/→ 3\.0\.\d+$/.test(a.pending.reason) || e.upstream?.latest !== `3.0.${i}`)
        missing.push(appOf(i));
    }
    expect(missing).toEqual([]);
  }, 600_000);

  it('a signed full_name with a newline stays inside one log line', async () => {
    const body = JSON.stringify({
      action: 'published',
      release: { tag_name: 'v9.9.9' },
      repository: {
        full_name: 'evil/x\n2026-01-01T00:00:00.000Z error forged line',
        html_url: 'https://github.com/e/x',
      },
    });
    const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    const res = await fetch(`${url}/hooks/github`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'release',
        'x-github-delivery': 'forge-log-1',
        'x-hub-signature-256': sig,
      },
    });
    await res.text();
    const end = Date.now() + 10_000;
    while (!lines.some((l) => l.includes('forged line')) && Date.now() < end) await sleep(50);
    const hit = lines.filter((l) => l.includes('forged line'));
    expect(hit.length).toBe(1);
    expect(hit[0]).toMatch(/^\S+ (info|warn) +hook github /);
    expect(lines.some((l) => l.startsWith('2026-01-01T00:00:00.000Z error'))).toBe(false);
  }, 60_000);
});
