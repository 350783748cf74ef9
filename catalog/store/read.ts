// Reading the work tree: parse and validate catalog files into records. Bad files become problems
// naming file, line and field; one bad app never hides the others.
import { readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from '../git.ts';
import { CatalogFileError, parseCatalogFile, type Problem } from '../format.ts';
import { assertAppId } from '../names.ts';
import { dropRepositoryClashes } from '../repos.ts';
import {
  zApp,
  zArtifact,
  zCatalogConfig,
  zUpstreamState,
  IMAGE_KINDS,
  type CatalogConfig,
} from '../schema.ts';
import {
  APP_DIR_RE,
  CONFIG_FILE,
  appDir,
  inChunks,
  pathExists,
  readText,
  readTextSync,
  type AppEntry,
  type CatalogSnapshot,
} from './layout.ts';

/** Parse a file or throw a CatalogFileError naming file, line and field. */
export function parseOrThrow<T>(
  file: string,
  text: string,
  schema: { safeParse: (v: unknown) => unknown } & object,
): T {
  const r = parseCatalogFile(file, text, schema as never);
  if (!r.ok) throw new CatalogFileError(r.problems);
  return r.value as T;
}

export async function readConfig(dir: string): Promise<CatalogConfig> {
  const t = await readText(dir, CONFIG_FILE);
  return parseOrThrow(CONFIG_FILE, t ?? '{}\n', zCatalogConfig);
}

export async function head(dir: string): Promise<string | null> {
  try {
    return await git(dir, ['rev-parse', '--verify', '-q', 'HEAD']);
  } catch {
    return null;
  }
}

/** App directory names, sorted. */
export async function appIds(dir: string): Promise<string[]> {
  try {
    const ents = await readdir(join(dir, 'apps'), { withFileTypes: true });
    return ents
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** An app directory's known files (app, upstream, artifacts), catalog-relative. */
export async function listAppFiles(dir: string, id: string): Promise<string[]> {
  const base = appDir(id);
  const out: string[] = [];
  for (const f of ['app.yml', 'upstream.json'])
    if (await pathExists(join(dir, base, f))) out.push(`${base}/${f}`);
  for (const kind of IMAGE_KINDS) {
    try {
      for (const f of await readdir(join(dir, base, 'artifacts', kind))) {
        if (f.endsWith('.json')) out.push(`${base}/artifacts/${kind}/${f}`);
      }
    } catch {
      /* no artifacts of this kind */
    }
  }
  return out;
}

/** Load one app with its upstream state and artifacts; throws CatalogFileError on bad files. */
export function loadApp(dir: string, id: string): AppEntry | undefined {
  const problems: Problem[] = [];
  const e = loadAppFrom(dir, assertAppId(id), problems, new FsListing(dir));
  if (problems.length) throw new CatalogFileError(problems);
  return e;
}

/** Names in a catalog directory (relative path); `dirsOnly`: subdirectories only. Null: no such directory. */
export interface Listing {
  list(dir: string, dirsOnly?: boolean): string[] | null;
}

export class FsListing implements Listing {
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
export class IndexListing implements Listing {
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

/**
 * One app from the work tree, synchronously (tens of thousands of tiny reads cost several times
 * more through the libuv pool); `files` lists directories (the file system, or git's index).
 */
export function loadAppFrom(
  dir: string,
  id: string,
  problems: Problem[],
  files: Listing,
): AppEntry | undefined {
  const base = `apps/${id}`;
  const present = new Set(files.list(base) ?? []);
  const appText = present.has('app.yml') ? readTextSync(dir, `${base}/app.yml`) : null;
  if (appText === null) {
    // A directory without app.yml is a problem unless it holds none of the app's files (e.g. after a removal).
    const known =
      present.has('upstream.json') ||
      IMAGE_KINDS.some((k) => (files.list(`${base}/artifacts/${k}`) ?? []).some((f) => f.endsWith('.json')));
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
  const upText = present.has('upstream.json') ? readTextSync(dir, `${base}/upstream.json`) : null;
  if (upText !== null) {
    const up = parseCatalogFile(`${base}/upstream.json`, upText, zUpstreamState);
    if (up.ok) entry.upstream = up.value;
    else problems.push(...up.problems);
  }
  const kinds = present.has('artifacts') ? new Set(files.list(`${base}/artifacts`) ?? []) : new Set<string>();
  for (const kind of IMAGE_KINDS) {
    if (!kinds.has(kind)) continue;
    const names = (files.list(`${base}/artifacts/${kind}`) ?? []).filter((f) => f.endsWith('.json')).sort();
    for (const f of names) {
      const path = `${base}/artifacts/${kind}/${f}`;
      const text = readTextSync(dir, path);
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

/** Parse and validate every file that `files` lists. */
export async function loadFromFiles(dir: string, files: Listing): Promise<CatalogSnapshot> {
  const problems: Problem[] = [];
  let config: CatalogConfig;
  const cfgText = await readText(dir, CONFIG_FILE);
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
      const e = loadAppFrom(dir, id, problems, files);
      if (e) apps.set(e.app.id, e);
    },
    100,
  );
  dropRepositoryClashes(apps, problems);
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  return { dir, head: await head(dir), config, apps, problems };
}
