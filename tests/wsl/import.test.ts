// The importer's WSL recipes for the OS base images (catalog/import/wsl.ts): with wharf.yml
// `wsl.baseImages`, one recipe of kind wsl per OS version on the base app (created when the import has
// none), newest the flavor's default, made from the base image; a hand-written recipe on that app is
// kept across imports; bad OS versions are wharf.yml problems; without the section nothing is derived.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importOpenEuler } from '../../catalog/import/openeuler.ts';
import { deriveWslRecipes, displayOsVersion } from '../../catalog/import/wsl.ts';
import { zCatalogConfig } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { SEED, tempDir } from '../catalog/seed.ts';

const baseImages = {
  '22.03-lts-sp4': 'openeuler/openeuler:22.03-lts-sp4',
  '24.03-lts-sp4': 'openeuler/openeuler:24.03-lts-sp4',
};

async function catalogWith(config: unknown): Promise<CatalogStore> {
  const store = await CatalogStore.init(join(await tempDir(), 'catalog'));
  await store.commit({ subject: 'test: wharf.yml' }, async (tx) => {
    tx.putConfig(zCatalogConfig.parse(config));
  });
  return store;
}

describe('WSL recipes for the OS base images', () => {
  it('derives one recipe per OS version on the base app, newest default, and keeps hand-written ones', async () => {
    const store = await catalogWith({ baseImages, wsl: { baseImages: { app: 'openeuler' } } });
    const r = await importOpenEuler(store, SEED);
    expect(r.problems.filter((p) => p.file === 'wharf.yml')).toEqual([]);
    const app = (await store.load()).apps.get('openeuler')!.app;
    expect(app.title.en).toBe('openEuler');
    expect(app.recipes.wsl).toEqual([
      {
        kind: 'wsl',
        id: '24.03-lts-sp4-wsl',
        source: 'openeuler/openeuler:24.03-lts-sp4',
        version: '24.03-lts-sp4',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64', 'arm64'],
        compression: 'gzip',
        defaultUid: 1000,
        flavor: 'openEuler',
        defaultName: 'openEuler-24.03-lts-sp4',
        friendlyName: 'openEuler 24.03 LTS SP4',
        default: true,
        derived: ['source', 'flavor', 'defaultName', 'friendlyName', 'default'],
      },
      expect.objectContaining({ id: '22.03-lts-sp4-wsl', friendlyName: 'openEuler 22.03 LTS SP4' }),
    ]);
    expect(app.recipes.wsl[1]!.default).toBeUndefined();

    // A recipe written by hand on the base app survives the next import; the derived ones are redone.
    await store.commit({ subject: 'test: a hand-written wsl recipe' }, async (tx) => {
      const a = (await tx.getApp('openeuler'))!;
      tx.putApp({
        ...a,
        recipes: {
          ...a.recipes,
          wsl: [
            ...a.recipes.wsl,
            {
              kind: 'wsl',
              id: 'custom-wsl',
              source: 'openeuler:custom',
              version: '1',
              osVersion: '24.03-lts-sp4',
            },
          ],
        },
      });
    });
    await importOpenEuler(store, SEED);
    const again = (await store.load()).apps.get('openeuler')!.app;
    expect(again.recipes.wsl.map((x) => x.id)).toEqual([
      '24.03-lts-sp4-wsl',
      '22.03-lts-sp4-wsl',
      'custom-wsl',
    ]);
  });

  it('takes the listed OS versions only, reports bad ones, and derives nothing without the section', () => {
    const cfg = zCatalogConfig.parse({
      baseImages,
      wsl: { baseImages: { osVersions: ['24.03-lts-sp4', '20.03-lts', 'not a version'], compression: 'xz' } },
    });
    const r = deriveWslRecipes(cfg);
    expect(r.recipes.map((x) => `${x.id} ${x.compression}`)).toEqual(['24.03-lts-sp4-wsl xz']);
    expect(r.problems).toEqual([
      'wsl.baseImages.osVersions: 20.03-lts has no entry in baseImages',
      'wsl.baseImages.osVersions: not a version is not an OS version like 24.03-lts-sp4',
    ]);
    expect(deriveWslRecipes(zCatalogConfig.parse({ baseImages }))).toEqual({ recipes: [], problems: [] });
    expect(displayOsVersion('24.03-lts-sp4')).toBe('24.03 LTS SP4');
  });
});
