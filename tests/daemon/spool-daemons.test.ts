// Issue 11 items 8 and 9 with real daemon processes on loopback.
// - Item 8: a webhook is answered 202 once its rebuild request is durably spooled, before any catalog
//   commit — so nothing acknowledged may be lost when the daemon is SIGKILLed right after the answer.
//   The test holds the catalog lock itself, so the daemon's commit cannot happen before the kill (the
//   202 arriving while the lock is held also shows the answer does not wait for a commit); then a new
//   daemon replays the spool and the rebuild is pending, committed once.
// - Item 9: two daemons on one catalog (the probe saw 9 of 299 webhooks answered 500 on index.lock):
//   300 signed deliveries split between them, several per app, all answered 202; a delivery id sent to
//   both is accepted once; both spools drain with no error, every app ends at the newest version sent
//   to it with that artifact pending, and the work tree is clean.
import { createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { isHeld, tryFileLock } from '../../catalog/lock.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { lockPath } from '../../catalog/store/layout.ts';
import { buildSyntheticCatalog } from '../../scripts/bench/synthetic-catalog.ts';
import { containerRecipe } from '../helpers/apps.ts';
import { ROOT } from '../helpers/wharf.ts';

const SECRET = 'spool-kill-secret-1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: ResultPromise[] = [];
const tmps: string[] = [];
const off = { enabled: false };
const daemonConfig = {
  jobs: { watch: off, pipeline: off, rescan: off, site: off, events: off },
  triggers: { github: { secretEnv: 'WHARF_SPOOL_HOOK' } },
};

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.catch(() => {})));
  for (const t of tmps) await rm(t, { recursive: true, force: true });
});

const signed = (url: string, body: string, delivery: string) =>
  fetch(`${url}/hooks/github`, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'release',
      'x-github-delivery': delivery,
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
  });
const release = (repo: string, tag: string) =>
  JSON.stringify({
    action: 'published',
    release: { tag_name: tag },
    repository: { full_name: repo, html_url: `https://github.com/${repo}` },
  });

/** Start `wharf daemon` on the catalog; resolves with its URL once it says it started. */
async function startDaemon(dir: string): Promise<{ child: ResultPromise; url: string; lines: string[] }> {
  const child = execa(process.execPath, ['scripts/wharf.mjs', 'daemon', '--catalog', dir, '--port', '0'], {
    cwd: ROOT,
    env: { WHARF_SPOOL_HOOK: SECRET },
    reject: false,
    buffer: false,
  });
  children.push(child);
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (b: Buffer) => {
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  const end = Date.now() + 60_000;
  for (;;) {
    const m = lines.map((l) => /daemon started.*url=(http:\/\/127\.0\.0\.1:\d+)/.exec(l)).find(Boolean);
    if (m) return { child, url: m[1]!, lines };
    if (Date.now() > end) throw new Error(`daemon did not start: ${lines.slice(-5).join('\n')}`);
    await sleep(50);
  }
}

describe('the rebuild spool with real daemons', () => {
  it('a delivery answered 202 is pending after the daemon is killed and restarted', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'wharf-spool-kill-'));
    tmps.push(tmp);
    const store = await CatalogStore.init(join(tmp, 'catalog'), {
      name: 'spool-kill',
      daemon: daemonConfig,
    } as never);
    await store.commit({ subject: 'add redis' }, (tx) => {
      tx.putApp({
        id: 'redis',
        name: 'redis',
        title: { en: 'Redis' },
        category: 'database',
        upstream: { backend: 'github', repo: 'redis/redis', scheme: 'semver', prefixes: ['v'] },
        recipes: { container: [containerRecipe('8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4')] },
      });
    });
    const before = (await store.head())!;
    const first = await startDaemon(store.dir);

    // Hold the catalog lock: the daemon can record the request but not commit it.
    const lock = await tryFileLock(lockPath(store.dir));
    if (!isHeld(lock)) throw new Error('could not take the catalog lock');
    let answer: { accepted?: boolean; delivery?: string; queued?: unknown[] };
    try {
      const res = await signed(first.url, release('redis/redis', 'v8.6.5'), 'kill-1');
      expect(res.status).toBe(202);
      answer = (await res.json()) as typeof answer;
      expect(answer).toEqual({
        accepted: true,
        delivery: expect.stringMatching(/^[0-9a-f-]{36}$/),
        queued: [{ app: 'redis', version: '8.6.5' }],
      });
      first.child.kill('SIGKILL');
      await first.child;
    } finally {
      await lock.release();
    }
    // Nothing was committed; the request is in the spool.
    expect(await store.head()).toBe(before);
    const spoolDir = join(store.dir, '.git', 'wharf-daemon', 'spool');
    const files = await readdir(spoolDir);
    expect(files).toHaveLength(1);
    expect(await readFile(join(spoolDir, files[0]!), 'utf8')).toContain(answer.delivery);

    // A new daemon replays it (waited for, not timed).
    const second = await startDaemon(store.dir);
    const end = Date.now() + 60_000;
    let pending: string | undefined;
    while (Date.now() < end) {
      const e = await store.loadApp('redis');
      pending = e?.artifacts.find((a) => a.id === '8.6.5-oe2403sp4')?.pending?.reason;
      if (pending && (await readdir(spoolDir)).length === 0) break;
      await sleep(100);
    }
    expect(pending).toBe('upstream 8.6.4 → 8.6.5');
    const log = await store.log(undefined, { since: before });
    expect(log).toHaveLength(1);
    expect(log[0]!.subject).toBe('trigger: redis v8.6.5 (github tag v8.6.5 on redis/redis)');
    expect(log[0]!.trailers).toMatchObject({ App: 'redis', Stage: 'trigger' });
    expect(await readdir(spoolDir)).toEqual([]);
    const health = (await (await fetch(`${second.url}/healthz`)).json()) as {
      triggers: { spool: Record<string, number> };
    };
    expect(health.triggers.spool).toMatchObject({ claimed: 1, drained: 1, commits: 1, backlog: 0 });
    expect(second.lines.some((l) => l.includes('replaying rebuild requests left by a stopped daemon'))).toBe(
      true,
    );
    second.child.kill('SIGTERM');
    expect((await second.child).exitCode).toBe(0);
  }, 180_000);
  it('two daemons on one catalog: 300 deliveries split between them all answered 202 and all committed', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'wharf-two-daemons-'));
    tmps.push(tmp);
    const APPS = 50;
    const store = await buildSyntheticCatalog(join(tmp, 'catalog'), APPS);
    await store.commit({ subject: 'daemon config' }, (tx) => {
      tx.putConfig({ name: 'two', daemon: daemonConfig } as never);
    });
    const [a, b] = await Promise.all([startDaemon(store.dir), startDaemon(store.dir)]);
    const appOf = (i: number) => `app-${String(i % APPS).padStart(5, '0')}`;
    const codes = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 300) {
          const i = next++;
          // Six releases per app, alternating daemons: both commit to the same apps at once.
          const res = await signed(
            i % 2 ? b.url : a.url,
            release(`example/${appOf(i)}`, `v3.0.${i}`),
            `two-${i}`,
          );
          await res.text();
          codes.set(res.status, (codes.get(res.status) ?? 0) + 1);
        }
      }),
    );
    // One delivery id sent to both: the replay journal is shared, so it is accepted once.
    const dup = release('example/app-00000', 'v3.1.0');
    const first = await signed(a.url, dup, 'two-dup');
    const second = await signed(b.url, dup, 'two-dup');
    expect([first.status, second.status]).toEqual([202, 409]);
    expect(Object.fromEntries(codes)).toEqual({ 202: 300 });

    // Both spools drain (waited for, not timed).
    type Spool = { backlog: number; drained: number; drainFailures: number; failedRequests: number };
    const spoolOf = async (url: string) =>
      ((await (await fetch(`${url}/healthz`)).json()) as { triggers: { spool: Spool } }).triggers.spool;
    let spools: Spool[] = [];
    const end = Date.now() + 120_000;
    while (Date.now() < end) {
      spools = await Promise.all([spoolOf(a.url), spoolOf(b.url)]);
      if (spools.every((x) => x.backlog === 0) && spools[0]!.drained + spools[1]!.drained === 301) break;
      await sleep(200);
    }
    expect(spools.map((x) => [x.backlog, x.drainFailures, x.failedRequests])).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(spools[0]!.drained + spools[1]!.drained).toBe(301);
    // No warning or error but the one replay refused.
    const errors = [...a.lines, ...b.lines].filter(
      (l) => / (error|warn) /.test(l.slice(0, 40)) && !/ hook github 409 /.test(l),
    );
    expect(errors).toEqual([]);

    // Whatever order the two writers committed in, each app ends at the newest release sent to it.
    const snap = await store.load();
    const wrong: string[] = [];
    for (let k = 0; k < APPS; k++) {
      const top = k === 0 ? '3.1.0' : `3.0.${250 + k}`;
      const e = snap.apps.get(appOf(k))!;
      const art = e.artifacts.find((x) => x.id === `${top}-oe2403sp4`);
      if (e.upstream?.latest !== top || !art?.pending) wrong.push(`${appOf(k)}: ${e.upstream?.latest}`);
    }
    expect(wrong).toEqual([]);
    expect((await execa('git', ['status', '--porcelain'], { cwd: store.dir })).stdout).toBe('');
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect([(await a.child).exitCode, (await b.child).exitCode]).toEqual([0, 0]);
  }, 240_000);
});
