// The runner: the one place that writes stage results to the catalog. It runs a stage function for a
// target, commits the record the result carries (one commit per result, trailers App, Version, Kind,
// Artifact, Arch, Stage, Run-Id, from which events derive), and reports the outcome. A stage that
// throws is a crash: no commit, a failed outcome with the reason. Which stage runs next is decided in
// index.ts from the verdicts alone. It also orders the work of a run by the build graph
// (`orderByGraph`): an image another image of the run is built FROM comes first, and the child waits.
import type { Artifact, Stage } from '../../catalog/schema.ts';
import { imageKey, type BuildGraph } from '../../catalog/graph.ts';
import {
  stageTrailers,
  targetLabel,
  type StageContext,
  type StageFn,
  type StageOutcome,
  type StageResult,
  type StageTarget,
} from '../stage.ts';

/** The artifact skeleton for a target that has never been recorded. */
export function newArtifact(t: StageTarget): Artifact {
  return {
    app: t.app.id,
    kind: t.kind,
    id: t.artifactId,
    version: t.recipe.version,
    osVersion: t.recipe.osVersion,
    arches: t.recipe.arches,
    records: {},
  };
}

/**
 * Commit a stage result's record as records[stage] of the target's artifact; returns the commit sha,
 * or null when the result carries no record or the record is already there byte for byte. The schema
 * validates the record inside the transaction, so an invalid record fails before anything is written.
 */
export async function commitResult(
  ctx: StageContext,
  t: StageTarget,
  r: StageResult,
): Promise<string | null> {
  const w = r.write;
  if (!w) return null;
  const subject = w.subject ?? `${r.stage} ${targetLabel(t)}: ${r.status}`;
  const res = await ctx.store.commit(
    { subject, trailers: stageTrailers(r.stage, t, ctx.runId) },
    async (tx) => {
      await tx.updateArtifact(t.app.id, t.kind, t.artifactId, (prev) => {
        if (!prev && !w.upsert)
          throw new Error(`${targetLabel(t)}: no artifact record in the catalog (build it first)`);
        const a = prev ?? newArtifact(t);
        const next: Artifact = {
          ...a,
          ...(w.upsert ? { version: t.recipe.version, osVersion: t.recipe.osVersion } : {}),
          records: { ...a.records, [r.stage]: w.record },
        };
        if (w.pending === 'clear') delete next.pending;
        else if (w.pending && !a.pending)
          next.pending = { reason: w.pending.set, since: w.pending.since, runId: ctx.runId };
        return next;
      });
    },
  );
  return res.sha;
}

export interface RunStageResult {
  outcome: StageOutcome;
  /** The stage's result (undefined after a crash). */
  result?: StageResult;
}

/** Run one stage for one target and commit its result: the one way any command runs a stage. */
export async function runStageFor(
  ctx: StageContext,
  stage: Stage,
  fn: StageFn,
  t: StageTarget,
): Promise<RunStageResult> {
  const started = Date.now();
  const base = { stage, app: t.app.id, artifactId: t.artifactId, kind: t.kind, arch: t.arch };
  let result: StageResult;
  let commit: string | null;
  try {
    result = await fn(ctx, t);
    if (result.stage !== stage) throw new Error(`the ${stage} stage returned a ${result.stage} result`);
    commit = await commitResult(ctx, t, result);
  } catch (e) {
    // Stages record their own failures as results; this is a crash (a bug, or a lost store).
    const message = `${stage} ${targetLabel(t)} crashed: ${e instanceof Error ? e.message : String(e)}`;
    ctx.log.warn(message);
    return {
      outcome: {
        ...base,
        verdict: 'failed',
        status: 'error',
        commit: null,
        durationMs: Date.now() - started,
        message,
      },
    };
  }
  return {
    result,
    outcome: {
      ...base,
      verdict: result.verdict,
      status: result.status,
      commit,
      durationMs: Date.now() - started,
      ...(result.message ? { message: result.message } : {}),
    },
  };
}

/** Run one stage for one target and commit its result; returns the outcome. */
export async function runStage(
  ctx: StageContext,
  stage: Stage,
  fn: StageFn,
  t: StageTarget,
): Promise<StageOutcome> {
  return (await runStageFor(ctx, stage, fn, t)).outcome;
}

export interface OrderedTarget {
  target: StageTarget;
  /** Indexes (into the ordered list) of the run's targets this one is built FROM, directly or not. */
  after: number[];
  /** The recipe is in a build-graph cycle: the problem to report instead of building it. */
  cycle?: string;
}

/**
 * Order a run's targets by the build graph: parents before children (graph order; targets the graph
 * does not know keep their place relative to each other, before the graph's), each with the in-run
 * ancestors it must wait for. A FIFO pool started in this order never waits for a target it has not
 * started, so it cannot deadlock.
 */
export function orderByGraph(graph: BuildGraph, targets: readonly StageTarget[]): OrderedTarget[] {
  const rank = new Map(graph.order.map((k, i) => [k, i]));
  const keyOf = (t: StageTarget) => (t.kind === 'container' ? imageKey(t.app.id, t.artifactId) : null);
  const sorted = targets
    .map((t, i) => ({ t, i, r: rank.get(keyOf(t) ?? '') ?? -1 }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.t);
  const pos = new Map<string, number>();
  sorted.forEach((t, i) => {
    const k = keyOf(t);
    if (k) pos.set(k, i);
  });
  const problems = new Map(
    graph.problems.map((p) => [imageKey(p.app, p.tag), `${p.file}:${p.line}: ${p.message}`]),
  );
  return sorted.map((t) => {
    const k = keyOf(t);
    const after = new Set<number>();
    if (k && !graph.cyclic.has(k)) {
      // Ancestors in the graph that are part of this run.
      const seen = new Set<string>();
      const stack = [k];
      while (stack.length) {
        const cur = stack.pop()!;
        for (const p of graph.images.get(cur)?.parents ?? []) {
          if (!p.app || !p.tag) continue;
          const pk = imageKey(p.app, p.tag);
          if (seen.has(pk) || graph.cyclic.has(pk)) continue;
          seen.add(pk);
          stack.push(pk);
          const at = pos.get(pk);
          if (at !== undefined) after.add(at);
        }
      }
    }
    const cycle = k && graph.cyclic.has(k) ? problems.get(k) : undefined;
    return { target: t, after: [...after].sort((a, b) => a - b), ...(cycle ? { cycle } : {}) };
  });
}
