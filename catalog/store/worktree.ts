// The work-tree writer: turns a transaction's buffered writes into files, index entries and one
// commit, and undoes them on failure. Every function here runs under the catalog lock.
//
// Files are overwritten in place, so a writer killed mid-write could leave a torn file: a journal in
// .git names every path about to change, and the next writer (or load) puts them back as HEAD has them.
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { COMMIT_IDENTITY, commitMessage, git, gitOk } from '../git.ts';
import { processAlive } from '../lock.ts';
import { commitLine } from '../text.ts';
import { WRITE_JOURNAL, inChunks, readTextSync, type CommitInfo } from './layout.ts';
import { head } from './read.ts';

/** From this many changed paths on, a commit is built by fast-import (see writeAndCommit). */
const BULK_COMMIT_PATHS = 64;

/** The temporary ref a bulk commit is built under by the writer with this pid. */
export const commitRef = (pid: number) => `refs/wharf/commit-${pid}`;

/**
 * Write `writes` to the work tree and commit them; null when no file's bytes change (nothing is
 * committed). Only files whose bytes change are written and staged: idempotent stages and quiet sweeps
 * touch nothing, and a sweep over 10,000 apps stages just the handful that moved.
 */
export async function writeAndCommit(
  dir: string,
  writes: Map<string, string | null>,
  info: CommitInfo,
): Promise<string | null> {
  if (writes.size === 0) return null;
  const all = [...writes.keys()].sort();
  const before = new Map<string, string | null>();
  await inChunks(all, (p) => void before.set(p, readTextSync(dir, p)));
  const paths = all.filter((p) => before.get(p) !== (writes.get(p) ?? null));
  if (paths.length === 0) return null;
  const parent = await head(dir);
  const message = commitMessage(info.subject, info.trailers ?? {}, info.body);
  const touched: string[] = [];
  // Large commits: the commit is built from memory by `git fast-import` (one pack instead of a
  // loose object per blob and per changed tree, which costs seconds for a 10,000-file sweep) under a
  // temporary ref; HEAD only moves once the work tree and index agree with it.
  const bulk = parent !== null && paths.length >= BULK_COMMIT_PATHS;
  const tmpRef = commitRef(process.pid);
  try {
    if (bulk) await gitOk(dir, ['update-ref', '-d', tmpRef]); // left by a killed writer with our pid
    const imported = bulk ? await importCommit(dir, tmpRef, parent, paths, writes, message) : null;
    writeFileSync(join(dir, WRITE_JOURNAL), JSON.stringify({ pid: process.pid, paths }) + '\n');
    const dirs = new Set<string>();
    await inChunks(paths, (p) => {
      touched.push(p);
      writeWorkFile(dir, p, writes.get(p) ?? null, before.get(p) !== null, dirs);
    });
    // update-index reads paths from stdin: no argv length limit, and far faster than `git add` on
    // thousands of paths. (Blobs fast-import already packed are found, not written again.)
    await git(dir, ['update-index', '--add', '--remove', '-z', '--stdin'], {
      input: paths.join('\0') + '\0',
    });
    if (imported) {
      if (imported.tree === imported.parentTree) {
        await gitOk(dir, ['update-ref', '-d', tmpRef]);
        endJournal(dir);
        return null;
      }
      // Moves HEAD's branch only if it is still the parent (compare-and-swap), and drops the temp ref.
      await git(dir, ['update-ref', '-m', `commit: ${commitLine(info.subject)}`, '--stdin'], {
        input: `update HEAD ${imported.sha} ${parent}\ndelete ${tmpRef}\n`,
      });
      endJournal(dir);
      await gitOk(dir, ['maintenance', 'run', '--auto', '--quiet']);
      return imported.sha;
    }
    if (await gitOk(dir, ['diff', '--cached', '--quiet'])) {
      endJournal(dir);
      return null;
    }
    await git(dir, ['commit', '-q', '--no-verify', '-F', '-'], { input: message });
    endJournal(dir);
    return await git(dir, ['rev-parse', 'HEAD']);
  } catch (e) {
    if (bulk) await gitOk(dir, ['update-ref', '-d', tmpRef]);
    await restore(dir, touched, before);
    endJournal(dir);
    throw e;
  }
}

function endJournal(dir: string): void {
  rmSync(join(dir, WRITE_JOURNAL), { force: true });
}

/**
 * Undo the work-tree writes of a writer that died between writing files and committing them (its
 * journal is still there). Callers hold the catalog lock, so that writer cannot still be running.
 * A writer that died after its commit leaves files equal to HEAD: putting them back changes nothing.
 */
export async function recoverInterruptedWrite(dir: string): Promise<void> {
  const file = join(dir, WRITE_JOURNAL);
  let paths: string[];
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as { paths?: unknown };
    paths = Array.isArray(j.paths)
      ? j.paths.filter(
          (p): p is string =>
            typeof p === 'string' && p !== '' && !p.startsWith('/') && !p.split('/').includes('..'),
        )
      : [];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    paths = []; // garbled (killed while writing the journal itself): nothing was written yet
  }
  await restore(dir, paths, new Map(paths.map((p) => [p, null])));
  endJournal(dir);
}

/**
 * Remove what writers killed mid-commit (SIGKILL, OOM) left in .git: their temporary commit refs
 * `refs/wharf/commit-<pid>` (pid no longer alive), the temporary pack and index files of a
 * fast-import or fetch that died with them (`objects/pack/tmp_*`) and fast-import crash reports.
 * (Loose-object temp files are a single small object each, and `git gc` prunes them.) Callers hold the catalog lock, and every
 * git command that writes objects runs under it and is awaited before the lock is released, so a
 * temp file present now belongs to no live writer. (The write journal is recoverInterruptedWrite's.)
 */
export async function cleanDeadWriters(dir: string): Promise<void> {
  const refs = await git(dir, ['for-each-ref', '--format=%(refname)', 'refs/wharf/']).catch(() => '');
  const dead = refs.split('\n').filter((ref) => {
    const m = /^refs\/wharf\/commit-(\d+)$/.exec(ref);
    const pid = m ? Number(m[1]) : NaN;
    return m !== null && pid !== process.pid && !processAlive(pid);
  });
  if (dead.length)
    await gitOk(dir, ['update-ref', '--stdin'], { input: dead.map((r) => `delete ${r}\n`).join('') });
  const gitDir = join(dir, '.git');
  const objects = join(gitDir, 'objects');
  const leftovers: string[] = [];
  const names = async (d: string) => readdir(d).catch(() => [] as string[]);
  for (const f of await names(join(objects, 'pack')))
    if (f.startsWith('tmp_')) leftovers.push(join(objects, 'pack', f));
  for (const f of await names(gitDir)) {
    const m = /^fast_import_crash_(\d+)$/.exec(f);
    if (m && !processAlive(Number(m[1]))) leftovers.push(join(gitDir, f));
  }
  for (const f of leftovers) await rm(f, { force: true });
}

/**
 * Write one work-tree file, synchronously (the callers yield between chunks): thousands of tiny
 * writes through the libuv pool cost several times more on 2 cores. Existing files are overwritten
 * in place: on ext4 a replace-by-rename (or truncate-to-zero) forces block allocation and writeback,
 * ~0.3 ms a file, seconds for a 10,000-file sweep. The commit never takes its content from these
 * files (fast-import reads memory; update-index hashes exactly what was written here), and any
 * failure restores them from HEAD.
 */
function writeWorkFile(
  dir: string,
  path: string,
  text: string | null,
  exists: boolean,
  dirs: Set<string>,
): void {
  const abs = join(dir, path);
  if (text === null) return void rmSync(abs, { force: true });
  const data = Buffer.from(text);
  let fd: number;
  if (exists) fd = openSync(abs, 'r+');
  else {
    const parent = dirname(abs);
    if (!dirs.has(parent)) mkdirSync(parent, { recursive: true });
    dirs.add(parent);
    fd = openSync(abs, 'w');
  }
  try {
    writeSync(fd, data, 0, data.length, 0);
    ftruncateSync(fd, data.length);
  } finally {
    closeSync(fd);
  }
}

/**
 * Create the commit (parent + writes) with `git fast-import` under `ref`, without touching the work
 * tree or index. Returns its sha and the trees to compare (equal trees: nothing to commit).
 */
async function importCommit(
  dir: string,
  ref: string,
  parent: string,
  paths: string[],
  writes: Map<string, string | null>,
  message: string,
): Promise<{ sha: string; tree: string; parentTree: string }> {
  const id = COMMIT_IDENTITY;
  const parts: (string | Buffer)[] = ['feature done\n'];
  const marks = new Map<string, number>();
  for (const p of paths) {
    const text = writes.get(p);
    if (text === null || text === undefined) continue;
    const data = Buffer.from(text);
    marks.set(p, marks.size + 1);
    parts.push(`blob\nmark :${marks.size}\ndata ${data.length}\n`, data, '\n');
  }
  const msg = Buffer.from(message);
  parts.push(
    `commit ${ref}\n`,
    `author ${id.name} <${id.email}> now\n`,
    `committer ${id.committerName} <${id.committerEmail}> now\n`,
    `data ${msg.length}\n`,
    msg,
    `\nfrom ${parent}\n`,
  );
  for (const p of paths) {
    const m = marks.get(p);
    parts.push(m ? `M 100644 :${m} ${quotePath(p)}\n` : `D ${quotePath(p)}\n`);
  }
  parts.push('\ndone\n');
  const stream = Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x) : x)));
  await git(dir, ['fast-import', '--quiet', '--date-format=now', '--done'], { input: stream });
  const [sha, tree, parentTree] = (
    await git(dir, ['rev-parse', ref, `${ref}^{tree}`, `${parent}^{tree}`])
  ).split('\n') as [string, string, string];
  return { sha, tree, parentTree };
}

/** A path as fast-import reads it: C-style quoted (spaces, quotes, newlines are all safe). */
function quotePath(p: string): string {
  return `"${p.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

/** Put touched paths back as they are at HEAD (removing ones HEAD does not have). */
async function restore(dir: string, paths: string[], before: Map<string, string | null>): Promise<void> {
  if (paths.length === 0) return;
  const hasHead = (await head(dir)) !== null;
  const list = { input: paths.join('\0') + '\0' };
  const fromFile = ['--pathspec-from-file=-', '--pathspec-file-nul'];
  await gitOk(dir, ['--literal-pathspecs', 'reset', '-q', ...fromFile], list);
  let inHead = new Set<string>();
  if (hasHead) {
    const out = await git(dir, ['cat-file', '--batch-check=%(objectname)'], {
      input: paths.map((p) => `HEAD:${p}\n`).join(''),
    }).catch(() => '');
    const lines = out.split('\n');
    inHead = new Set(paths.filter((_, i) => lines[i] !== undefined && !lines[i]!.endsWith(' missing')));
  }
  const back = paths.filter((p) => inHead.has(p));
  if (back.length)
    await gitOk(dir, ['--literal-pathspecs', 'checkout', 'HEAD', ...fromFile], {
      input: back.join('\0') + '\0',
    });
  for (const p of paths)
    if (!inHead.has(p) && (before.get(p) === null || !hasHead)) await rm(join(dir, p), { force: true });
}
