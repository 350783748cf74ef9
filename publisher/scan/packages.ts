// The OS-package half of a scan: the built image's installed RPMs per arch (publisher/advisories
// packages.ts over the shared rootfs reader), matched against the catalog's local openEuler advisory
// index (wharf-cvrf). The package lists go to the blob store (packagesRef), so a rescan re-matches them
// against the newest feed without rebuilding or pulling anything. Whatever cannot be done becomes a
// reason in the coverage ("OS packages not scanned (…)"), never an error that reads as clean.
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { BlobStore } from '../../catalog/blobs.ts';
import { gitBlobRef } from '../../catalog/findings.ts';
import type { BlobRef, BuildRecord, Finding, ScanCoverage } from '../../catalog/schema.ts';
import { advisoriesDir } from '../advisories/config.ts';
import { catalogFinding, cvrfToFinding, type CoverageInput } from '../advisories/coverage.ts';
import { loadIndex, syncFeed, type AdvisoryIndex } from '../advisories/feed.ts';
import { ReleaseMatcher } from '../advisories/match.ts';
import { readLayoutPackages, type PackageSet } from '../advisories/packages.ts';
import { RPM_ARCH, RPM_NAME, RPM_VR, normalizeRelease } from '../advisories/release.ts';
import { archLayoutDir } from '../artifact/arches.ts';
import { imageLayoutDir, type StageContext, type StageTarget } from '../stage.ts';
import { findingKey } from './report.ts';

export const PACKAGES_MEDIA_TYPE = 'application/vnd.wharf.packages.v1+json';

const zPackage = z
  .object({
    name: z.string().regex(RPM_NAME),
    epoch: z.number().int().min(0),
    version: z.string().regex(RPM_VR),
    release: z.string().regex(RPM_VR),
    arch: z.string().regex(RPM_ARCH),
    sourceRpm: z.string().max(512),
    license: z.string().max(4096),
  })
  .strict();
const zPackageSet = z
  .object({
    arch: z.string(),
    rpmdb: z.string().optional(),
    format: z.enum(['sqlite', 'bdb']).optional(),
    packages: z.array(zPackage),
    noRpmdb: z.string().optional(),
    manifest: z.string().optional(),
  })
  .strict();
const zPackagesDoc = z.object({ sets: z.array(zPackageSet) }).strict();

/** Store the package lists (compact JSON, byte-stable for the same lists). */
export async function putPackages(blobs: BlobStore, sets: readonly PackageSet[]): Promise<BlobRef> {
  return gitBlobRef(await blobs.put(JSON.stringify({ sets }) + '\n', PACKAGES_MEDIA_TYPE));
}

export async function readPackagesRef(
  blobs: BlobStore,
  ref: BlobRef,
): Promise<{ ok: true; sets: PackageSet[] } | { ok: false; reason: string }> {
  let bytes: Buffer | null;
  try {
    bytes = await blobs.get(ref);
  } catch (e) {
    return { ok: false, reason: `stored package list ${ref.sha256.slice(0, 12)}: ${(e as Error).message}` };
  }
  if (!bytes)
    return { ok: false, reason: `stored package list ${ref.sha256.slice(0, 12)} is not in the blob store` };
  try {
    return { ok: true, sets: zPackagesDoc.parse(JSON.parse(bytes.toString('utf8'))).sets };
  } catch (e) {
    return {
      ok: false,
      reason: `stored package list ${ref.sha256.slice(0, 12)} is invalid: ${(e as Error).message.slice(0, 200)}`,
    };
  }
}

/** The OCI layouts of a built artifact on this machine: the primary one, then each other built arch's. */
export function builtLayouts(
  ctx: Pick<StageContext, 'workDir'>,
  t: Pick<StageTarget, 'app' | 'artifactId'>,
  build: BuildRecord | undefined,
): { arch?: string; dir: string; digest?: string }[] {
  const primary = {
    dir: imageLayoutDir(ctx, t.app.id, t.artifactId),
    ...(build?.manifestDigest ? { digest: build.manifestDigest } : {}),
  };
  const others = (build?.platforms ?? [])
    .filter((p) => p.status !== 'failed' && p.manifestDigest && p.manifestDigest !== build?.manifestDigest)
    .map((p) => ({
      arch: p.arch,
      dir: archLayoutDir(ctx, t.app.id, t.artifactId, p.arch),
      digest: p.manifestDigest!,
    }));
  return [primary, ...others];
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Read the installed packages of every built arch's layout (a missing other-arch layout is skipped). */
export async function readBuiltPackages(
  layouts: readonly { arch?: string; dir: string }[],
): Promise<{ sets: PackageSet[] } | { reason: string }> {
  const sets: PackageSet[] = [];
  for (const [i, l] of layouts.entries()) {
    if (i > 0 && !(await exists(l.dir))) continue;
    try {
      sets.push(...(await readLayoutPackages(l.dir)));
    } catch (e) {
      return { reason: `cannot read the installed packages: ${(e as Error).message}` };
    }
  }
  return { sets };
}

export interface OsScan {
  /** The package lists (undefined when they could not be read). */
  sets?: PackageSet[];
  packagesRef?: BlobRef;
  /** wharf-cvrf findings in the catalog's shape, one per advisory + package + installed version. */
  findings: Finding[];
  arches: NonNullable<ScanCoverage['arches']>;
  /** For coverageOf: the matcher's input, or why it did not run. */
  cvrf?: CoverageInput['cvrf'];
  cvrfNotRun?: string;
  index?: Pick<AdvisoryIndex, 'syncedAt' | 'url'>;
}

/**
 * Match package lists against the catalog's advisory index for the recipe's OS release. `sets`
 * undefined: the lists could not be read (`readReason` says why).
 */
/** The catalog's advisory index directory: $WHARF_ADVISORIES_DIR, else wharf.yml `advisories.dir`, else the default. */
export function stageAdvisoriesDir(ctx: Pick<StageContext, 'store' | 'config' | 'env'>): string {
  const explicit = (ctx.env ?? process.env).WHARF_ADVISORIES_DIR;
  return explicit ? resolve(explicit) : advisoriesDir(ctx.store.dir, ctx.config.advisories);
}

/**
 * Bring the local advisory index up to date before a rescan (conditional requests: an unchanged feed
 * costs one). Only a catalog that already has an index is synced (a first sync is `wharf advisories
 * sync`); a feed that cannot be reached leaves the index as it is, and the coverage shows its age.
 */
export async function refreshAdvisories(ctx: Pick<StageContext, 'store' | 'config' | 'env' | 'log'>) {
  const dir = stageAdvisoriesDir(ctx);
  let idx: AdvisoryIndex | undefined;
  try {
    idx = await loadIndex(dir);
  } catch (e) {
    ctx.log.warn(`advisory index: ${(e as Error).message}`);
    return undefined;
  }
  if (!idx) return undefined;
  const env = ctx.env ?? process.env;
  const url = env.WHARF_ADVISORIES_URL ?? ctx.config.advisories?.url ?? idx.url;
  try {
    const r = await syncFeed({ url, dir });
    ctx.log.info(
      `advisories: ${r.advisories} advisories (${r.added.length} new, ${r.updated.length} changed) from ${url}`,
    );
    return r;
  } catch (e) {
    ctx.log.warn(
      `advisories: sync from ${url} failed (${(e as Error).message}); matching the index of ${idx.syncedAt}`,
    );
    return undefined;
  }
}

export async function matchOsPackages(
  ctx: Pick<StageContext, 'store' | 'config' | 'blobs' | 'env'>,
  t: Pick<StageTarget, 'app' | 'artifactId' | 'recipe'>,
  sets: PackageSet[] | undefined,
  readReason?: string,
): Promise<OsScan> {
  const label = `${t.app.id}:${t.artifactId}`;
  if (!sets) return { findings: [], arches: [], cvrfNotRun: readReason ?? 'no package list' };
  const packagesRef = await putPackages(ctx.blobs, sets);
  const arches = sets.map((s) => ({
    arch: s.arch,
    ...(s.manifest ? { manifest: s.manifest } : {}),
    packages: s.packages.length,
    ...(s.rpmdb ? { rpmdb: s.rpmdb } : {}),
    ...(s.noRpmdb ? { noRpmdb: s.noRpmdb } : {}),
    findings: 0,
  }));
  const base = { sets, packagesRef, arches, findings: [] as Finding[] };
  const release = normalizeRelease(t.recipe.osVersion);
  if (!release)
    return { ...base, cvrfNotRun: `${t.recipe.osVersion} is not an openEuler release wharf-cvrf knows` };
  const dir = stageAdvisoriesDir(ctx);
  let idx: AdvisoryIndex | undefined;
  try {
    idx = await loadIndex(dir);
  } catch (e) {
    return { ...base, cvrfNotRun: `the advisory index cannot be read: ${(e as Error).message}` };
  }
  if (!idx) return { ...base, cvrfNotRun: 'no advisory index in the catalog (run `wharf advisories sync`)' };
  const matcher = new ReleaseMatcher(Object.values(idx.advisories), release);
  const byKey = new Map<string, Finding>();
  sets.forEach((s, i) => {
    const found = matcher.match(s.packages);
    arches[i]!.findings = found.length;
    for (const f of found) {
      const c = catalogFinding(cvrfToFinding(f, `${label} (${s.arch})`));
      const k = findingKey(c);
      const prev = byKey.get(k);
      // The same advisory for the same installed version on two arches is one finding, both arches named.
      byKey.set(k, prev ? { ...prev, target: `${prev.target}, ${s.arch}` } : c);
    }
  });
  const withDb = sets.find((s) => s.rpmdb);
  return {
    ...base,
    findings: [...byKey.values()],
    cvrf: {
      release,
      syncedAt: idx.syncedAt,
      advisoriesForRelease: matcher.advisories,
      rpmdb: Boolean(withDb),
      ...(!withDb && sets[0]?.noRpmdb ? { noRpmdb: sets[0].noRpmdb } : {}),
    },
    index: { syncedAt: idx.syncedAt, url: idx.url },
  };
}
