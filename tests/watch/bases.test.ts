// The base-image check against a real docker-registry: built artifacts whose recorded external base
// moved upstream become pending with the build stage's reason, in one commit; an unreachable base is a
// problem of its artifact and the others are still checked; Wharf-built parents are left alone.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact, BuildBase } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { RegistryClient } from '../../publisher/registry/client.ts';
import { checkBases } from '../../publisher/watch/bases.ts';
import { freePort } from '../helpers/ports.ts';
import { pushOneLayerImage, startRegistry, type TestRegistry } from '../helpers/registry.ts';

/** Push a one-layer image whose content is `marker` as `repo:tag`; returns the manifest digest. */
const pushBase = (client: RegistryClient, repo: string, tag: string, marker: string) =>
  pushOneLayerImage(client, repo, tag, Buffer.from(marker));

const app = (id: string) => ({
  id,
  name: id,
  title: { en: id },
  category: 'tools',
  recipes: { container: [] },
});
const built = (appId: string, bases: BuildBase[]): Artifact => ({
  app: appId,
  kind: 'container',
  id: '1.0-oe2403sp4',
  version: '1.0',
  osVersion: '24.03-lts-sp4',
  arches: ['amd64'],
  records: {
    build: {
      runId: '20261201T000000Z-abc123',
      at: '2026-12-01T00:00:00.000Z',
      status: 'ok',
      arches: ['amd64'],
      bases,
    },
  },
});

describe('checkBases (real registry)', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  beforeAll(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ registry: reg.host, insecure: true });
  });
  afterAll(async () => reg?.stop());

  it('marks artifacts pending when an external base moved, in one commit; unreachable bases are problems', async () => {
    const base = `${reg.host}/library/base:1`;
    const d1 = await pushBase(client, 'library/base', '1', 'one');
    const dead = `127.0.0.1:${await freePort()}/library/gone:1`;
    const store = await CatalogStore.init(join(await mkdtemp(join(tmpdir(), 'wharf-bases-')), 'c'));
    await store.commit({ subject: 'seed' }, (tx) => {
      for (const id of ['a', 'b', 'c']) tx.putApp(app(id));
      // a: an external base and a Wharf-built parent (whose ref does not resolve: it must be skipped).
      tx.putArtifact(
        built('a', [
          { ref: base, digest: d1, stages: [0] },
          { ref: `${reg.host}/wharf/parent:9`, digest: d1, stages: [1], app: 'b', tag: '1.0-oe2403sp4' },
        ]),
      );
      tx.putArtifact(built('b', [{ ref: dead, digest: d1, stages: [0] }]));
      tx.putArtifact(built('c', [{ ref: 'base:1', used: base, digest: d1, stages: [0] }]));
    });
    const gitCount = async () =>
      Number((await execa('git', ['-C', store.dir, 'rev-list', '--count', 'HEAD'])).stdout);

    const first = await checkBases(store);
    expect(first.pending).toEqual([]);
    expect(first.commit).toBeNull();
    expect(first.problems.map((p) => p.app)).toEqual(['b']);
    expect(first.checked).toBe(3);
    const before = await gitCount();

    const d2 = await pushBase(client, 'library/base', '1', 'two');
    expect(d2).not.toBe(d1);
    const second = await checkBases(store);
    expect(second.problems).toHaveLength(1);
    expect(second.problems[0]).toMatchObject({ app: 'b', base: dead });
    expect(second.pending).toEqual([
      { app: 'a', artifact: '1.0-oe2403sp4', reason: `base image ${base} changed` },
      { app: 'c', artifact: '1.0-oe2403sp4', reason: `base image ${base} changed` },
    ]);
    expect(second.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(await gitCount()).toBe(before + 1);
    const snap = await store.load();
    const pend = (id: string) => snap.apps.get(id)!.artifacts[0]!.pending?.reason;
    expect(pend('a')).toBe(`base image ${base} changed`);
    expect(pend('c')).toBe(`base image ${base} changed`);
    expect(pend('b')).toBeUndefined();
  }, 120_000);
});
