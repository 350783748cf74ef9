// Retries for transient failures (5xx, 429, 408, network errors): exponential backoff with jitter
// (catalog/backoff.ts), Retry-After in both its forms (delay-seconds and HTTP-date, RFC 9110 §10.2.3),
// and GitHub's rate-limit headers (X-RateLimit-Remaining / X-RateLimit-Reset).
import { backoffDelay as step } from '../../catalog/backoff.ts';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
  /** Longest single wait, for backoff and for a server's Retry-After hint alike. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 250, maxDelayMs: 8_000 };

/** An error the caller may retry; `retryAfterMs` carries a server hint. */
export class TransientError extends Error {
  override name = 'TransientError';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/** The wait before retry `attempt` (1-based): the server's hint if any (capped), else backoff with jitter. */
export function backoffDelay(attempt: number, p: RetryPolicy, hintMs?: number): number {
  if (hintMs !== undefined && hintMs >= 0) return Math.min(hintMs, p.maxDelayMs);
  return step(attempt, p.baseDelayMs, p.maxDelayMs);
}

/** Statuses worth retrying: the server is overloaded, rate limiting, or failed. */
export const isTransientStatus = (status: number): boolean =>
  status >= 500 || status === 429 || status === 408;

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Run `fn` until it succeeds, retrying TransientErrors (and network errors, which `isNetworkError`
 * recognises) with backoff. `onRetry` sees each failed attempt that will be retried.
 */
export async function withRetry<T>(
  what: string,
  fn: (attempt: number) => Promise<T>,
  p: RetryPolicy,
  opts: { signal?: AbortSignal; onRetry?: (attempt: number, err: Error, delayMs: number) => void } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const transient = err instanceof TransientError || isNetworkError(err);
      if (!transient || attempt > p.retries || opts.signal?.aborted) {
        if (transient && attempt > 1) err.message = `${what}: ${err.message} (after ${attempt} attempts)`;
        throw err;
      }
      const delay = backoffDelay(attempt, p, err instanceof TransientError ? err.retryAfterMs : undefined);
      opts.onRetry?.(attempt, err, delay);
      await sleep(delay, opts.signal);
    }
  }
}

const NET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

export function isNetworkError(e: unknown): boolean {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && NET_CODES.has(code)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

/** Parse a Retry-After header (delay-seconds or an HTTP-date) into milliseconds from `now`. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/**
 * GitHub's primary rate limit: when `X-RateLimit-Remaining` is 0, the epoch time (ms) of
 * `X-RateLimit-Reset`, until which the host should not be asked again; else undefined.
 */
export function rateLimitResetAt(headers: Record<string, string>): number | undefined {
  const reset = Number(headers['x-ratelimit-reset']);
  if (headers['x-ratelimit-remaining'] === '0' && Number.isFinite(reset) && reset > 0) return reset * 1000;
  return undefined;
}
