// The snapshot cache in .git: served only for a clean tree at the cached HEAD, and refreshed by a
// commit made with {snapshot} so that the next load is warm and equal to a cold one.
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore, type CatalogSnapshot } from '../../catalog/store.ts';
import { toStableYaml } from '../../catalog/format.ts';

const app = (id: string, title = id) => ({
  id,
  name: id,
  title: { en: title },
  category: 'tools',
  recipes: { container: [] },
});
const artifact = (appId: string, id: string) => ({
  app: appId,
  kind: 'container' as const,
  id,
  version: id.split('-')[0]!,
  osVersion: '24.03-lts-sp4',
  arches: ['amd64' as const],
  records: {},
});
const CACHE = join('.git', 'wharf-snapshot.v8');

async function cacheHead(dir: string): Promise<string | undefined> {
  const head = (await readFile(join(dir, CACHE))).subarray(0, 300).toString('latin1').split('\n')[0]!;
  return head.split(' ')[2];
}
const plain = (s: CatalogSnapshot) => ({ ...s, apps: [...s.apps] });
async function coldLoad(s: CatalogStore): Promise<CatalogSnapshot> {
  await rm(join(s.dir, CACHE), { force: true });
  return s.load();
}

describe('snapshot cache', () => {
  it('is refreshed by a commit with {snapshot}: the next load is served from it and equals a cold load', async () => {
    const s = await CatalogStore.init(join(await mkdtemp(join(tmpdir(), 'wharf-snapcache-')), 'c'));
    await s.commit({ subject: 'seed' }, (tx) => {
      for (const id of ['a', 'b', 'c', 'd']) tx.putApp(app(id));
      tx.putArtifact(artifact('a', '1.0-oe2403sp4'));
      tx.putArtifact(artifact('a', '2.0-oe2403sp4'));
      tx.putUpstream('b', { known: ['1'], latest: '1' });
    });
    const snap = await s.load();
    const r = await s.commit(
      { subject: 'mixed' },
      async (tx) => {
        tx.putApp(app('a', 'A2'));
        tx.putArtifact(artifact('a', '1.5-oe2403sp4')); // sorts between the two existing ones
        tx.putArtifact(artifact('b', '3.0-oe2403sp4'));
        tx.putUpstream('b', { known: ['1', '2'], latest: '2' });
        tx.putUpstream('c', { known: [] });
        await tx.removeApp('d');
        tx.putApp(app('0new')); // a new app that sorts first
        tx.putText('watch/notes.txt', 'outside apps\n');
      },
      { snapshot: snap },
    );
    expect(await cacheHead(s.dir)).toBe(r.sha);
    const warm = await s.load();
    expect(warm.head).toBe(r.sha);
    const cold = await coldLoad(s);
    expect(plain(warm)).toEqual(plain(cold));
    expect([...warm.apps.keys()]).toEqual(['0new', 'a', 'b', 'c']);
    expect(warm.apps.get('a')!.artifacts.map((x) => x.id)).toEqual([
      '1.0-oe2403sp4',
      '1.5-oe2403sp4',
      '2.0-oe2403sp4',
    ]);
  });

  it('is not written after a commit whose snapshot came from a dirty tree', async () => {
    const s = await CatalogStore.init(join(await mkdtemp(join(tmpdir(), 'wharf-snapcache-')), 'c'));
    await s.commit({ subject: 'seed' }, (tx) => void tx.putApp(app('a')));
    await writeFile(join(s.dir, 'untracked.txt'), 'x\n');
    const snap = await s.load();
    const r = await s.commit({ subject: 'b' }, (tx) => void tx.putApp(app('b')), { snapshot: snap });
    expect(r.changed).toBe(true);
    await expect(readFile(join(s.dir, CACHE))).rejects.toThrow();
  });

  it('is refused when the tree is dirty: untracked file under apps/, modified tracked file', async () => {
    const s = await CatalogStore.init(join(await mkdtemp(join(tmpdir(), 'wharf-snapcache-')), 'c'));
    await s.commit({ subject: 'seed' }, (tx) => void tx.putApp(app('a')));
    const first = await s.load(); // cold, writes the cache
    expect(await cacheHead(s.dir)).toBe(first.head);
    expect((await s.load()).apps.size).toBe(1);

    // An untracked app directory: only a load from the files sees it.
    await mkdir(join(s.dir, 'apps/b'), { recursive: true });
    await writeFile(join(s.dir, 'apps/b/app.yml'), toStableYaml(app('b')));
    expect([...(await s.load()).apps.keys()]).toEqual(['a', 'b']);
    await rm(join(s.dir, 'apps/b'), { recursive: true });
    expect([...(await s.load()).apps.keys()]).toEqual(['a']);

    // A tracked file edited in place.
    await appendFile(join(s.dir, 'apps/a/app.yml'), 'bogus: [\n');
    const dirty = await s.load();
    expect(dirty.apps.size).toBe(0);
    expect(dirty.problems[0]!.file).toBe('apps/a/app.yml');
    await execa('git', ['checkout', '--', '.'], { cwd: s.dir });
    expect((await s.load()).apps.get('a')!.app.title.en).toBe('a');

    // A tracked file deleted: git's index still lists it, the load from the files does not.
    await rm(join(s.dir, 'apps/a'), { recursive: true });
    await rm(join(s.dir, CACHE), { force: true });
    const gone = await s.load();
    expect([gone.apps.size, gone.problems]).toEqual([0, []]);
    await execa('git', ['checkout', '--', '.'], { cwd: s.dir });
    expect([...(await coldLoad(s)).apps.keys()]).toEqual(['a']);
  });
});
