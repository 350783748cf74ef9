// The site's data layer without a browser: what the model derives from a catalog, the sanitizer,
// the language fallback and the machine documents.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildModel,
  filterCounts,
  filterLabels,
  filterValues,
  scanFindings,
  scanState,
  type SiteModel,
} from '../../site/src/lib/model.ts';
import { renderMarkdown, safeUrl } from '../../site/src/lib/markdown.ts';
import { pick, href, t } from '../../site/src/lib/i18n.ts';
import { apiApp, apiIndex, atomFeed } from '../../site/src/lib/machine.ts';
import { resolveInside, mimeType } from '../../site/node/serve.ts';
import { BLOB_FINDINGS, HOSTILE_MD, makeSiteCatalog, OTHER_KEY_ID, TEST_KEY_ID } from './fixture.ts';
import { keyView } from '../../site/src/lib/trust.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import { nameFromData } from '../../catalog/import/openeuler.ts';
import { parseSynonyms, pinnedForSearch, searchTerms } from '../../site/src/lib/search-terms.ts';

let tmp: string;
let store: CatalogStore;
let m: SiteModel;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wharf-site-model-'));
  store = await makeSiteCatalog(join(tmp, 'catalog'), { extra: 3 });
  m = await buildModel(store.dir);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('site model', () => {
  it('drops hidden apps everywhere and counts categories over visible apps only', () => {
    expect(m.byId.has('redis')).toBe(true);
    expect(m.byId.has('secret-tool')).toBe(false);
    expect(m.categories.find((c) => c.id === 'database')?.count).toBe(3 + 1); // redis, postgres, mysql + synth-cache-0
    expect(JSON.stringify(apiIndex(m))).not.toContain('secret-tool');
    expect(atomFeed(m)).not.toContain('secret-tool');
    // The search page's filter totals (built from the model) count visible apps only.
    const counts = filterCounts(m);
    expect(counts.category['database']).toBe(4);
    expect(counts.license['MIT']).toBe(1 + 1); // hostile + synth-cache-0; the hidden MIT app is not counted
    // Filter values are ids, the same in both languages (a filtered URL survives the language switch);
    // the page shows them with labels of its language.
    expect(filterValues(m.byId.get('redis')!).category).toEqual(['database']);
    expect(filterLabels(m, 'zh').category?.database).toBe('数据库');
    expect(filterLabels(m, 'en').category?.database).toBe('Databases');
  });

  it('derives tag rows: pull per registry, digest, signature, scan state, history', () => {
    const redis = m.byId.get('redis')!;
    const full = redis.tags.find((t) => t.id === '8.6.4-oe2403sp4')!;
    expect(full.pulls.map((p) => p.command)).toEqual([
      'docker pull docker.io/openeuler/redis:8.6.4-oe2403sp4',
      'docker pull quay.io/openeuler/redis:8.6.4-oe2403sp4',
    ]);
    expect(full.pulls.every((p) => p.published)).toBe(true);
    expect(full.sign).toBe('signed');
    expect(full.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(full.verifyCommand).toBe(
      `cosign verify --key cosign.pub docker.io/openeuler/redis@${full.digest}`,
    );
    expect(full.scan).toMatchObject({
      state: 'ok',
      total: { CRITICAL: 1, HIGH: 1, MEDIUM: 1, LOW: 1, UNKNOWN: 0 },
    });
    expect(redis.tags.find((t) => t.id === '7.2.4-oe2203sp3')!.scan.state).toBe('not-run');
    const never = redis.tags.find((t) => t.id === '6.2.7-oe2203lts')!;
    expect(never.scan.state).toBe('none');
    expect(never.lastBuilt).toBeUndefined();
    expect(never.pulls.some((p) => p.published)).toBe(false);
    expect(redis.history.map((h) => h.subject)).toContain('redis 8.6.4-oe2403sp4: published');
  });

  it('an ok scan without findings is clean, but a missing or not-run scan never is', () => {
    expect(scanState(undefined).state).toBe('none');
    const base = { runId: '20261120T100000Z-abcdef', at: '2026-11-20T10:00:00Z' };
    expect(scanState({ ...base, status: 'not-run' }).state).toBe('not-run');
    const ok = scanState({ ...base, status: 'ok', findings: [] });
    expect(ok.state === 'ok' && Object.values(ok.total).every((n) => n === 0)).toBe(true);
  });

  it('reads finding lists from the blob store, inline from older records, and says when a list is unreadable', async () => {
    const m = await buildModel(store.dir);
    const scanOf = (app: string) => m.byId.get(app)!.tags.find((t) => t.id === '8.6.4-oe2403sp4')!.scan;
    const fromBlob = await scanFindings(m, scanOf('mysql'));
    expect(fromBlob).toEqual({ ok: true, findings: BLOB_FINDINGS });
    const inline = await scanFindings(m, scanOf('redis'));
    expect(inline.ok && inline.findings.map((f) => f.severity)).toEqual([
      'CRITICAL',
      'HIGH',
      'MEDIUM',
      'LOW',
    ]);
    const lost = await scanFindings(m, scanOf('kafka'));
    expect(lost).toMatchObject({ ok: false, reason: expect.stringMatching(/not in the blob store/) });
    // The counts come from the record, so the image still shows its summary.
    expect(scanOf('kafka')).toMatchObject({ state: 'ok', total: { HIGH: 1 } });
  });

  it('the app API document has no blob locations', async () => {
    await store.commit({ subject: 'redis: scan report blob' }, async (tx) => {
      await tx.updateArtifact('redis', 'container', '8.6.4-oe2403sp4', (a) => {
        a!.records.scan!.report = {
          sha256: 'a'.repeat(64),
          size: 10,
          mediaType: 'application/json',
          uri: 's3://internal-bucket/x',
        };
        return a!;
      });
    });
    const doc = JSON.stringify(apiApp((await buildModel(store.dir)).byId.get('redis')!));
    expect(doc).toContain('a'.repeat(64));
    expect(doc).not.toContain('internal-bucket');
  });
});

describe('untrusted text', () => {
  it('sanitizes hostile Markdown', () => {
    const html = renderMarkdown(HOSTILE_MD);
    expect(html).not.toMatch(/<script|<iframe|<style|onerror|onclick|javascript:/i);
    expect(html).toContain('docker run hostile');
    expect(renderMarkdown('[x](https://example.org)')).toContain('rel="nofollow noopener noreferrer"');
  });
  it('accepts only http(s) URLs for links', () => {
    expect(safeUrl('javascript:alert(1)')).toBeUndefined();
    expect(safeUrl('data:text/html,x')).toBeUndefined();
    expect(safeUrl('https://redis.io')).toBe('https://redis.io/');
  });
});

describe('languages', () => {
  it('falls back to the other language and says so', () => {
    expect(pick({ zh: '数据库' }, 'en')).toEqual({ text: '数据库', lang: 'zh', fallback: true });
    expect(pick({ zh: '数据库', en: 'Database' }, 'en')).toEqual({
      text: 'Database',
      lang: 'en',
      fallback: false,
    });
    expect(pick({ en: '  ' }, 'zh')).toBeUndefined();
    expect(href('zh', '/apps/redis/')).toBe('/apps/redis/');
    expect(href('en', '/apps/redis/')).toBe('/en/apps/redis/');
  });

  it('keeps every UI string in one table (site/src/lib/i18n.ts), in both languages', async () => {
    // A component with its own zh/en table (scan-text.ts, Arches, Wsl, AppCard had one) drifts from
    // the shared one: the same word translated twice, differently.
    const root = join(import.meta.dirname, '../../site/src');
    const owned = new Set(['lib/i18n.ts']);
    const files = (await readdir(root, { recursive: true })).filter(
      (f) => /\.(astro|ts)$/.test(f) && !owned.has(f.split(sep).join('/')),
    );
    expect(files.length).toBeGreaterThan(20);
    const offenders: string[] = [];
    for (const f of files) {
      const src = await readFile(join(root, f), 'utf8');
      if (/[\u3400-\u9fff]/.test(src)) offenders.push(`${f}: Chinese text`);
      if (/\bzh: *[{'"`]/.test(src)) offenders.push(`${f}: a zh/en table`);
    }
    expect(offenders).toEqual([]);
    expect(t('osNotScanned', 'en')).toBe('OS packages not scanned');
    expect(t('sbomDownload', 'zh')).toBe('下载 SBOM');
    expect(t('wslTitle', 'zh')).toBe('WSL 镜像');
  });
});

describe('static server paths', () => {
  it('never leaves the site directory and knows pagefind types', async () => {
    const root = join(import.meta.dirname);
    expect(await resolveInside(root, '/../../package.json')).toBeNull();
    expect(await resolveInside(root, '/%2e%2e/%2e%2e/package.json')).toBeNull();
    expect(await resolveInside(root, '/%E0%A4%A')).toBeNull();
    expect(await resolveInside(root, '/model.test.ts')).toBe(join(root, 'model.test.ts'));
    expect(mimeType('x/pagefind.en_1.pf_meta')).toBe('application/octet-stream');
    expect(mimeType('x/index.html')).toContain('text/html');
  });
});

describe('search terms, names and trust fields', () => {
  it('spells names as the data does (nameFromData), never by capitalising', () => {
    expect(nameFromData('mysql', ['MySQL是一种开源关系型数据库'])).toBe('MySQL');
    expect(nameFromData('postgres', ['Postgres是…', 'The official PostgreSQL docker image.'])).toBe(
      'PostgreSQL',
    );
    expect(nameFromData('vllm-cpu', ['vLLM是一个高性能的库。它支持CPU和GPU推理'])).toBe('vLLM CPU');
    expect(nameFromData('zooKeeper', ['ZooKeeper一个功能强大的分布式协调服务'])).toBe('ZooKeeper');
    expect(nameFromData('catj', ['no mention here'])).toBe('catj');
  });

  it("keeps the synonym table as checked data and gives apps both languages' terms", () => {
    expect(() => parseSynonyms('- terms: []\n  apps: [redis]\n')).toThrow(/synonyms\.yml: entry 0\.terms/);
    expect(() => parseSynonyms('- terms: [db]\n  apps: [Not An Id]\n')).toThrow(
      /entry 0\.apps\.0: an app id/,
    );
    const redis = searchTerms(m.byId.get('redis')!).map((x) => x.toLowerCase());
    expect(redis).toEqual(expect.arrayContaining(['redis', 'database', '数据库', 'databases']));
    const kafka = searchTerms(m.byId.get('kafka')!);
    expect(kafka).toEqual(expect.arrayContaining(['消息队列', 'message queue']));
    const pins = pinnedForSearch(new Set(m.apps.map((a) => a.id)));
    // Only apps in the catalog, in the table's order.
    expect(pins.find((g) => g.terms.includes('数据库'))?.apps).toEqual(['redis', 'mysql', 'postgres']);
  });

  it('offers verify commands only for signed images and marks the latest tag per OS version', () => {
    const kafka = m.byId.get('kafka')!.tags.find((t) => t.id === '8.6.4-oe2403sp4')!;
    expect(kafka.sign).toBe('skipped');
    expect(kafka.verifyCommand).toBeUndefined();
    const redis = m.byId.get('redis')!;
    const full = redis.tags.find((t) => t.id === '8.6.4-oe2403sp4')!;
    expect(full.verifyCommand).toMatch(
      /^cosign verify --key cosign\.pub docker\.io\/openeuler\/redis@sha256:/,
    );
    expect(full.provenanceCommand).toMatch(
      /^cosign verify-attestation --key cosign\.pub --type slsaprovenance /,
    );
    const latest = redis.tags.filter((t) => t.latest);
    expect(latest.map((t) => t.osVersion).sort()).toEqual(
      [...new Set(redis.tags.map((t) => t.osVersion))].sort(),
    );
    expect(redis.exampleTag).toBe('8.6.4-oe2403sp4');
  });

  it("names one key id, the signer's, and compares it with the published key", () => {
    const signer = m.byId.get('redis')!.tags.find((t) => t.id === '8.6.4-oe2403sp4')!.records.sign!.keyId;
    expect(signer).toBe(TEST_KEY_ID);
    expect(keyView(signer, TEST_KEY_ID)).toEqual({ keyId: TEST_KEY_ID, published: 'same' });
    expect(keyView(OTHER_KEY_ID, TEST_KEY_ID)).toEqual({ keyId: OTHER_KEY_ID, published: 'other' });
    expect(keyView(undefined, TEST_KEY_ID)).toEqual({ keyId: TEST_KEY_ID, published: 'unknown' });
    expect(keyView(OTHER_KEY_ID, undefined)).toEqual({ keyId: OTHER_KEY_ID, published: 'none' });
  });
});
