// Documents for machines, generated beside the pages: the JSON API (/api/apps.json,
// /api/apps/<id>.json, described by /api/openapi.json, see api-schema.ts), the Atom feeds (/feed.xml
// and /apps/<id>/feed.xml) and the SVG badges (/apps/<id>/badges/{version,scan,signed}.svg). Built
// from the same model as the pages, so hidden apps never appear.
//
// The API is an allow-list: every field is copied by name here and declared in the schema (which
// refuses any other), so a field added to a catalog record is not published until it is added in
// both places. Run ids, blob hashes and locations, log tails, local image ids, inputs digests, recipe
// paths and credential variable names stay in the catalog.
import { cloudImports } from './cloud.ts';
import { pickText } from './i18n.ts';
import { safeUrl } from './markdown.ts';
import { severityTotal, tagPublished, type AppView, type ScanState, type SiteModel, type TagView } from './model.ts';
import type { BlobRef } from '../../../catalog/schema.ts';
import type { LogEntry } from '../../../catalog/store.ts';

export const API_VERSION = 2;

/** The site URL feeds, badges and the API link with when wharf.yml sets no `siteUrl`. */
export const DEFAULT_SITE_URL = 'http://127.0.0.1:8080/';

/** The configured site URL without its trailing slash. */
export function siteBase(m: Pick<SiteModel, 'config'>): string {
  return (m.config.siteUrl ?? DEFAULT_SITE_URL).replace(/\/+$/, '');
}

/** An absolute URL on the site for a path starting with '/'. */
export const absolute = (m: Pick<SiteModel, 'config'>, path: string) => `${siteBase(m)}${path}`;

export const appLinks = (m: Pick<SiteModel, 'config'>, id: string) => ({
  page: absolute(m, `/apps/${id}/`),
  pageEn: absolute(m, `/en/apps/${id}/`),
  api: absolute(m, `/api/apps/${id}.json`),
  feed: absolute(m, `/apps/${id}/feed.xml`),
  badges: {
    version: absolute(m, `/apps/${id}/badges/version.svg`),
    scan: absolute(m, `/apps/${id}/badges/scan.svg`),
    signed: absolute(m, `/apps/${id}/badges/signed.svg`),
  },
});

const texts = (t: { zh?: string | undefined; en?: string | undefined } | undefined) => ({
  ...(t?.zh ? { zh: t.zh } : {}),
  ...(t?.en ? { en: t.en } : {}),
});

// Pullable from a registry, or (WSL, cloud) downloadable from the publish record's objects.
const isPublished = tagPublished;

/**
 * The tag an app is summarised by (badges, index): the newest published one, else the newest that
 * has any record, else the newest recipe. Tags come newest first from the model.
 */
export function headlineTag(a: AppView): TagView | undefined {
  return a.tags.find(isPublished) ?? a.tags.find((t) => t.hasRecords) ?? a.tags[0];
}

export function apiIndex(m: SiteModel) {
  return {
    apiVersion: API_VERSION,
    catalogHead: m.head,
    site: siteBase(m),
    apps: m.apps.map((a) => {
      const head = headlineTag(a);
      const links = appLinks(m, a.id);
      return {
        id: a.id,
        name: a.app.name,
        titles: texts(a.app.title),
        summary: texts(a.app.summary),
        category: a.app.category,
        license: a.license || null,
        latest: a.latest ?? null,
        osVersions: a.osVersions,
        arches: a.arches,
        tags: a.tags.length,
        published: a.tags.filter(isPublished).length,
        signed: a.tags.some((t) => t.sign === 'signed'),
        scan: head ? apiScan(head.scan) : { state: 'not-scanned' as const },
        updatedAt: a.updatedAt ?? null,
        url: links.page,
        api: links.api,
        feed: links.feed,
      };
    }),
  };
}

function apiScan(s: ScanState) {
  if (s.state === 'ok')
    return {
      state: 'ok' as const,
      at: s.at,
      total: s.total,
      fixable: s.fixable,
      ...(s.scanner ? { scanner: s.scanner } : {}),
      // What the scan covered: with osNotScanned the counts are not about the OS packages (never clean).
      ...(s.coverage
        ? {
            osPackages: s.coverage.os.by,
            languagePackages: s.coverage.language.by,
            coverage: s.coverage.summary,
          }
        : {}),
      ...(s.osNotScanned ? { osNotScanned: true as const } : {}),
    };
  if (s.state === 'none') return { state: 'not-scanned' as const };
  return { state: s.state, at: s.at, ...(s.message ? { message: s.message } : {}) };
}

const blobHash = (b: BlobRef) => ({ sha256: b.sha256, size: b.size, mediaType: b.mediaType });

function apiTag(t: TagView) {
  const r = t.records;
  const b = r.build;
  const v = r.verify;
  const sc = r.scan;
  const sg = r.sign;
  const p = r.publish;
  return {
    kind: t.kind,
    id: t.id,
    version: t.version,
    osVersion: t.osVersion,
    arches: t.arches,
    digest: t.digest ?? null,
    lastBuilt: t.lastBuilt ?? null,
    updatedAt: t.updatedAt ?? null,
    pending: t.pending ?? null,
    problem: t.problem ?? null,
    pull: t.pulls.map((x) => ({ registry: x.registry, ref: x.ref, published: x.published })),
    signed: t.sign === 'signed',
    scan: apiScan(t.scan),
    // Multi-arch images: each arch's manifest digest and compressed size (absent for single-arch).
    ...(t.platforms.length
      ? {
          platforms: t.platforms.map((x) => ({
            arch: x.arch,
            ...(x.digest ? { digest: x.digest } : {}),
            ...(x.size !== undefined ? { size: x.size } : {}),
            published: x.published,
          })),
        }
      : {}),
    records: {
      ...(b
        ? {
            build: {
              status: b.status,
              at: b.at,
              ...(b.recipeCommit ? { recipeCommit: b.recipeCommit } : {}),
              ...(b.base
                ? { base: { ref: b.base.ref, ...(b.base.digest ? { digest: b.base.digest } : {}) } }
                : {}),
              ...(b.manifestDigest ? { manifestDigest: b.manifestDigest } : {}),
              ...(b.arches ? { arches: b.arches } : {}),
              ...(b.error ? { error: b.error.message } : {}),
            },
          }
        : {}),
      ...(v
        ? {
            verify: {
              status: v.status,
              at: v.at,
              checks: v.checks.map((c) => ({ name: c.name, status: c.status })),
              ...(v.error ? { error: v.error.message } : {}),
            },
          }
        : {}),
      ...(sc
        ? {
            scan: {
              status: sc.status,
              at: sc.at,
              ...(sc.scanner
                ? {
                    scanner: {
                      name: sc.scanner.name,
                      ...(sc.scanner.version ? { version: sc.scanner.version } : {}),
                    },
                  }
                : {}),
              ...(sc.target ? { target: sc.target } : {}),
              // Content hashes of the stored report and SBOM (never their storage location).
              ...(sc.report ? { report: blobHash(sc.report) } : {}),
              ...(sc.sbom ? { sbom: blobHash(sc.sbom) } : {}),
              ...(sc.policy ? { blocked: sc.policy.blocked } : {}),
              ...(sc.error ? { error: sc.error.message } : {}),
            },
          }
        : {}),
      ...(sg
        ? {
            sign: {
              status: sg.status,
              at: sg.at,
              ...(sg.keyId ? { keyId: sg.keyId } : {}),
              signatures: sg.signatures.map((s) => ({
                target: s.target,
                ref: s.ref,
                digest: s.digest,
                signatureTag: s.signatureTag,
                ...(s.attestationTag ? { attestationTag: s.attestationTag } : {}),
              })),
              ...(sg.error ? { error: sg.error.message } : {}),
            },
          }
        : {}),
      ...(p
        ? {
            publish: {
              status: p.status,
              at: p.at,
              ...(p.digest ? { digest: p.digest } : {}),
              targets: p.targets.map((x) => ({
                target: x.target,
                ref: x.ref,
                status: x.status,
                ...(x.digest ? { digest: x.digest } : {}),
                ...(x.aliases ? { aliases: x.aliases } : {}),
              })),
              ...(p.blockedBy ? { blockedBy: p.blockedBy } : {}),
              ...(p.error ? { error: p.error.message } : {}),
            },
          }
        : {}),
      // Cloud images: each import target's state and the cloud's image id (never the task id or object key).
      ...(r.import
        ? {
            import: {
              status: r.import.status,
              at: r.import.at,
              targets: cloudImports(r).map((x) => ({
                target: x.target,
                provider: x.provider,
                region: x.region,
                ...(x.arch ? { arch: x.arch } : {}),
                state: x.state,
                ...(x.imageId ? { cloudImageId: x.imageId } : {}),
                ...(x.error ? { error: x.error } : {}),
                ...(x.updatedAt ? { updatedAt: x.updatedAt } : {}),
              })),
            },
          }
        : {}),
    },
  };
}

export function apiApp(
  a: AppView,
  m: Pick<SiteModel, 'config'> = { config: { name: 'wharf', registries: [] } },
) {
  const app = a.app;
  // URLs pass safeUrl (http and https only) even though the schema refuses other schemes already:
  // the API must never hand a javascript: link to a client, whatever the record says.
  const homepage = safeUrl(app.homepage);
  const up = app.upstream;
  const upstreamUrl = safeUrl(up?.url);
  return {
    apiVersion: API_VERSION,
    app: {
      id: app.id,
      name: app.name,
      title: texts(app.title),
      summary: texts(app.summary),
      description: texts(app.description),
      category: app.category,
      ...(app.scene ? { scene: app.scene } : {}),
      license: {
        ...(app.license.spdx ? { spdx: app.license.spdx } : {}),
        ...(app.license.text ? { text: app.license.text } : {}),
      },
      ...(homepage ? { homepage } : {}),
      ...(up
        ? {
            upstream: {
              backend: up.backend,
              ...(up.repo ? { repo: up.repo } : {}),
              ...(up.package ? { package: up.package } : {}),
              ...(upstreamUrl ? { url: upstreamUrl } : {}),
            },
          }
        : {}),
      keywords: app.keywords ?? [],
      similar: app.similar ?? [],
      dependencies: app.dependencies ?? [],
    },
    links: appLinks(m, a.id),
    upstream: { latest: a.latest ?? null, lastChecked: a.lastChecked ?? null },
    tags: a.tags.map(apiTag),
    history: a.history.map((h) => ({ sha: h.sha, date: h.date, subject: h.subject })),
  };
}

// ------------------------------------------------------------------ Atom feeds

export const xml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );

/** Commits that are results a subscriber wants: imports, builds and publishes. */
const FEED_STAGES = new Set(['import', 'build', 'publish']);

export interface FeedEntry {
  id: string;
  title: string;
  updated: string;
  link: string;
  category: string;
  summary: string;
}

/** One app's feed entries, newest first: its import, build and publish commits. */
export function appFeedEntries(m: Pick<SiteModel, 'config'>, a: AppView): FeedEntry[] {
  const title = pickText(a.app.title, 'en', a.id);
  return a.history
    .filter((h) => FEED_STAGES.has(h.trailers.Stage ?? ''))
    .map((h) => feedEntry(m, a, title, h));
}

/**
 * A cloud image's `import` stage (into a cloud's image service) shares the `Stage: import` trailer
 * with the catalog's recipe import; it carries `Kind: cloud`.
 */
const isCloudImport = (h: LogEntry) => h.trailers.Stage === 'import' && h.trailers.Kind === 'cloud';

function feedEntry(m: Pick<SiteModel, 'config'>, a: AppView, title: string, h: LogEntry): FeedEntry {
  const stage = h.trailers.Stage!;
  const tag = h.trailers.Artifact
    ? a.tags.find((t) => t.id === h.trailers.Artifact && (!h.trailers.Kind || t.kind === h.trailers.Kind))
    : undefined;
  const link = tag?.hasRecords
    ? absolute(m, `/en/apps/${a.id}/${tag.kind}/${tag.id}/`)
    : absolute(m, `/en/apps/${a.id}/`);
  const parts = [h.subject];
  if (tag) {
    parts.push(
      `${tag.kind} ${tag.id} (${tag.version} on openEuler ${tag.osVersion}, ${tag.arches.join(', ')})`,
    );
    if (tag.digest) parts.push(`digest ${tag.digest}`);
    parts.push(tag.sign === 'signed' ? 'signed' : 'not signed');
    const pull = tag.pulls.find((p) => p.published);
    if (pull) parts.push(pull.command);
  }
  const recipeImport = stage === 'import' && !isCloudImport(h);
  return {
    id: `urn:wharf:${a.id}:${h.sha}`,
    title: recipeImport ? `${title}: imported (${h.subject})` : `${title}: ${h.subject}`,
    updated: new Date(h.date).toISOString(),
    link,
    category: a.app.category,
    summary: parts.join('; '),
  };
}

function feedDocument(
  m: Pick<SiteModel, 'config'>,
  o: {
    id: string;
    title: string;
    self: string;
    alternate: string;
    entries: FeedEntry[];
    generatedAt: string;
  },
): string {
  // The feed's time is its newest entry's; an empty feed says when it was generated (never 1970).
  const updated = o.entries[0]?.updated ?? o.generatedAt;
  const body = o.entries.map((e) =>
    [
      '  <entry>',
      `    <id>${xml(e.id)}</id>`,
      `    <title>${xml(e.title)}</title>`,
      `    <updated>${xml(e.updated)}</updated>`,
      `    <link rel="alternate" href="${xml(e.link)}"/>`,
      `    <category term="${xml(e.category)}"/>`,
      `    <summary>${xml(e.summary)}</summary>`,
      '  </entry>',
    ].join('\n'),
  );
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    `  <id>${xml(o.id)}</id>`,
    `  <title>${xml(o.title)}</title>`,
    `  <updated>${xml(updated)}</updated>`,
    `  <link rel="self" href="${xml(o.self)}"/>`,
    `  <link rel="alternate" href="${xml(o.alternate)}"/>`,
    `  <author><name>${xml(m.config.name)}</name></author>`,
    ...body,
    '</feed>',
    '',
  ].join('\n');
}

const byUpdated = (x: FeedEntry, y: FeedEntry) =>
  y.updated.localeCompare(x.updated) || x.id.localeCompare(y.id);

/** The site feed: the newest imports, builds and publishes of every app, newest first. */
export function atomFeed(m: SiteModel, max = 100, generatedAt = new Date().toISOString()): string {
  const entries = m.apps
    .flatMap((a) => appFeedEntries(m, a))
    .sort(byUpdated)
    .slice(0, max);
  return feedDocument(m, {
    id: `urn:wharf:${m.config.name}:feed`,
    title: `${m.config.name}: new and updated images`,
    self: absolute(m, '/feed.xml'),
    alternate: absolute(m, '/'),
    entries,
    generatedAt,
  });
}

/** When the app last changed: its newest commit (so an app feed with no entries is the same on every build). */
const lastChanged = (a: AppView): string | undefined =>
  a.history.reduce<string | undefined>((t, h) => {
    const d = new Date(h.date).toISOString();
    return !t || d > t ? d : t;
  }, undefined);

/** One app's feed (/apps/<id>/feed.xml). */
export function appFeed(
  m: Pick<SiteModel, 'config'>,
  a: AppView,
  generatedAt = lastChanged(a) ?? new Date().toISOString(),
): string {
  return feedDocument(m, {
    id: `urn:wharf:${m.config.name}:feed:${a.id}`,
    title: `${m.config.name}: ${pickText(a.app.title, 'en', a.id)}`,
    self: absolute(m, `/apps/${a.id}/feed.xml`),
    alternate: absolute(m, `/en/apps/${a.id}/`),
    entries: appFeedEntries(m, a).sort(byUpdated),
    generatedAt,
  });
}

// ------------------------------------------------------------------ SVG badges

export const BADGES = ['version', 'scan', 'signed'] as const;
export type BadgeName = (typeof BADGES)[number];

const COLOURS = { ok: '#2e7d32', warn: '#b26a00', bad: '#c62828', none: '#616161', info: '#1565c0' };

/** Label and message of one badge, about the app's headline tag. */
export function badgeText(a: AppView, name: BadgeName): { label: string; message: string; colour: string } {
  const t = headlineTag(a);
  if (name === 'version') {
    if (t && isPublished(t)) return { label: 'version', message: t.id, colour: COLOURS.info };
    return { label: 'version', message: 'not published', colour: COLOURS.none };
  }
  if (name === 'signed') {
    if (t?.sign === 'signed') return { label: 'signature', message: 'signed', colour: COLOURS.ok };
    if (t?.sign === 'failed') return { label: 'signature', message: 'signing failed', colour: COLOURS.bad };
    return { label: 'signature', message: 'unsigned', colour: COLOURS.none };
  }
  const s = t?.scan ?? { state: 'none' as const };
  if (s.state === 'none') return { label: 'scan', message: 'not scanned', colour: COLOURS.none };
  if (s.state === 'not-run') return { label: 'scan', message: 'not run', colour: COLOURS.none };
  if (s.state === 'failed') return { label: 'scan', message: 'failed', colour: COLOURS.bad };
  const n = severityTotal(s.total);
  // Zero findings from a scan that matched nothing against the OS packages is not a clean result.
  if (s.osNotScanned)
    return {
      label: 'scan',
      message: n ? `OS packages not scanned, ${n} other` : 'OS packages not scanned',
      colour: COLOURS.warn,
    };
  if (n === 0) return { label: 'scan', message: 'no known CVEs found', colour: COLOURS.ok };
  const worst = s.total.CRITICAL ? 'critical' : s.total.HIGH ? 'high' : undefined;
  const message = [
    s.total.CRITICAL ? `${s.total.CRITICAL} critical` : '',
    s.total.HIGH ? `${s.total.HIGH} high` : '',
    `${n} total`,
  ]
    .filter(Boolean)
    .join(', ');
  return {
    label: 'scan',
    message,
    colour: worst === 'critical' ? COLOURS.bad : worst ? COLOURS.warn : COLOURS.ok,
  };
}

/** Rough text width in px for an 11 px sans-serif font (wide characters count double). */
function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\uffff]/.test(ch) ? 11 : /[il.,:;|' ]/.test(ch) ? 3.5 : 7;
  return Math.ceil(w);
}

/** A flat two-part badge; every text passes xml(). */
export function badgeSvg(label: string, message: string, colour: string): string {
  const lw = textWidth(label) + 12;
  const mw = textWidth(message) + 12;
  const w = lw + mw;
  const title = `${label}: ${message}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${xml(title)}">`,
    `  <title>${xml(title)}</title>`,
    `  <rect width="${lw}" height="20" fill="#555"/>`,
    `  <rect x="${lw}" width="${mw}" height="20" fill="${xml(colour)}"/>`,
    '  <g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">',
    `    <text x="${lw / 2}" y="14">${xml(label)}</text>`,
    `    <text x="${lw + mw / 2}" y="14">${xml(message)}</text>`,
    '  </g>',
    '</svg>',
    '',
  ].join('\n');
}

export function appBadge(a: AppView, name: BadgeName): string {
  const b = badgeText(a, name);
  return badgeSvg(b.label, b.message, b.colour);
}

/** Where the site serves a tag's SBOM (site/src/pages/apps/[id]/[kind]/[tag]/sbom.cdx.json.ts). */
export const sbomPath = (app: string, kind: string, tag: string) =>
  `/apps/${app}/${kind}/${tag}/sbom.cdx.json`;
