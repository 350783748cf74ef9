// Thin wrapper over the system git: argument arrays only, a fixed identity and no user config
// surprises (hooks, signing, pagers) so catalog commits behave the same on every machine.
import { execa, type Options } from 'execa';
import { commitBody, commitLine, TRAILER_KEY_RE, TRAILER_MAX } from './text.ts';

const BASE_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: process.env.WHARF_GIT_NAME ?? 'Wharf',
  GIT_AUTHOR_EMAIL: process.env.WHARF_GIT_EMAIL ?? 'wharf@localhost',
  GIT_COMMITTER_NAME: process.env.WHARF_GIT_NAME ?? 'Wharf',
  GIT_COMMITTER_EMAIL: process.env.WHARF_GIT_EMAIL ?? 'wharf@localhost',
  LC_ALL: 'C',
};

/** The identity every catalog commit is made with (author = committer). */
export const COMMIT_IDENTITY = {
  name: BASE_ENV.GIT_AUTHOR_NAME,
  email: BASE_ENV.GIT_AUTHOR_EMAIL,
  committerName: BASE_ENV.GIT_COMMITTER_NAME,
  committerEmail: BASE_ENV.GIT_COMMITTER_EMAIL,
};

// Every git command that writes a catalog's repository (index, refs, objects, work tree) runs under the
// catalog lock (.git/wharf.lock, see store/tx.ts). So that nothing else touches git's own locks:
// --no-optional-locks keeps readers (`git status` in load()) from refreshing and rewriting the index,
// which takes index.lock and made a concurrent writer's update-index/commit fail (two daemons on one
// catalog); and automatic gc/maintenance runs in the foreground, inside the command that triggered it,
// never as a detached process that outlives the lock.
const FIXED = [
  '--no-optional-locks',
  '-c',
  'gc.autoDetach=false',
  '-c',
  'maintenance.autoDetach=false',
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'commit.gpgsign=false',
  '-c',
  'core.quotepath=false',
  '-c',
  'advice.detachedHead=false',
];

export class GitError extends Error {
  readonly args: string[];
  readonly stderr: string;
  readonly exitCode: number | undefined;
  constructor(args: string[], stderr: string, exitCode: number | undefined) {
    super(`git ${args.join(' ')} failed (${exitCode}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    this.name = 'GitError';
    this.args = args;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

export async function git(cwd: string, args: string[], opts: Pick<Options, 'input'> = {}): Promise<string> {
  const r = await execa('git', [...FIXED, ...args], {
    cwd,
    env: BASE_ENV,
    reject: false,
    stripFinalNewline: true,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
  if (r.exitCode !== 0) throw new GitError(args, String(r.stderr || r.stdout), r.exitCode);
  return String(r.stdout);
}

/** Like git(), with stdout as bytes (for `cat-file --batch`, whose records carry byte lengths). */
export async function gitBytes(cwd: string, args: string[], input: string): Promise<Buffer> {
  const r = await execa('git', [...FIXED, ...args], {
    cwd,
    env: BASE_ENV,
    reject: false,
    input,
    encoding: 'buffer',
    maxBuffer: 1024 * 1024 * 1024,
  });
  if (r.exitCode !== 0)
    throw new GitError(args, Buffer.from(r.stderr as Uint8Array).toString('utf8'), r.exitCode);
  return Buffer.from(r.stdout as Uint8Array);
}

export async function gitOk(
  cwd: string,
  args: string[],
  opts: Pick<Options, 'input'> = {},
): Promise<boolean> {
  try {
    await git(cwd, args, opts);
    return true;
  } catch {
    return false;
  }
}

/**
 * Build a commit message: subject, optional body, then trailers in a fixed order. Every part goes
 * through catalog/text.ts, so upstream bytes (NUL, controls, newlines) can never make git refuse the
 * commit or forge a trailer; a trailer key outside the grammar is a programming error.
 */
export function commitMessage(
  subject: string,
  trailers: Record<string, string | undefined>,
  body?: string,
): string {
  const lines = [commitLine(subject) || '(no subject)'];
  const b = body ? commitBody(body) : '';
  if (b) lines.push('', b);
  const t = Object.entries(trailers)
    .map(([k, v]): [string, string] => [k, typeof v === 'string' ? commitLine(v, TRAILER_MAX) : ''])
    .filter((e) => e[1] !== '');
  if (t.length) {
    lines.push('');
    for (const [k, v] of t) {
      if (!TRAILER_KEY_RE.test(k)) throw new Error(`invalid commit trailer key ${JSON.stringify(k)}`);
      lines.push(`${k}: ${v}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Parse `Key: value` trailers from the end of a commit message. */
export function parseTrailers(message: string): Record<string, string> {
  const out: Record<string, string> = {};
  const paras = message.trim().split(/\n\s*\n/);
  const last = paras.length > 1 ? paras[paras.length - 1]! : '';
  for (const line of last.split('\n')) {
    const m = /^([A-Za-z][A-Za-z0-9-]*):\s?(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
