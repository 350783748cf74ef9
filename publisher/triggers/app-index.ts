// Which apps a webhook's repository stands for, answered from memory. Loading the whole catalog for
// every delivery cost ~250 ms each (2,000 pushes: p99 6 s, past GitHub's 10 s timeout with a queue).
// The index maps repository keys (match.ts) to app ids and is kept fresh by the catalog HEAD: a
// delivery reads HEAD from .git (two small file reads, no process), and when it moved, `git diff
// --name-only` between the indexed and the new HEAD names the app.yml files to re-read — usually the
// one app the last rebuild commit touched. Anything unexpected (no indexed HEAD, history rewritten,
// a failing diff) rebuilds the index from a full load. Concurrent deliveries share one refresh. Trigger
// commits (the rebuild spool's batches: recipes and pending records, never a repository mapping) are
// passed over without a re-read.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git, parseTrailers } from '../../catalog/git.ts';
import type { App } from '../../catalog/schema.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import { payloadKeys, sourceKeys, upstreamKeys } from './match.ts';
import type { RepoRef } from './payload.ts';
import type { Forge } from './verify.ts';

/** HEAD's commit id read from the .git directory; null when it cannot be read that way (then ask git). */
export async function readHeadFile(dir: string): Promise<string | null> {
  try {
    const gitDir = join(dir, '.git');
    const head = (await readFile(join(gitDir, 'HEAD'), 'utf8')).trim();
    if (/^[0-9a-f]{40,64}$/.test(head)) return head;
    const ref = /^ref: (refs\/[A-Za-z0-9._/-]+)$/.exec(head)?.[1];
    if (!ref || ref.includes('..')) return null;
    try {
      const sha = (await readFile(join(gitDir, ref), 'utf8')).trim();
      if (/^[0-9a-f]{40,64}$/.test(sha)) return sha;
    } catch {
      /* packed */
    }
    const packed = await readFile(join(gitDir, 'packed-refs'), 'utf8');
    for (const line of packed.split('\n')) {
      const [sha, name] = line.split(' ');
      if (name === ref && sha && /^[0-9a-f]{40,64}$/.test(sha)) return sha;
    }
    return null;
  } catch {
    return null;
  }
}

export interface AppIndexStats {
  /** Full loads of the catalog (the first one included). */
  fullLoads: number;
  /** Incremental refreshes (a diff and a re-read of the app.yml files it named). */
  refreshes: number;
  /** Apps re-read by incremental refreshes. */
  reread: number;
  /** Trigger commits passed over without a re-read (they change no mapping: see onlyTriggers). */
  skipped: number;
}

export class AppIndex {
  readonly stats: AppIndexStats = { fullLoads: 0, refreshes: 0, reread: 0, skipped: 0 };
  private readonly store: CatalogStore;
  private head: string | null | undefined = undefined;
  private apps = new Map<string, App>();
  private byUpstream = new Map<string, Set<string>>();
  private bySource = new Map<string, Set<string>>();
  private refreshing: Promise<void> | null = null;

  constructor(store: CatalogStore) {
    this.store = store;
  }

  /** Make the index match the catalog HEAD (cheap when it already does). */
  async fresh(): Promise<void> {
    for (;;) {
      const now = (await readHeadFile(this.store.dir)) ?? (await this.store.head());
      if (this.head !== undefined && now === this.head) return;
      if (!this.refreshing) {
        this.refreshing = this.refresh(now).finally(() => (this.refreshing = null));
      }
      await this.refreshing;
      // Loop: HEAD may have moved again while we refreshed.
      if (this.head === now) return;
    }
  }

  private async refresh(target: string | null): Promise<void> {
    const from = this.head;
    if (from && target && (await this.onlyTriggers(from, target))) {
      this.head = target;
      return;
    }
    if (from && target) {
      try {
        const out = await git(this.store.dir, [
          'diff',
          '--name-only',
          '--no-renames',
          from,
          target,
          '--',
          'apps',
        ]);
        const ids = new Set<string>();
        for (const f of out.split('\n')) {
          const m = /^apps\/([^/]+)\/app\.yml$/.exec(f);
          if (m) ids.add(m[1]!);
        }
        for (const id of ids) {
          let app: App | undefined;
          try {
            app = (await this.store.loadApp(id))?.app;
          } catch {
            app = undefined; // a bad file: the app is not in the catalog until it is fixed
          }
          this.set(id, app);
        }
        this.stats.refreshes++;
        this.stats.reread += ids.size;
        this.head = target;
        return;
      } catch {
        /* fall back to a full load */
      }
    }
    const snap = await this.store.load();
    this.apps = new Map();
    this.byUpstream = new Map();
    this.bySource = new Map();
    for (const [id, e] of snap.apps) this.set(id, e.app);
    this.stats.fullLoads++;
    this.head = snap.head;
  }

  /**
   * True when every commit in from..target is a trigger commit (trailer `Stage: trigger`, written only
   * by queue.ts): those add recipes and pending records, never an app's `upstream` or `source`, so
   * no repository mapping moved and nothing needs re-reading — a batch of the rebuild spool touches
   * hundreds of app.yml files, and re-reading them would hold up every delivery waiting on the index.
   */
  private async onlyTriggers(from: string, target: string): Promise<boolean> {
    const out = await git(this.store.dir, ['log', '--format=%H %P%x1f%B%x1e', `${from}..${target}`]).catch(
      () => null,
    );
    if (out === null) return false;
    const parent = new Map<string, string>();
    for (const rec of out.split('\x1e')) {
      const [ids, msg] = rec.split('\x1f');
      const [sha, ...parents] = (ids ?? '').trim().split(' ');
      if (!sha || msg === undefined) continue;
      if (parents.length !== 1 || parseTrailers(msg).Stage !== 'trigger') return false;
      parent.set(sha, parents[0]!);
    }
    // A straight line of them on top of the indexed HEAD (not a rewritten history).
    let at = target;
    for (let n = 0; at !== from; n++) {
      const p = parent.get(at);
      if (!p || n > parent.size) return false;
      at = p;
    }
    this.stats.skipped += parent.size;
    return parent.size > 0;
  }

  private set(id: string, app: App | undefined): void {
    const old = this.apps.get(id);
    if (old) {
      for (const k of upstreamKeys(old)) this.byUpstream.get(k)?.delete(id);
      for (const k of sourceKeys(old)) this.bySource.get(k)?.delete(id);
    }
    if (!app) {
      this.apps.delete(id);
      return;
    }
    this.apps.set(id, app);
    const add = (m: Map<string, Set<string>>, k: string) => {
      let s = m.get(k);
      if (!s) m.set(k, (s = new Set()));
      s.add(id);
    };
    for (const k of upstreamKeys(app)) add(this.byUpstream, k);
    for (const k of sourceKeys(app)) add(this.bySource, k);
  }

  private lookup(m: Map<string, Set<string>>, forge: Forge, repo: RepoRef): App[] {
    const ids = new Set<string>();
    for (const k of payloadKeys(forge, repo)) for (const id of m.get(k) ?? []) ids.add(id);
    return [...ids]
      .sort()
      .map((id) => this.apps.get(id))
      .filter((a): a is App => !!a);
  }

  /** Apps whose upstream is this repository (same answer as match.ts appsForUpstream over all apps). */
  forUpstream(forge: Forge, repo: RepoRef): App[] {
    return this.lookup(this.byUpstream, forge, repo);
  }

  /** Apps built from recipes in this repository, narrowed to the touched directories when known. */
  forSource(forge: Forge, repo: RepoRef, paths: string[] | null): App[] {
    return this.lookup(this.bySource, forge, repo).filter((a) => {
      if (!paths) return true;
      const dir = a.source!.dir.replace(/\/+$/, '') + '/';
      return paths.some((p) => p.startsWith(dir));
    });
  }

  get size(): number {
    return this.apps.size;
  }
}
