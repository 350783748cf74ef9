// npm run bench:site — build time and Pagefind index size for the imported openEuler seed (the
// 40-app sample in the real layout) and a synthetic 10,000-app catalog (the scale case), and the median search latency measured in chromium
// (performance.now around pagefind.search + loading the first ten results' data), separately for
// app-name queries (what users mostly type) and broad words that match a large share of the apps.
// Usage: node scripts/bench/site.ts [--apps N] [--skip-large]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CatalogStore } from '../../catalog/store.ts';
import { importOpenEuler } from '../../catalog/import/openeuler.ts';
import type { SiteBuildResult } from '../../site/node/build.ts';
import { serveSite } from '../../site/node/serve.ts';
import { cliBuild, launchChromium } from '../../tests/site/browser.ts';
import { makeSyntheticCatalog, syntheticName, SEED_DIR } from '../../tests/site/fixture.ts';

type Lang = 'zh' | 'en';
interface QuerySet {
  /** What users mostly type: an app's name, matching one or a few apps. */
  names: string[];
  /** Broad words (categories, kinds of software) matching a large share of the catalog. */
  broad: Record<Lang, string[]>;
}

const BROAD: Record<Lang, string[]> = {
  zh: ['数据库', '数据', '人工智能', '存储', '大数据', '分布式', '缓存', '高性能', '安全', '云原生'],
  en: [
    'database',
    'storage',
    'cache',
    'distributed',
    'web',
    'service',
    'stream',
    'security',
    'proxy',
    'queue',
  ],
};

const { values: args } = parseArgs({
  options: { apps: { type: 'string', default: '10000' }, 'skip-large': { type: 'boolean', default: false } },
});

/** Build through the CLI in a child process, as users do (one Astro build per process). */
const build = (catalog: string, out: string, force = true): Promise<SiteBuildResult> =>
  cliBuild(catalog, out, force ? ['--force'] : []);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Latency {
  cold: number;
  /** A person typing the first name query on a fresh search page: the UI's own time for its final search. */
  typed: number;
  names: number;
  broad: number;
  max: number;
}

async function searchLatency(out: string, queries: QuerySet): Promise<Record<Lang, Latency>> {
  const { server, url } = await serveSite({ dir: out, port: 0 });
  const browser = await launchChromium();
  try {
    const result = {} as Record<Lang, Latency>;
    for (const lang of ['zh', 'en'] as const) {
      const page = await browser.newPage();
      await page.goto(`${url}${lang === 'zh' ? '' : 'en/'}search/`);
      await page.waitForSelector('#search[data-ready="1"]');
      // The search page has loaded Pagefind; time what a query costs from there on.
      const all = [...queries.names, ...queries.broad[lang]];
      const times = await page.evaluate(async (qs) => {
        type PF = { search: (q: string) => Promise<{ results: { data: () => Promise<unknown> }[] }> };
        const pf = (await import(new URL('/pagefind/pagefind.js', location.href).href)) as PF;
        const out: number[] = [];
        for (const q of qs) {
          const t0 = performance.now();
          const r = await pf.search(q);
          await Promise.all(r.results.slice(0, 10).map((x) => x.data()));
          out.push(performance.now() - t0);
        }
        return out;
      }, all);
      // The same first query typed by a person on a fresh page (80 ms between keys, as Pagefind
      // preloads while the 60 ms debounce waits): the time the page reports for its final search.
      const typedPage = await browser.newPage();
      await typedPage.goto(`${url}${lang === 'zh' ? '' : 'en/'}search/`);
      await typedPage.waitForSelector('#search[data-ready="1"]');
      const word = all[0]!;
      await typedPage.type('#q', word, { delay: 80 });
      await typedPage.waitForFunction((w) => document.getElementById('search')?.dataset.q === w, word);
      const typed = Number(await typedPage.getAttribute('#search', 'data-ms'));
      await typedPage.close();
      const names = times.slice(0, queries.names.length);
      const broad = times.slice(queries.names.length);
      result[lang] = {
        cold: times[0]!,
        typed,
        names: median(names.slice(1)),
        broad: median(broad),
        max: Math.max(...times.slice(1)),
      };
      await page.close();
    }
    return result;
  } finally {
    await browser.close();
    server.close();
  }
}

/** A commit that retitles `n` visible apps spread over the catalog (what a day of results touches). */
async function touchApps(store: CatalogStore, n: number): Promise<void> {
  const apps = [...(await store.load()).apps.values()].filter((e) => e.app.visibility !== 'hidden');
  const step = Math.max(1, Math.floor(apps.length / n));
  await store.commit({ subject: `bench: retitle ${n} apps` }, (tx) => {
    for (const e of apps.filter((_, i) => i % step === 0).slice(0, n))
      tx.putApp({ ...e.app, summary: { ...e.app.summary, en: `${e.app.summary?.en ?? ''} (updated)` } });
  });
}

async function bench(label: string, catalog: string, tmp: string, names: string[]): Promise<void> {
  const out = join(tmp, `out-${label}`);
  const r = await build(catalog, out);
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `site ${label}: build ${sec(r.timings.totalMs)} (astro ${sec(r.timings.astroMs)}, pagefind ${sec(r.timings.pagefindMs)}), ${r.pages} pages, ${r.indexedPages} indexed`,
  );
  console.log(
    `site ${label}: pagefind index ${(r.pagefindBytes / 1024 / 1024).toFixed(2)} MiB (${r.languages.join(', ')})`,
  );
  await touchApps(await CatalogStore.open(catalog), 10);
  const p = await build(catalog, out, false);
  console.log(
    `site ${label}: after a commit changing 10 apps: build ${sec(p.timings.totalMs)} (astro ${sec(p.timings.astroMs)}, pagefind ${sec(p.timings.pagefindMs)}), ` +
      `${p.renderedApps ? `${p.renderedApps.length} apps rendered again` : 'full build'}, ${p.pages} pages`,
  );
  const lat = await searchLatency(out, { names, broad: BROAD });
  for (const lang of ['zh', 'en'] as const) {
    const l = lat[lang];
    console.log(
      `site ${label}: search ${lang} median ${l.names.toFixed(1)} ms for app names (${names.length - 1}), ` +
        `${l.broad.toFixed(1)} ms for broad words (${BROAD[lang].length}); max ${l.max.toFixed(1)} ms; first query ${l.cold.toFixed(1)} ms; ` +
        `first query typed in the UI ${l.typed.toFixed(1)} ms`,
    );
  }
}

/** Every k-th visible app's first title word: a deterministic sample of name queries. */
async function nameSample(store: CatalogStore, n: number): Promise<string[]> {
  const apps = [...(await store.load()).apps.values()].filter((e) => e.app.visibility !== 'hidden');
  const step = Math.max(1, Math.floor(apps.length / n));
  return apps
    .filter((_, i) => i % step === 0)
    .slice(0, n)
    .map((e) => (e.app.title.en ?? e.app.title.zh ?? e.app.id).split(/\s+/)[0]!);
}

const tmp = await mkdtemp(join(tmpdir(), 'wharf-bench-site-'));
try {
  const seeded = await CatalogStore.init(join(tmp, 'openeuler'));
  const imp = await importOpenEuler(seeded, SEED_DIR);
  console.log(`catalog openeuler: ${imp.apps} apps (${imp.hidden} hidden)`);
  await bench('openeuler', seeded.dir, tmp, await nameSample(seeded, 21));
  if (!args['skip-large']) {
    const n = Number(args.apps);
    const t0 = performance.now();
    const synth = await makeSyntheticCatalog(join(tmp, 'synthetic'), n);
    console.log(
      `catalog synthetic: ${n} apps generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const names = Array.from({ length: 21 }, (_, k) => syntheticName(Math.floor((k * n) / 21)));
    await bench(`synthetic-${n}`, synth.dir, tmp, names);
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
