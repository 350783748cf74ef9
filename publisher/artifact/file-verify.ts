// The verify stage of a file kind (wsl, cloud) around the kind's own checks (Microsoft's WSL checks,
// the boot test): the files of the build record, the same files already passed (unchanged), and the
// record: `inputsDigest` = the files' digest (what the gate compares), the checks, and the error when
// any failed. A failed verify fails the artifact: nothing after it runs.
import type { VerifyRecord } from '../../catalog/schema.ts';
import { targetLabel, type StageContext, type StageFn, type StageTarget } from '../stage.ts';
import { isKind, notThisKind, skipStage, type BuiltFile, type FileKind } from './files.ts';

/** What the kind's checks found: `error` (the record's error message) set means verify failed. */
export interface FileChecks {
  checks: VerifyRecord['checks'];
  error?: string;
  /** The stage's message (logged: a warning when verify failed). */
  message: string;
  /** Kind-specific record fields (cloud: the boot test). */
  record?: Pick<VerifyRecord, 'bootTest'>;
}

export function fileVerifyStage(
  k: FileKind,
  check: (ctx: StageContext, t: StageTarget, files: BuiltFile[]) => Promise<FileChecks>,
): StageFn<'verify'> {
  return async (ctx, t) => {
    const started = Date.now();
    if (!isKind(k, t)) return notThisKind('verify', k, t);
    const files = k.files(t, t.artifact?.records.build);
    if (files.length === 0) return skipStage('verify', `verify ${targetLabel(t)}: not built yet`);
    const inputsDigest = k.digest(files);
    const prev = t.artifact?.records.verify;
    if (prev?.status === 'passed' && prev.inputsDigest === inputsDigest)
      return { stage: 'verify', verdict: 'done', status: 'passed', unchanged: true };
    const found = await check(ctx, t, files);
    const failed = found.error !== undefined;
    const record: VerifyRecord = {
      runId: ctx.runId,
      at: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      status: failed ? 'failed' : 'passed',
      inputsDigest,
      checks: found.checks,
      ...found.record,
      ...(failed ? { error: { message: found.error! } } : {}),
    };
    if (failed) ctx.log.warn(found.message);
    else ctx.log.info(found.message);
    return {
      stage: 'verify',
      verdict: failed ? 'failed' : 'done',
      status: record.status,
      message: found.message,
      write: { upsert: true, record },
    };
  };
}
