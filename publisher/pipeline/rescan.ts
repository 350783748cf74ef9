// Rescans of published digests through the runner: plan what is due (publisher/scan/rescan.ts), scan
// each registry copy with the rescan stage function, and commit each result like any stage result (one
// commit per artifact; none when the list and policy are unchanged). A completed rescan moves the
// digest's due time in the local check state (scan/checked.ts), so an unchanged digest is not due again
// until rescanHours later. One artifact's failure never stops the others.
import pLimit from 'p-limit';
import { checkKey, ScanChecks } from '../scan/checked.ts';
import { refreshAdvisories } from '../scan/packages.ts';
import { planRescans, rescanStage, type RescanSkip } from '../scan/rescan.ts';
import type { ScanRunOptions } from '../scan/record.ts';
import type { Selection } from '../select.ts';
import type { StageContext, StageOutcome } from '../stage.ts';
import { runStage } from './runner.ts';

export interface RescanOptions extends ScanRunOptions {
  /** Only these apps / app:tags (default: everything published). */
  select?: readonly Selection[];
  /** Rescan regardless of the last scan's age. */
  force?: boolean;
  concurrency?: number;
  /** Sync the catalog's advisory index first (the daily rescan does), so the newest feed is matched. */
  syncAdvisories?: boolean;
  onProgress?: (done: number, total: number, outcome?: StageOutcome) => void;
}

export interface RescanResult {
  outcomes: StageOutcome[];
  /** Published artifacts not rescanned, and why (fresh enough, no usable target, …). */
  skipped: RescanSkip[];
}

/** Rescan every due published digest; one commit per artifact; one failure never stops the sweep. */
export async function rescanPublished(ctx: StageContext, opts: RescanOptions = {}): Promise<RescanResult> {
  if (opts.syncAdvisories) await refreshAdvisories(ctx);
  const checks = await ScanChecks.open(ctx.store.dir);
  const { due, skipped } = await planRescans(ctx, { ...opts, checks });
  const limit = pLimit(opts.concurrency ?? 2);
  let done = 0;
  opts.onProgress?.(0, due.length);
  const outcomes = await Promise.all(
    due.map((item) =>
      limit(async (): Promise<StageOutcome> => {
        const outcome = await runStage(ctx, 'scan', rescanStage(item, opts), item.target);
        // A completed scan (committed or unchanged) moves the due time; a not-run one does not.
        if (['ok', 'blocked', 'unchanged'].includes(outcome.status))
          await checks
            .record(
              checkKey(item.target.app.id, 'container', item.target.artifactId),
              item.digest,
              (opts.now ?? (() => new Date()))().toISOString(),
            )
            .catch((e: unknown) => ctx.log.warn(`scan check state not saved: ${(e as Error).message}`));
        opts.onProgress?.(++done, due.length, outcome);
        return outcome;
      }),
    ),
  );
  return { outcomes, skipped };
}
