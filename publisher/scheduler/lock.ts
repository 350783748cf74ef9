// Job locks shared by every daemon on one catalog: an exclusive-create file holding "host pid time".
// Unlike catalog/lock.ts (which waits), a job lock is tried once: a job another daemon is running is
// skipped. A lock whose owner died (same host, pid gone) or that is older than `staleMs` (other host)
// is taken over.
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { processAlive } from '../../catalog/lock.ts';

export interface JobLock {
  release(): Promise<void>;
}

export interface LockHolder {
  host: string;
  pid: number;
  since: string;
}

export async function readHolder(path: string): Promise<LockHolder | null> {
  try {
    const [host, pid, since] = (await readFile(path, 'utf8')).trim().split(' ');
    return host && pid ? { host, pid: Number(pid), since: since ?? '' } : null;
  } catch {
    return null;
  }
}

async function stale(path: string, staleMs: number): Promise<boolean> {
  const h = await readHolder(path);
  try {
    const st = await stat(path);
    if (!h) return Date.now() - st.mtimeMs > 1000; // empty or half-written, and not just being written
    if (h.host === hostname()) return !processAlive(h.pid);
    return Date.now() - st.mtimeMs > staleMs;
  } catch {
    return false; // vanished: try again
  }
}

/** Take the lock, or return the current holder when it is held by a live owner. */
export async function tryJobLock(path: string, staleMs = 6 * 3600_000): Promise<JobLock | LockHolder> {
  await mkdir(dirname(path), { recursive: true });
  for (let i = 0; i < 3; i++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${hostname()} ${process.pid} ${new Date().toISOString()}\n`);
      await fh.close();
      return { release: () => rm(path, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (await stale(path, staleMs)) {
        await rm(path, { force: true });
        continue;
      }
      const h = await readHolder(path);
      if (h) return h;
    }
  }
  return { host: 'unknown', pid: 0, since: '' };
}

export const isLock = (x: JobLock | LockHolder): x is JobLock => 'release' in x;
