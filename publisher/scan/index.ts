// The scan stage: over the OCI image layout the build stage left (the same bytes publish pushes), Wharf's
// own matcher over the installed RPMs of every built arch and openEuler's advisories (wharf-cvrf), and
// Trivy; one scan record per artifact, with its coverage, returned to the runner. Which published digests are due for a rescan,
// and how one is scanned, live in rescan.ts (the runner in publisher/pipeline runs them).
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadArtifact } from '../artifact/index.ts';
import { imageLayoutDir, type StageFn } from '../stage.ts';
import { readFindings } from './findings.ts';
import { evaluatePolicy, samePolicy } from './policy.ts';
import { builtLayouts, readBuiltPackages } from './packages.ts';
import { recordNotRun, scanAndRecord, type ScanRunOptions } from './record.ts';

export { planRescans, rescanStage, type RescanPlanItem } from './rescan.ts';
export { evaluatePolicy, notRunPolicy, rebuildCandidates, expiredWaivers } from './policy.ts';
export { parseTrivyReport, summarizeReport, TrivyReportError } from './report.ts';
export { summaryText, osNotScanned, OS_NOT_SCANNED } from './record.ts';
export { readFindings, putFindings, FINDINGS_MEDIA_TYPE } from './findings.ts';

export interface ScanStageOptions extends ScanRunOptions {
  /** Scan even when the last scan of the same digest is younger than scanPolicy.rescanHours. */
  force?: boolean;
}

const LAYOUT_MISSING = 'scan: image layout missing; rebuild needed';

/** Does the layout at dir hold the image with this digest (as a blob, or as its index.json itself)? */
async function layoutHolds(dir: string, digest: string): Promise<boolean> {
  const hex = digest.slice('sha256:'.length);
  try {
    await access(join(dir, 'oci-layout'));
  } catch {
    return false;
  }
  try {
    await access(join(dir, 'blobs', 'sha256', hex));
    return true;
  } catch {
    try {
      const index = await readFile(join(dir, 'index.json'));
      return createHash('sha256').update(index).digest('hex') === hex;
    } catch {
      return false;
    }
  }
}

export function createScanRunner(opts: ScanStageOptions = {}): StageFn<'scan'> {
  return async (ctx, t) => {
    const started = Date.now();
    const now = (opts.now ?? (() => new Date()))();
    const base = { target: t };
    if (t.kind !== 'container')
      return recordNotRun(ctx, base, `scanning ${t.kind} images is not supported yet`, {
        startedAt: started,
        now,
      });

    const artifact = t.artifact ?? (await loadArtifact(ctx, t));
    const build = artifact?.records.build;
    const digest =
      build && (build.status === 'ok' || build.status === 'unchanged') ? build.manifestDigest : undefined;
    if (!digest)
      return recordNotRun(ctx, base, 'no built image to scan (records.build has no manifestDigest)', {
        startedAt: started,
        now,
      });

    // Fresh scan of the same digest: re-apply the (possibly edited) policy to the stored findings
    // instead of rescanning; commit only if the decision changed.
    // A stored list that cannot be read (blob store unreachable) means scanning again.
    const prev = artifact?.records.scan;
    const ageH = prev ? (now.getTime() - Date.parse(prev.at)) / 3_600_000 : Infinity;
    const stored =
      !opts.force &&
      prev?.status === 'ok' &&
      prev.target === digest &&
      ageH < ctx.config.scanPolicy.rescanHours
        ? await readFindings(ctx.blobs, prev)
        : undefined;
    if (stored && !stored.ok) ctx.log.warn(`${t.app.id}:${t.artifactId}: ${stored.reason}; scanning again`);
    if (prev && stored?.ok) {
      const policy = {
        ...evaluatePolicy(ctx.config.scanPolicy, t.app.id, stored.findings, now, prev.coverage),
        ...(prev.policy?.rebuildQueued ? { rebuildQueued: true } : {}),
      };
      const blocked = policy.blocked;
      const message = blocked ? `blocked: ${policy.reasons.join('; ')}` : 'scan of this digest is recent';
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
          subject: `scan: ${t.app.id}:${t.artifactId} policy re-applied`,
        },
      };
    }

    const dir = resolve(imageLayoutDir(ctx, t.app.id, t.artifactId));
    if (!(await layoutHolds(dir, digest)))
      return recordNotRun(
        ctx,
        { ...base, digest },
        `image layout for ${digest} is not in this machine's work dir (images/${t.app.id}/${t.artifactId}); rebuild needed`,
        { startedAt: started, now, rebuild: LAYOUT_MISSING },
      );
    return scanAndRecord(
      ctx,
      {
        target: t,
        digest,
        source: { kind: 'input', path: dir },
        packages: () => readBuiltPackages(builtLayouts(ctx, t, build)),
      },
      opts,
    );
  };
}

/** The scan stage with the context's scanner settings (WHARF_TRIVY, WHARF_TRIVY_CACHE_DIR, …). */
export const scanStage: StageFn<'scan'> = createScanRunner();
