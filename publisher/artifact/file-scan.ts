// The scan stage of a file kind (wsl, cloud): the files' own RPM databases (read by the kind: the
// `.wsl`'s tar, the disk's root ext4) matched against the catalog's openEuler advisory index; the
// findings, summary and scan policy as for containers. No index, no RPM database, or an OS release the
// feed has no advisories for: `not-run` with the reason, never clean. The same files scanned within
// scanPolicy.rescanHours: the (possibly edited) policy is re-applied to the stored findings.
import type { Finding, ScanRecord } from '../../catalog/schema.ts';
import { advisoriesDir } from '../advisories/config.ts';
import { cvrfToFinding } from '../advisories/coverage.ts';
import { loadIndex } from '../advisories/feed.ts';
import type { PackageSet } from '../advisories/packages.ts';
import { normalizeRelease } from '../advisories/release.ts';
import { matchSets } from '../advisories/scan.ts';
import { putFindings, readFindings } from '../scan/findings.ts';
import { evaluatePolicy, samePolicy } from '../scan/policy.ts';
import { recordNotRun, summaryText } from '../scan/record.ts';
import { targetLabel, type StageContext, type StageFn, type StageTarget } from '../stage.ts';
import { isKind, notThisKind, skipStage, type BuiltFile, type FileKind } from './files.ts';
import { loadArtifact } from './index.ts';

/** The installed packages of the files, or why they cannot be read. */
export type ReadFilePackages = (
  ctx: StageContext,
  t: StageTarget,
  files: BuiltFile[],
) => Promise<{ sets: PackageSet[]; from: string[] } | { reason: string }>;

export interface FileScanOptions {
  now?: () => Date;
  /** Scan even when the same files were scanned within scanPolicy.rescanHours. */
  force?: boolean;
}

const SEVERITY_KEYS = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;

function countFindings(findings: readonly Finding[]): NonNullable<ScanRecord['summary']> {
  const zero = () => ({ CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 });
  const total = zero();
  const fixable = zero();
  for (const f of findings) {
    const s = (SEVERITY_KEYS as readonly string[]).includes(f.severity) ? f.severity : 'UNKNOWN';
    total[s]++;
    if (f.fixed) fixable[s]++;
  }
  return { total, fixable };
}

export function fileScanStage(
  k: FileKind,
  readPackages: ReadFilePackages,
  opts: FileScanOptions = {},
): StageFn<'scan'> {
  return async (ctx, t) => {
    const started = Date.now();
    const now = (opts.now ?? (() => new Date()))();
    if (!isKind(k, t)) return notThisKind('scan', k, t);
    const label = targetLabel(t);
    const art = t.artifact ?? (await loadArtifact(ctx, t));
    const files = k.files(t, art?.records.build);
    if (files.length === 0) return skipStage('scan', `scan ${label}: not built yet`);
    const digest = k.digest(files);
    const notRun = (reason: string) =>
      recordNotRun(ctx, { target: t, digest }, reason, { startedAt: started, now });

    // The same files scanned recently: re-apply the (possibly edited) policy to the stored findings.
    const prev = art?.records.scan;
    const ageH = prev ? (now.getTime() - Date.parse(prev.at)) / 3_600_000 : Infinity;
    if (
      !opts.force &&
      prev?.status === 'ok' &&
      prev.target === digest &&
      ageH < ctx.config.scanPolicy.rescanHours
    ) {
      const stored = await readFindings(ctx.blobs, prev);
      if (stored.ok) {
        const policy = evaluatePolicy(ctx.config.scanPolicy, t.app.id, stored.findings, now);
        const blocked = policy.blocked;
        const message = blocked ? `blocked: ${policy.reasons.join('; ')}` : 'scan of these files is recent';
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
            subject: `scan: ${label} policy re-applied`,
          },
        };
      }
    }

    const release = normalizeRelease(t.recipe.osVersion);
    if (!release) return notRun(`OS packages not scanned: ${t.recipe.osVersion} is not an openEuler release`);
    const dir = advisoriesDir(ctx.store.dir, ctx.config.advisories);
    const idx = await loadIndex(dir).catch(() => undefined);
    if (!idx)
      return notRun(`OS packages not scanned: no advisory index in ${dir} (run wharf advisories sync)`);
    const read = await readPackages(ctx, t, files);
    if ('reason' in read) return notRun(`OS packages not scanned: ${read.reason}`);
    const result = matchSets(read.sets, idx, release, { target: digest, dir, now });
    if (!result.coverage.osScanned) return notRun(result.coverage.summary.split(';')[0]!);
    const findings: Finding[] = result.arches.flatMap((a) =>
      a.findings.map((f) => {
        const m = cvrfToFinding(f, `${label} (${a.arch})`);
        return {
          id: m.id,
          pkg: m.pkg,
          installed: m.installed,
          ...(m.fixed ? { fixed: m.fixed } : {}),
          severity: m.severity,
          ...(m.status ? { status: m.status } : {}),
          ...(m.target ? { target: m.target } : {}),
          ...(m.title ? { title: m.title } : {}),
          ...(m.url ? { url: m.url } : {}),
        };
      }),
    );
    const policy = evaluatePolicy(ctx.config.scanPolicy, t.app.id, findings, now);
    const record: ScanRecord = {
      runId: ctx.runId,
      at: now.toISOString(),
      durationMs: Date.now() - started,
      status: 'ok',
      scanner: { name: 'wharf-cvrf', dbUpdatedAt: idx.syncedAt },
      target: digest,
      os: { family: 'openEuler', name: release },
      summary: countFindings(findings),
      findingsRef: await putFindings(ctx.blobs, findings),
      policy,
    };
    const packages = read.sets.map((s, i) => `${s.packages.length} packages in ${read.from[i]}`).join(', ');
    const message = `${label}: ${summaryText(record)} (${packages})`;
    ctx.log.info(message);
    return {
      stage: 'scan',
      verdict: policy.blocked ? 'blocked' : 'done',
      status: policy.blocked ? 'blocked' : 'ok',
      message: policy.blocked ? `blocked: ${policy.reasons.join('; ')}` : message,
      write: { record, subject: `scan: ${label} ${summaryText(record)}` },
    };
  };
}
