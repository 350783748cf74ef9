// Wharf's own OS-package scan of an image: installed RPMs (per arch) → findings from openEuler's
// advisories → coverage. Used by `wharf scan match` (a rootfs or OCI layout) and `wharf scan report`
// (a built app:tag, with the Trivy record of the scan stage merged in).
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobStore } from '../../catalog/blobs.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import { assertAppId, assertTag } from '../../catalog/names.ts';
import { readFindings } from '../../catalog/findings.ts';
import type { Finding } from '../../catalog/schema.ts';
import { parseTrivyReport, type TrivyReport } from '../scan/report.ts';
import { coverageOf, cvrfToFinding, mergeFindings, type Coverage, type MergedFinding } from './coverage.ts';
import { loadIndex, type AdvisoryIndex } from './feed.ts';
import { ReleaseMatcher, type AdvisoryFinding } from './match.ts';
import { readPackages, type PackageSet } from './packages.ts';
import { normalizeRelease } from './release.ts';
import { renderOpenEulerReport } from './report-md.ts';

export interface ArchResult {
  arch: string;
  manifest?: string;
  rpmdb?: string;
  format?: string;
  noRpmdb?: string;
  packages: number;
  findings: AdvisoryFinding[];
}

export interface MatchResult {
  target: string;
  release: string;
  scannedAt: string;
  advisories: { dir: string; url?: string; syncedAt?: string; forRelease: number };
  arches: ArchResult[];
  coverage: Coverage;
}

/** Does the layout at dir hold the image with this digest (as a blob, or as its index.json)? */
async function layoutHolds(dir: string, digest: string): Promise<boolean> {
  const hex = digest.slice('sha256:'.length);
  try {
    await access(join(dir, 'blobs', 'sha256', hex));
    return true;
  } catch {
    try {
      return (
        createHash('sha256')
          .update(await readFile(join(dir, 'index.json')))
          .digest('hex') === hex
      );
    } catch {
      return false;
    }
  }
}

export class AdvisoryScanError extends Error {
  override name = 'AdvisoryScanError';
}

export async function requireIndex(dir: string): Promise<AdvisoryIndex> {
  const idx = await loadIndex(dir);
  if (!idx) throw new AdvisoryScanError(`no advisory index in ${dir}: run \`wharf advisories sync\` first`);
  return idx;
}

/** Match package sets against an index; coverage from the matcher (and Trivy, when given). */
export function matchSets(
  sets: PackageSet[],
  idx: AdvisoryIndex | undefined,
  release: string,
  opts: {
    target: string;
    dir: string;
    trivy?: { report: TrivyReport; dbUpdatedAt?: string };
    trivyNotRun?: string;
    now?: Date;
  },
): MatchResult {
  const rel = normalizeRelease(release);
  if (!rel)
    throw new AdvisoryScanError(
      `--os ${JSON.stringify(release)} is not an openEuler release (e.g. 22.03-LTS-SP2)`,
    );
  const matcher = idx ? new ReleaseMatcher(Object.values(idx.advisories), rel) : undefined;
  const now = opts.now ?? new Date();
  const arches: ArchResult[] = sets.map((s) => ({
    arch: s.arch,
    ...(s.manifest ? { manifest: s.manifest } : {}),
    ...(s.rpmdb ? { rpmdb: s.rpmdb } : {}),
    ...(s.format ? { format: s.format } : {}),
    ...(s.noRpmdb ? { noRpmdb: s.noRpmdb } : {}),
    packages: s.packages.length,
    findings: matcher ? matcher.match(s.packages) : [],
  }));
  const withDb = sets.filter((s) => s.rpmdb);
  const coverage = coverageOf({
    ...(idx && matcher
      ? {
          cvrf: {
            release: rel,
            syncedAt: idx.syncedAt,
            advisoriesForRelease: matcher.advisories,
            rpmdb: withDb.length > 0,
            ...(sets[0]?.noRpmdb ? { noRpmdb: sets[0].noRpmdb } : {}),
          },
        }
      : {}),
    ...(opts.trivy ? { trivy: opts.trivy } : {}),
    ...(opts.trivyNotRun ? { trivyNotRun: opts.trivyNotRun } : {}),
    now,
  });
  return {
    target: opts.target,
    release: rel,
    scannedAt: now.toISOString(),
    advisories: {
      dir: opts.dir,
      ...(idx ? { url: idx.url, syncedAt: idx.syncedAt } : {}),
      forRelease: matcher?.advisories ?? 0,
    },
    arches,
    coverage,
  };
}

/** `wharf scan match`: a rootfs directory or OCI layout against the local index. */
export async function matchTarget(
  target: string,
  release: string,
  dir: string,
  opts: { arch?: string; now?: Date } = {},
): Promise<MatchResult> {
  const idx = await requireIndex(dir);
  const sets = await readPackages(target, opts.arch ? { arch: opts.arch } : {});
  return matchSets(sets, idx, release, { target, dir, ...(opts.now ? { now: opts.now } : {}) });
}

export interface AppReport extends MatchResult {
  app: string;
  tag: string;
  digest?: string;
  /** wharf-cvrf and Trivy findings together, deduplicated. */
  findings: MergedFinding[];
  trivy?: { status: string; at: string; scanner?: string; findings: number; reason?: string };
}

/**
 * The report of a built app:tag: packages from the image layout the build left, matched against the
 * local advisory index, merged with the scan stage's Trivy record (when there is one).
 */
export async function appReport(
  store: CatalogStore,
  blobs: BlobStore,
  opts: {
    app: string;
    tag: string;
    layoutDir: (app: string, tag: string) => string;
    advisoriesDir: string;
    now?: Date;
  },
): Promise<AppReport> {
  const app = assertAppId(opts.app);
  const tag = assertTag(opts.tag);
  const entry = await store.loadApp(app);
  if (!entry) throw new AdvisoryScanError(`no app ${app} in the catalog`);
  const artifact = entry.artifacts.find((a) => a.kind === 'container' && a.id === tag);
  const recipe = entry.app.recipes.container.find((r) => r.tag === tag);
  if (!recipe) throw new AdvisoryScanError(`${app}:${tag}: no container recipe with that tag`);
  const build = artifact?.records.build;
  const digest =
    build && 'manifestDigest' in build ? (build.manifestDigest as string | undefined) : undefined;
  const idx = await loadIndex(opts.advisoriesDir);
  const layout = opts.layoutDir(app, tag);
  if (digest && !(await layoutHolds(layout, digest)))
    throw new AdvisoryScanError(
      `${app}:${tag}: the image layout for ${digest} is not in this machine's work dir (${layout}); rebuild needed`,
    );
  let sets: PackageSet[];
  try {
    sets = await readPackages(layout);
  } catch (e) {
    throw new AdvisoryScanError(
      `${app}:${tag}: cannot read the image's packages from ${layout} (${(e as Error).message}); build it first`,
    );
  }
  // The scan stage's Trivy record: its raw report says whether Trivy scanned the OS packages.
  const scan = artifact?.records.scan;
  let trivy: { report: TrivyReport; dbUpdatedAt?: string } | undefined;
  let trivyFindings: Finding[] = [];
  let trivyNotRun: string | undefined;
  if (!scan) trivyNotRun = 'no scan record';
  else if (scan.status !== 'ok') trivyNotRun = scan.error?.message ?? scan.status;
  else {
    const raw = scan.report ? await blobs.get(scan.report).catch(() => null) : null;
    if (raw) {
      try {
        trivy = {
          report: parseTrivyReport(raw.toString('utf8'), 'stored trivy report'),
          ...(scan.scanner?.dbUpdatedAt ? { dbUpdatedAt: scan.scanner.dbUpdatedAt } : {}),
        };
      } catch (e) {
        trivyNotRun = (e as Error).message;
      }
    } else trivyNotRun = 'the raw trivy report is not in the blob store';
    const f = await readFindings(blobs, scan);
    if (f.ok) trivyFindings = f.findings;
  }
  const result = matchSets(sets, idx, recipe.osVersion, {
    target: digest ?? layout,
    dir: opts.advisoriesDir,
    ...(trivy ? { trivy } : {}),
    ...(trivyNotRun ? { trivyNotRun } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const cvrf = result.arches.flatMap((a) =>
    a.findings.map((f) => cvrfToFinding(f, `${app}:${tag} (${a.arch})`)),
  );
  return {
    ...result,
    app,
    tag,
    ...(digest ? { digest } : {}),
    findings: mergeFindings(cvrf, trivyFindings),
    ...(scan
      ? {
          trivy: {
            status: scan.status,
            at: scan.at,
            ...(scan.scanner
              ? { scanner: `${scan.scanner.name}${scan.scanner.version ? ` ${scan.scanner.version}` : ''}` }
              : {}),
            findings: trivyFindings.length,
            ...(trivyNotRun ? { reason: trivyNotRun } : {}),
          },
        }
      : {}),
  };
}

export function openEulerMarkdown(r: Pick<MatchResult, 'scannedAt' | 'arches'>, timeZone?: string): string {
  return renderOpenEulerReport({
    scannedAt: new Date(r.scannedAt),
    arches: r.arches.map((a) => ({ arch: a.arch, findings: a.findings })),
    ...(timeZone ? { timeZone } : {}),
  });
}
