import { readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zDigest } from '../../catalog/schema.ts';
import { makeBuildStage, type BuildStageOptions } from '../../publisher/build/index.ts';
import { runStage } from '../../publisher/pipeline/runner.ts';
import { loadTarget } from '../../publisher/select.ts';
import { listContext } from '../../publisher/build/context.ts';
import {
  connectEngine,
  engineOptions,
  pingEngine,
  resolveEngineAddress,
} from '../../publisher/engine/index.ts';
import { createBusyboxBase } from '../helpers/podman.ts';
import { imageLayoutDir, type StageContext, type StageTarget } from '../../publisher/stage.ts';
import { startPipelineFixture, type PipelineFixture } from './fixture.ts';

let f: PipelineFixture;
beforeAll(async () => {
  f = await startPipelineFixture();
});
afterAll(async () => {
  await f?.stop();
});

// The build stage through the runner, which commits its record.
const buildWith =
  (opts: BuildStageOptions = {}) =>
  (ctx: StageContext, t: StageTarget) =>
    runStage(ctx, 'build', makeBuildStage(opts), t);

const target = (app: string, tag: string): Promise<StageTarget> => loadTarget(f.store, app, tag);

describe('build stage against podman', () => {
  it('builds a recipe, exports an OCI layout and records it', async () => {
    const ctx = await f.ctx();
    const out = await buildWith()(ctx, await target('hello', '1.0.0-oe2403sp4'));
    expect(out.message).toMatch(/built sha256:/);
    expect(out.status).toBe('ok');
    const a = (await f.store.loadApp('hello'))!.artifacts[0]!;
    const b = a.records.build!;
    expect(b.status).toBe('ok');
    expect(zDigest.parse(b.manifestDigest)).toBeTruthy();
    expect(b.inputsDigest).toMatch(/^sha256:/);
    expect(b.base?.ref).toBe(f.baseRef);
    expect(b.base?.digest).toMatch(/^sha256:/);
    expect(b.labels?.['org.opencontainers.image.version']).toBe('1.0.0');
    expect(b.labels?.['org.opencontainers.image.revision']).toBe(b.recipeCommit);
    expect(a.pending?.reason).toBe('first build');
    const index = JSON.parse(
      await readFile(join(imageLayoutDir(ctx, 'hello', '1.0.0-oe2403sp4'), 'index.json'), 'utf8'),
    );
    expect(index.manifests[0].digest).toBe(b.manifestDigest);
    const log = (await ctx.blobs.get(b.log!))!.toString();
    expect(log).toMatch(/RUN mkdir/);
    const log2 = await f.store.log('hello', { limit: 1 });
    expect(log2[0]!.trailers).toMatchObject({
      App: 'hello',
      Stage: 'build',
      Artifact: '1.0.0-oe2403sp4',
      'Run-Id': ctx.runId,
    });
  });

  it('records unchanged inputs while the layout is present', async () => {
    const ctx = await f.ctx();
    const before = (await target('hello', '1.0.0-oe2403sp4')).artifact!.records.build!;
    const out = await buildWith()(ctx, await target('hello', '1.0.0-oe2403sp4'));
    expect(out.status).toBe('unchanged');
    const after = (await target('hello', '1.0.0-oe2403sp4')).artifact!.records.build!;
    expect(after).toMatchObject({
      status: 'unchanged',
      runId: ctx.runId,
      inputsDigest: before.inputsDigest,
      manifestDigest: before.manifestDigest,
      recipeCommit: before.recipeCommit,
    });
  });

  it('a new base image digest changes the inputs digest and rebuilds', async () => {
    const before = (await target('hello', '1.0.0-oe2403sp4')).artifact!.records.build!;
    await createBusyboxBase(f.podman.engine, f.baseRef, { marker: 'base-v2' });
    const out = await buildWith()(await f.ctx(), await target('hello', '1.0.0-oe2403sp4'));
    expect(out.status).toBe('ok');
    const a = (await target('hello', '1.0.0-oe2403sp4')).artifact!;
    expect(a.records.build!.base!.digest).not.toBe(before.base!.digest);
    expect(a.records.build!.inputsDigest).not.toBe(before.inputsDigest);
    expect(a.records.build!.manifestDigest).not.toBe(before.manifestDigest);
  });

  it('an explicit rebuild request (pending set after the last build) is honoured', async () => {
    const t = await target('hello', '1.0.0-oe2403sp4');
    const since = new Date(Date.parse(t.artifact!.records.build!.at) + 1000).toISOString();
    await f.store.commit({ subject: 'test: request rebuild' }, (tx) => {
      tx.putArtifact({ ...t.artifact!, pending: { reason: 'fixable CVE-2099-0001', since } });
    });
    const out = await buildWith()(await f.ctx(), await target('hello', '1.0.0-oe2403sp4'));
    expect(out.status).toBe('ok');
  });
});

describe('build timeout', () => {
  it('a hanging RUN fails the build after the timeout, with a failed record, and frees the slot', async () => {
    const file = join(f.recipesDir, 'Others/hello/1.1.0/24.03-lts-sp4/Dockerfile');
    const original = await readFile(file, 'utf8');
    // A distinctive duration so the test can find the step and end it.
    await writeFile(file, original.replace('ARG TARGETARCH', 'ARG TARGETARCH\nRUN sleep 3517'));
    await f.commitRecipes('hello 1.1.0 hangs');
    try {
      const t0 = Date.now();
      const out = await buildWith({ timeoutMs: 4000 })(
        await f.ctx(),
        await target('hello', '1.1.0-oe2403sp4'),
      );
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(out.status).toBe('failed');
      expect(out.message).toMatch(/timed out after 4 s/);
      const rec = (await target('hello', '1.1.0-oe2403sp4')).artifact!.records.build!;
      expect(rec.status).toBe('failed');
      expect(rec.error?.message).toMatch(/timed out after 4 s/);
    } finally {
      // Docker cancels a build when its client disconnects; podman 4.x's compat API lets the step run
      // to its end (podman PR #10295), so the test ends the leftover step itself.
      // The step runs as init of its own PID namespace, which ignores SIGTERM: KILL it.
      await execa('pkill', ['-KILL', '-f', 'sleep 3517'], { reject: false });
      await writeFile(file, original);
      await f.commitRecipes('hello 1.1.0 restored');
    }
  });
});

describe('build context', () => {
  it('honours .dockerignore and keeps the Dockerfile', async () => {
    const dir = join(f.recipesDir, 'Others/hello/1.0.0/24.03-lts-sp4');
    const entries = await listContext(dir, ['Dockerfile']);
    expect(entries.map((e) => e.rel)).toEqual(['.dockerignore', 'Dockerfile', 'hello.sh']);
    expect(entries.find((e) => e.rel === 'hello.sh')!.mode & 0o111).toBeTruthy();
  });
});

describe('engine addresses', () => {
  it('parses unix, tcp and bare socket paths; refuses others', () => {
    expect(engineOptions('unix:///run/podman/podman.sock')).toEqual({
      socketPath: '/run/podman/podman.sock',
    });
    expect(engineOptions('/var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(engineOptions('tcp://127.0.0.1:2375')).toEqual({
      host: '127.0.0.1',
      port: 2375,
      protocol: 'http',
    });
    expect(() => engineOptions('ftp://x')).toThrow(/unsupported scheme/);
    expect(resolveEngineAddress(undefined, { DOCKER_HOST: 'tcp://10.0.0.1:2375' })).toBe(
      'tcp://10.0.0.1:2375',
    );
    expect(resolveEngineAddress('unix:///x.sock', { DOCKER_HOST: 'tcp://10.0.0.1:2375' })).toBe(
      'unix:///x.sock',
    );
  });

  it('pingEngine reports an unreachable engine clearly', async () => {
    const h = connectEngine(`unix://${join(f.dir, 'missing.sock')}`);
    await expect(pingEngine(h)).rejects.toThrow(/container engine unreachable at unix:\/\/.*missing\.sock/);
  });
});
