// Retries with exponential backoff and full jitter, for transient registry failures (5xx, 429,
// network errors). A Retry-After hint, when given, is honoured up to the cap.
export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
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

export function backoffDelay(attempt: number, p: RetryPolicy, hintMs?: number): number {
  if (hintMs !== undefined && hintMs >= 0) return Math.min(hintMs, p.maxDelayMs);
  const cap = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + Math.random() * (cap / 2));
}

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

/** Parse a Retry-After header (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(v: string | undefined): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}
