// The polling HTTP client (undici) the watcher uses: a global and a per-host concurrency limit,
// conditional requests, retries with backoff and jitter on 5xx/429/408 and network errors (honouring
// Retry-After and GitHub's X-RateLimit-* headers), timeouts, a body-size cap with Content-Encoding
// decoded, same-origin-only redirects, and credentials attached only on the origin they are bound to.
import { Agent } from 'undici';
import { backoffDelay } from '../../catalog/backoff.ts';
import { ACCEPT_ENCODING } from './body.ts';
import { describeNetError, HttpError } from './errors.ts';
import { HostLimits } from './limits.ts';
import type { BoundCredentials } from './origin.ts';
import { send } from './request.ts';
import { isTransientStatus, parseRetryAfter, rateLimitResetAt, sleep } from './retry.ts';

/** The limits of one client (the watcher's `watch:` section has all of these). */
export interface ClientConfig {
  /** Requests in flight across all hosts. */
  concurrency: number;
  /** Requests in flight per host. */
  perHost: number;
  /** Per request, headers and body together. */
  timeoutMs: number;
  maxBodyBytes: number;
  retries: number;
  retryBaseMs: number;
  /** Longest wait honoured for Retry-After, a rate-limit reset or a backoff step. */
  maxRetryWaitMs: number;
  userAgent: string;
}

export interface Validators {
  etag?: string;
  lastModified?: string;
}

export interface GetOptions {
  /** Non-secret headers (an Authorization header here is refused: use `credentials`). */
  headers?: Record<string, string>;
  /** Secret headers and query parameters, sent only to their origin (see ./origin.ts). */
  credentials?: BoundCredentials;
  /** Sent as If-None-Match / If-Modified-Since; a 304 then comes back as notModified. */
  validators?: Validators;
  maxBytes?: number;
  /** Status codes handed back to the caller instead of failing (e.g. 401 for the OCI token handshake). */
  allowStatus?: number[];
}

export interface HttpResponse {
  url: string;
  status: number;
  headers: Record<string, string>;
  /** The body with its Content-Encoding undone. */
  body: Buffer;
  /** The Content-Encoding that was undone ('' when the body came as is). */
  decoded: string;
  notModified: boolean;
  validators: Validators;
}

export interface HttpStats {
  requests: number;
  notModified: number;
  retries: number;
  bytes: number;
}

const MAX_REDIRECTS = 5;

export class HttpClient {
  readonly stats: HttpStats = { requests: 0, notModified: 0, retries: 0, bytes: 0 };
  private readonly cfg: ClientConfig;
  private readonly agent: Agent;
  private readonly limits: HostLimits;

  constructor(cfg: ClientConfig) {
    this.cfg = cfg;
    this.limits = new HostLimits(cfg);
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

  /** GET with redirects (same origin only), retries and politeness; throws HttpError on failure. */
  async get(url: string, opts: GetOptions = {}): Promise<HttpResponse> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await this.getWithRetries(current, opts);
      if (res.status < 300 || res.status >= 400 || res.status === 304) return res;
      const loc = res.headers.location;
      if (!loc) throw new HttpError(current, `HTTP ${res.status} without Location`, res.status);
      const next = new URL(loc, current);
      if (next.origin !== new URL(current).origin)
        throw new HttpError(current, `redirect to another host refused: ${next.protocol}//${next.host}`);
      if (hop >= MAX_REDIRECTS) throw new HttpError(url, 'too many redirects');
      current = next.toString();
    }
  }

  private async getWithRetries(url: string, opts: GetOptions): Promise<HttpResponse> {
    const host = new URL(url).host;
    for (let attempt = 0; ; attempt++) {
      await this.limits.wait(host, url, this.cfg.maxRetryWaitMs);
      let res: HttpResponse | undefined;
      let failure: unknown;
      try {
        res = await this.limits.run(host, () => this.once(url, opts));
      } catch (e) {
        if (e instanceof HttpError) throw e; // body cap, bad encoding and similar: not transient
        failure = e;
      }
      const wait = res ? this.retryDelay(res, attempt, host) : this.backoff(attempt);
      const retryable = !res || isTransientStatus(res.status) || wait.rateLimited;
      if (res && !retryable) {
        if (res.status >= 400 && !opts.allowStatus?.includes(res.status)) throw statusError(url, res);
        return res;
      }
      if (attempt >= this.cfg.retries || wait.ms > this.cfg.maxRetryWaitMs) {
        if (res) throw statusError(url, res, wait.rateLimited ? wait.ms : undefined);
        throw new HttpError(url, `request failed: ${describeNetError(failure)}`);
      }
      this.stats.retries++;
      await sleep(wait.ms);
    }
  }

  private backoff(attempt: number): { ms: number; rateLimited: boolean } {
    const ms = backoffDelay(attempt + 1, this.cfg.retryBaseMs, this.cfg.maxRetryWaitMs);
    return { ms, rateLimited: false };
  }

  /** GitHub's X-RateLimit-Reset when the limit is used up; then Retry-After; else backoff. */
  private retryDelay(res: HttpResponse, attempt: number, host: string): { ms: number; rateLimited: boolean } {
    const until = rateLimitResetAt(res.headers);
    if (until !== undefined) {
      this.limits.block(host, until);
      if (res.status === 403 || res.status === 429)
        return { ms: Math.max(0, until - Date.now()) + 250, rateLimited: true };
    }
    const ra = parseRetryAfter(res.headers['retry-after']);
    if (ra !== undefined && (res.status === 429 || res.status >= 500 || res.status === 403))
      return { ms: ra, rateLimited: res.status === 403 };
    return this.backoff(attempt);
  }

  private async once(url: string, opts: GetOptions): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      'user-agent': this.cfg.userAgent,
      'accept-encoding': ACCEPT_ENCODING,
      ...opts.headers,
    };
    if (opts.validators?.etag) headers['if-none-match'] = opts.validators.etag;
    if (opts.validators?.lastModified) headers['if-modified-since'] = opts.validators.lastModified;
    this.stats.requests++;
    const r = await send(url, {
      headers,
      credentials: opts.credentials,
      dispatcher: this.agent,
      timeoutMs: this.cfg.timeoutMs,
      deadlineMs: this.cfg.timeoutMs,
      maxBytes: opts.maxBytes ?? this.cfg.maxBodyBytes,
    });
    this.stats.bytes += r.wireBytes;
    const notModified = r.status === 304;
    if (notModified) this.stats.notModified++;
    const validators: Validators = {};
    if (r.headers.etag) validators.etag = r.headers.etag;
    if (r.headers['last-modified']) validators.lastModified = r.headers['last-modified'];
    return {
      url,
      status: r.status,
      headers: r.headers,
      body: r.body,
      decoded: r.decoded,
      notModified,
      validators,
    };
  }
}

function statusError(url: string, res: HttpResponse, rateLimitMs?: number): HttpError {
  const html =
    /html/i.test(res.headers['content-type'] ?? '') || /^\s*</.test(res.body.subarray(0, 64).toString());
  const what =
    rateLimitMs !== undefined ? `rate limited for ${Math.ceil(rateLimitMs / 1000)} s` : `HTTP ${res.status}`;
  return new HttpError(url, `${what}${html ? ' (HTML error page)' : ''}`, res.status);
}
