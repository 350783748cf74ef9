// One sweep: check every app's upstream (through the sources, under the shared HTTP client's limits),
// apply the version policy, and record the results — latest/known versions, lastChecked, lastError,
// validators, and pending work for new versions — as ONE catalog commit. One failing upstream is one
// app's lastError, never the end of the sweep.
import pLimit from 'p-limit';
import { newRunId } from '../../catalog/run-id.ts';
import { commitLine } from '../../catalog/text.ts';
import { CatalogFileError } from '../../catalog/format.ts';
import { CONFIG_FILE, type CatalogStore, type Tx } from '../../catalog/store.ts';
import type { App, Upstream, UpstreamState } from '../../catalog/schema.ts';
import { parseWatchConfig, type WatchConfig } from './config.ts';
import { HttpClient, HttpError, type Validators } from './http.ts';
import {
  addPendingWork,
  pendingFor,
  releaseUpdate,
  type PendingWork,
  type VersionChange,
} from './pending.ts';
import { applyPolicy, canonicalJson, policyFingerprint, type PolicyResult } from './policy.ts';
import { NotModified, type SourceContext } from './source.ts';
import { checkUpstream, upstreamIssueText } from './sources/index.ts';

export interface SweepOptions {
  /** Only these app ids (default: every app with an upstream). */
  apps?: string[];
  dryRun?: boolean;
  runId?: string;
  now?: Date;
  /** Where optional tokens come from (default process.env). */
  env?: NodeJS.ProcessEnv;
  onProgress?: (done: number, total: number, app?: string) => void;
  /** Override wharf.yml's watch section (benchmarks). */
  config?: WatchConfig;
}

export type SweepChange = VersionChange;

export interface SweepResult {
  runId: string;
  dryRun: boolean;
  checked: number;
  new: number;
  unchanged: number;
  notModified: number;
  errors: number;
  /** Apps without an upstream entry (not checked). */
  skipped: number;
  changes: SweepChange[];
  errorDetails: { app: string; message: string; count: number }[];
  pending: { app: string; tag: string; version: string }[];
  http: { requests: number; notModified: number; retries: number; bytes: number };
  /** Loading the catalog, checking upstreams, and committing, in milliseconds. */
  loadMs: number;
  checkMs: number;
  commitMs: number;
  durationMs: number;
  /** upstream.json files rewritten (apps whose state changed, failed, or were last touched long ago). */
  written: number;
  commit: string | null;
}

export class UnknownAppError extends Error {
  constructor(ids: string[]) {
    super(`no such app in the catalog: ${ids.join(', ')}`);
    this.name = 'UnknownAppError';
  }
}

export type Outcome =
  | { kind: 'ok'; policy: PolicyResult; validators: Record<string, Validators> }
  | { kind: 'notModified' }
  | { kind: 'error'; message: string };

const TOKEN_VARS = ['GITHUB_TOKEN', 'GITLAB_TOKEN', 'GITEE_TOKEN'];

/**
 * Remove any token value that might have slipped into an error message, and every control byte an
 * upstream body may have put there (the message goes into upstream.json and the sweep's commit).
 */
function scrub(msg: string, env: NodeJS.ProcessEnv): string {
  let out = commitLine(msg, 500);
  for (const k of TOKEN_VARS) {
    const v = env[k];
    if (v && v.length >= 4) out = out.split(v).join('***');
  }
  return out.replace(/(access_token|token)=[^&\s)]+/gi, '$1=***');
}

/** Check one app's upstream. Never throws: failures become an 'error' outcome. */
export async function checkApp(
  app: App,
  prev: UpstreamState | undefined,
  shared: Omit<SourceContext, 'get' | 'forget'> & { http: HttpClient },
): Promise<Outcome> {
  const entry = app.upstream as Upstream;
  const fp = policyFingerprint(entry);
  const old = prev?.policy === fp ? (prev.validators ?? {}) : {};
  const fresh: Record<string, Validators> = {};
  const ctx: SourceContext = {
    ...shared,
    async get(url, opts = {}) {
      const { conditional, ...rest } = opts;
      const res = await shared.http.get(url, { ...rest, validators: conditional ? old[url] : undefined });
      if (res.notModified) {
        if (!conditional || !old[url]) throw new HttpError(url, 'HTTP 304 to an unconditional request', 304);
        fresh[url] = { ...old[url], ...res.validators };
        throw new NotModified(url);
      }
      if (conditional && res.status === 200 && (res.validators.etag || res.validators.lastModified))
        fresh[url] = res.validators;
      return res;
    },
    forget(url) {
      delete fresh[url];
    },
  };
  // The per-app deadline: the source sees an aborted signal (long scans stop), and the check ends at
  // the deadline even if the source is still waiting on something that does not watch the signal.
  const deadline = new AbortController();
  ctx.signal = deadline.signal;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new DeadlineError(shared.cfg.appTimeoutMs);
      deadline.abort(err);
      reject(err);
    }, shared.cfg.appTimeoutMs);
  });
  expired.catch(() => {});
  try {
    // The entry as its source declares it (sources/<backend>.ts); a refused entry is this app's error.
    const checked = checkUpstream(entry);
    if (!checked.ok) return { kind: 'error', message: upstreamIssueText(checked.issues).slice(0, 500) };
    const raws = await Promise.race([checked.source.get(checked.entry, ctx), expired]);
    return { kind: 'ok', policy: applyPolicy(entry, raws, app.name), validators: fresh };
  } catch (e) {
    if (e instanceof NotModified) return { kind: 'notModified' };
    return { kind: 'error', message: scrub(e instanceof Error ? e.message : String(e), shared.env) };
  } finally {
    clearTimeout(timer);
    if (!deadline.signal.aborted) deadline.abort(new Error('check finished'));
  }
}

/** An app's check ran past watch.appTimeoutMs. */
export class DeadlineError extends Error {
  constructor(ms: number) {
    super(`deadline exceeded: the check took longer than ${ms} ms (watch.appTimeoutMs)`);
    this.name = 'DeadlineError';
  }
}

/** The next upstream.json for an app, the changes it means and the pending work (pending.ts). Pure. */
export function nextState(
  app: App,
  prev: UpstreamState | undefined,
  outcome: Outcome,
  at: string,
  cfg: WatchConfig,
  runId = '',
): { state: UpstreamState; changes: SweepChange[]; work: PendingWork[] } {
  const base: UpstreamState = { known: [], ...prev, lastChecked: at };
  if (outcome.kind === 'error') {
    const count = (prev?.lastError?.count ?? 0) + 1;
    const state = { ...base, lastError: { message: outcome.message, at, count } };
    return { state, changes: [], work: pendingFor(app, state, at, runId) };
  }
  delete base.lastError;
  if (outcome.kind === 'notModified')
    return { state: base, changes: [], work: pendingFor(app, base, at, runId) };
  // The whole listing, through the one "versions seen → records" path that triggers use too.
  const u = releaseUpdate(app, base, outcome.policy, at, runId, cfg.knownLimit);
  const state: UpstreamState = { ...u.state, policy: policyFingerprint(app.upstream as Upstream) };
  if (Object.keys(outcome.validators).length) state.validators = outcome.validators;
  else delete state.validators;
  return { state, changes: u.changes, work: u.work };
}

export async function runSweep(store: CatalogStore, opts: SweepOptions = {}): Promise<SweepResult> {
  const t0 = performance.now();
  const runId = opts.runId ?? newRunId();
  const at = (opts.now ?? new Date()).toISOString();
  const env = opts.env ?? process.env;
  const snap = await store.load();
  // A wharf.yml that does not validate loads as the defaults: never sweep (real upstreams!) on those.
  const cfgProblems = snap.problems.filter((p) => p.file === CONFIG_FILE);
  if (cfgProblems.length && !opts.config) throw new CatalogFileError(cfgProblems);
  const cfg = opts.config ?? parseWatchConfig(snap.config.watch);

  let ids = [...snap.apps.keys()];
  if (opts.apps?.length) {
    const missing = opts.apps.filter((id) => !snap.apps.has(id));
    if (missing.length) throw new UnknownAppError(missing);
    ids = [...new Set(opts.apps)].sort();
  }
  const watched = ids.filter((id) => snap.apps.get(id)!.app.upstream);
  const tLoaded = performance.now();
  const skipped = ids.length - watched.length;

  const http = new HttpClient(cfg);
  const memo = new Map<string, Promise<unknown>>();
  const spawn = pLimit(4);
  const shared = {
    cfg,
    env,
    http,
    memo<T>(key: string, fn: () => Promise<T>): Promise<T> {
      let p = memo.get(key) as Promise<T> | undefined;
      if (!p) {
        p = fn();
        memo.set(key, p);
        p.catch(() => memo.delete(key));
      }
      return p;
    },
    spawnSlot: <T>(fn: () => Promise<T>) => spawn(fn),
  };
  let done = 0;
  opts.onProgress?.(0, watched.length);
  const outcomes = new Map<string, Outcome>();
  // A window of apps in flight (far more than the HTTP client's concurrency, so a slow host does not
  // starve the others) instead of all of them at once: 10,000 pending checks cost ~100 MB.
  const window = pLimit(Math.max(512, cfg.concurrency * 8));
  try {
    await Promise.all(
      watched.map((id) =>
        window(async () => {
          const e = snap.apps.get(id)!;
          outcomes.set(id, await checkApp(e.app, e.upstream, shared));
          opts.onProgress?.(++done, watched.length, id);
        }),
      ),
    );
  } finally {
    await http.close();
  }
  const tChecked = performance.now();

  // Report from the snapshot; the commit below recomputes the same from what the transaction reads.
  const result: SweepResult = {
    runId,
    dryRun: !!opts.dryRun,
    checked: watched.length,
    new: 0,
    unchanged: 0,
    notModified: 0,
    errors: 0,
    skipped,
    changes: [],
    errorDetails: [],
    pending: [],
    http: { ...http.stats },
    loadMs: Math.round(tLoaded - t0),
    checkMs: Math.round(tChecked - tLoaded),
    commitMs: 0,
    durationMs: 0,
    written: 0,
    commit: null,
  };
  for (const id of watched) {
    const e = snap.apps.get(id)!;
    const o = outcomes.get(id)!;
    const { state, changes, work } = nextState(e.app, e.upstream, o, at, cfg, runId);
    if (worthWriting(e.upstream, state, cfg, at)) result.written++;
    if (o.kind === 'error') {
      result.errors++;
      result.errorDetails.push({ app: id, message: o.message, count: state.lastError!.count });
    } else if (o.kind === 'notModified') result.notModified++;
    else if (changes.length) result.new++;
    else result.unchanged++;
    result.changes.push(...changes);
    for (const w of work)
      for (const a of w.artifacts) result.pending.push({ app: id, tag: a.id, version: a.version });
  }

  if (!opts.dryRun && watched.length) {
    const r = await store.commit(
      commitInfo(result, runId),
      async (tx) => {
        await record(tx, watched, outcomes, at, runId, cfg);
        // The sweep itself, so that every sweep leaves one commit even when no app state needed rewriting.
        tx.putText(SWEEP_FILE, sweepSummary(result, at));
      },
      { snapshot: snap },
    );
    result.commit = r.sha;
  }
  result.commitMs = Math.round(performance.now() - tChecked);
  result.durationMs = Math.round(performance.now() - t0);
  return result;
}

async function record(
  tx: Tx,
  ids: string[],
  outcomes: Map<string, Outcome>,
  at: string,
  runId: string,
  cfg: WatchConfig,
): Promise<void> {
  const limit = pLimit(32);
  await Promise.all(
    ids.map((id) =>
      limit(async () => {
        const app = await tx.getApp(id);
        if (!app?.upstream) return;
        const prev = await tx.getUpstream(id);
        const { state, work } = nextState(app, prev, outcomes.get(id)!, at, cfg, runId);
        if (worthWriting(prev, state, cfg, at)) tx.putUpstream(id, state);
        await addPendingWork(tx, app, work);
      }),
    ),
  );
}

export const SWEEP_FILE = 'watch/last-sweep.json';

function sweepSummary(r: SweepResult, at: string): string {
  const { runId, checked, notModified, unchanged, errors } = r;
  const o = { at, changes: r.changes.length, checked, errors, new: r.new, notModified, runId, unchanged };
  return JSON.stringify(o, null, 2) + '\n';
}

/** Write upstream.json when anything but lastChecked changed, or lastChecked is older than touchAfterHours. */
export function worthWriting(
  prev: UpstreamState | undefined,
  next: UpstreamState,
  cfg: WatchConfig,
  at: string,
): boolean {
  if (!prev?.lastChecked) return true;
  const { lastChecked: _a, ...p } = prev;
  const { lastChecked: _b, ...n } = next;
  if (canonicalJson(p) !== canonicalJson(n)) return true;
  const age = Date.parse(at) - Date.parse(prev.lastChecked);
  return age >= cfg.touchAfterHours * 3_600_000;
}

function commitInfo(r: SweepResult, runId: string) {
  const n = r.changes.length;
  const list = r.changes.map((c) => `${c.app} ${c.to}`);
  const shown = list.slice(0, 5).join(', ') + (list.length > 5 ? ', …' : '');
  const subject = n
    ? `watch: ${n} new version${n === 1 ? '' : 's'} (${shown})`
    : `watch: ${r.checked} apps checked, no new versions`;
  // Body lines avoid "Key: value" so they can never be read as trailers.
  const lines = [
    ...r.changes.map((c) => `- ${c.app} ${c.from ?? '(none)'} → ${c.to}${c.line ? ` (line ${c.line})` : ''}`),
    ...r.errorDetails.map((e) => `- failed ${e.app} (${e.count}x) — ${e.message.replace(/:/g, ' -')}`),
  ];
  const body =
    lines.slice(0, 200).join('\n') + (lines.length > 200 ? `\n… and ${lines.length - 200} more` : '');
  const one = n === 1 ? r.changes[0] : undefined;
  return {
    subject,
    body: body || undefined,
    trailers: { App: one?.app, Version: one?.to, Stage: 'watch', 'Run-Id': runId },
  };
}
