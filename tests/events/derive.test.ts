import { describe, expect, it } from 'vitest';
import { git } from '../../catalog/git.ts';
import { deriveEvents } from '../../publisher/events/derive.ts';
import { commitsSince } from '../../catalog/store/history.ts';
import { zCloudEvent } from '../../publisher/events/types.ts';
import { baseArtifact, commitStage, freshCatalog, redisApp } from './fixtures.ts';

const ctx = { source: 'wharf://test', catalogName: 'test', siteUrl: 'https://apps.example.org' };

describe('event derivation from catalog commits', () => {
  it('turns each catalog result into typed CloudEvents with stable ids and commit times', async () => {
    const store = await freshCatalog({ name: 'test' });
    await store.commit({ subject: 'redis: add', trailers: { App: 'redis', Stage: 'import' } }, (tx) => {
      tx.putApp(redisApp);
    });
    await store.commit(
      { subject: 'redis: 8.6.5 released', trailers: { App: 'redis', Stage: 'watch' } },
      (tx) => {
        tx.putUpstream('redis', { latest: '8.6.5', known: ['8.6.4', '8.6.5'] });
        tx.putArtifact({
          ...baseArtifact(),
          pending: { reason: 'upstream 8.6.5', since: new Date().toISOString() },
        });
      },
    );
    // watch re-checks without news: no event
    await store.commit({ subject: 'redis: checked', trailers: { App: 'redis', Stage: 'watch' } }, (tx) => {
      tx.putUpstream('redis', {
        latest: '8.6.5',
        known: ['8.6.4', '8.6.5'],
        lastChecked: new Date().toISOString(),
      });
    });
    await commitStage(store, 'build');
    await commitStage(store, 'scan');
    const publishSha = await commitStage(store, 'publish');
    await store.commit({ subject: 'redis: retitle', trailers: { App: 'redis' } }, (tx) => {
      tx.putApp({ ...redisApp, title: { en: 'Redis server' } });
    });

    const shas = await commitsSince(store.dir, null);
    expect(shas).toHaveLength(8); // init + 7
    const events = await deriveEvents(store.dir, shas, ctx);
    expect(events.map((e) => e.type.replace('org.openeuler.wharf.', ''))).toEqual([
      'app.added',
      'release.detected',
      'rebuild.queued',
      'image.built',
      'image.scanned',
      'image.published',
      'app.updated',
    ]);
    for (const e of events) expect(zCloudEvent.safeParse(e).success).toBe(true);

    const byType = new Map(events.map((e) => [e.type.split('.').slice(3).join('.'), e]));
    const rel = byType.get('release.detected')!;
    expect(rel.subject).toBe('redis');
    expect(rel.data).toMatchObject({ app: 'redis', category: 'database', version: '8.6.5' });
    const scanned = byType.get('image.scanned')!;
    expect(scanned.subject).toBe('redis/8.6.4-oe2403sp4');
    expect(scanned.data).toMatchObject({
      stage: 'scan',
      status: 'ok',
      newSinceLast: ['CVE-2026-0001'],
      summary: { total: { HIGH: 1, MEDIUM: 2 } },
    });
    expect(scanned.summary).toContain('1 new since the last scan');
    const pub = byType.get('image.published')!;
    expect(pub.data.commit).toBe(publishSha);
    expect(pub.time).toBe(await git(store.dir, ['show', '-s', '--format=%cI', publishSha]));
    expect(pub.sourceurl).toBe('https://apps.example.org/apps/redis/');
    expect(pub.sourcegroup).toBe('test/redis');
    expect(pub.mailtitle).toBe('[test] redis/8.6.4-oe2403sp4 published');
    expect(pub.source).toBe('wharf://test');

    // Derived again (after a crash, say): identical ids and content.
    const again = await deriveEvents(store.dir, shas, ctx);
    expect(again).toEqual(events);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    // Only the commits after a cursor.
    const tail = await commitsSince(store.dir, shas[5]!);
    expect(tail).toEqual(shas.slice(6));
  });

  it('reports failures and removals, and skips a corrupt record without stopping', async () => {
    const store = await freshCatalog();
    await store.commit({ subject: 'add' }, (tx) => {
      tx.putApp(redisApp);
      tx.putArtifact(baseArtifact());
    });
    await store.commit({ subject: 'build failed' }, async (tx) => {
      await tx.updateArtifact('redis', 'container', '8.6.4-oe2403sp4', (a) => ({
        ...a!,
        records: {
          build: {
            runId: '20261122T101500Z-3f9a1c',
            at: new Date().toISOString(),
            status: 'failed',
            error: { message: 'RUN exited 2' },
          },
        },
      }));
    });
    await store.commit({ subject: 'corrupt' }, (tx) => {
      tx.putText('apps/redis/artifacts/container/broken.json', '{not json\n');
    });
    await store.commit({ subject: 'remove' }, async (tx) => {
      await tx.removeApp('redis');
    });
    const warnings: string[] = [];
    const events = await deriveEvents(store.dir, await commitsSince(store.dir, null), {
      ...ctx,
      warn: (m) => warnings.push(m),
    });
    expect(events.map((e) => e.type)).toEqual([
      'org.openeuler.wharf.app.added',
      'org.openeuler.wharf.image.build.failed',
      'org.openeuler.wharf.app.removed',
    ]);
    expect(events[1]!.data).toMatchObject({ error: 'RUN exited 2', category: 'database' });
    expect(warnings.some((w) => w.includes('broken.json'))).toBe(true);
  });
});
