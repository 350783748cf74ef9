// The wharf CLI: a thin shell over the library. Each command group lives in its own module and
// registers itself here.
import { Command, CommanderError } from 'commander';
import { CatalogFileError } from '../../catalog/format.ts';
import { NameError } from '../../catalog/names.ts';
import { CommandFailed, EXIT_FAIL, EXIT_USAGE, UsageError, printJson, type CommandModule } from './common.ts';
import catalogCommands from './catalog.ts';
import doctorCommand from './doctor.ts';
import daemonCommand from './daemon.ts';
import triggerCommand from './trigger.ts';
import scanCommands from './scan.ts';
import eventsCommands from './events.ts';
import watchCommands from './watch.ts';
import siteCommands from './site.ts';
import pipelineCommands from './pipeline.ts';
import signCommands from './sign.ts';
import publishCommands from './publish.ts';
import wslCommands from './wsl.ts';
import cloudCommands from './cloud.ts';
import recipeCommands from './recipe.ts';
import graphCommands from './graph.ts';
import advisoriesCommands from './advisories.ts';
import demoCommand from './demo.ts';

const modules: CommandModule[] = [
  catalogCommands,
  doctorCommand,
  siteCommands,
  eventsCommands,
  scanCommands,
  advisoriesCommands,
  watchCommands,
  pipelineCommands,
  signCommands,
  publishCommands,
  wslCommands,
  cloudCommands,
  recipeCommands,
  graphCommands,
  triggerCommand,
  daemonCommand,
  demoCommand,
];

export function buildProgram(): Command {
  const program = new Command('wharf')
    .description(
      'Wharf: watch upstream releases, build, scan, sign and publish images, and generate the marketplace.',
    )
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const m of modules) m(program);
  // Every subcommand reports usage errors through exitOverride so we can map them to exit code 2.
  const walk = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(walk);
  };
  walk(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const wantsJson = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      return EXIT_USAGE;
    }
    const code =
      e instanceof UsageError || e instanceof NameError
        ? EXIT_USAGE
        : e instanceof CommandFailed
          ? e.exitCode
          : EXIT_FAIL;
    const message = e instanceof Error ? e.message : String(e);
    if (wantsJson) {
      const payload =
        e instanceof CommandFailed && e.payload !== undefined
          ? e.payload
          : { error: message, ...(e instanceof CatalogFileError ? { problems: e.problems } : {}) };
      printJson(payload);
    }
    process.stderr.write(`wharf: ${message}\n`);
    if (process.env.WHARF_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return code;
  }
}
