import { describe, expect, it } from 'vitest';
import { git } from '../../catalog/git.ts';
import { deriveEvents } from '../../publisher/events/derive.ts';
import { commitsSince } from '../../catalog/store/history.ts';
import { EVENT_TYPES, zCloudEvent } from '../../publisher/events/types.ts';
import type { AppInput, ImportRecord, ImportTarget } from '../../catalog/schema.ts';
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

  it('cloud imports: started once per task, imported / partial / failed only on news, never per poll', async () => {
    const cloudApp: AppInput = {
      id: 'osimg',
      name: 'osimg',
      title: { en: 'OS image' },
      category: 'os',
      recipes: {
        cloud: [
          {
            kind: 'cloud',
            id: 'disk-1',
            source: 'osimg:1.0',
            formats: ['vhd'],
            version: '1.0',
            osVersion: '24.03-lts-sp4',
            arches: ['amd64'],
          },
        ],
      },
    };
    const store = await freshCatalog({ name: 'test' });
    await store.commit({ subject: 'add' }, (tx) => {
      tx.putApp(cloudApp);
      tx.putArtifact({
        app: 'osimg',
        kind: 'cloud',
        id: 'disk-1',
        version: '1.0',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64'],
        records: {},
      });
    });
    const aws = (p: Partial<ImportTarget>): ImportTarget => ({
      target: 'aws-use1',
      provider: 'aws',
      region: 'us-east-1',
      arch: 'amd64',
      format: 'vhd',
      bucket: 'wharf-images',
      key: 'osimg/disk-1/disk.vhd',
      sha256: 'a'.repeat(64),
      state: 'running',
      ...p,
    });
    const hw = (error: string): ImportTarget => ({
      target: 'hw-cn4',
      provider: 'huawei',
      region: 'cn-north-4',
      arch: 'amd64',
      state: 'failed',
      error,
    });
    let n = 0;
    const commitImport = async (status: ImportRecord['status'], targets: ImportTarget[]) =>
      (
        await store.commit(
          { subject: `import ${++n}`, trailers: { App: 'osimg', Kind: 'cloud', Stage: 'import' } },
          async (tx) => {
            await tx.updateArtifact('osimg', 'cloud', 'disk-1', (a) => ({
              ...a!,
              records: {
                import: {
                  runId: `20261202T0600${String(n).padStart(2, '0')}Z-abcdef`,
                  at: new Date().toISOString(),
                  status,
                  targets,
                },
              },
            }));
          },
        )
      ).sha!;
    const from = (await commitsSince(store.dir, null)).at(-1)!;
    const shas = [
      await commitImport('running', [aws({ taskId: 'import-snap-1', progress: 'active' })]),
      await commitImport('running', [aws({ taskId: 'import-snap-1', progress: 'active 40%' })]),
      await commitImport('ok', [aws({ taskId: 'import-snap-1', state: 'completed', imageId: 'ami-1' })]),
      // the same result written again by a later run: no news
      await commitImport('ok', [aws({ taskId: 'import-snap-1', state: 'completed', imageId: 'ami-1' })]),
      await commitImport('partial', [
        aws({ taskId: 'import-snap-1', state: 'completed', imageId: 'ami-1' }),
        hw('IMS CreateImage: HTTP 400'),
      ]),
      // retried, failed again (another message): no news
      await commitImport('partial', [
        aws({ taskId: 'import-snap-1', state: 'completed', imageId: 'ami-1' }),
        hw('IMS CreateImage: HTTP 503'),
      ]),
      await commitImport('failed', [
        aws({ state: 'failed', error: 'ImportSnapshot: throttled' }),
        hw('IMS CreateImage: HTTP 503'),
      ]),
    ];
    const events = await deriveEvents(store.dir, await commitsSince(store.dir, from), ctx);
    const kinds = events.map((e) => [
      shas.indexOf(e.data.commit),
      e.type.replace('org.openeuler.wharf.', ''),
    ]);
    expect(kinds).toEqual([
      [0, 'image.import.started'],
      [2, 'image.imported'],
      [4, 'image.import.partial'],
      [6, 'image.import.failed'],
    ]);
    for (const e of events) {
      expect(zCloudEvent.safeParse(e).success).toBe(true);
      expect(EVENT_TYPES).toContain(e.type.replace('org.openeuler.wharf.', ''));
      expect(e.subject).toBe('osimg/disk-1');
    }
    const [started, imported, partial, failed] = events;
    expect(started!.data).toMatchObject({
      kind: 'cloud',
      stage: 'import',
      status: 'running',
      started: ['aws-use1'],
    });
    expect(started!.summary).toBe(
      'Importing osimg:disk-1 (cloud, openEuler 24.03-lts-sp4) started on aws-use1 (us-east-1).',
    );
    expect(imported!.data.targets).toEqual([
      {
        target: 'aws-use1',
        provider: 'aws',
        region: 'us-east-1',
        arch: 'amd64',
        format: 'vhd',
        state: 'completed',
        taskId: 'import-snap-1',
        imageId: 'ami-1',
      },
    ]);
    expect(imported!.data).toMatchObject({ status: 'ok', completed: ['aws-use1'], failed: [] });
    expect(imported!.summary).toBe(
      'osimg:disk-1 (cloud, openEuler 24.03-lts-sp4) was imported into aws-use1 (us-east-1) ami-1.',
    );
    expect(imported!.title).toBe('osimg/disk-1 imported');
    expect(partial!.data).toMatchObject({ status: 'partial', failed: ['hw-cn4'], completed: [] });
    expect(partial!.summary).toContain(
      'imported into aws-use1 (us-east-1) ami-1; failed on hw-cn4 (cn-north-4)',
    );
    expect((partial!.data.targets as { target: string; error?: string }[])[1]).toMatchObject({
      target: 'hw-cn4',
      region: 'cn-north-4',
      state: 'failed',
      error: 'IMS CreateImage: HTTP 400',
    });
    expect(failed!.data).toMatchObject({ status: 'failed', failed: ['aws-use1'] });
    // the record's object location stays in the catalog
    for (const e of events) expect(JSON.stringify(e.data)).not.toContain('osimg/disk-1/disk.vhd');
  });
});
