// PLACEHOLDER — replaced by the importer work of issue 3 (helper A). Not done.
import type { CatalogStore } from '../store.ts';
import type { Problem } from '../format.ts';

export interface ImportResult {
  apps: number;
  hidden: number;
  recipes: number;
  problems: Problem[];
  commit: string | null;
}

export async function importOpenEuler(
  _store: CatalogStore,
  _dir: string,
  _o: { onProgress?: (done: number, total: number) => void } = {},
): Promise<ImportResult> {
  throw new Error('importer not implemented yet');
}
