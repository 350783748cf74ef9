// Trivy's JSON report (SchemaVersion 2), parsed with a schema and reduced to what the catalog keeps:
// counts per severity and fixability, and a deduplicated findings list. Unknown fields are tolerated
// (Trivy adds fields between releases); field order does not matter.
import { z } from 'zod';
import { SEVERITIES, type Finding, type Severity } from '../../catalog/schema.ts';

export const TRIVY_SCHEMA_VERSION = 2;

/** Trivy vulnerability statuses (pkg/types in trivy-db). Only 'fixed' means a fix is published. */
export const TRIVY_STATUSES = [
  'unknown',
  'not_affected',
  'affected',
  'fixed',
  'under_investigation',
  'will_not_fix',
  'fix_deferred',
  'end_of_life',
] as const;

const zVulnerability = z.looseObject({
  VulnerabilityID: z.string().min(1),
  PkgName: z.string().min(1),
  PkgID: z.string().optional(),
  InstalledVersion: z.string().default(''),
  FixedVersion: z.string().optional(),
  Status: z.string().optional(),
  Severity: z.string().default('UNKNOWN'),
  Title: z.string().optional(),
  PrimaryURL: z.string().optional(),
});

const zResult = z.looseObject({
  Target: z.string(),
  Class: z.string().optional(),
  Type: z.string().optional(),
  // Trivy writes null (older releases) or omits the key when a target has no findings.
  Vulnerabilities: z
    .array(zVulnerability)
    .nullish()
    .transform((v) => v ?? []),
});

export const zTrivyReport = z.looseObject({
  SchemaVersion: z.literal(TRIVY_SCHEMA_VERSION),
  ArtifactName: z.string(),
  ArtifactType: z.string().optional(),
  CreatedAt: z.string().optional(),
  Metadata: z
    .looseObject({
      OS: z.looseObject({ Family: z.string(), Name: z.string().default('') }).optional(),
      ImageID: z.string().optional(),
      RepoDigests: z.array(z.string()).nullish(),
    })
    .optional(),
  Results: z
    .array(zResult)
    .nullish()
    .transform((v) => v ?? []),
});
export type TrivyReport = z.infer<typeof zTrivyReport>;

/** `trivy --version --format json` (VersionInfo); the DB block is absent before the first download. */
export const zTrivyVersion = z.looseObject({
  Version: z.string(),
  VulnerabilityDB: z
    .looseObject({
      Version: z.number().optional(),
      UpdatedAt: z.string().optional(),
      NextUpdate: z.string().optional(),
      DownloadedAt: z.string().optional(),
    })
    .optional(),
});
export type TrivyVersion = z.infer<typeof zTrivyVersion>;

export class TrivyReportError extends Error {
  override name = 'TrivyReportError';
}

type Counts = Record<Severity, number>;
export const zeroCounts = (): Counts => ({ CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 });

export interface ReportSummary {
  artifactName: string;
  artifactType?: string;
  os?: { family: string; name: string };
  summary: { total: Counts; fixable: Counts };
  findings: Finding[];
}

/** Parse raw report bytes; every failure is a TrivyReportError with a message a person can act on. */
export function parseTrivyReport(text: string, source = 'trivy report'): TrivyReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const head = text.trim().slice(0, 60).replace(/\s+/g, ' ');
    throw new TrivyReportError(
      `${source}: not valid JSON (${(e as Error).message})${head ? `; output starts with ${JSON.stringify(head)}` : '; output is empty'}`,
    );
  }
  if (Array.isArray(data))
    throw new TrivyReportError(
      `${source}: a bare array is Trivy's pre-v0.20 report format; SchemaVersion ${TRIVY_SCHEMA_VERSION} is required`,
    );
  if (typeof data !== 'object' || data === null)
    throw new TrivyReportError(`${source}: expected a JSON object`);
  const sv = (data as Record<string, unknown>).SchemaVersion;
  if (sv !== TRIVY_SCHEMA_VERSION)
    throw new TrivyReportError(
      `${source}: unsupported SchemaVersion ${JSON.stringify(sv ?? null)} (Wharf reads SchemaVersion ${TRIVY_SCHEMA_VERSION})`,
    );
  const r = zTrivyReport.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new TrivyReportError(`${source}: field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data;
}

export function normalizeSeverity(s: string): Severity {
  const up = s.toUpperCase();
  return (SEVERITIES as readonly string[]).includes(up) ? (up as Severity) : 'UNKNOWN';
}

/** A finding is fixable when a fixed version is named or the vendor marks it fixed. */
export function isFixable(f: Pick<Finding, 'fixed' | 'status'>): boolean {
  return Boolean(f.fixed) || f.status === 'fixed';
}

/** Identity of a finding across scans: the same CVE in the same package at the same version. */
export const findingKey = (f: Pick<Finding, 'id' | 'pkg' | 'installed'>): string =>
  `${f.id}\u0000${f.pkg}\u0000${f.installed}`;

/** Human/stable label used in newSinceLast / fixedSinceLast: "<id> <pkg>". */
export const findingLabel = (f: Pick<Finding, 'id' | 'pkg'>): string => `${f.id} ${f.pkg}`;

const SEVERITY_RANK: Record<Severity, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3, UNKNOWN: 4 };

/** Reduce a parsed report to findings (deduplicated by id + package + installed version) and counts. */
export function summarizeReport(report: TrivyReport): ReportSummary {
  const seen = new Map<string, Finding>();
  for (const result of report.Results) {
    for (const v of result.Vulnerabilities) {
      const f: Finding = {
        id: v.VulnerabilityID,
        pkg: v.PkgName,
        installed: v.InstalledVersion,
        severity: normalizeSeverity(v.Severity),
        ...(v.FixedVersion ? { fixed: v.FixedVersion } : {}),
        ...(v.Status ? { status: v.Status } : {}),
        target: result.Target,
        ...(v.Title ? { title: v.Title } : {}),
        ...(v.PrimaryURL ? { url: v.PrimaryURL } : {}),
      };
      const key = findingKey(f);
      const prev = seen.get(key);
      // The same CVE can be reported by two targets (e.g. OS package and a language lock file); keep
      // the more severe view, and a fix if either names one.
      if (!prev) seen.set(key, f);
      else {
        const keep = SEVERITY_RANK[f.severity] < SEVERITY_RANK[prev.severity] ? f : prev;
        const fixed = keep.fixed ?? prev.fixed ?? f.fixed;
        seen.set(key, fixed ? { ...keep, fixed } : keep);
      }
    }
  }
  const findings = sortFindings([...seen.values()]);
  const summary = countFindings(findings);
  const os = report.Metadata?.OS;
  return {
    artifactName: report.ArtifactName,
    ...(report.ArtifactType ? { artifactType: report.ArtifactType } : {}),
    ...(os ? { os: { family: os.Family, name: os.Name } } : {}),
    summary,
    findings,
  };
}

/** Worst first, then by id, package and installed version. */
export function sortFindings(list: Finding[]): Finding[] {
  return list.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      a.id.localeCompare(b.id) ||
      a.pkg.localeCompare(b.pkg) ||
      a.installed.localeCompare(b.installed),
  );
}

/** Counts per severity, and of those fixable. */
export function countFindings(findings: readonly Finding[]): { total: Counts; fixable: Counts } {
  const total = zeroCounts();
  const fixable = zeroCounts();
  for (const f of findings) {
    total[f.severity]++;
    if (isFixable(f)) fixable[f.severity]++;
  }
  return { total, fixable };
}

/** Parse a `trivy --version --format json` answer. */
export function parseTrivyVersion(text: string): TrivyVersion {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new TrivyReportError(
      `trivy --version: not valid JSON: ${JSON.stringify(text.trim().slice(0, 60))}`,
    );
  }
  const r = zTrivyVersion.safeParse(data);
  if (!r.success)
    throw new TrivyReportError(`trivy --version: unexpected shape: ${r.error.issues[0]!.message}`);
  return r.data;
}

/** Minimal check that an SBOM is CycloneDX JSON, so a wrong answer is never stored as one. */
export function checkCycloneDx(text: string): { specVersion: string; components: number } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new TrivyReportError('CycloneDX SBOM: not valid JSON');
  }
  const r = z
    .looseObject({
      bomFormat: z.literal('CycloneDX'),
      specVersion: z.string(),
      components: z.array(z.unknown()).optional(),
    })
    .safeParse(data);
  if (!r.success) throw new TrivyReportError(`CycloneDX SBOM: ${r.error.issues[0]!.message}`);
  return { specVersion: r.data.specVersion, components: r.data.components?.length ?? 0 };
}
