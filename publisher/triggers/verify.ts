// Authenticating forge webhooks. Every comparison of a secret or MAC is constant-time; errors name what
// was wrong, never the secret or the presented token.
//   GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>; no timestamp, so replays are
//           caught by remembering X-GitHub-Delivery ids.
//   Gitee:  X-Gitee-Token = Base64(HMAC-SHA256(key=secret, "<X-Gitee-Timestamp>\n<secret>")), possibly
//           URL-encoded; the body is not signed. Stale timestamps are refused and (timestamp, token) pairs
//           are remembered. "password" mode: the token is the secret in clear and the timestamp is not
//           authenticated, so replays are keyed on the body's SHA-256 (handler.ts), never the timestamp.
//   GitLab: X-Gitlab-Token = the secret in clear; X-Gitlab-Event-UUID (when sent) dedupes replays.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Forge = 'github' | 'gitee' | 'gitlab';
export type Headers = Record<string, string | string[] | undefined>;

export type AuthResult =
  | { ok: true; /** key identifying this delivery for replay detection */ deliveryKey?: string }
  | { ok: false; status: 400 | 401; reason: string };

const header = (h: Headers, name: string): string | undefined => {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/** Constant-time equality of two byte strings (length leaks, content does not). */
export function safeEqual(a: Buffer | string, b: Buffer | string): boolean {
  const x = Buffer.isBuffer(a) ? a : Buffer.from(a, 'utf8');
  const y = Buffer.isBuffer(b) ? b : Buffer.from(b, 'utf8');
  if (x.length !== y.length) {
    timingSafeEqual(x, x); // same work either way
    return false;
  }
  return timingSafeEqual(x, y);
}

export function verifyGithub(h: Headers, body: Buffer, secret: string): AuthResult {
  const sig = header(h, 'x-hub-signature-256');
  if (!sig) return { ok: false, status: 401, reason: 'missing X-Hub-Signature-256' };
  const m = /^sha256=([a-f0-9]{64})$/i.exec(sig.trim());
  if (!m) return { ok: false, status: 401, reason: 'malformed X-Hub-Signature-256' };
  const expected = createHmac('sha256', secret).update(body).digest();
  if (!safeEqual(Buffer.from(m[1]!.toLowerCase(), 'hex'), expected))
    return { ok: false, status: 401, reason: 'signature mismatch' };
  const delivery = header(h, 'x-github-delivery');
  return { ok: true, ...(delivery ? { deliveryKey: `github:${delivery}` } : {}) };
}

export function giteeSignature(secret: string, timestamp: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
}

export function verifyGitee(
  h: Headers,
  secret: string,
  opts: { mode: 'signature' | 'password'; toleranceSeconds: number; now?: number },
): AuthResult {
  const raw = header(h, 'x-gitee-token');
  if (!raw) return { ok: false, status: 401, reason: 'missing X-Gitee-Token' };
  if (opts.mode === 'password') {
    // No delivery key here: the timestamp is not authenticated in this mode. The handler keys replays
    // on the body's hash once it has read the body.
    if (!safeEqual(raw, secret)) return { ok: false, status: 401, reason: 'token mismatch' };
    return { ok: true };
  }
  const ts = header(h, 'x-gitee-timestamp');
  if (!ts || !/^\d{10,16}$/.test(ts))
    return { ok: false, status: 401, reason: 'missing or malformed X-Gitee-Timestamp' };
  const now = opts.now ?? Date.now();
  if (Math.abs(now - Number(ts)) > opts.toleranceSeconds * 1000)
    return { ok: false, status: 401, reason: 'stale X-Gitee-Timestamp' };
  let token = raw.trim();
  if (token.includes('%')) {
    try {
      token = decodeURIComponent(token);
    } catch {
      return { ok: false, status: 401, reason: 'malformed X-Gitee-Token' };
    }
  }
  if (!safeEqual(token, giteeSignature(secret, ts)))
    return { ok: false, status: 401, reason: 'signature mismatch' };
  return { ok: true, deliveryKey: `gitee:${ts}:${token}` };
}

export function verifyGitlab(h: Headers, secret: string): AuthResult {
  const token = header(h, 'x-gitlab-token');
  if (!token) return { ok: false, status: 401, reason: 'missing X-Gitlab-Token' };
  if (!safeEqual(token, secret)) return { ok: false, status: 401, reason: 'token mismatch' };
  const uuid = header(h, 'x-gitlab-event-uuid') ?? header(h, 'idempotency-key');
  return { ok: true, ...(uuid ? { deliveryKey: `gitlab:${uuid}` } : {}) };
}

/** Remembers delivery keys in memory for a while (bounded), to refuse replays with 409. See replay.ts. */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly max: number;
  constructor(ttlMs = 24 * 3600_000, max = 100_000) {
    this.ttlMs = ttlMs;
    this.max = max;
  }
  /** True when the key is new (and records it); false for a replay. */
  admit(key: string, now = Date.now()): boolean {
    const t = this.seen.get(key);
    if (t !== undefined && now - t < this.ttlMs) return false;
    this.seen.delete(key);
    this.seen.set(key, now);
    while (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value!);
    return true;
  }
  /** Forget a key (when the request it came with could not be processed and may be retried). */
  forget(key: string): void {
    this.seen.delete(key);
  }
}
