// A scan of the same target (digest, or a file kind's files digest) younger than scanPolicy.rescanHours
// is not repeated: the (possibly edited) policy is re-applied to its stored findings, and a commit is
// made only when the decision changed. A stored list that cannot be read (blob store unreachable)
// means scanning again.
import type { ScanRecord } from '../../catalog/schema.ts';
import { targetLabel, type StageContext, type StageResult, type StageTarget } from '../stage.ts';
import { readFindings } from './findings.ts';
import { evaluatePolicy, samePolicy } from './policy.ts';

export async function reapplyRecentScan(
  ctx: Pick<StageContext, 'blobs' | 'config' | 'log' | 'runId'>,
  t: StageTarget,
  prev: ScanRecord | undefined,
  o: { target: string; now: Date; force?: boolean; recent: string },
): Promise<StageResult<'scan'> | undefined> {
  const ageH = prev ? (o.now.getTime() - Date.parse(prev.at)) / 3_600_000 : Infinity;
  if (o.force || !prev || prev.status !== 'ok' || prev.target !== o.target) return undefined;
  if (ageH >= ctx.config.scanPolicy.rescanHours) return undefined;
  const stored = await readFindings(ctx.blobs, prev);
  if (!stored.ok) {
    ctx.log.warn(`${targetLabel(t)}: ${stored.reason}; scanning again`);
    return undefined;
  }
  const policy = {
    ...evaluatePolicy(ctx.config.scanPolicy, t.app.id, stored.findings, o.now, prev.coverage),
    ...(prev.policy?.rebuildQueued ? { rebuildQueued: true } : {}),
  };
  const blocked = policy.blocked;
  const message = blocked ? `blocked: ${policy.reasons.join('; ')}` : o.recent;
  if (samePolicy(prev.policy, policy))
    return {
      stage: 'scan',
      verdict: blocked ? 'blocked' : 'done',
      status: 'unchanged',
      unchanged: true,
      message,
    };
  return {
    stage: 'scan',
    verdict: blocked ? 'blocked' : 'done',
    status: blocked ? 'blocked' : 'ok',
    message,
    write: {
      record: { ...prev, runId: ctx.runId, policy },
      subject: `scan: ${targetLabel(t)} policy re-applied`,
    },
  };
}
