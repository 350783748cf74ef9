// buildSite() as a long-lived process uses it (the daemon): several builds in one process must each
// render their own catalog, and an unchanged catalog is skipped while a new commit is not.
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSite } from '../../site/node/build.ts';
import { makeSiteCatalog, syntheticApp } from './fixture.ts';
import type { CatalogStore } from '../../catalog/store.ts';

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
    // 7 visible hand-made apps + the generated ones, in two languages.
    expect(first.indexedPages).toBe((7 + 1) * 2);
    expect(second.indexedPages).toBe((7 + 4) * 2);
    expect(await exists(join(out, 'apps', syntheticApp(3).id, 'index.html'))).toBe(true);

    const again = await buildSite({ catalog: b.dir, out, logLevel: 'silent' });
    expect(again.skipped).toBe(true);
    expect(again.catalogHead).toBe(second.catalogHead);

    await b.commit({ subject: 'add one app', trailers: { App: syntheticApp(9).id } }, (tx) => {
      tx.putApp(syntheticApp(9));
    });
    const after = await buildSite({ catalog: b.dir, out, logLevel: 'silent' });
    expect(after.skipped).toBe(false);
    expect(after.indexedPages).toBe((7 + 5) * 2);
  }, 180_000);
});
