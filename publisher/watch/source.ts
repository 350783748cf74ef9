// The contract between the sweep and the sources (nvchecker's get_version): a source turns one
// upstream entry into raw releases. Everything common — HTTP politeness, conditional requests,
// prefix stripping, filters, ordering — lives in the core, never in a source.
import { z } from 'zod';
import {
  zHttpUrl,
  zLine,
  zUpstreamCommon,
  type Upstream,
  type UpstreamCommon,
} from '../../catalog/schema.ts';
import type { WatchConfig } from './config.ts';
import { HttpError, parseJson, type GetOptions, type HttpResponse } from './http.ts';

export interface RawRelease {
  /** The tag or version string exactly as upstream spells it (prefixes are stripped by the core). */
  version: string;
  /** Upstream marked it as a pre-release (GitHub/Gitee `prerelease`, GitLab `upcoming_release`). */
  prerelease?: boolean;
}

export interface SourceGetOptions extends GetOptions {
  /** Send the validators stored for this URL; a 304 ends the source with NotModified. */
  conditional?: boolean;
}

export interface SourceContext {
  cfg: WatchConfig;
  /** Environment for optional tokens (GITHUB_TOKEN, GITLAB_TOKEN, GITEE_TOKEN): never logged or stored. */
  env: NodeJS.ProcessEnv;
  get(url: string, opts?: SourceGetOptions): Promise<HttpResponse>;
  /** Drop validators recorded for a URL in this check (its response is not a complete answer). */
  forget(url: string): void;
  /** A cache shared by every app of one sweep (OCI bearer tokens, for instance). */
  memo<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Run a subprocess-heavy step (git) under the sweep's process limit. */
  spawnSlot<T>(fn: () => Promise<T>): Promise<T>;
  /** Aborted when the app's deadline (watch.appTimeoutMs) passes: long loops check it and stop. */
  signal?: AbortSignal;
}

/** What a source reads: the app's upstream entry, as its own config schema parsed it. */
export type Source<C extends UpstreamCommon = Upstream> = (
  entry: C,
  ctx: SourceContext,
) => Promise<RawRelease[]>;

/**
 * One watch backend, declared in its own file: the `upstream.backend` it answers to, the schema of the
 * entry it reads (the catalog's common fields plus its own, strict, with its requirements), and the
 * function. The registry (sources/index.ts) is the only list of backends.
 */
export interface WatchSource<C extends UpstreamCommon = UpstreamCommon> {
  backend: string;
  config: Pick<z.ZodType<C>, 'safeParse'>;
  get(entry: C, ctx: SourceContext): Promise<RawRelease[]>;
}

/** A source's config schema: the common upstream fields, `backend` fixed to its name, and its own fields. */
export function upstreamConfig<B extends string, S extends z.ZodRawShape>(backend: B, own: S) {
  return zUpstreamCommon.extend({ backend: z.literal(backend), ...own }).strict();
}

/** A required one-line string of a source's config (`what` says what is expected when it is missing). */
export const requiredLine = (what: string, max = 1024) =>
  z
    .string({ error: (i) => (i.input === undefined ? `required (${what})` : 'must be a string') })
    .pipe(zLine(max).min(1, `required (${what})`));

/** A required http(s) URL of a source's config. */
export const requiredUrl = (what: string) =>
  z
    .string({ error: (i) => (i.input === undefined ? `required (${what})` : 'must be a string') })
    .pipe(zHttpUrl);

/** Declare a source (its entry type follows from its schema). */
export function defineSource<C extends UpstreamCommon>(
  backend: string,
  config: z.ZodType<C>,
  get: Source<C>,
): WatchSource<C> {
  return { backend, config, get };
}

/** Thrown (by ctx.get) when a conditional request came back 304: the stored state is still current. */
export class NotModified extends Error {
  constructor(url: string) {
    super(`not modified: ${url}`);
    this.name = 'NotModified';
  }
}

/** A configuration problem in the app's upstream entry (named field). */
export class EntryError extends Error {
  constructor(field: string, message: string) {
    super(`upstream.${field}: ${message}`);
    this.name = 'EntryError';
  }
}

/** Validate an upstream response against the part of its documented format we rely on. */
export function expectShape<T>(schema: z.ZodType<T>, res: HttpResponse): T {
  const r = schema.safeParse(parseJson(res));
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new HttpError(res.url, `unexpected response: ${i.path.join('.') || '(root)'}: ${i.message}`);
}

/** `owner/name` (or a GitLab group path) from entry.repo, refusing anything that could escape the API path. */
export function repoPath(entry: Pick<UpstreamCommon, 'repo'>, min = 2): string {
  const repo = entry.repo?.replace(/^\/+|\/+$/g, '');
  if (!repo) throw new EntryError('repo', 'required (owner/name)');
  const parts = repo.split('/');
  if (parts.length < min || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p) || p === '.' || p === '..'))
    throw new EntryError('repo', `${JSON.stringify(repo)} is not owner/name`);
  return repo;
}

/** Fetch up to cfg.maxPages pages of a JSON array API. The first page is conditional when the list is
 * newest-first (a new item always changes page 1) or fits in one page; otherwise nothing is cached. */
export async function fetchPages<T>(
  ctx: SourceContext,
  first: string,
  schema: z.ZodType<T[]>,
  opts: GetOptions & { newestFirst: boolean; next: (res: HttpResponse, page: number) => string | undefined },
): Promise<T[]> {
  const out: T[] = [];
  let url: string | undefined = first;
  for (let page = 1; url && page <= ctx.cfg.maxPages; page++) {
    const res = await ctx.get(url, { ...opts, conditional: page === 1 });
    out.push(...expectShape(schema, res));
    const next = opts.next(res, page);
    if (page === 1 && next && !opts.newestFirst) ctx.forget(url);
    url = next;
  }
  return out;
}
