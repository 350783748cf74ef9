// Where a build reads its recipe from, in this order:
// 1. the command line's --recipes (a path or git URL, and a ref);
// 2. what the import recorded for the app: the repository (a git URL, or a directory that was a clean
//    git work tree) checked out at the recipe's commit, or — for a directory import that is not a clean
//    git work tree — that directory itself, whose recipe files must still hash to the recipe's
//    treeDigest (so a build never uses files other than the ones imported);
// 3. wharf.yml `recipes` (url, ref).
import { realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import type { App, CatalogConfig, ContainerRecipe } from '../../catalog/schema.ts';
import { directoryDigest } from '../../catalog/import/openeuler.ts';
import { RecipeError, type RecipeTree } from '../recipes/index.ts';

export type RecipeSource =
  | { kind: 'git'; url: string; ref: string; from: 'command line' | 'import' | 'wharf.yml' }
  | { kind: 'dir'; path: string };

/** The recipe source of one recipe, or a RecipeError saying none is known. */
export function recipeSourceFor(
  app: App,
  recipe: ContainerRecipe,
  config: Pick<CatalogConfig, 'recipes'>,
  override?: { url: string; ref?: string },
): RecipeSource {
  if (override) return { kind: 'git', url: override.url, ref: override.ref ?? 'HEAD', from: 'command line' };
  const s = app.source;
  if (s?.repo) return { kind: 'git', url: s.repo, ref: recipe.commit ?? s.commit ?? 'HEAD', from: 'import' };
  if (s?.path) return { kind: 'dir', path: s.path };
  if (config.recipes)
    return { kind: 'git', url: config.recipes.url, ref: config.recipes.ref, from: 'wharf.yml' };
  throw new RecipeError(
    'no recipe source: the app records no repository or directory (re-import it with `wharf catalog import`), wharf.yml has no recipes.url and no --recipes was given',
  );
}

/**
 * A plain directory as a checkout: no commit. The recipe's directory (the Dockerfile's, as the importer
 * hashed it) must hash to the recorded treeDigest.
 */
export async function directoryCheckout(
  path: string,
  app: App,
  recipe: ContainerRecipe,
): Promise<RecipeTree> {
  let dir: string;
  try {
    dir = await realpath(path);
  } catch {
    throw new RecipeError(`recipe directory ${path} (recorded at import) is gone; re-import the recipes`);
  }
  const appDir = app.source?.dir;
  if (appDir && recipe.treeDigest) {
    const rel = posix.dirname(`${appDir}/${recipe.dockerfile}`);
    const now = await directoryDigest(dir, rel);
    if (now !== recipe.treeDigest)
      throw new RecipeError(
        `${rel} in ${path} changed since it was imported (tree digest ${now.slice(7, 19)}, imported ${recipe.treeDigest.slice(7, 19)}); re-import the recipes to build the new files`,
      );
  }
  return { source: path, dir };
}
