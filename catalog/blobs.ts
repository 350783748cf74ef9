// The blob store: content-addressed, gzip-compressed, size-capped storage for large results (raw scan
// reports, SBOMs, build logs). Git holds only the BlobRef (sha256 of the uncompressed bytes, size,
// media type); the bytes live on local disk beside the catalog (default, git-ignored) or in any
// S3-compatible object store (see blobs-s3.ts).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { BlobRef } from './schema.ts';

export interface BlobStore {
  /** Store bytes; text over maxBytes keeps its last maxBytes (logs: the end matters) and is marked truncated. */
  put(data: Buffer | string, mediaType: string, opts?: { maxBytes?: number }): Promise<BlobRef>;
  get(ref: Pick<BlobRef, 'sha256'>): Promise<Buffer | null>;
}

export const DEFAULT_MAX_BLOB = 8 * 1024 * 1024;

export function prepareBlob(
  data: Buffer | string,
  maxBytes = DEFAULT_MAX_BLOB,
): { bytes: Buffer; sha256: string; truncated: boolean } {
  let bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let truncated = false;
  if (bytes.length > maxBytes) {
    bytes = bytes.subarray(bytes.length - maxBytes);
    truncated = true;
  }
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), truncated };
}

export class FsBlobStore implements BlobStore {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  private path(sha: string): string {
    if (!/^[a-f0-9]{64}$/.test(sha)) throw new Error(`invalid blob sha256 ${JSON.stringify(sha)}`);
    return join(this.root, 'sha256', sha.slice(0, 2), `${sha}.gz`);
  }

  async put(data: Buffer | string, mediaType: string, opts: { maxBytes?: number } = {}): Promise<BlobRef> {
    const { bytes, sha256, truncated } = prepareBlob(data, opts.maxBytes);
    const p = this.path(sha256);
    try {
      await access(p);
    } catch {
      await mkdir(dirname(p), { recursive: true });
      const tmp = `${p}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
      await writeFile(tmp, gzipSync(bytes, { level: 9 }));
      await rename(tmp, p);
    }
    return { sha256, size: bytes.length, mediaType, uri: `file://${p}`, ...(truncated ? { truncated } : {}) };
  }

  async get(ref: Pick<BlobRef, 'sha256'>): Promise<Buffer | null> {
    try {
      return gunzipSync(await readFile(this.path(ref.sha256)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
}

/** The default blob store of a catalog: <catalog>/.wharf-blobs (git-ignored). */
export function defaultBlobStore(catalogDir: string): BlobStore {
  return new FsBlobStore(join(catalogDir, '.wharf-blobs'));
}
