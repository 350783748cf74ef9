// Reading catalog history for event derivation: the commits after a cursor (oldest first, first-parent),
// the paths each one changed, and file contents at a commit in one `git cat-file --batch` round trip.
import { execa } from 'execa';
import { git, gitOk, parseTrailers } from '../../catalog/git.ts';

export interface CommitChange {
  status: 'A' | 'M' | 'D' | 'T';
  path: string;
}

export interface CatalogCommit {
  sha: string;
  /** Committer time, ISO 8601. */
  time: string;
  author: string;
  subject: string;
  trailers: Record<string, string>;
  changes: CommitChange[];
}

/** Commits after `since` (exclusive) up to HEAD, oldest first. A cursor no longer in history restarts from the root. */
export async function commitsSince(dir: string, since: string | null): Promise<string[]> {
  if (!(await gitOk(dir, ['rev-parse', '--verify', '-q', 'HEAD']))) return [];
  let range = 'HEAD';
  if (since) {
    const reachable = await gitOk(dir, ['merge-base', '--is-ancestor', since, 'HEAD']);
    if (reachable) range = `${since}..HEAD`;
  }
  const out = await git(dir, ['rev-list', '--reverse', '--first-parent', range]);
  return out.split('\n').filter(Boolean);
}

/** Metadata and changed paths of the given commits, in the order given. */
export async function readCommits(dir: string, shas: string[]): Promise<CatalogCommit[]> {
  if (!shas.length) return [];
  const out = await git(dir, [
    'log',
    '--no-walk=unsorted',
    '--no-renames',
    '--diff-merges=first-parent',
    '--format=%x1e%H%x1f%cI%x1f%an%x1f%B%x1f',
    '--name-status',
    '-z',
    ...shas,
  ]);
  const commits: CatalogCommit[] = [];
  for (const rec of out.split('\x1e')) {
    if (!rec.trim()) continue;
    const cut = rec.lastIndexOf('\x1f');
    const [sha, time, author, message] = rec.slice(0, cut).split('\x1f') as [string, string, string, string];
    const parts = rec
      .slice(cut + 1)
      .replace(/^[\0\n]+/, '')
      .split('\0')
      .filter((p) => p !== '');
    const changes: CommitChange[] = [];
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const st = parts[i]!.trim().charAt(0);
      if (st === 'A' || st === 'M' || st === 'D' || st === 'T')
        changes.push({ status: st, path: parts[i + 1]! });
    }
    commits.push({
      sha: sha.trim(),
      time,
      author,
      subject: message.split('\n')[0] ?? '',
      trailers: parseTrailers(message),
      changes,
    });
  }
  return commits;
}

/** Contents of `<rev>:<path>` specs; a spec that does not exist maps to null. */
export async function readBlobs(dir: string, specs: string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const unique = [...new Set(specs)];
  if (!unique.length) return out;
  const r = await execa('git', ['-c', 'core.quotepath=false', 'cat-file', '--batch'], {
    cwd: dir,
    input: unique.join('\n') + '\n',
    encoding: 'buffer',
    env: { LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' },
    maxBuffer: 1024 * 1024 * 1024,
  });
  const buf = Buffer.from(r.stdout as Uint8Array);
  let pos = 0;
  for (const spec of unique) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0) break;
    const header = buf.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
      out.set(spec, null);
      continue;
    }
    const size = Number(header.split(' ')[2]);
    out.set(spec, buf.subarray(pos, pos + size).toString('utf8'));
    pos += size + 1;
  }
  return out;
}
