// `wharf scan …`: run the scan stage for built images, rescan published digests, or summarise a Trivy
// JSON report file. Thin shell over publisher/scan.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import pLimit from 'p-limit';
import { defaultBlobStore } from '../../catalog/blobs.ts';
import { assertAppId, assertTag } from '../../catalog/names.ts';
import { newRunId } from '../../catalog/run-id.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import type { StageContext, StageOutcome } from '../../publisher/stage.ts';
import {
  createScanRunner,
  evaluatePolicy,
  expiredWaivers,
  parseTrivyReport,
  rescanPublished,
  summarizeReport,
  summaryText,
  TrivyReportError,
  type RescanSelection,
} from '../../publisher/scan/index.ts';
import {
  CommandFailed,
  EXIT_FAIL,
  catalogOption,
  jsonOption,
  openCatalog,
  printJson,
  progress,
} from './common.ts';

interface ScanOpts {
  catalog?: string;
  json?: boolean;
  rescan?: boolean;
  force?: boolean;
  workDir?: string;
  concurrency?: string;
}

/** "app" or "app:tag", validated before use. */
export function parseSelection(arg: string): RescanSelection {
  const i = arg.indexOf(':');
  return i < 0
    ? { app: assertAppId(arg) }
    : { app: assertAppId(arg.slice(0, i)), tag: assertTag(arg.slice(i + 1)) };
}

function context(
  store: CatalogStore,
  config: StageContext['config'],
  o: ScanOpts,
  onLog: StageContext['log'],
): StageContext {
  return {
    store,
    config,
    runId: newRunId(),
    blobs: defaultBlobStore(store.dir),
    workDir: resolve(o.workDir ?? process.env.WHARF_WORK_DIR ?? '.wharf/work'),
    log: onLog,
  };
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
    .action(async (targets: string[], o: ScanOpts) => {
      const select = targets.map(parseSelection);
      const concurrency = Number(o.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1)
        throw new CommandFailed(`--concurrency must be a positive integer`, 2);
      const store = await openCatalog(o);
      const config = await store.config();
      const bar = progress(!o.json);
      const warnings: string[] = [];
      const ctx = context(store, config, o, {
        info: () => {},
        warn: (m) => warnings.push(m),
      });
      let outcomes: StageOutcome[];
      let skipped: { app: string; artifactId: string; reason: string }[] = [];
      if (o.rescan) {
        const r = await rescanPublished(ctx, {
          select,
          force: Boolean(o.force),
          concurrency,
          onProgress: (done, total, out) =>
            done === 0 ? bar.start(total, 'rescan') : bar.tick(out ? `${out.app}:${out.artifactId}` : ''),
        });
        outcomes = r.outcomes;
        skipped = r.skipped;
      } else {
        outcomes = await scanBuilt(ctx, select, Boolean(o.force), concurrency, bar, skipped);
      }
      bar.stop();
      const expired = expiredWaivers(config.scanPolicy, new Date());
      const failed = outcomes.filter((x) => NEEDS_ATTENTION.has(x.status));
      if (o.json) printJson({ runId: ctx.runId, outcomes, skipped, expiredWaivers: expired, warnings });
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
    .description('parse and summarise a Trivy JSON report file (SchemaVersion 2)')
    .argument('<file>', 'trivy image --format json output')
    .option('--catalog <dir>', 'also apply this catalog’s scanPolicy (for the app given with --app)')
    .option('--app <id>', 'app id the waivers are matched against')
    .addOption(jsonOption())
    .action(async (file: string, _o: unknown, cmd: Command) => {
      // --json and --catalog also exist on `scan`; commander gives them to the parent, so read both.
      const o = cmd.optsWithGlobals<{ json?: boolean; catalog?: string; app?: string }>();
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

/** The scan stage for every built container artifact matching the selection. */
async function scanBuilt(
  ctx: StageContext,
  select: RescanSelection[],
  force: boolean,
  concurrency: number,
  bar: ReturnType<typeof progress>,
  skipped: { app: string; artifactId: string; reason: string }[],
): Promise<StageOutcome[]> {
  const snap = await ctx.store.load();
  const runner = createScanRunner({ force });
  const jobs: (() => Promise<StageOutcome>)[] = [];
  for (const sel of select) {
    const e = snap.apps.get(sel.app);
    if (!e) skipped.push({ app: sel.app, artifactId: sel.tag ?? '*', reason: 'no such app' });
    else if (sel.tag && !e.artifacts.some((a) => a.kind === 'container' && a.id === sel.tag))
      skipped.push({ app: sel.app, artifactId: sel.tag, reason: 'not built' });
  }
  for (const { app, artifacts } of snap.apps.values()) {
    for (const a of artifacts) {
      if (a.kind !== 'container' || !a.records.build) continue;
      if (select.length && !select.some((s) => s.app === app.id && (!s.tag || s.tag === a.id))) continue;
      const recipe = app.recipes.container.find((r) => r.tag === a.id);
      if (!recipe) {
        skipped.push({ app: app.id, artifactId: a.id, reason: 'recipe removed' });
        continue;
      }
      jobs.push(async () => {
        const started = Date.now();
        try {
          return await runner(ctx, { app, kind: 'container', artifactId: a.id, recipe, artifact: a });
        } catch (e) {
          // One artifact's catalog or blob-store error never stops the others.
          const message = e instanceof Error ? e.message : String(e);
          return {
            stage: 'scan',
            app: app.id,
            artifactId: a.id,
            status: 'failed',
            commit: null,
            durationMs: Date.now() - started,
            message,
          };
        }
      });
    }
  }
  const limit = pLimit(concurrency);
  bar.start(jobs.length, 'scan');
  return Promise.all(
    jobs.map((job) =>
      limit(async () => {
        const out = await job();
        bar.tick(`${out.app}:${out.artifactId}`);
        return out;
      }),
    ),
  );
}
