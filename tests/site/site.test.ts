// The marketplace in a real browser: build the site once from a test catalog with `wharf site
// build`, serve it on loopback, and drive Debian's chromium through playwright-core. One built site
// and one browser serve every test of the suite (layout at phone and desktop sizes, axe-core,
// search ranking and facets, trust on tag pages, content).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { CatalogStore } from '../../catalog/store.ts';
import { makeSiteCatalog, OTHER_KEY_ID, SBOM_JSON } from './fixture.ts';
import { generateSigningKeyPair } from '../../publisher/sign/keys.ts';
import { artifactsDir, cliBuild, launchChromium, serve } from './browser.ts';
import { geometry, rowFit, seriousViolations } from './checks.ts';
import { readdir, stat } from 'node:fs/promises';
import type { SiteBuildResult } from '../../site/node/build.ts';

let tmp: string;
let out: string;
let catalog: string;
let base: string;
let server: Server;
let browser: Browser;
let built: SiteBuildResult;
let publicPem: string;
let keyId: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wharf-site-'));
  catalog = join(tmp, 'catalog');
  out = join(tmp, 'out');
  // The signing public key the site publishes at /keys/cosign.pub; redis's image is signed with it.
  const pair = generateSigningKeyPair();
  publicPem = pair.publicPem;
  keyId = pair.keyId;
  // The imported openEuler seed (40 apps) plus the hand-made hidden, hostile and recorded entries.
  await makeSiteCatalog(catalog, { seed: true, keyId });
  await writeFile(join(tmp, 'cosign.pub'), publicPem);
  built = await cliBuild(catalog, out, ['--public-key', join(tmp, 'cosign.pub')]);
  const s = await serve(out);
  server = s.server;
  base = s.url.replace(/\/$/, '');
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(null)));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function open(path: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(base + path);
  return page;
}

/** Type a query on the search page and wait for the result list of that query. */
async function search(page: Page, q: string, more = 4): Promise<string[]> {
  await page.waitForSelector('#search[data-ready="1"]');
  await page.fill('#q', q);
  // The page records the query whose results it shows last.
  await page.waitForFunction((want) => document.getElementById('search')?.dataset.q === want, q);
  // Results come ten at a time; load up to 50 so assertions see more than the first page.
  for (let i = 0; i < more && (await page.locator('#results .more').count()); i++) {
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
    const again = await cliBuild(catalog, out, ['--public-key', join(tmp, 'cosign.pub')]);
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
    expect(titles).toEqual(expect.arrayContaining(['Redis', 'PostgreSQL', 'MySQL']));
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
    await page.check('#filters input[name="category"][value="database"]');
    await page.waitForFunction((b) => document.getElementById('search')?.dataset.done !== b, before);
    const narrowed = await count();
    expect(narrowed).toBeGreaterThan(0);
    expect(narrowed).toBeLessThan(all);
    const chips = await page
      .locator('#results .result')
      .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    for (const c of chips) expect(c).toContain('数据库');
    // The URL holds the category id, not the translated label.
    expect(decodeURIComponent(page.url())).toContain('category=database');
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

  it("links the app's Atom feed (also in the head) and its badges, with Markdown to embed them", async () => {
    for (const prefix of ['', '/en']) {
      const page = await open(`${prefix}/apps/redis/`);
      const alt = await page
        .locator('head link[rel="alternate"][type="application/atom+xml"]')
        .evaluateAll((ls) => ls.map((l) => l.getAttribute('href')));
      expect(alt).toEqual(['/feed.xml', '/apps/redis/feed.xml']);
      const feed = await page.locator('a.app-feed').getAttribute('href');
      expect(feed).toBe('/apps/redis/feed.xml');
      const res = await fetch(base + feed!);
      expect(res.headers.get('content-type')).toContain('application/atom+xml');
      expect(await res.text()).toContain('redis 8.6.4-oe2403sp4');
      const imgs = page.locator('#badges img');
      expect(await imgs.evaluateAll((is) => is.map((i) => i.getAttribute('src')))).toEqual(
        ['version', 'scan', 'signed'].map((b) => `/apps/redis/badges/${b}.svg`),
      );
      // The images load (an SVG each) and their alt text is the badge's own text.
      expect(await imgs.evaluateAll((is) => is.every((i) => (i as HTMLImageElement).naturalWidth > 0))).toBe(
        true,
      );
      expect(await imgs.nth(2).getAttribute('alt')).toBe('signature: signed');
      const md = await page.locator('#badges .cmd code').textContent();
      expect(md).toContain(
        '[![signature: signed](https://market.example.org/apps/redis/badges/signed.svg)](https://market.example.org/apps/redis/)',
      );
      await page.close();
    }
  });

  it('a WSL app: the security overview lists its scanned image, its badges and status say it is published', async () => {
    const page = await open('/en/apps/openeuler-wsl/');
    const sec = await page.locator('#security').innerText();
    expect(sec).toContain('24.03-lts-sp4-wsl');
    expect(sec).not.toContain('not scanned');
    expect(await page.locator('.app-head .status-chips').innerText()).toContain('signed 1/1');
    // Its files are in the WSL section; the tags table links there instead of listing URLs.
    expect(await page.locator('#tags a[href="#wsl"]').count()).toBe(1);
    expect(await page.locator('#tags').innerText()).not.toContain('https://');
    const version = await (await fetch(`${base}/apps/openeuler-wsl/badges/version.svg`)).text();
    expect(version).toContain('24.03-lts-sp4-wsl');
    // redis: the tags never scanned are counted in one line, not listed as rows.
    const redis = await open('/en/apps/redis/');
    expect(await redis.locator('#security tbody tr').count()).toBe(2);
    expect(await redis.locator('#security .unscanned').innerText()).toMatch(
      /^\d+ more tags not scanned yet$/,
    );
    await Promise.all([page.close(), redis.close()]);
  });

  it('a cloud app: downloads per format with checksum and bundle, the boot test, and each cloud import', async () => {
    const page = await open('/en/apps/openeuler-cloud/');
    const cloud = page.locator('#cloud');
    const text = await cloud.innerText();
    expect(text).toContain('24.03-lts-sp4-cloud');
    expect(text).toContain('17.5 s');
    expect(await cloud.locator('a[href$=".qcow2"]').count()).toBe(1);
    expect(await cloud.locator('a[href$=".vhd.sigstore.json"]').count()).toBe(1);
    // One row per import target: the completed one with its image id, the failed one with the reason.
    const rows = cloud.locator('table.cloud-imports tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).innerText()).toContain('ami-0123456789abcdef0');
    expect(await rows.nth(0).innerText()).toContain('us-east-1');
    expect(await rows.nth(1).innerText()).toContain('IMS.0125');
    expect(await rows.nth(1).innerText()).not.toContain('ami-');
    // Not scanned: counted in words that agree with the number.
    expect(await page.locator('#security').innerText()).toMatch(/\b1 image$/m);
    // The app's feed lists the cloud import as what it is, not as a recipe import.
    const feed = await (await fetch(`${base}/apps/openeuler-cloud/feed.xml`)).text();
    expect(feed).toContain(
      '<title>openEuler cloud image: openeuler-cloud 24.03-lts-sp4-cloud: imported</title>',
    );
    expect(feed).not.toContain('imported (');
    await page.close();
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
    // Every response's body, awaited before adding up (a body still being read counted as 0 bytes).
    const bodies: Promise<number>[] = [];
    page.on('response', (r) => {
      if (!r.url().includes('/pagefind/'))
        bodies.push(
          r.body().then(
            (b) => b.length,
            () => 0,
          ),
        );
    });
    await page.goto(`${base}/apps/redis/`, { waitUntil: 'networkidle' });
    const bytes = (await Promise.all(bodies)).reduce((a, b) => a + b, 0);
    expect(bodies.length).toBeGreaterThanOrEqual(5); // the page, its CSS, three badges
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

const VIEWPORTS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'desktop', width: 1366, height: 768 },
] as const;
const LANGS = [
  { lang: 'zh', prefix: '' },
  { lang: 'en', prefix: '/en' },
] as const;
/** One page of each kind (path without the language prefix). */
const PAGES = [
  { name: 'home', path: '/' },
  { name: 'category', path: '/category/database/' },
  { name: 'app', path: '/apps/redis/' },
  { name: 'tag', path: '/apps/redis/container/8.6.4-oe2403sp4/' },
  { name: 'search', path: '/search/?q=%E6%95%B0%E6%8D%AE%E5%BA%93' },
  { name: 'wsl', path: '/apps/openeuler-wsl/' },
  { name: 'cloud', path: '/apps/openeuler-cloud/' },
  { name: 'maintainers', path: '/maintainers/' },
] as const;

async function settle(page: Page, path: string): Promise<void> {
  if (path.startsWith('/search/'))
    await page.waitForFunction(() => document.getElementById('search')?.dataset.done !== undefined);
}

describe('layout (390 px phone, 1366 px desktop, both languages)', () => {
  it('no page scrolls sideways, the main column fills the screen, commands wrap or scroll in their box; screenshots saved', async () => {
    const dir = await artifactsDir();
    const problems: string[] = [];
    for (const vp of VIEWPORTS) {
      const ctx = await browser.newContext({ viewport: { width: vp.width, height: vp.height } });
      const page = await ctx.newPage();
      for (const { lang, prefix } of LANGS)
        for (const p of PAGES) {
          await page.goto(base + prefix + p.path);
          await settle(page, p.path);
          const g = await geometry(page);
          const where = `${vp.width}px ${lang} ${p.name}`;
          if (g.scrollWidth > g.viewport) problems.push(`${where}: page is ${g.scrollWidth} px wide`);
          if (g.overflowing.length) problems.push(`${where}: sticks out: ${g.overflowing.join(', ')}`);
          // Every command is shown whole (it wraps in its box; its end was hidden when it scrolled).
          const cut = await page
            .locator('.cmd code')
            .evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth + 1).length);
          if (cut) problems.push(`${where}: ${cut} commands cut off`);
          // The main column: the viewport less the page margins on a phone, the 1200 px frame on a desktop.
          const minMain = vp.width === 390 ? 360 : 1150;
          if (g.main < minMain) problems.push(`${where}: main is ${g.main} px`);
          if (p.name === 'app') {
            // The app page's two columns stack on a phone (the issue measured 42 px).
            const minCol = vp.width === 390 ? 340 : 700;
            if ((g.column ?? 0) < minCol) problems.push(`${where}: main column is ${g.column} px`);
          }
          await page.screenshot({ path: join(dir, `site-${vp.width}-${lang}-${p.name}.png`) });
        }
      if (vp.width === 390) {
        // Commands scroll inside their box; the box stays inside the screen.
        await page.goto(`${base}/en/apps/redis/container/8.6.4-oe2403sp4/`);
        const boxes = await page
          .locator('.cmd')
          .evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().right)));
        expect(boxes.length).toBeGreaterThan(2);
        for (const r of boxes) expect(r).toBeLessThanOrEqual(390);
        // Search filters start folded on a phone, so the results are on the first screen.
        await page.goto(`${base}/search/?q=redis`);
        await settle(page, '/search/');
        expect(await page.locator('#filters-box').getAttribute('open')).toBeNull();
        const first = await page.locator('#results .result').first().boundingBox();
        expect(first!.y).toBeLessThan(844);
        await page.click('#filters-box summary');
        expect(await page.locator('#filters input[name="arch"]').first().isVisible()).toBe(true);
      } else {
        await page.goto(`${base}/search/?q=redis`);
        await settle(page, '/search/');
        expect(await page.locator('#filters-box').getAttribute('open')).not.toBeNull();
      }
      await ctx.close();
    }
    expect(problems).toEqual([]);
    expect((await stat(join(dir, 'site-390-zh-app.png'))).size).toBeGreaterThan(5_000);
  }, 180_000);
});

describe('tags table on a phone', () => {
  it('at 390 px each tag is a block as tall as what it shows, and nothing scrolls sideways', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await ctx.newPage();
    const problems: string[] = [];
    for (const [path, table, min] of [
      ['/apps/redis/', 'table.tags', 20], // 13 tags, each a row and a pull row
      ['/en/apps/redis/', 'table.tags', 20],
      ['/en/apps/openeuler-wsl/', 'table.tags', 4], // the tags table and the WSL downloads
      ['/en/apps/redis/container/8.6.4-oe2403sp4/', 'table.cves', 4],
    ] as const) {
      await page.goto(base + path);
      const { rows, sideways } = await rowFit(page, table);
      expect(rows.length).toBeGreaterThanOrEqual(min);
      if ((await geometry(page)).scrollWidth > 390) problems.push(`${path}: the page scrolls sideways`);
      sideways.forEach((d, i) => d > 1 && problems.push(`${path}: table ${i} scrolls ${d} px sideways`));
      // Padding, badges' and command boxes' borders only (~30 px): never an empty band under the text
      // (before the stacked layout: 91 px under the first row, its scan chips one per line off screen).
      for (const r of rows)
        if (r.height - r.shown > 40)
          problems.push(`${path}: row "${r.row}" is ${r.height} px for ${r.shown} px of text`);
    }
    await ctx.close();
    expect(problems).toEqual([]);
  });

  it('at 1366 px the tags table fits the app column: no cell hidden to the right', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await ctx.newPage();
    for (const path of ['/apps/redis/', '/en/apps/redis/']) {
      await page.goto(base + path);
      const { rows, sideways } = await rowFit(page, 'table.tags');
      expect(rows.length).toBeGreaterThan(20);
      expect(sideways).toEqual([0]);
      // Still a table there: the header row is shown.
      expect(await page.locator('table.tags thead th').first().isVisible()).toBe(true);
    }
    await ctx.close();
  });
});

describe('accessibility (axe-core)', () => {
  it('no serious or critical violations on home, category, app, tag and search pages in both languages (and app, tag on a phone)', async () => {
    const found: string[] = [];
    for (const vp of VIEWPORTS) {
      const ctx = await browser.newContext({ viewport: { width: vp.width, height: vp.height } });
      const page = await ctx.newPage();
      for (const { lang, prefix } of LANGS)
        for (const p of PAGES) {
          // The maintainer view is not a user page; on phones, the pages whose layout changes most
          // (app, tag) in one language (axe takes seconds per page).
          if (p.name === 'maintainers') continue;
          if (vp.width === 390 && (lang === 'zh' || !['app', 'tag'].includes(p.name))) continue;
          await page.goto(base + prefix + p.path);
          await settle(page, p.path);
          for (const v of await seriousViolations(page)) found.push(`${vp.width}px ${lang} ${p.name}: ${v}`);
        }
      await ctx.close();
    }
    expect(found).toEqual([]);
  }, 240_000);

  it('has a skip link to the content, one h1 on the search page, and named, unique search landmarks', async () => {
    // The first Tab on a page reaches the skip link; following it moves focus to <main>.
    const app = await open('/en/apps/redis/');
    await app.keyboard.press('Tab');
    const skip = app.locator('a.skip');
    expect(await skip.evaluate((e) => e === document.activeElement)).toBe(true);
    expect(await skip.isVisible()).toBe(true);
    await app.keyboard.press('Enter');
    await app.waitForFunction(() => document.activeElement?.id === 'main');
    await app.close();
    const page = await open('/en/search/');
    expect(await page.locator('h1').count()).toBe(1);
    const names = await page
      .locator('[role="search"]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
    expect(names.length).toBe(2);
    expect(new Set(names).size).toBe(2);
    await page.close();
  });
});

/** One search page per language, reused by the ranking tests (loading Pagefind once each). */
const searchPages = new Map<string, Promise<Page>>();

/** The titles of the first results for a query on a page of one language. */
async function top(path: string, q: string, n = 3): Promise<string[]> {
  let p = searchPages.get(path);
  if (!p) searchPages.set(path, (p = open(path)));
  return (await search(await p, q, 0)).slice(0, n);
}

describe('search ranking, synonyms and both languages', () => {
  // The 40-app sample has redis, mysql, postgres, kafka, pytorch, mlflow, prometheus and grafana; the
  // test catalog adds mariadb, tidb, oceanbase, rabbitmq, activemq and tensorflow in the real layout
  // (LAYOUT_APPS in fixture.ts), whose texts do not contain the words searched for here.
  it('an exact name comes first: "redis" → Redis, in both languages', async () => {
    expect((await top('/en/search/', 'redis', 1))[0]).toBe('Redis');
    expect((await top('/search/', 'redis', 1))[0]).toBe('Redis');
    expect((await top('/search/', 'postgres', 1))[0]).toBe('PostgreSQL');
  });

  it('"数据库" → Redis, MySQL, PostgreSQL on the zh and the en page; "database" too', async () => {
    for (const [path, q] of [
      ['/search/', '数据库'],
      ['/en/search/', '数据库'],
      ['/en/search/', 'database'],
      ['/search/', 'database'],
    ] as const)
      expect((await top(path, q)).sort()).toEqual(['MySQL', 'PostgreSQL', 'Redis']);
  });

  it('"AI" on the Chinese page finds the AI apps', async () => {
    const page = await open('/search/');
    const titles = await search(page, 'AI');
    const n = Number((await page.locator('#status').innerText()).match(/(\d+)/)?.[1] ?? 0);
    const ai = (await (await fetch(`${base}/api/apps.json`)).json()) as {
      apps: { id: string; category: string }[];
    };
    const aiApps = ai.apps.filter((a) => a.category === 'ai').length;
    expect(aiApps).toBeGreaterThanOrEqual(6);
    expect(n).toBeGreaterThanOrEqual(aiApps);
    expect(titles).toEqual(expect.arrayContaining(['PyTorch', 'MLflow', 'TensorFlow', 'vLLM CPU']));
    await page.close();
  });

  it('"消息队列" → Kafka, RabbitMQ; "machine learning" → PyTorch; "monitoring" → Prometheus; "sql" → MariaDB, TiDB, OceanBase', async () => {
    for (const path of ['/search/', '/en/search/']) {
      const mq = await top(path, '消息队列');
      expect(mq).toEqual(expect.arrayContaining(['Kafka', 'RabbitMQ']));
      expect(await top(path, 'machine learning')).toContain('PyTorch');
      expect(await top(path, '机器学习')).toContain('PyTorch');
      expect(await top(path, 'monitoring')).toContain('Prometheus');
      expect(await top(path, '监控')).toContain('Prometheus');
      expect((await top(path, 'sql')).sort()).toEqual(['MariaDB', 'OceanBase', 'TiDB']);
    }
  });
});

describe('search filters, sort and browse-all', () => {
  const count = async (page: Page) =>
    Number((await page.locator('#status').innerText()).match(/(\d+)/)?.[1] ?? 0);
  const facet = async (page: Page, group: string, value: string) =>
    Number(
      await page
        .locator(`#filters label:has(input[name="${group}"][value="${value}"]) .count`)
        .innerText()
        .catch(() => '-1'),
    );
  const tick = async (page: Page, group: string, value: string) => {
    const before = await page.locator('#search').getAttribute('data-done');
    await page.check(`#filters input[name="${group}"][value="${value}"]`);
    await page.waitForFunction((b) => document.getElementById('search')?.dataset.done !== b, before);
  };

  it('an empty query lists every app; sort by name and by update', async () => {
    const page = await open('/en/search/');
    await page.waitForFunction(() => document.getElementById('search')?.dataset.done !== undefined);
    const index = (await (await fetch(`${base}/api/apps.json`)).json()) as { apps: unknown[] };
    expect(await count(page)).toBe(index.apps.length);
    const byName = await page.locator('#results .result h3').allTextContents();
    expect(byName.length).toBe(10);
    expect(byName).toEqual([...byName].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    const before = await page.locator('#search').getAttribute('data-done');
    await page.selectOption('#sort', 'updated');
    await page.waitForFunction((b) => document.getElementById('search')?.dataset.done !== b, before);
    // The first result is the app updated last (its newest commit or stage record).
    const apps = (
      (await (await fetch(`${base}/api/apps.json`)).json()) as {
        apps: { titles: { en?: string }; updatedAt: string | null }[];
      }
    ).apps;
    const newestAt = apps
      .map((a) => a.updatedAt ?? '')
      .sort()
      .at(-1);
    const firstTitle = (await page.locator('#results .result h3').allTextContents())[0];
    expect(apps.filter((a) => a.updatedAt === newestAt).map((a) => a.titles.en)).toContain(firstTitle);
    expect(page.url()).toContain('sort=updated');
    await page.close();
  });

  it('facet counts stay right when filters combine', async () => {
    const page = await open('/search/');
    await search(page, '数据库');
    const all = await count(page);
    await tick(page, 'arch', 'amd64');
    const amd = await count(page);
    expect(amd).toBeGreaterThan(0);
    expect(amd).toBeLessThanOrEqual(all);
    // Ticking amd64 does not zero arm64's count: it says how many arm64 results there are.
    const arm = await facet(page, 'arch', 'arm64');
    expect(arm).toBeGreaterThan(0);
    await tick(page, 'arch', 'arm64');
    const both = await count(page);
    // "any" within a group: amd64 or arm64.
    expect(both).toBeGreaterThanOrEqual(Math.max(amd, arm));
    // Each shown count equals the results ticking that value gives (checked for one license value).
    const lic = await page
      .locator('#filters input[name="license"]')
      .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    expect(lic.length).toBeGreaterThan(0);
    const counts = await Promise.all(lic.map((v) => facet(page, 'license', v)));
    const some = lic[counts.findIndex((c) => c > 0)]!;
    const expected = counts[lic.indexOf(some)]!;
    await tick(page, 'license', some);
    expect(await count(page)).toBe(expected);
    const url = new URL(page.url());
    expect(url.searchParams.getAll('arch').sort()).toEqual(['amd64', 'arm64']);
    expect(url.searchParams.get('license')).toBe(some);
    await page.close();
  });

  it('filter values in the URL are ids: the same filtered list in both languages', async () => {
    const zh = await open('/search/?category=database&arch=arm64');
    await zh.waitForFunction(() => document.getElementById('search')?.dataset.done !== undefined);
    const n = await count(zh);
    expect(n).toBeGreaterThan(2);
    expect(await zh.locator('#filters input[value="database"]').isChecked()).toBe(true);
    // The language switch keeps the filters; the English page shows the same apps.
    await zh.click('[data-lang-switch]');
    await zh.waitForURL(/\/en\/search\/\?category=database&arch=arm64/);
    await zh.waitForFunction(() => document.getElementById('search')?.dataset.done !== undefined);
    expect(await count(zh)).toBe(n);
    expect(await zh.locator('#filters label:has(input[value="database"])').innerText()).toContain(
      'Databases',
    );
    await zh.close();
  });

  it('results and home cards show signature, scan state and architectures', async () => {
    const page = await open('/en/search/');
    await search(page, 'redis');
    const card = await page.locator('#results .result[data-id="redis"]').innerText();
    expect(card).toMatch(/signed 1\/\d+/);
    expect(card).toMatch(/C 1/);
    expect(card).toContain('amd64 · arm64');
    // The text is the app's own (excerpt or summary), never the list of search terms.
    expect(card).not.toMatch(/redis · |database · /i);
    const home = await open('/en/');
    const redis = await home.locator('.app-card[href="/en/apps/redis/"]').first().innerText();
    expect(redis).toMatch(/signed 1\/\d+/);
    const unsigned = await home.locator('.app-card', { hasNotText: 'signed 1/' }).first().innerText();
    expect(unsigned).toMatch(/not signed|not scanned/);
    await Promise.all([page.close(), home.close()]);
  });
});

describe('trust on the tag page', () => {
  it('publishes the configured public key at /keys/cosign.pub and names it on signed images', async () => {
    const res = await fetch(`${base}/keys/cosign.pub`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(publicPem);
    const page = await open('/en/apps/redis/container/8.6.4-oe2403sp4/');
    const verify = await page.locator('#verify').innerText();
    expect(verify).toContain('/keys/cosign.pub');
    expect(verify).toContain(keyId);
    expect(verify).toContain('curl -fsSLO https://market.example.org/keys/cosign.pub');
    expect(verify).toContain('cosign verify --key cosign.pub docker.io/openeuler/redis@sha256:');
    expect(verify).toContain('cosign verify-attestation --key cosign.pub --type slsaprovenance');
    await page.close();
  });

  it("names one key id, the signer's, and says when the published key is not the one that signed", async () => {
    const ids = (text: string) => [...new Set(text.match(/sha256:[0-9a-f]{64}/g) ?? [])];
    // redis: signed with the key the site publishes: its id once, and the same id in the sign record.
    const page = await open('/en/apps/redis/container/8.6.4-oe2403sp4/');
    const verify = await page.locator('#verify').innerText();
    expect(verify.split(keyId).length - 1).toBe(1);
    const digest = await page.locator('.app-head .hash').innerText();
    // Besides the image's digest (in the verify commands), the only sha256 id is the key's.
    expect(ids(verify).filter((id) => id !== digest)).toEqual([keyId]);
    expect(await page.locator('#verify .key-mismatch').count()).toBe(0);
    expect(await page.locator('.stage', { hasText: 'sign' }).last().innerText()).toContain(keyId);
    // mysql: signed with another (older) key: that id, a warning, and no download of the wrong key.
    const p2 = await open('/en/apps/mysql/container/8.6.4-oe2403sp4/');
    const v2 = await p2.locator('#verify').innerText();
    expect(await p2.locator('#verify .key-id').allInnerTexts()).toEqual([OTHER_KEY_ID]);
    expect(v2).not.toContain(keyId);
    expect(await p2.locator('#verify .key-mismatch').innerText()).toContain(
      'not signed with the key this site publishes',
    );
    expect(v2).not.toContain('curl -fsSLO');
    expect(v2).toContain('cosign verify --key cosign.pub docker.io/openeuler/mysql@sha256:');
    await Promise.all([page.close(), p2.close()]);
  });

  it('links the SBOM when the scan recorded one, and says "no SBOM yet" otherwise', async () => {
    const page = await open('/apps/redis/container/8.6.4-oe2403sp4/');
    const href = await page.locator('#verify a.sbom-link').getAttribute('href');
    expect(href).toBe('/apps/redis/container/8.6.4-oe2403sp4/sbom.cdx.json');
    expect(await (await fetch(base + href)).text()).toBe(SBOM_JSON);
    const p2 = await open('/en/apps/mysql/container/8.6.4-oe2403sp4/');
    expect(await p2.locator('#verify .no-sbom').innerText()).toContain('No SBOM yet');
    await Promise.all([page.close(), p2.close()]);
  });

  it('offers pull commands only for registries the image is in, and no verify command for an unsigned image', async () => {
    // kafka 8.6.4: published to docker.io only (quay failed), not signed.
    const page = await open('/en/apps/kafka/container/8.6.4-oe2403sp4/');
    const pull = await page.locator('#pull').innerText();
    expect(pull).toContain('docker pull docker.io/openeuler/kafka:8.6.4-oe2403sp4');
    expect(pull).not.toContain('docker pull quay.io');
    expect(pull).toContain('not published yet');
    const verify = await page.locator('#verify').innerText();
    expect(verify).not.toContain('cosign verify');
    expect(await page.locator('#verify .no-verify').innerText()).toContain('not signed');
    // A tag nothing was published for: no pull command on the app page either.
    const app = await open('/en/apps/redis/');
    const row = await app.locator('table.tags tr:has-text("7.2.4-oe2203sp3") + tr.pull-row').innerText();
    expect(row).not.toContain('docker pull');
    expect(row).toContain('not published yet');
    expect(await page.locator('#per-arch-slot').count()).toBe(1);
    await Promise.all([page.close(), app.close()]);
  });
});

describe('content', () => {
  it('titles come from the data (MySQL, PostgreSQL, PyTorch, MLflow, TiDB, vLLM CPU), not capitalisation', async () => {
    const index = (await (await fetch(`${base}/api/apps.json`)).json()) as {
      apps: { id: string; titles: { en?: string } }[];
    };
    const title = (id: string) => index.apps.find((a) => a.id === id)?.titles.en;
    expect(['mysql', 'postgres', 'pytorch', 'mlflow', 'tidb', 'vllm-cpu', 'zookeeper'].map(title)).toEqual([
      'MySQL',
      'PostgreSQL',
      'PyTorch',
      'MLflow',
      'TiDB',
      'vLLM CPU',
      'ZooKeeper',
    ]);
    const page = await open('/apps/mysql/');
    expect(await page.locator('h1').innerText()).toContain('MySQL');
    await page.close();
  });

  it('recipe problems appear only in the maintainer view, labelled in the page language', async () => {
    const main = await (await fetch(`${base}/maintainers/`)).text();
    const rows = (main.match(/<tr>/g) ?? []).length;
    expect(rows).toBeGreaterThan(1);
    expect(main).toContain('配方问题');
    const page = await open('/en/maintainers/');
    const first = page.locator('table.problems tbody tr').first();
    const app = await first.locator('a').innerText();
    expect(await page.locator('h1').innerText()).toBe('Maintainer view');
    // That app's own pages say nothing about it, in either language.
    for (const prefix of ['', '/en']) {
      const html = await (await fetch(`${base}${prefix}/apps/${app}/`)).text();
      expect(html).not.toMatch(/配方问题|Recipe problem/);
    }
    await page.close();
  });

  it('links similar and dependent apps, marks the latest tag per OS version, and fills in {Tag}', async () => {
    const page = await open('/en/apps/rabbitmq/');
    const related = page.locator('#related');
    expect(await related.locator('a[href="/en/apps/activemq/"]').count()).toBe(1);
    expect(await related.locator('a[href="/en/apps/kafka/"]').count()).toBe(1);
    expect(await related.innerText()).toContain('erlang'); // a dependency not in the catalog: named, not linked
    const jdk = await open('/en/apps/openjdk/');
    expect(await jdk.locator('#related a[href="/en/apps/activemq/"]').count()).toBe(1); // "Used by"
    const redis = await open('/en/apps/redis/');
    const latest = await redis
      .locator('table.tags tbody tr:not(.pull-row)', { has: redis.locator('.latest-mark') })
      .allInnerTexts();
    // One latest per OS version of redis's tags.
    const osOf = (r: string) => r.split('\t')[2]?.trim();
    expect(new Set(latest.map(osOf)).size).toBe(latest.length);
    expect(latest.length).toBeGreaterThanOrEqual(2);
    const usage = await redis.locator('.md-section').allInnerTexts();
    expect(usage.join('\n')).not.toContain('{Tag}');
    expect(usage.join('\n')).toMatch(/openeuler\/redis:\d[^\s]*-oe/);
    await Promise.all([page.close(), jdk.close(), redis.close()]);
  });

  it('every app page (HTML + its CSS) stays under 100 KB', async () => {
    const css = (await readdir(join(out, '_assets'))).filter((f) => f.endsWith('.css'));
    let cssBytes = 0;
    for (const f of css) cssBytes += (await stat(join(out, '_assets', f))).size;
    const sizes: [string, number][] = [];
    for (const prefix of ['', 'en']) {
      const dir = join(out, prefix, 'apps');
      for (const id of await readdir(dir))
        sizes.push([`${prefix}/${id}`, (await stat(join(dir, id, 'index.html'))).size]);
    }
    expect(sizes.length).toBeGreaterThan(80);
    const heavy = sizes.filter(([, n]) => n + cssBytes >= 100 * 1024);
    expect(heavy).toEqual([]);
  });
});
