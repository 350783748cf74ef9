// The OCI image index of a multi-arch tag (https://github.com/opencontainers/image-spec/blob/main/image-index.md):
// one descriptor per arch manifest (its exact media type, digest and size from the arch's OCI layout)
// with the platform read from that manifest's image config (architecture, os, variant, os.version).
// The bytes depend only on the per-arch manifests, in a fixed arch order, with no timestamps: sign and
// publish compute the same index, and every registry target gets the same index digest.
import { z } from 'zod';
import { sha256Digest } from './client.ts';
import { OciLayout } from './layout.ts';
import { OCI_INDEX, zImageManifest, type Descriptor } from './media.ts';

export interface IndexPart {
  arch: string;
  /** The arch's OCI layout and the manifest digest in it. */
  layoutDir: string;
  digest: string;
}

export interface ImageIndexDoc {
  bytes: Buffer;
  digest: string;
  mediaType: typeof OCI_INDEX;
  manifests: Array<{ arch: string; layoutDir: string; descriptor: Descriptor }>;
}

const zConfigPlatform = z
  .object({
    architecture: z.string().min(1),
    os: z.string().min(1),
    variant: z.string().optional(),
    'os.version': z.string().optional(),
  })
  .passthrough();

export class ImageIndexError extends Error {
  override name = 'ImageIndexError';
}

/** Build the image index over `parts` (in the order given). */
export async function makeImageIndex(parts: IndexPart[]): Promise<ImageIndexDoc> {
  if (!parts.length) throw new ImageIndexError('an image index needs at least one manifest');
  const manifests: ImageIndexDoc['manifests'] = [];
  for (const p of parts) {
    const layout = await OciLayout.open(p.layoutDir);
    const root = await layout.root({ digest: p.digest });
    const bytes = await layout.readBlob(root.digest);
    const m = zImageManifest.safeParse(JSON.parse(bytes.toString('utf8')));
    if (!m.success)
      throw new ImageIndexError(`${p.layoutDir}: manifest ${p.digest} is not an image manifest`);
    const cfg = zConfigPlatform.safeParse(
      JSON.parse((await layout.readBlob(m.data.config.digest)).toString('utf8')),
    );
    if (!cfg.success)
      throw new ImageIndexError(`${p.layoutDir}: image config of ${p.digest} has no architecture/os`);
    if (cfg.data.architecture !== p.arch)
      throw new ImageIndexError(
        `${p.layoutDir}: the ${p.arch} image's config says architecture ${cfg.data.architecture}`,
      );
    const platform: Record<string, string> = { architecture: cfg.data.architecture, os: cfg.data.os };
    if (cfg.data['os.version']) platform['os.version'] = cfg.data['os.version'];
    if (cfg.data.variant) platform.variant = cfg.data.variant;
    manifests.push({
      arch: p.arch,
      layoutDir: p.layoutDir,
      descriptor: {
        mediaType: m.data.mediaType ?? root.mediaType,
        digest: root.digest,
        size: bytes.length,
        platform,
      },
    });
  }
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: manifests.map((x) => x.descriptor),
  };
  const bytes = Buffer.from(JSON.stringify(doc));
  return { bytes, digest: sha256Digest(bytes), mediaType: OCI_INDEX, manifests };
}
