// The delivery-id gap: a daemon that records a delivery id and dies before the rebuild request is
// fsync'd into the spool sent no 202, so the forge's redelivery of that id must be accepted and queued
// once — while a replay of an id whose request WAS spooled stays refused (replay.ts, spool.ts settle).
// The "daemon" that dies is a real child process (its pid is gone when the redelivery arrives).
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import {
  createHookHandler,
  FileReplayGuard,
  parseTriggersConfig,
  RebuildSpool,
} from '../../publisher/triggers/index.ts';
import { containerRecipe } from '../helpers/apps.ts';
import { ROOT } from '../helpers/wharf.ts';

const SECRET = 'gap-secret-41c7';
const app = {
  id: 'redis',
  name: 'redis',
  title: { en: 'redis' },
  category: 'database',
  upstream: { backend: 'github' as const, repo: 'redis/redis', scheme: 'semver' as const, prefixes: ['v'] },
  recipes: {
    container: [containerRecipe('8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4', { arches: ['amd64'] })],
  },
};
const body = JSON.stringify({
  action: 'published',
  release: { tag_name: 'v8.6.5', prerelease: false, draft: false },
  repository: { full_name: 'redis/redis', html_url: 'https://github.com/redis/redis' },
});

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

let store: CatalogStore;
let journal: string;
let server: Server | undefined;
let spool: RebuildSpool | undefined;
beforeEach(async () => {
  const root = await mkdtemp(join(tmpdir(), 'wharf-gap-'));
  roots.push(root);
  store = await CatalogStore.init(join(root, 'catalog'));
  await store.commit({ subject: 'add apps' }, (tx) => {
    tx.putApp(app);
  });
  journal = join(store.dir, '.git', 'wharf-daemon', 'deliveries');
});
afterEach(async () => {
  await spool?.stop();
  server?.closeAllConnections();
  if (server) await new Promise((r) => server!.close(r));
  server = spool = undefined;
});

/** A daemon's handler on the catalog: the shared journal, a spool that settles ids against it. */
async function daemon(): Promise<{ url: string; spool: RebuildSpool }> {
  const replay = new FileReplayGuard(journal);
  spool = new RebuildSpool(store, { deliveries: replay });
  const handler = createHookHandler({
    store,
    spool,
    replay,
    env: { WHARF_GAP: SECRET },
    config: parseTriggersConfig({ github: { secretEnv: 'WHARF_GAP' } }),
  });
  server = createServer((req, res) => void handler(req, res, 'github'));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, spool };
}

const deliver = (url: string, id: string) =>
  fetch(url, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'release',
      'x-github-delivery': id,
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
  });

/**
 * A daemon process that admits the id (as the handler does) and dies: before the spool write, or
 * after it but before the id is confirmed.
 */
async function dieAfterAdmit(id: string, spoolIt: boolean): Promise<void> {
  const script = `
    import { CatalogStore } from './catalog/store.ts';
    import { deliveryKeyHash, FileReplayGuard, RebuildSpool } from './publisher/triggers/index.ts';
    const [dir, journal, id, spoolIt] = process.argv.slice(1);
    const key = 'github:' + id;
    const delivery = '11111111-2222-3333-4444-555555555555';
    if (!(await new FileReplayGuard(journal).admit(key, Date.now(), delivery))) process.exit(3);
    if (spoolIt === 'yes') {
      const spool = new RebuildSpool(await CatalogStore.open(dir));
      await spool.append([{ v: 1, delivery, at: new Date().toISOString(), app: 'redis', tag: 'v8.6.5',
        prerelease: false, reason: 'github tag v8.6.5 on redis/redis', runId: '20260301T000000Z-dead0001',
        key: deliveryKeyHash(key) }]);
    }
    process.exit(0); // killed here: no confirm, no drain
  `;
  await execa(
    process.execPath,
    ['--input-type=module', '-e', script, store.dir, journal, id, spoolIt ? 'yes' : 'no'],
    {
      cwd: ROOT,
    },
  );
}

const triggerCommits = async (since: string) =>
  (await store.log(undefined, { since })).filter((e) => e.trailers.Stage === 'trigger');
const pending = async () =>
  (await store.loadApp('redis'))!.artifacts.find((a) => a.id === '8.6.5-oe2403sp4')?.pending;

describe('a delivery id counts as seen only once its request is spooled', () => {
  it('died between recording the id and the spool write: the redelivery is accepted and queued once', async () => {
    const head = (await store.head())!;
    await dieAfterAdmit('gap-1', false);
    const d = await daemon();
    const res = await deliver(d.url, 'gap-1');
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: true, queued: [{ app: 'redis', version: '8.6.5' }] });
    await d.spool.settled();
    expect((await pending())?.reason).toBe('upstream 8.6.4 → 8.6.5');
    expect(await triggerCommits(head)).toHaveLength(1);
    // Now it was spooled: a replay of the same id is refused, also by a restarted daemon.
    expect((await deliver(d.url, 'gap-1')).status).toBe(409);
    expect(await new FileReplayGuard(journal).admit('github:gap-1')).toBe(false);
  });

  it('died after the spool write but before confirming: the redelivery is accepted, the id is queued once', async () => {
    const head = (await store.head())!;
    await dieAfterAdmit('gap-2', true);
    const d = await daemon();
    // The redelivery takes the dead record over before the dead daemon's spool file is drained.
    const res = await deliver(d.url, 'gap-2');
    expect(res.status).toBe(202);
    const { delivery } = (await res.json()) as { delivery: string };
    await d.spool.settled();
    // Both requests were spooled; the drain applied only the one the journal names.
    expect(d.spool.stats).toMatchObject({ claimed: 1, superseded: 1, drained: 1, drainFailures: 0 });
    const commits = await triggerCommits(head);
    expect(commits).toHaveLength(1);
    expect(commits[0]!.body).not.toContain('dead0001');
    expect((await pending())?.runId).not.toBe('20260301T000000Z-dead0001');
    expect(delivery).toMatch(/^[0-9a-f-]{36}$/);
    expect((await deliver(d.url, 'gap-2')).status).toBe(409);
  });

  it("a dead daemon's spooled request drained first makes the id seen: its replay is refused", async () => {
    const head = (await store.head())!;
    await dieAfterAdmit('gap-3', true);
    const d = await daemon();
    await d.spool.start();
    await d.spool.settled();
    expect(d.spool.stats).toMatchObject({ claimed: 1, drained: 1, superseded: 0 });
    expect((await pending())?.runId).toBe('20260301T000000Z-dead0001');
    expect((await deliver(d.url, 'gap-3')).status).toBe(409);
    expect(await triggerCommits(head)).toHaveLength(1);
  });

  it('a live owner still holds the id: a concurrent duplicate is refused', async () => {
    const a = new FileReplayGuard(journal);
    expect(await a.admit('github:gap-4', Date.now(), 'aaaaaaaa-0000-0000-0000-000000000000')).toBe(true);
    // Not confirmed yet, but this process is alive: no takeover.
    expect(await new FileReplayGuard(journal).admit('github:gap-4')).toBe(false);
    await a.confirm('github:gap-4');
    expect(await new FileReplayGuard(journal).admit('github:gap-4')).toBe(false);
  });
});
