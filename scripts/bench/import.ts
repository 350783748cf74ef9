// npm run bench:import — time of `wharf catalog import` (read the tree, parse every meta.yml,
// image-info.yml and Dockerfile, write one catalog commit) on the shipped 40-app seed and on a
// synthetic tree in the real layout at upstream's size (444 apps, 1,757 Dockerfiles; see
// scripts/bench/synthetic-recipes.ts). Goal: under 10 s for the 444-app tree on 2 cores.
// Also times a re-import of the same tree (no change: no commit). Output: "name: value" lines.
// Options: --apps N --recipes N (synthetic size), --keep (leave the directories).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CatalogStore } from '../../catalog/store.ts';
import { importOpenEuler, planOpenEulerImport } from '../../catalog/import/openeuler.ts';
import { SEED_DIR, writeSyntheticRecipeTree } from './synthetic-recipes.ts';

const { values } = parseArgs({
  options: { apps: { type: 'string' }, recipes: { type: 'string' }, keep: { type: 'boolean' } },
});
const work = await mkdtemp(join(tmpdir(), 'wharf-bench-import-'));
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function bench(label: string, tree: string) {
  const store = await CatalogStore.init(join(work, `catalog-${label}`));
  let t = performance.now();
  const plan = await planOpenEulerImport(tree);
  const readMs = performance.now() - t;
  t = performance.now();
  const r = await importOpenEuler(store, tree);
  const fullMs = performance.now() - t;
  t = performance.now();
  const again = await importOpenEuler(store, tree);
  const againMs = performance.now() - t;
  const dockerfiles = plan.apps.flatMap((a) => a.recipes?.container ?? []).filter((x) => x.analysis?.exists);
  console.log(`${label} apps: ${r.apps}`);
  console.log(
    `${label} recipes: ${r.recipes} (${dockerfiles.length} recipe files read, ${r.brokenRecipes} broken)`,
  );
  console.log(`${label} problems: ${r.problems.length}`);
  console.log(`${label} read+parse (no commit): ${secs(readMs)}`);
  console.log(`${label} import (read+parse+commit): ${secs(fullMs)}`);
  console.log(
    `${label} re-import, unchanged: ${secs(againMs)} (${again.commit ? 'committed' : 'no commit'})`,
  );
}

try {
  await bench('seed', SEED_DIR);
  const tree = join(work, 'synthetic');
  const size = await writeSyntheticRecipeTree(tree, {
    ...(values.apps ? { apps: Number(values.apps) } : {}),
    ...(values.recipes ? { recipes: Number(values.recipes) } : {}),
  });
  console.log(`synthetic tree: ${size.apps} apps, ${size.recipes} Dockerfiles`);
  await bench('synthetic', tree);
  console.log('goal: synthetic import (read+parse+commit) < 10 s');
} finally {
  if (values.keep) console.log(`kept: ${work}`);
  else await rm(work, { recursive: true, force: true });
}
