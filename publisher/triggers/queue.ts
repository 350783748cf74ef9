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
  const at = (opts.now ?? new Date()).toISOString();
  let result: QueueResult = { app: appId, runId, newVersion: false, queued: [], commit: null };
  const info = {
    subject: `trigger: ${appId}${(opts.version ?? opts.tag) ? ` ${opts.version ?? opts.tag}` : ''} (${opts.reason})`,
    trailers: { App: appId, Version: opts.version, Stage: 'trigger', 'Run-Id': runId },
  };
  let knownLimit: number | undefined;
  const r = await store.commit(info, async (tx) => {
    result = { app: appId, runId, newVersion: false, queued: [], commit: null };
    const app = await tx.getApp(appId);
    if (!app) throw new UnknownAppError(`no app ${appId} in the catalog`);
    const scheme = getScheme(app.upstream?.scheme ?? 'loose');
    let version = opts.version;
    if (opts.tag !== undefined) {
      const entry = app.upstream ?? { backend: 'git' as const, scheme: 'loose' as const };
      const p = applyPolicy(entry, [{ version: opts.tag, prerelease: !!opts.prerelease }], app.name);
      if (!p.latest) {
        result.note = `tag ${opts.tag.slice(0, 100)} is not a version of ${appId}: ${p.rejected[0]?.reason ?? 'rejected'}`;
        return;
      }
      version = p.latest;
    } else if (version !== undefined && !scheme.isValid(version)) {
      result.note = `${version} is not a ${scheme.name} version`;
      return;
    }
    if (version !== undefined) {
      result.version = version;
      knownLimit ??= parseWatchConfig((await store.config()).watch).knownLimit;
      if (await recordNewVersion(tx, app, version, at, runId, knownLimit, result)) return;
    }
    await markNewest(tx, app, scheme, version, at, runId, opts.reason, result);
  });
  result.commit = r.sha;
  return result;
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
