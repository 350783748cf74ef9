// The event outbox: a local, durable journal under <catalog>/.wharf-events/ (git-ignored).
//
// Format: outbox.jsonl, one JSON entry per line, appended with O_APPEND + fsync under a lock file
// (catalog/lock.ts). The current state is the fold of all lines:
//   {op:"events", cursor, events:[{event, subs}]}   events derived from commits up to `cursor` (atomic: one line)
//   {op:"attempt", sub, id, at, error, status?, next}  a failed delivery; retry after `next`
//   {op:"delivered", sub, id, at, status}            a 2xx answer
//   {op:"dead", sub, id, at, error}                  given up after N attempts
//   {op:"replay", sub, id, at}                       queue again (wharf events replay)
// A torn last line (crash mid-write) is ignored and cut off before the next append. Events are keyed by
// their stable id, so re-deriving the same commits never queues a delivery twice. Compaction rewrites the
// journal atomically (tmp file, fsync, rename) keeping undelivered work and the newest history.
import { mkdir, open, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withFileLock } from '../../catalog/lock.ts';
import type { WharfEvent } from './types.ts';

export const OUTBOX_DIR = '.wharf-events';
const JOURNAL = 'outbox.jsonl';

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface Delivery {
  sub: string;
  id: string;
  status: DeliveryStatus;
  attempts: number;
  /** Epoch ms before which no retry is made. */
  next: number;
  lastError?: string;
  lastStatus?: number;
  at?: string;
}

export type JournalEntry =
  | { op: 'events'; cursor: string | null; events: { event: WharfEvent; subs: string[] }[] }
  | {
      op: 'attempt';
      sub: string;
      id: string;
      at: string;
      error: string;
      status?: number;
      next: number;
      attempts?: number;
    }
  | { op: 'delivered'; sub: string; id: string; at: string; status: number }
  | { op: 'dead'; sub: string; id: string; at: string; error: string; status?: number; attempts?: number }
  | { op: 'replay'; sub: string; id: string; at: string };

export interface OutboxState {
  cursor: string | null;
  /** Events in outbox order (the order of the commits they came from). */
  events: WharfEvent[];
  byId: Map<string, { event: WharfEvent; seq: number }>;
  /** sub → id → delivery */
  deliveries: Map<string, Map<string, Delivery>>;
}

const emptyState = (): OutboxState => ({ cursor: null, events: [], byId: new Map(), deliveries: new Map() });

export class Outbox {
  readonly dir: string;
  private readonly file: string;
  private state = emptyState();
  private offset = 0;
  private ino = -1;
  private initialised = false;
  // In-process serialisation: the file lock guards against other processes, these against our own
  // concurrent callers (two refreshes reading the same bytes would apply them twice).
  private lockChain: Promise<unknown> = Promise.resolve();
  private readChain: Promise<unknown> = Promise.resolve();

  constructor(catalogDir: string) {
    this.dir = join(catalogDir, OUTBOX_DIR);
    this.file = join(this.dir, JOURNAL);
  }

  /** Run `fn` holding the outbox lock, with the state brought up to date first. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = async () => {
      await this.ensureDir();
      return withFileLock(join(this.dir, 'lock'), async () => {
        await this.refresh(true);
        return fn();
      });
    };
    const p = this.lockChain.then(run, run);
    this.lockChain = p.catch(() => {});
    return p;
  }

  /** Create the directory; its own .gitignore keeps it out of git even in catalogs made before it existed. */
  private async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFile(join(this.dir, '.gitignore'), '*\n', { flag: 'wx' }).catch(() => {});
  }

  /** Bring the in-memory state up to date with the journal (reads only what was appended since). */
  refresh(repairTail = false): Promise<OutboxState> {
    const run = () => this.refreshNow(repairTail);
    const p = this.readChain.then(run, run);
    this.readChain = p.catch(() => {});
    return p;
  }

  private async refreshNow(repairTail: boolean): Promise<OutboxState> {
    let st;
    try {
      st = await stat(this.file);
    } catch {
      this.state = emptyState();
      this.offset = 0;
      this.ino = -1;
      this.initialised = true;
      return this.state;
    }
    if (st.ino !== this.ino || st.size < this.offset || !this.initialised) {
      this.state = emptyState();
      this.offset = 0;
      this.ino = st.ino;
      this.initialised = true;
    }
    if (st.size === this.offset) return this.state;
    const fh = await open(this.file, 'r');
    try {
      const len = st.size - this.offset;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, this.offset);
      const lastNl = buf.lastIndexOf(10);
      const complete = lastNl < 0 ? 0 : lastNl + 1;
      for (const line of buf.subarray(0, complete).toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          apply(this.state, JSON.parse(line) as JournalEntry);
        } catch {
          /* a corrupt line in the middle cannot come from our appends; skip it */
        }
      }
      this.offset += complete;
      // A torn tail (crash mid-append): cut it off so the next append starts on a fresh line.
      if (repairTail && complete < len) await truncate(this.file, this.offset);
    } finally {
      await fh.close();
    }
    return this.state;
  }

  get snapshot(): OutboxState {
    return this.state;
  }

  /** Append entries durably (one write, then fsync). Call inside locked(). */
  async append(entries: JournalEntry[]): Promise<void> {
    if (!entries.length) return;
    const text = entries.map((e) => JSON.stringify(e)).join('\n') + '\n';
    const fh = await open(this.file, 'a');
    try {
      await fh.write(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.refresh();
  }

  /** Pending deliveries of one subscription, in event order. */
  pendingFor(sub: string): Delivery[] {
    const m = this.state.deliveries.get(sub);
    if (!m) return [];
    return [...m.values()]
      .filter((d) => d.status === 'pending')
      .sort((a, b) => this.state.byId.get(a.id)!.seq - this.state.byId.get(b.id)!.seq);
  }

  counts(): Record<DeliveryStatus, number> {
    const c = { pending: 0, delivered: 0, dead: 0 };
    for (const m of this.state.deliveries.values()) for (const d of m.values()) c[d.status]++;
    return c;
  }

  /**
   * Rewrite the journal keeping the cursor, every event with an undelivered delivery, and the newest
   * `keepEvents` events with their delivery history. Atomic: tmp file + fsync + rename. Call inside locked().
   */
  async compact(keepEvents = 2000): Promise<void> {
    const s = this.state;
    const undelivered = new Set<string>();
    for (const m of s.deliveries.values())
      for (const d of m.values()) if (d.status === 'pending') undelivered.add(d.id);
    const keep = s.events.filter((e, i) => i >= s.events.length - keepEvents || undelivered.has(e.id));
    const kept = new Set(keep.map((e) => e.id));
    const lines: JournalEntry[] = [];
    const subsOf = (id: string) => [...s.deliveries].filter(([, m]) => m.has(id)).map(([sub]) => sub);
    lines.push({
      op: 'events',
      cursor: s.cursor,
      events: keep.map((event) => ({ event, subs: subsOf(event.id) })),
    });
    for (const [sub, m] of s.deliveries) {
      for (const d of m.values()) {
        if (!kept.has(d.id)) continue;
        const at = d.at ?? new Date(0).toISOString();
        if (d.status === 'delivered')
          lines.push({ op: 'delivered', sub, id: d.id, at, status: d.lastStatus ?? 200 });
        else if (d.status === 'dead')
          lines.push({ op: 'dead', sub, id: d.id, at, error: d.lastError ?? '', attempts: d.attempts });
        else if (d.attempts > 0)
          lines.push({
            op: 'attempt',
            sub,
            id: d.id,
            at,
            error: d.lastError ?? '',
            next: d.next,
            attempts: d.attempts,
          });
      }
    }
    const tmp = `${this.file}.tmp-${process.pid}`;
    const fh = await open(tmp, 'w');
    try {
      await fh.write(lines.map((e) => JSON.stringify(e)).join('\n') + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file);
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    this.initialised = false;
    await this.refresh();
  }

  /** Size of the journal in bytes (to decide when to compact). */
  async size(): Promise<number> {
    try {
      return (await stat(this.file)).size;
    } catch {
      return 0;
    }
  }

  /** Raw journal text (tests and debugging). */
  async raw(): Promise<string> {
    return readFile(this.file, 'utf8').catch(() => '');
  }
}

function apply(s: OutboxState, e: JournalEntry): void {
  switch (e.op) {
    case 'events':
      for (const { event, subs } of e.events) {
        if (s.byId.has(event.id)) continue; // re-derived: already queued
        s.byId.set(event.id, { event, seq: s.events.length });
        s.events.push(event);
        for (const sub of subs) deliveriesOf(s, sub).set(event.id, fresh(sub, event.id));
      }
      if (e.cursor) s.cursor = e.cursor;
      return;
    case 'attempt': {
      const d = deliveriesOf(s, e.sub).get(e.id);
      if (!d || d.status !== 'pending') return;
      d.attempts = e.attempts ?? d.attempts + 1;
      d.next = e.next;
      d.lastError = e.error;
      if (e.status !== undefined) d.lastStatus = e.status;
      d.at = e.at;
      return;
    }
    case 'delivered': {
      const d = deliveriesOf(s, e.sub).get(e.id);
      if (!d) return;
      d.status = 'delivered';
      d.lastStatus = e.status;
      d.at = e.at;
      return;
    }
    case 'dead': {
      const d = deliveriesOf(s, e.sub).get(e.id);
      if (!d) return;
      d.attempts = e.attempts ?? d.attempts + 1;
      d.status = 'dead';
      d.lastError = e.error;
      if (e.status !== undefined) d.lastStatus = e.status;
      d.at = e.at;
      return;
    }
    case 'replay': {
      if (!s.byId.has(e.id)) return;
      deliveriesOf(s, e.sub).set(e.id, fresh(e.sub, e.id));
      return;
    }
  }
}

const fresh = (sub: string, id: string): Delivery => ({ sub, id, status: 'pending', attempts: 0, next: 0 });

function deliveriesOf(s: OutboxState, sub: string): Map<string, Delivery> {
  let m = s.deliveries.get(sub);
  if (!m) s.deliveries.set(sub, (m = new Map()));
  return m;
}
