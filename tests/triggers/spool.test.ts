// The rebuild spool (publisher/triggers/spool.ts) and the batch it drains into (queue.ts queueBatch):
// requests are durable before the answer, a burst becomes one commit de-duplicated per app and tag with
// the records one queueRebuild per request writes, the files of a dead daemon are replayed exactly once
// (never applied twice when its commit landed before it died), a torn line is skipped, and the app
// index passes over trigger commits but still sees a repository mapping that moved.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { AppIndex, RebuildSpool, type SpoolEntry } from '../../publisher/triggers/index.ts';
import { containerRecipe } from '../helpers/apps.ts';

const app = (id: string, repo: string) => ({
  id,
  name: id,
  title: { en: id },
  category: 'database',
  upstream: { backend: 'github' as const, repo, scheme: 'semver' as const, prefixes: ['v'] },
  recipes: {
    container: [containerRecipe('8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4', { arches: ['amd64'] })],
  },
});

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

let store: CatalogStore;
beforeEach(async () => {
  const root = await mkdtemp(join(tmpdir(), 'wharf-spool-'));
  roots.push(root);
  store = await CatalogStore.init(join(root, 'catalog'));
  await store.commit({ subject: 'add apps' }, (tx) => {
    tx.putApp(app('redis', 'redis/redis'));
    tx.putApp(app('valkey', 'valkey-io/valkey'));
  });
});

let n = 0;
const entry = (appId: string, tag: string, reason = `github tag ${tag} on x/${appId}`): SpoolEntry => ({
  v: 1,
  delivery: `0000000${++n}`.slice(-8) + '-aaaa-bbbb-cccc-000000000000',
  at: `2026-03-0${(n % 9) + 1}T00:00:00.000Z`,
  app: appId,
  tag,
  prerelease: false,
  reason,
  runId: `20260301T000000Z-run${String(n).padStart(4, '0')}`,
});

const triggerCommits = async (since: string) =>
  (await store.log(undefined, { since })).filter((e) => e.trailers.Stage === 'trigger');

describe('the rebuild spool', () => {
  it('a burst of requests becomes one commit, de-duplicated per app and tag, first request kept', async () => {
    const head = (await store.head())!;
    const spool = new RebuildSpool(store, { batchDelayMs: 200 });
    const first = entry('redis', 'v8.6.5', 'github tag v8.6.5 on redis/redis');
    // Appended concurrently: one group write and fsync, one file, one commit.
    await Promise.all([
      spool.append([first]),
      spool.append([entry('redis', 'v8.6.5', 'gitee tag v8.6.5 on redis/redis')]),
      spool.append([entry('valkey', 'v8.6.6')]),
      spool.append([entry('redis', 'v8.6.5')]),
    ]);
    expect(spool.stats.appended).toBe(4);
    await spool.settled();
    await spool.stop();
    const commits = await triggerCommits(head);
    expect(commits).toHaveLength(1);
    expect(commits[0]!.subject).toBe('trigger: 2 rebuild requests (redis v8.6.5, valkey v8.6.6)');
    expect(commits[0]!.body).toContain('github tag v8.6.5 on redis/redis');
    expect(commits[0]!.body).not.toContain('gitee tag');
    expect(commits[0]!.trailers['Spool-Batch']).toMatch(/^[0-9a-f]{24}$/);
    const redis = (await store.loadApp('redis'))!;
    const pending = redis.artifacts.find((a) => a.id === '8.6.5-oe2403sp4')!.pending!;
    // The first request's time and run id, and the sweep's reason (as one queueRebuild writes).
    expect(pending).toEqual({ reason: 'upstream 8.6.4 → 8.6.5', since: first.at, runId: first.runId });
    expect(redis.upstream?.latest).toBe('8.6.5');
    expect((await store.loadApp('valkey'))!.upstream?.latest).toBe('8.6.6');
    expect(spool.stats).toMatchObject({ drained: 4, commits: 1, batches: 1, drainFailures: 0 });
    expect(await readdir(spool.dir)).toEqual([]);
  });

  it("replays a dead daemon's file once; a file whose batch was already committed is not applied again", async () => {
    const head = (await store.head())!;
    const dir = join(store.dir, '.git', 'wharf-daemon', 'spool');
    await mkdir(dir, { recursive: true });
    const exited = execa('true');
    const deadPid = exited.pid!;
    await exited;
    const host = hostname()
      .replace(/[^A-Za-z0-9-]/g, '-')
      .slice(0, 64);
    const file = (batch: string, lines: SpoolEntry[], torn = '') =>
      [JSON.stringify({ spool: 1, batch }), ...lines.map((l) => JSON.stringify(l))].join('\n') + '\n' + torn;
    // A daemon acknowledged this request, then was killed before its commit (and mid-append of the next).
    const acked = entry('redis', 'v8.6.5');
    await writeFile(
      join(dir, `${host}.${deadPid}.0123abcd.1.jsonl`),
      file('a'.repeat(24), [acked], '{"v":1,"delivery":"torn'),
    );
    const spool = new RebuildSpool(store);
    await spool.start();
    await spool.settled();
    await spool.stop();
    expect(spool.stats).toMatchObject({ claimed: 1, drained: 1, commits: 1, skippedLines: 1 });
    const redis = (await store.loadApp('redis'))!;
    expect(redis.artifacts.find((a) => a.id === '8.6.5-oe2403sp4')?.pending?.runId).toBe(acked.runId);
    const [c] = await triggerCommits(head);
    expect(c!.trailers).toMatchObject({ App: 'redis', Stage: 'trigger', 'Spool-Batch': 'a'.repeat(24) });

    // The pipeline built it (pending cleared); then a file of the SAME batch turns up, as when a daemon
    // is killed between its commit and removing the file: it must not queue the rebuild again.
    await store.commit({ subject: 'built' }, async (tx) => {
      const a = (await tx.getArtifact('redis', 'container', '8.6.5-oe2403sp4'))!;
      delete a.pending;
      tx.putArtifact(a);
    });
    const built = (await store.head())!;
    await writeFile(join(dir, `${host}.${deadPid}.0123abcd.2.jsonl`), file('a'.repeat(24), [acked]));
    const again = new RebuildSpool(store);
    await again.start();
    await again.settled();
    await again.stop();
    expect(again.stats).toMatchObject({ claimed: 1, alreadyCommitted: 1, commits: 0 });
    expect(await store.head()).toBe(built);
    expect(await readdir(dir)).toEqual([]);
  });

  it("leaves a live daemon's file alone", async () => {
    const dir = join(store.dir, '.git', 'wharf-daemon', 'spool');
    await mkdir(dir, { recursive: true });
    const host = hostname()
      .replace(/[^A-Za-z0-9-]/g, '-')
      .slice(0, 64);
    // The parent of this test process is alive: its file is another daemon's live spool.
    const name = `${host}.${process.ppid}.0123abcd.1.jsonl`;
    await writeFile(join(dir, name), JSON.stringify(entry('redis', 'v8.6.5')) + '\n');
    const spool = new RebuildSpool(store);
    await spool.start();
    await spool.settled();
    await spool.stop();
    expect(spool.stats.claimed).toBe(0);
    expect(await readdir(dir)).toEqual([name]);
  });

  it('the app index passes over trigger commits without re-reading, and re-reads a moved mapping', async () => {
    const index = new AppIndex(store);
    await index.fresh();
    const repo = (full: string) => ({ fullName: full, urls: [`https://github.com/${full}`] });
    expect(index.forUpstream('github', repo('redis/redis')).map((a) => a.id)).toEqual(['redis']);
    const spool = new RebuildSpool(store);
    await spool.append([entry('redis', 'v8.6.5'), entry('valkey', 'v8.6.6')]);
    await spool.settled();
    await index.fresh();
    expect(index.stats).toMatchObject({ fullLoads: 1, refreshes: 0, reread: 0, skipped: 1 });
    // Another trigger commit, then an edit that moves redis's upstream: the range is not all triggers.
    await spool.append([entry('valkey', 'v8.6.7')]);
    await spool.settled();
    await spool.stop();
    expect((await store.loadApp('valkey'))!.upstream?.latest).toBe('8.6.7');
    await store.commit({ subject: 'move redis upstream' }, async (tx) => {
      const a = (await tx.getApp('redis'))!;
      tx.putApp({ ...a, upstream: { ...a.upstream!, repo: 'redis-io/redis' } });
    });
    await index.fresh();
    expect(index.stats).toMatchObject({ fullLoads: 1, refreshes: 1 });
    expect(index.forUpstream('github', repo('redis/redis'))).toEqual([]);
    expect(index.forUpstream('github', repo('redis-io/redis')).map((a) => a.id)).toEqual(['redis']);
  });
});
