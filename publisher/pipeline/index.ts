// The pipeline: for every selected target, run the stages its kind has, in order
// build → verify → scan → sign → publish, with bounded concurrency across targets. Each stage returns a
// result; the runner (runner.ts) commits it, one commit per result. What runs next depends on the
// verdict alone: `done` goes on, `failed`, `blocked` and `skipped` stop the artifact there, and a `done`
// result marked `complete` (inputs unchanged, already published) ends it early. So nothing is published
// that was not built and verified, a scan policy block stops signing and publishing, and one artifact
// failing never stops the others.
//
// Work is ordered by the build graph (catalog/graph.ts, runner.ts orderByGraph): an image another image
// of the run is built FROM goes through its stages (is built and published) first, and the child
// starts after it. When an image is rebuilt, its children in the graph become pending
// (watch/pending.ts markChildrenPending, reason `parent <app>:<tag> rebuilt`), so they are rebuilt in
// this run when selected, or by the next one. A recipe in a build-graph cycle is skipped with that
// problem (file:line); the rest goes on.
import pLimit from 'p-limit';
import { STAGES, type ImageKind, type Stage } from '../../catalog/schema.ts';
import {
  targetLabel,
  type StageContext,
  type StageFn,
  type StageOutcome,
  type StageResult,
  type StageTarget,
} from '../stage.ts';
import { loadArtifact } from '../artifact/index.ts';
import { orderByGraph, runStageFor, type OrderedTarget } from './runner.ts';
import { buildGraph, type BuildGraph } from '../../catalog/graph.ts';
import { markChildrenPending } from '../watch/pending.ts';
import { defaultStages, type StageTable, type StageTableOptions } from './stages.ts';

export { commitResult, runStage, runStageFor, newArtifact } from './runner.ts';
export { defaultStages, type StageTable } from './stages.ts';
export {
  parseSelection,
  parseKinds,
  selectTargets,
  type Selection,
  type TargetSelection,
} from '../select.ts';

/** Stage order: every record kind, in the order catalog/schema.ts lists them. */
export const PIPELINE_STAGES: readonly Stage[] = STAGES;

export type ArtifactStatus = 'published' | 'unchanged' | 'done' | 'failed' | 'blocked' | 'skipped';

export interface ArtifactResult {
  app: string;
  tag: string;
  kind: ImageKind;
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

/** build, verify, scan, publish: options of the default stage functions (StageTableOptions). */
export interface PipelineOptions extends StageTableOptions {
  /** Artifacts processed at the same time (default 2). */
  concurrency?: number;
  /** Only these stages, in pipeline order (e.g. ['build'] for `wharf build`). Default: all. */
  only?: readonly Stage[];
  /** Replace stage functions of the container kind (tests, or a machine without some stage). */
  stages?: Partial<Record<Stage, StageFn>>;
  /** Replace the whole per-kind stage table. */
  table?: StageTable;
  onStage?: (o: StageOutcome) => void;
  onArtifact?: (r: ArtifactResult) => void;
  /** Extra problems to report with the result (e.g. from the selection). */
  problems?: string[];
}

export async function runPipeline(
  ctx: StageContext,
  targets: StageTarget[],
  opts: PipelineOptions = {},
): Promise<PipelineResult> {
  const started = Date.now();
  const table = opts.table ?? defaultStages(opts);
  if (opts.stages) table.container = { ...table.container, ...opts.stages };
  const limit = pLimit(Math.max(1, opts.concurrency ?? 2));
  const problems = [...(opts.problems ?? [])];
  let graph: BuildGraph | undefined;
  let ordered: OrderedTarget[] = targets.map((target) => ({ target, after: [] }));
  if (targets.some((t) => t.kind === 'container')) {
    const snap = await ctx.store.load();
    graph = buildGraph(
      [...snap.apps.values()].map((e) => e.app),
      snap.config,
    );
    ordered = orderByGraph(graph, targets);
  }
  const done: Promise<ArtifactResult>[] = [];
  for (const o of ordered)
    done.push(
      limit(async () => {
        const t = o.target;
        let r: ArtifactResult;
        if (o.cycle) {
          problems.push(o.cycle);
          r = skippedArtifact(t, `${targetLabel(t)} skipped: ${o.cycle}`);
        } else {
          // A child starts once its in-run parents are through (they started earlier: no deadlock).
          if (o.after.length) await Promise.all(o.after.map((i) => done[i]));
          const fresh = o.after.length ? { ...t, artifact: await loadArtifact(ctx, t) } : t;
          r = await runArtifact(ctx, fresh, table[t.kind] ?? {}, opts);
          if (graph && t.kind === 'container' && rebuilt(r)) await markChildren(ctx, graph, t);
        }
        opts.onArtifact?.(r);
        return r;
      }),
    );
  const artifacts = await Promise.all(done);
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
    problems,
  };
}

/** The build stage made a new image (not unchanged, not failed). */
const rebuilt = (r: ArtifactResult) =>
  r.stages.some((s) => s.stage === 'build' && s.verdict === 'done' && s.status === 'ok');

/** The rebuilt image's children become pending (one commit, only when there are any to mark). */
async function markChildren(ctx: StageContext, graph: BuildGraph, t: StageTarget): Promise<void> {
  const children = graph.images.get(`${t.app.id}:${t.artifactId}`)?.children ?? [];
  if (!children.length) return;
  try {
    await ctx.store.commit(
      {
        subject: `pending: children of ${targetLabel(t)} (rebuilt)`,
        trailers: { App: t.app.id, Artifact: t.artifactId, Stage: 'graph', 'Run-Id': ctx.runId },
      },
      (tx) =>
        markChildrenPending(
          tx,
          graph,
          { app: t.app.id, tag: t.artifactId },
          {
            since: new Date().toISOString(),
            runId: ctx.runId,
          },
        ).then(() => undefined),
    );
  } catch (e) {
    ctx.log.warn(`cannot mark the children of ${targetLabel(t)} pending: ${(e as Error).message}`);
  }
}

function skippedArtifact(t: StageTarget, message: string): ArtifactResult {
  return {
    app: t.app.id,
    tag: t.artifactId,
    kind: t.kind,
    status: 'skipped',
    message,
    stages: [],
    durationMs: 0,
  };
}

async function runArtifact(
  ctx: StageContext,
  target: StageTarget,
  fns: Partial<Record<Stage, StageFn>>,
  opts: PipelineOptions,
): Promise<ArtifactResult> {
  const started = Date.now();
  const name = targetLabel(target);
  const outcomes: StageOutcome[] = [];
  const done = (status: ArtifactStatus, stoppedAt?: Stage, message?: string): ArtifactResult => ({
    app: target.app.id,
    tag: target.artifactId,
    kind: target.kind,
    status,
    ...(stoppedAt ? { stoppedAt } : {}),
    ...(message ? { message } : {}),
    stages: outcomes,
    durationMs: Date.now() - started,
  });
  const order = PIPELINE_STAGES.filter((s) => fns[s] && (!opts.only || opts.only.includes(s)));
  if (!order.length) return done('skipped', undefined, `no ${target.kind} stages to run for ${name}`);
  let t = target;
  const results: StageResult[] = [];
  for (const stage of order) {
    const { outcome: o, result } = await runStageFor(ctx, stage, fns[stage]!, t);
    outcomes.push(o);
    opts.onStage?.(o);
    if (o.verdict === 'failed') return done('failed', stage, o.message ?? `${stage} ${name} failed`);
    if (o.verdict === 'blocked') return done('blocked', stage, o.message ?? `${stage} ${name}: blocked`);
    if (o.verdict === 'skipped') return done('skipped', stage, o.message);
    results.push(result!);
    if (result!.complete) break;
    t = { ...t, artifact: await loadArtifact(ctx, t) };
  }
  // Nothing new built and nothing new delivered: unchanged. Otherwise published when publish ran.
  const first = results[0]!;
  const last = results.at(-1)!;
  if (first.unchanged && last.unchanged) return done('unchanged', undefined, last.message);
  return done(order.includes('publish') ? 'published' : 'done');
}
