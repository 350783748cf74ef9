// Whole-catalog snapshots: load() with its cache, and the snapshot a commit derives for its new HEAD.
// A clean work tree at an already-loaded HEAD is served from the snapshot cache in .git (see
// ../snapshot-cache.ts): parsing and validating tens of thousands of files is the slow part.
import { git } from '../git.ts';
import { parseCatalogFile, type Problem } from '../format.ts';
import { zApp, zArtifact, zCatalogConfig, zUpstreamState, IMAGE_KINDS, type Artifact } from '../schema.ts';
import { decodeSnapshotCache, openSnapshotCache, writeSnapshotCache } from '../snapshot-cache.ts';
import { APP_DIR_RE, CONFIG_FILE, type AppEntry, type CatalogSnapshot } from './layout.ts';
import { FsListing, IndexListing, head, loadAppFrom, loadFromFiles } from './read.ts';

/** Snapshots known to mirror their HEAD exactly (loaded from a clean tree, or derived from one). */
const exactSnapshots = new WeakSet<CatalogSnapshot>();

/** Load everything (see CatalogStore.load). */
export async function loadSnapshot(dir: string): Promise<CatalogSnapshot> {
  // `git status` (a child process, ~0.4 s on 40,000 files) runs while this process reads and
  // deserialises the cache; the cache is only served once the tree proved clean at that HEAD.
  const cleanP = isClean(dir);
  const cacheP = openSnapshotCache(dir);
  const at = await head(dir);
  if (at !== null) {
    const file = await cacheP;
    const cached = file && file.head === at ? decodeSnapshotCache(file.payload) : null;
    // Re-read HEAD after the status: a writer may have committed in between.
    if (cached && (await cleanP) && (await head(dir)) === at) {
      const snap = { ...cached, dir, head: at };
      exactSnapshots.add(snap);
      return snap;
    }
  }
  // Cold: parse while `git status` is still running. The files are listed by git's index (one
  // `git ls-files` instead of ~30,000 directory reads for 10,000 apps), which is only right for a
  // clean tree: when the status says otherwise, the parse is done again from the directories.
  let clean = false;
  let snap: CatalogSnapshot | undefined;
  if (at !== null) {
    const listing = await git(dir, ['ls-files', '-z', '--', 'apps']).catch(() => null);
    if (listing !== null) {
      const fromIndex = await loadFromFiles(dir, new IndexListing(listing.split('\0').filter(Boolean)));
      clean = await cleanP;
      if (clean) snap = fromIndex;
    }
  }
  snap ??= await loadFromFiles(dir, new FsListing(dir));
  // Only a snapshot that is exactly HEAD may be cached (re-check: a writer may have committed meanwhile).
  if (clean && snap.head === at) {
    exactSnapshots.add(snap);
    await writeSnapshotCache(dir, snap).catch(() => undefined);
  }
  return snap;
}

/** True when nothing under the catalog differs from HEAD (tracked or untracked, ignored files aside). */
async function isClean(dir: string): Promise<boolean> {
  try {
    return (await git(dir, ['status', '--porcelain', '--untracked-files=all'])) === '';
  } catch {
    return false;
  }
}

/**
 * After a commit made with a snapshot that exactly mirrored its parent (loaded from a clean tree),
 * cache the snapshot of the new HEAD: the parent's snapshot with the committed files re-parsed
 * (apps without app.yml before or after are re-read from disk). The next load is then warm instead of
 * parsing the whole catalog again — a sweep's commit touches thousands of apps. Best effort: any
 * doubt (problems, unusual paths) leaves no cache, and load() still checks the tree is clean.
 */
export async function cacheSnapshotAfter(
  dir: string,
  snap: CatalogSnapshot,
  writes: Map<string, string | null>,
  at: string,
): Promise<void> {
  if (!exactSnapshots.has(snap) || snap.problems.length) return;
  try {
    const next = snapshotAfter(dir, snap, writes, at);
    if (next) await writeSnapshotCache(dir, next);
  } catch {
    /* no cache: the next load parses the files */
  }
}

function snapshotAfter(
  dir: string,
  snap: CatalogSnapshot,
  writes: Map<string, string | null>,
  at: string,
): CatalogSnapshot | null {
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
      entry = loadAppFrom(dir, id, problems, new FsListing(dir));
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
  // Two apps claiming one publish repository: load() reports it (and leaves one out); so must we.
  const names = new Set<string>();
  for (const e of apps.values()) {
    if (names.has(e.app.name)) return null;
    names.add(e.app.name);
  }
  const ordered = added ? new Map([...apps].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : apps;
  const next: CatalogSnapshot = { dir, head: at, config, apps: ordered, problems: [] };
  exactSnapshots.add(next);
  return next;
}

/** The order load() lists an app's artifacts in: by kind (IMAGE_KINDS), then by file name. */
function artifactOrder(x: Artifact, y: Artifact): number {
  const k = IMAGE_KINDS.indexOf(x.kind) - IMAGE_KINDS.indexOf(y.kind);
  if (k) return k;
  const a = `${x.id}.json`;
  const b = `${y.id}.json`;
  return a < b ? -1 : a > b ? 1 : 0;
}
