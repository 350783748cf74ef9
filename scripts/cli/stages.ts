// What every stage command shares (wharf pipeline|build|smoke|scan|sign|publish|verify <app>): open the
// stage context through the composition root, select targets with the one selection parser, and run
// the stages through the one runner (publisher/pipeline). Commands only add their options and printing.
import type { Stage } from '../../catalog/schema.ts';
import type { CatalogSnapshot, CatalogStore } from '../../catalog/store.ts';
import { openStageContext, type StageContextOptions } from '../../publisher/context.ts';
import { connectEngine, pingEngine } from '../../publisher/engine/index.ts';
import { runPipeline, type PipelineOptions, type PipelineResult } from '../../publisher/pipeline/index.ts';
import {
  parseKinds,
  parseSelection,
  selectTargets,
  SelectionError,
  type SelectOptions,
} from '../../publisher/select.ts';
import type { StageContext, StageFn, StageOutcome, StageTarget } from '../../publisher/stage.ts';
import { EXIT_FAIL, UsageError, openCatalog, printJson, progress } from './common.ts';

export interface StageCommandOptions {
  catalog?: string;
  json?: boolean;
  workDir?: string;
  concurrency?: string;
  engine?: string;
  /** `--kind container,wsl`: only these image kinds. */
  kind?: string;
  verbose?: boolean;
}

/** Parse --concurrency (1 to 64). */
export function concurrencyOf(o: { concurrency?: string }): number {
  const n = Number(o.concurrency ?? '2');
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new UsageError(`--concurrency must be an integer from 1 to 64, got ${o.concurrency}`);
  return n;
}

/** Messages on stderr unless --json; progress lines only with --verbose. */
export function cliLogger(o: { json?: boolean; verbose?: boolean }): StageContext['log'] {
  const say = (s: string) => {
    if (!o.json) process.stderr.write(`${s}\n`);
  };
  return { info: say, warn: (s) => say(`warning: ${s}`), ...(o.verbose && !o.json ? { progress: say } : {}) };
}

/** The stage context of a CLI run; with `needsEngine`, warn early when the engine does not answer. */
export async function cliStageContext(
  store: CatalogStore,
  o: StageCommandOptions,
  extra: StageContextOptions & { needsEngine?: boolean } = {},
): Promise<StageContext> {
  const { needsEngine, ...opts } = extra;
  const log = opts.log ?? cliLogger(o);
  if (needsEngine)
    await pingEngine(connectEngine(o.engine)).catch((e: Error) =>
      log.warn(`${e.message}; stages that need it will record the error`),
    );
  return openStageContext(store, {
    ...(o.workDir ? { workDir: o.workDir } : {}),
    ...(o.engine ? { engine: o.engine } : {}),
    log,
    ...opts,
  });
}

export interface Selected {
  store: CatalogStore;
  snap: CatalogSnapshot;
  targets: StageTarget[];
  problems: string[];
}

/** Parse an option with a publisher/select.ts parser: a SelectionError is a usage error (exit 2). */
export function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof SelectionError) throw new UsageError(e.message);
    throw e;
  }
}

/** Open the catalog and select the targets of `app[:tag]` arguments; unknown names are usage errors. */
export async function selectFromArgs(
  args: string[],
  o: StageCommandOptions,
  where?: SelectOptions['where'],
): Promise<Selected> {
  const kinds = asUsage(() => parseKinds(o.kind));
  const selection = parseSelection(args);
  const store = await openCatalog(o);
  const snap = await store.load();
  const { targets, problems } = selectTargets(snap, selection, {
    ...(kinds ? { kinds } : {}),
    ...(where ? { where } : {}),
  });
  if (selection.length && problems.length) throw new UsageError(problems.join('; '));
  return { store, snap, targets, problems };
}

/** Run stages over targets with a progress bar on a terminal. */
export async function runWithProgress(
  ctx: StageContext,
  targets: StageTarget[],
  o: StageCommandOptions,
  label: string,
  opts: PipelineOptions,
): Promise<PipelineResult> {
  const bar = progress(!o.json && !o.verbose);
  bar.start(targets.length, label);
  try {
    return await runPipeline(ctx, targets, {
      concurrency: concurrencyOf(o),
      ...opts,
      onArtifact: (r) => {
        bar.tick(`${r.app}:${r.tag} ${r.status}`);
        opts.onArtifact?.(r);
      },
    });
  } finally {
    bar.stop();
  }
}

export interface SelectedRun extends Selected {
  ctx: StageContext;
  result: PipelineResult;
}

/** Select the targets of `args`, open the stage context and run the stages: what every stage command does. */
export async function runSelected(
  args: string[],
  o: StageCommandOptions,
  label: string,
  how: {
    where?: SelectOptions['where'];
    context?: StageContextOptions & { needsEngine?: boolean };
    pipeline: (s: Selected) => PipelineOptions;
  },
): Promise<SelectedRun> {
  concurrencyOf(o);
  const selected = await selectFromArgs(args, o, how.where);
  const ctx = await cliStageContext(selected.store, o, { config: selected.snap.config, ...how.context });
  const result = await runWithProgress(ctx, selected.targets, o, label, how.pipeline(selected));
  return { ...selected, ctx, result };
}

/** `wharf sign|publish|verify <app>…`: one stage over the selected targets; exit 1 when one failed or was blocked. */
export async function runStageCommand(
  stage: Stage,
  fn: StageFn,
  args: string[],
  o: StageCommandOptions,
  extra: StageContextOptions & { needsEngine?: boolean } = {},
): Promise<StageOutcome[]> {
  const { ctx, problems, result } = await runSelected(args, o, stage, {
    context: extra,
    pipeline: () => ({ only: [stage], stages: { [stage]: fn } }),
  });
  const outcomes = result.artifacts.flatMap((a) => a.stages);
  const bad = outcomes.filter((x) => x.verdict === 'failed' || x.verdict === 'blocked');
  if (o.json) printJson({ runId: ctx.runId, stage, outcomes, problems });
  else {
    for (const x of outcomes)
      console.log(`${`${x.app}:${x.artifactId}`.padEnd(44)} ${x.status.padEnd(10)} ${x.message ?? ''}`);
    console.log(`${stage}: ${outcomes.length} artifacts, ${bad.length} failed, partial or blocked`);
  }
  if (bad.length) process.exitCode = EXIT_FAIL;
  return outcomes;
}
