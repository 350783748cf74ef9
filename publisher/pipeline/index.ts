// The pipeline: for every selected artifact, run the stages that are still to do, in order
// build → verify → scan → sign → publish, with bounded concurrency across artifacts. Each stage writes
// its own record (one commit). An artifact stops at its first failed stage, so nothing is published
// that was not built and verified, and a scan policy block stops signing and publishing. One artifact
// failing never stops the others. An artifact whose inputs are unchanged and whose image is already
// published for this digest ends after the build stage's quick "unchanged" record.
import pLimit from 'p-limit';
import { assertAppId, assertTag } from '../../catalog/names.ts';
import type { Artifact, Stage } from '../../catalog/schema.ts';
import type { CatalogSnapshot } from '../../catalog/store.ts';
import { makeBuildStage, type BuildStageOptions } from '../build/index.ts';
import { makeVerifyStage, type VerifyStageOptions } from '../verify/index.ts';
import { runScan } from '../scan/index.ts';
import { runSign } from '../sign/index.ts';
import { runPublish } from '../publish/index.ts';
import type { StageContext, StageOutcome, StageRunner, StageTarget } from '../stage.ts';

export const PIPELINE_STAGES: readonly Stage[] = ['build', 'verify', 'scan', 'sign', 'publish'];

export interface Selection {
  app: string;
  tag?: string;
}

/** Parse `app[:tag]` arguments; names are validated before they go anywhere. */
export function parseSelection(args: string[]): Selection[] {
  return args.map((a) => {
    const i = a.indexOf(':');
    if (i < 0) return { app: assertAppId(a) };
    return { app: assertAppId(a.slice(0, i)), tag: assertTag(a.slice(i + 1)) };
  });
}

export interface TargetSelection {
  targets: StageTarget[];
  /** Selection entries that matched nothing, and recipes the importer flagged. */
  problems: string[];
}

/** The container artifacts of a catalog snapshot matching `selection` (all when empty). */
export function selectTargets(snap: CatalogSnapshot, selection: Selection[] = []): TargetSelection {
  const problems: string[] = [];
  for (const s of selection) {
    const e = snap.apps.get(s.app);
    if (!e) problems.push(`no app ${s.app} in the catalog`);
    else if (s.tag && !e.app.recipes.container.some((r) => r.tag === s.tag))
      problems.push(`app ${s.app} has no container recipe with tag ${s.tag}`);
  }
  const wanted = (app: string, tag: string) =>
    selection.length === 0 || selection.some((s) => s.app === app && (!s.tag || s.tag === tag));
  const targets: StageTarget[] = [];
  for (const id of [...snap.apps.keys()].sort()) {
    const e = snap.apps.get(id)!;
    for (const recipe of e.app.recipes.container) {
      if (!wanted(id, recipe.tag)) continue;
      targets.push({
        app: e.app,
        kind: 'container',
        artifactId: recipe.tag,
        recipe,
        artifact: e.artifacts.find((a) => a.kind === 'container' && a.id === recipe.tag),
      });
    }
  }
  return { targets, problems };
}

export type ArtifactStatus = 'published' | 'unchanged' | 'done' | 'failed' | 'blocked' | 'skipped';

export interface ArtifactResult {
  app: string;
  tag: string;
  status: ArtifactStatus;
  /** The stage that stopped this artifact. */
  stoppedAt?: Stage;
  message?: string;
  stages: StageOutcome[];
  durationMs: number;
}

export interface PipelineResult {
  runId: string;
  durationMs: number;
  artifacts: ArtifactResult[];
  counts: Record<ArtifactStatus, number>;
  problems: string[];
}

export interface PipelineOptions {
  /** Artifacts processed at the same time (default 2). */
  concurrency?: number;
  /** Only these stages, in pipeline order (e.g. ['build'] for `wharf build`). Default: all. */
  only?: Stage[];
  build?: BuildStageOptions;
  verify?: VerifyStageOptions;
  /** Replace stage runners (tests, or a machine without some stage). */
  runners?: Partial<Record<Stage, StageRunner>>;
  onStage?: (o: StageOutcome) => void;
  onArtifact?: (r: ArtifactResult) => void;
  /** Extra problems to report with the result (e.g. from the selection). */
  problems?: string[];
}

const FAILED = new Set(['failed', 'error']);

/** Is this stage's last record already good for the current build? (Used after an "unchanged" build.) */
function stageDone(stage: Stage, a: Artifact | undefined): boolean {
  const b = a?.records.build;
  if (!a || !b?.manifestDigest) return false;
  const r = a.records;
  switch (stage) {
    case 'verify':
      return r.verify?.status === 'passed' && r.verify.inputsDigest === b.inputsDigest;
    case 'publish':
      return (
        (r.publish?.status === 'ok' || r.publish?.status === 'unchanged') &&
        r.publish.digest === b.manifestDigest
      );
    default:
      return false;
  }
}

async function reload(ctx: StageContext, t: StageTarget): Promise<StageTarget> {
  const e = await ctx.store.loadApp(t.app.id);
  return { ...t, artifact: e?.artifacts.find((a) => a.kind === t.kind && a.id === t.artifactId) };
}

export async function runPipeline(
  ctx: StageContext,
  targets: StageTarget[],
  opts: PipelineOptions = {},
): Promise<PipelineResult> {
  const started = Date.now();
  const runners: Record<Stage, StageRunner> = {
    build: makeBuildStage(opts.build),
    verify: makeVerifyStage(opts.verify),
    scan: runScan,
    sign: runSign,
    publish: runPublish,
    ...opts.runners,
  };
  const stages = PIPELINE_STAGES.filter((s) => !opts.only || opts.only.includes(s));
  const limit = pLimit(Math.max(1, opts.concurrency ?? 2));
  const artifacts = await Promise.all(
    targets.map((t) =>
      limit(async () => {
        const r = await runArtifact(ctx, t, stages, runners, opts);
        opts.onArtifact?.(r);
        return r;
      }),
    ),
  );
  const counts: Record<ArtifactStatus, number> = {
    published: 0,
    unchanged: 0,
    done: 0,
    failed: 0,
    blocked: 0,
    skipped: 0,
  };
  for (const a of artifacts) counts[a.status]++;
  return {
    runId: ctx.runId,
    durationMs: Date.now() - started,
    artifacts,
    counts,
    problems: opts.problems ?? [],
  };
}

async function runArtifact(
  ctx: StageContext,
  target: StageTarget,
  stages: readonly Stage[],
  runners: Record<Stage, StageRunner>,
  opts: PipelineOptions,
): Promise<ArtifactResult> {
  const started = Date.now();
  const name = `${target.app.id}:${target.artifactId}`;
  const outcomes: StageOutcome[] = [];
  const done = (status: ArtifactStatus, stoppedAt?: Stage, message?: string): ArtifactResult => ({
    app: target.app.id,
    tag: target.artifactId,
    status,
    ...(stoppedAt ? { stoppedAt } : {}),
    ...(message ? { message } : {}),
    stages: outcomes,
    durationMs: Date.now() - started,
  });
  let t = target;
  let buildUnchanged = false;
  for (const stage of stages) {
    if (buildUnchanged && stageDone(stage, t.artifact)) continue;
    let o: StageOutcome;
    try {
      o = await runners[stage](ctx, t);
    } catch (e) {
      // A stage is expected to record its own failures; this is a crash (a bug or a lost store).
      const message = `${stage} ${name} crashed: ${(e as Error).message}`;
      ctx.log.warn(message);
      return done('failed', stage, message);
    }
    outcomes.push(o);
    opts.onStage?.(o);
    t = await reload(ctx, t);
    if (stage === 'build') {
      if (o.status === 'skipped') return done('skipped', stage, o.message);
      if (o.status === 'unchanged') {
        buildUnchanged = true;
        if (stageDone('publish', t.artifact)) return done('unchanged', undefined, o.message);
      }
    }
    if (FAILED.has(o.status)) return done('failed', stage, o.message ?? `${stage} ${name} failed`);
    if (stage === 'verify' && o.status !== 'passed')
      return done('failed', stage, o.message ?? `verify ${name}: ${o.status}`);
    if (o.status === 'blocked' || (stage === 'scan' && t.artifact?.records.scan?.policy?.blocked))
      return done('blocked', stage, o.message ?? `${stage} ${name}: blocked by policy`);
    if (stage === 'publish' && o.status === 'partial')
      return done('failed', stage, o.message ?? `publish ${name}: some registry targets failed`);
  }
  if (!stages.includes('publish')) return done(buildUnchanged && stages.length === 1 ? 'unchanged' : 'done');
  const p = t.artifact?.records.publish;
  const pushed = outcomes.some((o) => o.stage === 'publish' && o.status === 'ok');
  if (p && (p.status === 'ok' || p.status === 'unchanged'))
    return done(pushed || !buildUnchanged ? 'published' : 'unchanged');
  return done('failed', 'publish', `publish ${name}: ${p?.status ?? 'no record'}`);
}
