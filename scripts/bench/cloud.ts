// Benchmark: one cloud publish of a 2 GiB disk image, step by step, against EulerPublisher's target of
// 5 minutes for one cloud publish (its PRD: from ~40 min). The rootfs is the boot-test fixture's
// (Debian's kernel, a busybox initramfs and userland, systemd-boot; scripts/setup/cloud-kernel.sh)
// plus a directory of real files (default /usr/lib/python3.11; BENCH_CLOUD_CONTENT=<dir>). Steps:
// build (GPT + ESP + ext4 → 2 GiB raw), convert (qcow2, vhd, vmdk), boot test (the qcow2 under QEMU,
// KVM when it works, else TCG), upload (the qcow2 to s3rver, multipart, read-back SHA-256).
//
//   npm run bench:cloud        (BENCH_CLOUD_SIZE_GIB=2 by default)
import { lstat, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { bootTest } from '../../publisher/cloud/boot-test.ts';
import { convertDisk, type CloudFormat } from '../../publisher/cloud/convert.ts';
import { buildDisk } from '../../publisher/cloud/disk.ts';
import { ObjectStore, sha256File } from '../../publisher/objects/s3.ts';
import { dirNode, fileNode, type Rootfs } from '../../publisher/rootfs/index.ts';
import { startS3 } from '../../tests/helpers/s3.ts';
import { bootableRootfs, EPOCH } from '../../tests/cloud/fixture.ts';

const CONTENT = process.env.BENCH_CLOUD_CONTENT ?? '/usr/lib/python3.11';
const SIZE_GIB = Number(process.env.BENCH_CLOUD_SIZE_GIB ?? '2');
const TARGET_S = 300;

async function addTree(fs: Rootfs, src: string, at: string): Promise<number> {
  let bytes = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const dst = `${at}/${relative(src, p)}`;
      const st = await lstat(p);
      if (e.isDirectory()) {
        fs.set(dst, dirNode({ mtime: EPOCH }));
        await walk(p);
      } else if (e.isSymbolicLink())
        fs.set(dst, {
          ...fileNode(''),
          type: 'symlink',
          linkname: await readlink(p),
          mode: 0o777,
          mtime: EPOCH,
          size: 0,
        });
      else if (e.isFile()) {
        const data = await readFile(p);
        bytes += data.length;
        fs.set(dst, fileNode(data, { mode: st.mode & 0o7777, mtime: EPOCH }));
      }
    }
  };
  await walk(src);
  return bytes;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-cloud-'));
  const s3 = await startS3({ bucket: 'bench-cloud' });
  const rows: [string, number, string][] = [];
  try {
    const t0 = Date.now();
    const { rootfs } = await bootableRootfs();
    const content = await addTree(rootfs, CONTENT, 'usr/lib/content');
    const tRootfs = Date.now() - t0;

    const t1 = Date.now();
    const disk = await buildDisk({
      rootfs,
      arch: 'amd64',
      size: SIZE_GIB * 1024 ** 3,
      out: join(dir, 'disk.raw'),
      seed: 'bench:cloud',
      epoch: EPOCH,
    });
    rows.push([
      'build (GPT, ESP, ext4 → raw)',
      Date.now() - t1,
      `${SIZE_GIB} GiB raw, ${disk.inodes} inodes, ${mib(content)} of content`,
    ]);

    const formats: Partial<Record<CloudFormat, string>> = {};
    for (const f of ['qcow2', 'vhd', 'vmdk'] as const) {
      const t = Date.now();
      const r = await convertDisk(disk.path, f, join(dir, `disk.${f}`));
      formats[f] = r.path;
      rows.push([`convert → ${f}`, Date.now() - t, mib(r.size)]);
    }

    const tb = Date.now();
    const boot = await bootTest(formats.qcow2!, { timeout: 600, consoleLog: join(dir, 'console.log') });
    rows.push([
      'boot test (qcow2)',
      Date.now() - tb,
      boot.booted ? `booted (${boot.accel}), ${boot.marker}` : `FAILED: ${boot.reason}`,
    ]);

    const store = new ObjectStore(
      { name: 'bench', bucket: s3.bucket, endpoint: s3.endpoint, partSizeMiB: 16, queueSize: 2 },
      { WHARF_S3_ACCESS_KEY_ID: s3.accessKeyId, WHARF_S3_SECRET_ACCESS_KEY: s3.secretAccessKey },
    );
    const tu = Date.now();
    const up = await store.uploadFile(formats.qcow2!, 'bench/disk.qcow2');
    const local = await sha256File(formats.qcow2!);
    if (up.sha256 !== local.sha256) throw new Error('upload checksum mismatch');
    rows.push([
      'upload qcow2 (s3rver, multipart, read back)',
      Date.now() - tu,
      `${mib(up.size)}, ${up.status}`,
    ]);

    const total = rows.reduce((s, r) => s + r[1], 0);
    console.log(
      `cloud publish of a ${SIZE_GIB} GiB image (${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}; rootfs in memory ${secs(tRootfs)})`,
    );
    for (const [name, ms, note] of rows) console.log(`  ${name.padEnd(46)} ${secs(ms).padStart(8)}  ${note}`);
    console.log(
      `  ${'total'.padEnd(46)} ${secs(total).padStart(8)}  EulerPublisher target: ${TARGET_S} s → ${total / 1000 <= TARGET_S ? 'within' : 'OVER'} (${((100 * total) / 1000 / TARGET_S).toFixed(0)}% of it)`,
    );
    if (!boot.booted) process.exitCode = 1;
  } finally {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
