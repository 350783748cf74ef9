// Replay protection that survives restarts: GitHub and GitLab sign no timestamp, so the only defence
// against a captured webhook sent again is remembering its delivery id. An in-memory list forgets on
// every restart, and a second daemon on the same catalog never saw it. This journal keeps one file per
// delivery (named by the SHA-256 of the key, so neither ids nor Gitee tokens are stored) in a directory
// every daemon on the catalog shares; exclusive create (`wx`) makes "first one wins" atomic across processes.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the hook handler needs: admit a delivery once, forget it when it could not be processed. */
export interface DeliveryGuard {
  /** True when the key is new (and records it); false for a replay within the time to live. */
  admit(key: string, now?: number): boolean | Promise<boolean>;
  forget(key: string): void | Promise<void>;
}

export class FileReplayGuard implements DeliveryGuard {
  private readonly dir: string;
  private readonly ttlMs: number;

  constructor(dir: string, ttlMs = 24 * 3600_000) {
    this.dir = dir;
    this.ttlMs = ttlMs;
  }

  // Entries live in time buckets as wide as the time to live: an entry younger than the TTL is in the
  // current or the previous bucket, and pruning drops whole older buckets, so it can never delete a
  // fresh entry that a concurrent admit just wrote.
  private bucket(now: number): number {
    return Math.floor(now / this.ttlMs);
  }

  private file(bucket: number, key: string): string {
    const h = createHash('sha256').update(key).digest('hex');
    return join(this.dir, String(bucket), h);
  }

  async admit(key: string, now = Date.now()): Promise<boolean> {
    const b = this.bucket(now);
    const earlier = await seenAt(this.file(b - 1, key));
    if (earlier !== null && now - earlier < this.ttlMs) return false;
    const file = this.file(b, key);
    await mkdir(join(this.dir, String(b)), { recursive: true });
    try {
      await writeFile(file, `${now}\n`, { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    await this.prune(now).catch(() => undefined);
    return true;
  }

  async forget(key: string): Promise<void> {
    const buckets = await readdir(this.dir).catch(() => [] as string[]);
    for (const d of buckets) if (/^\d+$/.test(d)) await rm(this.file(Number(d), key), { force: true });
  }

  /** Remove the buckets that can only hold expired entries; returns how many were removed. */
  async prune(now = Date.now()): Promise<number> {
    const keep = this.bucket(now) - 1;
    const buckets = await readdir(this.dir).catch(() => [] as string[]);
    const old = buckets.filter((d) => /^\d+$/.test(d) && Number(d) < keep);
    for (const d of old) await rm(join(this.dir, d), { recursive: true, force: true });
    return old.length;
  }
}

async function seenAt(file: string): Promise<number | null> {
  try {
    const n = Number((await readFile(file, 'utf8')).trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}
