// Webhook signatures for event deliveries, in the style of Stripe's:
//   Wharf-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// The timestamp is signed with the body, so a receiver rejects a captured request replayed later
// (outside its tolerance window) and a body moved to another timestamp.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Wharf-Signature';

export function signPayload(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; reason: string };

/** Verify a Wharf-Signature header over the raw body; `toleranceSeconds` bounds the clock difference. */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string | Buffer,
  opts: { toleranceSeconds?: number; now?: number } = {},
): VerifyResult {
  if (!header) return { ok: false, reason: 'missing signature header' };
  const parts = new Map<string, string[]>();
  for (const kv of header.split(',')) {
    const i = kv.indexOf('=');
    if (i <= 0) continue;
    const k = kv.slice(0, i).trim();
    parts.set(k, [...(parts.get(k) ?? []), kv.slice(i + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(t)) return { ok: false, reason: 'no timestamp in signature header' };
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceSeconds ?? 300))
    return { ok: false, reason: 'timestamp outside tolerance' };
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  for (const v of parts.get('v1') ?? []) {
    if (!/^[a-f0-9]{64}$/.test(v)) continue;
    if (timingSafeEqual(Buffer.from(v, 'hex'), expected)) return { ok: true, timestamp: t };
  }
  return { ok: false, reason: 'signature mismatch' };
}
