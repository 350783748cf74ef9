// What each daemon job does: calls the library function of its subsystem. Subsystems are imported lazily,
// inside the job, so a daemon still runs (and says so on /healthz) when one of them fails to load.
import { resolve } from 'node:path';
import { gitOk } from '../../catalog/git.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import type { StageContext, StageTarget } from '../stage.ts';
import type { DaemonConfig, JobName } from './config.ts';
import type { DaemonMetrics } from './metrics.ts';

export interface JobLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface JobContext {
  store: CatalogStore;
  cfg: DaemonConfig;
  signal: AbortSignal;
  log: JobLogger;
  metrics: DaemonMetrics;
  /** The catalog HEAD the site was last built from (kept by the daemon across runs). */
  siteHead: { value: string | null | undefined };
}

/** A job's summary, logged as fields of its "finished" line. */
export type JobSummary = Record<string, unknown>;
export type JobRun = (ctx: JobContext) => Promise<JobSummary>;

export const SUBSYSTEM: Record<JobName, string> = {
  watch: 'publisher/watch',
  bases: 'publisher/watch',
  pipeline: 'publisher/pipeline',
  rescan: 'publisher/scan',
  site: 'site',
  events: 'publisher/events',
};

/** Import what a job needs; throws when the subsystem cannot be loaded. */
export async function loadJob(name: JobName): Promise<JobRun> {
  switch (name) {
    case 'watch': {
      const { runSweep } = await import('../watch/sweep.ts');
      return async ({ store }) => {
        const r = await runSweep(store);
        return {
          checked: r.checked,
          new: r.new,
          errors: r.errors,
          pending: r.pending.length,
          commit: r.commit,
        };
      };
    }
    case 'bases': {
      const { checkBases } = await import('../watch/bases.ts');
      return async ({ store, log }) => {
        const r = await checkBases(store);
        for (const p of r.problems) log.warn(`${p.app}/${p.artifact}: base ${p.base}: ${p.message}`);
        return {
          checked: r.checked,
          bases: r.bases,
          pending: r.pending.length,
          problems: r.problems.length,
          commit: r.commit,
        };
      };
    }
    case 'pipeline': {
      const { runPipeline, selectTargets } = await import('../pipeline/index.ts');
      const { connectEngine, pingEngine } = await import('../engine/index.ts');
      return async (ctx) => {
        const snap = await ctx.store.load();
        const targets = selectTargets(snap).targets.filter((t) => t.artifact?.pending);
        if (!targets.length) return { pending: 0 };
        const noEngine = await pingEngine(connectEngine(ctx.cfg.engine)).then(
          () => undefined,
          (e: Error) => `no container engine: ${e.message}`,
        );
        // Without an engine every build would only record the same failure: those wait for one. An
        // artifact whose only pending work is a cloud import needs none: its import stage runs alone.
        const run = noEngine ? targets.filter(needsOnlyImport) : targets;
        const counts = noEngine
          ? { importOnly: run.length, needEngine: targets.length - run.length, noEngine }
          : {};
        if (!run.length) return { pending: targets.length, ...counts };
        const sctx = await stageContext(ctx, snap.config);
        const r = await runPipeline(sctx, run, {
          concurrency: ctx.cfg.concurrency,
          build: { timeoutMs: ctx.cfg.buildTimeoutMinutes * 60_000 },
          ...(noEngine ? { only: ['import'] as const } : {}),
        });
        return { pending: targets.length, ...counts, runId: r.runId, ...r.counts };
      };
    }
    case 'rescan': {
      const { rescanPublished } = await import('../pipeline/rescan.ts');
      return async (ctx) => {
        const snap = await ctx.store.load();
        // The daily rescan matches the newest advisory feed: sync it first (a no-op without an index).
        const r = await rescanPublished(await stageContext(ctx, snap.config), { syncAdvisories: true });
        return { rescanned: r.outcomes.length, skipped: r.skipped.length };
      };
    }
    case 'site': {
      const { buildSite } = await import('../../site/node/build.ts');
      return async (ctx) => {
        const head = await ctx.store.head();
        const last = ctx.siteHead.value;
        if (last !== undefined && last === head) return { skipped: 'catalog unchanged' };
        // Commits that touch neither apps/ nor wharf.yml (e.g. a sweep's own bookkeeping) change no page.
        if (
          last &&
          head &&
          (await gitOk(ctx.store.dir, ['diff', '--quiet', last, head, '--', 'apps', 'wharf.yml']))
        )
          return { head: last, skipped: 'no app or configuration change' };
        const r = await buildSite({
          catalog: ctx.store.dir,
          ...(ctx.cfg.siteOut ? { out: resolve(ctx.cfg.siteOut) } : {}),
          logLevel: 'silent',
        });
        ctx.siteHead.value = r.catalogHead;
        return {
          head: r.catalogHead,
          skipped: r.skipped,
          pages: r.pages,
          ...(r.renderedApps ? { renderedApps: r.renderedApps.length } : {}),
          ms: Math.round(r.timings.totalMs),
        };
      };
    }
    case 'events': {
      const ev = await import('../events/index.ts');
      const outboxes = new Map<string, InstanceType<typeof ev.Outbox>>();
      return async (ctx) => {
        let outbox = outboxes.get(ctx.store.dir);
        if (!outbox) outboxes.set(ctx.store.dir, (outbox = new ev.Outbox(ctx.store.dir)));
        const setup = ev.eventsSetup(await ctx.store.config(), (m) => ctx.log.warn(m));
        const sync = await ev.syncOutbox(ctx.store, outbox, setup);
        const r = await ev.deliverPending(outbox, setup.cfg, {
          signal: ctx.signal,
          log: (m) => ctx.log.warn(m),
        });
        ctx.metrics.eventsDelivered.inc(r.delivered);
        ctx.metrics.eventsFailed.inc(r.failed);
        const c = outbox.counts();
        ctx.metrics.eventsPending.set(c.pending);
        ctx.metrics.eventsDead.set(c.dead);
        if ((await outbox.size()) > 8 * 1024 * 1024) await outbox.locked(() => outbox.compact());
        return {
          commits: sync.commits,
          events: sync.events,
          delivered: r.delivered,
          failed: r.failed,
          dead: r.dead,
          pending: c.pending,
        };
      };
    }
  }
}

/**
 * The artifact's only pending work is the import stage's own: a published cloud image (publish ok or
 * unchanged) marked pending by that stage (`import running`, `import partial`, `import failed`,
 * `import not started: …` — publisher/cloud/providers/stage.ts). The import stage alone starts the
 * imports not started, polls the running tasks its record names, retries the failed ones, and needs no
 * container engine.
 */
export function needsOnlyImport(t: StageTarget): boolean {
  const a = t.artifact;
  const pub = a?.records.publish?.status;
  return (
    t.kind === 'cloud' && (pub === 'ok' || pub === 'unchanged') && !!a?.pending?.reason.startsWith('import ')
  );
}

/** The stage context the pipeline and rescans run with — from the composition root, as the CLI opens it. */
async function stageContext(ctx: JobContext, config: StageContext['config']): Promise<StageContext> {
  const { openStageContext } = await import('../context.ts');
  return openStageContext(ctx.store, {
    config,
    ...(ctx.cfg.workDir ? { workDir: ctx.cfg.workDir } : {}),
    ...(ctx.cfg.engine ? { engine: ctx.cfg.engine } : {}),
    signal: ctx.signal,
    log: { info: (m) => ctx.log.info(m), warn: (m) => ctx.log.warn(m) },
  });
}
