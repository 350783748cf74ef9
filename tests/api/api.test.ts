// The machine side of the marketplace: the JSON API against its OpenAPI/JSON Schema description (every
// generated API file validated with ajv, internal fields absent), the Atom feeds (absolute links from
// wharf.yml siteUrl, entries for imports/builds/publishes with real times, one feed per app) and the
// SVG badges. One real site build (`wharf site build`) of the hand-made site catalog.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSiteCatalog } from '../site/fixture.ts';
import { cliBuild } from '../site/browser.ts';
import { buildModel } from '../../site/src/lib/model.ts';
import { API_SCHEMAS } from '../../site/src/lib/api-schema.ts';
import { appFeed, atomFeed, badgeSvg, DEFAULT_SITE_URL } from '../../site/src/lib/machine.ts';
import { CatalogStore } from '../../catalog/store.ts';

let tmp: string;
let out: string;
let catalog: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wharf-api-'));
  catalog = join(tmp, 'catalog');
  out = join(tmp, 'out');
  await makeSiteCatalog(catalog, { extra: 2 });
  await cliBuild(catalog, out);
}, 180_000);
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const readJson = async (p: string) => JSON.parse(await readFile(join(out, p), 'utf8')) as unknown;

/** Every key anywhere in a JSON value. */
function keys(v: unknown, acc = new Set<string>()): Set<string> {
  if (Array.isArray(v)) v.forEach((x) => keys(x, acc));
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      acc.add(k);
      keys(x, acc);
    }
  return acc;
}

/** Fields that exist in catalog records or config and must never reach the API. */
const INTERNAL = [
  'runId',
  'uri',
  'log',
  'tail',
  'imageId',
  'inputsDigest',
  'findingsRef',
  'findings',
  'usernameEnv',
  'passwordEnv',
  'source',
  'recipes',
  'dockerfile',
  'buildArgs',
  'analysis',
  'labels',
  'durationMs',
  'trailers',
  'visibility',
];

describe('JSON API', () => {
  it('serves an OpenAPI 3.1 document whose schemas every generated API file satisfies', async () => {
    const doc = (await readJson('api/openapi.json')) as {
      openapi: string;
      servers: { url: string }[];
      components: { schemas: Record<string, unknown> };
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers[0]!.url).toBe('https://market.example.org');
    expect(Object.keys(doc.paths).sort()).toEqual(['/api/apps.json', '/api/apps/{id}.json']);
    // The served document is the one in the source (nothing lost in serialisation).
    expect(doc.components.schemas).toEqual(JSON.parse(JSON.stringify(API_SCHEMAS)));

    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats.default(ajv);
    // The schemas live where OpenAPI keeps them; `#/components/schemas/…` refs resolve inside this document.
    ajv.addKeyword('components');
    ajv.addSchema({ $id: 'wharf', components: doc.components }, 'wharf');
    const validate = (name: string, v: unknown) => {
      const f = ajv.getSchema(`wharf#/components/schemas/${name}`)!;
      const ok = f(v);
      return ok
        ? []
        : (f.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
    };
    const index = await readJson('api/apps.json');
    expect(validate('AppIndex', index)).toEqual([]);
    const files = await readdir(join(out, 'api/apps'));
    const ids = (index as { apps: { id: string }[] }).apps.map((a) => a.id);
    expect(files.sort()).toEqual(ids.map((id) => `${id}.json`).sort());
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const v = await readJson(`api/apps/${f}`);
      expect(validate('AppDocument', v), f).toEqual([]);
      const present = keys(v);
      expect(
        INTERNAL.filter((k) => present.has(k)),
        f,
      ).toEqual([]);
    }
    expect(INTERNAL.filter((k) => keys(index).has(k))).toEqual([]);

    // The schema refuses what it does not name: an internal field slipped in is caught.
    const redis = (await readJson('api/apps/redis.json')) as { tags: Record<string, unknown>[] };
    const leaked = structuredClone(redis);
    (leaked.tags[0]!.records as Record<string, Record<string, unknown>>).build!.runId = 'x';
    expect(validate('AppDocument', leaked).join()).toMatch(/additional properties.*runId/);
  });

  it('publishes what a client needs: pull refs, signature, scan state and absolute links', async () => {
    const redis = (await readJson('api/apps/redis.json')) as {
      links: { page: string; feed: string; badges: { scan: string } };
      tags: { id: string; signed: boolean; scan: { state: string }; pull: { published: boolean }[] }[];
    };
    expect(redis.links.page).toBe('https://market.example.org/apps/redis/');
    expect(redis.links.feed).toBe('https://market.example.org/apps/redis/feed.xml');
    expect(redis.links.badges.scan).toBe('https://market.example.org/apps/redis/badges/scan.svg');
    const full = redis.tags.find((t) => t.id === '8.6.4-oe2403sp4')!;
    expect(full).toMatchObject({ signed: true, scan: { state: 'ok' } });
    expect(full.pull.every((p) => p.published)).toBe(true);
    expect(redis.tags.find((t) => t.id === '6.2.7-oe2203lts')?.scan.state).toBe('not-scanned');
    expect(redis.tags.find((t) => t.id === '7.2.4-oe2203sp3')?.scan.state).toBe('not-run');
    // The hidden app has no document and is not in the index.
    await expect(readFile(join(out, 'api/apps/secret-tool.json'))).rejects.toThrow();
  });
});

const parser = new XMLParser({ ignoreAttributes: false, isArray: (n) => n === 'entry' || n === 'link' });
type Feed = {
  feed: {
    updated: string;
    link: { '@_rel': string; '@_href': string }[];
    entry?: { title: string; updated: string; link: { '@_href': string }[]; summary: string }[];
  };
};

describe('Atom feeds', () => {
  it('the site feed has absolute links and the newest imports, builds and publishes with real times', async () => {
    const xml = await readFile(join(out, 'feed.xml'), 'utf8');
    const f = (parser.parse(xml) as Feed).feed;
    expect(f.link.find((l) => l['@_rel'] === 'self')!['@_href']).toBe('https://market.example.org/feed.xml');
    const entries = f.entry ?? [];
    expect(entries.length).toBeGreaterThan(5);
    for (const e of entries) {
      expect(e.link[0]!['@_href']).toMatch(/^https:\/\/market\.example\.org\/en\/apps\//);
      expect(Date.parse(e.updated)).toBeGreaterThan(Date.parse('2020-01-01'));
    }
    expect(f.updated).toBe(entries[0]!.updated);
    // Newest first.
    const times = entries.map((e) => e.updated);
    expect([...times].sort().reverse()).toEqual(times);
    const titles = entries.map((e) => e.title).join('\n');
    expect(titles).toMatch(/imported/);
    expect(titles).toContain('redis 8.6.4-oe2403sp4: published');
    // The published entry links its tag page and carries its pull command.
    const pub = entries.find((e) => e.title.includes('8.6.4-oe2403sp4: published'))!;
    expect(pub.link[0]!['@_href']).toBe(
      'https://market.example.org/en/apps/redis/container/8.6.4-oe2403sp4/',
    );
    expect(pub.summary).toContain('docker pull docker.io/openeuler/redis:8.6.4-oe2403sp4');
    expect(xml).not.toContain('secret-tool');
    expect(xml).not.toContain('1970-01-01');
  });

  it('each app has its own feed with only its entries', async () => {
    const xml = await readFile(join(out, 'apps/redis/feed.xml'), 'utf8');
    const f = (parser.parse(xml) as Feed).feed;
    expect(f.link.find((l) => l['@_rel'] === 'self')!['@_href']).toBe(
      'https://market.example.org/apps/redis/feed.xml',
    );
    const entries = f.entry ?? [];
    expect(entries.length).toBeGreaterThan(1);
    expect(
      entries.every((e) => e.link[0]!['@_href'].startsWith('https://market.example.org/en/apps/redis/')),
    ).toBe(true);
    await expect(readFile(join(out, 'apps/secret-tool/feed.xml'))).rejects.toThrow();
  });

  it('without siteUrl links use the default site URL; an app without results still has a real time', async () => {
    const dir = join(tmp, 'bare');
    const store = await CatalogStore.init(dir, {});
    await store.commit({ subject: 'add app' }, (tx) => {
      tx.putApp({
        id: 'lonely',
        name: 'lonely',
        title: { en: 'Lonely' },
        category: 'others',
        license: { spdx: 'MIT' },
        recipes: { container: [], cloud: [], wsl: [] },
      });
    });
    const m = await buildModel(dir);
    const now = '2026-12-02T03:00:00.000Z';
    const site = (parser.parse(atomFeed(m, 100, now)) as Feed).feed;
    expect(site.link.find((l) => l['@_rel'] === 'self')!['@_href']).toBe(`${DEFAULT_SITE_URL}feed.xml`);
    expect(site.entry).toBeUndefined();
    expect(site.updated).toBe(now);
    const app = (parser.parse(appFeed(m, m.byId.get('lonely')!, now)) as Feed).feed;
    expect(app.updated).toBe(now);
  });
});

describe('SVG badges', () => {
  it('version, scan and signed badges per app describe its newest published tag', async () => {
    const read = (name: string) => readFile(join(out, `apps/redis/badges/${name}.svg`), 'utf8');
    expect(await read('version')).toContain('>8.6.4-oe2403sp4</text>');
    expect(await read('signed')).toContain('>signed</text>');
    expect(await read('scan')).toMatch(/>1 critical, 1 high, 4 total<\/text>/);
    // An app with nothing published says so.
    const never = await readFile(join(out, 'apps/synth-cache-0/badges/version.svg'), 'utf8');
    expect(never).toContain('>not published</text>');
    expect(await readFile(join(out, 'apps/synth-cache-0/badges/scan.svg'), 'utf8')).toContain(
      '>not scanned</text>',
    );
  });

  it('escapes the text it shows', () => {
    const svg = badgeSvg('a<b', '"x" & <script>', '#000');
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&quot;x&quot; &amp; &lt;script&gt;');
    expect(parser.parse(svg)).toBeTruthy();
  });
});
