// Files (WSL images now, cloud images next) into S3-compatible object storage: AWS S3, Huawei OBS,
// Tencent COS, Alibaba OSS, MinIO, s3rver. Multipart through @aws-sdk/lib-storage; resumable through
// a journal beside the file (upload id and the ETag of every finished part, written as parts finish,
// by a middleware on the client) so an interrupted upload continues with the parts that are missing;
// an object already there with the same size and sha256 metadata is not uploaded again. After upload
// the object is read back and its SHA-256 compared: a mismatch is an error, never a record.
//
// Credentials come from environment variables whose NAMES are configured, never from the config.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { z } from 'zod';
import { zObjectTarget, type ObjectTarget, type ObjectTargetInput } from '../../catalog/config.ts';
import { s3Client } from '../../catalog/s3-client.ts';

/** One object-storage target: the schema lives with wharf.yml's (catalog/config.ts `objectStorage`). */
export { zObjectTarget, type ObjectTarget, type ObjectTargetInput };

/** What publish records per uploaded object. */
export interface UploadedObject {
  target: string;
  bucket: string;
  key: string;
  url: string;
  size: number;
  sha256: string;
  status: 'uploaded' | 'resumed' | 'unchanged';
  /** Parts sent by this call (0 when unchanged). */
  partsSent: number;
}

export class ObjectStorageError extends Error {
  override name = 'ObjectStorageError';
}

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

export function objectUrl(t: ObjectTarget, key: string): string {
  const enc = key.split('/').map(encodeURIComponent).join('/');
  if (t.publicUrl) return `${t.publicUrl.replace(/\/+$/, '')}/${enc}`;
  if (t.endpoint) {
    const base = t.endpoint.replace(/\/+$/, '');
    if (t.forcePathStyle) return `${base}/${t.bucket}/${enc}`;
    const u = new URL(base);
    return `${u.protocol}//${t.bucket}.${u.host}/${enc}`;
  }
  return `https://${t.bucket}.s3.${t.region}.amazonaws.com/${enc}`;
}

export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(path)) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

interface Journal {
  bucket: string;
  key: string;
  sha256: string;
  size: number;
  partSize: number;
  uploadId: string;
  parts: Array<{ PartNumber: number; ETag: string }>;
}
const zJournal = z.object({
  bucket: z.string(),
  key: z.string(),
  sha256: z.string(),
  size: z.number(),
  partSize: z.number(),
  uploadId: z.string().min(1),
  parts: z.array(z.object({ PartNumber: z.number().int().min(1), ETag: z.string() })),
});

const isNotFound = (e: unknown) =>
  e instanceof S3ServiceException &&
  (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404);

export class ObjectStore {
  readonly target: ObjectTarget;
  readonly client: S3Client;
  /** Called per part that finishes (tests count them; the CLI could show progress). */
  onPart?: (partNumber: number) => void;

  constructor(target: ObjectTargetInput, env: NodeJS.ProcessEnv = process.env) {
    const t = zObjectTarget.parse(target);
    this.target = t;
    this.client = s3Client(t, env, (m) => new ObjectStorageError(`object storage ${t.name}: ${m}`));
  }

  key(name: string): string {
    const prefix =
      this.target.prefix && !this.target.prefix.endsWith('/') ? `${this.target.prefix}/` : this.target.prefix;
    const key = `${prefix}${name}`;
    if (!KEY_RE.test(key) || key.split('/').some((p) => p === '..' || p === '.' || p === ''))
      throw new ObjectStorageError(`invalid object key ${JSON.stringify(key)}`);
    return key;
  }

  private journalPath(file: string, key: string): string {
    return `${file}.upload-${createHash('sha256').update(`${this.target.bucket}/${key}`).digest('hex').slice(0, 12)}.json`;
  }

  private async readJournal(path: string): Promise<Journal | null> {
    try {
      const j = zJournal.safeParse(JSON.parse(await readFile(path, 'utf8')));
      return j.success ? j.data : null;
    } catch {
      return null;
    }
  }

  private async writeJournal(path: string, j: Journal): Promise<void> {
    const tmp = `${path}.tmp`;
    await writeFile(tmp, JSON.stringify(j) + '\n');
    await rename(tmp, path);
  }

  /** The object's size and sha256 metadata, or null when there is none. */
  async head(key: string): Promise<{ size: number; sha256?: string } | null> {
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: this.target.bucket, Key: key }));
      return { size: h.ContentLength ?? -1, ...(h.Metadata?.sha256 ? { sha256: h.Metadata.sha256 } : {}) };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** SHA-256 and size of the stored object, read back through the API. */
  async readBack(key: string): Promise<{ sha256: string; size: number }> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.target.bucket, Key: key }));
    const h = createHash('sha256');
    let size = 0;
    for await (const c of r.Body as Readable) {
      h.update(c as Buffer);
      size += (c as Buffer).length;
    }
    return { sha256: h.digest('hex'), size };
  }

  /**
   * Upload a file to `name` (under the target's prefix). Resumes an interrupted multipart upload of
   * the same bytes; skips the upload when the object is already there with the same sha256; verifies
   * the stored bytes' SHA-256 afterwards.
   */
  async uploadFile(
    file: string,
    name: string,
    opts: { contentType?: string; sha256?: string; signal?: AbortSignal } = {},
  ): Promise<UploadedObject> {
    const t = this.target;
    const key = this.key(name);
    const local = await sha256File(file);
    if (opts.sha256 && opts.sha256 !== local.sha256)
      throw new ObjectStorageError(`${file} changed: sha256 is ${local.sha256}, expected ${opts.sha256}`);
    const partSize = t.partSizeMiB * 1024 * 1024;
    const journalPath = this.journalPath(file, key);
    const base = { target: t.name, bucket: t.bucket, key, url: objectUrl(t, key), ...local };

    const existing = await this.head(key);
    if (existing && existing.size === local.size && existing.sha256 === local.sha256) {
      await this.verify(key, local);
      await rm(journalPath, { force: true });
      return { ...base, status: 'unchanged', partsSent: 0 };
    }

    const meta = { sha256: local.sha256 };
    const contentType = opts.contentType ?? 'application/octet-stream';
    const journal = await this.readJournal(journalPath);
    let status: UploadedObject['status'] = 'uploaded';
    let sent: number;
    if (
      journal &&
      journal.bucket === t.bucket &&
      journal.key === key &&
      journal.sha256 === local.sha256 &&
      journal.size === local.size &&
      journal.partSize === partSize
    ) {
      sent = await this.resume(file, journalPath, journal, opts.signal);
      status = 'resumed';
    } else {
      sent = await this.fresh(file, key, journalPath, { ...local, partSize }, meta, contentType, opts.signal);
    }
    await this.verify(key, local);
    await rm(journalPath, { force: true });
    return { ...base, status, partsSent: sent };
  }

  private async verify(key: string, local: { sha256: string; size: number }): Promise<void> {
    const got = await this.readBack(key);
    if (got.sha256 !== local.sha256 || got.size !== local.size)
      throw new ObjectStorageError(
        `${this.target.name}: ${key} read back as ${got.size} bytes sha256 ${got.sha256}, uploaded ${local.size} bytes sha256 ${local.sha256}`,
      );
  }

  /** A new upload through lib-storage; every finished part is journalled by a client middleware. */
  private async fresh(
    file: string,
    key: string,
    journalPath: string,
    local: { sha256: string; size: number; partSize: number },
    meta: Record<string, string>,
    contentType: string,
    signal?: AbortSignal,
  ): Promise<number> {
    let journal: Journal | null = null;
    let writes = Promise.resolve();
    let sent = 0;
    const mwName = `wharf-journal-${Math.random().toString(36).slice(2)}`;
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        const input = args.input as { Key?: string; UploadId?: string; PartNumber?: number };
        if (input.Key !== key) return out;
        const o = out.output as { UploadId?: string; ETag?: string };
        if (context.commandName === 'CreateMultipartUploadCommand' && o.UploadId) {
          journal = { bucket: this.target.bucket, key, ...local, uploadId: o.UploadId, parts: [] };
          const j = journal;
          writes = writes.then(() => this.writeJournal(journalPath, j));
        } else if (context.commandName === 'UploadPartCommand' && journal && input.PartNumber && o.ETag) {
          journal.parts.push({ PartNumber: input.PartNumber, ETag: o.ETag });
          const j = { ...journal, parts: [...journal.parts] };
          writes = writes.then(() => this.writeJournal(journalPath, j));
          sent++;
          this.onPart?.(input.PartNumber);
        } else if (context.commandName === 'PutObjectCommand') {
          sent++;
          this.onPart?.(1);
        }
        return out;
      },
      { step: 'initialize', name: mwName },
    );
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort);
    try {
      const up = new Upload({
        client: this.client,
        params: {
          Bucket: this.target.bucket,
          Key: key,
          Body: createReadStream(file),
          ContentLength: local.size,
          ContentType: contentType,
          Metadata: meta,
        },
        partSize: local.partSize,
        queueSize: this.target.queueSize,
        // Keep finished parts when interrupted: the journal resumes from them.
        leavePartsOnError: true,
        abortController: controller,
      });
      await up.done();
      await writes;
      return sent;
    } catch (e) {
      await writes.catch(() => undefined);
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.client.middlewareStack.remove(mwName);
    }
  }

  /** Send the parts the journal does not have, then complete the upload. */
  private async resume(file: string, journalPath: string, j: Journal, signal?: AbortSignal): Promise<number> {
    const total = Math.max(1, Math.ceil(j.size / j.partSize));
    const have = new Map(j.parts.map((p) => [p.PartNumber, p.ETag]));
    const fh = await open(file, 'r');
    let sent = 0;
    try {
      for (let n = 1; n <= total; n++) {
        if (have.has(n)) continue;
        signal?.throwIfAborted();
        const start = (n - 1) * j.partSize;
        const len = Math.min(j.partSize, j.size - start);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, start);
        let r;
        try {
          r = await this.client.send(
            new UploadPartCommand({
              Bucket: j.bucket,
              Key: j.key,
              UploadId: j.uploadId,
              PartNumber: n,
              Body: buf,
            }),
            { abortSignal: signal },
          );
        } catch (e) {
          if (e instanceof S3ServiceException && e.name === 'NoSuchUpload') {
            // The store dropped the unfinished upload (expiry, abort): start again from nothing.
            await rm(journalPath, { force: true });
            throw new ObjectStorageError(
              `${this.target.name}: the interrupted upload of ${j.key} is gone; run again to upload it anew`,
            );
          }
          throw e;
        }
        if (!r.ETag) throw new ObjectStorageError(`${this.target.name}: part ${n} of ${j.key} has no ETag`);
        have.set(n, r.ETag);
        j.parts.push({ PartNumber: n, ETag: r.ETag });
        await this.writeJournal(journalPath, j);
        sent++;
        this.onPart?.(n);
      }
    } finally {
      await fh.close();
    }
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: j.bucket,
        Key: j.key,
        UploadId: j.uploadId,
        MultipartUpload: {
          Parts: [...have.entries()]
            .sort((a, b) => a[0] - b[0])
            .map(([PartNumber, ETag]) => ({ PartNumber, ETag })),
        },
      }),
    );
    return sent;
  }
}
