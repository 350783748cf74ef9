// `wharf cloud import <app>:<id> [--target <name>] [--wait] [--json]`: run the import stage of one cloud
// image (publisher/cloud/providers) for all of wharf.yml's `clouds:` targets or only the named ones,
// through the runner, so every run's record is committed. With --wait it polls until every selected
// import is completed or failed; each poll is its own run and commit, so a CLI that is killed resumes
// from the committed task ids when it is run again (never a second import of the same object).
import { setTimeout as sleep } from 'node:timers/promises';
import type { CloudTarget } from '../../catalog/config.ts';
import { newRunId } from '../../catalog/run-id.ts';
import { artifactIdOf, IMAGE_KINDS, type ImportRecord, type ImportTarget } from '../../catalog/schema.ts';
import { makeCloudImportStage } from '../../publisher/cloud/providers/stage.ts';
import { runStageFor } from '../../publisher/pipeline/runner.ts';
import { loadTarget, parseSelection } from '../../publisher/select.ts';
import type { StageContext } from '../../publisher/stage.ts';
import { CommandFailed, EXIT_FAIL, UsageError, openCatalog, printJson, progress } from './common.ts';
import { cliStageContext } from './stages.ts';

export interface CloudImportCliOptions {
  catalog?: string;
  target?: string;
  wait?: boolean;
  pollInterval: string;
  timeout: string;
  json?: boolean;
  verbose?: boolean;
}

/** What `--json` prints (and what a failure carries): the selected targets' entries of records.import. */
export interface CloudImportReport {
  artifact: string;
  /** records.import.status after the last run (over every target of the record). */
  status: ImportRecord['status'] | 'none';
  /** One run (and at most one commit) per poll. */
  runs: { runId: string; status: string; commit: string | null }[];
  timedOut?: true;
  targets: ImportTarget[];
}

const TERMINAL = new Set<ImportTarget['state']>(['completed', 'failed']);

function seconds(flag: string, v: string): number {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(v) || Number(v) <= 0)
    throw new UsageError(`${flag} must be a positive number of seconds, got ${v}`);
  return Number(v);
}

/** The `clouds:` targets a run imports into: every one, or the names --target gives (each must exist). */
export function selectClouds(clouds: readonly CloudTarget[], target: string | undefined): string[] {
  if (!clouds.length) throw new UsageError('wharf.yml has no clouds: targets to import into');
  const all = clouds.map((t) => t.name);
  if (target === undefined) return all;
  const names = [
    ...new Set(
      target
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  if (!names.length) throw new UsageError('--target needs a clouds: target name');
  for (const n of names)
    if (!all.includes(n))
      throw new UsageError(`unknown cloud target ${n} (wharf.yml clouds: ${all.join(', ')})`);
  return names;
}

const entryLine = (e: ImportTarget) =>
  `${e.target} (${e.provider} ${e.region}${e.arch ? ` ${e.arch}` : ''}): ${e.state}` +
  `${e.progress && e.state === 'running' ? ` ${e.progress}` : ''}${e.imageId ? ` ${e.imageId}` : ''}` +
  `${e.error ? `: ${e.error}` : ''}`;

export async function cloudImportCommand(ref: string, o: CloudImportCliOptions): Promise<void> {
  const interval = seconds('--poll-interval', o.pollInterval);
  const timeout = seconds('--timeout', o.timeout);
  if (!ref.includes(':')) throw new UsageError(`expected <app>:<id> of a cloud image, got ${ref}`);
  const sel = parseSelection([ref])[0]!;
  const id = sel.tag!;
  const store = await openCatalog(o);
  const snap = await store.load();
  const entry = snap.apps.get(sel.app);
  if (!entry) throw new UsageError(`no app ${sel.app} in the catalog`);
  if (!entry.app.recipes.cloud.some((r) => artifactIdOf(r) === id)) {
    const other = IMAGE_KINDS.find((k) => entry.app.recipes[k].some((r) => artifactIdOf(r) === id));
    throw new UsageError(
      other
        ? `${sel.app}:${id} is a ${other} artifact, not a cloud image`
        : `app ${sel.app} has no cloud image ${id}`,
    );
  }
  const names = selectClouds(snap.config.clouds ?? [], o.target);
  const stage = makeCloudImportStage(o.target === undefined ? {} : { targets: names });
  // The stage's own per-target lines only with --verbose: the command prints what changed.
  const say = (s: string) => {
    if (!o.json) process.stderr.write(`${s}\n`);
  };
  const base: StageContext = await cliStageContext(store, o, {
    config: snap.config,
    engine: null,
    log: { info: o.verbose ? say : () => {}, warn: (s) => say(`warning: ${s}`) },
  });
  const label = `${sel.app}:${id}`;
  const report: CloudImportReport = { artifact: label, status: 'none', runs: [], targets: [] };
  const bar = progress(!o.json && !!o.wait);
  const tty = !o.json && !!o.wait && process.stderr.isTTY;
  const shown = new Map<string, string>();
  const deadline = Date.now() + timeout * 1000;
  if (o.wait) bar.start(names.length, label);
  try {
    for (;;) {
      const ctx = { ...base, runId: report.runs.length ? newRunId() : base.runId };
      const { outcome } = await runStageFor(
        ctx,
        'import',
        stage,
        await loadTarget(store, sel.app, id, 'cloud'),
      );
      report.runs.push({ runId: ctx.runId, status: outcome.status, commit: outcome.commit });
      const rec = (await loadTarget(store, sel.app, id, 'cloud')).artifact?.records.import;
      report.status = rec?.status ?? 'none';
      report.targets = (rec?.targets ?? []).filter((e) => names.includes(e.target));
      if (outcome.status === 'error' || outcome.verdict === 'blocked' || outcome.verdict === 'skipped')
        throw new CommandFailed(outcome.message ?? `import ${label}: ${outcome.status}`, EXIT_FAIL, report);
      const done = report.targets.filter((e) => TERMINAL.has(e.state)).length;
      if (tty) bar.update(done, report.targets.map((e) => `${e.target} ${e.state}`).join(', '));
      else
        for (const e of report.targets) {
          const line = entryLine(e);
          if (shown.get(e.target) !== line) say(`${label} ${line}`);
          shown.set(e.target, line);
        }
      if (!o.wait || report.targets.every((e) => TERMINAL.has(e.state))) break;
      // The last poll is at the deadline itself, so a --timeout shorter than --poll-interval still polls twice.
      const left = deadline - Date.now();
      if (left <= 0) {
        report.timedOut = true;
        break;
      }
      await sleep(Math.min(interval * 1000, left));
    }
  } finally {
    bar.stop();
  }
  const failed = report.targets.filter((e) => e.state === 'failed');
  const running = report.targets.filter((e) => !TERMINAL.has(e.state));
  if (o.json) {
    if (!failed.length && !report.timedOut) printJson(report);
  } else for (const e of report.targets) console.log(`${label} ${entryLine(e)}`);
  if (failed.length)
    throw new CommandFailed(
      `import ${label} failed on ${failed.map((e) => e.target).join(', ')}`,
      EXIT_FAIL,
      report,
    );
  if (report.timedOut)
    throw new CommandFailed(
      `import ${label}: still running after ${timeout} s on ${running.map((e) => e.target).join(', ')}; ` +
        'run the same command again to go on polling the recorded tasks',
      EXIT_FAIL,
      report,
    );
}
