// End to end on real services: container images built by podman from a rootfs this test makes (busybox,
// an RPM database written by rpm with a golang package openEuler has an advisory for, a file owned by
// 1234, a whiteout and a hard link made by RUN steps), exported as OCI layouts, turned into .wsl files
// for amd64 and arm64 (arm64: a synthesized aarch64 ELF header as its busybox, COPY-only so nothing arm64
// runs) twice with identical bytes, validated; then the same layouts through the pipeline's wsl stages:
// validated, scanned (the .wsl's RPM database against a synced CVRF feed), signed, uploaded to s3rver with
// the real S3 client, read back by URL with matching SHA-256, listed by `wharf wsl distribution-info`.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zCatalogConfig } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { syncFeed } from '../../publisher/advisories/feed.ts';
import { exportOciLayout } from '../../publisher/build/export.ts';
import { ObjectStore } from '../../publisher/objects/s3.ts';
import { openStageContext } from '../../publisher/context.ts';
import { runPipeline } from '../../publisher/pipeline/index.ts';
import { rootfsFromOciLayout } from '../../publisher/rootfs/index.ts';
import { selectTargets } from '../../publisher/select.ts';
import { verifyBlob } from '../../publisher/sign/blob.ts';
import { parsePrivateKey } from '../../publisher/sign/keys.ts';
import { buildWsl, type WslBuildResult } from '../../publisher/wsl/build.ts';
import { checkDistributionInfo } from '../../publisher/wsl/distribution-info.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import { validateWslFile } from '../../publisher/wsl/validate.ts';
import { main } from '../../scripts/cli/main.ts';
import { buildRpm, cvrfDir, serveFeed, sqliteRootfs } from '../advisories/helpers.ts';
import { startPodman, type TestPodman } from '../helpers/podman.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { elfHeader, tempDir } from '../rootfs/fixtures.ts';

let podman: TestPodman;
let s3: TestS3;
let work: string;
/** golang 1.17.3-31.oe2203sp2, fixed in -32 by openEuler-SA-2024-1488 (High), per arch. */
const rpms = {} as Record<'amd64' | 'arm64', string>;
let advisoryDir: string;

async function makeRootfs(dir: string, arch: 'amd64' | 'arm64'): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'etc'), { recursive: true });
  await mkdir(join(dir, 'home', 'app'), { recursive: true });
  await writeFile(
    join(dir, 'bin', 'busybox'),
    arch === 'amd64' ? await readFile('/bin/busybox') : elfHeader('arm64'),
    {
      mode: 0o755,
    },
  );
  for (const a of ['sh', 'bash', 'rm', 'ln']) await symlink('busybox', join(dir, 'bin', a));
  await writeFile(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n', { mode: 0o644 });
  await writeFile(join(dir, 'etc', 'shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
  await writeFile(join(dir, 'etc', 'group'), 'root:x:0:\nwheel:x:10:\n');
  await writeFile(join(dir, 'etc', 'removed'), 'deleted by a later layer\n');
  await writeFile(join(dir, 'home', 'app', 'data'), 'owned by 1234\n');
  // An RPM database as an openEuler image has (sqlite backend, at the usual place), written by rpm.
  await sqliteRootfs(dir, [rpms[arch]]);
}

async function buildImage(ref: string, arch: 'amd64' | 'arm64'): Promise<void> {
  const ctx = join(work, `ctx-${arch}`);
  await makeRootfs(join(ctx, 'rootfs'), arch);
  const steps =
    arch === 'amd64'
      ? // RUN steps make a whiteout (rm) and a hard link (ln) in upper layers.
        [
          'RUN ["/bin/busybox", "rm", "/etc/removed"]',
          'RUN ["/bin/busybox", "ln", "/bin/busybox", "/bin/hardlinked"]',
        ]
      : [];
  const dockerfile = [
    'FROM scratch',
    'COPY rootfs/ /',
    'COPY --chown=1234:1234 rootfs/home/app /home/app',
    ...steps,
    'CMD ["/bin/sh"]',
    '',
  ].join('\n');
  await writeFile(join(ctx, 'Dockerfile'), dockerfile);
  // The build context as a tar (GNU tar keeps the symlinks and modes as they are).
  const context = await execa('tar', ['-C', ctx, '-c', '.'], { encoding: 'buffer' });
  const stream = await podman.engine.buildImage(
    Readable.from([context.stdout]) as unknown as NodeJS.ReadableStream,
    {
      t: ref,
      rm: true,
      platform: `linux/${arch}`,
    },
  );
  await new Promise<void>((resolve, reject) =>
    podman.engine.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
      const bad = err ?? out.find((o) => o.error);
      if (bad) reject(new Error(`build ${ref}: ${err ? err.message : (bad as { error: string }).error}`));
      else resolve();
    }),
  );
}

beforeAll(async () => {
  work = await tempDir('wharf-wsl-e2e-');
  [podman, s3] = await Promise.all([startPodman(), startS3({ bucket: 'wsl-images' })]);
  const top = join(work, 'rpmbuild');
  rpms.amd64 = await buildRpm(top, {
    name: 'golang',
    version: '1.17.3',
    release: '31.oe2203sp2',
    arch: 'x86_64',
  });
  rpms.arm64 = await buildRpm(top, {
    name: 'golang',
    version: '1.17.3',
    release: '31.oe2203sp2',
    arch: 'aarch64',
  });
  const feed = await serveFeed(await cvrfDir());
  try {
    advisoryDir = join(work, 'advisories');
    await syncFeed({ url: feed.url, dir: advisoryDir });
  } finally {
    await feed.close();
  }
}, 300_000);

afterAll(async () => {
  await Promise.all([podman?.stop(), s3?.stop()]);
}, 120_000);

describe('wsl end to end', () => {
  const built: Record<string, WslBuildResult> = {};

  it('builds images, exports OCI layouts, and turns them into valid, reproducible .wsl files', async () => {
    for (const arch of ['amd64', 'arm64'] as const) {
      const ref = `localhost/wharf-wsl-test:${arch}`;
      await buildImage(ref, arch);
      const layout = join(work, `layout-${arch}`);
      await exportOciLayout(podman.engine, ref, layout, arch);
      const { rootfs } = await rootfsFromOciLayout(layout, { arch });
      // amd64: a RUN step deleted it (a whiteout in an upper layer); arm64 has no RUN steps.
      expect(rootfs.get('etc/removed') === undefined).toBe(arch === 'amd64');
      expect(rootfs.get('home/app/data')).toMatchObject({ uid: 1234, gid: 1234 });
      expect(rootfs.resolve('var/lib/rpm/rpmdb.sqlite')?.node?.type).toBe('file');
      if (arch === 'amd64') expect(rootfs.get('bin/hardlinked')).toBe(rootfs.get('bin/busybox'));
      const out = (n: number) => join(work, `wharf-test-${arch}-${n}.wsl`);
      const env = { SOURCE_DATE_EPOCH: '1767225600' };
      const a = await buildWsl({ from: layout, arch, name: 'wharf-test', flavor: 'wharf', out: out(1), env });
      const b = await buildWsl({ from: layout, arch, name: 'wharf-test', flavor: 'wharf', out: out(2), env });
      expect(b.sha256).toBe(a.sha256);
      expect((await readFile(out(1))).equals(await readFile(out(2)))).toBe(true);
      const report = await validateWslFile(out(1), { arch });
      expect(report.errors).toEqual([]);
      expect(report.warnings).toEqual([]);
      // The wrong architecture is an error.
      const wrong = await validateWslFile(out(1), { arch: arch === 'amd64' ? 'arm64' : 'amd64' });
      expect(wrong.errors.map((e) => e.rule)).toContain('sh.elf');
      built[arch] = a;
    }
    // The CLI validator prints {errors, warnings} and exits 0 on a valid file.
    const lines: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (lines.push(String(s)), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['wsl', 'validate', built.arm64!.path, '--arch', 'arm64', '--json']);
    } finally {
      process.stdout.write = orig;
    }
    expect(code).toBe(0);
    expect(JSON.parse(lines.join(''))).toMatchObject({ errors: [], warnings: [], arch: 'arm64' });
  }, 300_000);

  it('runs the wsl stages on the built layouts: validated, scanned, signed, uploaded, read back, listed', async () => {
    expect(Object.keys(built)).toEqual(['amd64', 'arm64']);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const key = parsePrivateKey(pem, 'test');
    const cat = await CatalogStore.init(join(work, 'catalog'));
    await cat.commit({ subject: 'test: a wsl recipe made from the built image' }, async (tx) => {
      tx.putConfig(
        zCatalogConfig.parse({
          objectStorage: [
            {
              name: 'test',
              provider: 'minio',
              endpoint: s3.endpoint,
              bucket: s3.bucket,
              prefix: 'wsl',
              partSizeMiB: 5,
            },
          ],
          advisories: { dir: advisoryDir },
        }),
      );
      tx.putApp({
        id: 'wharf',
        name: 'wharf',
        title: { en: 'Wharf Test' },
        category: 'os',
        recipes: {
          wsl: [
            {
              kind: 'wsl',
              id: '1.0-wsl',
              source: 'wharf:1.0',
              version: '1.0',
              osVersion: '22.03-lts-sp2',
              flavor: 'wharf',
              defaultName: 'wharf-test',
              friendlyName: 'Wharf Test 1.0',
            },
          ],
        },
      });
    });
    const ctx = await openStageContext(cat, {
      workDir: join(work, 'work'),
      engine: null,
      env: {
        SOURCE_DATE_EPOCH: '1767225600',
        WHARF_SIGNING_KEY: pem,
        WHARF_S3_ACCESS_KEY_ID: s3.accessKeyId,
        WHARF_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      },
    });
    // Where the container build leaves its layouts: the primary arch's, then <tag>@<arch>.
    const layout = imageLayoutDir(ctx, 'wharf', '1.0');
    await cp(join(work, 'layout-amd64'), layout, { recursive: true });
    await cp(join(work, 'layout-arm64'), `${layout}@arm64`, { recursive: true });
    const { targets } = selectTargets(await cat.load(), [], { kinds: ['wsl'] });
    const r = await runPipeline(ctx, targets);
    expect(r.artifacts[0]!.stages.map((o) => `${o.stage}:${o.status}`)).toEqual([
      'build:ok',
      'verify:passed',
      'scan:ok',
      'sign:signed',
      'publish:ok',
    ]);
    const art = (await cat.load()).apps.get('wharf')!.artifacts.find((a) => a.kind === 'wsl')!;
    // The stage's files are byte for byte the ones buildWsl made directly from the same layouts.
    expect(art.records.build!.files!.map((f) => [f.arch, f.sha256])).toEqual([
      ['amd64', built.amd64!.sha256],
      ['arm64', built.arm64!.sha256],
    ]);
    // The same advisory for the same installed version on both arches: one finding (as for a multi-arch
    // container image), counted once per arch in the coverage.
    expect(art.records.scan!.summary!.total.HIGH).toBe(1);
    expect(art.records.scan!.coverage!.arches!.map((a) => `${a.arch} ${a.findings}`)).toEqual([
      'amd64 1',
      'arm64 1',
    ]);
    const objects = art.records.publish!.objects!;
    expect(objects.map((o) => o.arch)).toEqual(['amd64', 'arm64']);
    for (const o of objects) {
      const f = built[o.arch as 'amd64' | 'arm64']!;
      // Read back over plain HTTP by the recorded URL.
      const res = await fetch(o.url);
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
      expect(o).toMatchObject({ sha256: f.sha256, size: f.size, target: 'test' });
      const bundle: unknown = await (await fetch(o.signatureUrl!)).json();
      expect(verifyBlob(bytes, bundle, key.publicKey)).toBe(key.keyId);
    }
    // Uploading the same file again sends nothing.
    const store = new ObjectStore(
      { name: 'test', bucket: s3.bucket, endpoint: s3.endpoint, prefix: 'wsl' },
      { WHARF_S3_ACCESS_KEY_ID: s3.accessKeyId, WHARF_S3_SECRET_ACCESS_KEY: s3.secretAccessKey },
    );
    const again = await store.uploadFile(built.amd64!.path, 'wharf/1.0-wsl/wharf-test-amd64.wsl');
    expect(again).toMatchObject({ status: 'unchanged', partsSent: 0 });

    // DistributionInfo.json entries from the publish records, through the CLI.
    const lines: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (lines.push(String(s)), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['wsl', 'distribution-info', '--catalog', cat.dir]);
    } finally {
      process.stdout.write = orig;
    }
    expect(code).toBe(0);
    const info = JSON.parse(lines.join(''));
    expect(info).toEqual({
      ModernDistributions: {
        wharf: [
          {
            Name: 'wharf-test',
            FriendlyName: 'Wharf Test 1.0',
            Default: true,
            Amd64Url: { Url: objects[0]!.url, Sha256: built.amd64!.sha256 },
            Arm64Url: { Url: objects[1]!.url, Sha256: built.arm64!.sha256 },
          },
        ],
      },
    });
    expect(checkDistributionInfo(info)).toEqual({ errors: [], warnings: [] });
  }, 300_000);
});
