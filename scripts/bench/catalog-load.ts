// npm run bench:catalog-load [-- --apps N] [--keep] — load time of a synthetic N-app catalog (default 10,000), alone.
// The same catalog shape as bench:catalog (app.yml with 3 recipes, upstream.json, 2 artifact records with
// build/verify/scan/sign/publish records and up to 6 findings), without the git-growth part.
// Each load runs in a fresh child process, as `wharf` or a sweep would:
// - cold: no snapshot cache (every file parsed and validated);
// - warm: the snapshot cache written by the cold load (clean tree, same HEAD), median of 3;
// - after commit: the first load after a sweep-like commit of 1,000 upstream.json files made with
//   `commit(…, {snapshot})`.
// Goal (issue 3): under 2 s for 10,000 apps on 2 cores.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { buildSyntheticCatalog } from './synthetic-catalog.ts';

const self = fileURLToPath(import.meta.url);
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/** Child: one load in a fresh process; prints the time and the number of apps. */
async function loadOnce(dir: string): Promise<void> {
  const store = await CatalogStore.open(dir);
  const t0 = performance.now();
  const snap = await store.load();
  const ms = performance.now() - t0;
  process.stdout.write(`${JSON.stringify({ ms, apps: snap.apps.size, problems: snap.problems.length })}\n`);
}

/** Child: a sweep-like commit (1,000 upstream.json rewritten) through commit(…, {snapshot}). */
async function touch(dir: string): Promise<void> {
  const store = await CatalogStore.open(dir);
  const snap = await store.load();
  const ids = [...snap.apps.keys()].filter((_, i) => i % 10 === 0);
  const t0 = performance.now();
  await store.commit(
    { subject: 'bench: touch upstream state' },
    async (tx) => {
      for (const id of ids) {
        const prev = await tx.getUpstream(id);
        tx.putUpstream(id, { known: [], ...prev, lastChecked: new Date().toISOString() });
      }
    },
    { snapshot: snap },
  );
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0, files: ids.length })}\n`);
}

async function child(mode: string, dir: string): Promise<Record<string, number>> {
  const r = await execa(process.execPath, [self, mode, dir], { stderr: 'inherit' });
  return JSON.parse(r.stdout) as Record<string, number>;
}

async function median3(dir: string): Promise<number> {
  const t = [];
  for (let i = 0; i < 3; i++) t.push((await child('--load', dir)).ms!);
  return t.sort((a, b) => a - b)[1]!;
}

async function main(): Promise<void> {
  const n = Number(arg('--apps') ?? 10_000);
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-load-'));
  try {
    let t0 = performance.now();
    await buildSyntheticCatalog(dir, n);
    const files = (await execa('git', ['ls-files'], { cwd: dir })).stdout.split('\n').length;
    console.log(
      `build synthetic ${n}-app catalog: ${Math.round(performance.now() - t0)} ms (${files} files)`,
    );
    const cold = await child('--load', dir);
    console.log(
      `load ${n}-app catalog, cold (parse + validate every file): ${Math.round(cold.ms!)} ms (${cold.apps} apps, ${cold.problems} problems)`,
    );
    console.log(
      `load ${n}-app catalog, warm (snapshot cache, median of 3): ${Math.round(await median3(dir))} ms (goal < 2000 ms)`,
    );
    t0 = performance.now();
    const t = await child('--touch', dir);
    console.log(`commit of ${t.files} upstream.json with {snapshot}: ${Math.round(t.ms!)} ms`);
    const after = await child('--load', dir);
    console.log(`first load of the ${n}-app catalog after that commit: ${Math.round(after.ms!)} ms`);
  } finally {
    if (process.argv.includes('--keep')) console.log(`kept: ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--load')) await loadOnce(arg('--load')!);
else if (process.argv.includes('--touch')) await touch(arg('--touch')!);
else await main();
