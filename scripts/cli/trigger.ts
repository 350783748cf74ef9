// `wharf trigger <app> [--version V]`: what a forge webhook does, from a CI job — queue a rebuild of the
// app's newest artifacts, or record a new upstream version with its derived recipes and pending artifacts.
import type { Command } from 'commander';
import { queueRebuild, UnknownAppError } from '../../publisher/triggers/index.ts';
import {
  CommandFailed,
  EXIT_FAIL,
  UsageError,
  catalogOption,
  jsonOption,
  openCatalog,
  printJson,
} from './common.ts';

export default function register(program: Command): void {
  // `wharf trigger app --version V` must reach this command, not the program's own --version flag:
  // with positional options the program only reads its options before the subcommand name.
  program.enablePositionalOptions();
  program
    .command('trigger')
    .description(
      "queue a rebuild of an app's newest artifacts; with --version, record a new upstream version first",
    )
    .argument('<app>', 'app id')
    .option(
      '--version <version>',
      'upstream version (a tag such as v1.2.3 is read with the app’s version policy)',
    )
    .option(
      '--reason <text>',
      'why (kept in the pending record and the rebuild.queued event)',
      'wharf trigger',
    )
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(
      async (app: string, o: { version?: string; reason: string; catalog?: string; json?: boolean }) => {
        if (o.reason.length > 200 || /[\r\n]/.test(o.reason))
          throw new UsageError('--reason must be one line of at most 200 characters');
        const store = await openCatalog(o);
        const reason =
          o.reason === 'wharf trigger' && process.env.GITHUB_ACTIONS
            ? 'CI trigger (GitHub Actions)'
            : o.reason;
        let r;
        try {
          // A version argument is read as an upstream tag: the app's prefixes (v, release-, …) are stripped.
          r = await queueRebuild(store, app, {
            ...(o.version !== undefined ? { tag: o.version } : {}),
            reason,
          });
        } catch (e) {
          if (e instanceof UnknownAppError) throw new UsageError(e.message);
          throw e;
        }
        // A tag that is not a version of the app is the caller's mistake in a CI job: fail loudly.
        if (r.note && r.version === undefined && o.version !== undefined)
          throw new CommandFailed(r.note, EXIT_FAIL, r);
        if (o.json) printJson(r);
        else if (r.queued.length)
          console.log(
            `${r.newVersion ? `recorded ${app} ${r.version}; ` : ''}queued ${r.queued.map((q) => `${q.kind}/${q.artifact}`).join(', ')}` +
              (r.commit ? ` (commit ${r.commit.slice(0, 12)})` : ''),
          );
        else console.log(`nothing queued: ${r.note ?? 'no change'}`);
      },
    );
}
