// The stage contract: stages return results, the runner alone commits them (one commit per result, the
// stage trailers) and decides what runs next from the verdict alone. Fake stage functions on a real git
// catalog: every verdict, a result without a record, a crash, pending marks, the WSL kind.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppInput, Stage } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { openStageContext } from '../../publisher/context.ts';
import { runPipeline, runStage, selectTargets } from '../../publisher/pipeline/index.ts';
import { parseKinds, parseSelection } from '../../publisher/select.ts';
import type { StageContext, StageFn, StageResult, StageTarget, Verdict } from '../../publisher/stage.ts';

const TAG = '1.0-oe2403sp4';
const app: AppInput = {
  id: 'demo',
  name: 'demo',
  title: { en: 'demo' },
  category: 'tools',
  recipes: {
    container: [
      {
        kind: 'container',
        tag: TAG,
        dockerfile: '1.0/24.03-lts-sp4/Dockerfile',
        version: '1.0',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64'],
      },
    ],
    cloud: [],
    wsl: [
      {
        kind: 'wsl',
        id: 'demo-wsl',
        source: 'rootfs.tar',
        version: '1.0',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64'],
      },
    ],
  },
};

let dir: string;
let store: CatalogStore;
let ctx: StageContext;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-runner-'));
  store = await CatalogStore.init(join(dir, 'catalog'));
  await store.commit({ subject: 'test app' }, (tx) => {
    tx.putApp(app);
  });
  ctx = await openStageContext(store, { workDir: join(dir, 'work'), engine: null, env: {} });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function targets(kinds?: string): Promise<StageTarget[]> {
  const k = parseKinds(kinds);
  return selectTargets(await store.load(), parseSelection(['demo']), k ? { kinds: k } : {}).targets;
}

/** A fake stage that returns `verdict` and, unless told otherwise, a record; it logs that it ran. */
function fake(stage: Stage, verdict: Verdict, ran: Stage[], extra: Partial<StageResult> = {}): StageFn {
  return async (c) => {
    ran.push(stage);
    const at = new Date().toISOString();
    const base = { runId: c.runId, at };
    const records: Record<Stage, unknown> = {
      build: {
        ...base,
        status: verdict === 'done' ? 'ok' : verdict,
        manifestDigest: `sha256:${'a'.repeat(64)}`,
      },
      verify: { ...base, status: verdict === 'done' ? 'passed' : 'failed', checks: [] },
      scan: { ...base, status: 'ok' },
      sign: { ...base, status: verdict === 'failed' ? 'failed' : 'skipped', signatures: [] },
      publish: { ...base, status: verdict === 'done' ? 'ok' : verdict, targets: [] },
      import: { ...base, status: verdict === 'done' ? 'ok' : verdict, targets: [] },
    };
    return {
      stage,
      verdict,
      status: `fake-${verdict}`,
      write: { upsert: true, record: records[stage] as never },
      ...extra,
    } as StageResult;
  };
}

const allDone = (ran: Stage[]) =>
  Object.fromEntries(
    (['build', 'verify', 'scan', 'sign', 'publish'] as const).map((s) => [s, fake(s, 'done', ran)]),
  ) as Record<Stage, StageFn>;

const stageLog = async () => (await store.log('demo')).filter((e) => e.trailers.Stage !== undefined);

describe('the runner', () => {
  it('commits each result once, with the stage trailers, and runs every stage on done', async () => {
    const ran: Stage[] = [];
    const [t] = await targets('container');
    const r = await runPipeline(ctx, [t!], { stages: allDone(ran) });
    expect(ran).toEqual(['build', 'verify', 'scan', 'sign', 'publish']);
    expect(r.artifacts[0]).toMatchObject({ app: 'demo', tag: TAG, kind: 'container', status: 'published' });
    const outcomes = r.artifacts[0]!.stages;
    expect(outcomes.map((o) => o.verdict)).toEqual(['done', 'done', 'done', 'done', 'done']);
    expect(outcomes.every((o) => /^[a-f0-9]{40}$/.test(o.commit ?? ''))).toBe(true);
    const log = await stageLog();
    expect(log).toHaveLength(5);
    expect(log.map((e) => e.trailers.Stage).reverse()).toEqual([
      'build',
      'verify',
      'scan',
      'sign',
      'publish',
    ]);
    for (const e of log) {
      expect(e.trailers).toMatchObject({
        App: 'demo',
        Version: '1.0',
        Kind: 'container',
        Artifact: TAG,
        Arch: 'amd64',
        'Run-Id': ctx.runId,
      });
      expect(e.subject).toBe(`${e.trailers.Stage} demo:${TAG}: fake-done`);
    }
    const a = (await store.loadApp('demo'))!.artifacts.find((x) => x.id === TAG)!;
    expect(Object.keys(a.records).sort()).toEqual(['build', 'publish', 'scan', 'sign', 'verify']);
  });

  for (const [verdict, status] of [
    ['failed', 'failed'],
    ['blocked', 'blocked'],
    ['skipped', 'skipped'],
  ] as const) {
    it(`stops the artifact at a ${verdict} verdict (after committing that result)`, async () => {
      const ran: Stage[] = [];
      const [t] = await targets('container');
      const stages = { ...allDone(ran), scan: fake('scan', verdict, ran) };
      const r = await runPipeline(ctx, [t!], { stages });
      expect(ran).toEqual(['build', 'verify', 'scan']);
      expect(r.artifacts[0]).toMatchObject({ status, stoppedAt: 'scan' });
      expect(r.counts[status]).toBe(1);
      expect((await stageLog()).map((e) => e.trailers.Stage).reverse()).toEqual(['build', 'verify', 'scan']);
    });
  }

  it('a done result marked complete ends the artifact early; unchanged first and last = unchanged', async () => {
    const ran: Stage[] = [];
    const [t] = await targets('container');
    const stages = {
      ...allDone(ran),
      build: fake('build', 'done', ran, { unchanged: true, complete: true, message: 'already published' }),
    };
    const r = await runPipeline(ctx, [t!], { stages });
    expect(ran).toEqual(['build']);
    expect(r.artifacts[0]).toMatchObject({ status: 'unchanged', message: 'already published' });
  });

  it('a result without a record makes no commit; only → done (not published)', async () => {
    const ran: Stage[] = [];
    const [t] = await targets('container');
    const noRecord: StageFn = async () => ({ stage: 'verify', verdict: 'done', status: 'unchanged' });
    const before = (await store.log()).length;
    const r = await runPipeline(ctx, [t!], {
      only: ['verify'],
      stages: { ...allDone(ran), verify: noRecord },
    });
    expect(r.artifacts[0]).toMatchObject({ status: 'done' });
    expect(r.artifacts[0]!.stages[0]).toMatchObject({ stage: 'verify', verdict: 'done', commit: null });
    expect((await store.log()).length).toBe(before);
  });

  it('a crashing stage is a failed outcome with no commit; the other artifacts go on', async () => {
    const [t] = await targets('container');
    const crash: StageFn = async () => {
      throw new Error('boom');
    };
    const before = (await store.log()).length;
    const o = await runStage(ctx, 'build', crash, t!);
    expect(o).toMatchObject({ verdict: 'failed', status: 'error', commit: null });
    expect(o.message).toBe(`build demo:${TAG} crashed: boom`);
    expect((await store.log()).length).toBe(before);
  });

  it('a record the schema refuses is never written', async () => {
    const [t] = await targets('container');
    const bad: StageFn = async () => ({
      stage: 'build',
      verdict: 'done',
      status: 'ok',
      write: { upsert: true, record: { status: 'no-such-status' } as never },
    });
    const before = (await store.log()).length;
    const o = await runStage(ctx, 'build', bad, t!);
    expect(o).toMatchObject({ verdict: 'failed', status: 'error', commit: null });
    expect((await store.log()).length).toBe(before);
    expect((await store.load()).problems).toEqual([]);
  });

  it('only a build (upsert) creates an artifact; pending is set once and cleared by a clear', async () => {
    const [t] = await targets('container');
    const at = new Date().toISOString();
    const sign: StageFn = async (c) => ({
      stage: 'sign',
      verdict: 'done',
      status: 'skipped',
      write: { record: { runId: c.runId, at, status: 'skipped', signatures: [] } },
    });
    expect((await runStage(ctx, 'sign', sign, t!)).message).toMatch(/no artifact record.*build it first/);
    const build =
      (reason: string): StageFn =>
      async (c) => ({
        stage: 'build',
        verdict: 'done',
        status: 'ok',
        write: {
          upsert: true,
          record: { runId: c.runId, at, status: 'ok' },
          pending: { set: reason, since: at },
        },
      });
    await runStage(ctx, 'build', build('first build'), t!);
    await runStage(ctx, 'build', build('second reason'), t!);
    const pending = async () => (await store.loadApp('demo'))!.artifacts.find((a) => a.id === TAG)!.pending;
    expect(await pending()).toEqual({ reason: 'first build', since: at, runId: ctx.runId });
    const publish: StageFn = async (c) => ({
      stage: 'publish',
      verdict: 'done',
      status: 'ok',
      write: { record: { runId: c.runId, at, status: 'ok', targets: [] }, pending: 'clear' },
    });
    expect((await runStage(ctx, 'publish', publish, t!)).commit).toMatch(/^[a-f0-9]{40}$/);
    expect(await pending()).toBeUndefined();
  });

  it('selects WSL targets too; a kind without stages is skipped without a commit', async () => {
    const all = await targets();
    expect(all.map((t) => `${t.kind}/${t.artifactId}/${t.arch}`)).toEqual([
      `container/${TAG}/amd64`,
      'wsl/demo-wsl/amd64',
    ]);
    const wsl = await targets('wsl');
    expect(wsl.map((t) => t.kind)).toEqual(['wsl']);
    const before = (await store.log()).length;
    // (The default table has wsl build and verify now, tested in tests/wsl/stages.test.ts: here a table
    // where the kind has no stages.)
    const r = await runPipeline(ctx, wsl, { table: { container: {}, cloud: {}, wsl: {} } });
    expect(r.artifacts[0]).toMatchObject({ kind: 'wsl', status: 'skipped', stages: [] });
    expect((await store.log()).length).toBe(before);
    // A WSL stage plugged into the table runs through the same runner.
    const ran: Stage[] = [];
    const table = { container: {}, cloud: {}, wsl: { build: fake('build', 'done', ran) } };
    const r2 = await runPipeline(ctx, wsl, { table });
    expect(ran).toEqual(['build']);
    expect(r2.artifacts[0]).toMatchObject({ kind: 'wsl', status: 'done' });
    expect((await stageLog())[0]!.trailers).toMatchObject({
      Kind: 'wsl',
      Artifact: 'demo-wsl',
      Stage: 'build',
    });
    expect(() => parseKinds('container,vm')).toThrow(/unknown image kind "vm"/);
  });
});
