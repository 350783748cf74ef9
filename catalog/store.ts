// The one way into and out of the catalog. Readers load a snapshot; writers run a transaction that
// becomes exactly one git commit (or nothing, if it changed nothing). Mutations are buffered in memory
// and only touch the work tree once they all succeeded; a failure while writing or committing restores
// the touched paths, so the work tree is never left half-written.
//
// Concurrency: a lock file serialises writers on one machine; with a remote ('origin'), every commit is
// fetched-rebased-pushed, and a rejected push re-runs the mutation against the new remote head, so
// concurrent machines never lose an update.
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { access, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { COMMIT_IDENTITY, commitMessage, git, GitError, gitOk, parseTrailers } from './git.ts';
import { withFileLock } from './lock.ts';
import { decodeSnapshotCache, openSnapshotCache, writeSnapshotCache } from './snapshot-cache.ts';
import { CatalogFileError, parseCatalogFile, toStableJson, toStableYaml, type Problem } from './format.ts';
import { assertAppId, assertTag } from './names.ts';
import {
  zApp,
  zArtifact,
  zCatalogConfig,
  zUpstreamState,
  IMAGE_KINDS,
  type App,
  type AppInput,
  type Artifact,
  type CatalogConfig,
  type ImageKind,
  type UpstreamState,
} from './schema.ts';

export const CONFIG_FILE = 'wharf.yml';
/** Paths a writer is changing in the work tree right now (see recoverInterruptedWrite). */
const WRITE_JOURNAL = join('.git', 'wharf-writing.json');
export const appDir = (id: string) => `apps/${assertAppId(id)}`;
export const appFile = (id: string) => `${appDir(id)}/app.yml`;
export const upstreamFile = (id: string) => `${appDir(id)}/upstream.json`;
export const artifactFile = (app: string, kind: ImageKind, id: string) =>
  `${appDir(app)}/artifacts/${kind}/${assertTag(id)}.json`;

export interface AppEntry {
  app: App;
  upstream?: UpstreamState;
  artifacts: Artifact[];
}

export interface CatalogSnapshot {
  dir: string;
  head: string | null;
  config: CatalogConfig;
  apps: Map<string, AppEntry>;
  /** Files that failed to parse or validate; the rest of the catalog is still loaded. */
  problems: Problem[];
}

export interface CommitInfo {
  subject: string;
  /** Trailers such as App, Version, Stage, Run-Id (written in this order). */
  trailers?: Record<string, string | undefined>;
  body?: string;
}

export interface CommitResult {
  sha: string | null;
  changed: boolean;
  /** False when a remote is configured but the push failed for a reason other than a race. */
  pushed?: boolean;
  attempts: number;
}

export interface LogEntry {
  sha: string;
  date: string;
  subject: string;
  body: string;
  trailers: Record<string, string>;
}

/** A transaction: reads see its own writes; nothing reaches disk until it returns. */
export class Tx {
  private readonly writes = new Map<string, string | null>();
  private readonly store: CatalogStore;
  /** A snapshot loaded at exactly this transaction's HEAD: reads of untouched apps come from it. */
  private readonly snapshot: CatalogSnapshot | undefined;
  constructor(store: CatalogStore, snapshot?: CatalogSnapshot) {
    this.store = store;
    this.snapshot = snapshot;
  }

  /** The snapshot's entry for an app, when the snapshot can answer for this path. */
  private cached(id: string, path: string): AppEntry | undefined {
    if (!this.snapshot || this.writes.has(path)) return undefined;
    return this.snapshot.apps.get(id);
  }

  private async read(path: string): Promise<string | null> {
    if (this.writes.has(path)) return this.writes.get(path) ?? null;
    return this.store.readText(path);
  }

  async getConfig(): Promise<CatalogConfig> {
    const t = await this.read(CONFIG_FILE);
    return this.store.parse(CONFIG_FILE, t ?? '{}\n', zCatalogConfig);
  }
  async getApp(id: string): Promise<App | undefined> {
    const f = appFile(id);
    const hit = this.cached(id, f);
    if (hit) return structuredClone(hit.app);
    const t = await this.read(f);
    return t === null ? undefined : this.store.parse(f, t, zApp);
  }
  async getUpstream(id: string): Promise<UpstreamState | undefined> {
    const f = upstreamFile(id);
    const hit = this.cached(id, f);
    if (hit) return hit.upstream && structuredClone(hit.upstream);
    const t = await this.read(f);
    return t === null ? undefined : this.store.parse(f, t, zUpstreamState);
  }
  async getArtifact(app: string, kind: ImageKind, id: string): Promise<Artifact | undefined> {
    const f = artifactFile(app, kind, id);
    const hit = this.cached(app, f);
    if (hit) {
      const a = hit.artifacts.find((x) => x.kind === kind && x.id === id);
      return a && structuredClone(a);
    }
    const t = await this.read(f);
    return t === null ? undefined : this.store.parse(f, t, zArtifact);
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
    const files = await this.store.listAppFiles(id);
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

export interface StoreOptions {
  /** Remote name to sync with; default: 'origin' when it exists. */
  remote?: string | false;
  branch?: string;
  lockTimeoutMs?: number;
  maxAttempts?: number;
}

export class CatalogStore {
  readonly dir: string;
  private readonly opts: StoreOptions;
  private remote: string | null | undefined;

  private constructor(dir: string, opts: StoreOptions) {
    this.dir = resolve(dir);
    this.opts = opts;
  }

  /** Open an existing catalog (a git work tree with wharf.yml). */
  static async open(dir: string, opts: StoreOptions = {}): Promise<CatalogStore> {
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
    opts: StoreOptions = {},
  ): Promise<CatalogStore> {
    const abs = resolve(dir);
    await mkdir(abs, { recursive: true });
    if (!(await gitOk(abs, ['rev-parse', '--git-dir'])) || !(await exists(join(abs, '.git')))) {
      await git(abs, ['init', '-q', '-b', opts.branch ?? 'main']);
    }
    const s = new CatalogStore(abs, opts);
    if (!(await exists(join(abs, CONFIG_FILE)))) {
      await s.commit({ subject: 'catalog: init', trailers: { Stage: 'init' } }, async (tx) => {
        tx.putConfig(config);
        tx.putText('.gitignore', '.wharf-blobs/\n.wharf-lock\n.wharf-events/\n');
        tx.putText('apps/.keep', '');
      });
    }
    return s;
  }

  // ------------------------------------------------------------------ reading

  async readText(path: string): Promise<string | null> {
    try {
      return await readFile(join(this.dir, path), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Parse a file or throw a CatalogFileError naming file, line and field. */
  parse<T>(file: string, text: string, schema: { safeParse: (v: unknown) => unknown } & object): T {
    const r = parseCatalogFile(file, text, schema as never);
    if (!r.ok) throw new CatalogFileError(r.problems);
    return r.value as T;
  }

  async config(): Promise<CatalogConfig> {
    const t = await this.readText(CONFIG_FILE);
    return this.parse(CONFIG_FILE, t ?? '{}\n', zCatalogConfig);
  }

  async appIds(): Promise<string[]> {
    try {
      const ents = await readdir(join(this.dir, 'apps'), { withFileTypes: true });
      return ents
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async listAppFiles(id: string): Promise<string[]> {
    const base = appDir(id);
    const out: string[] = [];
    for (const f of ['app.yml', 'upstream.json'])
      if (await exists(join(this.dir, base, f))) out.push(`${base}/${f}`);
    for (const kind of IMAGE_KINDS) {
      try {
        for (const f of await readdir(join(this.dir, base, 'artifacts', kind))) {
          if (f.endsWith('.json')) out.push(`${base}/artifacts/${kind}/${f}`);
        }
      } catch {
        /* no artifacts of this kind */
      }
    }
    return out;
  }

  /** Load one app with its upstream state and artifacts; throws CatalogFileError on bad files. */
  async loadApp(id: string): Promise<AppEntry | undefined> {
    const problems: Problem[] = [];
    const e = await this.loadAppCollect(assertAppId(id), problems);
    if (problems.length) throw new CatalogFileError(problems);
    return e;
  }

  private async loadAppCollect(id: string, problems: Problem[]): Promise<AppEntry | undefined> {
    return this.loadAppFrom(id, problems, new FsListing(this.dir));
  }

  /**
   * One app from the work tree, synchronously (tens of thousands of tiny reads cost several times
   * more through the libuv pool); `files` lists directories (the file system, or git's index).
   */
  private loadAppFrom(id: string, problems: Problem[], files: Listing): AppEntry | undefined {
    const base = `apps/${id}`;
    const present = new Set(files.list(base) ?? []);
    const appText = present.has('app.yml') ? this.readTextSync(`${base}/app.yml`) : null;
    if (appText === null) {
      // A directory without app.yml is a problem unless it holds none of the app's files (e.g. after a removal).
      const known =
        present.has('upstream.json') ||
        IMAGE_KINDS.some((k) =>
          (files.list(`${base}/artifacts/${k}`) ?? []).some((f) => f.endsWith('.json')),
        );
      if (known) problems.push({ file: `${base}/app.yml`, line: 1, field: '', message: 'missing app.yml' });
      return undefined;
    }
    const app = parseCatalogFile(`${base}/app.yml`, appText, zApp);
    if (!app.ok) {
      problems.push(...app.problems);
      return undefined;
    }
    if (app.value.id !== id) {
      problems.push({
        file: `${base}/app.yml`,
        line: 1,
        field: 'id',
        message: `id ${app.value.id} does not match directory ${id}`,
      });
    }
    const entry: AppEntry = { app: app.value, artifacts: [] };
    const upText = present.has('upstream.json') ? this.readTextSync(`${base}/upstream.json`) : null;
    if (upText !== null) {
      const up = parseCatalogFile(`${base}/upstream.json`, upText, zUpstreamState);
      if (up.ok) entry.upstream = up.value;
      else problems.push(...up.problems);
    }
    const kinds = present.has('artifacts')
      ? new Set(files.list(`${base}/artifacts`) ?? [])
      : new Set<string>();
    for (const kind of IMAGE_KINDS) {
      if (!kinds.has(kind)) continue;
      const names = (files.list(`${base}/artifacts/${kind}`) ?? []).filter((f) => f.endsWith('.json')).sort();
      for (const f of names) {
        const path = `${base}/artifacts/${kind}/${f}`;
        const text = this.readTextSync(path);
        if (text === null) continue;
        const a = parseCatalogFile(path, text, zArtifact);
        if (!a.ok) problems.push(...a.problems);
        else if (a.value.app !== id || a.value.kind !== kind || `${a.value.id}.json` !== f) {
          problems.push({
            file: path,
            line: 1,
            field: 'id',
            message: 'app, kind or id does not match the file location',
          });
        } else entry.artifacts.push(a.value);
      }
    }
    return entry;
  }

  /**
   * Load everything. Bad files become problems; one bad app never hides the others.
   * A clean work tree at an already-loaded HEAD is served from a snapshot cache in .git (see
   * snapshot-cache.ts): parsing and validating tens of thousands of files is the slow part.
   */
  async load(): Promise<CatalogSnapshot> {
    if (existsSync(join(this.dir, WRITE_JOURNAL))) {
      // A writer was killed mid-write (or is writing now: then the lock is taken and this is skipped).
      await withFileLock(this.lockPath(), () => this.recoverInterruptedWrite(), { timeoutMs: 0 }).catch(
        () => undefined,
      );
    }
    // `git status` (a child process, ~0.4 s on 40,000 files) runs while this process reads and
    // deserialises the cache; the cache is only served once the tree proved clean at that HEAD.
    const cleanP = this.isClean();
    const cacheP = openSnapshotCache(this.dir);
    const head = await this.head();
    if (head !== null) {
      const file = await cacheP;
      const cached = file && file.head === head ? decodeSnapshotCache(file.payload) : null;
      // Re-read HEAD after the status: a writer may have committed in between.
      if (cached && (await cleanP) && (await this.head()) === head) {
        const snap = { ...cached, dir: this.dir, head };
        exactSnapshots.add(snap);
        return snap;
      }
    }
    // Cold: parse while `git status` is still running. The files are listed by git's index (one
    // `git ls-files` instead of ~30,000 directory reads for 10,000 apps), which is only right for a
    // clean tree: when the status says otherwise, the parse is done again from the directories.
    let clean = false;
    let snap: CatalogSnapshot | undefined;
    if (head !== null) {
      const listing = await git(this.dir, ['ls-files', '-z', '--', 'apps']).catch(() => null);
      if (listing !== null) {
        const fromIndex = await this.loadFromFiles(new IndexListing(listing.split('\0').filter(Boolean)));
        clean = await cleanP;
        if (clean) snap = fromIndex;
      }
    }
    snap ??= await this.loadFromFiles(new FsListing(this.dir));
    // Only a snapshot that is exactly HEAD may be cached (re-check: a writer may have committed meanwhile).
    if (clean && snap.head === head) {
      exactSnapshots.add(snap);
      await writeSnapshotCache(this.dir, snap).catch(() => undefined);
    }
    return snap;
  }

  /** True when nothing under the catalog differs from HEAD (tracked or untracked, ignored files aside). */
  private async isClean(): Promise<boolean> {
    try {
      return (await git(this.dir, ['status', '--porcelain', '--untracked-files=all'])) === '';
    } catch {
      return false;
    }
  }

  /** Parse and validate every file that `files` lists. */
  private async loadFromFiles(files: Listing): Promise<CatalogSnapshot> {
    const problems: Problem[] = [];
    let config: CatalogConfig;
    const cfgText = await this.readText(CONFIG_FILE);
    const cfg = parseCatalogFile(CONFIG_FILE, cfgText ?? '{}\n', zCatalogConfig);
    if (cfg.ok) config = cfg.value;
    else {
      problems.push(...cfg.problems);
      config = zCatalogConfig.parse({});
    }
    const ids = (files.list('apps', true) ?? []).sort();
    const apps = new Map<string, AppEntry>();
    await inChunks(
      ids,
      (id) => {
        if (!APP_DIR_RE.test(id)) {
          problems.push({
            file: `apps/${id}`,
            line: 1,
            field: 'id',
            message: 'directory name is not a valid app id',
          });
          return;
        }
        const e = this.loadAppFrom(id, problems, files);
        if (e) apps.set(e.app.id, e);
      },
      100,
    );
    problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
    return { dir: this.dir, head: await this.head(), config, apps, problems };
  }

  async head(): Promise<string | null> {
    try {
      return await git(this.dir, ['rev-parse', '--verify', '-q', 'HEAD']);
    } catch {
      return null;
    }
  }

  /** History of an app (or of the whole catalog when id is omitted), newest first. */
  async log(id?: string, opts: { limit?: number; since?: string } = {}): Promise<LogEntry[]> {
    if ((await this.head()) === null) return [];
    const args = ['log', '--format=%H%x1f%aI%x1f%B%x1e'];
    if (opts.limit) args.push(`-n${opts.limit}`);
    if (opts.since) args.push(`${opts.since}..HEAD`);
    if (id) args.push('--', appDir(id));
    const out = await git(this.dir, args);
    return out
      .split('\x1e')
      .map((r) => r.trim())
      .filter(Boolean)
      .map((r) => {
        const [sha, date, msg] = r.split('\x1f') as [string, string, string];
        const [subject, ...rest] = msg.split('\n');
        return {
          sha,
          date,
          subject: subject ?? '',
          body: rest.join('\n').trim(),
          trailers: parseTrailers(msg),
        };
      });
  }

  /**
   * History of every app at once, newest first (what `log(id)` gives per app, from one `git log`
   * instead of one per app): app id → entries. Commits touching several apps appear under each.
   */
  async logByApp(): Promise<Map<string, LogEntry[]>> {
    const byApp = new Map<string, LogEntry[]>();
    if ((await this.head()) === null) return byApp;
    const out = await git(this.dir, ['log', '--format=%x1e%H%x1f%aI%x1f%B%x1f', '--name-only', '--', 'apps']);
    for (const rec of out.split('\x1e')) {
      const [sha, date, msg, names] = rec.split('\x1f') as [string, string, string, string | undefined];
      if (!sha || msg === undefined) continue;
      const [subject, ...rest] = msg.split('\n');
      const entry: LogEntry = {
        sha: sha.trim(),
        date,
        subject: subject ?? '',
        body: rest.join('\n').trim(),
        trailers: parseTrailers(msg),
      };
      const ids = new Set<string>();
      for (const line of (names ?? '').split('\n')) {
        const m = /^apps\/([^/]+)\//.exec(line.trim());
        if (m) ids.add(m[1]!);
      }
      for (const id of ids) {
        const list = byApp.get(id);
        if (list) list.push(entry);
        else byApp.set(id, [entry]);
      }
    }
    return byApp;
  }

  // ------------------------------------------------------------------ writing

  /**
   * After a commit made with a snapshot that exactly mirrored its parent (loaded from a clean tree),
   * cache the snapshot of the new HEAD: the parent's snapshot with the committed files re-parsed
   * (apps without app.yml before or after are re-read from disk). The next load is then warm instead of
   * parsing the whole catalog again — a sweep's commit touches thousands of apps. Best effort: any
   * doubt (problems, unusual paths) leaves no cache, and load() still checks the tree is clean.
   */
  private async cacheSnapshotAfter(
    snap: CatalogSnapshot,
    writes: Map<string, string | null>,
    head: string,
  ): Promise<void> {
    if (!exactSnapshots.has(snap) || snap.problems.length) return;
    try {
      const next = await this.snapshotAfter(snap, writes, head);
      if (next) await writeSnapshotCache(this.dir, next);
    } catch {
      /* no cache: the next load parses the files */
    }
  }

  private async snapshotAfter(
    snap: CatalogSnapshot,
    writes: Map<string, string | null>,
    head: string,
  ): Promise<CatalogSnapshot | null> {
    let config = snap.config;
    const byApp = new Map<string, [string, string | null][]>();
    for (const [path, text] of writes) {
      if (path === CONFIG_FILE) {
        const r = parseCatalogFile(CONFIG_FILE, text ?? '{}\n', zCatalogConfig);
        if (!r.ok) return null;
        config = r.value;
        continue;
      }
      const m = /^apps\/([^/]+)\/(.+)$/.exec(path);
      if (!m) continue; // outside app directories: not part of the snapshot
      if (!APP_DIR_RE.test(m[1]!)) return null;
      const list = byApp.get(m[1]!) ?? [];
      list.push([m[2]!, text]);
      byApp.set(m[1]!, list);
    }
    const apps = new Map(snap.apps);
    let added = false;
    for (const [id, files] of byApp) {
      const old = apps.get(id);
      const appYml = files.find(([f]) => f === 'app.yml');
      let entry: AppEntry | undefined;
      if (!old || (appYml && appYml[1] === null)) {
        // New app, or app.yml removed: read the directory as load() would.
        const problems: Problem[] = [];
        entry = await this.loadAppCollect(id, problems);
        if (problems.length) return null;
      } else {
        entry = { ...old, artifacts: [...old.artifacts] };
        for (const [file, text] of files) {
          const path = `apps/${id}/${file}`;
          if (file === 'app.yml') {
            const r = parseCatalogFile(path, text!, zApp);
            if (!r.ok || r.value.id !== id) return null;
            entry.app = r.value;
          } else if (file === 'upstream.json') {
            if (text === null) delete entry.upstream;
            else {
              const r = parseCatalogFile(path, text, zUpstreamState);
              if (!r.ok) return null;
              entry.upstream = r.value;
            }
          } else if (file.startsWith('artifacts/')) {
            const a = /^artifacts\/([^/]+)\/([^/]+)\.json$/.exec(file);
            if (!a || !(IMAGE_KINDS as readonly string[]).includes(a[1]!)) return null;
            const rest = entry.artifacts.filter((x) => !(x.kind === a[1] && x.id === a[2]));
            if (text !== null) {
              const r = parseCatalogFile(path, text, zArtifact);
              if (!r.ok || r.value.app !== id || r.value.kind !== a[1] || r.value.id !== a[2]) return null;
              rest.push(r.value);
            }
            entry.artifacts = rest.sort(artifactOrder);
          }
          // Any other file in an app directory is not read by load() either.
        }
      }
      if (entry) {
        if (!apps.has(id)) added = true;
        apps.set(id, entry);
      } else apps.delete(id);
    }
    const ordered = added ? new Map([...apps].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : apps;
    const next: CatalogSnapshot = { dir: this.dir, head, config, apps: ordered, problems: [] };
    exactSnapshots.add(next);
    return next;
  }

  private async remoteName(): Promise<string | null> {
    if (this.remote !== undefined) return this.remote;
    if (this.opts.remote === false) return (this.remote = null);
    const want = this.opts.remote ?? 'origin';
    const remotes = (await git(this.dir, ['remote'])).split('\n').map((s) => s.trim());
    return (this.remote = remotes.includes(want) ? want : null);
  }

  private branchName: string | undefined;
  private async branch(): Promise<string> {
    if (this.opts.branch) return this.opts.branch;
    this.branchName ??=
      (await git(this.dir, ['symbolic-ref', '--short', 'HEAD']).catch(() => 'main')) || 'main';
    return this.branchName;
  }

  /**
   * Run `mutate` and record its writes as one commit. Returns changed:false (and no commit) when the
   * writes leave every file as it was. The mutation may run more than once (after a lost push race),
   * so it must derive everything from the transaction's reads.
   *
   * `opts.snapshot`: a snapshot the caller loaded; while HEAD is still the snapshot's head, the
   * transaction reads untouched apps from it instead of re-reading and re-validating their files
   * (a sweep over 10,000 apps). After a lost race HEAD moved, so the retry reads from disk.
   */
  async commit(
    info: CommitInfo,
    mutate: (tx: Tx) => Promise<void> | void,
    opts: { snapshot?: CatalogSnapshot } = {},
  ): Promise<CommitResult> {
    const maxAttempts = this.opts.maxAttempts ?? 8;
    return withFileLock(
      this.lockPath(),
      async () => {
        await this.recoverInterruptedWrite();
        const remote = await this.remoteName();
        const branch = await this.branch();
        for (let attempt = 1; ; attempt++) {
          if (remote) await this.syncFromRemote(remote, branch);
          const snap =
            opts.snapshot && opts.snapshot.head === (await this.head()) ? opts.snapshot : undefined;
          const tx = new Tx(this, snap);
          await mutate(tx);
          const sha = await this.writeAndCommit(tx.pending(), info);
          if (!sha) return { sha: null, changed: false, attempts: attempt };
          const kept = async (r: CommitResult) => {
            if (snap) await this.cacheSnapshotAfter(snap, tx.pending(), sha);
            return r;
          };
          if (!remote) return kept({ sha, changed: true, attempts: attempt });
          const push = await this.push(remote, branch);
          if (push === 'ok') return kept({ sha, changed: true, pushed: true, attempts: attempt });
          if (push === 'rejected' && attempt < maxAttempts) {
            // Someone else pushed first: drop our commit and redo the mutation on their head.
            await git(this.dir, ['reset', '-q', '--hard', 'HEAD~1']);
            await sleepJitter(attempt);
            continue;
          }
          return kept({ sha, changed: true, pushed: false, attempts: attempt });
        }
      },
      { timeoutMs: this.opts.lockTimeoutMs ?? 300_000 },
    );
  }

  private async syncFromRemote(remote: string, branch: string): Promise<void> {
    try {
      await git(this.dir, ['fetch', '-q', remote, branch]);
    } catch (e) {
      // An empty remote has no branch yet; anything else (offline) leaves us working locally.
      if (e instanceof GitError && /couldn't find remote ref/i.test(e.stderr)) return;
      return;
    }
    const ahead = await git(this.dir, ['rev-list', '--count', `${remote}/${branch}..HEAD`]).catch(() => '0');
    if (ahead === '0' || (await this.head()) === null) {
      await git(this.dir, ['reset', '-q', '--hard', `${remote}/${branch}`]);
      return;
    }
    // Local commits that never reached the remote (an earlier push failed): replay them on top.
    if (!(await gitOk(this.dir, ['rebase', '-q', `${remote}/${branch}`]))) {
      await gitOk(this.dir, ['rebase', '--abort']);
    }
  }

  private async push(remote: string, branch: string): Promise<'ok' | 'rejected' | 'failed'> {
    try {
      await git(this.dir, ['push', '-q', remote, `HEAD:refs/heads/${branch}`]);
      await gitOk(this.dir, ['update-ref', `refs/remotes/${remote}/${branch}`, 'HEAD']);
      return 'ok';
    } catch (e) {
      const msg = e instanceof GitError ? e.stderr : String(e);
      return /rejected|non-fast-forward|fetch first|cannot lock ref|failed to update ref/i.test(msg)
        ? 'rejected'
        : 'failed';
    }
  }

  private async writeAndCommit(writes: Map<string, string | null>, info: CommitInfo): Promise<string | null> {
    if (writes.size === 0) return null;
    // Only files whose bytes change are written and staged: idempotent stages and quiet sweeps touch
    // nothing, and a sweep over 10,000 apps stages just the handful that moved.
    const all = [...writes.keys()].sort();
    const before = new Map<string, string | null>();
    await inChunks(all, (p) => void before.set(p, this.readTextSync(p)));
    const paths = all.filter((p) => before.get(p) !== (writes.get(p) ?? null));
    if (paths.length === 0) return null;
    const parent = await this.head();
    const message = commitMessage(info.subject, info.trailers ?? {}, info.body);
    const touched: string[] = [];
    // Large commits: the commit is built from memory by `git fast-import` (one pack instead of a
    // loose object per blob and per changed tree, which costs seconds for a 10,000-file sweep) under a
    // temporary ref; HEAD only moves once the work tree and index agree with it.
    const bulk = parent !== null && paths.length >= BULK_COMMIT_PATHS;
    const tmpRef = `refs/wharf/commit-${process.pid}`;
    try {
      if (bulk) await gitOk(this.dir, ['update-ref', '-d', tmpRef]); // left by a killed writer
      const imported = bulk ? await this.importCommit(tmpRef, parent, paths, writes, message) : null;
      // Files are overwritten in place (see writeFileSync), so a writer killed now could leave a torn
      // file: the journal names every path about to change, and the next writer (or load) puts them
      // back as HEAD has them.
      writeFileSync(join(this.dir, WRITE_JOURNAL), JSON.stringify({ pid: process.pid, paths }) + '\n');
      const dirs = new Set<string>();
      await inChunks(paths, (p) => {
        touched.push(p);
        this.writeFileSync(p, writes.get(p) ?? null, before.get(p) !== null, dirs);
      });
      // update-index reads paths from stdin: no argv length limit, and far faster than `git add` on
      // thousands of paths. (Blobs fast-import already packed are found, not written again.)
      await git(this.dir, ['update-index', '--add', '--remove', '-z', '--stdin'], {
        input: paths.join('\0') + '\0',
      });
      if (imported) {
        if (imported.tree === imported.parentTree) {
          await gitOk(this.dir, ['update-ref', '-d', tmpRef]);
          this.endJournal();
          return null;
        }
        // Moves HEAD's branch only if it is still the parent (compare-and-swap), and drops the temp ref.
        await git(this.dir, ['update-ref', '-m', `commit: ${info.subject.split('\n')[0]}`, '--stdin'], {
          input: `update HEAD ${imported.sha} ${parent}\ndelete ${tmpRef}\n`,
        });
        this.endJournal();
        await gitOk(this.dir, ['maintenance', 'run', '--auto', '--quiet']);
        return imported.sha;
      }
      if (await gitOk(this.dir, ['diff', '--cached', '--quiet'])) {
        this.endJournal();
        return null;
      }
      await git(this.dir, ['commit', '-q', '--no-verify', '-F', '-'], { input: message });
      this.endJournal();
      return await git(this.dir, ['rev-parse', 'HEAD']);
    } catch (e) {
      if (bulk) await gitOk(this.dir, ['update-ref', '-d', tmpRef]);
      await this.restore(touched, before);
      this.endJournal();
      throw e;
    }
  }

  private lockPath(): string {
    return join(this.dir, '.git', 'wharf.lock');
  }

  private endJournal(): void {
    rmSync(join(this.dir, WRITE_JOURNAL), { force: true });
  }

  /**
   * Undo the work-tree writes of a writer that died between writing files and committing them (its
   * journal is still there). Callers hold the catalog lock, so that writer cannot still be running.
   * A writer that died after its commit leaves files equal to HEAD: putting them back changes nothing.
   */
  private async recoverInterruptedWrite(): Promise<void> {
    const file = join(this.dir, WRITE_JOURNAL);
    let paths: string[];
    try {
      const j = JSON.parse(readFileSync(file, 'utf8')) as { paths?: unknown };
      paths = Array.isArray(j.paths)
        ? j.paths.filter(
            (p): p is string =>
              typeof p === 'string' && p !== '' && !p.startsWith('/') && !p.split('/').includes('..'),
          )
        : [];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      paths = []; // garbled (killed while writing the journal itself): nothing was written yet
    }
    await this.restore(paths, new Map(paths.map((p) => [p, null])));
    this.endJournal();
  }

  private readTextSync(path: string): string | null {
    try {
      return readFileSync(join(this.dir, path), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /**
   * Write one work-tree file, synchronously (the callers yield between chunks): thousands of tiny
   * writes through the libuv pool cost several times more on 2 cores. Existing files are overwritten
   * in place: on ext4 a replace-by-rename (or truncate-to-zero) forces block allocation and writeback,
   * ~0.3 ms a file, seconds for a 10,000-file sweep. The commit never takes its content from these
   * files (fast-import reads memory; update-index hashes exactly what was written here), and any
   * failure restores them from HEAD.
   */
  private writeFileSync(path: string, text: string | null, exists: boolean, dirs: Set<string>): void {
    const abs = join(this.dir, path);
    if (text === null) return void rmSync(abs, { force: true });
    const data = Buffer.from(text);
    let fd: number;
    if (exists) fd = openSync(abs, 'r+');
    else {
      const dir = dirname(abs);
      if (!dirs.has(dir)) mkdirSync(dir, { recursive: true });
      dirs.add(dir);
      fd = openSync(abs, 'w');
    }
    try {
      writeSync(fd, data, 0, data.length, 0);
      ftruncateSync(fd, data.length);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Create the commit (parent + writes) with `git fast-import` under `ref`, without touching the work
   * tree or index. Returns its sha and the trees to compare (equal trees: nothing to commit).
   */
  private async importCommit(
    ref: string,
    parent: string,
    paths: string[],
    writes: Map<string, string | null>,
    message: string,
  ): Promise<{ sha: string; tree: string; parentTree: string }> {
    const id = COMMIT_IDENTITY;
    const parts: (string | Buffer)[] = ['feature done\n'];
    const marks = new Map<string, number>();
    for (const p of paths) {
      const text = writes.get(p);
      if (text === null || text === undefined) continue;
      const data = Buffer.from(text);
      marks.set(p, marks.size + 1);
      parts.push(`blob\nmark :${marks.size}\ndata ${data.length}\n`, data, '\n');
    }
    const msg = Buffer.from(message);
    parts.push(
      `commit ${ref}\n`,
      `author ${id.name} <${id.email}> now\n`,
      `committer ${id.committerName} <${id.committerEmail}> now\n`,
      `data ${msg.length}\n`,
      msg,
      `\nfrom ${parent}\n`,
    );
    for (const p of paths) {
      const m = marks.get(p);
      parts.push(m ? `M 100644 :${m} ${quotePath(p)}\n` : `D ${quotePath(p)}\n`);
    }
    parts.push('\ndone\n');
    const stream = Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x) : x)));
    await git(this.dir, ['fast-import', '--quiet', '--date-format=now', '--done'], { input: stream });
    const [sha, tree, parentTree] = (
      await git(this.dir, ['rev-parse', ref, `${ref}^{tree}`, `${parent}^{tree}`])
    ).split('\n') as [string, string, string];
    return { sha, tree, parentTree };
  }

  /** Put touched paths back as they are at HEAD (removing ones HEAD does not have). */
  private async restore(paths: string[], before: Map<string, string | null>): Promise<void> {
    if (paths.length === 0) return;
    const hasHead = (await this.head()) !== null;
    const list = { input: paths.join('\0') + '\0' };
    const fromFile = ['--pathspec-from-file=-', '--pathspec-file-nul'];
    await gitOk(this.dir, ['--literal-pathspecs', 'reset', '-q', ...fromFile], list);
    let inHead = new Set<string>();
    if (hasHead) {
      const out = await git(this.dir, ['cat-file', '--batch-check=%(objectname)'], {
        input: paths.map((p) => `HEAD:${p}\n`).join(''),
      }).catch(() => '');
      const lines = out.split('\n');
      inHead = new Set(paths.filter((_, i) => lines[i] !== undefined && !lines[i]!.endsWith(' missing')));
    }
    const back = paths.filter((p) => inHead.has(p));
    if (back.length)
      await gitOk(this.dir, ['--literal-pathspecs', 'checkout', 'HEAD', ...fromFile], {
        input: back.join('\0') + '\0',
      });
    for (const p of paths)
      if (!inHead.has(p) && (before.get(p) === null || !hasHead))
        await rm(join(this.dir, p), { force: true });
  }
}

/** Names in a catalog directory (relative path); `dirsOnly`: subdirectories only. Null: no such directory. */
interface Listing {
  list(dir: string, dirsOnly?: boolean): string[] | null;
}

class FsListing implements Listing {
  private readonly root: string;
  constructor(root: string) {
    this.root = root;
  }
  list(dir: string, dirsOnly = false): string[] | null {
    try {
      const ents = readdirSync(join(this.root, dir), { withFileTypes: true });
      return ents.filter((e) => !dirsOnly || e.isDirectory()).map((e) => e.name);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw e;
    }
  }
}

/** Directories as git's index has them (only for a tree known to match the index). */
class IndexListing implements Listing {
  private readonly children = new Map<string, Set<string>>();
  constructor(paths: string[]) {
    for (const p of paths) {
      let dir = '';
      for (const part of p.split('/')) {
        const set = this.children.get(dir) ?? new Set<string>();
        set.add(part);
        this.children.set(dir, set);
        dir = dir ? `${dir}/${part}` : part;
      }
    }
  }
  list(dir: string, dirsOnly = false): string[] | null {
    const set = this.children.get(dir);
    if (!set) return null;
    const names = [...set];
    return dirsOnly ? names.filter((n) => this.children.has(`${dir}/${n}`)) : names;
  }
}

/** Snapshots known to mirror their HEAD exactly (loaded from a clean tree, or derived from one). */
const exactSnapshots = new WeakSet<CatalogSnapshot>();

const APP_DIR_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** The order load() lists an app's artifacts in: by kind (IMAGE_KINDS), then by file name. */
function artifactOrder(x: Artifact, y: Artifact): number {
  const k = IMAGE_KINDS.indexOf(x.kind) - IMAGE_KINDS.indexOf(y.kind);
  if (k) return k;
  const a = `${x.id}.json`;
  const b = `${y.id}.json`;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** From this many changed paths on, a commit is built by fast-import (see writeAndCommit). */
const BULK_COMMIT_PATHS = 64;

/** A path as fast-import reads it: C-style quoted (spaces, quotes, newlines are all safe). */
function quotePath(p: string): string {
  return `"${p.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

/** Run a synchronous step per item, yielding to the event loop every `size` items. */
async function inChunks<T>(items: T[], fn: (item: T) => void, size = 500): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    if (i) await new Promise((r) => setImmediate(r));
    for (const item of items.slice(i, i + size)) fn(item);
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

function sleepJitter(attempt: number): Promise<void> {
  const ms = Math.min(2000, 20 * 2 ** attempt) * (0.5 + Math.random());
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolve the catalog directory: --catalog, else $WHARF_CATALOG, else .wharf/catalog. */
export function resolveCatalogDir(flag?: string): string {
  return resolve(flag ?? process.env.WHARF_CATALOG ?? '.wharf/catalog');
}
