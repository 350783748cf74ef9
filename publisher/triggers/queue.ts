// Queue a rebuild: one catalog commit that marks an app's newest artifacts `pending` (the pipeline picks
// them up), or — for a version newer than any known — records it in upstream.json and adds the derived
// recipes and pending artifacts through the watcher's own function (publisher/watch/pending.ts
// `releaseUpdate`), so a webhook and a sweep that see the same release write the same records. Why it
// was queued (forge, tag, repository) is in the commit; the records say what was found.
import { newRunId } from '../../catalog/run-id.ts';
import { assertAppId, assertVersion } from '../../catalog/names.ts';
import { artifactIdOf, IMAGE_KINDS, type App, type Artifact, type Recipe } from '../../catalog/schema.ts';
import type { CatalogStore, Tx } from '../../catalog/store.ts';
import { parseWatchConfig } from '../watch/config.ts';
import { addPendingWork, releaseUpdate, seenWithRelease } from '../watch/pending.ts';
import { applyPolicy } from '../watch/policy.ts';
import { getScheme, type VersionScheme } from '../watch/versions/index.ts';

export interface QueueOptions {
  /** A version as Wharf spells it (wharf trigger --version). */
  version?: string;
  /** A raw upstream tag (webhooks): the app's version policy turns it into a version or rejects it. */
  tag?: string;
  prerelease?: boolean;
  /** Why: shown in the pending record, the commit and the rebuild.queued event. */
  reason: string;
  runId?: string;
  now?: Date;
}

export interface QueueResult {
  app: string;
  runId: string;
  version?: string;
  /** True when the version was new and got recorded (with derived recipes). */
  newVersion: boolean;
  queued: { kind: string; artifact: string; version: string }[];
  commit: string | null;
  /** Why nothing was queued, when nothing was. */
  note?: string;
}

export class UnknownAppError extends Error {
  override name = 'UnknownAppError';
}

export async function queueRebuild(
  store: CatalogStore,
  appId: string,
  opts: QueueOptions,
): Promise<QueueResult> {
  assertAppId(appId);
  if (opts.version !== undefined) assertVersion(opts.version);
  const runId = opts.runId ?? newRunId();
  let result: QueueResult = { app: appId, runId, newVersion: false, queued: [], commit: null };
  const info = {
    subject: triggerSubject(appId, opts),
    trailers: { App: appId, Version: opts.version, Stage: 'trigger', 'Run-Id': runId },
  };
  const ctx = new QueueContext(store);
  const r = await store.commit(info, async (tx) => {
    result = await queueInTx(tx, appId, { ...opts, runId }, ctx);
  });
  result.commit = r.sha;
  return result;
}

/** The subject of a one-request trigger commit: `trigger: <app> [<version or tag>] (<reason>)`. */
export function triggerSubject(
  appId: string,
  opts: Pick<QueueOptions, 'version' | 'tag' | 'reason'>,
): string {
  const v = opts.version ?? opts.tag;
  return `trigger: ${appId}${v ? ` ${v}` : ''} (${opts.reason})`;
}

/** What every request of one transaction shares (read once). */
class QueueContext {
  private knownLimit: number | undefined;
  private readonly store: CatalogStore;
  constructor(store: CatalogStore) {
    this.store = store;
  }
  async limit(): Promise<number> {
    this.knownLimit ??= parseWatchConfig((await this.store.config()).watch).knownLimit;
    return this.knownLimit;
  }
}

/**
 * The version a raw upstream tag stands for under the app's version policy, or why it stands for none.
 * The hook handler asks this of its in-memory app to answer at once; the queue asks it again of the
 * app as it is at commit time.
 */
export function versionOfTag(
  app: App,
  tag: string,
  prerelease: boolean,
): { version: string } | { note: string } {
  const entry = app.upstream ?? { backend: 'git' as const, scheme: 'loose' as const };
  const p = applyPolicy(entry, [{ version: tag, prerelease }], app.name);
  if (p.latest) return { version: p.latest };
  return {
    note: `tag ${tag.slice(0, 100)} is not a version of ${app.id}: ${p.rejected[0]?.reason ?? 'rejected'}`,
  };
}

/** One request inside a transaction (reads see the writes of the requests before it). */
async function queueInTx(
  tx: Tx,
  appId: string,
  opts: QueueOptions & { runId: string },
  ctx: QueueContext,
): Promise<QueueResult> {
  const runId = opts.runId;
  const at = (opts.now ?? new Date()).toISOString();
  const result: QueueResult = { app: appId, runId, newVersion: false, queued: [], commit: null };
  const app = await tx.getApp(appId);
  if (!app) throw new UnknownAppError(`no app ${appId} in the catalog`);
  const scheme = getScheme(app.upstream?.scheme ?? 'loose');
  let version = opts.version;
  if (opts.tag !== undefined) {
    const v = versionOfTag(app, opts.tag, !!opts.prerelease);
    if ('note' in v) {
      result.note = v.note;
      return result;
    }
    version = v.version;
  } else if (version !== undefined && !scheme.isValid(version)) {
    result.note = `${version} is not a ${scheme.name} version`;
    return result;
  }
  if (version !== undefined) {
    result.version = version;
    if (await recordNewVersion(tx, app, version, at, runId, await ctx.limit(), result)) return result;
  }
  await markNewest(tx, app, scheme, version, at, runId, opts.reason, result);
  return result;
}

/** One request of a batch (a spooled webhook delivery, publisher/triggers/spool.ts). */
export interface BatchRequest extends QueueOptions {
  app: string;
  runId: string;
  now: Date;
}

export interface BatchResult {
  /** The one commit of the batch (null when nothing changed). */
  commit: string | null;
  /** One per request kept after de-duplication, in order. */
  results: QueueResult[];
  /** Requests dropped as duplicates of an earlier one for the same app and tag/version. */
  duplicates: number;
  /** Requests whose work could not be done (their writes were dropped; the others are committed). */
  failed: { app: string; error: string }[];
}

/** The key requests are de-duplicated on: app and tag (or version; none for "the newest"). */
export const requestKey = (r: Pick<BatchRequest, 'app' | 'tag' | 'version'>): string =>
  `${r.app}:${r.tag !== undefined ? `tag:${r.tag}` : r.version !== undefined ? `v:${r.version}` : 'newest'}`;

/**
 * Several rebuild requests as one catalog commit: the first request for an app and tag/version is kept
 * (its reason, run id and time become the pending record's, as if it alone had been queued), later
 * ones are dropped, and each kept one runs exactly as `queueRebuild` would, in order, on the records
 * the ones before it wrote. A request for an app no longer in the catalog gets a note; one that throws
 * (e.g. a file that no longer validates) has its writes dropped and is reported in `failed`, so it never
 * loses the batch. One request: the commit is the one `queueRebuild` makes (subject and trailers);
 * several: `trigger: N rebuild requests (…)`, a body line per request, trailer `Stage: trigger`, `App`
 * and `Version` only when they are the same for all, and `extraTrailers` (the spool's batch id).
 */
export async function queueBatch(
  store: CatalogStore,
  requests: BatchRequest[],
  opts: { runId?: string; extraTrailers?: Record<string, string> } = {},
): Promise<BatchResult> {
  const seen = new Set<string>();
  const kept: BatchRequest[] = [];
  for (const r of requests) {
    assertAppId(r.app);
    if (r.version !== undefined) assertVersion(r.version);
    const k = requestKey(r);
    if (seen.has(k)) continue;
    seen.add(k);
    kept.push(r);
  }
  const out: BatchResult = {
    commit: null,
    results: [],
    duplicates: requests.length - kept.length,
    failed: [],
  };
  if (!kept.length) return out;
  const one = kept.length === 1 ? kept[0]! : undefined;
  const apps = new Set(kept.map((r) => r.app));
  const versions = new Set(kept.map((r) => r.version));
  const shown = kept
    .slice(0, 5)
    .map((r) => `${r.app}${(r.version ?? r.tag) ? ` ${r.version ?? r.tag}` : ''}`);
  const lines = kept.map(
    (r) => `- ${r.app}${(r.version ?? r.tag) ? ` ${r.version ?? r.tag}` : ''} (${r.reason}) run ${r.runId}`,
  );
  const info = one
    ? {
        subject: triggerSubject(one.app, one),
        trailers: {
          App: one.app,
          Version: one.version,
          Stage: 'trigger',
          'Run-Id': one.runId,
          ...opts.extraTrailers,
        },
      }
    : {
        subject: `trigger: ${kept.length} rebuild requests (${shown.join(', ')}${kept.length > 5 ? ', …' : ''})`,
        body:
          lines.slice(0, 500).join('\n') + (lines.length > 500 ? `\n… and ${lines.length - 500} more` : ''),
        trailers: {
          App: apps.size === 1 ? kept[0]!.app : undefined,
          Version: apps.size === 1 && versions.size === 1 ? kept[0]!.version : undefined,
          Stage: 'trigger',
          'Run-Id': opts.runId ?? newRunId(),
          ...opts.extraTrailers,
        },
      };
  const ctx = new QueueContext(store);
  const r = await store.commit(info, async (tx) => {
    out.results = [];
    out.failed = [];
    for (const req of kept) {
      const writes = tx.pending();
      const before = new Map(writes);
      try {
        out.results.push(await queueInTx(tx, req.app, req, ctx));
      } catch (e) {
        // Undo this request's writes only: the others' are still committed.
        writes.clear();
        for (const [k, v] of before) writes.set(k, v);
        if (e instanceof UnknownAppError)
          out.results.push({
            app: req.app,
            runId: req.runId,
            newVersion: false,
            queued: [],
            commit: null,
            note: e.message,
          });
        else out.failed.push({ app: req.app, error: e instanceof Error ? e.message.slice(0, 300) : 'error' });
      }
    }
  });
  out.commit = r.sha;
  for (const res of out.results) res.commit = res.queued.length || res.newVersion ? r.sha : null;
  return out;
}

/**
 * Record a version newer than any known, through the watcher's own path (publisher/watch/pending.ts:
 * the release merged into what was known, then `releaseUpdate` and `addPendingWork`), so the records are
 * those a sweep seeing the same release writes. False when it is not new.
 */
async function recordNewVersion(
  tx: Tx,
  app: App,
  version: string,
  at: string,
  runId: string,
  knownLimit: number,
  result: QueueResult,
): Promise<boolean> {
  const entry = app.upstream ?? { backend: 'git', scheme: 'loose' };
  const prev = await tx.getUpstream(app.id);
  const seen = seenWithRelease(entry, prev, version, knownLimit);
  const u = releaseUpdate({ ...app, upstream: entry }, prev, seen, at, runId, knownLimit);
  if (!u.changes.length) return false;
  tx.putUpstream(app.id, u.state);
  result.newVersion = true;
  for (const a of await addPendingWork(tx, app, u.work))
    result.queued.push({ kind: 'container', artifact: a.id, version: a.version });
  return true;
}

/** Mark the artifacts of the newest recipes (of `version`, when given) pending. */
async function markNewest(
  tx: Tx,
  app: App,
  scheme: VersionScheme,
  version: string | undefined,
  at: string,
  runId: string,
  reason: string,
  result: QueueResult,
): Promise<void> {
  const cmp = (a: string, b: string) =>
    scheme.isValid(a) && scheme.isValid(b) ? scheme.compare(a, b) : a < b ? -1 : a > b ? 1 : 0;
  for (const kind of IMAGE_KINDS) {
    const recipes = (app.recipes[kind] as Recipe[]).filter((r) => !r.problem);
    if (!recipes.length) continue;
    const target = version ?? recipes.map((r) => r.version).reduce((a, b) => (cmp(b, a) > 0 ? b : a));
    for (const rec of recipes.filter((r) => cmp(r.version, target) === 0)) {
      const id = artifactIdOf(rec);
      const existing = await tx.getArtifact(app.id, kind, id);
      if (existing?.pending) continue; // already queued: nothing to add
      const base: Artifact = existing ?? {
        app: app.id,
        kind,
        id,
        version: rec.version,
        osVersion: rec.osVersion,
        arches: rec.arches,
        records: {},
      };
      tx.putArtifact({ ...base, pending: { reason, since: at, runId } });
      result.queued.push({ kind, artifact: id, version: rec.version });
    }
  }
  if (!result.queued.length && !result.note) {
    result.note = version
      ? `no recipe of ${app.id} at version ${version} (and it is not newer than the known ones)`
      : `nothing to queue: ${app.id} has no recipes, or its newest artifacts are already pending`;
  }
}
