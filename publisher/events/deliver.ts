// Delivery of outbox events to webhook subscriptions: CloudEvents structured mode
// (Content-Type: application/cloudevents+json), signed with Wharf-Signature, in order per subscription.
// A failed head-of-queue event blocks its subscription until its retry time (exponential backoff with
// jitter, or the receiver's Retry-After when that is later) or until it goes to the dead-letter list
// after maxAttempts; other subscriptions carry on. A delivery is marked done only after a 2xx answer, so
// a crash in between means a resend with the same id. Requests go through publisher/net.
import { backoffDelay } from '../../catalog/backoff.ts';
import { isTransientStatus, parseRetryAfter, send } from '../net/index.ts';
import { SIGNATURE_HEADER, signPayload } from './signature.ts';
import type { Outbox, Delivery, JournalEntry } from './outbox.ts';
import type { EventsConfig, Subscription, WharfEvent } from './types.ts';

export interface DeliverOptions {
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** Stop after this many deliveries per subscription in one call (keeps one loop turn bounded). */
  maxPerSubscription?: number;
  signal?: AbortSignal;
  log?: (msg: string) => void;
}

export interface DeliverReport {
  delivered: number;
  failed: number;
  dead: number;
  /** Subscriptions whose queue head waits for a retry time. */
  waiting: string[];
}

export async function deliverPending(
  outbox: Outbox,
  cfg: EventsConfig,
  opts: DeliverOptions = {},
): Promise<DeliverReport> {
  const report: DeliverReport = { delivered: 0, failed: 0, dead: 0, waiting: [] };
  await outbox.refresh();
  await Promise.all(
    cfg.subscriptions
      .filter((s) => s.enabled)
      .map((sub) => deliverSubscription(outbox, cfg, sub, opts, report)),
  );
  return report;
}

async function deliverSubscription(
  outbox: Outbox,
  cfg: EventsConfig,
  sub: Subscription,
  opts: DeliverOptions,
  report: DeliverReport,
): Promise<void> {
  const now = opts.now ?? Date.now;
  const max = opts.maxPerSubscription ?? 1000;
  const maxAttempts = sub.maxAttempts ?? cfg.maxAttempts;
  // "delivered" marks are written in small batches (each after its 2xx): one fsync per batch instead of
  // one per event. A crash before a flush only means those events are sent again, with the same ids.
  let marks: JournalEntry[] = [];
  let firstMark = 0;
  const flush = async (extra: JournalEntry[] = []) => {
    const entries = [...marks, ...extra];
    marks = [];
    if (entries.length) await outbox.locked(() => outbox.append(entries));
  };
  const queue: Delivery[] = outbox.pendingFor(sub.name).slice(0, max);
  try {
    for (const head of queue) {
      if (opts.signal?.aborted) return;
      if (head.next > now()) {
        report.waiting.push(sub.name);
        return;
      }
      const event = outbox.snapshot.byId.get(head.id)!.event;
      const res = await post(sub, event, head.attempts + 1, cfg, opts);
      const at = new Date(now()).toISOString();
      if (res.ok) {
        if (!marks.length) firstMark = now();
        marks.push({ op: 'delivered', sub: sub.name, id: head.id, at, status: res.status! });
        report.delivered++;
        if (marks.length >= MARK_BATCH || now() - firstMark >= MARK_WINDOW_MS) await flush();
        continue;
      }
      const status = res.status !== undefined ? { status: res.status } : {};
      if (head.attempts + 1 >= maxAttempts) {
        await flush([{ op: 'dead', sub: sub.name, id: head.id, at, error: res.error, ...status }]);
        opts.log?.(
          `events: ${sub.name}: ${event.type} ${event.id.slice(0, 12)} dead after ${maxAttempts} attempts: ${res.error}`,
        );
        report.dead++;
        continue;
      }
      // The receiver's Retry-After (on 429/5xx) is honoured when it asks for more than the backoff, up to maxMs.
      const backoff = backoffDelay(head.attempts + 1, cfg.backoff.baseMs, cfg.backoff.maxMs);
      const next = now() + Math.max(backoff, Math.min(res.retryAfterMs ?? 0, cfg.backoff.maxMs));
      await flush([{ op: 'attempt', sub: sub.name, id: head.id, at, error: res.error, next, ...status }]);
      opts.log?.(
        `events: ${sub.name}: delivery of ${event.id.slice(0, 12)} failed (${res.error}); retry at ${new Date(next).toISOString()}`,
      );
      report.failed++;
      report.waiting.push(sub.name);
      return;
    }
  } finally {
    await flush();
  }
}

const MARK_BATCH = 32;
const MARK_WINDOW_MS = 250;

interface PostResult {
  ok: boolean;
  status?: number;
  error: string;
  retryAfterMs?: number;
}

async function post(
  sub: Subscription,
  event: WharfEvent,
  attempt: number,
  cfg: EventsConfig,
  opts: DeliverOptions,
): Promise<PostResult> {
  const env = opts.env ?? process.env;
  const body = JSON.stringify(event);
  const headers: Record<string, string> = {
    'content-type': 'application/cloudevents+json; charset=utf-8',
    'user-agent': 'wharf-events/0.1',
    'wharf-event-id': event.id,
    'wharf-delivery-attempt': String(attempt),
  };
  if (sub.secretEnv) {
    const secret = env[sub.secretEnv];
    if (!secret)
      return { ok: false, error: `environment variable ${sub.secretEnv} (the signing secret) is not set` };
    headers[SIGNATURE_HEADER] = signPayload(secret, body, Math.floor(Date.now() / 1000));
  }
  // opts.signal (shutdown) stops the loop between deliveries; a request in flight runs to its timeout,
  // so a shutdown never turns into a spurious failed attempt.
  const timeout = sub.timeoutMs ?? cfg.timeoutMs;
  // Redirects are not followed (send never does); the answer's body is drained, never buffered.
  try {
    const r = await send(sub.url, { method: 'POST', headers, body, deadlineMs: timeout, discardBody: true });
    if (r.status >= 200 && r.status < 300) return { ok: true, status: r.status, error: '' };
    const retryAfterMs = isTransientStatus(r.status) ? parseRetryAfter(r.headers['retry-after']) : undefined;
    return {
      ok: false,
      status: r.status,
      error: `HTTP ${r.status}`,
      ...(retryAfterMs ? { retryAfterMs } : {}),
    };
  } catch (e) {
    const err = e as Error & { code?: string; cause?: { code?: string; message?: string } };
    const why =
      err.name === 'TimeoutError'
        ? 'timed out'
        : (err.code ?? err.cause?.code ?? err.cause?.message ?? err.message);
    return { ok: false, error: `request failed: ${why}` };
  }
}
