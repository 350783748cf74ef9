// The rebuild spool: a verified webhook is answered 202 as soon as its rebuild requests are durably
// recorded, not when their catalog commit is made (each commit is ~0.3-0.5 s under the one catalog lock,
// so 100 deliveries each waiting for its own commit had p99 16-37 s, past GitHub's 10 s timeout).
//
// Appending: requests are JSON lines (zSpoolEntry) appended to this spool's live file in
// `.git/wharf-daemon/spool/` of the catalog. Concurrent appends are written together and made durable by
// one fdatasync (group commit); an append resolves only after its bytes are synced. Each file starts with
// a header line holding its batch id.
//
// Draining: one writer per spool. It rotates the live file (new appends go to a fresh one) and turns each
// closed file into ONE catalog commit (queue.ts `queueBatch`: de-duplicated per app and tag, the same
// pending records as one `queueRebuild` per request; trailer `Spool-Batch: <batch id>`), then deletes
// the file. While a commit runs, new requests pile up in the next file, so a flood becomes a few commits.
//
// Crashes: nothing acknowledged is lost. Files are named `<host>.<pid>.<nonce>.<seq>.jsonl`; on start
// (and before every drain) files of a process that is gone — same host and pid not alive, or our own
// pid with another nonce (a restarted container's pid 1), or another host's untouched for 6 hours — are
// claimed by an atomic rename (two daemons never both claim one) and drained. A daemon killed between
// its commit and deleting the file leaves a file whose batch id is already in the log: it is deleted,
// not applied twice. A line torn by a crash mid-append was never acknowledged; it is skipped.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { git } from '../../catalog/git.ts';
import { processAlive } from '../../catalog/lock.ts';
import { zAppId } from '../../catalog/names.ts';
import { zRunId } from '../../catalog/schema.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import { queueBatch, type BatchResult } from './queue.ts';
import type { DeliverySettler } from './replay.ts';

/** One spooled rebuild request: what `queueRebuild` needs, and when and why it was asked for. */
export const zSpoolEntry = z
  .object({
    v: z.literal(1),
    /** The id the webhook's 202 answer named. */
    delivery: z.string().regex(/^[0-9a-f-]{8,64}$/),
    /** When the delivery was received: the pending record's `since`. */
    at: z.string().datetime(),
    app: zAppId,
    /** A raw upstream tag (read with the app's version policy when drained). */
    tag: z.string().min(1).max(500).optional(),
    prerelease: z.boolean().optional(),
    reason: z.string().min(1).max(1000),
    runId: zRunId,
    /** The SHA-256 of the delivery key the replay guard admitted (replay.ts): de-duplicated at drain. */
    key: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  })
  .strict();
export type SpoolEntry = z.infer<typeof zSpoolEntry>;

const zHeader = z.object({ spool: z.literal(1), batch: z.string().regex(/^[0-9a-f]{16,64}$/) }).strict();

const FILE_RE = /^([A-Za-z0-9-]{1,64})\.(\d{1,10})\.([0-9a-f]{8,32})\.(\d{1,12})\.jsonl$/;
/** Another host's file this long untouched: its daemon is taken to be gone. */
const FOREIGN_STALE_MS = 6 * 3600_000;

export interface SpoolStats {
  /** Requests made durable by this spool. */
  appended: number;
  /** Requests turned into catalog records (duplicates included), and the commits that made. */
  drained: number;
  commits: number;
  /** Files drained (each one commit or none), files claimed from a dead daemon, files found already committed. */
  batches: number;
  claimed: number;
  alreadyCommitted: number;
  /** Drains that failed (the file is kept and retried), and requests whose work failed inside a batch. */
  drainFailures: number;
  failedRequests: number;
  /** Torn or invalid lines skipped. */
  skippedLines: number;
  /** Requests dropped at drain: their delivery id was taken over by a redelivery after a crash. */
  superseded: number;
}

export interface SpoolOptions {
  /** Default: `.git/wharf-daemon/spool` of the catalog. */
  dir?: string;
  /** Wait this long after the first request before draining, so a burst shares a commit (default 50 ms). */
  batchDelayMs?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Called after each drained file with its result (the daemon kicks the events job when it committed). */
  onBatch?: (r: BatchResult & { batch: string; requests: number }) => void;
  /**
   * The replay journal (replay.ts FileReplayGuard): a request carrying a delivery key is applied only
   * when the journal names its delivery — a daemon that died after spooling but before confirming the
   * id, whose redelivery was then accepted, does not queue it twice.
   */
  deliveries?: DeliverySettler;
}

const safeHost = () =>
  hostname()
    .replace(/[^A-Za-z0-9-]/g, '-')
    .slice(0, 64) || 'host';

interface Waiter {
  text: string;
  count: number;
  ok: () => void;
  fail: (e: unknown) => void;
}

export class RebuildSpool {
  readonly dir: string;
  readonly stats: SpoolStats = {
    appended: 0,
    drained: 0,
    commits: 0,
    batches: 0,
    claimed: 0,
    alreadyCommitted: 0,
    drainFailures: 0,
    failedRequests: 0,
    skippedLines: 0,
    superseded: 0,
  };
  private readonly store: CatalogStore;
  private readonly opts: SpoolOptions;
  private readonly log: NonNullable<SpoolOptions['log']>;
  private readonly host = safeHost();
  private readonly nonce = randomBytes(6).toString('hex');
  private seq = 0;
  private live: { fh: FileHandle; name: string; count: number } | null = null;
  private io: Promise<unknown> = Promise.resolve();
  private waiting: Waiter[] = [];
  private flushing = false;
  private draining: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private retryMs = 0;
  private started: Promise<void> | null = null;
  private stopped = false;

  constructor(store: CatalogStore, opts: SpoolOptions = {}) {
    this.store = store;
    this.opts = opts;
    this.dir = opts.dir ?? join(store.dir, '.git', 'wharf-daemon', 'spool');
    this.log = opts.log ?? (() => {});
  }

  private get owner(): string {
    return `${this.host}.${process.pid}.${this.nonce}`;
  }

  /** Create the directory and replay what a dead daemon left (drained in the background). Idempotent. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await mkdir(this.dir, { recursive: true });
      const left = (await this.claimOrphans()) + (await this.ownFiles()).length;
      if (left)
        this.log('info', 'spool: replaying rebuild requests left by a stopped daemon', { files: left });
      if (left) this.kick(0);
    })();
    return this.started;
  }

  /** Record requests durably; resolves once they are synced to disk (then the caller may answer 202). */
  async append(entries: SpoolEntry[]): Promise<void> {
    if (this.stopped) throw new Error('the rebuild spool is stopped');
    await this.start();
    const text = entries.map((e) => JSON.stringify(zSpoolEntry.parse(e)) + '\n').join('');
    await new Promise<void>((ok, fail) => {
      this.waiting.push({ text, count: entries.length, ok, fail });
      this.flush();
    });
    this.kick(this.opts.batchDelayMs ?? 50);
  }

  /** Serialise file work (appends and rotations) on this spool's live file. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.io.then(fn, fn);
    this.io = p.catch(() => undefined);
    return p;
  }

  private flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    void this.serial(async () => {
      while (this.waiting.length) {
        const group = this.waiting.splice(0);
        try {
          const created = !this.live;
          if (!this.live) this.live = await this.createFile();
          const header = created
            ? JSON.stringify({ spool: 1, batch: randomBytes(12).toString('hex') }) + '\n'
            : '';
          const buf = Buffer.from(header + group.map((w) => w.text).join(''));
          for (let off = 0; off < buf.length;) {
            const { bytesWritten } = await this.live.fh.write(buf, off, buf.length - off);
            off += bytesWritten;
          }
          await this.live.fh.datasync();
          if (created) await syncDir(this.dir);
          const n = group.reduce((s, w) => s + w.count, 0);
          this.live.count += n;
          this.stats.appended += n;
          for (const w of group) w.ok();
        } catch (e) {
          // A failed write may have left part of a line: later requests go to a fresh file.
          await this.closeLive().catch(() => undefined);
          for (const w of group) w.fail(e);
        }
      }
    }).finally(() => {
      this.flushing = false;
      if (this.waiting.length) this.flush();
    });
  }

  private async createFile(): Promise<{ fh: FileHandle; name: string; count: number }> {
    await mkdir(this.dir, { recursive: true });
    const name = `${this.owner}.${++this.seq}.jsonl`;
    const fh = await open(join(this.dir, name), 'wx');
    return { fh, name, count: 0 };
  }

  private async closeLive(): Promise<void> {
    const l = this.live;
    this.live = null;
    if (l) await l.fh.close();
  }

  /** Drain soon (after `delayMs`); a drain running now runs once more when it ends. */
  private kick(delayMs: number): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.drain();
    }, delayMs);
  }

  /** Turn everything recorded so far into catalog commits (one per spool file). */
  drain(): Promise<void> {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.again = false;
        const ok = await this.drainOnce();
        if (!ok) {
          // Keep the files; try again later (a held catalog lock, a failing git).
          this.retryMs = Math.min(Math.max(this.retryMs * 2, 1000), 60_000);
          this.again = false;
          break;
        }
        this.retryMs = 0;
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.draining = null;
      if (this.retryMs && !this.stopped && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = null;
          void this.drain();
        }, this.retryMs);
        this.timer.unref();
      }
    });
    return this.draining;
  }

  private async drainOnce(): Promise<boolean> {
    await this.claimOrphans();
    // Rotate: the live file is closed and drained; appends from now on go to the next one.
    // The list is taken in the same step, so a file opened by a later append is not in it.
    const files = await this.serial(async () => {
      if (this.live && this.live.count > 0) await this.closeLive();
      const live = this.live?.name;
      return (await this.ownFiles()).filter((n) => n !== live);
    });
    for (const name of files) if (!(await this.drainFile(name))) return false;
    return true;
  }

  /** This spool's files, oldest first. */
  private async ownFiles(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names
      .map((n) => ({ n, m: FILE_RE.exec(n) }))
      .filter(({ m }) => m && `${m[1]}.${m[2]}.${m[3]}` === this.owner)
      .sort((a, b) => Number(a.m![4]) - Number(b.m![4]))
      .map(({ n }) => n);
  }

  /** Take over the files of daemons that are gone (atomic rename into this spool's names). */
  private async claimOrphans(): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    let n = 0;
    for (const name of names) {
      const m = FILE_RE.exec(name);
      if (!m) continue;
      const [, host, pidStr, nonce] = m;
      const pid = Number(pidStr);
      let gone: boolean;
      if (host === this.host) gone = pid === process.pid ? nonce !== this.nonce : !processAlive(pid);
      else {
        const st = await stat(join(this.dir, name)).catch(() => null);
        gone = !!st && Date.now() - st.mtimeMs > FOREIGN_STALE_MS;
      }
      if (!gone) continue;
      const mine = `${this.owner}.${++this.seq}.jsonl`;
      try {
        await rename(join(this.dir, name), join(this.dir, mine));
        n++;
        this.stats.claimed++;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // another daemon claimed it first
      }
    }
    return n;
  }

  /** One file → one commit (or none), then the file is removed. False when the commit failed. */
  private async drainFile(name: string): Promise<boolean> {
    const path = join(this.dir, name);
    let text: string;
    let mtimeMs: number;
    try {
      [text, mtimeMs] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtimeMs)]);
    } catch {
      return true; // gone (claimed by another daemon after all)
    }
    let batch = name.replace(/\.jsonl$/, '').replace(/[^0-9a-f]/g, '');
    const read: SpoolEntry[] = [];
    let skipped = 0;
    for (const [i, line] of text.split('\n').entries()) {
      if (!line) continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        skipped++;
        continue;
      }
      if (i === 0) {
        const h = zHeader.safeParse(v);
        if (h.success) {
          batch = h.data.batch;
          continue;
        }
      }
      const e = zSpoolEntry.safeParse(v);
      if (e.success) read.push(e.data);
      else skipped++;
    }
    const entries: SpoolEntry[] = [];
    try {
      for (const e of read) {
        if (e.key && this.opts.deliveries && !(await this.opts.deliveries.settle(e.key, e.delivery))) {
          this.stats.superseded++;
          this.log('info', 'spool: request superseded by a redelivery of its id; dropped', {
            delivery: e.delivery,
            app: e.app,
          });
        } else entries.push(e);
      }
    } catch (e) {
      this.stats.drainFailures++;
      this.log('error', 'spool: could not read the delivery journal; kept for a retry', {
        error: e instanceof Error ? e.message.slice(0, 300) : 'error',
      });
      return false;
    }
    if (skipped) {
      this.stats.skippedLines += skipped;
      this.log('warn', 'spool: skipped torn or invalid lines (never acknowledged)', { file: name, skipped });
    }
    if (!entries.length) {
      await rm(path, { force: true });
      return true;
    }
    try {
      if (await this.committed(batch, mtimeMs)) {
        this.stats.alreadyCommitted++;
        this.log('info', 'spool: batch already committed before a crash; dropping its file', { batch });
        await rm(path, { force: true });
        return true;
      }
      const r = await queueBatch(
        this.store,
        entries.map((e) => ({
          app: e.app,
          ...(e.tag !== undefined ? { tag: e.tag, prerelease: !!e.prerelease } : {}),
          reason: e.reason,
          runId: e.runId,
          now: new Date(e.at),
        })),
        { extraTrailers: { 'Spool-Batch': batch } },
      );
      await rm(path, { force: true });
      this.stats.batches++;
      this.stats.drained += entries.length;
      if (r.commit) this.stats.commits++;
      this.stats.failedRequests += r.failed.length;
      const queued = r.results.reduce((s, x) => s + x.queued.length, 0);
      this.log(r.failed.length ? 'warn' : 'info', 'spool: rebuild requests committed', {
        batch,
        requests: entries.length,
        duplicates: r.duplicates,
        queued,
        commit: r.commit ?? 'none',
        ...(r.failed.length ? { failed: r.failed.map((f) => `${f.app}: ${f.error}`).join('; ') } : {}),
      });
      this.opts.onBatch?.({ ...r, batch, requests: entries.length });
      return true;
    } catch (e) {
      this.stats.drainFailures++;
      this.log('error', 'spool: could not commit rebuild requests; kept for a retry', {
        batch,
        requests: entries.length,
        error: e instanceof Error ? e.message.slice(0, 300) : 'error',
      });
      return false;
    }
  }

  /** True when a commit with this batch id exists (made after the file was last written). */
  private async committed(batch: string, mtimeMs: number): Promise<boolean> {
    if ((await this.store.head()) === null) return false;
    const since = Math.floor(mtimeMs / 1000) - 3600; // clock slack
    const out = await git(this.store.dir, [
      'log',
      '-n1',
      '--format=%H',
      `--since=@${since}`,
      '--fixed-strings',
      `--grep=Spool-Batch: ${batch}`,
    ]);
    return out.trim() !== '';
  }

  /** Resolves when every request appended so far has been drained (or a drain failed and waits). */
  async settled(): Promise<void> {
    for (;;) {
      await this.io;
      if (this.draining) {
        await this.draining;
        continue;
      }
      if (this.waiting.length || this.flushing) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      if (this.timer && !this.retryMs) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      return;
    }
  }

  /** Files waiting to be drained (the live one included when it holds requests). */
  async backlog(): Promise<number> {
    return (await this.ownFiles()).length;
  }

  /** No more appends; wait for the drain in progress, close the live file (its requests replay on start). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.draining;
    await this.serial(() => this.closeLive());
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    /* some file systems cannot sync a directory */
  } finally {
    await fh.close();
  }
}
