// The site's view of the catalog. Everything the pages show is derived here from one catalog
// snapshot (CatalogStore.load) plus each visible app's git history (store.log); pages never read
// catalog files themselves. Hidden apps are dropped here, so no page, search record, API document or
// feed entry can mention them.
import { readFile } from 'node:fs/promises';
import { CatalogStore, resolveCatalogDir, type AppEntry, type LogEntry } from '../../../catalog/store.ts';
import type { BlobStore } from '../../../catalog/blobs.ts';
import { openBlobStore } from '../../../catalog/blobs-s3.ts';
import { readFindings } from '../../../catalog/findings.ts';
import {
  SEVERITIES,
  artifactIdOf,
  type App,
  type BlobRef,
  type Artifact,
  type CatalogConfig,
  type Finding,
  type ImageKind,
  type Recipe,
  type ScanCoverage,
  type ScanRecord,
  type Severity,
  type StageRecords,
} from '../../../catalog/schema.ts';
import { safeUrl } from './markdown.ts';
import { categoryLabel, type Lang } from './i18n.ts';

export type SeverityCounts = Record<Severity, number>;

/** What the scan column says; 'none' and 'not-run' are never shown as clean. */
export type ScanState =
  | { state: 'none' }
  | { state: 'not-run'; at: string; message?: string | undefined }
  | { state: 'failed'; at: string; message?: string | undefined }
  | {
      state: 'ok';
      at: string;
      total: SeverityCounts;
      fixable: SeverityCounts;
      /** The list when the record holds it inline (older records); else read with scanFindings(). */
      findings?: Finding[] | undefined;
      /** Hash of the finding list in the blob store (current records). */
      findingsRef?: BlobRef | undefined;
      scanner?: string | undefined;
      /** What the scan covered (absent in older records); os.by 'none' = "OS packages not scanned". */
      coverage?: ScanCoverage | undefined;
      /** Nothing matched the OS packages: never shown as clean, whatever the counts. */
      osNotScanned: boolean;
      /** The CycloneDX SBOM in the blob store (the page links /apps/<app>/<kind>/<tag>/sbom.cdx.json). */
      sbom?: BlobRef | undefined;
    };

export type SignState = 'signed' | 'failed' | 'skipped' | 'none';

export interface PullCommand {
  registry: string;
  ref: string;
  command: string;
  /** The publish record lists this target as pushed (ok/unchanged). */
  published: boolean;
}

/** One arch of a multi-arch image: its own manifest digest and compressed size. */
export interface ArchView {
  arch: string;
  digest?: string | undefined;
  /** Compressed bytes (config + layers) of the arch's manifest. */
  size?: number | undefined;
  /** Listed in the published image index. */
  published: boolean;
}

export interface TagView {
  kind: ImageKind;
  id: string;
  version: string;
  osVersion: string;
  arches: string[];
  problem?: string | undefined;
  lastBuilt?: string | undefined;
  digest?: string | undefined;
  pulls: PullCommand[];
  scan: ScanState;
  sign: SignState;
  /** `cosign verify` against a registry the image was published to, only for a signed image. */
  verifyCommand?: string | undefined;
  /** `cosign verify-attestation` for the provenance, when the signature came with an attestation. */
  provenanceCommand?: string | undefined;
  /** The SBOM the scan recorded (a blob), if any. */
  sbom?: BlobRef | undefined;
  /** The newest version of its kind for its OS version ("latest" per OS line). */
  latest: boolean;
  records: StageRecords;
  /** Multi-arch images: each arch's manifest (empty for single-arch images). */
  platforms: ArchView[];
  pending?: string | undefined;
  /** Newest record time of any stage. */
  updatedAt?: string | undefined;
  /** Some stage has run: the image gets its own page (records, security report). */
  hasRecords: boolean;
}

export interface AppView {
  id: string;
  app: App;
  entry: AppEntry;
  homepage?: string | undefined;
  latest?: string | undefined;
  lastChecked?: string | undefined;
  upstreamLabel?: string | undefined;
  upstreamUrl?: string | undefined;
  tags: TagView[];
  arches: string[];
  osVersions: string[];
  license: string;
  history: LogEntry[];
  createdAt?: string | undefined;
  updatedAt?: string | undefined;
  /** Related apps named by the catalog (`similar`, `dependencies`) and the apps depending on this one. */
  similar: RelatedApp[];
  dependencies: RelatedApp[];
  dependents: RelatedApp[];
  /** Signature, scan and architectures over the app's container images, for cards and results. */
  status: AppStatus;
  /** The tag that replaces `{Tag}` in the app's usage text: newest published, else newest. */
  exampleTag?: string | undefined;
}

export interface RelatedApp {
  /** The name as the catalog gives it. */
  name: string;
  /** The visible app it names, when there is one. */
  id?: string | undefined;
}

export interface AppStatus {
  images: number;
  published: number;
  signed: number;
  scanned: number;
  /** Severity totals of the newest scanned image (undefined when none was scanned). */
  vulns?: SeverityCounts | undefined;
  arches: string[];
}

export interface SiteModel {
  catalogDir: string;
  head: string | null;
  config: Pick<CatalogConfig, 'name' | 'siteUrl' | 'registries'>;
  apps: AppView[];
  byId: Map<string, AppView>;
  categories: { id: string; count: number }[];
  problems: number;
  /** The signing public key the build publishes at /keys/cosign.pub (see site/node/build.ts). */
  publicKey?: { keyId: string } | undefined;
  /** Where finding lists are read from (never shown on a page). */
  blobs: { store: BlobStore } | { problem: string };
}

const HISTORY_SHOWN = 20;

const zeroCounts = (): SeverityCounts => ({ CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 });

const bySeverity = (list: readonly Finding[]): Finding[] =>
  [...list].sort(
    (a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || a.id.localeCompare(b.id),
  );

export function scanState(rec: ScanRecord | undefined): ScanState {
  if (!rec) return { state: 'none' };
  if (rec.status === 'not-run') return { state: 'not-run', at: rec.at, message: rec.error?.message };
  if (rec.status === 'failed') return { state: 'failed', at: rec.at, message: rec.error?.message };
  const findings = rec.findings ? bySeverity(rec.findings) : undefined;
  let total = rec.summary?.total;
  let fixable = rec.summary?.fixable;
  if (!total || !fixable) {
    total = zeroCounts();
    fixable = zeroCounts();
    for (const f of findings ?? []) {
      total[f.severity]++;
      if (f.fixed) fixable[f.severity]++;
    }
  }
  const scanner = rec.scanner
    ? `${rec.scanner.name}${rec.scanner.version ? ` ${rec.scanner.version}` : ''}`
    : undefined;
  return {
    state: 'ok',
    at: rec.at,
    total,
    fixable,
    ...(findings ? { findings } : {}),
    ...(!findings && rec.findingsRef ? { findingsRef: rec.findingsRef } : {}),
    scanner,
    ...(rec.coverage ? { coverage: rec.coverage } : {}),
    osNotScanned: rec.coverage?.os.by === 'none',
    ...(rec.sbom ? { sbom: rec.sbom } : {}),
  };
}

/**
 * The CVE table of an image: inline (older records) or read from the catalog's blob store
 * (wharf.yml `blobs:`, credentials from the environment). An unreachable or missing blob gives a
 * reason the page shows instead of failing the build.
 */
export async function scanFindings(
  m: Pick<SiteModel, 'blobs'>,
  scan: ScanState,
): Promise<{ ok: true; findings: Finding[] } | { ok: false; reason: string }> {
  if (scan.state !== 'ok') return { ok: true, findings: [] };
  if (scan.findings) return { ok: true, findings: scan.findings };
  if (!scan.findingsRef) return { ok: true, findings: [] };
  if ('problem' in m.blobs) return { ok: false, reason: m.blobs.problem };
  const r = await readFindings(m.blobs.store, { findingsRef: scan.findingsRef });
  return r.ok ? { ok: true, findings: bySeverity(r.findings) } : r;
}

/** The SBOM blob of an image, or null when the store cannot be opened or does not hold it. */
export async function sbomBlob(m: Pick<SiteModel, 'blobs'>, ref: BlobRef): Promise<Buffer | null> {
  if ('problem' in m.blobs) return null;
  try {
    return await m.blobs.store.get(ref);
  } catch {
    return null;
  }
}

const sbomSeen = new Map<string, Promise<boolean>>();
/** Whether the build can serve the SBOM (checked once per blob). */
export function sbomReadable(m: Pick<SiteModel, 'blobs'>, ref: BlobRef): Promise<boolean> {
  let p = sbomSeen.get(ref.sha256);
  if (!p) sbomSeen.set(ref.sha256, (p = sbomBlob(m, ref).then((b) => b !== null)));
  return p;
}

/** The blob store named by the catalog config, or why it cannot be opened. */
function siteBlobs(dir: string, config: CatalogConfig): SiteModel['blobs'] {
  try {
    return { store: openBlobStore(dir, config) };
  } catch (e) {
    return { problem: (e as Error).message };
  }
}

function signState(r: StageRecords): SignState {
  const s = r.sign?.status;
  if (s === 'signed' || s === 'unchanged') return 'signed';
  if (s === 'failed') return 'failed';
  if (s === 'skipped') return 'skipped';
  return 'none';
}

/** Per-arch manifests: what the published index lists, else what the last build made. */
export function archViews(records: StageRecords): ArchView[] {
  const pub = records.publish?.platforms;
  const built = records.build?.platforms ?? [];
  const inIndex = (d: string | undefined) =>
    !!d &&
    !!pub?.some((p) => p.digest === d) &&
    (records.publish?.status === 'ok' ||
      records.publish?.status === 'unchanged' ||
      records.publish?.status === 'partial');
  const rows: ArchView[] = built.map((p) => ({
    arch: p.arch,
    digest: p.manifestDigest,
    size: p.size,
    published: inIndex(p.manifestDigest),
  }));
  // A published arch manifest the last build no longer lists (a newer build failed) is still shown.
  for (const p of pub ?? [])
    if (!rows.some((r) => r.digest === p.digest))
      rows.push({ arch: p.arch, digest: p.digest, size: p.size, published: inIndex(p.digest) });
  return rows;
}

function tagViews(entry: AppEntry, config: CatalogConfig): TagView[] {
  const { app } = entry;
  const byKey = new Map<string, Artifact>(entry.artifacts.map((a) => [`${a.kind}/${a.id}`, a]));
  const seen = new Set<string>();
  const rows: TagView[] = [];
  const recipes: Recipe[] = [...app.recipes.container, ...app.recipes.cloud, ...app.recipes.wsl];
  const add = (
    kind: ImageKind,
    id: string,
    base: { version: string; osVersion: string; arches: string[] },
    problem?: string,
  ) => {
    const key = `${kind}/${id}`;
    if (seen.has(key)) return;
    seen.add(key);
    const art = byKey.get(key);
    const records = art?.records ?? {};
    const build =
      records.build && ['ok', 'unchanged'].includes(records.build.status) ? records.build : undefined;
    const digest = records.publish?.digest ?? records.build?.manifestDigest;
    const publishedTargets = new Set(
      (records.publish?.targets ?? []).filter((t) => t.status !== 'failed').map((t) => t.target),
    );
    const pulls: PullCommand[] =
      kind === 'container'
        ? config.registries.map((reg) => {
            const ref = `${reg.repository}/${app.name}:${id}`;
            return {
              registry: reg.name,
              ref,
              command: `docker pull ${ref}`,
              published: publishedTargets.has(reg.name),
            };
          })
        : [];
    const sign = signState(records);
    // Verify against a registry the image is really in, and only when there is a signature.
    const verifyReg = pulls.find((p) => p.published) ?? undefined;
    const verifyRepo = verifyReg?.ref.replace(/:[^:/]+$/, '');
    const verifyCommand =
      kind === 'container' && digest && sign === 'signed' && verifyRepo
        ? `cosign verify --key cosign.pub ${verifyRepo}@${digest}`
        : undefined;
    const attested =
      sign === 'signed' && (records.sign?.signatures ?? []).some((s) => s.attestationTag !== undefined);
    const provenanceCommand =
      verifyCommand && attested
        ? `cosign verify-attestation --key cosign.pub --type slsaprovenance ${verifyRepo}@${digest}`
        : undefined;
    const times = Object.values(records)
      .map((r) => (r as { at: string }).at)
      .sort();
    rows.push({
      kind,
      id,
      version: art?.version ?? base.version,
      osVersion: art?.osVersion ?? base.osVersion,
      arches: records.build?.arches ?? art?.arches ?? base.arches,
      problem,
      lastBuilt: build?.at,
      digest,
      pulls,
      scan: scanState(records.scan),
      sign,
      verifyCommand,
      provenanceCommand,
      sbom: records.scan?.sbom,
      latest: false,
      records,
      platforms: archViews(records),
      pending: art?.pending?.reason,
      updatedAt: times.at(-1),
      hasRecords: times.length > 0,
    });
  };
  for (const r of recipes) add(r.kind, artifactIdOf(r), r, r.problem);
  // Artifacts whose recipe is gone still have records worth showing.
  for (const a of entry.artifacts) add(a.kind, a.id, a);
  // "latest": the newest version per kind and OS version.
  const best = new Map<string, TagView>();
  for (const r of rows) {
    const k = `${r.kind}\0${r.osVersion}`;
    const b = best.get(k);
    if (!b || r.version.localeCompare(b.version, 'en', { numeric: true }) > 0) best.set(k, r);
  }
  for (const r of best.values()) r.latest = true;
  // Newest OS line and version first, then by tag.
  return rows.sort(
    (a, b) =>
      b.osVersion.localeCompare(a.osVersion, 'en', { numeric: true }) ||
      b.version.localeCompare(a.version, 'en', { numeric: true }) ||
      a.id.localeCompare(b.id),
  );
}

function upstreamLink(app: App): { label?: string; url?: string } {
  const u = app.upstream;
  if (!u) return {};
  const repo = u.repo ?? u.package;
  const forge: Record<string, string> = {
    github: 'https://github.com/',
    gitlab: 'https://gitlab.com/',
    gitee: 'https://gitee.com/',
    pypi: 'https://pypi.org/project/',
    npm: 'https://www.npmjs.com/package/',
  };
  const base = forge[u.backend];
  const url = safeUrl(base && repo ? `${base}${repo}` : u.url);
  return { label: `${u.backend}${repo ? `: ${repo}` : u.url ? `: ${u.url}` : ''}`, ...(url ? { url } : {}) };
}

export function licenseOf(app: App): string {
  return app.license.spdx ?? app.license.text?.trim() ?? '';
}

/** Published: pullable from a registry, or (WSL, cloud files) downloadable from the publish record's objects. */
export function tagPublished(t: TagView): boolean {
  return (
    t.pulls.some((p) => p.published) ||
    (['ok', 'partial', 'unchanged'].includes(t.records.publish?.status ?? '') &&
      (t.records.publish?.objects?.length ?? 0) > 0)
  );
}

/** Over every image of the app, whatever its kind (container, WSL, cloud). */
function appStatus(tags: TagView[]): AppStatus {
  const images = tags;
  const scanned = images.filter((t) => t.scan.state === 'ok');
  const at = (t: TagView) => (t.scan.state === 'ok' ? t.scan.at : '');
  const newestScan = [...scanned].sort((a, b) => at(b).localeCompare(at(a)))[0];
  return {
    images: images.length,
    published: images.filter(tagPublished).length,
    signed: images.filter((t) => t.sign === 'signed').length,
    scanned: scanned.length,
    vulns: newestScan?.scan.state === 'ok' ? newestScan.scan.total : undefined,
    arches: [...new Set(tags.flatMap((t) => t.arches))].sort(),
  };
}

function appView(entry: AppEntry, config: CatalogConfig, log: LogEntry[]): AppView {
  const { app } = entry;
  const tags = tagViews(entry, config);
  const containers = tags.filter((t) => t.kind === 'container');
  const exampleTag = (containers.find((t) => t.pulls.some((p) => p.published)) ?? containers[0])?.id;
  const recordTimes = tags.map((t) => t.updatedAt).filter((x): x is string => !!x);
  const up = upstreamLink(app);
  const updated = [log[0]?.date, ...recordTimes].filter((x): x is string => !!x).sort();
  return {
    id: app.id,
    app,
    entry,
    homepage: safeUrl(app.homepage),
    latest: entry.upstream?.latest,
    lastChecked: entry.upstream?.lastChecked,
    upstreamLabel: up.label,
    upstreamUrl: up.url,
    tags,
    arches: [...new Set(tags.flatMap((t) => t.arches))].sort(),
    osVersions: [...new Set(tags.map((t) => t.osVersion))].sort((x, y) =>
      y.localeCompare(x, 'en', { numeric: true }),
    ),
    license: licenseOf(app),
    history: log.slice(0, HISTORY_SHOWN),
    createdAt: log.at(-1)?.date,
    updatedAt: updated.at(-1),
    similar: [],
    dependencies: [],
    dependents: [],
    status: appStatus(tags),
    exampleTag,
  };
}

/** Link `similar` and `dependencies` names to visible apps (by id or name, ignoring case), and fill `dependents`. */
function linkRelations(apps: AppView[]): void {
  const byName = new Map<string, AppView>();
  for (const a of apps) {
    byName.set(a.id.toLowerCase(), a);
    byName.set(a.app.name.toLowerCase(), a);
  }
  // image-info.yml writes "Name: what it is" (or just a name, or N/A): the name is the part before the colon.
  const nameOf = (entry: string) => entry.split(/[:：]/)[0]!.trim();
  const find = (n: string) => {
    const l = n.toLowerCase();
    for (const k of [l, l.replace(/^apache\s+/, ''), l.replace(/\s+/g, '-')]) {
      const hit = byName.get(k);
      if (hit) return hit;
    }
    return undefined;
  };
  const rel = (names: readonly string[] | undefined, self: AppView): RelatedApp[] => {
    const out = new Map<string, RelatedApp>();
    for (const n of (names ?? []).map(nameOf)) {
      if (!n || /^n\/?a$/i.test(n) || n.length > 60) continue;
      const hit = find(n);
      if (hit === self) continue;
      const key = hit?.id ?? n.toLowerCase();
      if (!out.has(key)) out.set(key, hit ? { name: n, id: hit.id } : { name: n });
    }
    return [...out.values()];
  };
  for (const a of apps) {
    a.similar = rel(a.app.similar, a);
    a.dependencies = rel(a.app.dependencies, a);
  }
  for (const a of apps)
    for (const d of a.dependencies)
      if (d.id) byName.get(d.id)?.dependents.push({ name: a.app.title.en ?? a.app.title.zh ?? a.id, id: a.id });
}

/**
 * Pagefind metadata of an app page (shown on search results; the title is the h1's): id and the supply-chain
 * state as short language-independent values (the page renders them in its language).
 */
export function searchMeta(a: AppView): Record<string, string> {
  const s = a.status;
  return {
    id: a.id,
    images: String(s.images),
    signed: String(s.signed),
    scanned: String(s.scanned),
    vulns: s.vulns ? SEVERITIES.map((k) => s.vulns![k]).join(' ') : '',
    arches: s.arches.join(' '),
  };
}

/** Build the model from a catalog directory (visible apps only). */
export async function buildModel(dir: string): Promise<SiteModel> {
  const store = await CatalogStore.open(dir);
  const snap = await store.load();
  const visible = [...snap.apps.values()].filter((e) => e.app.visibility !== 'hidden');
  // One git log for the whole catalog rather than one per app (10,000 apps would mean 10,000 processes).
  const logs = await store.logByApp();
  const apps = visible.map((e) => appView(e, snap.config, logs.get(e.app.id) ?? []));
  apps.sort((a, b) => a.id.localeCompare(b.id));
  linkRelations(apps);
  const counts = new Map<string, number>();
  for (const a of apps) counts.set(a.app.category, (counts.get(a.app.category) ?? 0) + 1);
  return {
    catalogDir: snap.dir,
    head: snap.head,
    config: {
      name: snap.config.name,
      siteUrl: snap.config.siteUrl,
      // Only what the pages need: names and public repositories, never credential variable names.
      registries: snap.config.registries.map((r) => ({
        ...r,
        usernameEnv: undefined,
        passwordEnv: undefined,
      })),
    },
    apps,
    byId: new Map(apps.map((a) => [a.id, a])),
    categories: [...counts.entries()]
      .map(([id, count]) => ({ id, count }))
      .sort((a, b) => b.count - a.count || a.id.localeCompare(b.id)),
    problems: snap.problems.length,
    ...(process.env.WHARF_SITE_KEY_ID ? { publicKey: { keyId: process.env.WHARF_SITE_KEY_ID } } : {}),
    blobs: siteBlobs(snap.dir, snap.config),
  };
}

let cached: { key: string; model: Promise<SiteModel> } | undefined;

/**
 * The model for this build, loaded once per build from $WHARF_CATALOG. A long-lived process (the
 * daemon) runs several builds and Astro may reuse this module between them, so the cache is keyed
 * by the catalog and the build id that buildSite() sets.
 */
export function siteModel(): Promise<SiteModel> {
  const dir = resolveCatalogDir(process.env.WHARF_CATALOG);
  const key = `${dir}\0${process.env.WHARF_SITE_BUILD ?? ''}`;
  if (cached?.key !== key) cached = { key, model: buildModel(dir) };
  return cached.model;
}

/**
 * The apps whose own pages (app page, tag pages, /api/apps/<id>.json) this build renders: all of
 * them, or in a partial build (site/node/build.ts) only those named in the JSON file
 * $WHARF_SITE_ONLY. Home, categories, search, the feed and /api/apps.json are always rendered whole.
 */
export async function pageApps(): Promise<AppView[]> {
  const m = await siteModel();
  const only = process.env.WHARF_SITE_ONLY;
  if (!only) return m.apps;
  const ids = new Set(JSON.parse(await readFile(only, 'utf8')) as string[]);
  return m.apps.filter((a) => ids.has(a.id));
}

const newestOs = (a: AppView) => a.osVersions[0] ?? '';

/** Newest apps first: by first appearance in the catalog, then by the newest OS line they ship for. */
export const newest = (m: SiteModel, n: number) =>
  [...m.apps]
    .sort(
      (a, b) =>
        (b.createdAt ?? '').localeCompare(a.createdAt ?? '') ||
        newestOs(b).localeCompare(newestOs(a), 'en', { numeric: true }) ||
        b.tags.length - a.tags.length ||
        a.id.localeCompare(b.id),
    )
    .slice(0, n);

/** Apps changed after they were added (a later commit or stage record), most recent first. */
export const recentlyUpdated = (m: SiteModel, n: number) =>
  m.apps
    .filter((a) => a.history.length > 1 || a.tags.some((t) => t.updatedAt))
    .sort((a, b) => (b.updatedAt ?? '').localeCompare(a.updatedAt ?? '') || a.id.localeCompare(b.id))
    .slice(0, n);

export const severityTotal = (c: SeverityCounts) => SEVERITIES.reduce((s, k) => s + c[k], 0);
export { SEVERITIES };

export const FILTER_GROUPS = ['category', 'arch', 'os', 'license'] as const;
export type FilterGroup = (typeof FILTER_GROUPS)[number];

/**
 * An app's search filter values (`data-pagefind-filter`), the same in both languages (ids, not
 * labels: a filtered URL survives the language switch); commas and colons are Pagefind syntax.
 */
export function filterValues(a: AppView): Record<FilterGroup, string[]> {
  const clean = (v: string) => v.replace(/[,:]/g, ' ').trim();
  return {
    category: [clean(a.app.category)],
    arch: a.arches,
    os: a.osVersions,
    license: a.license ? [clean(a.license)] : [],
  };
}

/** Every filter value with its number of apps, for the search page (saves loading Pagefind's filters). */
export function filterCounts(m: SiteModel): Record<FilterGroup, Record<string, number>> {
  const out = Object.fromEntries(FILTER_GROUPS.map((g) => [g, {}])) as Record<
    FilterGroup,
    Record<string, number>
  >;
  for (const a of m.apps) {
    const v = filterValues(a);
    for (const g of FILTER_GROUPS) for (const x of v[g]) out[g][x] = (out[g][x] ?? 0) + 1;
  }
  return out;
}

/** Display labels of filter values in a language (only categories have labels of their own). */
export function filterLabels(m: SiteModel, lang: Lang): Record<string, Record<string, string>> {
  return {
    category: Object.fromEntries(m.categories.map((c) => [c.id, categoryLabel(c.id, lang)])),
  };
}

export interface RecipeProblem {
  app: string;
  kind: ImageKind;
  tag: string;
  message: string;
}

/** Every recipe problem of the visible apps, for the maintainer view (never on the user pages). */
export function recipeProblems(m: SiteModel): RecipeProblem[] {
  return m.apps.flatMap((a) =>
    a.tags.filter((t) => t.problem).map((t) => ({ app: a.id, kind: t.kind, tag: t.id, message: t.problem! })),
  );
}
