// The webhook endpoint: POST /hooks/github|gitee|gitlab. Order of checks: method (405), forge enabled
// (404), size (413, before reading when Content-Length says so), authenticity (401), replay (409),
// payload (400), then the rebuild is queued (202). A repository no app maps to is answered 202 with an
// empty `queued` list: the forge sees success (no retries), and the answer reveals nothing about the
// catalog. Every request is logged as one line of facts — never a header value, token or secret.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CatalogStore } from '../../catalog/store.ts';
import type { TriggersConfig } from './config.ts';
import { appsForSource, appsForUpstream } from './match.ts';
import { PayloadError, parseWebhook, type TriggerEvent } from './payload.ts';
import { queueRebuild, type QueueResult } from './queue.ts';
import type { DeliveryGuard } from './replay.ts';
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
}

export type HookHandler = (req: IncomingMessage, res: ServerResponse, forge: string) => Promise<void>;

class TooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.pause();
        reject(new TooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

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

  return async (req, res, forgeName) => {
    const refuse = (status: number, reason: string, extra: Partial<HookLogLine> = {}, close = false) => {
      log({ forge: forgeName, status, outcome: 'refused', reason, ...extra });
      send(res, status, { error: reason }, close);
    };
    if (!(FORGES as readonly string[]).includes(forgeName)) return refuse(404, 'unknown hook');
    const forge = forgeName as Forge;
    if (req.method !== 'POST') return refuse(405, 'use POST');
    const fc = opts.config[forge];
    const secret = fc ? env[fc.secretEnv] : undefined;
    if (!fc || !secret) return refuse(404, `${forge} hook is not enabled`);

    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.config.maxBodyBytes) {
      req.resume();
      return refuse(413, `body larger than ${opts.config.maxBodyBytes} bytes`, {}, true);
    }
    let body: Buffer;
    try {
      body = await readBody(req, opts.config.maxBodyBytes);
    } catch (e) {
      if (e instanceof TooLarge)
        return refuse(413, `body larger than ${opts.config.maxBodyBytes} bytes`, {}, true);
      return refuse(400, 'could not read the body');
    }

    let auth: AuthResult;
    if (forge === 'github') auth = verifyGithub(req.headers, body, secret);
    else if (forge === 'gitlab') auth = verifyGitlab(req.headers, secret);
    else {
      const g = opts.config.gitee!;
      auth = verifyGitee(req.headers, secret, {
        mode: g.mode,
        toleranceSeconds: g.toleranceSeconds,
        now: now(),
      });
    }
    if (!auth.ok) return refuse(auth.status, auth.reason);
    if (auth.deliveryKey && !(await guard.admit(auth.deliveryKey, now())))
      return refuse(409, 'delivery already received');

    let event: TriggerEvent;
    try {
      event = parseWebhook(forge, req.headers, JSON.parse(body.toString('utf8')));
    } catch (e) {
      if (auth.deliveryKey) await guard.forget(auth.deliveryKey);
      const reason = e instanceof PayloadError ? e.message : 'body is not JSON';
      return refuse(400, reason);
    }
    if (event.kind === 'ping') {
      log({ forge, status: 200, outcome: 'accepted', event: 'ping' });
      return send(res, 200, { ok: true, pong: true });
    }
    if (event.kind === 'ignored') {
      log({ forge, status: 202, outcome: 'accepted', reason: event.reason });
      return send(res, 202, { queued: [], ignored: event.reason });
    }

    try {
      const snap = await opts.store.load();
      const apps = [...snap.apps.values()].map((e) => e.app);
      const repo = event.repo.fullName;
      const targets =
        event.kind === 'tag'
          ? appsForUpstream(apps, forge, event.repo)
          : appsForSource(apps, forge, event.repo, event.paths);
      const results: QueueResult[] = [];
      for (const app of targets) {
        results.push(
          await queueRebuild(opts.store, app.id, {
            now: new Date(now()),
            ...(opts.runId ? { runId: opts.runId() } : {}),
            ...(event.kind === 'tag'
              ? {
                  tag: event.tag,
                  prerelease: !!event.prerelease,
                  reason: `${forge} tag ${event.tag.slice(0, 100)} on ${repo}`,
                }
              : { reason: `${forge} push to ${repo}@${event.branch.slice(0, 100)}` }),
          }),
        );
      }
      const queued = results.reduce((n, r) => n + r.queued.length, 0);
      log({
        forge,
        status: 202,
        outcome: 'accepted',
        event: event.kind,
        repo,
        queued,
        ...(targets.length ? {} : { reason: 'no app for this repository' }),
      });
      send(res, 202, {
        queued: results.map((r) => ({
          app: r.app,
          ...(r.version ? { version: r.version } : {}),
          newVersion: r.newVersion,
          artifacts: r.queued.map((q) => `${q.kind}/${q.artifact}`),
          commit: r.commit,
          ...(r.note ? { note: r.note } : {}),
        })),
      });
    } catch (e) {
      // Let the forge's retry through: this delivery was not processed.
      if (auth.deliveryKey) await guard.forget(auth.deliveryKey);
      const reason = e instanceof Error ? e.message.slice(0, 300) : 'error';
      log({ forge, status: 500, outcome: 'error', reason });
      send(res, 500, { error: 'could not queue the rebuild; retry later' });
    }
  };
}
