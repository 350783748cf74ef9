// npm run bench:import — time of `wharf catalog import` (read the tree, parse every meta.yml,
// image-info.yml and Dockerfile, write one catalog commit) on the shipped 40-app seed and on a
// synthetic tree in the real layout at upstream's size (444 apps, 1,757 Dockerfiles; see
// scripts/bench/synthetic-recipes.ts). Goal: under 10 s for the 444-app tree on 2 cores.
// Also times a re-import of the same tree (no change: no commit). Output: "name: value" lines.
// Options: --apps N --recipes N (synthetic size), --keep (leave the directories).
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
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
  // Wall time, and this process's CPU time (user+system; git children not included), which is what
  // stays comparable on a machine shared with other jobs.
  const timed = async <T>(fn: () => Promise<T>): Promise<[T, string]> => {
    const t = performance.now();
    const c = process.cpuUsage();
    const v = await fn();
    const cpu = process.cpuUsage(c);
    return [v, `${secs(performance.now() - t)} wall, ${secs((cpu.user + cpu.system) / 1000)} CPU`];
  };
  const [plan, readT] = await timed(() => planOpenEulerImport(tree));
  const [r, fullT] = await timed(() => importOpenEuler(store, tree));
  const [again, againT] = await timed(() => importOpenEuler(store, tree));
  const dockerfiles = plan.apps.flatMap((a) => a.recipes?.container ?? []).filter((x) => x.analysis?.exists);
  console.log(`${label} apps: ${r.apps}`);
  console.log(
    `${label} recipes: ${r.recipes} (${dockerfiles.length} recipe files read, ${r.brokenRecipes} broken)`,
  );
  console.log(`${label} problems: ${r.problems.length}`);
  console.log(`${label} read+parse (no commit): ${readT}`);
  console.log(`${label} import (read+parse+commit): ${fullT}`);
  console.log(`${label} re-import, unchanged: ${againT} (${again.commit ? 'committed' : 'no commit'})`);
}

try {
  console.log(
    `load average at start: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (2 cores)`,
  );
  await bench('seed', SEED_DIR);
  const tree = join(work, 'synthetic');
  const size = await writeSyntheticRecipeTree(tree, {
    ...(values.apps ? { apps: Number(values.apps) } : {}),
    ...(values.recipes ? { recipes: Number(values.recipes) } : {}),
  });
  console.log(`synthetic tree: ${size.apps} apps, ${size.recipes} Dockerfiles`);
  await bench('synthetic', tree);
  console.log(
    `load average at end: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  console.log('goal: synthetic import (read+parse+commit) < 10 s');
} finally {
  if (values.keep) console.log(`kept: ${work}`);
  else await rm(work, { recursive: true, force: true });
}
