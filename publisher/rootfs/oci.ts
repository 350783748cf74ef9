// Reading a built image out of an OCI image layout (what the build stage exports, or `skopeo copy …
// oci:DIR`): pick the manifest for one architecture (through an image index when there is one), check
// its config says that architecture, and stream each layer blob, its digest checked as it is read,
// decompressed by media type (gzip, zstd, or plain tar).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { Arch } from '../../catalog/names.ts';
import { OciLayout, LayoutError, blobPath } from '../registry/layout.ts';
import {
  isIndexType,
  zImageIndex,
  zImageManifest,
  type Descriptor,
  type ImageManifest,
} from '../registry/media.ts';
import { decompress, fileCompression, type Compression } from './compression.ts';

export const zImageConfig = z
  .object({
    architecture: z.string(),
    os: z.string(),
    variant: z.string().optional(),
    created: z.string().optional(),
    rootfs: z.object({ type: z.string(), diff_ids: z.array(z.string()) }).loose(),
  })
  .loose();
export type ImageConfig = z.infer<typeof zImageConfig>;

export interface OciImage {
  layout: OciLayout;
  manifestDigest: string;
  manifest: ImageManifest;
  config: ImageConfig;
  layers: Descriptor[];
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new LayoutError(`${what} is not JSON`);
  }
}

const platformArch = (d: Descriptor): string | undefined =>
  typeof d.platform?.architecture === 'string' ? d.platform.architecture : undefined;

/** Open the image for `arch` in an OCI layout directory. */
export async function openOciImage(
  dir: string,
  opts: { arch: Arch; digest?: string; refName?: string },
): Promise<OciImage> {
  const layout = await OciLayout.open(dir);
  let desc: Descriptor;
  if (opts.digest || opts.refName) desc = await layout.root(opts);
  else {
    // A layout can list one manifest per platform at the top level (skopeo --all, podman manifest push).
    const top = (await layout.index()).manifests;
    const forArch = top.filter((d) => platformArch(d) === opts.arch);
    desc = forArch.length === 1 ? forArch[0]! : await layout.root();
  }
  for (let depth = 0; ; depth++) {
    if (depth > 3) throw new LayoutError(`${dir}: image indexes nested too deeply`);
    const doc = parseJson(await layout.readBlob(desc.digest), `${dir}: manifest ${desc.digest}`);
    const mt = (doc as { mediaType?: string }).mediaType ?? desc.mediaType;
    if (isIndexType(mt) || Array.isArray((doc as { manifests?: unknown }).manifests)) {
      const idx = zImageIndex.safeParse(doc);
      if (!idx.success) throw new LayoutError(`${dir}: index ${desc.digest} is invalid`);
      const pick = idx.data.manifests.filter(
        (d) => platformArch(d) === opts.arch && (d.platform?.os ?? 'linux') === 'linux',
      );
      if (pick.length === 0)
        throw new LayoutError(
          `${dir}: the image index has no linux/${opts.arch} manifest (has: ${
            idx.data.manifests.map((d) => platformArch(d) ?? '?').join(', ') || 'none'
          })`,
        );
      desc = pick[0]!;
      continue;
    }
    const m = zImageManifest.safeParse(doc);
    if (!m.success) throw new LayoutError(`${dir}: manifest ${desc.digest} is invalid`);
    const cfgDoc = parseJson(await layout.readBlob(m.data.config.digest), `${dir}: image config`);
    const cfg = zImageConfig.safeParse(cfgDoc);
    if (!cfg.success)
      throw new LayoutError(
        `${dir}: image config ${m.data.config.digest}: ${cfg.error.issues[0]?.path.join('.')}: ${cfg.error.issues[0]?.message}`,
      );
    if (cfg.data.architecture !== opts.arch)
      throw new LayoutError(
        `${dir}: the image is ${cfg.data.os}/${cfg.data.architecture}, not linux/${opts.arch}`,
      );
    return {
      layout,
      manifestDigest: desc.digest,
      manifest: m.data,
      config: cfg.data,
      layers: m.data.layers,
    };
  }
}

function layerCompression(d: Descriptor): Compression | undefined {
  const mt = d.mediaType;
  if (/\+gzip$|\.gzip$|tar\.gzip$/.test(mt) || mt === 'application/vnd.docker.image.rootfs.diff.tar.gzip')
    return 'gzip';
  if (/\+zstd$/.test(mt)) return 'zstd';
  if (/\.tar$|v1\.tar$/.test(mt)) return 'none';
  return undefined;
}

/** A layer's uncompressed tar bytes; the blob's size and digest are checked as it is read. */
export async function layerStream(layout: OciLayout, d: Descriptor): Promise<Readable> {
  const path = blobPath(layout.dir, d.digest);
  const where = `${layout.dir}: layer ${d.digest}`;
  async function* checked(): AsyncGenerator<Buffer> {
    const h = createHash('sha256');
    let n = 0;
    try {
      for await (const chunk of createReadStream(path)) {
        h.update(chunk as Buffer);
        n += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new LayoutError(`${where} is missing`);
      throw e;
    }
    if (n !== d.size) throw new LayoutError(`${where} has ${n} bytes, expected ${d.size}`);
    if (`sha256:${h.digest('hex')}` !== d.digest) throw new LayoutError(`${where} is corrupt`);
  }
  // Unknown media types (some tools write application/octet-stream): go by the first bytes.
  const c = layerCompression(d) ?? (await fileCompression(path).catch(() => 'none' as const));
  return decompress(Readable.from(checked()), c);
}
