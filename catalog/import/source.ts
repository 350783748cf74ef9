// Where an import reads the recipe repository from: a directory (used as it is) or a git URL with an
// optional `#ref` (branch, tag or commit), fetched shallowly into a temporary directory that the caller
// removes with `cleanup()`. The commit is recorded with every recipe so that builds use exactly it.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { git } from '../git.ts';

export interface ImportSource {
  /** Directory holding the tree. */
  dir: string;
  /** The repository as given (git URL), or the directory when it is a clean git work tree's top. */
  repo?: string;
  /** Commit of the tree, when it is a git checkout. */
  commit?: string;
  cleanup(): Promise<void>;
}

export class ImportSourceError extends Error {
  override name = 'ImportSourceError';
}

const URL_RE = /^(?:https?|git|ssh|file):\/\/|^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:/;
const REF_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;
const SHA_RE = /^[a-f0-9]{40}$/;

/** Whether the argument names a git URL rather than a directory. */
export function isGitUrl(arg: string): boolean {
  return URL_RE.test(arg);
}

/** Split `url#ref`. */
export function splitRef(arg: string): { url: string; ref?: string } {
  const hash = arg.lastIndexOf('#');
  if (hash < 0) return { url: arg };
  const ref = arg.slice(hash + 1);
  if (!REF_RE.test(ref) || ref.includes('..'))
    throw new ImportSourceError(`invalid git ref ${JSON.stringify(ref)} in ${arg}`);
  return { url: arg.slice(0, hash), ref };
}

/** The HEAD commit when `dir` is the top of a git work tree, else undefined. */
export async function gitHeadOf(dir: string): Promise<string | undefined> {
  try {
    const top = await git(dir, ['rev-parse', '--show-toplevel']);
    if (resolve(top) !== resolve(dir)) return undefined;
    const head = await git(dir, ['rev-parse', '--verify', '-q', 'HEAD^{commit}']);
    return SHA_RE.test(head) ? head : undefined;
  } catch {
    return undefined;
  }
}

/** Nothing uncommitted (modified, staged or untracked) in the work tree at `dir`. */
async function isClean(dir: string): Promise<boolean> {
  try {
    return (await git(dir, ['status', '--porcelain', '--untracked-files=normal'])).trim() === '';
  } catch {
    return false;
  }
}

export async function resolveImportSource(arg: string): Promise<ImportSource> {
  if (!isGitUrl(arg)) {
    // A directory: when it is the top of a git work tree with nothing uncommitted, it is recorded as
    // the repository (its path) and HEAD, so builds check out exactly that commit. Otherwise the
    // import records the directory itself (planOpenEulerImport: source.path) and builds read it there.
    const dir = resolve(arg);
    const commit = (await stat(dir).catch(() => null))?.isDirectory() ? await gitHeadOf(dir) : undefined;
    const clean = commit ? await isClean(dir) : false;
    return { dir, ...(commit && clean ? { commit, repo: dir } : {}), cleanup: async () => {} };
  }
  const { url, ref } = splitRef(arg);
  if (url.startsWith('-')) throw new ImportSourceError(`invalid git URL ${JSON.stringify(url)}`);
  const dir = await mkdtemp(join(tmpdir(), 'wharf-import-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    await git(dir, ['init', '-q']);
    // A shallow fetch of exactly the wanted ref (servers allow fetching a commit by sha: GitHub,
    // Gitee and git >= 2.5 with uploadpack.allowReachableSHA1InWant).
    const local = url.startsWith('file://');
    await git(dir, [
      'fetch',
      '-q',
      '--no-tags',
      ...(local ? [] : ['--depth', '1']),
      '--',
      url,
      ref ?? 'HEAD',
    ]);
    await git(dir, ['checkout', '-q', '--detach', 'FETCH_HEAD']);
    const commit = await git(dir, ['rev-parse', 'HEAD']);
    return { dir, repo: url, commit, cleanup };
  } catch (e) {
    await cleanup();
    throw new ImportSourceError(
      `cannot fetch ${url}${ref ? `#${ref}` : ''}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
}
