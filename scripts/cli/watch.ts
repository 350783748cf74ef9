// `wharf watch [app…]`: one sweep over upstream releases (one catalog commit); `wharf version compare`:
// the version schemes, for people debugging a version policy.
import type { Command } from 'commander';
import { assertAppId } from '../../catalog/names.ts';
import { checkBases } from '../../publisher/watch/bases.ts';
import { runSweep, UnknownAppError, type SweepResult } from '../../publisher/watch/sweep.ts';
import { SCHEMES } from '../../publisher/watch/versions/index.ts';
import { UsageError, catalogOption, jsonOption, openCatalog, printJson, progress } from './common.ts';

function summary(r: SweepResult): string {
  const secs = (r.durationMs / 1000).toFixed(1);
  const commit = r.dryRun
    ? 'dry run, nothing committed'
    : r.commit
      ? `commit ${r.commit.slice(0, 12)}`
      : 'no commit';
  return (
    `checked ${r.checked} apps: ${r.new} new, ${r.unchanged} unchanged, ${r.notModified} not modified, ` +
    `${r.errors} errors; ${r.http.requests} requests (${r.http.notModified} answered 304) in ${secs} s; ${commit}`
  );
}

export default function register(program: Command): void {
  program
    .command('watch')
    .description('check upstream releases; new versions become pending builds (one catalog commit per sweep)')
    .argument('[app...]', 'only these apps (default: every app with an upstream)')
    .addOption(catalogOption())
    .option('--dry-run', 'show what would change; commit nothing')
    .option(
      '--bases',
      'instead: check the external base images of built artifacts; moved ones become pending',
    )
    .addOption(jsonOption())
    .action(
      async (apps: string[], o: { catalog?: string; json?: boolean; dryRun?: boolean; bases?: boolean }) => {
        const ids = apps.map((a) => assertAppId(a));
        const store = await openCatalog(o);
        if (o.bases) {
          if (ids.length || o.dryRun)
            throw new UsageError('--bases checks every built artifact (no apps, no --dry-run)');
          const b = await checkBases(store);
          if (o.json) return printJson(b);
          for (const p of b.pending) console.log(`pending ${p.app}:${p.artifact}: ${p.reason}`);
          for (const p of b.problems)
            console.error(`problem ${p.app}:${p.artifact}: base ${p.base}: ${p.message}`);
          console.log(
            `checked ${b.checked} artifacts (${b.bases} bases): ${b.pending.length} pending, ${b.problems.length} problems; ${b.commit ? `commit ${b.commit.slice(0, 12)}` : 'no commit'}`,
          );
          if (b.problems.length) process.exitCode = 1;
          return;
        }
        const bar = progress(!o.json);
        let r: SweepResult;
        try {
          r = await runSweep(store, {
            apps: ids,
            dryRun: o.dryRun,
            onProgress: (done, total, app) => (done === 0 ? bar.start(total, 'upstreams') : bar.tick(app)),
          });
        } catch (e) {
          if (e instanceof UnknownAppError) throw new UsageError(e.message);
          throw e;
        } finally {
          bar.stop();
        }
        if (o.json) return printJson(r);
        for (const c of r.changes)
          console.log(`${c.app}: ${c.from ?? '(none)'} → ${c.to}${c.line ? ` (line ${c.line})` : ''}`);
        for (const p of r.pending) console.log(`  pending ${p.app}:${p.tag}`);
        for (const e of r.errorDetails) console.error(`error ${e.app} (${e.count}x): ${e.message}`);
        console.log(summary(r));
      },
    );

  const version = program.command('version').description('version schemes');
  version
    .command('compare')
    .description('compare two versions: prints -1 (a < b), 0 or 1 (a > b)')
    .argument('<a>')
    .argument('<b>')
    .option('--scheme <scheme>', `one of ${Object.keys(SCHEMES).join(', ')}`, 'semver')
    .action((a: string, b: string, o: { scheme: string }) => {
      const scheme = SCHEMES[o.scheme];
      if (!scheme)
        throw new UsageError(
          `unknown scheme ${JSON.stringify(o.scheme)} (one of ${Object.keys(SCHEMES).join(', ')})`,
        );
      for (const v of [a, b])
        if (!scheme.isValid(v)) throw new UsageError(`${JSON.stringify(v)} is not a ${scheme.name} version`);
      console.log(String(scheme.compare(a, b)));
    });
}
