// Multi-arch builds on the real podman service: a FROM-scratch recipe with a static busybox per arch is
// built for amd64 and arm64 (arm64 through /build?platform=linux/arm64; its image runs under
// qemu-user-static), each arch with its own record; a rerun builds nothing; a failure injected into one
// arch keeps the other's record and fails the build; fixing it builds again.
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppInput, Artifact } from '../../catalog/schema.ts';
import { runPipeline, selectTargets, parseSelection } from '../../publisher/pipeline/index.ts';
import { archLayoutDir } from '../../publisher/build/index.ts';
import { layoutManifestDigest } from '../../publisher/build/export.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import { prepareArches } from '../helpers/arches.ts';
import { startPipelineFixture, OS, type PipelineFixture } from './fixture.ts';

let f: PipelineFixture;
let busybox: Record<'amd64' | 'arm64', string>;
const DIR = 'Others/multi';
const REL = `1.0/${OS}`;

const app: AppInput = {
  id: 'multi',
  name: 'multi',
  title: { en: 'multi' },
  category: 'others',
  scene: 'Others',
  license: { spdx: 'MIT' },
  source: { origin: 'fixture', dir: DIR },
  recipes: {
    container: [
      {
        kind: 'container',
        tag: '1.0-oe2403sp4',
        dockerfile: `${REL}/Dockerfile`,
        version: '1.0',
        osVersion: OS,
        arches: ['amd64', 'arm64'],
        smoke: [
          {
            name: 'busybox runs',
            command: ['/bin/busybox', 'uname', '-m'],
            expectExit: 0,
            expectOutput: '^(x86_64|aarch64)',
            timeoutSeconds: 120,
          },
        ],
      },
    ],
    cloud: [],
    wsl: [],
  },
};

beforeAll(async () => {
  busybox = await prepareArches();
  f = await startPipelineFixture({ apps: false });
  const ctxDir = join(f.recipesDir, DIR, REL);
  await mkdir(join(ctxDir, 'amd64'), { recursive: true });
  await mkdir(join(ctxDir, 'arm64'), { recursive: true });
  await copyFile(busybox.amd64, join(ctxDir, 'amd64/busybox'));
  await copyFile(busybox.arm64, join(ctxDir, 'arm64/busybox'));
  await writeFile(
    join(ctxDir, 'Dockerfile'),
    'FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}/busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n',
  );
  await f.commitRecipes('multi-arch fixture');
  await f.store.commit({ subject: 'multi app; arches' }, async (tx) => {
    tx.putApp(app);
    const cfg = await tx.getConfig();
    tx.putConfig({ ...cfg, arches: { default: ['amd64', 'arm64'] } });
  });
}, 600_000);
afterAll(async () => {
  await f?.stop();
});

async function build() {
  const ctx = await f.ctx();
  const snap = await f.store.load();
  const { targets } = selectTargets(snap, parseSelection(['multi']));
  return runPipeline(ctx, targets, { concurrency: 1, only: ['build'] });
}
async function artifact(): Promise<Artifact> {
  const a = (await f.store.loadApp('multi'))?.artifacts[0];
  if (!a) throw new Error('no artifact');
  return a;
}

describe('multi-arch build', () => {
  it('builds amd64 and arm64, each with its own record and layout', async () => {
    const r = await build();
    expect(r.artifacts[0]).toMatchObject({ status: 'done' });
    const b = (await artifact()).records.build!;
    expect(b.status).toBe('ok');
    expect(b.arches).toEqual(['amd64', 'arm64']);
    const [amd, arm] = b.platforms!;
    for (const [p, arch] of [
      [amd, 'amd64'],
      [arm, 'arm64'],
    ] as const) {
      expect(p).toMatchObject({
        arch,
        status: 'ok',
        inputsDigest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/),
        manifestDigest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/),
        size: expect.any(Number),
        log: expect.anything(),
      });
      expect(p!.size!).toBeGreaterThan(500_000); // the static busybox, gzip'd
    }
    expect(amd!.emulated).toBe(false);
    expect(arm!.emulated).toBe(true);
    expect(amd!.inputsDigest).not.toBe(arm!.inputsDigest);
    expect(amd!.manifestDigest).not.toBe(arm!.manifestDigest);
    expect(b.manifestDigest).toBe(amd!.manifestDigest);
    // Each layout holds its own arch's image; the arm64 image's config says arm64.
    expect(await layoutManifestDigest(imageLayoutDir({ workDir: f.workDir }, 'multi', '1.0-oe2403sp4'))).toBe(
      amd!.manifestDigest,
    );
    const armLayout = archLayoutDir({ workDir: f.workDir }, 'multi', '1.0-oe2403sp4', 'arm64');
    expect(await layoutManifestDigest(armLayout)).toBe(arm!.manifestDigest);
    const img = await f.podman.engine.getImage('localhost/wharf/multi:1.0-oe2403sp4-arm64').inspect();
    expect(img.Architecture).toBe('arm64');
    // The arm64 image runs here under qemu-user-static.
    const c = await f.podman.engine.createContainer({
      Image: 'localhost/wharf/multi:1.0-oe2403sp4-arm64',
      Cmd: ['uname', '-m'],
    });
    await c.start();
    await c.wait();
    const out = (await c.logs({ stdout: true, stderr: true })).toString();
    await c.remove({ force: true });
    expect(out).toContain('aarch64');
  }, 600_000);

  it('a rerun with nothing changed builds no arch', async () => {
    const before = (await artifact()).records.build!;
    const r = await build();
    expect(r.artifacts[0]!.stages[0]).toMatchObject({ stage: 'build', status: 'unchanged' });
    const b = (await artifact()).records.build!;
    expect(b.platforms!.map((p) => [p.arch, p.status])).toEqual([
      ['amd64', 'unchanged'],
      ['arm64', 'unchanged'],
    ]);
    expect(b.platforms!.map((p) => p.manifestDigest)).toEqual(before.platforms!.map((p) => p.manifestDigest));
  }, 300_000);

  it('a failure in one arch keeps the other arch record and fails the build; fixing it builds', async () => {
    const ctxDir = join(f.recipesDir, DIR, REL);
    await rm(join(ctxDir, 'arm64/busybox'));
    await writeFile(join(ctxDir, 'arm64/.keep'), '');
    await f.commitRecipes('break arm64');
    const r = await build();
    expect(r.artifacts[0]).toMatchObject({ status: 'failed' });
    const b = (await artifact()).records.build!;
    expect(b.status).toBe('failed');
    expect(b.error?.message).toMatch(/^build multi:1\.0-oe2403sp4 failed for arm64 /);
    const amd = b.platforms!.find((p) => p.arch === 'amd64')!;
    const arm = b.platforms!.find((p) => p.arch === 'arm64')!;
    expect(amd).toMatchObject({ status: 'ok', manifestDigest: expect.stringMatching(/^sha256:/) });
    expect(arm).toMatchObject({ status: 'failed', error: { message: expect.any(String) } });
    expect(arm.manifestDigest).toBeUndefined();

    await copyFile(busybox.arm64, join(ctxDir, 'arm64/busybox'));
    await f.commitRecipes('fix arm64');
    const r2 = await build();
    expect(r2.artifacts[0]).toMatchObject({ status: 'done' });
    const b2 = (await artifact()).records.build!;
    expect(b2.status).toBe('ok');
    expect(b2.platforms!.map((p) => p.status)).toEqual(['ok', 'ok']);
    expect(b2.error).toBeUndefined();

    // verify (smoke tests) runs on the primary arch's image (per-arch verify is not done yet).
    const ctx = await f.ctx();
    const snap = await f.store.load();
    const v = await runPipeline(ctx, selectTargets(snap, parseSelection(['multi'])).targets, {
      concurrency: 1,
      only: ['verify'],
      verify: { networkMode: 'host' },
    });
    expect(v.artifacts[0]!.stages[0]).toMatchObject({ stage: 'verify', status: 'passed' });
    const checks = (await artifact()).records.verify!.checks!;
    expect(checks[0]).toMatchObject({ status: 'passed', output: [expect.stringMatching(/^x86_64/)] });
  }, 600_000);

  it('an arch with no builder here is a recorded failure with the fix, not a crash', async () => {
    await f.store.commit({ subject: 'riscv64 too' }, async (tx) => {
      const recipe = { ...app.recipes!.container![0]!, arches: ['amd64' as const, 'riscv64' as const] };
      tx.putApp({ ...app, recipes: { container: [recipe], cloud: [], wsl: [] } });
    });
    const ctx = await f.ctx();
    const snap = await f.store.load();
    const { targets } = selectTargets(snap, parseSelection(['multi']));
    const r = await runPipeline(ctx, targets, {
      concurrency: 1,
      only: ['build'],
      build: { arches: ['amd64', 'riscv64'] },
    });
    expect(r.artifacts[0]).toMatchObject({ status: 'failed' });
    const b = (await artifact()).records.build!;
    const rv = b.platforms!.find((p) => p.arch === 'riscv64')!;
    expect(rv.status).toBe('failed');
    expect(rv.error!.message).toContain('no qemu-riscv64 binfmt_misc handler is enabled');
    expect(rv.error!.message).toContain('update-binfmts --enable qemu-riscv64');
    expect(b.platforms!.find((p) => p.arch === 'amd64')!.status).toBe('unchanged');
  }, 300_000);
});
