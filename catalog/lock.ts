// A cross-process lock on one machine: an exclusive-create lock file holding the owner's pid and
// start time. A lock whose owner is gone (crashed, SIGKILLed) is taken over, so a killed writer never
// wedges the catalog.
import { open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LockOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
  /** A lock older than this whose owner cannot be checked (other host) is considered stale. */
  staleMs?: number;
}

/** True while a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isStale(path: string, staleMs: number): Promise<boolean> {
  try {
    const [txt, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const [host, pidStr] = txt.split(' ');
    const pid = Number(pidStr);
    // Empty or garbled: the owner died between creating the file and writing its pid.
    if (!host || !Number.isInteger(pid) || pid <= 0) return Date.now() - st.mtimeMs > 1000;
    if (host === hostname()) return !processAlive(pid);
    return Date.now() - st.mtimeMs > staleMs;
  } catch {
    // vanished or half-written: a half-written file older than a second is stale
    try {
      const st = await stat(path);
      return Date.now() - st.mtimeMs > 1000;
    } catch {
      return false;
    }
  }
}

/**
 * Remove a stale lock without racing other waiters: two waiters can both judge the same dead lock
 * stale; without care the slower one would delete the fresh lock the faster one just took. So the
 * removal happens under a short-lived breaker file, and staleness is re-checked while holding it.
 */
async function breakStaleLock(path: string, staleMs: number): Promise<void> {
  const breaker = `${path}.break`;
  let fh;
  try {
    fh = await open(breaker, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Someone else is breaking it; a breaker left by a crash in this tiny window expires quickly.
    const st = await stat(breaker).catch(() => null);
    if (st && Date.now() - st.mtimeMs > 10_000) await rm(breaker, { force: true });
    return;
  }
  try {
    if (await isStale(path, staleMs)) await rm(path, { force: true });
  } finally {
    await fh.close();
    await rm(breaker, { force: true });
  }
}

export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const staleMs = opts.staleMs ?? 10 * 60_000;
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${hostname()} ${process.pid} ${new Date().toISOString()}`);
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (await isStale(path, staleMs)) {
        await breakStaleLock(path, staleMs);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for lock ${path}`);
      await sleep(delay + Math.random() * delay);
      // Short polls: on a busy catalog the lock changes hands many times a second.
      delay = Math.min(delay * 2, 40);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
