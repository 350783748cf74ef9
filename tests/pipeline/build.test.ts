import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zDigest } from '../../catalog/schema.ts';
import { makeBuildStage } from '../../publisher/build/index.ts';
import { imageLayoutDir, type StageTarget } from '../../publisher/stage.ts';
import { startPipelineFixture, type PipelineFixture } from './fixture.ts';

let f: PipelineFixture;
beforeAll(async () => {
  f = await startPipelineFixture();
});
afterAll(async () => {
  await f?.stop();
});

async function target(app: string, tag: string): Promise<StageTarget> {
  const e = (await f.store.loadApp(app))!;
  const recipe = e.app.recipes.container.find((r) => r.tag === tag)!;
  return {
    app: e.app,
    kind: 'container',
    artifactId: tag,
    recipe,
    artifact: e.artifacts.find((a) => a.kind === 'container' && a.id === tag),
  };
}

describe('build stage against podman', () => {
  it('builds a recipe, exports an OCI layout and records it', async () => {
    const ctx = await f.ctx();
    const out = await makeBuildStage()(ctx, await target('hello', '1.0.0-oe2403sp4'));
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

  it('records unchanged inputs quickly while the layout is present', async () => {
    const ctx = await f.ctx();
    const t0 = Date.now();
    const out = await makeBuildStage()(ctx, await target('hello', '1.0.0-oe2403sp4'));
    expect(out.status).toBe('unchanged');
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});
