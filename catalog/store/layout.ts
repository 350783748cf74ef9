// Where things are in a catalog, the records it holds, and the small file helpers every layer uses.
// A catalog is a git work tree:
//   wharf.yml                                  catalog configuration
//   apps/<id>/app.yml                          the app (recipe list, upstream, metadata)
//   apps/<id>/upstream.json                    what the watcher last saw upstream
//   apps/<id>/artifacts/<kind>/<artifact>.json one record per built artifact
// and, never committed, in .git: the writers' lock, the write journal and the snapshot cache.
import { readFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { assertAppId, assertTag } from '../names.ts';
import type { App, Artifact, CatalogConfig, ImageKind, UpstreamState } from '../schema.ts';
import type { Problem } from '../format.ts';

export const CONFIG_FILE = 'wharf.yml';
/** Paths a writer is changing in the work tree right now (see worktree.ts recoverInterruptedWrite). */
export const WRITE_JOURNAL = join('.git', 'wharf-writing.json');
/** The one lock every writer (and every git command that writes the repository) holds. */
export const lockPath = (dir: string) => join(dir, '.git', 'wharf.lock');

export const appDir = (id: string) => `apps/${assertAppId(id)}`;
export const appFile = (id: string) => `${appDir(id)}/app.yml`;
export const upstreamFile = (id: string) => `${appDir(id)}/upstream.json`;
export const artifactFile = (app: string, kind: ImageKind, id: string) =>
  `${appDir(app)}/artifacts/${kind}/${assertTag(id)}.json`;

/** An app directory name as load() accepts it (the app id grammar of names.ts). */
export const APP_DIR_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

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

export interface StoreOptions {
  /** Remote name to sync with; default: 'origin' when it exists. */
  remote?: string | false;
  branch?: string;
  lockTimeoutMs?: number;
  maxAttempts?: number;
}

/** Resolve the catalog directory: --catalog, else $WHARF_CATALOG, else .wharf/catalog. */
export function resolveCatalogDir(flag?: string): string {
  return resolve(flag ?? process.env.WHARF_CATALOG ?? '.wharf/catalog');
}

/** A catalog-relative file's text; null when it does not exist. */
export async function readText(dir: string, path: string): Promise<string | null> {
  try {
    return await readFile(join(dir, path), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** readText, synchronously (tens of thousands of tiny reads cost several times more through libuv). */
export function readTextSync(dir: string, path: string): string | null {
  try {
    return readFileSync(join(dir, path), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** Run a synchronous step per item, yielding to the event loop every `size` items. */
export async function inChunks<T>(items: T[], fn: (item: T) => void, size = 500): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    if (i) await new Promise((r) => setImmediate(r));
    for (const item of items.slice(i, i + size)) fn(item);
  }
}
