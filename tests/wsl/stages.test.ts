// The wsl kind in the pipeline, all five stages through runPipeline and the runner's commits, on
// synthetic OCI layouts (an RPM database written by rpm with a vulnerable golang package, per arch) and
// real services (s3rver, a loopback CVRF feed): build → verify → scan (the .wsl's own RPM database
// matched against openEuler's advisories) → sign (a Sigstore bundle per file) → publish (every file,
// checksum and bundle to every objectStorage target); a second run is unchanged; a missing source layout
// fails the build; a .wsl failing Microsoft's checks fails verify; a blocking finding stops sign and
// publish; no advisory index is `not-run`, never clean; a failing target makes the publish partial.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogStore } from '../../catalog/store.ts';
import { zCatalogConfig, type CatalogConfig } from '../../catalog/schema.ts';
import { syncFeed } from '../../publisher/advisories/feed.ts';
import { readFindings } from '../../publisher/scan/findings.ts';
import { readPackagesRef } from '../../publisher/scan/packages.ts';
import { openStageContext } from '../../publisher/context.ts';
import { runPipeline } from '../../publisher/pipeline/index.ts';
import { selectTargets } from '../../publisher/select.ts';
import { verifyBlob } from '../../publisher/sign/blob.ts';
import { parsePrivateKey } from '../../publisher/sign/keys.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import { buildRpm, cvrfDir, dirEntries, serveFeed, sqliteRootfs, tmp } from '../advisories/helpers.ts';
import { startRegistry } from '../helpers/registry.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { elfHeader, tarOf, tempDir, writeOciLayout, type LayerEntry } from '../rootfs/fixtures.ts';

let s3: TestS3;
let feedDir: string;
/** The rpmdb files of a root with golang 1.17.3-31.oe2203sp2 (fixed in -32 by openEuler-SA-2024-1488, High). */
const rpmdb: Record<'amd64' | 'arm64', Array<{ path: string; data: Buffer }>> = { amd64: [], arm64: [] };

beforeAll(async () => {
  s3 = await startS3({ bucket: 'wsl' });
  const top = await tmp('rpms');
  for (const [arch, rpmArch] of [
    ['amd64', 'x86_64'],
    ['arm64', 'aarch64'],
  ] as const) {
    const rpm = await buildRpm(top, {
      name: 'golang',
      version: '1.17.3',
      release: '31.oe2203sp2',
      arch: rpmArch,
    });
    const root = await tmp(`root-${arch}`);
    await sqliteRootfs(root, [rpm]);
    rpmdb[arch] = await dirEntries(join(root, 'var/lib/rpm'), 'var/lib/rpm');
  }
  const feed = await serveFeed(await cvrfDir());
  try {
    feedDir = await tmp('index');
    await syncFeed({ url: feed.url, dir: feedDir });
  } finally {
    await feed.close();
  }
}, 300_000);

afterAll(async () => {
  await s3?.stop();
});

function entries(arch: 'amd64' | 'arm64', passwd: string): LayerEntry[] {
  return [
    { name: 'bin', type: 'directory' },
    { name: 'bin/busybox', mode: 0o755, data: elfHeader(arch) },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/bash', type: 'symlink', linkname: 'busybox' },
    { name: 'etc', type: 'directory' },
    { name: 'etc/passwd', data: passwd },
    { name: 'etc/shadow', mode: 0o640, data: 'root:*:19000:0:99999:7:::\n' },
    { name: 'var', type: 'directory' },
    { name: 'var/lib', type: 'directory' },
    { name: 'var/lib/rpm', type: 'directory' },
    ...rpmdb[arch].map((f) => ({ name: f.path, data: f.data })),
  ];
}

interface Setup {
  store: CatalogStore;
  ctx: Awaited<ReturnType<typeof openStageContext>>;
  key: ReturnType<typeof parsePrivateKey>;
}

async function setup(
  o: {
    passwd?: string;
    config?: (c: CatalogConfig) => CatalogConfig;
    advisories?: boolean;
    source?: string;
    env?: Record<string, string>;
  } = {},
): Promise<Setup> {
  const passwd = o.passwd ?? 'root:x:0:0:root:/root:/bin/sh\n';
  const dir = await tempDir('wharf-wsl-stage-');
  const store = await CatalogStore.init(join(dir, 'catalog'));
  const base = zCatalogConfig.parse({
    objectStorage: [
      { name: 'local', provider: 'minio', endpoint: s3.endpoint, bucket: s3.bucket, prefix: 'wsl' },
    ],
    advisories: { dir: o.advisories === false ? join(dir, 'no-index') : feedDir },
  });
  await store.commit({ subject: 'test: app with a wsl recipe' }, async (tx) => {
    tx.putConfig(o.config ? o.config(base) : base);
    tx.putApp({
      id: 'myos',
      name: 'myos',
      title: { en: 'My OS' },
      category: 'os',
      recipes: {
        wsl: [
          {
            kind: 'wsl',
            id: '1.0-wsl',
            source: o.source ?? '1.0',
            version: '1.0',
            osVersion: '22.03-lts-sp2',
            defaultName: 'myos-1.0',
          },
        ],
      },
    });
  });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const ctx = await openStageContext(store, {
    workDir: join(dir, 'work'),
    engine: null,
    env: {
      SOURCE_DATE_EPOCH: '1767225600',
      WHARF_SIGNING_KEY: pem,
      WHARF_S3_ACCESS_KEY_ID: s3.accessKeyId,
      WHARF_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      ...o.env,
    },
  });
  // The container build's layouts: the primary arch at images/<app>/<tag>, the other at <tag>@<arch>.
  const layout = imageLayoutDir(ctx, 'myos', '1.0');
  await writeOciLayout(layout, [{ arch: 'amd64', layers: [await tarOf(entries('amd64', passwd))] }]);
  await writeOciLayout(`${layout}@arm64`, [
    { arch: 'arm64', layers: [await tarOf(entries('arm64', passwd))] },
  ]);
  return { store, ctx, key: parsePrivateKey(pem, 'test') };
}

async function run(s: Setup) {
  const { targets } = selectTargets(await s.store.load(), [], { kinds: ['wsl'] });
  expect(targets.map((t) => `${t.app.id}:${t.artifactId}:${t.kind}`)).toEqual(['myos:1.0-wsl:wsl']);
  return runPipeline(s.ctx, targets);
}

const artifact = async (s: Setup) =>
  (await s.store.load()).apps.get('myos')!.artifacts.find((a) => a.kind === 'wsl')!;
const stages = (r: Awaited<ReturnType<typeof run>>) =>
  r.artifacts[0]!.stages.map((o) => `${o.stage}:${o.status}`);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('pipeline: kind wsl', () => {
  it('builds, verifies, scans, signs and publishes both arches, then finds everything unchanged', async () => {
    const s = await setup();
    const first = await run(s);
    expect(stages(first)).toEqual(['build:ok', 'verify:passed', 'scan:ok', 'sign:signed', 'publish:ok']);
    expect(first.artifacts[0]).toMatchObject({ status: 'published' });
    const art = await artifact(s);
    const files = art.records.build!.files!;
    expect(files.map((f) => f.name)).toEqual(['myos-1.0-amd64.wsl', 'myos-1.0-arm64.wsl']);
    expect(art.records.verify?.status).toBe('passed');

    // scan: the golang package of each file's own RPM database, matched by the advisory feed as a
    // container's packages are (matchOsPackages): the same advisory for the same installed version on
    // both arches is one finding naming both; the coverage counts it per arch.
    const scan = art.records.scan!;
    expect(scan).toMatchObject({
      status: 'ok',
      scanner: { name: 'wharf-cvrf' },
      os: { name: '22.03-LTS-SP2' },
    });
    expect(scan.summary?.total.HIGH).toBe(1);
    const findings = await readFindings(s.ctx.blobs, scan);
    expect(findings.ok && findings.findings.map((f) => `${f.id} ${f.pkg} ${f.target}`).sort()).toEqual([
      'openEuler-SA-2024-1488 golang myos:1.0-wsl (amd64), arm64',
    ]);
    expect(scan.coverage?.os).toMatchObject({ by: 'wharf-cvrf', release: '22.03-LTS-SP2' });
    // No Trivy here (none on PATH): language packages are said not to be scanned.
    expect(scan.coverage?.language.by).toBe('none');
    expect(scan.coverage?.arches?.map((a) => `${a.arch} ${a.packages} ${a.rpmdb} ${a.findings}`)).toEqual([
      'amd64 1 var/lib/rpm/rpmdb.sqlite 1',
      'arm64 1 var/lib/rpm/rpmdb.sqlite 1',
    ]);
    // The package lists (what `wharf scan report` and rescans read) and the SBOM, in the blob store.
    const pk = await readPackagesRef(s.ctx.blobs, scan.packagesRef!);
    expect(pk.ok && pk.sets.map((x) => `${x.arch} ${x.packages.map((p) => `${p.name}.${p.arch}`)}`)).toEqual([
      'amd64 golang.x86_64',
      'arm64 golang.aarch64',
    ]);
    const bom = JSON.parse((await s.ctx.blobs.get(scan.sbom!))!.toString('utf8'));
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6' });
    expect(bom.components.map((c: { purl: string }) => c.purl)).toEqual([
      'pkg:rpm/openeuler/golang@1.17.3-31.oe2203sp2?arch=x86_64&distro=openeuler-22.03-lts-sp2',
    ]);

    // sign: one bundle per file, in the blob store, verifying against the key.
    const sign = art.records.sign!;
    expect(sign).toMatchObject({ status: 'signed', keyId: s.key.keyId });
    expect(sign.bundles!.map((b) => `${b.arch} ${b.mode}`)).toEqual(['amd64 key', 'arm64 key']);

    // publish: one object per arch, read back by URL with the recorded sha256, checksum and bundle next to it.
    const pub = art.records.publish!;
    expect(pub.status).toBe('ok');
    expect(pub.objects!.map((o) => `${o.target} ${o.arch} ${o.key}`)).toEqual([
      'local amd64 wsl/myos/1.0-wsl/myos-1.0-amd64.wsl',
      'local arm64 wsl/myos/1.0-wsl/myos-1.0-arm64.wsl',
    ]);
    for (const o of pub.objects!) {
      const f = files.find((x) => x.arch === o.arch)!;
      expect(o).toMatchObject({ sha256: f.sha256, size: f.size, url: `${s3.endpoint}/wsl/${o.key}` });
      const bytes = Buffer.from(await (await fetch(o.url)).arrayBuffer());
      expect(sha(bytes)).toBe(f.sha256);
      expect(await (await fetch(o.checksumUrl!)).text()).toBe(`${f.sha256}  ${f.name}\n`);
      const bundle: unknown = await (await fetch(o.signatureUrl!)).json();
      expect(verifyBlob(bytes, bundle, s.key.publicKey)).toBe(s.key.keyId);
    }
    expect(art.pending).toBeUndefined();

    const second = await run(s);
    expect(second.artifacts[0]!.status).toBe('unchanged');
    expect(second.artifacts[0]!.stages.every((o) => o.commit === null)).toBe(true);
  });

  it('fails the build when the container image is not built, and verify when the checks fail', async () => {
    const s = await setup({ passwd: 'admin:x:0:0::/root:/bin/sh\n' }); // uid 0 is not root: passwd.root
    const layout = imageLayoutDir(s.ctx, 'myos', '1.0');
    const { rm } = await import('node:fs/promises');
    await rm(layout, { recursive: true });
    await rm(`${layout}@arm64`, { recursive: true });
    const missing = await run(s);
    expect(missing.artifacts[0]).toMatchObject({ status: 'failed', stoppedAt: 'build' });
    expect(missing.artifacts[0]!.message).toMatch(/myos:1.0 \(amd64, arm64\) is not built here/);
    await writeOciLayout(layout, [
      { arch: 'amd64', layers: [await tarOf(entries('amd64', 'admin:x:0:0::/root:/bin/sh\n'))] },
    ]);
    const bad = await run(s);
    expect(bad.artifacts[0]).toMatchObject({ status: 'failed', stoppedAt: 'verify' });
    const art = await artifact(s);
    // Only amd64 is there: it is built, arm64 is named as not built here.
    expect(art.records.build?.files?.map((f) => f.arch)).toEqual(['amd64']);
    expect(art.records.verify?.checks.filter((c) => c.status === 'failed').map((c) => c.name)).toEqual([
      'passwd.root',
    ]);
  });

  it('blocks sign and publish on a blocking finding; no advisory index is not-run, never clean', async () => {
    const blocked = await setup({
      config: (c) => ({ ...c, scanPolicy: { ...c.scanPolicy, block: ['HIGH'] } }),
    });
    const r = await run(blocked);
    expect(r.artifacts[0]).toMatchObject({ stoppedAt: 'scan' });
    expect(stages(r)).toEqual(['build:ok', 'verify:passed', 'scan:blocked']);
    expect((await artifact(blocked)).records.publish).toBeUndefined();

    const noIndex = await setup({ advisories: false });
    const n = await run(noIndex);
    expect(stages(n)).toEqual(['build:ok', 'verify:passed', 'scan:not-run', 'sign:signed', 'publish:ok']);
    const scan = (await artifact(noIndex)).records.scan!;
    expect(scan.status).toBe('not-run');
    expect(scan.error?.message).toMatch(/OS packages not scanned: no advisory index/);
    expect(scan.summary).toBeUndefined();
  });

  it('runs Trivy over the unpacked rootfs (trivy rootfs) and merges its findings with the advisories', async () => {
    const log = join(await tmp('trivy-log'), 'args.jsonl');
    process.env.FAKE_TRIVY_REPORT = 'almalinux-8';
    process.env.FAKE_TRIVY_ARGS_LOG = log;
    try {
      const s = await setup({ env: { WHARF_TRIVY: resolve('tests/fixtures/bin/trivy') } });
      expect(stages(await run(s))).toEqual([
        'build:ok',
        'verify:passed',
        'scan:ok',
        'sign:signed',
        'publish:ok',
      ]);
      const scan = (await artifact(s)).records.scan!;
      expect(scan.scanner).toMatchObject({ name: 'trivy', version: '0.58.1' });
      expect(scan.coverage?.os.by).toBe('wharf-cvrf');
      expect(scan.coverage?.language.by).toBe('trivy');
      const findings = await readFindings(s.ctx.blobs, scan);
      expect(findings.ok && findings.findings.map((f) => `${f.source ?? 'trivy'} ${f.id} ${f.pkg}`)).toEqual([
        'wharf-cvrf openEuler-SA-2024-1488 golang',
        'trivy CVE-2021-3712 openssl-libs',
      ]);
      // Trivy's own report is kept; the SBOM is still Wharf's of the RPMs.
      expect(JSON.parse((await s.ctx.blobs.get(scan.report!))!.toString('utf8')).SchemaVersion).toBe(2);
      expect(JSON.parse((await s.ctx.blobs.get(scan.sbom!))!.toString('utf8')).components).toHaveLength(1);
      // One `trivy rootfs` call, on the first file's unpacked root (an absolute directory), no --input.
      const calls = (await readFile(log, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { argv: string[] }).argv);
      const scans = calls.filter((a) => a[0] !== '--version');
      expect(scans.map((a) => `${a[0]} ${a[2]} ${a.includes('--input')}`)).toEqual(['rootfs json false']);
      expect(scans[0]!.at(-1)).toMatch(/^\/.*wharf-wsl-scan-[^/]+\/amd64$/);
    } finally {
      delete process.env.FAKE_TRIVY_REPORT;
      delete process.env.FAKE_TRIVY_ARGS_LOG;
    }
  });

  it('records a partial publish when one target fails, naming it; the others have the files', async () => {
    const s = await setup({
      config: (c) => ({
        ...c,
        objectStorage: [
          ...c.objectStorage!,
          { ...c.objectStorage![0]!, name: 'broken', bucket: 'no-such-bucket' },
        ],
      }),
    });
    const r = await run(s);
    expect(stages(r)).toEqual(['build:ok', 'verify:passed', 'scan:ok', 'sign:signed', 'publish:partial']);
    const pub = (await artifact(s)).records.publish!;
    expect(pub.objects!.map((o) => `${o.target} ${o.arch}`)).toEqual(['local amd64', 'local arm64']);
    expect(pub.targets.map((x) => `${x.target} ${x.status}`)).toEqual(['broken failed', 'broken failed']);
    expect(pub.targets[0]!.error).toMatch(/bucket/i);
    expect((await artifact(s)).pending).toBeDefined();
    const bytes = await readFile(join(s.ctx.workDir, 'wsl/myos/1.0-wsl/myos-1.0-amd64.wsl'));
    expect(pub.objects![0]!.sha256).toBe(sha(bytes));
  });

  it('makes the .wsl files from an image reference (the OS base image) fetched per arch with skopeo', async () => {
    const reg = await startRegistry();
    try {
      const dir = await tempDir('wharf-wsl-base-');
      await writeOciLayout(dir, [
        { arch: 'amd64', layers: [await tarOf(entries('amd64', 'root:x:0:0:root:/root:/bin/sh\n'))] },
        { arch: 'arm64', layers: [await tarOf(entries('arm64', 'root:x:0:0:root:/root:/bin/sh\n'))] },
      ]);
      await execa('skopeo', [
        'copy',
        '--all',
        '--dest-tls-verify=false',
        `oci:${dir}`,
        `docker://${reg.host}/base:22.03`,
      ]);
      const s = await setup({ source: `${reg.host}/base:22.03` });
      const r = await run(s);
      expect(stages(r)).toEqual(['build:ok', 'verify:passed', 'scan:ok', 'sign:signed', 'publish:ok']);
      const build = (await artifact(s)).records.build!;
      expect(build.files!.map((f) => f.arch)).toEqual(['amd64', 'arm64']);
      expect(build.base?.ref).toBe(`${reg.host}/base:22.03`);
      // Same bytes as from the catalog's own layouts of the same image.
      const local = await setup();
      await run(local);
      expect((await artifact(local)).records.build!.files!.map((f) => f.sha256)).toEqual(
        build.files!.map((f) => f.sha256),
      );
    } finally {
      await reg.stop();
    }
  });
});
