// The marketplace in a real browser: build the site once from a test catalog with `wharf site
// build`, serve it on loopback, and drive Debian's chromium through playwright-core.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { CatalogStore } from '../../catalog/store.ts';
import { makeSiteCatalog } from './fixture.ts';
import { artifactsDir, cliBuild, launchChromium, serve } from './browser.ts';
import type { SiteBuildResult } from '../../site/node/build.ts';

let tmp: string;
let out: string;
let catalog: string;
let base: string;
let server: Server;
let browser: Browser;
let built: SiteBuildResult;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wharf-site-'));
  catalog = join(tmp, 'catalog');
  out = join(tmp, 'out');
  // The imported openEuler seed (40 apps) plus the hand-made hidden, hostile and recorded entries.
  await makeSiteCatalog(catalog, { seed: true });
  built = await cliBuild(catalog, out);
  const s = await serve(out);
  server = s.server;
  base = s.url.replace(/\/$/, '');
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(null)));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function open(path: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(base + path);
  return page;
}

/** Type a query on the search page and wait for the result list of that query. */
async function search(page: Page, q: string): Promise<string[]> {
  await page.waitForSelector('#search[data-ready="1"]');
  await page.fill('#q', q);
  // The page records the query whose results it shows last.
  await page.waitForFunction((want) => document.getElementById('search')?.dataset.q === want, q);
  // Results come ten at a time; load up to 50 so assertions see more than the first page.
  for (let i = 0; i < 4 && (await page.locator('#results .more').count()); i++) {
    const n = await page.locator('#results .result').count();
    await page.click('#results .more');
    await page.waitForFunction((k) => document.querySelectorAll('#results .result').length > k, n);
  }
  return page.locator('#results .result h3').allTextContents();
}

describe('site build', () => {
  it('renders a page per visible app in both languages, indexes both, and skips an unchanged rebuild', async () => {
    expect(built.skipped).toBe(false);
    expect(built.languages).toEqual(['en', 'zh-cn']);
    const index = (await (await fetch(`${base}/api/apps.json`)).json()) as { apps: { id: string }[] };
    // Every public app of the catalog: the seed's 37 visible apps plus the hand-made public ones.
    const snap = await (await CatalogStore.open(catalog)).load();
    const visible = [...snap.apps.values()].filter((e) => e.app.visibility === 'public').map((e) => e.app.id);
    expect(visible.length).toBeGreaterThan(37);
    expect(index.apps.map((a) => a.id).sort()).toEqual(visible.sort());
    // Exactly the visible app pages are indexed, once per language.
    expect(built.indexedPages).toBe(index.apps.length * 2);
    for (const { id } of index.apps.filter((_, i) => i % 4 === 0)) {
      expect((await fetch(`${base}/apps/${id}/`)).status).toBe(200);
      expect((await fetch(`${base}/en/apps/${id}/`)).status).toBe(200);
    }
    const res = await fetch(`${base}/apps/redis/`);
    expect(res.headers.get('content-type')).toContain('text/html');
    const again = await cliBuild(catalog, out);
    expect(again.skipped).toBe(true);
    expect(again.pages).toBe(built.pages);
  });

  it('serves pagefind files with a type and refuses paths outside the site', async () => {
    const entry = JSON.parse(await readFile(join(out, 'pagefind/pagefind-entry.json'), 'utf8')) as {
      languages: Record<string, { hash: string }>;
    };
    const meta = await fetch(`${base}/pagefind/pagefind.${entry.languages.en!.hash}.pf_meta`);
    expect(meta.status).toBe(200);
    expect(meta.headers.get('content-type')).toBe('application/octet-stream');
    expect((await fetch(`${base}/pagefind/pagefind.js`)).headers.get('content-type')).toContain(
      'text/javascript',
    );
    for (const p of ['/..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd', '/apps/%00']) {
      expect((await fetch(base + p)).status).toBe(404);
    }
  });
});

describe('search', () => {
  it('"redis" finds Redis', async () => {
    const page = await open('/en/search/');
    const titles = await search(page, 'redis');
    expect(titles.slice(0, 3)).toContain('Redis');
    await page.close();
  });

  it('"数据库" and the two-character "数据" find the database images', async () => {
    const page = await open('/search/');
    const titles = await search(page, '数据库');
    expect(titles).toEqual(expect.arrayContaining(['Redis', 'Postgres', 'Mysql']));
    expect(titles.join()).not.toContain('Zanzibarhidden');
    const total = async () => Number((await page.locator('#status').innerText()).match(/^(\d+)/)?.[1] ?? 0);
    const dbTotal = await total();
    // The two-character word matches every 数据库 page (as a prefix) and more (数据 alone, 大数据 …).
    const two = await search(page, '数据');
    expect(await total()).toBeGreaterThan(dbTotal);
    expect(two.filter((t) => titles.includes(t)).length).toBeGreaterThan(0);
    await page.close();
  });

  it('a category filter narrows the results', async () => {
    const page = await open('/search/');
    await search(page, '数据');
    const count = async () => Number((await page.locator('#status').innerText()).match(/^(\d+)/)?.[1] ?? 0);
    const all = await count();
    expect(all).toBeGreaterThan(10);
    const before = await page.locator('#search').getAttribute('data-done');
    await page.check('#filters input[name="category"][value="数据库"]');
    await page.waitForFunction((b) => document.getElementById('search')?.dataset.done !== b, before);
    const narrowed = await count();
    expect(narrowed).toBeGreaterThan(0);
    expect(narrowed).toBeLessThan(all);
    const chips = await page
      .locator('#results .result')
      .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    for (const c of chips) expect(c).toContain('数据库');
    expect(decodeURIComponent(page.url())).toContain('category=数据库');
    await page.close();
  });
});

describe('app pages', () => {
  it('shows the tags table with pull commands, scan state and signature', async () => {
    const page = await open('/apps/redis/');
    const rows = page.locator('table.tags tbody tr:not(.pull-row)');
    expect(await rows.count()).toBeGreaterThanOrEqual(3);
    const table = await page.locator('table.tags').innerText();
    expect(table).toContain('8.6.4-oe2403sp4');
    expect(table).toContain('docker pull docker.io/openeuler/redis:8.6.4-oe2403sp4');
    expect(table).toContain('docker pull quay.io/openeuler/redis:8.6.4-oe2403sp4');
    expect(table).toContain('已签名');
    // 7.2.4 was built but the scanner did not run: never shown as clean.
    const row7 = await rows.filter({ hasText: '7.2.4-oe2203sp3' }).innerText();
    expect(row7).toContain('未扫描');
    expect(row7).not.toContain('未发现漏洞');
    await page.close();
  });

  it('shows the security report, every stage record, and stages that have not run', async () => {
    const page = await open('/en/apps/redis/container/8.6.4-oe2403sp4/');
    const cves = page.locator('table.cves tbody tr');
    expect(await cves.count()).toBe(4);
    expect(await page.locator('a[href="https://nvd.nist.gov/vuln/detail/CVE-2024-0001"]').count()).toBe(1);
    const text = await page.locator('main').innerText();
    expect(text).toContain('cosign verify --key cosign.pub docker.io/openeuler/redis@sha256:');
    for (const stage of ['build', 'verify', 'scan', 'sign', 'publish']) expect(text).toContain(stage);
    expect(text).toContain('Last scan');
    const p2 = await open('/en/apps/redis/container/7.2.4-oe2203sp3/');
    const t2 = await p2.locator('main').innerText();
    expect(t2).toContain('not scanned (scanner did not run)');
    expect((t2.match(/this stage has not run yet/g) ?? []).length).toBe(3); // verify, sign, publish
    // A tag no stage has run for: no page of its own; its row says it is neither built nor scanned.
    expect((await fetch(`${base}/en/apps/redis/container/6.2.7-oe2203lts/`)).status).toBe(404);
    const p3 = await open('/en/apps/redis/');
    const row = await p3.locator('table.tags tbody tr', { hasText: '6.2.7-oe2203lts' }).first().innerText();
    expect(row).toContain('not built yet');
    expect(row).toContain('not scanned');
    await Promise.all([page.close(), p2.close(), p3.close()]);
  });

  it('shows the CVE table read from the blob store, and a note when the list cannot be read', async () => {
    const page = await open('/en/apps/mysql/container/8.6.4-oe2403sp4/');
    const rows = page.locator('table.cves tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain('CVE-2025-4242');
    const p2 = await open('/en/apps/kafka/container/8.6.4-oe2403sp4/');
    expect(await p2.locator('table.cves').count()).toBe(0);
    expect(await p2.locator('.findings-unavailable').innerText()).toContain('could not be read');
    expect(await p2.locator('.sev-card.sev-high b').innerText()).toBe('1');
    await Promise.all([page.close(), p2.close()]);
  });

  it('switches language and marks text that falls back to the other language', async () => {
    const page = await open('/apps/postgres/');
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    await page.click('[data-lang-switch]');
    await page.waitForURL(`${base}/en/apps/postgres/`);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    // Postgres's summary exists in Chinese only: shown, marked as not translated.
    expect(await page.locator('.lead .fallback').innerText()).toContain('not translated');
    expect(await page.locator('.lead').innerText()).toMatch(/[\u4e00-\u9fff]/);
    await page.click('[data-lang-switch]');
    await page.waitForURL(`${base}/apps/postgres/`);
    await page.close();
  });

  it('keeps the app page under 100 KB (HTML + CSS + JS, without the search index)', async () => {
    const page = await browser.newPage();
    let bytes = 0;
    page.on('response', async (r) => {
      if (!r.url().includes('/pagefind/')) bytes += (await r.body().catch(() => Buffer.alloc(0))).length;
    });
    await page.goto(`${base}/apps/redis/`, { waitUntil: 'networkidle' });
    expect(bytes).toBeGreaterThan(5_000);
    expect(bytes).toBeLessThan(100 * 1024);
    await page.close();
  });

  it('saves screenshots of the home page and an app page', async () => {
    const dir = await artifactsDir();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/`);
    await page.screenshot({ path: join(dir, 'site-home.png'), fullPage: true });
    await page.goto(`${base}/apps/redis/`);
    await page.screenshot({ path: join(dir, 'site-app.png'), fullPage: true });
    await page.goto(`${base}/en/apps/redis/container/8.6.4-oe2403sp4/`);
    await page.screenshot({ path: join(dir, 'site-tag.png'), fullPage: true });
    await page.goto(`${base}/search/?q=数据库`);
    await page.waitForSelector('#results .result');
    await page.screenshot({ path: join(dir, 'site-search.png') });
    expect((await readFile(join(dir, 'site-home.png'))).length).toBeGreaterThan(10_000);
    await page.close();
  });
});

describe('hidden and hostile apps', () => {
  it('a hidden app has no page, no API document, no feed entry and no search result', async () => {
    expect((await fetch(`${base}/apps/secret-tool/`)).status).toBe(404);
    expect((await fetch(`${base}/apps/bwa/`)).status).toBe(404); // hidden in the openEuler seed
    expect((await fetch(`${base}/en/apps/secret-tool/`)).status).toBe(404);
    expect((await fetch(`${base}/api/apps/secret-tool.json`)).status).toBe(404);
    const index = (await (await fetch(`${base}/api/apps.json`)).json()) as { apps: { id: string }[] };
    const ids = index.apps.map((a) => a.id);
    expect(ids).toContain('redis');
    expect(ids).not.toContain('secret-tool');
    const feed = await (await fetch(`${base}/feed.xml`)).text();
    expect(feed).toContain('redis');
    expect(feed).not.toContain('secret-tool');
    const page = await open('/en/search/');
    // Pagefind may suggest near matches; none of them may be the hidden app.
    expect(await search(page, 'Zanzibarhidden')).not.toContain('Zanzibarhidden');
    const hrefs = await page.locator('#results a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(hrefs.join()).not.toMatch(/secret-tool|\/bwa\//);
    await page.close();
  });

  it('the JSON API serves an app with its tags and no blob locations or credentials', async () => {
    const doc = (await (await fetch(`${base}/api/apps/redis.json`)).json()) as {
      app: { id: string };
      tags: { id: string; signed: boolean; scan: { state: string } }[];
    };
    expect(doc.app.id).toBe('redis');
    expect(doc.tags.find((t) => t.id === '8.6.4-oe2403sp4')).toMatchObject({
      signed: true,
      scan: { state: 'ok' },
    });
    expect(doc.tags.find((t) => t.id === '6.2.7-oe2203lts')?.scan.state).toBe('not-scanned');
  });

  it('neutralises hostile Markdown and titles', async () => {
    for (const path of ['/apps/hostile/', '/en/apps/hostile/']) {
      const page = await open(path);
      await page.waitForLoadState('load');
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      const main = page.locator('main');
      expect(await main.locator('script, iframe, style').count()).toBe(0);
      expect(await main.locator('[onerror], [onclick]').count()).toBe(0);
      const hrefs = await main.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
      expect(hrefs.filter((h) => /^\s*javascript:/i.test(h))).toEqual([]);
      expect(await main.locator('pre code').first().innerText()).toContain('docker run hostile');
      await page.close();
    }
    const en = await open('/en/apps/hostile/');
    expect(await en.locator('h1').innerText()).toContain('<script>');
    await en.close();
  });
});
