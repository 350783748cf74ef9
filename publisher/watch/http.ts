// The watcher's one HTTP client (undici): a global and a per-host concurrency limit, conditional
// requests, retries with exponential backoff and jitter on 5xx/429 (honouring Retry-After and GitHub's
// X-RateLimit-* headers), timeouts, a body-size cap, and same-host-only redirects. Sources never
// talk to the network any other way, so politeness lives in exactly one place.
import { Agent, request } from 'undici';
import pLimit, { type LimitFunction } from 'p-limit';
import type { WatchConfig } from './config.ts';

export interface Validators {
  etag?: string;
  lastModified?: string;
}

export interface GetOptions {
  headers?: Record<string, string>;
  /** Sent as If-None-Match / If-Modified-Since; a 304 then comes back as notModified. */
  validators?: Validators;
  /** Query parameters added on the wire only (tokens): never part of the URL we report or store. */
  secretQuery?: Record<string, string>;
  maxBytes?: number;
  /** Status codes handed back to the caller instead of failing (e.g. 401 for the OCI token handshake). */
  allowStatus?: number[];
}

export interface HttpResponse {
  url: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  notModified: boolean;
  validators: Validators;
}

export class HttpError extends Error {
  readonly url: string;
  readonly status?: number;
  constructor(url: string, message: string, status?: number) {
    super(`${message} (${url})`);
    this.name = 'HttpError';
    this.url = url;
    this.status = status;
  }
}

export interface HttpStats {
  requests: number;
  notModified: number;
  retries: number;
  bytes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MAX_REDIRECTS = 5;

export class HttpClient {
  readonly stats: HttpStats = { requests: 0, notModified: 0, retries: 0, bytes: 0 };
  private readonly cfg: WatchConfig;
  private readonly agent: Agent;
  private readonly global: LimitFunction;
  private readonly hosts = new Map<string, LimitFunction>();
  /** Host → time until which requests wait (a rate-limit reset seen on an earlier response). */
  private readonly blockedUntil = new Map<string, number>();

  constructor(cfg: WatchConfig) {
    this.cfg = cfg;
    this.global = pLimit(cfg.concurrency);
    this.agent = new Agent({
      connections: cfg.perHost,
      keepAliveTimeout: 10_000,
      headersTimeout: cfg.timeoutMs,
      bodyTimeout: cfg.timeoutMs,
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private hostLimit(host: string): LimitFunction {
    let l = this.hosts.get(host);
    if (!l) this.hosts.set(host, (l = pLimit(this.cfg.perHost)));
    return l;
  }

  /** GET with redirects (same host only), retries and politeness; throws HttpError on failure. */
  async get(url: string, opts: GetOptions = {}): Promise<HttpResponse> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await this.getWithRetries(current, opts);
      if (res.status < 300 || res.status >= 400 || res.status === 304) return res;
      const loc = res.headers.location;
      if (!loc) throw new HttpError(current, `HTTP ${res.status} without Location`, res.status);
      const next = new URL(loc, current);
      const from = new URL(current);
      if (next.host !== from.host || next.protocol !== from.protocol)
        throw new HttpError(current, `redirect to another host refused: ${next.protocol}//${next.host}`);
      if (hop >= MAX_REDIRECTS) throw new HttpError(url, 'too many redirects');
      current = next.toString();
    }
  }

  private async getWithRetries(url: string, opts: GetOptions): Promise<HttpResponse> {
    const host = new URL(url).host;
    for (let attempt = 0; ; attempt++) {
      await this.waitForHost(host, url);
      let res: HttpResponse | undefined;
      let failure: unknown;
      try {
        res = await this.hostLimit(host)(() => this.global(() => this.once(url, opts)));
      } catch (e) {
        if (e instanceof HttpError) throw e; // body cap and similar: not transient
        failure = e;
      }
      const wait = res ? this.retryDelay(res, attempt, host) : this.backoff(attempt);
      const retryable = !res || res.status === 429 || res.status >= 500 || wait.rateLimited;
      if (res && !retryable) {
        if (res.status >= 400 && !opts.allowStatus?.includes(res.status)) throw statusError(url, res);
        return res;
      }
      if (attempt >= this.cfg.retries || wait.ms > this.cfg.maxRetryWaitMs) {
        if (res) throw statusError(url, res, wait.rateLimited ? wait.ms : undefined);
        throw new HttpError(url, `request failed: ${errorText(failure)}`);
      }
      this.stats.retries++;
      await sleep(wait.ms);
    }
  }

  private async waitForHost(host: string, url: string): Promise<void> {
    const until = this.blockedUntil.get(host);
    if (!until) return;
    const ms = until - Date.now();
    if (ms <= 0) return void this.blockedUntil.delete(host);
    if (ms > this.cfg.maxRetryWaitMs)
      throw new HttpError(url, `rate limited until ${new Date(until).toISOString()}`, 429);
    await sleep(ms);
  }

  private backoff(attempt: number): { ms: number; rateLimited: boolean } {
    const base = this.cfg.retryBaseMs * 2 ** attempt;
    return { ms: Math.round(base * (0.5 + Math.random())), rateLimited: false };
  }

  /** Retry-After wins; then GitHub's X-RateLimit-Reset when the limit is used up; else backoff. */
  private retryDelay(res: HttpResponse, attempt: number, host: string): { ms: number; rateLimited: boolean } {
    const h = res.headers;
    const remaining = h['x-ratelimit-remaining'];
    const reset = Number(h['x-ratelimit-reset']);
    if (remaining === '0' && Number.isFinite(reset) && reset > 0) {
      const until = reset * 1000;
      this.blockedUntil.set(host, until);
      if (res.status === 403 || res.status === 429)
        return { ms: Math.max(0, until - Date.now()) + 250, rateLimited: true };
    }
    const ra = h['retry-after'];
    if (ra && (res.status === 429 || res.status >= 500 || res.status === 403)) {
      const secs = /^\d+$/.test(ra.trim()) ? Number(ra) * 1000 : Date.parse(ra) - Date.now();
      if (Number.isFinite(secs)) return { ms: Math.max(0, secs), rateLimited: res.status === 403 };
    }
    return this.backoff(attempt);
  }

  private async once(url: string, opts: GetOptions): Promise<HttpResponse> {
    const wire = new URL(url);
    for (const [k, v] of Object.entries(opts.secretQuery ?? {})) wire.searchParams.set(k, v);
    const headers: Record<string, string> = { 'user-agent': this.cfg.userAgent, ...opts.headers };
    if (opts.validators?.etag) headers['if-none-match'] = opts.validators.etag;
    if (opts.validators?.lastModified) headers['if-modified-since'] = opts.validators.lastModified;
    this.stats.requests++;
    const r = await request(wire, {
      method: 'GET',
      headers,
      dispatcher: this.agent,
      signal: AbortSignal.timeout(this.cfg.timeoutMs),
    });
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers))
      if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
    const max = opts.maxBytes ?? this.cfg.maxBodyBytes;
    const declared = Number(h['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      r.body.destroy();
      throw new HttpError(url, `response of ${declared} bytes exceeds the ${max}-byte cap`, r.statusCode);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of r.body) {
      size += (c as Buffer).length;
      if (size > max) {
        r.body.destroy();
        throw new HttpError(url, `response exceeds the ${max}-byte cap`, r.statusCode);
      }
      chunks.push(c as Buffer);
    }
    this.stats.bytes += size;
    const notModified = r.statusCode === 304;
    if (notModified) this.stats.notModified++;
    const validators: Validators = {};
    if (h.etag) validators.etag = h.etag;
    if (h['last-modified']) validators.lastModified = h['last-modified'];
    return { url, status: r.statusCode, headers: h, body: Buffer.concat(chunks), notModified, validators };
  }
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return `${code ? `${code} ` : ''}${e.message}${cause}`;
  }
  return String(e);
}

function statusError(url: string, res: HttpResponse, rateLimitMs?: number): HttpError {
  const html =
    /html/i.test(res.headers['content-type'] ?? '') || /^\s*</.test(res.body.subarray(0, 64).toString());
  const what =
    rateLimitMs !== undefined ? `rate limited for ${Math.ceil(rateLimitMs / 1000)} s` : `HTTP ${res.status}`;
  return new HttpError(url, `${what}${html ? ' (HTML error page)' : ''}`, res.status);
}

/** Parse a JSON body; HTML error pages and malformed JSON become clear per-app errors. */
export function parseJson(res: HttpResponse): unknown {
  const text = res.body.toString('utf8');
  if (/html/i.test(res.headers['content-type'] ?? '') || /^\s*<(?:!doctype|html)/i.test(text))
    throw new HttpError(res.url, 'expected JSON, got an HTML page');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(res.url, `malformed JSON: ${(e as Error).message}`);
  }
}

/** The `rel="next"` target of an RFC 8288 Link header, if any. */
export function nextLink(res: HttpResponse): string | undefined {
  const link = res.headers.link;
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;(?:[^,]*?)rel="?([^";]+)"?/.exec(part);
    if (m && m[2]!.split(/\s+/).includes('next')) return new URL(m[1]!, res.url).toString();
  }
  return undefined;
}
