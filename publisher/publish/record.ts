// Committing the sign and publish records: one catalog commit per result, with the stage trailers.
// The record is validated by the schema inside the transaction, so nothing half-made is written.
import type { Artifact, PublishRecord, SignRecord } from '../../catalog/schema.ts';
import { stageTrailers, type StageContext, type StageTarget } from '../stage.ts';

export async function loadArtifact(ctx: StageContext, t: StageTarget): Promise<Artifact | undefined> {
  const entry = await ctx.store.loadApp(t.app.id);
  return entry?.artifacts.find((a) => a.kind === t.kind && a.id === t.artifactId);
}

export async function commitRecord(
  ctx: StageContext,
  t: StageTarget,
  stage: 'sign' | 'publish',
  record: SignRecord | PublishRecord,
  subject: string,
  opts: { clearPending?: boolean } = {},
): Promise<string | null> {
  const r = await ctx.store.commit({ subject, trailers: stageTrailers(stage, t, ctx.runId) }, async (tx) => {
    await tx.updateArtifact(t.app.id, t.kind, t.artifactId, (prev) => {
      if (!prev) throw new Error(`${t.app.id}:${t.artifactId}: no artifact record (build it first)`);
      const next: Artifact = { ...prev, records: { ...prev.records, [stage]: record } };
      if (opts.clearPending) delete next.pending;
      return next;
    });
  });
  return r.sha;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
