// The scan stage: over the OCI image layout the build stage left (the same bytes publish pushes), Wharf's
// own matcher over the installed RPMs of every built arch and openEuler's advisories (wharf-cvrf), and
// Trivy; one scan record per artifact, with its coverage, returned to the runner. Which published digests are due for a rescan,
// and how one is scanned, live in rescan.ts (the runner in publisher/pipeline runs them).
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadArtifact } from '../artifact/index.ts';
import { imageLayoutDir, type StageFn } from '../stage.ts';
import { builtLayouts, readBuiltPackages } from './packages.ts';
import { reapplyRecentScan } from './recent.ts';
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
    const recent = await reapplyRecentScan(ctx, t, artifact?.records.scan, {
      target: digest,
      now,
      ...(opts.force ? { force: true } : {}),
      recent: 'scan of this digest is recent',
    });
    if (recent) return recent;

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
