// Push an OCI image layout to a repository: every blob (skipping those already there, mounting when
// possible), then the manifests bottom-up with exactly the layout's bytes, so the digest on the
// registry is the digest the build recorded. Tags are applied by PUTting the same bytes again.
import pLimit from 'p-limit';
import type { BlobUploadResult, RegistryClient } from './client.ts';
import { OciLayout, blobPath, type LayoutItem } from './layout.ts';

export interface PushResult {
  digest: string;
  mediaType: string;
  tags: string[];
  blobs: Record<BlobUploadResult, number>;
}

export interface PushOptions {
  /** Tags to put the root manifest under (may be empty: pushed by digest only). */
  tags: string[];
  /** Root manifest digest in the layout (default: the only one in index.json). */
  digest?: string;
  /** Root manifest by its org.opencontainers.image.ref.name annotation. */
  refName?: string;
  /** Repositories on the same registry that may already hold the blobs (cross-repo mount). */
  mountFrom?: string[];
  concurrency?: number;
  /** Verify every blob's size and digest before uploading (default true). */
  checkBlobs?: boolean;
  onProgress?: (msg: string) => void;
}

export async function pushLayout(
  client: RegistryClient,
  repo: string,
  layoutDir: string,
  opts: PushOptions,
): Promise<PushResult> {
  const layout = await OciLayout.open(layoutDir);
  const root = await layout.root({ digest: opts.digest, refName: opts.refName });
  const items = await layout.closure(root);
  return pushItems(client, repo, layout, items, opts);
}

export async function pushItems(
  client: RegistryClient,
  repo: string,
  layout: OciLayout,
  items: LayoutItem[],
  opts: PushOptions,
): Promise<PushResult> {
  const counts: Record<BlobUploadResult, number> = { exists: 0, mounted: 0, uploaded: 0 };
  const limit = pLimit(opts.concurrency ?? 4);
  const blobs = items.filter((i) => i.kind === 'blob');
  await Promise.all(
    blobs.map((b) =>
      limit(async () => {
        const d = b.descriptor;
        if (opts.checkBlobs !== false) await layout.checkBlob(d);
        const r = await client.uploadBlob(
          repo,
          d.digest,
          d.size,
          { path: blobPath(layout.dir, d.digest) },
          { mountFrom: opts.mountFrom },
        );
        counts[r]++;
        opts.onProgress?.(`${repo}: blob ${d.digest.slice(7, 19)} ${r}`);
      }),
    ),
  );
  const manifests = items.filter((i) => i.kind === 'manifest');
  const root = manifests[manifests.length - 1]!;
  for (const m of manifests.slice(0, -1)) {
    await client.putManifest(repo, m.descriptor.digest, m.bytes!, m.descriptor.mediaType);
  }
  // Push by digest first (so the content exists even if a tag PUT fails), then each tag.
  await client.putManifest(repo, root.descriptor.digest, root.bytes!, root.descriptor.mediaType);
  for (const tag of opts.tags) {
    const digest = await client.putManifest(repo, tag, root.bytes!, root.descriptor.mediaType);
    if (digest !== root.descriptor.digest) throw new Error(`${repo}:${tag}: digest changed while pushing`);
  }
  opts.onProgress?.(`${repo}: manifest ${root.descriptor.digest} ${opts.tags.join(', ')}`);
  return {
    digest: root.descriptor.digest,
    mediaType: root.descriptor.mediaType,
    tags: opts.tags,
    blobs: counts,
  };
}
