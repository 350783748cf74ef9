// Catalog history: the log of one app or of every app at once (what `wharf catalog log`, the site and
// the pipeline read), and the commits, changed paths and file contents events are derived from.
// Every function here only reads objects and refs: none touches the index or the work tree.
import { git, gitBytes, gitOk, parseTrailers } from '../git.ts';
import { appDir, type LogEntry } from './layout.ts';
import { head } from './read.ts';

/** History of an app (or of the whole catalog when id is omitted), newest first. */
export async function log(
  dir: string,
  id?: string,
  opts: { limit?: number; since?: string } = {},
): Promise<LogEntry[]> {
  if ((await head(dir)) === null) return [];
  const args = ['log', '--format=%H%x1f%aI%x1f%B%x1e'];
  if (opts.limit) args.push(`-n${opts.limit}`);
  if (opts.since) args.push(`${opts.since}..HEAD`);
  if (id) args.push('--', appDir(id));
  const out = await git(dir, args);
  return out
    .split('\x1e')
    .map((r) => r.trim())
    .filter(Boolean)
    .map((r) => {
      const [sha, date, msg] = r.split('\x1f') as [string, string, string];
      const [subject, ...rest] = msg.split('\n');
      return {
        sha,
        date,
        subject: subject ?? '',
        body: rest.join('\n').trim(),
        trailers: parseTrailers(msg),
      };
    });
}

/**
 * History of every app at once, newest first (what `log(id)` gives per app, from one `git log`
 * instead of one per app): app id → entries. Commits touching several apps appear under each.
 */
export async function logByApp(dir: string): Promise<Map<string, LogEntry[]>> {
  const byApp = new Map<string, LogEntry[]>();
  if ((await head(dir)) === null) return byApp;
  const out = await git(dir, ['log', '--format=%x1e%H%x1f%aI%x1f%B%x1f', '--name-only', '--', 'apps']);
  for (const rec of out.split('\x1e')) {
    const [sha, date, msg, names] = rec.split('\x1f') as [string, string, string, string | undefined];
    if (!sha || msg === undefined) continue;
    const [subject, ...rest] = msg.split('\n');
    const entry: LogEntry = {
      sha: sha.trim(),
      date,
      subject: subject ?? '',
      body: rest.join('\n').trim(),
      trailers: parseTrailers(msg),
    };
    const ids = new Set<string>();
    for (const line of (names ?? '').split('\n')) {
      const m = /^apps\/([^/]+)\//.exec(line.trim());
      if (m) ids.add(m[1]!);
    }
    for (const id of ids) {
      const list = byApp.get(id);
      if (list) list.push(entry);
      else byApp.set(id, [entry]);
    }
  }
  return byApp;
}

// ---- what events derive from: commits after a cursor (oldest first, first-parent), the paths each
// one changed, and file contents at a commit in one `git cat-file --batch` round trip.

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
  const buf = await gitBytes(dir, ['cat-file', '--batch'], unique.join('\n') + '\n');
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
