// Issue 11 item 8: a webhook is answered 202 once its rebuild request is durably spooled, before any
// catalog commit — so nothing acknowledged may be lost when the daemon is SIGKILLed right after the
// answer. The test holds the catalog lock itself, so the daemon's commit cannot happen before the
// kill (the 202 arriving while the lock is held also shows the answer does not wait for a commit);
// then a new daemon replays the spool and the rebuild is pending, committed once.
import { createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { isHeld, tryFileLock } from '../../catalog/lock.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { lockPath } from '../../catalog/store/layout.ts';
import { containerRecipe } from '../helpers/apps.ts';
import { ROOT } from '../helpers/wharf.ts';

const SECRET = 'spool-kill-secret-1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: ResultPromise[] = [];
let tmp = '';

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.catch(() => {})));
  if (tmp) await rm(tmp, { recursive: true, force: true });
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

describe('the rebuild spool across a SIGKILL', () => {
  it('a delivery answered 202 is pending after the daemon is killed and restarted', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'wharf-spool-kill-'));
    const off = { enabled: false };
    const store = await CatalogStore.init(join(tmp, 'catalog'), {
      name: 'spool-kill',
      daemon: {
        jobs: { watch: off, pipeline: off, rescan: off, site: off, events: off },
        triggers: { github: { secretEnv: 'WHARF_SPOOL_HOOK' } },
      },
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
      const body = JSON.stringify({
        action: 'published',
        release: { tag_name: 'v8.6.5' },
        repository: { full_name: 'redis/redis', html_url: 'https://github.com/redis/redis' },
      });
      const res = await fetch(`${first.url}/hooks/github`, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'release',
          'x-github-delivery': 'kill-1',
          'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
        },
      });
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
});
