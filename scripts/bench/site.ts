// npm run bench:site — build time and Pagefind index size for the imported openEuler catalog (444
// apps) and a synthetic 10,000-app catalog, and the median search latency measured in chromium
// (performance.now around pagefind.search + loading the first results' data).
// Usage: node scripts/bench/site.ts [--apps N] [--skip-large]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { chromium } from 'playwright-core';
import { CatalogStore } from '../../catalog/store.ts';
import { importOpenEuler } from '../../catalog/import/openeuler.ts';
import { REPO_ROOT, type SiteBuildResult } from '../../site/node/build.ts';
import { serveSite } from '../../site/node/serve.ts';
import { makeSyntheticCatalog, SEED_DIR } from '../../tests/site/fixture.ts';

const QUERIES = {
  zh: [
    '数据库',
    '数据',
    'redis',
    '缓存',
    '人工智能',
    'nginx',
    '存储',
    '分布式',
    'kafka',
    '大数据',
    'mysql',
    '消息',
    'python',
    '机器学习',
    '监控',
    'java',
    '高性能',
    'web',
    '容器',
    'spark',
  ],
  en: [
    'redis',
    'database',
    'cache',
    'nginx',
    'kafka',
    'storage',
    'python',
    'distributed',
    'java',
    'spark',
    'search',
    'queue',
    'proxy',
    'metrics',
    'vector',
    'stream',
    'graph',
    'gateway',
    'ledger',
    'web',
  ],
};

const { values: args } = parseArgs({
  options: { apps: { type: 'string', default: '10000' }, 'skip-large': { type: 'boolean', default: false } },
});

/** Build through the CLI in a child process, as users do (one Astro build per process). */
async function build(catalog: string, out: string): Promise<SiteBuildResult> {
  const r = await execa(
    join(REPO_ROOT, 'node_modules/.bin/node'),
    [
      join(REPO_ROOT, 'scripts/wharf.mjs'),
      'site',
      'build',
      '--catalog',
      catalog,
      '--out',
      out,
      '--json',
      '--force',
    ],
    { cwd: REPO_ROOT, reject: false },
  );
  if (r.exitCode !== 0) throw new Error(`site build failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as SiteBuildResult;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function searchLatency(
  out: string,
): Promise<Record<'zh' | 'en', { cold: number; median: number; max: number }>> {
  const { server, url } = await serveSite({ dir: out, port: 0 });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const result = {} as Record<'zh' | 'en', { cold: number; median: number; max: number }>;
    for (const lang of ['zh', 'en'] as const) {
      const page = await browser.newPage();
      await page.goto(`${url}${lang === 'zh' ? '' : 'en/'}search/`);
      await page.waitForSelector('#search[data-ready="1"]');
      const times = await page.evaluate(async (queries) => {
        type PF = { search: (q: string) => Promise<{ results: { data: () => Promise<unknown> }[] }> };
        const pf = (await import(new URL('/pagefind/pagefind.js', location.href).href)) as PF;
        const one = async (q: string) => {
          const t0 = performance.now();
          const r = await pf.search(q);
          await Promise.all(r.results.slice(0, 10).map((x) => x.data()));
          return performance.now() - t0;
        };
        const out: number[] = [];
        for (const q of queries) out.push(await one(q));
        return out;
      }, QUERIES[lang]);
      // The first query loads the index chunks it needs; the rest is what a user typing sees.
      result[lang] = { cold: times[0]!, median: median(times.slice(1)), max: Math.max(...times.slice(1)) };
      await page.close();
    }
    return result;
  } finally {
    await browser.close();
    server.close();
  }
}

async function bench(label: string, catalog: string, tmp: string): Promise<void> {
  const out = join(tmp, `out-${label}`);
  const r = await build(catalog, out);
  console.log(
    `site ${label}: build ${(r.timings.totalMs / 1000).toFixed(1)} s (astro ${(r.timings.astroMs / 1000).toFixed(1)} s, pagefind ${(r.timings.pagefindMs / 1000).toFixed(1)} s), ${r.pages} pages, ${r.indexedPages} indexed`,
  );
  console.log(
    `site ${label}: pagefind index ${(r.pagefindBytes / 1024 / 1024).toFixed(2)} MiB (${r.languages.join(', ')})`,
  );
  const lat = await searchLatency(out);
  for (const lang of ['zh', 'en'] as const) {
    const l = lat[lang];
    console.log(
      `site ${label}: search ${lang} median ${l.median.toFixed(1)} ms, max ${l.max.toFixed(1)} ms, first query ${l.cold.toFixed(1)} ms (${QUERIES[lang].length} queries)`,
    );
  }
}

const tmp = await mkdtemp(join(tmpdir(), 'wharf-bench-site-'));
try {
  const seeded = await CatalogStore.init(join(tmp, 'openeuler'));
  const imp = await importOpenEuler(seeded, SEED_DIR);
  console.log(`catalog openeuler: ${imp.apps} apps (${imp.hidden} hidden)`);
  await bench('openeuler', seeded.dir, tmp);
  if (!args['skip-large']) {
    const n = Number(args.apps);
    const t0 = performance.now();
    const synth = await makeSyntheticCatalog(join(tmp, 'synthetic'), n);
    console.log(
      `catalog synthetic: ${n} apps generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    await bench(`synthetic-${n}`, synth.dir, tmp);
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
