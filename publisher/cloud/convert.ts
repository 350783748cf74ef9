// One raw disk into the formats clouds take, with `qemu-img convert`: qcow2 (OpenStack, Huawei IMS,
// Alibaba, Tencent), raw, vhd (`vpc` with subformat=fixed,force_size=on: the fixed VHD Azure and
// AWS import want, its size exactly the raw size) and vmdk (streamOptimized, as VMware/AWS import
// take). raw and qcow2 depend on the input bytes only; vhd (footer timestamp, random id) and vmdk
// (random CID) do not, which is why the build record keeps every file's own sha256.
import { copyFile, open, rm, stat } from 'node:fs/promises';
import { z } from 'zod';
import { tool } from './run.ts';

export const CLOUD_FORMATS = ['qcow2', 'raw', 'vhd', 'vmdk'] as const;
export type CloudFormat = (typeof CLOUD_FORMATS)[number];
export const zCloudFormat = z.enum(CLOUD_FORMATS);

export const FORMAT_EXT: Record<CloudFormat, string> = {
  qcow2: 'qcow2',
  raw: 'raw',
  vhd: 'vhd',
  vmdk: 'vmdk',
};

/** qemu-img's output format and options per format. */
export function convertArgs(format: CloudFormat): string[] {
  switch (format) {
    case 'qcow2':
      return ['-O', 'qcow2', '-o', 'compat=1.1'];
    case 'raw':
      return ['-O', 'raw'];
    case 'vhd':
      return ['-O', 'vpc', '-o', 'subformat=fixed,force_size=on'];
    case 'vmdk':
      return ['-O', 'vmdk', '-o', 'subformat=streamOptimized'];
  }
}

/** Convert a raw disk to `format` at `out`. raw is a plain copy (sparse where the filesystem allows). */
export async function convertDisk(
  raw: string,
  format: CloudFormat,
  out: string,
): Promise<{ path: string; size: number }> {
  await rm(out, { force: true });
  if (format === 'raw') await copyFile(raw, out);
  else await tool('qemu-img', ['convert', '-q', '-f', 'raw', ...convertArgs(format), raw, out]);
  return { path: out, size: (await stat(out)).size };
}

const zImgInfo = z.object({ format: z.string(), 'virtual-size': z.number().int() }).passthrough();

/** Whether a file ends in a VHD footer ("conectix"): qemu-img probes a fixed VHD as raw. */
async function hasVhdFooter(file: string): Promise<boolean> {
  const { size } = await stat(file);
  if (size < 512) return false;
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(8);
    await fh.read(b, 0, 8, size - 512);
    return b.toString('latin1') === 'conectix';
  } finally {
    await fh.close();
  }
}

/** `qemu-img info` of a file: its format (a fixed VHD as vpc) and virtual size. */
export async function imageInfo(file: string): Promise<{ format: string; virtualSize: number }> {
  const first = await tool('qemu-img', ['info', '--output=json', file]);
  const probed = zImgInfo.parse(JSON.parse(first.stdout));
  const r =
    probed.format === 'raw' && (await hasVhdFooter(file))
      ? await tool('qemu-img', ['info', '--output=json', '-f', 'vpc', file])
      : first;
  const j = zImgInfo.parse(JSON.parse(r.stdout));
  return { format: j.format, virtualSize: j['virtual-size'] };
}

/** Any image qemu-img reads, as a raw file (the base-image route starts here). */
export async function toRaw(src: string, out: string): Promise<void> {
  const { format } = await imageInfo(src);
  await rm(out, { force: true });
  if (format === 'raw') await copyFile(src, out);
  else await tool('qemu-img', ['convert', '-q', '-f', format, '-O', 'raw', src, out]);
}
