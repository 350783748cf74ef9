// End to end on real services: container images built by podman from a rootfs this test makes (busybox,
// an RPM database, a file owned by 1234, a whiteout and a hard link made by RUN steps), exported as
// OCI layouts, turned into .wsl files for amd64 and arm64 (arm64: a synthesized aarch64 ELF header as
// its busybox, COPY-only so nothing arm64 runs), validated, signed as blobs, uploaded to s3rver with
// the real S3 client, read back by URL with matching SHA-256, listed by `wharf wsl distribution-info`.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogStore } from '../../catalog/store.ts';
import { exportOciLayout } from '../../publisher/build/export.ts';
import { ObjectStore } from '../../publisher/objects/s3.ts';
import { rootfsFromOciLayout } from '../../publisher/rootfs/index.ts';
import { signFile, verifyBlob } from '../../publisher/sign/blob.ts';
import { parsePrivateKey } from '../../publisher/sign/keys.ts';
import { buildWsl, type WslBuildResult } from '../../publisher/wsl/build.ts';
import { checkDistributionInfo } from '../../publisher/wsl/distribution-info.ts';
import { validateWslFile } from '../../publisher/wsl/validate.ts';
import { main } from '../../scripts/cli/main.ts';
import { startPodman, type TestPodman } from '../helpers/podman.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { elfHeader, tempDir } from '../rootfs/fixtures.ts';

let podman: TestPodman;
let s3: TestS3;
let work: string;

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
  // A tiny RPM database, as an openEuler image has (sqlite backend, at the usual place).
  await execa('rpm', [
    '--root',
    dir,
    '--dbpath',
    '/var/lib/rpm',
    '--define',
    '_db_backend sqlite',
    '--initdb',
  ]);
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
}, 180_000);

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

  it('signs, uploads to object storage, reads back by URL, and lists the files for DistributionInfo.json', async () => {
    expect(Object.keys(built)).toEqual(['amd64', 'arm64']);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = parsePrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'test');
    const store = new ObjectStore(
      { name: 'test', bucket: s3.bucket, endpoint: s3.endpoint, prefix: 'wsl', partSizeMiB: 5 },
      { WHARF_S3_ACCESS_KEY_ID: s3.accessKeyId, WHARF_S3_SECRET_ACCESS_KEY: s3.secretAccessKey },
    );
    const objects: Array<{
      url: string;
      sha256: string;
      size: number;
      target: string;
      arch: 'amd64' | 'arm64';
    }> = [];
    for (const arch of ['amd64', 'arm64'] as const) {
      const f = built[arch]!;
      const bundle = await signFile(f.path, key);
      expect(verifyBlob(await readFile(f.path), bundle, key.publicKey)).toBe(key.keyId);
      const bundlePath = `${f.path}.sigstore.json`;
      await writeFile(bundlePath, JSON.stringify(bundle));
      const up = await store.uploadFile(f.path, `wharf/1.0/wharf-test-${arch}.wsl`, { sha256: f.sha256 });
      expect(up).toMatchObject({ status: 'uploaded', sha256: f.sha256, size: f.size });
      await store.uploadFile(bundlePath, `wharf/1.0/wharf-test-${arch}.wsl.sigstore.json`, {
        contentType: 'application/json',
      });
      // Read back over plain HTTP by the recorded URL.
      const res = await fetch(up.url);
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
      // Uploading the same file again changes nothing.
      expect((await store.uploadFile(f.path, `wharf/1.0/wharf-test-${arch}.wsl`)).status).toBe('unchanged');
      objects.push({ url: up.url, sha256: up.sha256, size: up.size, target: up.target, arch });
    }

    // Publish records as the wsl stage will write them, then the CLI reads them back.
    const cat = await CatalogStore.init(join(work, 'catalog'));
    await cat.commit({ subject: 'test: wsl records' }, async (tx) => {
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
              osVersion: '24.03-lts-sp4',
              defaultName: 'wharf-test',
              friendlyName: 'Wharf Test 1.0',
            },
          ],
        },
      });
      tx.putArtifact({
        app: 'wharf',
        kind: 'wsl',
        id: '1.0-wsl',
        version: '1.0',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64', 'arm64'],
        records: {
          publish: {
            runId: '20261201T000000Z-abcdef',
            at: '2026-12-01T00:00:00Z',
            status: 'ok',
            targets: [],
            objects,
          },
        },
      });
    });
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
