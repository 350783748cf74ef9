// Writing one stage record for one artifact: one catalog commit with the stage trailers. The record is
// validated by the schema inside the transaction, so an invalid record fails before anything is written.
import type { Artifact, StageRecords } from '../../catalog/schema.ts';
import { stageTrailers, type StageContext, type StageTarget } from '../stage.ts';

type Stage = keyof StageRecords;

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

export interface CommitRecordOptions<S extends Stage> {
  stage: S;
  record: NonNullable<StageRecords[S]>;
  subject: string;
  /** Mark the artifact as having outstanding work (kept if one is already set). */
  pendingReason?: string;
}

/** Commit `record` as records[stage] of the target's artifact; returns the commit sha or null. */
export async function commitStageRecord<S extends Stage>(
  ctx: StageContext,
  t: StageTarget,
  o: CommitRecordOptions<S>,
): Promise<string | null> {
  const r = await ctx.store.commit(
    { subject: o.subject, trailers: stageTrailers(o.stage, t, ctx.runId) },
    async (tx) => {
      await tx.updateArtifact(t.app.id, t.kind, t.artifactId, (prev) => {
        const a = prev ?? newArtifact(t);
        const next: Artifact = {
          ...a,
          version: t.recipe.version,
          osVersion: t.recipe.osVersion,
          records: { ...a.records, [o.stage]: o.record },
        };
        if (o.pendingReason && !a.pending)
          next.pending = { reason: o.pendingReason, since: o.record.at, runId: ctx.runId };
        return next;
      });
    },
  );
  return r.sha;
}

/** Last `n` non-empty lines of a text. */
export function tailLines(text: string, n = 30): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l.length > 0)
    .slice(-n);
}
