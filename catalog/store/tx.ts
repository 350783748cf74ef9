// Transactions: a Tx buffers a mutation's writes in memory (its reads see its own writes), and
// runTransaction turns one into exactly one commit under the catalog lock — or nothing, if it changed
// nothing. With a remote, a lost push race re-runs the mutation against the new remote head.
import { withFileLock } from '../lock.ts';
import { toStableJson, toStableYaml } from '../format.ts';
import {
  zApp,
  zArtifact,
  zCatalogConfig,
  zUpstreamState,
  type App,
  type AppInput,
  type Artifact,
  type CatalogConfig,
  type ImageKind,
  type UpstreamState,
} from '../schema.ts';
import {
  CONFIG_FILE,
  appFile,
  artifactFile,
  lockPath,
  readText,
  upstreamFile,
  type AppEntry,
  type CatalogSnapshot,
  type CommitInfo,
  type CommitResult,
  type StoreOptions,
} from './layout.ts';
import { head, listAppFiles, parseOrThrow } from './read.ts';
import { cacheSnapshotAfter } from './snapshot.ts';
import type { RemoteSync } from './sync.ts';
import { cleanDeadWriters, recoverInterruptedWrite, writeAndCommit } from './worktree.ts';

/** A transaction: reads see its own writes; nothing reaches disk until it returns. */
export class Tx {
  private readonly writes = new Map<string, string | null>();
  private readonly dir: string;
  /** A snapshot loaded at exactly this transaction's HEAD: reads of untouched apps come from it. */
  private readonly snapshot: CatalogSnapshot | undefined;
  constructor(dir: string, snapshot?: CatalogSnapshot) {
    this.dir = dir;
    this.snapshot = snapshot;
  }

  /** The snapshot's entry for an app, when the snapshot can answer for this path. */
  private cached(id: string, path: string): AppEntry | undefined {
    if (!this.snapshot || this.writes.has(path)) return undefined;
    return this.snapshot.apps.get(id);
  }

  private async read(path: string): Promise<string | null> {
    if (this.writes.has(path)) return this.writes.get(path) ?? null;
    return readText(this.dir, path);
  }

  async getConfig(): Promise<CatalogConfig> {
    const t = await this.read(CONFIG_FILE);
    return parseOrThrow(CONFIG_FILE, t ?? '{}\n', zCatalogConfig);
  }
  async getApp(id: string): Promise<App | undefined> {
    const f = appFile(id);
    const hit = this.cached(id, f);
    if (hit) return structuredClone(hit.app);
    const t = await this.read(f);
    return t === null ? undefined : parseOrThrow(f, t, zApp);
  }
  async getUpstream(id: string): Promise<UpstreamState | undefined> {
    const f = upstreamFile(id);
    const hit = this.cached(id, f);
    if (hit) return hit.upstream && structuredClone(hit.upstream);
    const t = await this.read(f);
    return t === null ? undefined : parseOrThrow(f, t, zUpstreamState);
  }
  async getArtifact(app: string, kind: ImageKind, id: string): Promise<Artifact | undefined> {
    const f = artifactFile(app, kind, id);
    const hit = this.cached(app, f);
    if (hit) {
      const a = hit.artifacts.find((x) => x.kind === kind && x.id === id);
      return a && structuredClone(a);
    }
    const t = await this.read(f);
    return t === null ? undefined : parseOrThrow(f, t, zArtifact);
  }

  putConfig(cfg: unknown): void {
    this.writes.set(CONFIG_FILE, toStableYaml(zCatalogConfig.parse(cfg)));
  }
  putApp(app: AppInput): App {
    const parsed = zApp.parse(app);
    this.writes.set(appFile(parsed.id), toStableYaml(parsed));
    return parsed;
  }
  putUpstream(id: string, state: UpstreamState): void {
    this.writes.set(upstreamFile(id), toStableJson(zUpstreamState.parse(state)));
  }
  putArtifact(a: Artifact): Artifact {
    const parsed = zArtifact.parse(a);
    this.writes.set(artifactFile(parsed.app, parsed.kind, parsed.id), toStableJson(parsed));
    return parsed;
  }
  /** Read-modify-write of one artifact record; `fn` gets undefined when it does not exist yet. */
  async updateArtifact(
    app: string,
    kind: ImageKind,
    id: string,
    fn: (a: Artifact | undefined) => Artifact | Promise<Artifact>,
  ): Promise<Artifact> {
    return this.putArtifact(await fn(await this.getArtifact(app, kind, id)));
  }
  /** Remove an app directory's known files (app, upstream, artifacts). */
  async removeApp(id: string): Promise<void> {
    const files = await listAppFiles(this.dir, id);
    for (const f of files) this.writes.set(f, null);
  }
  /** Raw write of a catalog-relative path (for subsystems with their own files, e.g. events cursors). */
  putText(path: string, text: string | null): void {
    if (path.startsWith('/') || path.split('/').includes('..'))
      throw new Error(`path escapes catalog: ${path}`);
    this.writes.set(path, text);
  }

  /** @internal */
  pending(): Map<string, string | null> {
    return this.writes;
  }
}

/** See CatalogStore.commit. */
export async function runTransaction(
  dir: string,
  opts: StoreOptions,
  sync: RemoteSync,
  info: CommitInfo,
  mutate: (tx: Tx) => Promise<void> | void,
  snapshot: CatalogSnapshot | undefined,
): Promise<CommitResult> {
  const maxAttempts = opts.maxAttempts ?? 8;
  return withFileLock(
    lockPath(dir),
    async () => {
      await recoverInterruptedWrite(dir);
      await cleanDeadWriters(dir);
      const remote = await sync.remote();
      const branch = await sync.branch();
      for (let attempt = 1; ; attempt++) {
        if (remote) await sync.pull(remote, branch);
        const snap = snapshot && snapshot.head === (await head(dir)) ? snapshot : undefined;
        const tx = new Tx(dir, snap);
        await mutate(tx);
        const sha = await writeAndCommit(dir, tx.pending(), info);
        if (!sha) return { sha: null, changed: false, attempts: attempt };
        const kept = async (r: CommitResult) => {
          if (snap) await cacheSnapshotAfter(dir, snap, tx.pending(), sha);
          return r;
        };
        if (!remote) return kept({ sha, changed: true, attempts: attempt });
        const push = await sync.push(remote, branch);
        if (push === 'ok') return kept({ sha, changed: true, pushed: true, attempts: attempt });
        if (push === 'rejected' && attempt < maxAttempts) {
          await sync.dropLastCommit(attempt);
          continue;
        }
        return kept({ sha, changed: true, pushed: false, attempts: attempt });
      }
    },
    { timeoutMs: opts.lockTimeoutMs ?? 300_000 },
  );
}
