// buildSite() as a long-lived process uses it (the daemon): several builds in one process must each
// render their own catalog, and an unchanged catalog is skipped while a new commit is not.
import { access, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSite } from '../../site/node/build.ts';
import { makeSiteCatalog, syntheticApp } from './fixture.ts';
import { artifactFile, type CatalogStore } from '../../catalog/store.ts';

let tmp: string;
let a: CatalogStore;
let b: CatalogStore;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wharf-site-build-'));
  a = await makeSiteCatalog(join(tmp, 'a'), { extra: 1 });
  b = await makeSiteCatalog(join(tmp, 'b'), { extra: 4 });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

describe('buildSite', () => {
  it('renders each catalog in turn within one process, skips unchanged ones, rebuilds after a commit', async () => {
    const out = join(tmp, 'out');
    const first = await buildSite({ catalog: a.dir, out, logLevel: 'silent' });
    const second = await buildSite({ catalog: b.dir, out, logLevel: 'silent' });
    // 9 visible hand-made apps (7 with containers, openeuler-wsl, openeuler-cloud) + the generated ones,
    // in two languages.
    expect(first.indexedPages).toBe((9 + 1) * 2);
    expect(second.indexedPages).toBe((9 + 4) * 2);
    expect(await exists(join(out, 'apps', syntheticApp(3).id, 'index.html'))).toBe(true);
    // No signing key configured for these builds: no /keys/cosign.pub, and the tag pages say so.
    expect(await exists(join(out, 'keys/cosign.pub'))).toBe(false);
    const tag = await readFile(join(out, 'en/apps/redis/container/8.6.4-oe2403sp4/index.html'), 'utf8');
    expect(tag).toContain('No signing public key is configured');

    const again = await buildSite({ catalog: b.dir, out, logLevel: 'silent' });
    expect(again.skipped).toBe(true);
    expect(again.catalogHead).toBe(second.catalogHead);

    await b.commit({ subject: 'add one app', trailers: { App: syntheticApp(9).id } }, (tx) => {
      tx.putApp(syntheticApp(9));
    });
    const after = await buildSite({ catalog: b.dir, out, logLevel: 'silent' });
    expect(after.skipped).toBe(false);
    expect(after.indexedPages).toBe((9 + 5) * 2);
  }, 180_000);

  it('renders only the apps a commit changed, and the result equals a full build', async () => {
    const c = await makeSiteCatalog(join(tmp, 'c'), { extra: 3 });
    const out = join(tmp, 'out-partial');
    const full0 = await buildSite({ catalog: c.dir, out, logLevel: 'silent' });
    expect(full0.renderedApps).toBeUndefined();
    const kept = join(out, 'apps', syntheticApp(0).id, 'index.html');
    const keptMtime = (await stat(kept)).mtimeMs;
    expect(await exists(join(out, 'apps/redis/container/8.6.4-oe2403sp4/index.html'))).toBe(true);

    // One app retitled, one hidden, one tag of redis gone.
    const one = syntheticApp(1);
    await c.commit({ subject: 'three apps change' }, (tx) => {
      tx.putApp({ ...one, title: { zh: '全新标题', en: 'Brand new title' } });
      tx.putApp({ ...syntheticApp(2), visibility: 'hidden' });
      tx.putText(artifactFile('redis', 'container', '8.6.4-oe2403sp4'), null);
    });
    const part = await buildSite({ catalog: c.dir, out, logLevel: 'silent' });
    expect(part.renderedApps).toEqual(['redis', one.id, syntheticApp(2).id].sort());
    expect(part.indexedPages).toBe(full0.indexedPages - 2);
    expect(await readFile(join(out, 'en/apps', one.id, 'index.html'), 'utf8')).toContain('Brand new title');
    expect(await exists(join(out, 'apps', syntheticApp(2).id))).toBe(false);
    expect(await exists(join(out, 'api/apps', `${syntheticApp(2).id}.json`))).toBe(false);
    expect(await exists(join(out, 'apps/redis/container/8.6.4-oe2403sp4/index.html'))).toBe(false);
    expect((await stat(kept)).mtimeMs).toBe(keptMtime); // an unchanged app's page was not rewritten
    const home = await readFile(join(out, 'en/index.html'), 'utf8');
    expect(home).toContain('Brand new title');

    // Byte for byte what a full build of the same commit gives (the search index aside).
    const ref = join(tmp, 'out-full');
    await buildSite({ catalog: c.dir, out: ref, logLevel: 'silent', force: true });
    const files = async (d: string) =>
      (await readdir(d, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name).slice(d.length + 1))
        .filter((f) => !f.startsWith('pagefind/') && f !== '.wharf-site.json')
        .sort();
    const mine = await files(out);
    expect(mine).toEqual(await files(ref));
    for (const f of mine)
      expect([f, await readFile(join(out, f), 'utf8')]).toEqual([f, await readFile(join(ref, f), 'utf8')]);

    // A commit outside apps/ renders no app page again; wharf.yml renders everything.
    await c.commit({ subject: 'notes' }, (tx) => tx.putText('notes/readme.txt', 'x\n'));
    const quiet = await buildSite({ catalog: c.dir, out, logLevel: 'silent' });
    expect(quiet.renderedApps).toEqual([]);
    // No app page changed, so the search index was kept as it was.
    expect(quiet.indexedPages).toBe(part.indexedPages);
    expect(await exists(join(out, 'pagefind/pagefind-entry.json'))).toBe(true);
    await c.commit({ subject: 'rename' }, async (tx) =>
      tx.putConfig({ ...(await tx.getConfig()), name: 'renamed' }),
    );
    expect((await buildSite({ catalog: c.dir, out, logLevel: 'silent' })).renderedApps).toBeUndefined();
  }, 240_000);
});
