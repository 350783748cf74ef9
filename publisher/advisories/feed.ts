// The openEuler advisory feed, mirrored incrementally into a compact local index.
//
// Layout of the feed (https://repo.openeuler.org/security/data/cvrf/ or any mirror): `index.txt` lists one
// `YYYY/cvrf-openEuler-SA-….xml` path a line; each path is one CVRF document. A sync fetches index.txt
// with a conditional request; when it changed, it fetches the documents it does not have yet (and, with
// `revalidate`, re-checks every known one with If-None-Match / If-Modified-Since), through the network
// layer's HttpClient (publisher/net: limits, retries, same-origin redirects). A document that does
// not parse is reported and skipped; an index line that points outside the feed is refused. The result
// is one JSON file (`index.json`, written atomically) in the advisories directory: the per-document
// validators and every parsed advisory. Raw documents are kept under `docs/` as the mirror.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pLimit from 'p-limit';
import { z } from 'zod';
import { zSeverity } from '../../catalog/schema.ts';
import { HttpClient, HttpError, type ClientConfig, type Validators } from '../net/index.ts';
import { CvrfError, MAX_DOCUMENT_BYTES, parseCvrf, type Advisory } from './cvrf.ts';
import { DEFAULT_ADVISORY_FEED_URL } from '../../catalog/config.ts';

export const DEFAULT_FEED_URL = DEFAULT_ADVISORY_FEED_URL;
export const INDEX_FILE = 'index.json';
const INDEX_SCHEMA = 1;
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

const zValidators = z.object({ etag: z.string().optional(), lastModified: z.string().optional() }).strict();
const zAdvisory = z
  .object({
    id: z.string(),
    title: z.string(),
    severity: zSeverity,
    cvss: z.number().optional(),
    cves: z.array(
      z
        .object({
          id: z.string(),
          severity: zSeverity,
          cvss: z.number().optional(),
          vector: z.string().optional(),
        })
        .strict(),
    ),
    releases: z.array(z.string()),
    fixed: z.array(z.tuple([z.string(), z.string(), z.string(), z.string()])),
    released: z.string().optional(),
    updated: z.string().optional(),
  })
  .strict();
const zDocState = z
  .object({
    validators: zValidators.optional(),
    sha256: z.string().optional(),
    advisory: z.string().optional(),
    error: z.string().optional(),
    fetchedAt: z.string(),
  })
  .strict();
export const zAdvisoryIndex = z
  .object({
    schema: z.literal(INDEX_SCHEMA),
    url: z.string(),
    syncedAt: z.string(),
    index: z.object({ validators: zValidators.optional(), sha256: z.string() }).strict().optional(),
    docs: z.record(z.string(), zDocState),
    advisories: z.record(z.string(), zAdvisory),
  })
  .strict();
export type AdvisoryIndex = z.infer<typeof zAdvisoryIndex>;

/**
 * `sync.json`: the last sync's time and index.txt validators, so an unchanged feed (the daily case) is
 * one conditional request and a tiny write, without reading or rewriting the whole index.
 */
export const SYNC_FILE = 'sync.json';
const zSyncState = z
  .object({
    url: z.string(),
    syncedAt: z.string(),
    index: z.object({ validators: zValidators.optional(), sha256: z.string() }).strict(),
    documents: z.number().int().min(0),
    advisories: z.number().int().min(0),
  })
  .strict();
type SyncState = z.infer<typeof zSyncState>;

/** The sync state, or undefined when missing or unreadable (it is a cache of index.json's header). */
async function loadSyncState(dir: string): Promise<SyncState | undefined> {
  try {
    const r = zSyncState.safeParse(JSON.parse(await readFile(join(dir, SYNC_FILE), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** The feed client's limits: polite to one host, retries on transient failures. */
const FEED_CLIENT: ClientConfig = {
  concurrency: 16,
  perHost: 8,
  timeoutMs: 30_000,
  maxBodyBytes: MAX_INDEX_BYTES,
  retries: 3,
  retryBaseMs: 500,
  maxRetryWaitMs: 60_000,
  userAgent: 'wharf-advisories/0.1 (+https://gitee.com/openeuler)',
};

export class FeedError extends Error {
  override name = 'FeedError';
}

/** The feed base URL, ending in '/', as configured (http or https only). */
export function feedBase(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FeedError(`advisory feed URL ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new FeedError(`advisory feed URL must be http(s), not ${u.protocol}`);
  if (u.username || u.password) throw new FeedError('advisory feed URL must not carry credentials');
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  u.search = '';
  u.hash = '';
  return u;
}

const DOC_PATH = /^[0-9]{4}\/[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.xml$/;

export interface IndexLine {
  line: number;
  path: string;
}

/**
 * The document paths of index.txt. Each must resolve inside the feed: a relative `YYYY/name.xml`, or
 * an absolute URL of the same origin under the feed's path. Anything else is refused (reported, not
 * fetched). Two paths run together on one line (a missing newline) are split.
 */
export function parseIndexTxt(body: string, base: URL): { entries: IndexLine[]; problems: string[] } {
  const entries: IndexLine[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const lines = body.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    // "2022/a.xml2024/b.xml": split after each ".xml" that is followed by more text.
    const parts = line.split(/(?<=\.xml)(?=\S)/);
    for (const part of parts) {
      const where = `index.txt line ${i + 1}`;
      let path: string;
      if (/^[a-z][a-z0-9+.-]*:/i.test(part) || part.startsWith('//') || part.startsWith('/')) {
        let u: URL;
        try {
          u = new URL(part, base);
        } catch {
          problems.push(`${where}: ${JSON.stringify(part.slice(0, 120))} is not a URL; refused`);
          continue;
        }
        if (u.origin !== base.origin || !u.pathname.startsWith(base.pathname)) {
          problems.push(`${where}: ${JSON.stringify(part.slice(0, 120))} points outside the feed; refused`);
          continue;
        }
        path = decodeURIComponent(u.pathname.slice(base.pathname.length));
      } else path = part;
      if (!DOC_PATH.test(path) || path.split('/').some((s) => s === '..' || s === '.')) {
        problems.push(
          `${where}: ${JSON.stringify(part.slice(0, 120))} is not a feed document path (YYYY/name.xml); refused`,
        );
        continue;
      }
      if (parts.length > 1) problems.push(`${where}: two paths without a newline; read ${path}`);
      if (seen.has(path)) continue;
      seen.add(path);
      entries.push({ line: i + 1, path });
    }
  });
  return { entries, problems };
}

export function emptyIndex(url: string): AdvisoryIndex {
  return { schema: INDEX_SCHEMA, url, syncedAt: new Date(0).toISOString(), docs: {}, advisories: {} };
}

/** Read the local index; a missing directory or file is an empty index (never synced). */
export async function loadIndex(dir: string): Promise<AdvisoryIndex | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, INDEX_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new FeedError(`${join(dir, INDEX_FILE)}: not valid JSON (${(e as Error).message})`);
  }
  const r = zAdvisoryIndex.safeParse(data);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new FeedError(`${join(dir, INDEX_FILE)}: field ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  // A later sync that found the feed unchanged only wrote sync.json: the data is that fresh.
  const side = await loadSyncState(dir);
  if (
    side &&
    side.url === r.data.url &&
    side.index.sha256 === r.data.index?.sha256 &&
    Date.parse(side.syncedAt) > Date.parse(r.data.syncedAt)
  )
    return { ...r.data, syncedAt: side.syncedAt };
  return r.data;
}

async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** index.json, then sync.json (a crash in between leaves a sync.json that loadIndex ignores). */
async function writeIndex(dir: string, next: AdvisoryIndex): Promise<void> {
  await writeAtomic(join(dir, INDEX_FILE), JSON.stringify(next) + '\n');
  const state: SyncState = {
    url: next.url,
    syncedAt: next.syncedAt,
    index: next.index ?? { sha256: '' },
    documents: Object.keys(next.docs).length,
    advisories: Object.keys(next.advisories).length,
  };
  await writeAtomic(join(dir, SYNC_FILE), JSON.stringify(state) + '\n');
}

export interface SyncOptions {
  url: string;
  dir: string;
  /** Re-check every known document with a conditional request (default: only new ones are fetched). */
  revalidate?: boolean;
  concurrency?: number;
  http?: HttpClient;
  now?: () => Date;
}

export interface SyncResult {
  url: string;
  dir: string;
  indexChanged: boolean;
  documents: number;
  advisories: number;
  fetched: number;
  notModified: number;
  unchanged: number;
  added: string[];
  updated: string[];
  removed: string[];
  problems: string[];
  requests: number;
  durationMs: number;
  syncedAt: string;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Mirror the feed into dir; one item's failure is a problem in the result, never the end of the sync. */
export async function syncFeed(opts: SyncOptions): Promise<SyncResult> {
  const started = Date.now();
  const base = feedBase(opts.url);
  const url = base.toString();
  const now = opts.now ?? (() => new Date());
  const http = opts.http ?? new HttpClient(FEED_CLIENT);
  const side = await loadSyncState(opts.dir);
  // Fast path: the sync state names this feed, so index.json need not be read unless index.txt changed.
  const fast =
    side?.url === url &&
    !opts.revalidate &&
    (await stat(join(opts.dir, INDEX_FILE)).then(
      () => true,
      () => false,
    ));
  let old: AdvisoryIndex | undefined;
  const loadOld = async () => {
    const prev = (await loadIndex(opts.dir)) ?? emptyIndex(url);
    // Another feed's validators and documents mean nothing for this one.
    return prev.url === url ? prev : emptyIndex(url);
  };
  if (!fast) old = await loadOld();
  const prevIndex = fast ? side!.index : old!.index;
  const problems: string[] = [];
  const requests0 = http.stats.requests;
  try {
    const idx = await http.get(new URL('index.txt', base).toString(), {
      ...(prevIndex?.validators ? { validators: prevIndex.validators } : {}),
      maxBytes: MAX_INDEX_BYTES,
    });
    const result = (extra: Partial<SyncResult>, next: AdvisoryIndex): SyncResult => ({
      url,
      dir: opts.dir,
      indexChanged: false,
      documents: Object.keys(next.docs).length,
      advisories: Object.keys(next.advisories).length,
      fetched: 0,
      notModified: 0,
      unchanged: 0,
      added: [],
      updated: [],
      removed: [],
      problems,
      requests: http.stats.requests - requests0,
      durationMs: Date.now() - started,
      syncedAt: next.syncedAt,
      ...extra,
    });
    const bodySha = idx.notModified ? prevIndex?.sha256 : sha256(idx.body);
    const indexChanged = !idx.notModified && bodySha !== prevIndex?.sha256;
    const newIndex = idx.notModified ? prevIndex : { sha256: bodySha!, validators: idx.validators };
    if (!indexChanged && !opts.revalidate) {
      const syncedAt = now().toISOString();
      if (fast) {
        const next: SyncState = { ...side!, syncedAt, index: newIndex ?? side!.index };
        await writeAtomic(join(opts.dir, SYNC_FILE), JSON.stringify(next) + '\n');
        return result(
          { documents: side!.documents, advisories: side!.advisories, syncedAt },
          { ...emptyIndex(url), syncedAt },
        );
      }
      const next: AdvisoryIndex = { ...old!, syncedAt, ...(newIndex ? { index: newIndex } : {}) };
      await writeIndex(opts.dir, next);
      return result({}, next);
    }
    const prior = old ?? (await loadOld());
    const body = idx.notModified
      ? await readFile(join(opts.dir, 'docs', 'index.txt'), 'utf8').catch(() => '')
      : idx.body.toString('utf8');
    if (!idx.notModified) await writeAtomic(join(opts.dir, 'docs', 'index.txt'), idx.body);
    const { entries, problems: lineProblems } = parseIndexTxt(body, base);
    problems.push(...lineProblems);

    const docs: AdvisoryIndex['docs'] = {};
    const advisories: AdvisoryIndex['advisories'] = {};
    const counts = { fetched: 0, notModified: 0, unchanged: 0 };
    const added: string[] = [];
    const updated: string[] = [];
    const limit = pLimit(opts.concurrency ?? 8);
    await Promise.all(
      entries.map((e) =>
        limit(async () => {
          const known = prior.docs[e.path];
          const knownAdv = known?.advisory ? prior.advisories[known.advisory] : undefined;
          // Known and parsed: kept as is unless revalidating.
          if (known && knownAdv && !known.error && !opts.revalidate) {
            docs[e.path] = known;
            advisories[knownAdv.id] = knownAdv;
            counts.unchanged++;
            return;
          }
          const docUrl = new URL(e.path, base).toString();
          let res;
          try {
            res = await http.get(docUrl, {
              ...(known?.validators && knownAdv ? { validators: known.validators } : {}),
              maxBytes: MAX_DOCUMENT_BYTES,
            });
          } catch (err) {
            const msg = err instanceof HttpError ? err.message : (err as Error).message;
            problems.push(`${e.path}: ${msg}`);
            // A transient failure keeps what we had.
            if (known && knownAdv) {
              docs[e.path] = known;
              advisories[knownAdv.id] = knownAdv;
            }
            return;
          }
          if (res.notModified && known && knownAdv) {
            docs[e.path] = { ...known, fetchedAt: now().toISOString() };
            advisories[knownAdv.id] = knownAdv;
            counts.notModified++;
            return;
          }
          counts.fetched++;
          const digest = sha256(res.body);
          const fetchedAt = now().toISOString();
          const validators: Validators = res.validators;
          if (known && knownAdv && known.sha256 === digest) {
            docs[e.path] = { ...known, validators, fetchedAt };
            advisories[knownAdv.id] = knownAdv;
            counts.unchanged++;
            return;
          }
          try {
            const { advisory, warnings } = parseCvrf(res.body.toString('utf8'), e.path);
            problems.push(...warnings);
            const other = advisories[advisory.id];
            if (other) {
              problems.push(`${e.path}: ${advisory.id} also published by another document; later one kept`);
            }
            advisories[advisory.id] = advisory;
            docs[e.path] = { validators, sha256: digest, advisory: advisory.id, fetchedAt };
            await writeAtomic(join(opts.dir, 'docs', e.path), res.body);
            (knownAdv ? updated : added).push(advisory.id);
          } catch (err) {
            if (!(err instanceof CvrfError)) throw err;
            problems.push(err.message);
            docs[e.path] = { sha256: digest, error: err.message, fetchedAt };
          }
        }),
      ),
    );
    const removed = Object.keys(prior.advisories)
      .filter((id) => !advisories[id])
      .sort();
    const next: AdvisoryIndex = {
      schema: INDEX_SCHEMA,
      url,
      syncedAt: now().toISOString(),
      index: {
        sha256: bodySha ?? sha256(body),
        ...(idx.notModified
          ? prior.index?.validators
            ? { validators: prior.index.validators }
            : {}
          : { validators: idx.validators }),
      },
      docs: Object.fromEntries(Object.entries(docs).sort(([a], [b]) => a.localeCompare(b))),
      advisories: Object.fromEntries(Object.entries(advisories).sort(([a], [b]) => a.localeCompare(b))),
    };
    await writeIndex(opts.dir, next);
    return result(
      {
        indexChanged,
        ...counts,
        added: added.sort(),
        updated: updated.sort(),
        removed,
      },
      next,
    );
  } finally {
    if (!opts.http) await http.close();
  }
}

export interface FeedStats {
  url: string;
  syncedAt: string;
  ageHours: number;
  documents: number;
  failedDocuments: number;
  advisories: number;
  cves: number;
  fixedPackages: number;
  releases: Record<string, number>;
  severities: Record<string, number>;
}

export function feedStats(idx: AdvisoryIndex, now = new Date()): FeedStats {
  const releases: Record<string, number> = {};
  const severities: Record<string, number> = {};
  const cves = new Set<string>();
  let fixedPackages = 0;
  for (const a of Object.values(idx.advisories)) {
    for (const r of a.releases) releases[r] = (releases[r] ?? 0) + 1;
    severities[a.severity] = (severities[a.severity] ?? 0) + 1;
    for (const c of a.cves) cves.add(c.id);
    fixedPackages += a.fixed.length;
  }
  return {
    url: idx.url,
    syncedAt: idx.syncedAt,
    ageHours: Math.round(((now.getTime() - Date.parse(idx.syncedAt)) / 3_600_000) * 10) / 10,
    documents: Object.keys(idx.docs).length,
    failedDocuments: Object.values(idx.docs).filter((d) => d.error).length,
    advisories: Object.keys(idx.advisories).length,
    cves: cves.size,
    fixedPackages,
    releases: Object.fromEntries(Object.entries(releases).sort(([a], [b]) => a.localeCompare(b))),
    severities,
  };
}

export type { Advisory };
