// Multi-arch images on the real podman service and two real docker-registry instances: a FROM-scratch
// recipe with a static busybox per arch is built for amd64 and arm64 (arm64 through
// /build?platform=linux/arm64; its image runs under qemu-user-static), each arch verified and scanned on
// its own with its own records, signed (the index and each arch manifest), and published as ONE OCI image
// index with the same digest on both registries (`skopeo inspect --raw` shows it; `wharf verify` passes for
// the index and each arch). A failure injected into one arch keeps the other's records and publishes no
// index; fixing it publishes. A rerun builds nothing. A registry refusing the index media type is recorded
// on its target while the others go on. One image set is shared by the whole file.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppInput, Artifact, CatalogConfig } from '../../catalog/schema.ts';
import { runPipeline, selectTargets, parseSelection } from '../../publisher/pipeline/index.ts';
import type { Stage } from '../../catalog/schema.ts';
import { archLayoutDir } from '../../publisher/build/index.ts';
import { layoutManifestDigest } from '../../publisher/build/export.ts';
import { RegistryClient, sha256Digest } from '../../publisher/registry/client.ts';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../publisher/registry/media.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import { prepareArches } from '../helpers/arches.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { runWharf } from '../helpers/wharf.ts';
import { cliBuild } from '../site/browser.ts';
import { API_SCHEMAS } from '../../site/src/lib/api-schema.ts';
import { freePort } from '../helpers/ports.ts';
import { startPipelineFixture, OS, type PipelineFixture } from './fixture.ts';

const FAKE_TRIVY = resolve('tests/fixtures/bin/trivy');
let f: PipelineFixture;
let reg2: TestRegistry;
let busybox: Record<'amd64' | 'arm64', string>;
let env: NodeJS.ProcessEnv;
let pubKeyFile: string;
const DIR = 'Others/multi';
const REL = `1.0/${OS}`;
const TAG = '1.0-oe2403sp4';

const app: AppInput = {
  id: 'multi',
  name: 'multi',
  title: { en: 'multi' },
  category: 'others',
  scene: 'Others',
  license: { spdx: 'MIT' },
  source: { origin: 'fixture', dir: DIR },
  recipes: {
    container: [
      {
        kind: 'container',
        tag: TAG,
        dockerfile: `${REL}/Dockerfile`,
        version: '1.0',
        osVersion: OS,
        arches: ['amd64', 'arm64'],
        smoke: [
          {
            name: 'busybox runs',
            command: ['/bin/busybox', 'uname', '-m'],
            expectExit: 0,
            expectOutput: '^(x86_64|aarch64)',
            timeoutSeconds: 60,
          },
        ],
      },
    ],
    cloud: [],
    wsl: [],
  },
};

const ctxDir = () => join(f.recipesDir, DIR, REL);

beforeAll(async () => {
  busybox = await prepareArches();
  f = await startPipelineFixture({ apps: false });
  reg2 = await startRegistry();
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  pubKeyFile = join(f.dir, 'cosign.pub');
  await writeFile(pubKeyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  env = {
    WHARF_SIGNING_KEY: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    WHARF_TRIVY: FAKE_TRIVY,
    WHARF_TRIVY_TIMEOUT: '30',
  };
  process.env.FAKE_TRIVY_REPORT = 'alpine-310';
  await mkdir(join(ctxDir(), 'amd64'), { recursive: true });
  await mkdir(join(ctxDir(), 'arm64'), { recursive: true });
  await copyFile(busybox.amd64, join(ctxDir(), 'amd64/busybox'));
  // The injected failure: the arm64 "busybox" is not an executable at all (its smoke test fails).
  await writeFile(join(ctxDir(), 'arm64/busybox'), 'not a binary\n');
  await chmod(join(ctxDir(), 'arm64/busybox'), 0o755);
  await writeFile(
    join(ctxDir(), 'Dockerfile'),
    'FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}/busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n',
  );
  await f.commitRecipes('multi-arch fixture');
  await f.store.commit({ subject: 'multi app; arches; two registries' }, async (tx) => {
    tx.putApp(app);
    const cfg = await tx.getConfig();
    tx.putConfig({
      ...cfg,
      arches: { default: ['amd64', 'arm64'] },
      registries: [...cfg.registries, { name: 'second', repository: `${reg2.host}/mirror`, insecure: true }],
      aliases: [{ osVersion: '^24\\.03-lts-sp4$', tags: ['latest'] }],
      scanPolicy: { ...cfg.scanPolicy, block: [] },
    });
  });
}, 600_000);
afterAll(async () => {
  await reg2?.stop();
  await f?.stop();
});

async function run(only?: Stage[], build?: { arches?: Array<'amd64' | 'arm64' | 'riscv64'> }) {
  const ctx = await f.ctx({ env });
  const snap = await f.store.load();
  const { targets } = selectTargets(snap, parseSelection(['multi']));
  return runPipeline(ctx, targets, {
    concurrency: 1,
    ...(only ? { only } : {}),
    ...(build ? { build } : {}),
    verify: { networkMode: 'host' },
  });
}
async function artifact(): Promise<Artifact> {
  const a = (await f.store.loadApp('multi'))?.artifacts[0];
  if (!a) throw new Error('no artifact');
  return a;
}
const client = (host: string) =>
  new RegistryClient({ registry: host, insecure: true, retry: { retries: 1 } });
const targetsOf = () => [
  { host: f.registry.host, repo: 'wharf/multi' },
  { host: reg2.host, repo: 'mirror/multi' },
];

describe('multi-arch image index', () => {
  it('a failure in one arch keeps the other arch records and publishes no index', async () => {
    const r = await run();
    expect(r.artifacts[0]).toMatchObject({ status: 'failed' });
    const a = await artifact();
    const b = a.records.build!;
    // Both arches built, each with its own record and layout.
    expect(b.status).toBe('ok');
    expect(b.arches).toEqual(['amd64', 'arm64']);
    const [amd, arm] = b.platforms!;
    expect(amd).toMatchObject({ arch: 'amd64', status: 'ok', emulated: false, log: expect.anything() });
    expect(arm).toMatchObject({ arch: 'arm64', status: 'ok', emulated: true, log: expect.anything() });
    expect(amd!.inputsDigest).not.toBe(arm!.inputsDigest);
    expect(amd!.manifestDigest).not.toBe(arm!.manifestDigest);
    // Verified on its own: amd64 passed, arm64 failed (and is named as what held the index back).
    const v = a.records.verify!;
    expect(v.status).toBe('failed');
    expect(v.error!.message).toMatch(/failed for required arch arm64: smoke test "busybox runs"/);
    expect(v.platforms!.map((p) => [p.arch, p.status])).toEqual([
      ['amd64', 'passed'],
      ['arm64', 'failed'],
    ]);
    expect(v.platforms![0]!.checks[0]).toMatchObject({
      status: 'passed',
      output: [expect.stringMatching(/^x86_64/)],
    });
    expect(a.records.publish).toBeUndefined();
    for (const t of targetsOf()) expect(await client(t.host).headManifest(t.repo, TAG)).toBeNull();

    // Publish asked directly: blocked, and the record says which arch held it back.
    await run(['publish']);
    const p = (await artifact()).records.publish!;
    expect(p).toMatchObject({ status: 'blocked', blockedBy: 'verify' });
    expect(p.heldBack).toEqual([
      { arch: 'arm64', stage: 'verify', reason: expect.stringMatching(/^smoke tests failed/) },
    ]);
    for (const t of targetsOf()) expect(await client(t.host).headManifest(t.repo, TAG)).toBeNull();
  }, 600_000);

  it('fixing the arch publishes one image index, same digest on both registries, signed and verifiable', async () => {
    await copyFile(busybox.arm64, join(ctxDir(), 'arm64/busybox'));
    await f.commitRecipes('fix arm64');
    const r = await run();
    expect(r.artifacts[0]).toMatchObject({ status: 'published' });
    const a = await artifact();
    const b = a.records.build!;
    const [amd, arm] = b.platforms!;
    for (const p of [amd!, arm!]) {
      expect(p).toMatchObject({
        status: 'ok',
        inputsDigest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/),
        manifestDigest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/),
        size: expect.any(Number),
      });
      expect(p.size!).toBeGreaterThan(500_000); // the static busybox, gzip'd
    }
    expect(b.manifestDigest).toBe(amd!.manifestDigest);
    expect(await layoutManifestDigest(imageLayoutDir({ workDir: f.workDir }, 'multi', TAG))).toBe(
      amd!.manifestDigest,
    );
    expect(await layoutManifestDigest(archLayoutDir({ workDir: f.workDir }, 'multi', TAG, 'arm64'))).toBe(
      arm!.manifestDigest,
    );
    const img = await f.podman.engine.getImage(`localhost/wharf/multi:${TAG}-arm64`).inspect();
    expect(img.Architecture).toBe('arm64');

    // Smoke tests on both arches, arm64 under emulation.
    const v = a.records.verify!;
    expect(v.status).toBe('passed');
    expect(v.platforms!.map((p) => [p.arch, p.status, p.emulated, p.manifestDigest])).toEqual([
      ['amd64', 'passed', false, amd!.manifestDigest],
      ['arm64', 'passed', true, arm!.manifestDigest],
    ]);
    expect(v.platforms![1]!.checks[0]!.output![0]).toMatch(/^aarch64/);
    // Scanned per arch, each on its own digest.
    const s = a.records.scan!;
    expect(s.platforms!.map((p) => [p.arch, p.status, p.target])).toEqual([
      ['amd64', 'ok', amd!.manifestDigest],
      ['arm64', 'ok', arm!.manifestDigest],
    ]);

    // One index, the same on every registry; alias tags point at it.
    const pub = a.records.publish!;
    expect(pub).toMatchObject({ status: 'ok', mediaType: OCI_INDEX });
    expect(pub.platforms).toEqual([
      { arch: 'amd64', digest: amd!.manifestDigest, size: amd!.size },
      { arch: 'arm64', digest: arm!.manifestDigest, size: arm!.size },
    ]);
    expect(pub.targets.map((t) => [t.target, t.status, t.digest])).toEqual([
      ['local', 'ok', pub.digest],
      ['second', 'ok', pub.digest],
    ]);
    for (const t of targetsOf()) {
      const c = client(t.host);
      for (const tag of [TAG, 'latest']) expect((await c.headManifest(t.repo, tag))?.digest).toBe(pub.digest);
      const raw = await execa('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${t.host}/${t.repo}:${TAG}`,
      ]);
      const doc = JSON.parse(raw.stdout) as {
        mediaType: string;
        manifests: Array<{ digest: string; platform: { architecture: string; os: string } }>;
      };
      expect(doc.mediaType).toBe(OCI_INDEX);
      expect(doc.manifests.map((m) => [m.platform.architecture, m.platform.os, m.digest])).toEqual([
        ['amd64', 'linux', amd!.manifestDigest],
        ['arm64', 'linux', arm!.manifestDigest],
      ]);
      // skopeo resolves the tag to the index (Digest) and reads the arm64 image's config through it.
      const armInfo = await execa('skopeo', [
        'inspect',
        '--override-arch',
        'arm64',
        '--tls-verify=false',
        `docker://${t.host}/${t.repo}:${TAG}`,
      ]);
      expect(JSON.parse(armInfo.stdout) as { Digest: string; Architecture: string }).toMatchObject({
        Digest: pub.digest,
        Architecture: 'arm64',
      });
    }

    // Signed: the index and each arch manifest, on every target.
    const sign = a.records.sign!;
    expect(sign.status).toBe('signed');
    expect(sign.signatures.map((x) => [x.target, x.arch ?? 'index', x.digest]).sort()).toEqual(
      [
        ['local', 'index', pub.digest],
        ['local', 'amd64', amd!.manifestDigest],
        ['local', 'arm64', arm!.manifestDigest],
        ['second', 'index', pub.digest],
        ['second', 'amd64', amd!.manifestDigest],
        ['second', 'arm64', arm!.manifestDigest],
      ].sort(),
    );
    // `wharf verify` checks the index and each arch manifest (signature and provenance).
    for (const t of targetsOf()) {
      const res = await runWharf(
        ['verify', `${t.host}/${t.repo}:${TAG}`, '--key', pubKeyFile, '--require-attestation', '--json'],
        { timeout: 120_000 },
      );
      expect(res.exitCode, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout) as {
        valid: boolean;
        digest: string;
        mediaType: string;
        manifests: Array<{
          valid: boolean;
          digest: string;
          platform: { architecture: string };
          attestations: Array<{ valid: boolean }>;
        }>;
      };
      expect(out).toMatchObject({ valid: true, digest: pub.digest, mediaType: OCI_INDEX });
      expect(
        out.manifests.map((m) => [m.platform.architecture, m.digest, m.valid, m.attestations[0]?.valid]),
      ).toEqual([
        ['amd64', amd!.manifestDigest, true, true],
        ['arm64', arm!.manifestDigest, true, true],
      ]);
    }
  }, 900_000);

  it('the tag page and the API list each arch with its manifest digest and compressed size', async () => {
    const a = await artifact();
    const [amd, arm] = a.records.build!.platforms!;
    const out = join(f.dir, 'site');
    await cliBuild(f.catalogDir, out);
    const html = await readFile(join(out, 'en/apps/multi/container', TAG, 'index.html'), 'utf8');
    for (const p of [amd!, arm!]) {
      const row = new RegExp(`<tr data-arch="${p.arch}"[^>]*>.*?</tr>`, 's').exec(html)?.[0] ?? '';
      expect(row).toContain(p.manifestDigest);
      expect(row).toContain(`<td data-bytes="${p.size}">`);
      expect(row).toMatch(/>\d+\.\d (KiB|MiB)</);
      expect(row).toMatch(/<td>yes<\/td>/);
    }
    expect(html).toContain(a.records.publish!.digest);
    const doc = JSON.parse(await readFile(join(out, 'api/apps/multi.json'), 'utf8')) as {
      tags: Array<{ id: string; digest: string; platforms: unknown }>;
    };
    const tag = doc.tags.find((x) => x.id === TAG)!;
    expect(tag.digest).toBe(a.records.publish!.digest);
    expect(tag.platforms).toEqual([
      { arch: 'amd64', digest: amd!.manifestDigest, size: amd!.size, published: true },
      { arch: 'arm64', digest: arm!.manifestDigest, size: arm!.size, published: true },
    ]);
    // The API document still validates against its published schema (the allow-list).
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats.default(ajv);
    ajv.addKeyword('components');
    ajv.addSchema({ $id: 'wharf', components: { schemas: API_SCHEMAS } }, 'wharf');
    const validate = ajv.getSchema('wharf#/components/schemas/AppDocument')!;
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
  }, 300_000);

  it('a rerun with nothing changed builds no arch and publishes nothing new', async () => {
    const before = await artifact();
    const r = await run();
    expect(r.artifacts[0]!.stages[0]).toMatchObject({ stage: 'build', status: 'unchanged' });
    // The published index lists exactly these arch manifests: nothing else runs.
    expect(r.artifacts[0]!.stages.map((s) => s.stage)).toEqual(['build']);
    const b = (await artifact()).records.build!;
    expect(b.platforms!.map((p) => [p.arch, p.status])).toEqual([
      ['amd64', 'unchanged'],
      ['arm64', 'unchanged'],
    ]);
    expect(b.platforms!.map((p) => p.manifestDigest)).toEqual(
      before.records.build!.platforms!.map((p) => p.manifestDigest),
    );
    // Publish run again on its own: every target already serves the index.
    await run(['publish']);
    const p = (await artifact()).records.publish!;
    expect(p.status).toBe('unchanged');
    expect(p.digest).toBe(before.records.publish!.digest);
  }, 300_000);

  it('a registry that refuses the index media type is recorded on its target; the others go on', async () => {
    const picky = await startIndexRefusingProxy(reg2.host);
    try {
      await f.store.commit({ subject: 'a picky registry' }, async (tx) => {
        const cfg = await tx.getConfig();
        tx.putConfig({ ...cfg, registries: [...cfg.registries, pickyTarget(picky.host)] });
      });
      await run(['sign', 'publish']);
      const p = (await artifact()).records.publish!;
      expect(p.status).toBe('partial');
      const [local, second, pk] = p.targets;
      expect(local).toMatchObject({ status: 'ok', digest: p.digest });
      expect(second).toMatchObject({ status: 'ok', digest: p.digest });
      expect(pk).toMatchObject({ target: 'picky', status: 'failed', refusedMediaType: OCI_INDEX });
      expect(pk!.error).toMatch(
        /registry refused the image index \(application\/vnd\.oci\.image\.index\.v1\+json\)/,
      );
    } finally {
      await f.store.commit({ subject: 'no picky registry' }, async (tx) => {
        const cfg = await tx.getConfig();
        tx.putConfig({ ...cfg, registries: cfg.registries.filter((x) => x.name !== 'picky') });
      });
      await picky.stop();
    }
  }, 300_000);

  it('a base that changed for one arch only rebuilds only that arch and republishes the index', async () => {
    // A multi-arch base (an OCI index in the fixture registry) under the recipe, one file per arch.
    const baseRef = `${f.registry.host}/openeuler/multibase:1`;
    await pushBaseIndex(f.registry.host, 'openeuler/multibase', '1', {
      amd64: 'amd64 v1',
      arm64: 'arm64 v1',
    });
    await writeFile(
      join(ctxDir(), 'Dockerfile'),
      'ARG BASE\nFROM ${BASE}\nARG TARGETARCH\nCOPY ${TARGETARCH}/busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n',
    );
    await f.commitRecipes('FROM a multi-arch base');
    await f.store.commit({ subject: 'multi-arch base' }, async (tx) => {
      const cfg = await tx.getConfig();
      tx.putConfig({ ...cfg, baseImages: { ...cfg.baseImages, [OS]: baseRef } });
    });
    const r1 = await run();
    expect(r1.artifacts[0], JSON.stringify(r1.artifacts[0])).toMatchObject({ status: 'published' });
    const b1 = (await artifact()).records.build!;
    const p1 = (await artifact()).records.publish!;

    // Only the arm64 image of the base changes.
    await pushBaseIndex(f.registry.host, 'openeuler/multibase', '1', {
      amd64: 'amd64 v1',
      arm64: 'arm64 v2',
    });
    const r2 = await run();
    expect(r2.artifacts[0], JSON.stringify(r2.artifacts[0])).toMatchObject({ status: 'published' });
    const a = await artifact();
    const b2 = a.records.build!;
    expect(
      b2.platforms!.map((p) => [p.arch, p.status]),
      JSON.stringify([b1.platforms!.map((p) => p.bases), b2.platforms!.map((p) => p.bases)]),
    ).toEqual([
      ['amd64', 'unchanged'],
      ['arm64', 'ok'],
    ]);
    expect(b2.platforms![0]!.manifestDigest).toBe(b1.platforms![0]!.manifestDigest);
    expect(b2.platforms![1]!.manifestDigest).not.toBe(b1.platforms![1]!.manifestDigest);
    // amd64 was not tested again; arm64 was.
    expect(a.records.verify!.platforms!.map((p) => [p.arch, p.status])).toEqual([
      ['amd64', 'passed'],
      ['arm64', 'passed'],
    ]);
    // A new index listing the unchanged amd64 manifest and the new arm64 one, on both registries.
    const p2 = a.records.publish!;
    expect(p2.status).toBe('ok');
    expect(p2.digest).not.toBe(p1.digest);
    expect(p2.platforms!.map((p) => p.digest)).toEqual(b2.platforms!.map((p) => p.manifestDigest));
    for (const t of targetsOf())
      expect((await client(t.host).headManifest(t.repo, TAG))?.digest).toBe(p2.digest);
  }, 600_000);

  it('a build failure in one arch keeps the other arch record and fails the build; fixing it builds', async () => {
    await rm(join(ctxDir(), 'arm64/busybox'));
    await writeFile(join(ctxDir(), 'arm64/.keep'), '');
    await f.commitRecipes('break arm64');
    const r = await run(['build']);
    expect(r.artifacts[0]).toMatchObject({ status: 'failed' });
    const b = (await artifact()).records.build!;
    expect(b.status).toBe('failed');
    expect(b.error?.message).toMatch(/^build multi:1\.0-oe2403sp4 failed for arm64 /);
    expect(b.error?.message).toContain('the image index is not published until every required arch builds');
    const amd = b.platforms!.find((p) => p.arch === 'amd64')!;
    const arm = b.platforms!.find((p) => p.arch === 'arm64')!;
    expect(amd).toMatchObject({ status: 'ok', manifestDigest: expect.stringMatching(/^sha256:/) });
    expect(arm).toMatchObject({ status: 'failed', error: { message: expect.any(String) } });
    expect(arm.manifestDigest).toBeUndefined();

    await copyFile(busybox.arm64, join(ctxDir(), 'arm64/busybox'));
    await rm(join(ctxDir(), 'arm64/.keep'));
    await f.commitRecipes('fix arm64');
    const r2 = await run(['build']);
    expect(r2.artifacts[0]).toMatchObject({ status: 'done' });
    const b2 = (await artifact()).records.build!;
    expect(b2.status).toBe('ok');
    expect(b2.platforms!.map((p) => p.status)).toEqual(['ok', 'ok']);
    expect(b2.error).toBeUndefined();
  }, 600_000);

  it('an arch with no builder here is a recorded failure with the fix, not a crash', async () => {
    await f.store.commit({ subject: 'riscv64 too' }, async (tx) => {
      const recipe = { ...app.recipes!.container![0]!, arches: ['amd64' as const, 'riscv64' as const] };
      tx.putApp({ ...app, recipes: { container: [recipe], cloud: [], wsl: [] } });
    });
    const r = await run(['build'], { arches: ['amd64', 'riscv64'] });
    expect(r.artifacts[0]).toMatchObject({ status: 'failed' });
    const b = (await artifact()).records.build!;
    const rv = b.platforms!.find((p) => p.arch === 'riscv64')!;
    expect(rv.status).toBe('failed');
    expect(rv.error!.message).toContain('no qemu-riscv64 binfmt_misc handler is enabled');
    expect(rv.error!.message).toContain('update-binfmts --enable qemu-riscv64');
    expect(b.platforms!.find((p) => p.arch === 'amd64')!.status).toBe('unchanged');
  }, 300_000);
});

type RegistryTarget = CatalogConfig['registries'][number];
const pickyTarget = (host: string): RegistryTarget => ({
  name: 'picky',
  repository: `${host}/picky`,
  insecure: true,
});

/**
 * A loopback proxy in front of a real registry that refuses OCI image indexes (HTTP 415 with a
 * distribution error, like registries without index support) and passes everything else through.
 */
async function startIndexRefusingProxy(upstream: string): Promise<{ host: string; stop(): Promise<void> }> {
  const port = await freePort();
  const [uhost, uport] = upstream.split(':');
  const server: Server = createServer((req, res) => {
    if (
      req.method === 'PUT' &&
      /\/manifests\//.test(req.url ?? '') &&
      req.headers['content-type'] === OCI_INDEX
    ) {
      req.resume();
      res.writeHead(415, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: 'manifest list not supported' }] }),
      );
      return;
    }
    const up = request(
      { host: uhost, port: Number(uport), method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        const headers = { ...ur.headers };
        if (typeof headers.location === 'string')
          headers.location = headers.location.replace(`//${upstream}`, `//127.0.0.1:${port}`);
        res.writeHead(ur.statusCode ?? 502, headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Push a tiny two-arch base image (one file layer per arch) and its OCI index under `tag`. */
async function pushBaseIndex(
  host: string,
  repo: string,
  tag: string,
  text: Record<'amd64' | 'arm64', string>,
) {
  const c = client(host);
  const manifests = [];
  for (const arch of ['amd64', 'arm64'] as const) {
    const tmp = await mkdtemp(join(f.dir, 'base-'));
    await mkdir(join(tmp, 'root/etc'), { recursive: true });
    await writeFile(join(tmp, 'root/etc/base-arch'), `${text[arch]}\n`);
    // Same text, same bytes: a fixed mtime and owner, so an unchanged arch keeps its manifest digest.
    await execa('tar', [
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--sort=name',
      '-C',
      join(tmp, 'root'),
      '-cf',
      join(tmp, 'layer.tar'),
      'etc',
    ]);
    const tar = await readFile(join(tmp, 'layer.tar'));
    const layer = gzipSync(tar);
    const config = Buffer.from(
      JSON.stringify({
        architecture: arch,
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] },
        history: [{ created_by: 'wharf test base' }],
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: sha256Digest(config), size: config.length },
        layers: [{ mediaType: OCI_LAYER_GZIP, digest: sha256Digest(layer), size: layer.length }],
      }),
    );
    for (const b of [config, layer]) await c.uploadBlob(repo, sha256Digest(b), b.length, { bytes: b });
    await c.putManifest(repo, sha256Digest(manifest), manifest, OCI_MANIFEST);
    manifests.push({
      mediaType: OCI_MANIFEST,
      digest: sha256Digest(manifest),
      size: manifest.length,
      platform: { architecture: arch, os: 'linux' },
    });
    await rm(tmp, { recursive: true, force: true });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
  await c.putManifest(repo, tag, index, OCI_INDEX);
}
