// `wharf scan …`: run the scan stage for built images, rescan published digests, or summarise a Trivy
// JSON report file. Thin shell over publisher/scan.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { assertAppId } from '../../catalog/names.ts';
import { artifactIdOf } from '../../catalog/schema.ts';
import { rescanPublished } from '../../publisher/pipeline/rescan.ts';
import { parseSelection } from '../../publisher/select.ts';
import {
  createScanRunner,
  evaluatePolicy,
  expiredWaivers,
  parseTrivyReport,
  summarizeReport,
  summaryText,
  TrivyReportError,
} from '../../publisher/scan/index.ts';
import type { StageOutcome } from '../../publisher/stage.ts';
import {
  CommandFailed,
  EXIT_FAIL,
  catalogOption,
  jsonOption,
  openCatalog,
  printJson,
  progress,
} from './common.ts';
import { cliStageContext, concurrencyOf, runSelected, type StageCommandOptions } from './stages.ts';
import { reportCommand } from './advisories.ts';

interface ScanOpts extends StageCommandOptions {
  rescan?: boolean;
  force?: boolean;
}

const NEEDS_ATTENTION = new Set(['not-run', 'failed', 'blocked']);

export default function register(program: Command): void {
  const scan = program
    .command('scan')
    .description(
      'scan built images with Trivy (the OCI layout the build left), or with --rescan the published digests due for a rescan; exit 1 when a scan did not run or policy blocks',
    )
    .argument('[targets...]', 'app or app:tag (default: all)')
    .option('--rescan', 'rescan published digests whose last scan is older than scanPolicy.rescanHours')
    .option('--force', 'scan even if the last scan of the same digest is recent')
    .option(
      '--work-dir <dir>',
      'work directory with the image layouts (default: $WHARF_WORK_DIR, else .wharf/work)',
    )
    .option('--concurrency <n>', 'parallel scans', '2')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (args: string[], o: ScanOpts) => {
      concurrencyOf(o);
      const warnings: string[] = [];
      const log = { info: () => {}, warn: (m: string) => warnings.push(m) };
      let outcomes: StageOutcome[];
      let skipped: { app: string; artifactId: string; reason: string }[] = [];
      const bar = progress(!o.json);
      let runId: string;
      let config;
      if (o.rescan) {
        const select = parseSelection(args);
        const store = await openCatalog(o);
        const ctx = await cliStageContext(store, o, { log, engine: null });
        runId = ctx.runId;
        config = ctx.config;
        const r = await rescanPublished(ctx, {
          select,
          force: Boolean(o.force),
          concurrency: concurrencyOf(o),
          onProgress: (done, total, out) =>
            done === 0 ? bar.start(total, 'rescan') : bar.tick(out ? `${out.app}:${out.artifactId}` : ''),
        });
        outcomes = r.outcomes;
        skipped = r.skipped;
      } else {
        // The scan stage for every built artifact matching the selection.
        const select = parseSelection(args);
        const r = await runSelected(args, o, 'scan', {
          where: (t) => !!t.artifact?.records.build,
          context: { log, engine: null },
          pipeline: () => ({
            only: ['scan'],
            stages: { scan: createScanRunner({ force: Boolean(o.force) }) },
          }),
        });
        const { snap, targets } = r;
        for (const sel of select)
          if (sel.tag && !targets.some((t) => t.app.id === sel.app && t.artifactId === sel.tag))
            skipped.push({ app: sel.app, artifactId: sel.tag, reason: 'not built' });
        const wanted = (app: string, id: string) =>
          !select.length || select.some((s) => s.app === app && (!s.tag || s.tag === id));
        for (const { app, artifacts } of snap.apps.values())
          for (const a of artifacts)
            if (
              a.records.build &&
              wanted(app.id, a.id) &&
              !app.recipes[a.kind].some((r) => artifactIdOf(r) === a.id)
            )
              skipped.push({ app: app.id, artifactId: a.id, reason: 'recipe removed' });
        runId = r.ctx.runId;
        config = r.ctx.config;
        outcomes = r.result.artifacts.flatMap((a) => a.stages);
      }
      bar.stop();
      const expired = expiredWaivers(config.scanPolicy, new Date());
      const failed = outcomes.filter((x) => x.verdict !== 'done' || NEEDS_ATTENTION.has(x.status));
      if (o.json) printJson({ runId, outcomes, skipped, expiredWaivers: expired, warnings });
      else {
        for (const w of warnings) console.error(`warning: ${w}`);
        for (const x of outcomes)
          console.log(`${`${x.app}:${x.artifactId}`.padEnd(44)} ${x.status.padEnd(9)} ${x.message ?? ''}`);
        for (const s of skipped)
          console.log(`${`${s.app}:${s.artifactId}`.padEnd(44)} skipped   ${s.reason}`);
        for (const w of expired)
          console.error(
            `note: waiver ${w.id}${w.app ? ` (${w.app})` : ''} expired ${w.expires}; remove it from wharf.yml`,
          );
        console.log(
          `${outcomes.length} scanned, ${failed.length} need attention (not run, failed or blocked), ${skipped.length} skipped`,
        );
      }
      if (failed.length) process.exitCode = EXIT_FAIL;
    });

  scan
    .command('report')
    .description(
      'parse and summarise a Trivy JSON report file (SchemaVersion 2); with --format, the report of a built <app>:<tag> (scripts/cli/advisories.ts)',
    )
    .argument('<file>', 'trivy image --format json output, or <app>:<tag> with --format')
    .option(
      '--format <format>',
      'openeuler-md or json: report of <app>:<tag> (OS packages vs openEuler advisories)',
    )
    .option('--out <file>', 'with --format: write the report to this file')
    .option('--catalog <dir>', 'also apply this catalog’s scanPolicy (for the app given with --app)')
    .option('--app <id>', 'app id the waivers are matched against')
    .addOption(jsonOption())
    .action(async (file: string, _o: unknown, cmd: Command) => {
      // --json and --catalog also exist on `scan`; commander gives them to the parent, so read both.
      const o = cmd.optsWithGlobals<{ json?: boolean; catalog?: string; app?: string; format?: string }>();
      if (o.format) return reportCommand(file, { ...o, format: o.format });
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        throw new CommandFailed(
          `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
      let s;
      try {
        s = summarizeReport(parseTrivyReport(text, file));
      } catch (e) {
        if (e instanceof TrivyReportError)
          throw new CommandFailed(e.message, EXIT_FAIL, { error: e.message });
        throw e;
      }
      const policy = o.catalog
        ? evaluatePolicy(
            (await (await openCatalog(o)).config()).scanPolicy,
            o.app ? assertAppId(o.app) : '',
            s.findings,
            new Date(),
          )
        : undefined;
      if (o.json) printJson({ ...s, ...(policy ? { policy } : {}) });
      else {
        console.log(`${s.artifactName}${s.os ? ` (${s.os.family} ${s.os.name})` : ''}`);
        console.log(summaryText({ status: 'ok', summary: s.summary }));
        for (const f of s.findings)
          console.log(
            `  ${f.severity.padEnd(8)} ${f.id.padEnd(20)} ${f.pkg.padEnd(24)} ${f.installed.padEnd(20)} ${f.fixed ?? (f.status === 'fixed' ? 'fixed' : `- ${f.status ?? ''}`)}`,
          );
        if (policy)
          console.log(
            policy.blocked ? `policy: blocked\n  ${policy.reasons.join('\n  ')}` : 'policy: not blocked',
          );
      }
    });
}
