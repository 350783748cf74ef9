// `wharf pipeline|build|smoke [app[:tag]…] [--kind …]`: run every pending stage (or one stage) for the
// selected artifacts. Thin shell over publisher/pipeline (through stages.ts). `wharf verify <image-ref> --key` (signature
// check) belongs to the signing commands; the smoke-test stage alone is `wharf smoke`.
import { Option, type Command } from 'commander';
import type { Stage } from '../../catalog/schema.ts';
import { parseArches } from '../../publisher/arches.ts';
import type { ArtifactResult, PipelineResult } from '../../publisher/pipeline/index.ts';
import { CommandFailed, EXIT_FAIL, UsageError, catalogOption, jsonOption, printJson } from './common.ts';
import { asUsage, concurrencyOf, runSelected, type StageCommandOptions } from './stages.ts';

interface StageCmdOpts extends StageCommandOptions {
  recipes?: string;
  ref?: string;
  force?: boolean;
  smokeNetwork?: string;
  buildTimeout?: string;
  arch?: string;
}

function addOptions(c: Command): Command {
  return c
    .argument('[artifacts...]', 'app or app:tag (default: every container artifact in the catalog)')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .option('--concurrency <n>', 'artifacts processed at the same time', '2')
    .option('--kind <kinds>', 'only these image kinds: container, wsl, cloud (comma-separated; default all)')
    .option('--recipes <dir-or-url>', 'recipe repository (default: wharf.yml recipes.url)')
    .option('--ref <ref>', 'recipe ref to build with --recipes (default: HEAD)')
    .option(
      '--work-dir <dir>',
      'work directory for image layouts (default: $WHARF_WORK_DIR, else .wharf/work)',
    )
    .option(
      '--engine <url>',
      'container engine: unix:///path, tcp://host:port (default: $DOCKER_HOST, then the usual sockets)',
    )
    .option(
      '--smoke-network <mode>',
      "network mode of smoke-test containers (e.g. host, none; default: the engine's)",
    )
    .option('--build-timeout <minutes>', 'longest time one image build may take; 0 = no limit (default: 120)')
    .option(
      '--arch <arches>',
      'build these arches, e.g. amd64,arm64 (default: wharf.yml arches.default, else the engine arch)',
    )
    .option('-v, --verbose', 'print build and smoke-test progress lines')
    .addOption(new Option('--force', 'rebuild even when the inputs are unchanged'));
}

export async function runStagesCommand(
  args: string[],
  o: StageCmdOpts,
  only?: Stage[],
): Promise<PipelineResult> {
  concurrencyOf(o);
  const arches = asUsage(() => parseArches(o.arch));
  const timeoutMs = o.buildTimeout !== undefined ? buildTimeoutMs(o.buildTimeout) : undefined;
  const r = await runSelected(args, o, only ? only.join(',') : 'pipeline', {
    context: { needsEngine: true },
    pipeline: ({ snap, problems }) => ({
      ...(only ? { only } : {}),
      build: {
        ...(o.recipes ? { recipes: { url: o.recipes, ref: o.ref ?? 'HEAD' } } : {}),
        ...(o.force ? { force: true } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(arches ? { arches } : {}),
      },
      ...(o.smokeNetwork ? { verify: { networkMode: o.smokeNetwork } } : {}),
      problems: [...snap.problems.map((p) => `${p.file}:${p.line}: ${p.field} ${p.message}`), ...problems],
    }),
  });
  return r.result;
}

function buildTimeoutMs(minutes: string): number {
  const n = Number(minutes);
  if (!/^\d+(\.\d+)?$/.test(minutes) || !Number.isFinite(n) || n > 7 * 24 * 60)
    throw new UsageError(
      `--build-timeout: expected minutes (0 = no limit, at most a week), got "${minutes}"`,
    );
  return Math.round(n * 60_000);
}

function printResult(r: PipelineResult): void {
  for (const p of r.problems) console.error(`problem: ${p}`);
  for (const a of r.artifacts) console.log(line(a));
  const c = r.counts;
  console.log(
    `${r.artifacts.length} artifacts in ${(r.durationMs / 1000).toFixed(1)} s: ${c.published} published, ${c.unchanged} unchanged, ${c.done} done, ${c.failed} failed, ${c.blocked} blocked, ${c.skipped} skipped (run ${r.runId})`,
  );
}

function line(a: ArtifactResult): string {
  const mark = a.status === 'failed' || a.status === 'blocked' ? '✗' : '✓';
  const stages = a.stages.map((s) => `${s.stage}:${s.status}`).join(' ');
  const why = a.stoppedAt ? `  stopped at ${a.stoppedAt}: ${a.message ?? ''}` : '';
  return `${mark} ${`${a.app}:${a.tag}`.padEnd(36)} ${a.status.padEnd(9)} ${stages} (${(a.durationMs / 1000).toFixed(1)} s)${why}`;
}

function action(only?: Stage[]) {
  return async (args: string[], o: StageCmdOpts) => {
    const r = await runStagesCommand(args, o, only);
    const bad = r.counts.failed + r.counts.blocked;
    if (o.json) {
      if (bad) throw new CommandFailed(`${bad} artifact(s) failed or blocked`, EXIT_FAIL, r);
      printJson(r);
      return;
    }
    printResult(r);
    if (bad) throw new CommandFailed(`${bad} artifact(s) failed or blocked`);
  };
}

export default function register(program: Command): void {
  addOptions(
    program
      .command('pipeline')
      .description(
        'run every pending stage (build → verify → scan → sign → publish) for the selected artifacts; unchanged ones pass quickly',
      ),
  ).action(action());
  addOptions(
    program
      .command('build')
      .description('build the selected artifacts (skips unchanged inputs) and export their OCI layouts'),
  ).action(action(['build']));
  addOptions(
    program
      .command('smoke')
      .description("run the recipes' smoke tests against the built images (the verify stage)"),
  ).action(action(['verify']));
}
