// A cloud image published with `clouds:` targets configured stays pending (`import not started`) until
// the import stage commits: a process killed between the publish commit and the import's first commit
// leaves it pending, so the next pipeline run (the daemon's, even without an engine) imports it.
import { afterEach, describe, expect, it } from 'vitest';
import { runStage } from '../../publisher/pipeline/index.ts';
import { importAfterPublish } from '../../publisher/pipeline/stages.ts';
import { needsOnlyImport } from '../../publisher/scheduler/jobs.ts';
import type { StageFn } from '../../publisher/stage.ts';
import { fakeBuild, fakePublish, openImportCatalog, type ImportCatalog } from '../cloud/import-catalog.ts';

const aws = {
  name: 'aws-use1',
  provider: 'aws' as const,
  region: 'us-east-1',
  objectStorage: 'images',
  endpoint: 'http://127.0.0.1:1',
};

/** The record the cloud publish stage writes when every target took the files: it clears the pending mark. */
const publishOk: StageFn<'publish'> = async (c, t) => {
  const r = await fakePublish(c, t);
  return { ...r, complete: true, write: { ...r.write!, pending: 'clear' } };
};

let cat: ImportCatalog | undefined;
afterEach(async () => {
  await cat?.close();
  cat = undefined;
});

describe('importAfterPublish', () => {
  it('leaves a published cloud image pending "import not started" when clouds are configured', async () => {
    cat = await openImportCatalog([aws], {});
    await runStage(cat.ctx, 'build', fakeBuild, await cat.target());
    expect((await cat.target()).artifact?.pending).toBeUndefined();
    const r = await importAfterPublish(publishOk)(cat.ctx, await cat.target());
    expect(r.complete).toBeUndefined();
    const o = await runStage(cat.ctx, 'publish', importAfterPublish(publishOk), await cat.target());
    expect(o.verdict).toBe('done');
    expect(o.commit).toMatch(/^[a-f0-9]{40}$/);
    const after = await cat.target();
    expect(after.artifact?.records.publish?.status).toBe('ok');
    expect(after.artifact?.pending?.reason).toBe('import not started');
    expect(needsOnlyImport(after)).toBe(true);
  });

  it('keeps the plain publish result when no clouds are configured', async () => {
    cat = await openImportCatalog([], {});
    await runStage(cat.ctx, 'build', fakeBuild, await cat.target());
    const t = await cat.target();
    const wrapped = await importAfterPublish(publishOk)(cat.ctx, t);
    expect(wrapped.write?.pending).toBe('clear');
    expect(wrapped.complete).toBe(true);
  });
});
