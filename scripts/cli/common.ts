// Shared CLI plumbing: exit codes, --json output, progress on a terminal. Commands stay thin: parse
// arguments, call a library function, print its result.
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { CatalogStore, resolveCatalogDir } from '../../catalog/store.ts';

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/** A usage error: wrong arguments. Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A command's failure with a specific exit code and (for --json) a payload. */
export class CommandFailed extends Error {
  readonly exitCode: number;
  readonly payload: unknown;
  constructor(message: string, exitCode = EXIT_FAIL, payload?: unknown) {
    super(message);
    this.exitCode = exitCode;
    this.payload = payload;
  }
}

export const catalogOption = () =>
  new Option('--catalog <dir>', 'catalog directory (default: $WHARF_CATALOG, else .wharf/catalog)');
export const jsonOption = () => new Option('--json', 'print one JSON document for machines');

export async function openCatalog(opts: { catalog?: string }): Promise<CatalogStore> {
  return CatalogStore.open(resolveCatalogDir(opts.catalog));
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

/** A progress bar on stderr when it is a terminal and output is not JSON; a no-op otherwise. */
export interface Progress {
  start(total: number, label?: string): void;
  tick(label?: string): void;
  /** Set the value (e.g. imports finished so far) and the label. */
  update(value: number, label?: string): void;
  stop(): void;
}

export function progress(enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) return { start() {}, tick() {}, update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: ' {bar} {value}/{total} {label}',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    start: (total, label = '') => bar.start(total, 0, { label }),
    tick: (label = '') => bar.increment(1, { label }),
    update: (value, label = '') => bar.update(value, { label }),
    stop: () => bar.stop(),
  };
}

export type CommandModule = (program: Command) => void;
