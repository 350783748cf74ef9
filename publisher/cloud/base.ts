// The base-image route: an existing disk image (openEuler's official *.qcow2.xz, by URL and SHA-256)
// customised in place. Fetched once into a cache keyed by its SHA-256 (checked), decompressed (xz),
// converted to raw, its root ext4 partition found (GPT or MBR, the largest ext4 partition holding
// /etc), and the Wharf customisation written into it with debugfs (ext4.ts's Ext4Editor): no
// mount, no loop device, no root. Then converted to each format like a built disk.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import type { Arch } from '../../catalog/names.ts';
import { sha256File } from '../objects/s3.ts';
import { customize, type CustomizeReport } from './customize.ts';
import { convertDisk, toRaw, type CloudFormat } from './convert.ts';
import { Ext4Editor } from './ext4.ts';
import { readGpt, SECTOR } from './gpt.ts';
import { imageFileName, type CloudImageFile } from './build.ts';

export class BaseImageError extends Error {
  override name = 'BaseImageError';
}

/** Fetch `url` into `cacheDir/<sha256>` unless it is there; the bytes must have that SHA-256. */
export async function fetchBaseImage(
  url: string,
  sha256: string,
  cacheDir: string,
  signal?: AbortSignal,
): Promise<string> {
  if (!/^[a-f0-9]{64}$/.test(sha256)) throw new BaseImageError(`sha256 ${sha256} is not 64 hex digits`);
  const u = new URL(url);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && ['127.0.0.1', 'localhost'].includes(u.hostname)))
    throw new BaseImageError(`${url}: base images are fetched over https`);
  const name = u.pathname.endsWith('.xz') ? `${sha256}.xz` : sha256;
  const dst = join(cacheDir, name);
  await mkdir(cacheDir, { recursive: true });
  if (
    await stat(dst).then(
      () => true,
      () => false,
    )
  ) {
    if ((await sha256File(dst)).sha256 === sha256) return dst;
    await rm(dst, { force: true });
  }
  const res = await fetch(url, { ...(signal ? { signal } : {}) });
  if (!res.ok || !res.body) throw new BaseImageError(`${url}: HTTP ${res.status}`);
  const tmp = `${dst}.part`;
  const h = createHash('sha256');
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (c: Buffer) => h.update(c));
  await pipeline(body, createWriteStream(tmp));
  const got = h.digest('hex');
  if (got !== sha256) {
    await rm(tmp, { force: true });
    throw new BaseImageError(`${url}: sha256 is ${got}, the recipe says ${sha256}`);
  }
  await rename(tmp, dst);
  return dst;
}

/** Decompress an .xz (by magic) into `out`; other files are returned as they are. */
export async function decompressBase(file: string, out: string): Promise<string> {
  const fh = await open(file, 'r');
  const magic = Buffer.alloc(6);
  await fh.read(magic, 0, 6, 0);
  await fh.close();
  if (!magic.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return file;
  await rm(out, { force: true });
  await pipeline(execa('xz', ['-dc'], { inputFile: file, buffer: false }).stdout!, createWriteStream(out));
  return out;
}

interface Partition {
  start: number;
  sectors: number;
}

/** Partitions of a raw disk: GPT, else the MBR's four primary entries. */
export async function partitions(raw: string): Promise<Partition[]> {
  try {
    return (await readGpt(raw)).partitions;
  } catch {
    const fh = await open(raw, 'r');
    try {
      const mbr = Buffer.alloc(512);
      await fh.read(mbr, 0, 512, 0);
      if (mbr.readUInt16LE(510) !== 0xaa55) throw new BaseImageError(`${raw}: neither GPT nor MBR`);
      const out: Partition[] = [];
      for (let i = 0; i < 4; i++) {
        const o = 446 + i * 16;
        const type = mbr[o + 4]!;
        const start = mbr.readUInt32LE(o + 8);
        const sectors = mbr.readUInt32LE(o + 12);
        if (type !== 0 && type !== 0x05 && type !== 0x0f && sectors > 0) out.push({ start, sectors });
      }
      return out;
    } finally {
      await fh.close();
    }
  }
}

async function isExt4(raw: string, offset: number): Promise<boolean> {
  const fh = await open(raw, 'r');
  try {
    const b = Buffer.alloc(2);
    await fh.read(b, 0, 2, offset + 1024 + 56);
    return b.readUInt16LE(0) === 0xef53;
  } finally {
    await fh.close();
  }
}

/** The byte offset of the root filesystem: the largest ext2/3/4 partition that has /etc. */
export async function findRootPartition(raw: string): Promise<{ offset: number; size: number }> {
  const parts = (await partitions(raw)).sort((a, b) => b.sectors - a.sectors);
  for (const p of parts) {
    const offset = p.start * SECTOR;
    if (!(await isExt4(raw, offset))) continue;
    if ((await new Ext4Editor(raw, offset).type('/etc')) === 'dir')
      return { offset, size: p.sectors * SECTOR };
  }
  if (await isExt4(raw, 0)) return { offset: 0, size: (await stat(raw)).size };
  throw new BaseImageError(
    `${raw}: no ext4 partition with /etc (XFS, Btrfs or LVM roots cannot be edited with debugfs)`,
  );
}

export interface BaseCustomizeOptions {
  /** The base image as fetched (qcow2, raw, .xz of either). */
  base: string;
  arch: Arch;
  name: string;
  outDir: string;
  formats: readonly CloudFormat[];
  epoch: number;
  datasources?: readonly string[];
  cloudInit?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Customise a base image and write it in each format. */
export async function buildFromBase(
  o: BaseCustomizeOptions,
): Promise<{ files: CloudImageFile[]; root: { offset: number; size: number }; customized: CustomizeReport }> {
  await mkdir(o.outDir, { recursive: true });
  const raw = join(o.outDir, imageFileName(o.name, o.arch, 'raw'));
  const plain = await decompressBase(o.base, `${raw}.base`);
  await toRaw(plain, raw);
  if (plain !== o.base) await rm(plain, { force: true });
  const root = await findRootPartition(raw);
  const ed = new Ext4Editor(raw, root.offset, o.epoch, o.env);
  const customized = await customize(ed, {
    arch: o.arch,
    ...(o.datasources ? { datasources: o.datasources } : {}),
    ...(o.cloudInit !== undefined ? { cloudInit: o.cloudInit } : {}),
  });
  await ed.commit();
  // The raw disk's size is the virtual size of every format made from it (the disk is not grown).
  const virtualSize = (await stat(raw)).size;
  const files: CloudImageFile[] = [];
  for (const format of o.formats) {
    const name = imageFileName(o.name, o.arch, format);
    const path = join(o.outDir, name);
    if (format !== 'raw') await convertDisk(raw, format, path);
    files.push({ format, path, name, ...(await sha256File(path)), virtualSize });
  }
  if (!o.formats.includes('raw')) await rm(raw, { force: true });
  return { files, root, customized };
}
