// Export a built image from the engine as an OCI image layout directory: the engine's docker-archive
// stream (image.get()) is spooled to a temp file (streamed, never held in memory) and converted by
// skopeo, with gzip-compressed layers. The layout is written beside its final place and renamed in,
// so readers never see a half-written layout. Returns the manifest digest from index.json.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { z } from 'zod';
import { zDigest } from '../../catalog/schema.ts';

const zIndex = z.object({
  schemaVersion: z.literal(2),
  manifests: z
    .array(z.object({ mediaType: z.string(), digest: zDigest, size: z.number().int() }).loose())
    .min(1),
});

export class ExportError extends Error {
  override name = 'ExportError';
}

/** Read the manifest digest of an OCI layout's first (only) manifest. */
export async function layoutManifestDigest(layoutDir: string): Promise<string> {
  const text = await readFile(join(layoutDir, 'index.json'), 'utf8');
  const idx = zIndex.safeParse(JSON.parse(text));
  if (!idx.success) throw new ExportError(`${layoutDir}/index.json: ${idx.error.issues[0]?.message}`);
  return idx.data.manifests[0]!.digest;
}

export async function exportOciLayout(
  engine: Docker,
  image: string,
  layoutDir: string,
  tag: string,
  opts: { signal?: AbortSignal } = {},
): Promise<string> {
  const parent = dirname(layoutDir);
  await mkdir(parent, { recursive: true });
  const nonce = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const archive = join(parent, `.export-${nonce}.tar`);
  const tmpLayout = join(parent, `.layout-${nonce}`);
  try {
    const stream = (await engine.getImage(image).get()) as NodeJS.ReadableStream;
    await pipeline(stream, createWriteStream(archive));
    const r = await execa(
      'skopeo',
      [
        '--insecure-policy',
        'copy',
        '--quiet',
        '--dest-compress',
        '--dest-compress-format',
        'gzip',
        `docker-archive:${archive}`,
        `oci:${tmpLayout}:${tag}`,
      ],
      { reject: false, cancelSignal: opts.signal, env: { ...process.env, TMPDIR: parent } },
    );
    if (r.exitCode !== 0)
      throw new ExportError(
        `skopeo could not convert the image to an OCI layout: ${String(r.stderr).trim()}`,
      );
    const digest = await layoutManifestDigest(tmpLayout);
    await rm(layoutDir, { recursive: true, force: true });
    await rename(tmpLayout, layoutDir);
    return digest;
  } finally {
    await rm(archive, { force: true });
    await rm(tmpLayout, { recursive: true, force: true });
  }
}

/** Compressed size of a layout's image: the manifest's config and layer sizes (what a registry stores). */
export async function layoutCompressedSize(layoutDir: string, manifestDigest: string): Promise<number> {
  const hex = manifestDigest.replace(/^sha256:/, '');
  const m = JSON.parse(await readFile(join(layoutDir, 'blobs', 'sha256', hex), 'utf8')) as {
    config?: { size?: number };
    layers?: Array<{ size?: number }>;
  };
  return (m.config?.size ?? 0) + (m.layers ?? []).reduce((n, l) => n + (l.size ?? 0), 0);
}
