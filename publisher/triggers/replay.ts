// Replay protection that survives restarts: GitHub and GitLab sign no timestamp, so the only defence
// against a captured webhook sent again is remembering its delivery id. An in-memory list forgets on
// every restart, and a second daemon on the same catalog never saw it. This journal keeps one file per
// delivery (named by the SHA-256 of the key, so neither ids nor Gitee tokens are stored) in a directory
// every daemon on the catalog shares; exclusive create (`wx`) makes "first one wins" atomic across processes.
//
// An id counts as seen only once its rebuild requests are durably spooled. `admit` records it as
// *pending*, naming the process (host, pid, nonce) and the delivery (the id the 202 answer will carry);
// `confirm` marks it *seen* after the spool append. A daemon that dies in between leaves a pending record
// whose owner is gone: a redelivery of that id takes it over (an atomic rename; two never both win) and
// is accepted — nothing was answered 202 for it. A replay of an id that was spooled is still refused:
// the record is seen, or its owner is alive, or — when the daemon died after the spool append but before
// `confirm` — the spooled request names the old delivery, and the drain (`settle`) applies only the
// request whose delivery the record names, so the id is queued once. `settle` also marks a pending
// record seen when it applies its request.
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from '../../catalog/lock.ts';

/** What the hook handler needs: admit a delivery once, forget it when it could not be processed. */
export interface DeliveryGuard {
  /** True when the key is new (and records it); false for a replay within the time to live. */
  admit(key: string, now?: number, delivery?: string): boolean | Promise<boolean>;
  forget(key: string): void | Promise<void>;
  /** The key's requests are durably spooled (or there were none): from now on it is seen. */
  confirm?(key: string): void | Promise<void>;
}

/** What the spool's drain asks: apply this spooled request of the delivery key hashed `keyHash`? */
export interface DeliverySettler {
  settle(keyHash: string, delivery: string): Promise<boolean>;
}

/** The SHA-256 of a delivery key: the journal's file name, and what a spooled request carries. */
export const deliveryKeyHash = (key: string): string => createHash('sha256').update(key).digest('hex');

const HOST =
  hostname()
    .replace(/[^A-Za-z0-9-]/g, '-')
    .slice(0, 64) || 'host';
/** One per process (not per guard): every guard of this process treats this process's records as alive. */
const NONCE = randomBytes(6).toString('hex');
const OWNER = `${HOST}.${process.pid}.${NONCE}`;
/** Another host's pending record this old: its daemon is taken to be gone (a delivery takes seconds). */
const FOREIGN_PENDING_STALE_MS = 10 * 60_000;

interface DeliveryRecord {
  at: number;
  state: 'pending' | 'seen';
  owner?: string;
  delivery?: string;
}

export class FileReplayGuard implements DeliveryGuard, DeliverySettler {
  private readonly dir: string;
  private readonly ttlMs: number;
  /** Where this process recorded each key it admitted and has not confirmed yet. */
  private readonly mine = new Map<string, { file: string; at: number; delivery: string }>();

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

  private file(bucket: number, hash: string): string {
    return join(this.dir, String(bucket), hash);
  }

  async admit(key: string, now = Date.now(), delivery = '-'): Promise<boolean> {
    const hash = deliveryKeyHash(key);
    const b = this.bucket(now);
    const line = `${now} pending ${OWNER} ${delivery}\n`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const prev = this.file(b - 1, hash);
      const earlier = await readRecord(prev);
      if (earlier && now - earlier.at < this.ttlMs) {
        if (!ownerGone(earlier, now)) return false;
        if (!(await takeOver(prev, earlier))) return false;
      }
      const file = this.file(b, hash);
      await mkdir(join(this.dir, String(b)), { recursive: true });
      try {
        await writeFile(file, line, { flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const cur = await readRecord(file);
        if (cur && ownerGone(cur, now) && (await takeOver(file, cur))) continue;
        return false;
      }
      this.mine.set(key, { file, at: now, delivery });
      await this.prune(now).catch(() => undefined);
      return true;
    }
    return false;
  }

  async confirm(key: string): Promise<void> {
    const m = this.mine.get(key);
    if (!m) return;
    this.mine.delete(key);
    await replaceRecord(m.file, `${m.at} seen - ${m.delivery}\n`);
  }

  async forget(key: string): Promise<void> {
    this.mine.delete(key);
    const hash = deliveryKeyHash(key);
    const buckets = await readdir(this.dir).catch(() => [] as string[]);
    for (const d of buckets) if (/^\d+$/.test(d)) await rm(this.file(Number(d), hash), { force: true });
  }

  /**
   * For the spool's drain: true when the spooled request of `delivery` is to be applied — the record
   * names that delivery (a pending one is marked seen now: its request is durable), or there is no
   * record (expired, forgotten). False when the record names another delivery: the id was taken over
   * by a redelivery after a crash, and that one's request is the one applied.
   */
  async settle(keyHash: string, delivery: string): Promise<boolean> {
    if (!/^[0-9a-f]{64}$/.test(keyHash)) return true;
    const buckets = (await readdir(this.dir).catch(() => [] as string[]))
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a));
    for (const d of buckets) {
      const file = this.file(Number(d), keyHash);
      const r = await readRecord(file);
      if (!r) continue;
      if (r.delivery === undefined || r.delivery === '-') return true;
      if (r.delivery !== delivery) return false;
      if (r.state === 'pending') await replaceRecord(file, `${r.at} seen - ${delivery}\n`);
      return true;
    }
    return true;
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

/** A record: `<ms>` (seen, older journals), or `<ms> pending|seen <owner>|- <delivery>|-`. */
async function readRecord(file: string): Promise<DeliveryRecord | null> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch {
    return null;
  }
  const [t, state, owner, delivery] = text.split(' ');
  const at = Number(t);
  if (!t || !Number.isFinite(at)) return null;
  if (state === undefined) return { at, state: 'seen' };
  if (state !== 'pending' && state !== 'seen') return null;
  return {
    at,
    state,
    ...(owner && owner !== '-' ? { owner } : {}),
    ...(delivery ? { delivery } : {}),
  };
}

/** A pending record whose process is gone (same host: pid not alive, or our pid with another nonce). */
function ownerGone(r: DeliveryRecord, now: number): boolean {
  if (r.state !== 'pending' || !r.owner) return false;
  const m = /^(.+)\.(\d{1,10})\.([0-9a-f]{12})$/.exec(r.owner);
  if (!m) return false;
  const [, host, pidStr, nonce] = m;
  if (host !== HOST) return now - r.at > FOREIGN_PENDING_STALE_MS;
  const pid = Number(pidStr);
  return pid === process.pid ? nonce !== NONCE : !processAlive(pid);
}

/** Move a dead owner's record out of the way; false when another admit took it first. */
async function takeOver(file: string, dead: DeliveryRecord): Promise<boolean> {
  const aside = `${file}.taken.${randomBytes(6).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const got = await readRecord(aside);
  if (!got || got.at !== dead.at || got.owner !== dead.owner || got.delivery !== dead.delivery) {
    // Another admit took the dead record over first and wrote its own: put that one back.
    await link(aside, file).catch(() => undefined);
    await rm(aside, { force: true });
    return false;
  }
  await rm(aside, { force: true });
  return true;
}

/** Rewrite a record atomically (a reader sees the old or the new line, never a torn one). */
async function replaceRecord(file: string, line: string): Promise<void> {
  const tmp = `${file}.tmp.${randomBytes(6).toString('hex')}`;
  await writeFile(tmp, line);
  await rename(tmp, file);
}
