import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zCatalogConfig, type App } from '../../catalog/schema.ts';
import { aliasTagsFor, compareAppVersion, compareOsVersion } from '../../publisher/publish/aliases.ts';
import { RegistryClient } from '../../publisher/registry/client.ts';
import { generateSigningKeyPair, parsePublicKey } from '../../publisher/sign/keys.ts';
import { verifyImage } from '../../publisher/sign/verify.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { startFaultProxy, type FaultProxy } from '../registry/fixtures.ts';
import { makeHarness, publishWith, recipe, runSign, type Harness } from './harness.ts';

const runPublish = publishWith({ retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 } });
const pair = generateSigningKeyPair();
const env = { WHARF_SIGNING_KEY: pair.privatePem };
const LTS = '^24\\.03-lts-sp[0-9]+$';

const nginx = {
  id: 'nginx',
  name: 'nginx',
  title: { en: 'nginx' },
  category: 'web',
  recipes: {
    container: [
      recipe('1.26.0-oe2403sp1', '1.26.0', '24.03-lts-sp1'),
      recipe('1.27.1-oe2403sp4', '1.27.1', '24.03-lts-sp4'),
      recipe('1.26.0-oe2403sp4', '1.26.0', '24.03-lts-sp4'),
      recipe('1.29.0-oe2203sp4', '1.29.0', '22.03-lts-sp4'),
    ],
  },
};

let regA: TestRegistry;
let regB: TestRegistry;
let proxy: FaultProxy;
let h: Harness;

beforeAll(async () => {
  [regA, regB] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startFaultProxy(regB.host);
  h = await makeHarness(
    {
      registries: [
        { name: 'a', repository: `${regA.host}/openeuler`, insecure: true },
        { name: 'b', repository: `${proxy.host}/mirror/openeuler`, insecure: true },
      ],
      aliases: [{ osVersion: LTS, tags: ['24.03', 'latest'] }],
    },
    [nginx],
  );
});
afterAll(async () => {
  await proxy?.stop();
  await Promise.all([regA?.stop(), regB?.stop()]);
  await h?.cleanup();
});

const headDigest = async (host: string, repo: string, tag: string) =>
  (await new RegistryClient({ registry: host, insecure: true }).headManifest(repo, tag))?.digest;

async function signAndPublish(tag: string) {
  await runSign(await h.ctx(env), await h.target('nginx', tag));
  const out = await runPublish(await h.ctx(env), await h.target('nginx', tag));
  const rec = (await h.store.loadApp('nginx'))!.artifacts.find((a) => a.id === tag)!.records.publish!;
  return { out, rec };
}

describe('version order for aliases', () => {
  it('orders OS versions by release, LTS and service pack, then app versions', () => {
    expect(compareOsVersion('24.03-lts-sp4', '24.03-lts-sp1')).toBeGreaterThan(0);
    expect(compareOsVersion('24.03-lts-sp1', '24.03-lts')).toBeGreaterThan(0);
    expect(compareOsVersion('25.09', '24.03-lts-sp4')).toBeGreaterThan(0);
    expect(compareAppVersion('1.27.1', '1.26.10')).toBeGreaterThan(0);
    expect(compareAppVersion('1.10.0', '1.9.9')).toBeGreaterThan(0);
    expect(compareAppVersion('2.0.0', '2.0.0-rc1')).toBeGreaterThan(0);
    expect(compareAppVersion('2.0.0.1', '2.0.0')).toBeGreaterThan(0);
    expect(compareAppVersion('v3.1', '3.1')).toBe(0);
  });

  it('gives the rule tags only to the newest publishable build of the OS line', () => {
    const cfg = zCatalogConfig.parse({ aliases: [{ osVersion: LTS, tags: ['24.03', 'latest'] }] });
    const app = {
      ...nginx,
      recipes: { container: nginx.recipes.container, cloud: [], wsl: [] },
    } as unknown as App;
    const r = (tag: string) => app.recipes.container.find((x) => x.tag === tag)!;
    // Nothing else is built: each one alone would be the newest of its line.
    expect(aliasTagsFor(app, [], r('1.26.0-oe2403sp1'), cfg)).toEqual(['24.03', 'latest']);
    expect(aliasTagsFor(app, [], r('1.29.0-oe2203sp4'), cfg)).toEqual([]);
    expect(() =>
      aliasTagsFor(
        app,
        [],
        r('1.26.0-oe2403sp1'),
        zCatalogConfig.parse({ aliases: [{ osVersion: '(', tags: ['x'] }] }),
      ),
    ).toThrow(/aliases\[0\]\.osVersion/);
  });
});

describe('publish to two registry targets', () => {
  it('records partial when one target returns 500 mid-push; the other keeps its image', async () => {
    const tag = '1.26.0-oe2403sp1';
    const digest = await h.built('nginx', tag);
    // Target b: the upload starts fine, then every blob PUT fails with 500.
    proxy.setFault((req) =>
      req.method === 'PUT' && req.url?.includes('/blobs/uploads/') ? 'fail500' : 'pass',
    );
    const { out, rec } = await signAndPublish(tag);
    expect(out.status).toBe('partial');
    expect(rec.status).toBe('partial');
    expect(rec.digest).toBe(digest);
    const a = rec.targets.find((x) => x.target === 'a')!;
    const b = rec.targets.find((x) => x.target === 'b')!;
    expect(a).toMatchObject({
      status: 'ok',
      ref: `${regA.host}/openeuler/nginx:${tag}`,
      digest,
      aliases: ['24.03', 'latest'],
    });
    expect(b.status).toBe('failed');
    expect(b.error).toMatch(/HTTP 500/);
    expect(b.attempts).toBeGreaterThan(1);
    expect(rec.error!.message).toMatch(/failed on b/);
    expect(proxy.log.some((l) => l.startsWith('POST /v2/mirror/openeuler/nginx/blobs/uploads/'))).toBe(true);
    // a has the image, its aliases and the signature; b has nothing.
    for (const t of [tag, '24.03', 'latest'])
      expect(await headDigest(regA.host, 'openeuler/nginx', t)).toBe(digest);
    expect(await headDigest(regB.host, 'mirror/openeuler/nginx', tag)).toBeUndefined();
    const art = (await h.store.loadApp('nginx'))!.artifacts.find((x) => x.id === tag)!;
    expect(art.pending).toBeDefined(); // still outstanding work
    const log = await h.store.log('nginx', { limit: 1 });
    expect(log[0]!.trailers).toMatchObject({ App: 'nginx', Artifact: tag, Stage: 'publish' });

    // The registry recovers: a is unchanged (HEADs only), b gets everything.
    proxy.setFault(undefined);
    const again = await signAndPublish(tag);
    expect(again.rec.status).toBe('ok');
    expect(again.rec.targets.map((x) => [x.target, x.status])).toEqual([
      ['a', 'unchanged'],
      ['b', 'ok'],
    ]);
    expect(await headDigest(regB.host, 'mirror/openeuler/nginx', 'latest')).toBe(digest);
    expect((await h.store.loadApp('nginx'))!.artifacts.find((x) => x.id === tag)!.pending).toBeUndefined();
    const v = await verifyImage(
      `${proxy.host}/mirror/openeuler/nginx:${tag}`,
      parsePublicKey(pair.publicPem, 'pub'),
    );
    expect(v.valid).toBe(true);
    expect(v.signatures[0]!.dockerReference).toBe(`${proxy.host}/mirror/openeuler/nginx`);

    // Nothing changed: unchanged everywhere.
    expect((await signAndPublish(tag)).rec.status).toBe('unchanged');
  });

  it('moves the aliases to the newest build of the line, across OS and app versions', async () => {
    const newest = '1.27.1-oe2403sp4';
    const older = '1.26.0-oe2403sp4';
    const dOlder = await h.built('nginx', older);
    const dNewest = await h.built('nginx', newest);
    const o = await signAndPublish(older);
    expect(o.rec.status).toBe('ok');
    expect(o.rec.targets[0]!.aliases).toBeUndefined();
    const n = await signAndPublish(newest);
    expect(n.rec.targets.every((x) => x.status === 'ok')).toBe(true);
    expect(n.rec.targets[0]!.aliases).toEqual(['24.03', 'latest']);
    expect(await headDigest(regA.host, 'openeuler/nginx', 'latest')).toBe(dNewest);
    expect(await headDigest(regB.host, 'mirror/openeuler/nginx', '24.03')).toBe(dNewest);
    expect(await headDigest(regA.host, 'openeuler/nginx', older)).toBe(dOlder);
    // A 22.03 build matches no rule and never takes `latest`.
    await h.built('nginx', '1.29.0-oe2203sp4');
    const x = await signAndPublish('1.29.0-oe2203sp4');
    expect(x.rec.targets[0]!.aliases).toBeUndefined();
    expect(await headDigest(regA.host, 'openeuler/nginx', 'latest')).toBe(dNewest);
  });

  it('publishes nothing when verify failed or the scan policy blocked, and says why', async () => {
    const tag = '1.26.0-oe2403sp1';
    const d1 = await h.built('nginx', tag, { verify: 'failed' });
    const { out, rec } = await signAndPublish(tag);
    expect(out.status).toBe('blocked');
    expect(rec).toMatchObject({ status: 'blocked', blockedBy: 'verify' });
    expect(rec.error!.message).toMatch(/smoke tests failed/);
    expect(await headDigest(regA.host, 'openeuler/nginx', d1)).toBeUndefined();
    const sign = (await h.store.loadApp('nginx'))!.artifacts.find((x) => x.id === tag)!.records.sign!;
    expect(sign.status).toBe('skipped');

    const d2 = await h.built('nginx', tag, { scanBlocked: true });
    const blocked = await signAndPublish(tag);
    expect(blocked.rec).toMatchObject({ status: 'blocked', blockedBy: 'scan' });
    expect(blocked.rec.error!.message).toMatch(/CVE-2024-0001/);
    expect(await headDigest(regA.host, 'openeuler/nginx', d2)).toBeUndefined();

    // The CLI: blocked → exit 1 with the outcome in JSON; an already-published artifact → unchanged, exit 0.
    const cli = (args: string[]) =>
      execa(
        'node',
        [
          'scripts/wharf.mjs',
          'publish',
          ...args,
          '--json',
          '--catalog',
          h.store.dir,
          '--work-dir',
          join(h.dir, 'work'),
        ],
        {
          reject: false,
        },
      );
    const [bad, good] = await Promise.all([cli([`nginx:${tag}`]), cli(['nginx:1.27.1-oe2403sp4'])]);
    expect(bad.exitCode).toBe(1);
    expect(JSON.parse(bad.stdout).outcomes).toEqual([
      expect.objectContaining({ app: 'nginx', artifactId: tag, status: 'blocked' }),
    ]);
    expect(good.exitCode, good.stderr).toBe(0);
    expect(JSON.parse(good.stdout).outcomes[0].status).toBe('unchanged');
  });
});
