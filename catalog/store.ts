// The one way into and out of the catalog. Readers load a snapshot; writers run a transaction that
// becomes exactly one git commit (or nothing, if it changed nothing). This class composes the layers
// under catalog/store/ (see docs/catalog.md "Store layers"):
//   layout.ts    paths, record types, file helpers
//   read.ts      parsing and validating work-tree files (one app, every app)
//   snapshot.ts  load() with the snapshot cache, and the snapshot a commit derives for its new HEAD
//   history.ts   log per app / of every app, and the commits events are derived from
//   tx.ts        Tx (buffered writes) and the commit loop under the catalog lock
//   worktree.ts  the work-tree writer: files, index, commit, journal, recovery
//   sync.ts      fetch / rebase / push with a remote
import { existsSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { git, gitOk } from './git.ts';
import { withFileLock } from './lock.ts';
import type { CatalogConfig } from './schema.ts';
import * as layout from './store/layout.ts';
import { log, logByApp } from './store/history.ts';
import { appIds, head, listAppFiles, loadApp, parseOrThrow, readConfig } from './store/read.ts';
import { loadSnapshot } from './store/snapshot.ts';
import { RemoteSync } from './store/sync.ts';
import { runTransaction, type Tx } from './store/tx.ts';
import { recoverInterruptedWrite } from './store/worktree.ts';

export {
  CONFIG_FILE,
  appDir,
  appFile,
  artifactFile,
  resolveCatalogDir,
  upstreamFile,
  type AppEntry,
  type CatalogSnapshot,
  type CommitInfo,
  type CommitResult,
  type LogEntry,
  type StoreOptions,
} from './store/layout.ts';
export { Tx } from './store/tx.ts';

export class CatalogStore {
  readonly dir: string;
  private readonly opts: layout.StoreOptions;
  private readonly sync: RemoteSync;

  private constructor(dir: string, opts: layout.StoreOptions) {
    this.dir = resolve(dir);
    this.opts = opts;
    this.sync = new RemoteSync(this.dir, opts);
  }

  /** Open an existing catalog (a git work tree with wharf.yml). */
  static async open(dir: string, opts: layout.StoreOptions = {}): Promise<CatalogStore> {
    const s = new CatalogStore(dir, opts);
    try {
      await access(join(s.dir, '.git'));
    } catch {
      throw new Error(`${s.dir} is not a catalog (no git repository); run 'wharf catalog init' first`);
    }
    return s;
  }

  /** Create a catalog (idempotent): git repository, default wharf.yml, .gitignore for local blobs. */
  static async init(
    dir: string,
    config: Partial<CatalogConfig> = {},
    opts: layout.StoreOptions = {},
  ): Promise<CatalogStore> {
    const abs = resolve(dir);
    await mkdir(abs, { recursive: true });
    if (!(await gitOk(abs, ['rev-parse', '--git-dir'])) || !(await layout.pathExists(join(abs, '.git')))) {
      await git(abs, ['init', '-q', '-b', opts.branch ?? 'main']);
    }
    const s = new CatalogStore(abs, opts);
    if (!(await layout.pathExists(join(abs, layout.CONFIG_FILE)))) {
      await s.commit({ subject: 'catalog: init', trailers: { Stage: 'init' } }, async (tx) => {
        tx.putConfig(config);
        tx.putText('.gitignore', '.wharf-blobs/\n.wharf-lock\n.wharf-events/\n');
        tx.putText('apps/.keep', '');
      });
    }
    return s;
  }

  // ------------------------------------------------------------------ reading

  readText(path: string): Promise<string | null> {
    return layout.readText(this.dir, path);
  }

  /** Parse a file or throw a CatalogFileError naming file, line and field. */
  parse<T>(file: string, text: string, schema: { safeParse: (v: unknown) => unknown } & object): T {
    return parseOrThrow<T>(file, text, schema);
  }

  config(): Promise<CatalogConfig> {
    return readConfig(this.dir);
  }

  appIds(): Promise<string[]> {
    return appIds(this.dir);
  }

  listAppFiles(id: string): Promise<string[]> {
    return listAppFiles(this.dir, id);
  }

  /** Load one app with its upstream state and artifacts; throws CatalogFileError on bad files. */
  async loadApp(id: string): Promise<layout.AppEntry | undefined> {
    return loadApp(this.dir, id);
  }

  /**
   * Load everything. Bad files become problems; one bad app never hides the others.
   * A clean work tree at an already-loaded HEAD is served from a snapshot cache in .git.
   */
  async load(): Promise<layout.CatalogSnapshot> {
    if (existsSync(join(this.dir, layout.WRITE_JOURNAL))) {
      // A writer was killed mid-write (or is writing now: then the lock is taken and this is skipped).
      await withFileLock(layout.lockPath(this.dir), () => recoverInterruptedWrite(this.dir), {
        timeoutMs: 0,
      }).catch(() => undefined);
    }
    return loadSnapshot(this.dir);
  }

  head(): Promise<string | null> {
    return head(this.dir);
  }

  /** History of an app (or of the whole catalog when id is omitted), newest first. */
  log(id?: string, opts: { limit?: number; since?: string } = {}): Promise<layout.LogEntry[]> {
    return log(this.dir, id, opts);
  }

  /** History of every app at once, newest first: app id → entries (see store/history.ts). */
  logByApp(): Promise<Map<string, layout.LogEntry[]>> {
    return logByApp(this.dir);
  }

  // ------------------------------------------------------------------ writing

  /**
   * Run `mutate` and record its writes as one commit. Returns changed:false (and no commit) when the
   * writes leave every file as it was. The mutation may run more than once (after a lost push race),
   * so it must derive everything from the transaction's reads.
   *
   * `opts.snapshot`: a snapshot the caller loaded; while HEAD is still the snapshot's head, the
   * transaction reads untouched apps from it instead of re-reading and re-validating their files
   * (a sweep over 10,000 apps). After a lost race HEAD moved, so the retry reads from disk.
   */
  commit(
    info: layout.CommitInfo,
    mutate: (tx: Tx) => Promise<void> | void,
    opts: { snapshot?: layout.CatalogSnapshot } = {},
  ): Promise<layout.CommitResult> {
    return runTransaction(this.dir, this.opts, this.sync, info, mutate, opts.snapshot);
  }
}
