// The build graph (catalog/graph.ts) over the imported sample and over hand-made apps with a cycle, and
// its command-line contract: `wharf graph --json` and `wharf children <image-ref> --json`.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGraph, childrenOf, ImageIndex } from '../../catalog/graph.ts';
import type { App, AppInput } from '../../catalog/schema.ts';
import { zApp } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { childrenPendingWork, parentRebuiltReason } from '../../publisher/watch/pending.ts';
import { runWharf } from '../helpers/wharf.ts';
import { importedCatalog, tempDir } from './seed.ts';

/** A minimal app whose one recipe reads `bases` (refs), each from the FROM at line 2+i. */
function app(id: string, tag: string, bases: string[]): App {
  const input: AppInput = {
    id,
    name: id,
    title: { en: id },
    category: 'others',
    source: { origin: 'test', dir: `Others/${id}` },
    recipes: {
      container: [
        {
          kind: 'container',
          tag,
          dockerfile: `1.0/24.03-lts-sp4/Dockerfile`,
          version: '1.0',
          osVersion: '24.03-lts-sp4',
          analysis: {
            builder: 'dockerfile',
            exists: true,
            stages: bases.map((b, i) => ({ from: b, resolved: b, line: 2 + i })),
            base: bases.at(-1) ?? null,
            bases: bases.map((ref) => ({ ref })),
            args: {},
            problems: [],
          },
        },
      ],
      cloud: [],
      wsl: [],
    },
  };
  return zApp.parse(input);
}

describe('the build graph of the sample', () => {
  let apps: App[];
  beforeAll(async () => {
    const { store } = await importedCatalog();
    apps = [...(await store.load()).apps.values()].map((e) => e.app);
  });

  it('links each image to the Wharf-built images it is built FROM, parents first in the order', () => {
    const g = buildGraph(apps);
    expect(g.problems).toEqual([]);
    const chat = g.images.get('chatqna:1.2-oe2403lts')!;
    expect(chat.image).toBe('openeuler/chatqna:1.2-oe2403lts');
    expect(chat.file).toBe('AI/opea/chatqna/1.2/24.03-lts/Dockerfile');
    expect(chat.parents).toEqual([
      { ref: 'openeuler/python:3.11.13-oe2403lts', app: 'python', tag: '3.11.13-oe2403lts', line: 8 },
    ]);
    expect(g.images.get('python:3.11.13-oe2403lts')!.children).toEqual([
      { app: 'chatqna', tag: '1.2-oe2403lts', image: 'openeuler/chatqna:1.2-oe2403lts' },
    ]);
    // The OS image is a parent too, but not a Wharf-built one.
    expect(g.images.get('redis:7.2.4-oe2203sp3')!.parents).toEqual([
      { ref: 'openeuler/openeuler:22.03-lts-sp3', line: 2 },
    ]);
    const at = (k: string) => g.order.indexOf(k);
    for (const [parent, child] of [
      ['python:3.11.13-oe2403lts', 'chatqna:1.2-oe2403lts'],
      ['go:1.24.1-oe2403lts', 'kserve-controller:0.15.2-oe2403lts'],
    ] as const) {
      expect(at(parent)).toBeGreaterThanOrEqual(0);
      expect(at(parent)).toBeLessThan(at(child));
    }
    expect(g.order).toHaveLength(g.images.size);
  });

  it('answers children of an app, an app:tag and an image Wharf does not build', () => {
    const g = buildGraph(apps);
    const py = childrenOf(g, 'openeuler/python:3.11.13-oe2403lts', apps);
    expect(py.images).toEqual([
      { app: 'python', tag: '3.11.13-oe2403lts', image: 'openeuler/python:3.11.13-oe2403lts' },
    ]);
    expect(py.children).toEqual([
      {
        app: 'chatqna',
        tag: '1.2-oe2403lts',
        image: 'openeuler/chatqna:1.2-oe2403lts',
        via: 'openeuler/python:3.11.13-oe2403lts',
      },
    ]);
    expect(childrenOf(g, 'python', apps).children.map((c) => c.app)).toEqual(['chatqna']);
    const os = childrenOf(g, 'docker.io/openeuler/openeuler:22.03-lts-sp3', apps);
    expect(os.images).toEqual([]);
    expect(os.children.some((c) => c.app === 'redis' && c.tag === '7.2.4-oe2203sp3')).toBe(true);
    expect(os.children.every((c) => c.via === 'openeuler/openeuler:22.03-lts-sp3')).toBe(true);
  });
});

describe('cycles and pending children', () => {
  const a = app('a', '1.0-oe2403sp4', ['openeuler/openeuler:24.03-lts-sp4', 'openeuler/c:1.0-oe2403sp4']);
  const b = app('b', '1.0-oe2403sp4', ['openeuler/a:1.0-oe2403sp4']);
  const c = app('c', '1.0-oe2403sp4', ['openeuler/b:1.0-oe2403sp4']);
  const d = app('d', '1.0-oe2403sp4', ['openeuler/openeuler:24.03-lts-sp4']);
  const e = app('e', '1.0-oe2403sp4', ['reg.local:5000/wharf/d:1.0-oe2403sp4']);

  it('a cycle is a problem with file:line on each recipe in it; the rest is ordered', () => {
    const g = buildGraph([a, b, c, d, e], {
      registries: [{ name: 'r', repository: 'reg.local:5000/wharf', insecure: false }],
    });
    expect([...g.cyclic].sort()).toEqual(['a:1.0-oe2403sp4', 'b:1.0-oe2403sp4', 'c:1.0-oe2403sp4']);
    expect(g.problems).toEqual([
      {
        app: 'a',
        tag: '1.0-oe2403sp4',
        file: 'Others/a/1.0/24.03-lts-sp4/Dockerfile',
        line: 3,
        message:
          'build graph cycle: a:1.0-oe2403sp4 → b:1.0-oe2403sp4 → c:1.0-oe2403sp4 → a:1.0-oe2403sp4; not built until the cycle is broken',
      },
      expect.objectContaining({ app: 'b', file: 'Others/b/1.0/24.03-lts-sp4/Dockerfile', line: 2 }),
      expect.objectContaining({ app: 'c', file: 'Others/c/1.0/24.03-lts-sp4/Dockerfile', line: 2 }),
    ]);
    // A parent named through a wharf.yml registry target is Wharf-built too.
    expect(g.images.get('e:1.0-oe2403sp4')!.parents[0]).toMatchObject({ app: 'd', tag: '1.0-oe2403sp4' });
    expect(g.order).toEqual(['d:1.0-oe2403sp4', 'e:1.0-oe2403sp4']);
    expect(new ImageIndex([d]).match('quay.io/openeuler/d')).toEqual({ app: 'd' });
  });

  it('a rebuilt parent makes its built children pending with the reason; new and pending ones are left alone', () => {
    const g = buildGraph([d, e, app('f', '1.0-oe2403sp4', ['openeuler/d:1.0-oe2403sp4'])], {
      registries: [{ name: 'r', repository: 'reg.local:5000/wharf', insecure: false }],
    });
    const built = (app: string) => ({
      app,
      kind: 'container' as const,
      id: '1.0-oe2403sp4',
      version: '1.0',
      osVersion: '24.03-lts-sp4',
      arches: ['amd64' as const],
      records: {},
    });
    const marked = childrenPendingWork(
      g,
      { app: 'd', tag: '1.0-oe2403sp4' },
      (id) => (id === 'e' ? built('e') : undefined),
      { since: '2026-01-01T00:00:00.000Z', runId: '20260101T000000Z-abcdef' },
    );
    expect(marked).toEqual([
      {
        ...built('e'),
        pending: {
          reason: parentRebuiltReason('d', '1.0-oe2403sp4'),
          since: '2026-01-01T00:00:00.000Z',
          runId: '20260101T000000Z-abcdef',
        },
      },
    ]);
    expect(marked[0]!.pending!.reason).toBe('parent d:1.0-oe2403sp4 rebuilt');
  });
});

describe('wharf graph / wharf children (CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(await tempDir(), 'catalog');
    const store = await CatalogStore.init(dir);
    await store.commit({ subject: 'test apps' }, (tx) => {
      for (const x of [
        app('a', '1.0-oe2403sp4', ['openeuler/openeuler:24.03-lts-sp4']),
        app('b', '1.0-oe2403sp4', ['openeuler/a:1.0-oe2403sp4']),
        app('c', '1.0-oe2403sp4', ['openeuler/b:1.0-oe2403sp4', 'openeuler/c:1.0-oe2403sp4']),
      ])
        tx.putApp(x);
    });
  });

  it('graph --json lists parents and children of every image, the order and the cycle problem', async () => {
    const r = await runWharf(['graph', '--catalog', dir, '--json']);
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.order).toEqual(['a:1.0-oe2403sp4', 'b:1.0-oe2403sp4']);
    const by = Object.fromEntries(out.images.map((i: { app: string }) => [i.app, i]));
    expect(by.a.children).toEqual([{ app: 'b', tag: '1.0-oe2403sp4', image: 'openeuler/b:1.0-oe2403sp4' }]);
    expect(by.b.parents).toEqual([
      { ref: 'openeuler/a:1.0-oe2403sp4', app: 'a', tag: '1.0-oe2403sp4', line: 2 },
    ]);
    expect(by.c.cycle).toBe(true);
    expect(out.problems).toEqual([
      expect.objectContaining({ app: 'c', file: 'Others/c/1.0/24.03-lts-sp4/Dockerfile', line: 3 }),
    ]);
    const text = await runWharf(['graph', '--catalog', dir]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(
      /^b:1\.0-oe2403sp4 {2}\(openeuler\/b:1\.0-oe2403sp4\)\n {4}FROM openeuler\/a:1\.0-oe2403sp4 {2}\(Wharf: a:1\.0-oe2403sp4\)$/m,
    );
    expect(text.stderr).toMatch(/Others\/c\/1\.0\/24\.03-lts-sp4\/Dockerfile:3: build graph cycle/);
  });

  it('children --json gives direct children and descendants; bad and unknown references are usage errors', async () => {
    const r = await runWharf(['children', 'openeuler/openeuler:24.03-lts-sp4', '--catalog', dir, '--json']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      query: 'openeuler/openeuler:24.03-lts-sp4',
      images: [],
      children: [
        {
          app: 'a',
          tag: '1.0-oe2403sp4',
          image: 'openeuler/a:1.0-oe2403sp4',
          via: 'openeuler/openeuler:24.03-lts-sp4',
        },
      ],
      descendants: [
        { app: 'a', tag: '1.0-oe2403sp4', image: 'openeuler/a:1.0-oe2403sp4' },
        { app: 'b', tag: '1.0-oe2403sp4', image: 'openeuler/b:1.0-oe2403sp4' },
        // built FROM b too, but in a cycle with itself: listed last, never ordered
        { app: 'c', tag: '1.0-oe2403sp4', image: 'openeuler/c:1.0-oe2403sp4' },
      ],
    });
    const text = await runWharf(['children', 'a:1.0-oe2403sp4', '--catalog', dir]);
    expect(text.stdout).toMatch(/^ {2}b:1\.0-oe2403sp4 {2}FROM openeuler\/a:1\.0-oe2403sp4$/m);
    expect((await runWharf(['children', '--upload-pack=x', '--catalog', dir])).exitCode).toBe(2);
    expect((await runWharf(['children', 'nope', '--catalog', dir, '--json'])).exitCode).toBe(2);
  });
});
