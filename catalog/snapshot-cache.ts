// A cache of the fully parsed catalog for one HEAD commit, kept in .git (never committed): loading
// a clean catalog at a commit that was already loaded once is one file read + v8 deserialisation
// instead of parsing and validating every YAML/JSON file. The key includes HEAD and a hash of the
// schema source, so a schema change (new defaults) or any commit invalidates it; the store only uses
// it when `git status` shows a clean work tree.
//
// File layout: one header line `wharf-snapshot <key> <head>\n`, then the v8-serialised snapshot, so a
// stale cache is recognised without deserialising tens of megabytes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { CatalogSnapshot } from './store/layout.ts';

const CACHE_FILE = join('.git', 'wharf-snapshot.v8');
const FORMAT = 2;
const MAGIC = 'wharf-snapshot';

let schemaHash: string | undefined;
function schemaKey(): string {
  schemaHash ??= createHash('sha256')
    .update(readFileSync(new URL('./schema.ts', import.meta.url)))
    .update(readFileSync(new URL('./names.ts', import.meta.url)))
    .update(readFileSync(new URL('./store/read.ts', import.meta.url)))
    .update(readFileSync(new URL('./store/snapshot.ts', import.meta.url)))
    .digest('hex')
    .slice(0, 16);
  return `${FORMAT}:${schemaHash}`;
}

export type CachedSnapshot = Omit<CatalogSnapshot, 'dir'>;

/** The cache file when it was written for `head` with the current schema (not yet deserialised). */
export async function openSnapshotCache(dir: string): Promise<{ head: string; payload: Buffer } | null> {
  try {
    const buf = await readFile(join(dir, CACHE_FILE));
    const nl = buf.indexOf(10);
    if (nl < 0 || nl > 512) return null;
    const [magic, key, head] = buf.subarray(0, nl).toString('utf8').split(' ');
    if (magic !== MAGIC || key !== schemaKey() || !head) return null;
    return { head, payload: buf.subarray(nl + 1) };
  } catch {
    return null;
  }
}

export function decodeSnapshotCache(payload: Buffer): CachedSnapshot | null {
  try {
    return deserialize(payload) as CachedSnapshot;
  } catch {
    return null;
  }
}

export async function readSnapshotCache(dir: string, head: string): Promise<CachedSnapshot | null> {
  const c = await openSnapshotCache(dir);
  return c && c.head === head ? decodeSnapshotCache(c.payload) : null;
}

export async function writeSnapshotCache(dir: string, snap: CatalogSnapshot): Promise<void> {
  if (!snap.head) return;
  const { dir: _dir, ...snapshot } = snap;
  const path = join(dir, CACHE_FILE);
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const header = Buffer.from(`${MAGIC} ${schemaKey()} ${snap.head}\n`);
    await writeFile(tmp, Buffer.concat([header, serialize(snapshot)]));
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}
