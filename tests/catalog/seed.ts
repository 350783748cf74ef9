// Shared by the catalog tests: the shipped seed data and a catalog imported from it once per file.
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CatalogStore } from '../../catalog/store.ts';
import { importOpenEuler, type ImportResult } from '../../catalog/import/openeuler.ts';

export const SEED = resolve(import.meta.dirname, '../../catalog/seed/openeuler-images');

export async function tempDir(prefix = 'wharf-cat-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A fresh catalog with the seed imported. */
export async function importedCatalog(): Promise<{ store: CatalogStore; result: ImportResult }> {
  const store = await CatalogStore.init(join(await tempDir(), 'catalog'));
  const result = await importOpenEuler(store, SEED);
  return { store, result };
}

/** A writable copy of the seed data, to damage on purpose. */
export async function seedCopy(): Promise<string> {
  const dir = join(await tempDir('wharf-seed-'), 'openeuler-images');
  await cp(SEED, dir, { recursive: true });
  return dir;
}
