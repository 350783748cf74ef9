// A cloud image from a bootable container image (OCI layout) or rootfs tarball: the disk (disk.ts)
// in every format asked for (convert.ts), each file with its size and sha256. The same code serves
// `wharf cloud build` and the pipeline's cloud build stage.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Arch } from '../../catalog/names.ts';
import { sha256File } from '../objects/s3.ts';
import { readRootfs } from '../rootfs/index.ts';
import { sourceDateEpochFrom } from '../wsl/build.ts';
import { convertDisk, FORMAT_EXT, type CloudFormat } from './convert.ts';
import { buildDisk, type DiskBuildResult } from './disk.ts';

export interface CloudImageFile {
  format: CloudFormat;
  path: string;
  name: string;
  size: number;
  sha256: string;
  /** The disk's virtual size in bytes: the raw disk's size, the same in every format. */
  virtualSize: number;
}

export interface CloudBuildOptions {
  from: string;
  arch: Arch;
  /** File name stem: <name>-<arch>.<ext>. */
  name: string;
  outDir: string;
  sizeGiB: number;
  formats: readonly CloudFormat[];
  /** GUIDs/UUIDs derive from it (app:id). */
  seed: string;
  sourceDateEpoch?: number;
  datasources?: readonly string[];
  cloudInit?: boolean;
  digest?: string;
  env?: NodeJS.ProcessEnv;
}

export interface CloudBuildResult {
  files: CloudImageFile[];
  kernelVersion: string;
  epoch: number;
  disk: Pick<DiskBuildResult, 'layout' | 'boot' | 'inodes' | 'customized'>;
  image?: { manifestDigest: string; layers: number };
  timings: { diskMs: number; convertMs: number };
}

export const imageFileName = (name: string, arch: Arch, format: CloudFormat) =>
  `${name}-${arch}.${FORMAT_EXT[format]}`;

export async function buildCloudImage(o: CloudBuildOptions): Promise<CloudBuildResult> {
  if (o.formats.length === 0) throw new Error('no output format');
  const size = Math.round(o.sizeGiB * 1024) * 1024 * 1024;
  const src = await readRootfs(o.from, { arch: o.arch, ...(o.digest ? { digest: o.digest } : {}) });
  const env = o.env ?? process.env;
  const epoch = sourceDateEpochFrom(o.sourceDateEpoch, env, src) ?? 0;
  await mkdir(o.outDir, { recursive: true });
  const raw = join(o.outDir, imageFileName(o.name, o.arch, 'raw'));
  const t0 = Date.now();
  const disk = await buildDisk({
    rootfs: src.rootfs,
    arch: o.arch,
    size,
    out: raw,
    seed: o.seed,
    epoch,
    customize: {
      ...(o.datasources ? { datasources: o.datasources } : {}),
      ...(o.cloudInit !== undefined ? { cloudInit: o.cloudInit } : {}),
    },
    env,
  });
  const t1 = Date.now();
  const files: CloudImageFile[] = [];
  for (const format of o.formats) {
    const name = imageFileName(o.name, o.arch, format);
    const path = join(o.outDir, name);
    if (format !== 'raw') await convertDisk(raw, format, path);
    files.push({ format, path, name, ...(await sha256File(path)), virtualSize: size });
  }
  if (!o.formats.includes('raw')) await rm(raw, { force: true });
  return {
    files,
    kernelVersion: disk.kernelVersion,
    epoch,
    disk: {
      layout: disk.layout,
      boot: disk.boot,
      inodes: disk.inodes,
      ...(disk.customized ? { customized: disk.customized } : {}),
    },
    ...(src.image ? { image: { manifestDigest: src.image.manifestDigest, layers: src.image.layers } } : {}),
    timings: { diskMs: t1 - t0, convertMs: Date.now() - t1 },
  };
}
