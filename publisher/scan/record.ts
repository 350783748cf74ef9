// Scan one image and return its scan record as a stage result (the runner commits it). Shared by the scan
// stage (the freshly built OCI layout) and rescans (the published registry reference). Two scanners:
// Wharf's own matcher (wharf-cvrf) over the image's installed RPMs and openEuler's advisories, and Trivy
// (language packages, and OS packages of the systems it supports). Their findings are merged and
// de-duplicated, and the record says what was covered (`coverage`). A scan whose OS packages nothing
// matched is "OS packages not scanned", never clean; when neither scanner ran the record is `not-run`.
import type { Artifact, BlobRef, Finding, ScanCoverage, ScanRecord } from '../../catalog/schema.ts';
import { coverageOf, mergeFindings, catalogFinding, type MergedFinding } from '../advisories/coverage.ts';
import type { PackageSet } from '../advisories/packages.ts';
import { buildSbom } from '../advisories/sbom.ts';
import { loadArtifact } from '../artifact/index.ts';
import type { StageContext, StageResult, StageTarget } from '../stage.ts';
import { gitBlobRef, putFindings, readFindings, unchangedScan } from './findings.ts';
import { matchOsPackages } from './packages.ts';
import { evaluatePolicy, notRunPolicy, rebuildCandidates } from './policy.ts';
import {
  countFindings,
  findingKey,
  findingLabel,
  sortFindings,
  summarizeReport,
  type TrivyReport,
} from './report.ts';
import { trivySbom, trivyScan, trivyVersion, type TrivyOptions, type TrivySource } from './trivy.ts';

export const REPORT_MEDIA_TYPE = 'application/vnd.aquasec.trivy.report.v2+json';
export const SBOM_MEDIA_TYPE = 'application/vnd.cyclonedx+json';
/** Raw reports are JSON: a truncated one is useless, so the cap is far above any real report. */
const MAX_REPORT_BYTES = 256 * 1024 * 1024;

export interface ScanJob {
  target: StageTarget;
  /** Digest of what is scanned (the build's manifest digest = the published digest). */
  digest: string;
  source: TrivySource;
  /** Set for rescans of published images: the reference scanned (no credentials in it). */
  rescanRef?: string;
  /**
   * The image's installed packages per arch: read from the built layouts (scan stage) or the stored list
   * (rescans); a reason when they cannot be had. Absent: OS packages are left to Trivy.
   */
  packages?: () => Promise<{ sets: PackageSet[] } | { reason: string }>;
  /** The OS the record names when Trivy's report names none (file kinds: the recipe's openEuler release). */
  os?: ScanRecord['os'];
  /**
   * A scan that did not run says first what kept the OS packages unscanned ("OS packages not scanned:
   * no advisory index …; trivy did not run: …"), not Trivy's failure alone (file kinds).
   */
  osReasonFirst?: boolean;
}

export interface ScanRunOptions {
  /** Overrides of the environment-derived Trivy options (bin, cacheDir, timeoutMs, offline). */
  trivy?: Partial<TrivyOptions>;
  now?: () => Date;
}

export function trivyOptionsFor(ctx: StageContext, opts: ScanRunOptions): TrivyOptions {
  return { ...ctx.scanner(), ...opts.trivy };
}

const label = (t: StageTarget) => `${t.app.id}:${t.artifactId}`;

export const OS_NOT_SCANNED = 'OS packages not scanned';

/** Nothing matched the OS packages of this completed scan (records with a coverage field only). */
export const osNotScanned = (r: Pick<ScanRecord, 'coverage'>): boolean => r.coverage?.os.by === 'none';

export function summaryText(r: Pick<ScanRecord, 'status' | 'summary' | 'error' | 'coverage'>): string {
  if (r.status !== 'ok' || !r.summary) return `not scanned: ${r.error?.message ?? r.status}`;
  const { total, fixable } = r.summary;
  const parts = (['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const)
    .filter((s) => total[s] > 0)
    .map((s) => `${total[s]} ${s}${fixable[s] ? ` (${fixable[s]} fixable)` : ''}`);
  // Zero findings from a scan that did not look at the OS packages says nothing about them.
  if (osNotScanned(r))
    return `${OS_NOT_SCANNED} (${r.coverage!.os.reason ?? 'no OS scanner'})${parts.length ? `; other packages: ${parts.join(', ')}` : ''}`;
  return parts.length ? parts.join(', ') : 'no known vulnerabilities';
}

/** The coverage as the record keeps it. */
function recordCoverage(c: ReturnType<typeof coverageOf>, arches: ScanCoverage['arches']): ScanCoverage {
  return {
    os: c.os,
    language: c.language,
    summary: c.summary,
    ...(arches?.length ? { arches } : {}),
  };
}

/** The artifact a scan result is about, as committed now; a scan needs a built artifact. */
async function currentArtifact(ctx: StageContext, t: StageTarget): Promise<Artifact> {
  const a = await loadArtifact(ctx, t);
  if (!a) throw new Error(`${label(t)}: no artifact record in the catalog (build it first)`);
  return a;
}

/** Record that the scan did not run (scanner missing/failing, nothing to scan), optionally asking for a rebuild. */
export async function recordNotRun(
  ctx: StageContext,
  job: { target: StageTarget; digest?: string; rescanRef?: string },
  reason: string,
  extra: {
    tail?: string[];
    scanner?: ScanRecord['scanner'];
    startedAt: number;
    now: Date;
    rebuild?: string;
    coverage?: ScanCoverage;
  },
): Promise<StageResult<'scan'>> {
  const t = job.target;
  const a = await currentArtifact(ctx, t);
  const base: Omit<ScanRecord, 'policy'> = {
    runId: ctx.runId,
    at: extra.now.toISOString(),
    durationMs: Date.now() - extra.startedAt,
    status: 'not-run',
    ...(extra.scanner ? { scanner: extra.scanner } : {}),
    ...(job.digest ? { target: job.digest } : {}),
    ...(job.rescanRef ? { rescan: true, ref: job.rescanRef } : {}),
    error: { message: reason, ...(extra.tail?.length ? { tail: extra.tail } : {}) },
    ...(extra.coverage ? { coverage: extra.coverage } : {}),
  };
  const policy = notRunPolicy(ctx.config.scanPolicy, reason);
  ctx.log.warn(`${label(t)}: scan not run: ${reason}`);
  return {
    stage: 'scan',
    verdict: policy.blocked ? 'blocked' : 'done',
    status: 'not-run',
    message: reason,
    write: {
      record: { ...base, policy },
      subject: `${job.rescanRef ? 'rescan' : 'scan'}: ${label(t)} not run`,
      ...(extra.rebuild && !a.pending
        ? { pending: { set: extra.rebuild, since: extra.now.toISOString() } }
        : {}),
    },
  };
}

/** Differences against the previous completed scan, as "<id> <pkg>" labels. */
export function diffFindings(
  prev: Finding[] | undefined,
  now: Finding[],
): { added: Finding[]; newSinceLast?: string[]; fixedSinceLast?: string[] } {
  if (!prev) return { added: now };
  const before = new Set(prev.map(findingKey));
  const after = new Set(now.map(findingKey));
  const added = now.filter((f) => !before.has(findingKey(f)));
  const gone = prev.filter((f) => !after.has(findingKey(f)));
  const labels = (fs: Finding[]) => [...new Set(fs.map(findingLabel))].sort();
  return { added, newSinceLast: labels(added), fixedSinceLast: labels(gone) };
}

/** Run wharf-cvrf and Trivy on the job's image and commit the result (ok or not-run). */
export async function scanAndRecord(
  ctx: StageContext,
  job: ScanJob,
  opts: ScanRunOptions = {},
): Promise<StageResult<'scan'>> {
  const started = Date.now();
  const now = (opts.now ?? (() => new Date()))();
  const t = job.target;
  const trivy = trivyOptionsFor(ctx, opts);

  // OS packages first: wharf-cvrf needs nothing but the package lists and the local advisory index.
  const read = job.packages ? await job.packages() : undefined;
  const os = job.packages
    ? await matchOsPackages(
        ctx,
        t,
        read && 'sets' in read ? read.sets : undefined,
        read && 'reason' in read ? read.reason : undefined,
      )
    : undefined;
  if (os?.cvrfNotRun) ctx.log.info(`${label(t)}: wharf-cvrf: ${os.cvrfNotRun}`);

  let scanner: ScanRecord['scanner'] | undefined;
  let trivyNotRun: { reason: string; tail?: string[] } | undefined;
  let scan: { report: TrivyReport; raw: string } | undefined;
  const version = await trivyVersion(trivy);
  if (!version.ok) trivyNotRun = { reason: version.reason, ...(version.tail ? { tail: version.tail } : {}) };
  else {
    scanner = {
      name: 'trivy',
      version: version.value.Version,
      ...(version.value.VulnerabilityDB?.UpdatedAt
        ? { dbUpdatedAt: version.value.VulnerabilityDB.UpdatedAt }
        : {}),
    };
    const what =
      job.source.kind === 'ref' ? job.rescanRef : job.source.kind === 'rootfs' ? 'rootfs' : 'image layout';
    ctx.log.progress?.(`${label(t)}: trivy ${what}`);
    const r = await trivyScan(trivy, job.source);
    if (r.ok) scan = r.value;
    else trivyNotRun = { reason: r.reason, ...(r.tail ? { tail: r.tail } : {}) };
  }
  const cov = coverageOf({
    ...(os?.cvrf ? { cvrf: os.cvrf } : {}),
    ...(os?.cvrfNotRun ? { cvrfNotRun: os.cvrfNotRun } : {}),
    ...(scan
      ? {
          trivy: {
            report: scan.report,
            ...(scanner?.dbUpdatedAt ? { dbUpdatedAt: scanner.dbUpdatedAt } : {}),
          },
        }
      : {}),
    ...(trivyNotRun ? { trivyNotRun: trivyNotRun.reason } : {}),
    ...(!os ? { cvrfNotRun: 'wharf-cvrf does not scan this source' } : {}),
    now,
  });
  const coverage = recordCoverage(cov, os?.arches);
  // Neither scanner produced anything: not run, whatever wharf-cvrf managed to say about the packages.
  if (!scan && coverage.os.by === 'none')
    return recordNotRun(
      ctx,
      job,
      job.osReasonFirst ? `${OS_NOT_SCANNED}: ${coverage.os.reason}` : trivyNotRun!.reason,
      {
        ...(trivyNotRun?.tail ? { tail: trivyNotRun.tail } : {}),
        ...(scanner ? { scanner } : {}),
        startedAt: started,
        now,
        coverage,
      },
    );
  if (trivyNotRun)
    ctx.log.warn(`${label(t)}: trivy did not run (${trivyNotRun.reason}); language packages not scanned`);
  if (!scanner)
    scanner = { name: 'wharf-cvrf', ...(os?.index?.syncedAt ? { dbUpdatedAt: os.index.syncedAt } : {}) };

  const trivySummary = scan ? summarizeReport(scan.report) : undefined;
  const cvrf = (os?.findings ?? []).map((f) => ({ ...f, source: 'wharf-cvrf' as const }) as MergedFinding);
  const findings = sortFindings(mergeFindings(cvrf, trivySummary?.findings ?? []).map(catalogFinding));
  const summary = countFindings(findings);

  // The SBOM describes the image bytes, which a digest fixes: a rescan of the same digest keeps the one
  // it has (regenerating it would only churn the record with a new hash for the same content).
  const art = await currentArtifact(ctx, t);
  const stored = art.records.scan;
  let sbom: BlobRef | undefined =
    job.rescanRef && stored?.sbom && stored.target === job.digest ? gitBlobRef(stored.sbom) : undefined;
  // Wharf's own SBOM (the RPMs with purls) for an image with an RPM database; Trivy's otherwise.
  const primary = os?.sets?.find((s) => s.manifest === job.digest) ?? os?.sets?.[0];
  if (!sbom && primary?.rpmdb) {
    const build = art.records.build;
    const text = buildSbom({
      packages: primary.packages,
      release: t.recipe.osVersion,
      subject: `${t.app.name}:${t.artifactId}@${job.digest}`,
      arch: primary.arch,
      // The build's time, not the scan's: the same image gives the same SBOM bytes.
      timestamp: new Date(build?.at ?? now.toISOString()),
    });
    sbom = gitBlobRef(await ctx.blobs.put(text, SBOM_MEDIA_TYPE, { maxBytes: MAX_REPORT_BYTES }));
  }
  if (!sbom && scan) {
    const sb = await trivySbom(trivy, job.source);
    if (sb.ok)
      sbom = gitBlobRef(await ctx.blobs.put(sb.value.raw, SBOM_MEDIA_TYPE, { maxBytes: MAX_REPORT_BYTES }));
    else ctx.log.warn(`${label(t)}: SBOM not produced: ${sb.reason}`);
  }
  const report = scan
    ? gitBlobRef(await ctx.blobs.put(scan.raw, REPORT_MEDIA_TYPE, { maxBytes: MAX_REPORT_BYTES }))
    : undefined;
  const findingsRef = await putFindings(ctx.blobs, findings);

  const base: Omit<ScanRecord, 'policy'> = {
    runId: ctx.runId,
    at: now.toISOString(),
    durationMs: Date.now() - started,
    status: 'ok',
    scanner,
    target: job.digest,
    ...(job.rescanRef ? { rescan: true, ref: job.rescanRef } : {}),
    ...(trivySummary?.os ? { os: trivySummary.os } : job.os ? { os: job.os } : {}),
    summary,
    findingsRef,
    ...(report ? { report } : {}),
    ...(sbom ? { sbom } : {}),
    coverage,
    ...(os?.packagesRef ? { packagesRef: os.packagesRef } : {}),
  };
  const policyCfg = ctx.config.scanPolicy;
  const subject = `${job.rescanRef ? 'rescan' : 'scan'}: ${label(t)} ${summaryText(base)}`;
  const prev = art.records.scan;
  const policy = evaluatePolicy(policyCfg, t.app.id, findings, now, coverage);
  const next = { target: job.digest, findingsSha: findingsRef.sha256, policy, coverage };
  if (unchangedScan(prev, next, now, policyCfg.rewriteAfterDays)) {
    const record = prev!;
    const blocked = record.policy?.blocked ?? false;
    const message = `${summaryText(record)}; unchanged since ${record.at} (no commit)`;
    ctx.log.info(`${label(t)}: ${message}`);
    return {
      stage: 'scan',
      verdict: blocked ? 'blocked' : 'done',
      status: blocked ? 'blocked' : 'unchanged',
      unchanged: true,
      message,
    };
  }
  const previous = prev?.status === 'ok' ? await readFindings(ctx.blobs, prev) : undefined;
  if (previous && !previous.ok)
    ctx.log.warn(`${label(t)}: previous findings unreadable (${previous.reason}); no new/fixed diff`);
  // Without the previous list nothing can be called new: no diff, and no rebuild queued from it.
  const diff = previous?.ok
    ? diffFindings(previous.findings, findings)
    : previous
      ? { added: [] }
      : diffFindings(undefined, findings);
  let pending: string | undefined;
  let outcomeExtra = '';
  if (job.rescanRef) {
    // Only rescans queue rebuilds: a fresh build already has whatever fixes its inputs offer.
    const cands = rebuildCandidates(policyCfg, t.app.id, diff.added, now);
    if (cands.length) {
      policy.rebuildQueued = true;
      const c = cands[0]!;
      const reason = `rescan: fixable ${c.id} in ${c.pkg}${cands.length > 1 ? ` (+${cands.length - 1} more)` : ''}`;
      if (!art.pending) pending = reason;
      outcomeExtra = `; rebuild queued (${reason})`;
    }
  }
  const record: ScanRecord = {
    ...base,
    ...(diff.newSinceLast ? { newSinceLast: diff.newSinceLast } : {}),
    ...(diff.fixedSinceLast ? { fixedSinceLast: diff.fixedSinceLast } : {}),
    policy,
  };
  const blocked = policy.blocked;
  const message =
    summaryText(record) +
    (record.newSinceLast?.length ? `; new: ${record.newSinceLast.join(', ')}` : '') +
    (blocked ? `; blocked: ${policy.reasons.join('; ')}` : '') +
    outcomeExtra;
  ctx.log.info(`${label(t)}: ${message}`);
  return {
    stage: 'scan',
    verdict: blocked ? 'blocked' : 'done',
    status: blocked ? 'blocked' : 'ok',
    message,
    write: { record, subject, ...(pending ? { pending: { set: pending, since: now.toISOString() } } : {}) },
  };
}
