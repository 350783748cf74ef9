// Documents for machines, generated beside the pages: the JSON API (/api/apps.json,
// /api/apps/<id>.json) and the Atom feed (/feed.xml). Built from the same model as the pages, so
// hidden apps never appear. Blob URIs (internal storage locations) are not published.
import { summarizeApp } from '../../../catalog/summary.ts';
import type { Artifact } from '../../../catalog/schema.ts';
import { href, pickText } from './i18n.ts';
import { safeUrl } from './markdown.ts';
import type { AppView, SiteModel } from './model.ts';

export const API_VERSION = 1;

export function apiIndex(m: SiteModel) {
  return {
    apiVersion: API_VERSION,
    catalogHead: m.head,
    apps: m.apps.map((a) => ({
      ...summarizeApp(a.entry),
      titles: a.app.title,
      summary: a.app.summary,
      updatedAt: a.updatedAt ?? null,
      url: href('zh', `/apps/${a.id}/`),
      api: `/api/apps/${a.id}.json`,
    })),
  };
}

/** Drop storage locations from blob references (`uri`); keep hashes and sizes. */
function publicRecords(r: Artifact['records']): unknown {
  return JSON.parse(JSON.stringify(r), (k, v) => (k === 'uri' ? undefined : v));
}

export function apiApp(a: AppView) {
  const { source: _source, homepage: _homepage, ...rest } = a.app;
  // URLs pass safeUrl (http and https only) even though the schema refuses other schemes already:
  // the API must never hand a javascript: link to a client, whatever the record says.
  const homepage = safeUrl(a.app.homepage);
  const upstreamUrl = safeUrl(rest.upstream?.url);
  const upstream = rest.upstream && { ...rest.upstream, url: upstreamUrl };
  if (upstream && !upstreamUrl) delete upstream.url;
  const app = { ...rest, ...(homepage ? { homepage } : {}), ...(upstream ? { upstream } : {}) };
  return {
    apiVersion: API_VERSION,
    app,
    upstream: { latest: a.latest ?? null, lastChecked: a.lastChecked ?? null },
    tags: a.tags.map((t) => ({
      kind: t.kind,
      id: t.id,
      version: t.version,
      osVersion: t.osVersion,
      arches: t.arches,
      digest: t.digest ?? null,
      lastBuilt: t.lastBuilt ?? null,
      pull: t.pulls.map((p) => ({ registry: p.registry, ref: p.ref, published: p.published })),
      signed: t.sign === 'signed',
      scan:
        t.scan.state === 'ok'
          ? { state: 'ok', at: t.scan.at, total: t.scan.total, fixable: t.scan.fixable }
          : { state: t.scan.state === 'none' ? 'not-scanned' : t.scan.state },
      records: publicRecords(t.records),
    })),
    history: a.history.map((h) => ({ sha: h.sha, date: h.date, subject: h.subject, trailers: h.trailers })),
  };
}

const xml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );

/** Atom feed: one entry per image (artifact) built or changed, newest first. */
export function atomFeed(m: SiteModel, max = 100): string {
  const base = (m.config.siteUrl ?? '').replace(/\/$/, '');
  const entries = m.apps
    .flatMap((a) => a.tags.filter((t) => t.updatedAt).map((t) => ({ a, t, at: t.updatedAt! })))
    .sort((x, y) => y.at.localeCompare(x.at))
    .slice(0, max);
  const updated = entries[0]?.at ?? new Date(0).toISOString();
  const body = entries
    .map(({ a, t, at }) => {
      const title = pickText(a.app.title, 'en', a.id);
      const link = `${base}/en/apps/${a.id}/${t.kind}/${t.id}/`;
      const state = t.records.publish?.status ?? t.records.build?.status ?? 'pending';
      const summary = `${title} ${t.version} on openEuler ${t.osVersion} (${t.arches.join(', ')}): ${t.kind} ${t.id}, ${state}${t.digest ? `, ${t.digest}` : ''}`;
      return [
        '  <entry>',
        `    <id>urn:wharf:${xml(a.id)}:${t.kind}:${xml(t.id)}:${xml(at)}</id>`,
        `    <title>${xml(`${title} ${t.id}`)}</title>`,
        `    <updated>${xml(at)}</updated>`,
        `    <link rel="alternate" href="${xml(link)}"/>`,
        `    <category term="${xml(a.app.category)}"/>`,
        `    <summary>${xml(summary)}</summary>`,
        '  </entry>',
      ].join('\n');
    })
    .join('\n');
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    `  <id>urn:wharf:${xml(m.config.name)}:feed</id>`,
    `  <title>${xml(m.config.name)}: new and updated images</title>`,
    `  <updated>${xml(updated)}</updated>`,
    `  <link rel="self" href="${xml(`${base}/feed.xml`)}"/>`,
    `  <link rel="alternate" href="${xml(`${base}/`)}"/>`,
    '  <author><name>Wharf</name></author>',
    body,
    '</feed>',
    '',
  ].join('\n');
}
