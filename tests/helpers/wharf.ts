// Runs the `wharf` CLI (scripts/wharf.mjs) from the repository root as a child process, the way a user would:
// never throws on a non-zero exit (tests check exitCode), and WHARF_CATALOG is cleared so the caller's
// environment never picks the catalog.
import { resolve } from 'node:path';
import { execa } from 'execa';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface WharfRunOptions {
  /** Extra environment variables, on top of WHARF_CATALOG=''. */
  env?: Record<string, string>;
  /** Kill the child after this many milliseconds. */
  timeout?: number;
}

export function runWharf(args: string[], opts: WharfRunOptions = {}) {
  return execa(process.execPath, ['scripts/wharf.mjs', ...args], {
    cwd: ROOT,
    reject: false,
    env: { WHARF_CATALOG: '', ...opts.env },
    ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
  });
}
