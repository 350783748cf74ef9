// Wharf's own root filesystem reader: the files of a built image, taken from its OCI layout (layers
// applied in order with whiteouts, opaque directories, hard links, owners, modes, symlinks, xattrs) or
// from a rootfs tarball, never by running the image. Used by the WSL builder and, next, cloud images.
//
//   const { rootfs, image } = await readRootfs('/path/to/oci-layout', { arch: 'amd64' });
//   rootfs.get('etc/os-release')?.data     // file bytes
//   rootfs.resolve('bin/sh')               // symlinks followed inside the image
//   for await (const chunk of rootfsTar(rootfs, { sourceDateEpoch })) …   // reproducible tar
import { stat } from 'node:fs/promises';
import type { Arch } from '../../catalog/names.ts';
import { openDecompressed, type Compression } from './compression.ts';
import { layerStream, openOciImage, type ImageConfig } from './oci.ts';
import { readTar } from './tar.ts';
import { Rootfs, type ApplyOptions } from './tree.ts';

export { Rootfs, RootfsError, rootfsTar, dirNode, fileNode, byteOrder } from './tree.ts';
export { writeRootfsDir } from './stage.ts';
export type { RootfsNode, NodeType, TarOutputOptions } from './tree.ts';
export { readTar, encodeHeader, padding, END_OF_ARCHIVE, TarError } from './tar.ts';
export type { TarEntry, TarHeader, EntryType } from './tar.ts';
export { openOciImage, layerStream } from './oci.ts';
export type { OciImage, ImageConfig } from './oci.ts';
export { decompress, openDecompressed, fileCompression, sniffCompression } from './compression.ts';
export type { Compression } from './compression.ts';

export interface RootfsSource {
  rootfs: Rootfs;
  /** Set when the source was an OCI layout. */
  image?: { manifestDigest: string; config: ImageConfig; layers: number };
  /** Set when the source was a tarball. */
  tarball?: { compression: Compression };
}

/** The files of the linux/<arch> image in an OCI layout directory. */
export async function rootfsFromOciLayout(
  dir: string,
  opts: { arch: Arch; digest?: string; refName?: string; keepBytes?: ApplyOptions['keepBytes'] },
): Promise<RootfsSource> {
  const img = await openOciImage(dir, opts);
  const fs = new Rootfs();
  for (const [i, layer] of img.layers.entries()) {
    const label = `${dir}: layer ${i + 1}/${img.layers.length} (${layer.digest.slice(7, 19)})`;
    await fs.apply(readTar(await layerStream(img.layout, layer), { label }), {
      whiteouts: true,
      label,
      ...(opts.keepBytes ? { keepBytes: opts.keepBytes } : {}),
    });
  }
  return {
    rootfs: fs,
    image: { manifestDigest: img.manifestDigest, config: img.config, layers: img.layers.length },
  };
}

/** The files of a rootfs tarball (plain, gzip, xz or zstd), taken as they are (no whiteouts). */
export async function rootfsFromTarball(
  path: string,
  opts: { keepBytes?: ApplyOptions['keepBytes'] } = {},
): Promise<RootfsSource> {
  const { stream, compression } = await openDecompressed(path);
  const fs = new Rootfs();
  await fs.apply(readTar(stream, { label: path }), {
    whiteouts: false,
    label: path,
    ...(opts.keepBytes ? { keepBytes: opts.keepBytes } : {}),
  });
  return { rootfs: fs, tarball: { compression } };
}

/** An OCI layout directory or a rootfs tarball, whichever `source` is. */
export async function readRootfs(
  source: string,
  opts: { arch: Arch; digest?: string; refName?: string },
): Promise<RootfsSource> {
  const st = await stat(source).catch(() => null);
  if (!st) throw new Error(`${source}: no such file or directory`);
  return st.isDirectory() ? rootfsFromOciLayout(source, opts) : rootfsFromTarball(source);
}
