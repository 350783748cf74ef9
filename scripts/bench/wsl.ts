// Benchmark: from a built container image to an uploaded, verified .wsl. A podman service builds an
// image FROM scratch with busybox and a directory of real files (default: this machine's
// /usr/lib/python3.11, ~54 MB of text and shared objects; BENCH_WSL_CONTENT=<dir> to choose), then
// each compression runs: export the OCI layout → rootfs → .wsl → validate → read its RPM database (the
// scan stage's package step; the bench image has none) → sign → publish to s3rver (publishFile: the
// file multipart with read-back SHA-256, its .sha256 and bundle). Prints each step's time and the file
// size, gzip vs xz.
//
//   npm run bench:wsl
import { generateKeyPairSync } from 'node:crypto';
import { cp, mkdir, readFile, rm, symlink, writeFile, mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { execa } from 'execa';
import { exportOciLayout } from '../../publisher/build/export.ts';
import { publishFile } from '../../publisher/objects/publish.ts';
import { zObjectTarget } from '../../publisher/objects/s3.ts';
import { signFile } from '../../publisher/sign/blob.ts';
import { parsePrivateKey } from '../../publisher/sign/keys.ts';
import { buildWsl } from '../../publisher/wsl/build.ts';
import { wslPackages } from '../../publisher/wsl/scan.ts';
import { validateWslFile } from '../../publisher/wsl/validate.ts';
import { startPodman } from '../../tests/helpers/podman.ts';
import { startS3 } from '../../tests/helpers/s3.ts';

const CONTENT = process.env.BENCH_WSL_CONTENT ?? '/usr/lib/python3.11';

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-wsl-'));
  const [podman, s3] = await Promise.all([startPodman(), startS3({ bucket: 'bench-wsl' })]);
  try {
    // The image: busybox, passwd/shadow, and the content directory under /usr/lib/content.
    const ctx = join(dir, 'ctx');
    const root = join(ctx, 'rootfs');
    await mkdir(join(root, 'bin'), { recursive: true });
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'bin', 'busybox'), await readFile('/bin/busybox'), { mode: 0o755 });
    for (const a of ['sh', 'bash']) await symlink('busybox', join(root, 'bin', a));
    await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n', { mode: 0o644 });
    await writeFile(join(root, 'etc', 'shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
    await mkdir(join(root, 'usr', 'lib'), { recursive: true });
    await cp(CONTENT, join(root, 'usr', 'lib', 'content'), { recursive: true, verbatimSymlinks: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n');
    const context = await execa('tar', ['-C', ctx, '-c', '.'], { encoding: 'buffer' });
    const ref = 'localhost/wharf-bench-wsl:1';
    const stream = await podman.engine.buildImage(
      Readable.from([context.stdout]) as unknown as NodeJS.ReadableStream,
      { t: ref, rm: true },
    );
    await new Promise<void>((resolve, reject) =>
      podman.engine.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
    );

    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = parsePrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'bench');
    const target = zObjectTarget.parse({
      name: 'bench',
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      partSizeMiB: 8,
    });
    const env = { WHARF_S3_ACCESS_KEY_ID: s3.accessKeyId, WHARF_S3_SECRET_ACCESS_KEY: s3.secretAccessKey };
    const rows: string[] = [];
    const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    for (const compression of ['gzip', 'xz'] as const) {
      const t0 = performance.now();
      const layout = join(dir, `layout-${compression}`);
      await exportOciLayout(podman.engine, ref, layout, '1');
      const t1 = performance.now();
      const out = join(dir, `bench-${compression}.wsl`);
      const built = await buildWsl({
        from: layout,
        arch: 'amd64',
        name: 'wharf-bench',
        out,
        compression,
        env: { SOURCE_DATE_EPOCH: '1767225600' },
      });
      const t2 = performance.now();
      const report = await validateWslFile(out, { arch: 'amd64' });
      if (report.errors.length) throw new Error(`invalid .wsl: ${JSON.stringify(report.errors)}`);
      const t3 = performance.now();
      const pkgs = await wslPackages(out, 'amd64');
      const t3s = performance.now();
      await writeFile(`${out}.sigstore.json`, JSON.stringify(await signFile(out, key)));
      const t4 = performance.now();
      const pub = await publishFile(
        [target],
        { file: out, name: `bench/${compression}.wsl`, sha256: built.sha256, bundle: `${out}.sigstore.json` },
        { env },
      );
      if (pub.failed.length) throw new Error(`publish: ${JSON.stringify(pub.failed)}`);
      const t5 = performance.now();
      rows.push(
        [
          compression.padEnd(5),
          `${(built.size / 1024 / 1024).toFixed(1)} MiB`.padStart(10),
          fmt(t1 - t0).padStart(8),
          fmt(t2 - t1).padStart(8),
          fmt(t3 - t2).padStart(8),
          fmt(t3s - t3).padStart(8),
          fmt(t4 - t3s).padStart(8),
          fmt(t5 - t4).padStart(8),
          fmt(t5 - t0).padStart(8),
          `${built.entries} entries, ${pkgs.packages.length} packages${pkgs.noRpmdb ? ' (no rpmdb)' : ''}`,
        ].join('  '),
      );
      await rm(layout, { recursive: true, force: true });
    }
    const du = await execa('du', ['-sm', root]);
    console.log(
      `content: ${CONTENT} (rootfs ${du.stdout.split('\t')[0]} MB on disk); load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} (wall times grow with it)`,
    );
    console.log(
      [
        'comp ',
        '      size',
        '  export',
        '     wsl',
        'validate',
        '    scan',
        '    sign',
        ' publish',
        '   total',
      ].join('  '),
    );
    for (const r of rows) console.log(r);
    console.log(
      'total = built image → OCI layout → .wsl → validated → RPM database read → signed → published (file, checksum, bundle) and read back',
    );
  } finally {
    await Promise.all([podman.stop(), s3.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
