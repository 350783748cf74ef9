// A cache of the fully parsed catalog for one HEAD commit, kept in .git (never committed): loading
// a clean catalog at a commit that was already loaded once is one file read + v8 deserialisation
// instead of parsing and validating every YAML/JSON file. The key includes HEAD and a hash of the
// schema source, so a schema change (new defaults) or any commit invalidates it; the store only uses
// it when `git status` shows a clean work tree.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { CatalogSnapshot } from './store.ts';

const CACHE_FILE = join('.git', 'wharf-snapshot.v8');
const FORMAT = 1;

let schemaHash: string | undefined;
function schemaKey(): string {
  schemaHash ??= createHash('sha256')
    .update(readFileSync(new URL('./schema.ts', import.meta.url)))
    .update(readFileSync(new URL('./names.ts', import.meta.url)))
    .update(readFileSync(new URL('./store.ts', import.meta.url)))
    .digest('hex')
    .slice(0, 16);
  return `${FORMAT}:${schemaHash}`;
}

interface CacheFile {
  key: string;
  head: string;
  snapshot: Omit<CatalogSnapshot, 'dir'>;
}

export async function readSnapshotCache(
  dir: string,
  head: string,
): Promise<Omit<CatalogSnapshot, 'dir'> | null> {
  try {
    const c = deserialize(await readFile(join(dir, CACHE_FILE))) as CacheFile;
    return c.key === schemaKey() && c.head === head ? c.snapshot : null;
  } catch {
    return null;
  }
}

export async function writeSnapshotCache(dir: string, snap: CatalogSnapshot): Promise<void> {
  if (!snap.head) return;
  const { dir: _dir, ...snapshot } = snap;
  const file: CacheFile = { key: schemaKey(), head: snap.head, snapshot };
  const path = join(dir, CACHE_FILE);
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, serialize(file));
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}
