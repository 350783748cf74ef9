// The blob store on any S3-compatible object store (AWS S3, MinIO, Ceph RGW, OBS, OSS, s3rver):
// gzip'd, content-addressed keys `<prefix>sha256/ab/<hex>.gz`, HeadObject first so equal bytes are
// uploaded once. Configured in wharf.yml under `blobs:`; credentials come from environment variables
// whose NAMES are configured (never the secrets themselves).
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { zBlobsConfig, type BlobsConfig, type S3BlobsConfig } from './config.ts';
import { s3Client } from './s3-client.ts';
import { FsBlobStore, defaultBlobStore, prepareBlob, type BlobStore } from './blobs.ts';
import type { BlobRef } from './schema.ts';

export { zBlobsConfig, type BlobsConfig, type S3BlobsConfig };

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  private readonly maxBytes: number | undefined;

  constructor(cfg: S3BlobsConfig, env: NodeJS.ProcessEnv = process.env) {
    this.client = s3Client(cfg, env, (m) => new Error(`blobs: ${m}`));
    this.bucket = cfg.bucket;
    this.prefix = cfg.prefix && !cfg.prefix.endsWith('/') ? `${cfg.prefix}/` : cfg.prefix;
    this.maxBytes = cfg.maxBytes;
  }

  key(sha: string): string {
    if (!/^[a-f0-9]{64}$/.test(sha)) throw new Error(`invalid blob sha256 ${JSON.stringify(sha)}`);
    return `${this.prefix}sha256/${sha.slice(0, 2)}/${sha}.gz`;
  }

  async has(sha: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(sha) }));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async put(data: Buffer | string, mediaType: string, opts: { maxBytes?: number } = {}): Promise<BlobRef> {
    const { bytes, sha256, truncated } = prepareBlob(data, opts.maxBytes ?? this.maxBytes);
    const key = this.key(sha256);
    if (!(await this.has(sha256))) {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: gzipSync(bytes, { level: 9 }),
          ContentType: 'application/gzip',
          Metadata: { 'media-type': mediaType, size: String(bytes.length) },
        }),
      );
    }
    return {
      sha256,
      size: bytes.length,
      mediaType,
      uri: `s3://${this.bucket}/${key}`,
      ...(truncated ? { truncated } : {}),
    };
  }

  async get(ref: Pick<BlobRef, 'sha256'>): Promise<Buffer | null> {
    try {
      const r = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key(ref.sha256) }),
      );
      if (!r.Body) return null;
      return gunzipSync(Buffer.from(await r.Body.transformToByteArray()));
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }
}

function isNotFound(e: unknown): boolean {
  if (e instanceof S3ServiceException)
    return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata.httpStatusCode === 404;
  return false;
}

/** The blob store a catalog is configured for: `blobs:` in wharf.yml, else the local default. */
export function openBlobStore(
  catalogDir: string,
  /** The catalog's config (blobs already validated) or a raw `blobs:` section (parsed here). */
  config: { blobs?: unknown },
  env: NodeJS.ProcessEnv = process.env,
): BlobStore {
  if (!config.blobs) return defaultBlobStore(catalogDir);
  const r = zBlobsConfig.safeParse(config.blobs);
  if (!r.success)
    throw new Error(
      `wharf.yml: ${r.error.issues.map((i) => `blobs.${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const cfg = r.data;
  if (cfg.kind === 's3') return new S3BlobStore(cfg, env);
  if (!cfg.path) return defaultBlobStore(catalogDir);
  return new FsBlobStore(cfg.path.startsWith('/') ? cfg.path : join(catalogDir, cfg.path));
}
