// The one cross-process file lock (the catalog, the event outbox, the site build, the daemon's jobs): a
// lock file holding "host pid time token". It is created atomically with its content (written to a
// private file, then hard-linked into place, so a lock is never seen empty), a lock whose owner is gone
// (crashed, SIGKILLed) is taken over under a breaker (see breakStaleLock), and release removes the
// lock only while it is still ours. `withFileLock` waits for the lock; `tryFileLock` tries once and
// says who holds it (a daemon skips a job another daemon is running).
//
// Why not proper-lockfile: it removes a stale lock and retries without re-checking, which is the very
// race the breaker closes (two waiters both judge one dead lock stale; the slower deletes the fresh
// lock the faster just took, and both run), and its mtime heartbeat needs a timer per held lock.
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LockOptions {
  /** Give up after this long (ms); 0 = try once (withFileLock then throws when the lock is held). */
  timeoutMs?: number;
  /** A lock older than this whose owner cannot be checked (other host) is considered stale. */
  staleMs?: number;
}

/** Who holds a lock, as written in the lock file. */
export interface LockHolder {
  host: string;
  pid: number;
  since: string;
}

export interface HeldLock {
  /** Remove the lock if it is still this holder's (never another's that took over a stale one). */
  release(): Promise<void>;
}

const DEFAULT_STALE_MS = 10 * 60_000;
/** A lock file without a readable owner (from an older writer, or damaged) this old is stale. */
const GARBLED_MS = 1000;
/** A breaker left by a process killed while holding it (a few ms of work) is removed after this. */
const BREAKER_STALE_MS = 10_000;

/** True while a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

function parseHolder(txt: string): LockHolder | null {
  const [host, pidStr, since] = txt.trim().split(' ');
  const pid = Number(pidStr);
  return host && Number.isInteger(pid) && pid > 0 ? { host, pid, since: since ?? '' } : null;
}

/** The holder named in a lock file, or null when there is none (or it cannot be read). */
export async function readLockHolder(path: string): Promise<LockHolder | null> {
  try {
    return parseHolder(await readFile(path, 'utf8'));
  } catch {
    return null;
  }
}

async function isStale(path: string, staleMs: number): Promise<boolean> {
  let txt: string;
  let mtimeMs: number;
  try {
    // The file is only ever replaced (never rewritten in place), so content and mtime read from the
    // same inode unless it changed hands in between; breakStaleLock re-checks under the breaker.
    const fh = await open(path, 'r');
    try {
      [txt, mtimeMs] = await Promise.all([fh.readFile('utf8'), fh.stat().then((s) => s.mtimeMs)]);
    } finally {
      await fh.close();
    }
  } catch {
    return false; // vanished: try again
  }
  const h = parseHolder(txt);
  if (!h) return Date.now() - mtimeMs > GARBLED_MS;
  if (h.host === hostname()) return !processAlive(h.pid);
  return Date.now() - mtimeMs > staleMs;
}

/**
 * Remove a stale lock without racing other waiters: two waiters can both judge the same dead lock
 * stale; without care the slower one would delete the fresh lock the faster one just took. So the
 * removal happens under a short-lived breaker file, and staleness is re-checked while holding it
 * (inside the breaker nobody else removes the lock, and a dead owner does not release it, so the
 * lock re-checked is the one removed).
 */
async function breakStaleLock(path: string, staleMs: number): Promise<void> {
  const breaker = `${path}.break`;
  let fh;
  try {
    fh = await open(breaker, 'wx');
  } catch (e) {
    if (code(e) !== 'EEXIST') throw e;
    // Someone else is breaking it (give them a moment); a breaker left by a crash in this tiny
    // window expires.
    const st = await stat(breaker).catch(() => null);
    if (st && Date.now() - st.mtimeMs > BREAKER_STALE_MS) await rm(breaker, { force: true });
    else await sleep(2 + Math.random() * 3);
    return;
  }
  try {
    if (await isStale(path, staleMs)) await rm(path, { force: true });
  } finally {
    await fh.close();
    await rm(breaker, { force: true });
  }
}

/** One attempt to create the lock with its content in place. True when taken. */
async function create(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content, { flag: 'wx' });
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if (code(e) === 'EEXIST') return false;
    if (code(e) !== 'EPERM' && code(e) !== 'ENOTSUP' && code(e) !== 'EXDEV') throw e;
    // A file system without hard links: exclusive create, then write (a reader may briefly see it
    // empty, which counts as held for GARBLED_MS).
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(content);
      await fh.close();
      return true;
    } catch (e2) {
      if (code(e2) === 'EEXIST') return false;
      throw e2;
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

function held(path: string, content: string): HeldLock {
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      const now = await readFile(path, 'utf8').catch(() => null);
      if (now === content) await rm(path, { force: true });
    },
  };
}

/**
 * Take the lock now, breaking it when its owner is gone; otherwise return who holds it. A lock that
 * changes hands during the attempt counts as held by whoever has it then.
 */
export async function tryFileLock(path: string, opts: LockOptions = {}): Promise<HeldLock | LockHolder> {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const content = `${hostname()} ${process.pid} ${new Date().toISOString()} ${randomBytes(8).toString('hex')}\n`;
  for (let i = 0; i < 3; i++) {
    if (await create(path, content)) return held(path, content);
    if (await isStale(path, staleMs)) {
      await breakStaleLock(path, staleMs);
      continue;
    }
    const h = await readLockHolder(path);
    if (h) return h;
  }
  return (await readLockHolder(path)) ?? { host: 'unknown', pid: 0, since: '' };
}

export const isHeld = (x: HeldLock | LockHolder): x is HeldLock => 'release' in x;

/** Wait for the lock (up to `timeoutMs`), run `fn` holding it, release it. */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  let lock: HeldLock;
  for (;;) {
    const got = await tryFileLock(path, opts);
    if (isHeld(got)) {
      lock = got;
      break;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for lock ${path}`);
    await sleep(delay + Math.random() * delay);
    // Short polls: on a busy catalog the lock changes hands many times a second.
    delay = Math.min(delay * 2, 40);
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
