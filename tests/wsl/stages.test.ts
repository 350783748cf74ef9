// The wsl kind in the pipeline: build (from the container artifact's exported OCI layout) and verify run
// through runPipeline and the runner's commits; a second run is unchanged; a missing source layout fails
// the build; a .wsl failing Microsoft's checks fails verify.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CatalogStore } from '../../catalog/store.ts';
import { openStageContext } from '../../publisher/context.ts';
import { runPipeline } from '../../publisher/pipeline/index.ts';
import { selectTargets } from '../../publisher/select.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import { elfHeader, tarOf, tempDir, writeOciLayout, type LayerEntry } from '../rootfs/fixtures.ts';

function entries(passwd: string): LayerEntry[] {
  return [
    { name: 'bin', type: 'directory' },
    { name: 'bin/busybox', mode: 0o755, data: elfHeader('amd64') },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/bash', type: 'symlink', linkname: 'busybox' },
    { name: 'etc', type: 'directory' },
    { name: 'etc/passwd', data: passwd },
    { name: 'etc/shadow', mode: 0o640, data: 'root:*:19000:0:99999:7:::\n' },
  ];
}

async function setup(passwd = 'root:x:0:0:root:/root:/bin/sh\n') {
  const dir = await tempDir('wharf-wsl-stage-');
  const store = await CatalogStore.init(join(dir, 'catalog'));
  await store.commit({ subject: 'test: app with a wsl recipe' }, async (tx) => {
    tx.putApp({
      id: 'myos',
      name: 'myos',
      title: { en: 'My OS' },
      category: 'os',
      recipes: {
        wsl: [
          {
            kind: 'wsl',
            id: '1.0-wsl',
            source: '1.0',
            version: '1.0',
            osVersion: '24.03-lts-sp4',
            arches: ['amd64'],
            defaultName: 'myos-1.0',
          },
        ],
      },
    });
  });
  const workDir = join(dir, 'work');
  const ctx = await openStageContext(store, {
    workDir,
    engine: null,
    env: { SOURCE_DATE_EPOCH: '1767225600' },
  });
  return { store, ctx, workDir, passwd };
}

async function run(s: Awaited<ReturnType<typeof setup>>) {
  const { targets } = selectTargets(await s.store.load(), [], { kinds: ['wsl'] });
  expect(targets.map((t) => `${t.app.id}:${t.artifactId}:${t.kind}`)).toEqual(['myos:1.0-wsl:wsl']);
  return runPipeline(s.ctx, targets);
}

describe('pipeline: kind wsl', () => {
  it('builds and verifies a .wsl from the container layout, then finds it unchanged', async () => {
    const s = await setup();
    await writeOciLayout(imageLayoutDir(s.ctx, 'myos', '1.0'), [
      { arch: 'amd64', layers: [await tarOf(entries(s.passwd))] },
    ]);
    const first = await run(s);
    expect(first.artifacts[0]).toMatchObject({ status: 'done' });
    expect(first.artifacts[0]!.stages.map((o) => `${o.stage}:${o.status}`)).toEqual([
      'build:ok',
      'verify:passed',
    ]);
    const art = (await s.store.load()).apps.get('myos')!.artifacts.find((a) => a.kind === 'wsl')!;
    expect(art.records.build?.file?.name).toBe('myos-1.0-amd64.wsl');
    expect(art.records.build?.file?.sha256).toMatch(/^[a-f0-9]{64}$/);
    expect(art.records.verify?.status).toBe('passed');
    const second = await run(s);
    expect(second.artifacts[0]!.status).toBe('unchanged');
    expect(second.artifacts[0]!.stages.every((o) => o.commit === null)).toBe(true);
  });

  it('fails the build when the container image is not built, and verify when the checks fail', async () => {
    const s = await setup('admin:x:0:0::/root:/bin/sh\n'); // uid 0 is not root: passwd.root
    const missing = await run(s);
    expect(missing.artifacts[0]).toMatchObject({ status: 'failed', stoppedAt: 'build' });
    expect(missing.artifacts[0]!.message).toMatch(/myos:1.0 \(amd64\) is not built here/);
    await writeOciLayout(imageLayoutDir(s.ctx, 'myos', '1.0'), [
      { arch: 'amd64', layers: [await tarOf(entries(s.passwd))] },
    ]);
    const bad = await run(s);
    expect(bad.artifacts[0]).toMatchObject({ status: 'failed', stoppedAt: 'verify' });
    const art = (await s.store.load()).apps.get('myos')!.artifacts.find((a) => a.kind === 'wsl')!;
    expect(art.records.verify?.checks.filter((c) => c.status === 'failed').map((c) => c.name)).toEqual([
      'passwd.root',
    ]);
  });
});
