// The webhook endpoint: POST /hooks/github|gitee|gitlab. Every check that needs no body runs first —
// forge known (404), method (405), forge enabled (404), Content-Type JSON (415), Content-Length given
// (411) and within the cap (413), the forge's signature or token header present (401), and for GitLab and
// Gitee the token itself (401) — and only then, under a cap on bodies read at once (503 with
// Retry-After when full) and a read deadline (408), is the body read; then GitHub's HMAC (401), replay
// (409), payload (400). Which apps a repository stands for comes from an in-memory index kept fresh by
// the catalog HEAD (app-index.ts), not a catalog load per delivery. The rebuild requests are then
// appended to the fsync'd rebuild spool (spool.ts) and the delivery is answered 202 `accepted` with a
// delivery id: the catalog commit follows, made by the spool's one writer for many deliveries at once.
// A repository no app maps to is answered 202 with an empty `queued` list: the forge sees success (no
// retries), and the answer reveals nothing about the catalog. Every request is logged as one line of
// facts — never a header value, token or secret; `forge` is one of the three or "unknown".
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { newRunId } from '../../catalog/run-id.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import { AppIndex } from './app-index.ts';
import type { TriggersConfig } from './config.ts';
import { PayloadError, parseWebhook, type TriggerEvent } from './payload.ts';
import { versionOfTag } from './queue.ts';
import { RebuildSpool, type SpoolEntry } from './spool.ts';
import { deliveryKeyHash, type DeliveryGuard } from './replay.ts';
import {
  ReplayGuard,
  verifyGitee,
  verifyGithub,
  verifyGitlab,
  type AuthResult,
  type Forge,
} from './verify.ts';

export const FORGES: readonly Forge[] = ['github', 'gitee', 'gitlab'];

export interface HookLogLine {
  forge: string;
  status: number;
  outcome: 'accepted' | 'refused' | 'error';
  reason?: string;
  event?: string;
  repo?: string;
  /** The id of an accepted delivery (also in its answer). */
  delivery?: string;
  /** Rebuild requests spooled. */
  queued?: number;
}

export interface HookHandlerOptions {
  store: CatalogStore;
  config: TriggersConfig;
  env?: NodeJS.ProcessEnv;
  log?: (line: HookLogLine) => void;
  /** Delivery ids already seen (default: in memory; the daemon passes a FileReplayGuard). */
  replay?: DeliveryGuard;
  /** The clock (replay windows, `pending.since`) and the run id of each queued rebuild (tests pin them). */
  now?: () => number;
  runId?: () => string;
  /** The app index (default: one per handler, over `store`). */
  index?: AppIndex;
  /** Where accepted rebuild requests are recorded before the answer (default: one over `store`). */
  spool?: RebuildSpool;
}

export type HookHandler = (req: IncomingMessage, res: ServerResponse, forge: string) => Promise<void>;

class TooLarge extends Error {}
class TooSlow extends Error {}

function readBody(req: IncomingMessage, max: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      req.pause();
      reject(new TooSlow());
    }, timeoutMs);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        clearTimeout(timer);
        req.pause();
        reject(new TooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The header each forge authenticates with: without it, a body is never read. */
const AUTH_HEADER: Record<Forge, [header: string, spelled: string]> = {
  github: ['x-hub-signature-256', 'X-Hub-Signature-256'],
  gitee: ['x-gitee-token', 'X-Gitee-Token'],
  gitlab: ['x-gitlab-token', 'X-Gitlab-Token'],
};

function send(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

export function createHookHandler(opts: HookHandlerOptions): HookHandler {
  const env = opts.env ?? process.env;
  const guard: DeliveryGuard = opts.replay ?? new ReplayGuard();
  const log = opts.log ?? (() => {});
  const now = opts.now ?? Date.now;
  const index = opts.index ?? new AppIndex(opts.store);
  const spool = opts.spool ?? new RebuildSpool(opts.store);
  let reading = 0;

  return async (req, res, forgeName) => {
    const known = (FORGES as readonly string[]).includes(forgeName);
    const refuse = (status: number, reason: string, extra: Partial<HookLogLine> = {}, close = false) => {
      log({ forge: known ? forgeName : 'unknown', status, outcome: 'refused', reason, ...extra });
      send(res, status, { error: reason }, close);
    };
    // Refusals before the body is read close the connection: its unread body is never buffered.
    if (!known) return refuse(404, 'unknown hook', {}, true);
    const forge = forgeName as Forge;
    if (req.method !== 'POST') return refuse(405, 'use POST', {}, true);
    const fc = opts.config[forge];
    const secret = fc ? env[fc.secretEnv] : undefined;
    if (!fc || !secret) return refuse(404, `${forge} hook is not enabled`, {}, true);
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    if (type !== 'application/json') return refuse(415, 'Content-Type must be application/json', {}, true);
    const lengthHeader = req.headers['content-length'];
    if (lengthHeader === undefined || !/^\d{1,12}$/.test(lengthHeader))
      return refuse(411, 'Content-Length required', {}, true);
    if (Number(lengthHeader) > opts.config.maxBodyBytes)
      return refuse(413, `body larger than ${opts.config.maxBodyBytes} bytes`, {}, true);
    const [authHeader, spelled] = AUTH_HEADER[forge];
    if (!req.headers[authHeader]) return refuse(401, `missing ${spelled}`, {}, true);

    // Tokens that do not cover the body are checked before it is read.
    let auth: AuthResult | undefined;
    if (forge === 'gitlab') auth = verifyGitlab(req.headers, secret);
    else if (forge === 'gitee') {
      const g = opts.config.gitee!;
      auth = verifyGitee(req.headers, secret, {
        mode: g.mode,
        toleranceSeconds: g.toleranceSeconds,
        now: now(),
      });
    }
    if (auth && !auth.ok) return refuse(auth.status, auth.reason, {}, true);

    if (reading >= opts.config.maxConcurrentBodies) {
      log({ forge, status: 503, outcome: 'refused', reason: 'too many webhook bodies in flight' });
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5', connection: 'close' });
      res.end('{"error":"busy; retry later"}\n');
      return;
    }
    let body: Buffer;
    reading++;
    try {
      body = await readBody(req, opts.config.maxBodyBytes, opts.config.bodyTimeoutMs);
    } catch (e) {
      if (e instanceof TooLarge)
        return refuse(413, `body larger than ${opts.config.maxBodyBytes} bytes`, {}, true);
      if (e instanceof TooSlow) return refuse(408, 'body not received in time', {}, true);
      return refuse(400, 'could not read the body', {}, true);
    } finally {
      reading--;
    }

    if (forge === 'github') auth = verifyGithub(req.headers, body, secret);
    else if (forge === 'gitee' && opts.config.gitee!.mode === 'password')
      // The timestamp is not authenticated in password mode; the delivery is its body (a captured
      // delivery replayed with a new timestamp is still the same body).
      auth = { ok: true, deliveryKey: `gitee:pw:${createHash('sha256').update(body).digest('hex')}` };
    if (!auth) return refuse(401, 'not authenticated');
    if (!auth.ok) return refuse(auth.status, auth.reason);
    // The id the answer carries; the replay journal records it pending until the requests are spooled.
    const delivery = randomUUID();
    const key = auth.deliveryKey;
    if (key && !(await guard.admit(key, now(), delivery))) return refuse(409, 'delivery already received');
    // Seen from now on: called once the requests are durable (or there are none).
    const confirm = async () => {
      if (key) await Promise.resolve(guard.confirm?.(key)).catch(() => undefined);
    };

    let event: TriggerEvent;
    try {
      event = parseWebhook(forge, req.headers, JSON.parse(body.toString('utf8')));
    } catch (e) {
      if (key) await guard.forget(key);
      const reason = e instanceof PayloadError ? e.message : 'body is not JSON';
      return refuse(400, reason);
    }
    if (event.kind === 'ping') {
      await confirm();
      log({ forge, status: 200, outcome: 'accepted', event: 'ping' });
      return send(res, 200, { ok: true, pong: true });
    }
    if (event.kind === 'ignored') {
      await confirm();
      log({ forge, status: 202, outcome: 'accepted', reason: event.reason });
      return send(res, 202, { queued: [], ignored: event.reason });
    }

    try {
      await index.fresh();
      const repo = event.repo.fullName;
      const targets =
        event.kind === 'tag'
          ? index.forUpstream(forge, event.repo)
          : index.forSource(forge, event.repo, event.paths);
      const at = new Date(now()).toISOString();
      const reason =
        event.kind === 'tag'
          ? `${forge} tag ${event.tag.slice(0, 100)} on ${repo}`
          : `${forge} push to ${repo}@${event.branch.slice(0, 100)}`;
      const entries: SpoolEntry[] = [];
      const queued: { app: string; version?: string }[] = [];
      const notQueued: { app: string; note: string }[] = [];
      for (const app of targets) {
        if (event.kind === 'tag') {
          // Read with the app's policy now, to answer what it stands for (the drain reads it again).
          const v = versionOfTag(app, event.tag, !!event.prerelease);
          if ('note' in v) {
            notQueued.push({ app: app.id, note: v.note });
            continue;
          }
          queued.push({ app: app.id, version: v.version });
        } else queued.push({ app: app.id });
        entries.push({
          v: 1,
          delivery,
          at,
          app: app.id,
          ...(event.kind === 'tag' ? { tag: event.tag, prerelease: !!event.prerelease } : {}),
          reason,
          runId: opts.runId ? opts.runId() : newRunId(new Date(now())),
          ...(key ? { key: deliveryKeyHash(key) } : {}),
        });
      }
      // Durable before the answer: the catalog commit follows (spool.ts), a SIGKILL loses nothing.
      if (entries.length) await spool.append(entries);
      // A failed confirm leaves the record pending: replays are still refused while this daemon lives,
      // and the drain marks it seen (replay.ts settle).
      await confirm();
      log({
        forge,
        status: 202,
        outcome: 'accepted',
        event: event.kind,
        repo,
        delivery,
        queued: entries.length,
        ...(targets.length ? {} : { reason: 'no app for this repository' }),
      });
      send(res, 202, {
        accepted: true,
        delivery,
        queued,
        ...(notQueued.length ? { notQueued } : {}),
      });
    } catch (e) {
      // Let the forge's retry through: this delivery was not recorded.
      if (key) await guard.forget(key);
      const reason = e instanceof Error ? e.message.slice(0, 300) : 'error';
      log({ forge, status: 500, outcome: 'error', reason });
      send(res, 500, { error: 'could not record the rebuild request; retry later' });
    }
  };
}
