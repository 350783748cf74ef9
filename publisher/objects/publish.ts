// Publish one file artifact (a `.wsl` now, a cloud disk image next) to every object-storage target of
// wharf.yml (`objectStorage:`): the file, its Sigstore bundle (`<key>.sigstore.json`) when there is one,
// and a SHA-256 checksum file (`<key>.sha256`, sha256sum format). Kind-neutral: the caller names the key
// and the kind (a target with `kinds:` takes only those). Every target is tried; each one gives a record
// {target, bucket, key, url, size, sha256, …} or a failure with its message, never a secret.
import { readFile, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { errorMessage } from '../artifact/index.ts';
import { BUNDLE_SUFFIX } from '../sign/blob.ts';
import { ObjectStore, sha256File, type ObjectTarget, type UploadedObject } from './s3.ts';

export const CHECKSUM_SUFFIX = '.sha256';
/** What a bundle file is labelled when it does not say (a Sigstore bundle names its own media type). */
const JSON_MEDIA_TYPE = 'application/json';

/**
 * The media type a Sigstore bundle declares in its `mediaType` field (@sigstore/sign 5 writes message
 * signatures as `…bundle+json;version=0.2`, others write `…bundle.v0.3+json`): the label follows the bytes.
 */
export function bundleMediaType(json: string): string {
  try {
    const m = (JSON.parse(json) as { mediaType?: unknown }).mediaType;
    if (typeof m === 'string' && /^application\/vnd\.dev\.sigstore\.bundle[\w.+;=-]*$/.test(m)) return m;
  } catch {
    /* not JSON: labelled as plain JSON below */
  }
  return JSON_MEDIA_TYPE;
}

export { BUNDLE_SUFFIX };

export type FileKind = 'wsl' | 'cloud';

/** The targets that take files of this kind, in wharf.yml order. */
export function targetsFor(targets: readonly ObjectTarget[] | undefined, kind: FileKind): ObjectTarget[] {
  return (targets ?? []).filter((t) => !t.kinds || t.kinds.includes(kind));
}

/** What was uploaded to one target. */
export interface PublishedObject {
  target: string;
  bucket: string;
  key: string;
  url: string;
  size: number;
  sha256: string;
  status: UploadedObject['status'];
  /** The checksum file and the bundle next to the file. */
  checksumUrl: string;
  signatureUrl?: string;
}

export interface PublishFailure {
  target: string;
  error: string;
}

export interface PublishFileResult {
  objects: PublishedObject[];
  failed: PublishFailure[];
}

export interface PublishFileInput {
  /** Local path of the file. */
  file: string;
  /** Object name under each target's prefix, e.g. "myos/24.03-wsl/myos-24.03-amd64.wsl". */
  name: string;
  /** The SHA-256 the file must have (the build record's); a changed file is refused. */
  sha256?: string;
  contentType?: string;
  /** Local path of the file's Sigstore bundle, uploaded as `<name>.sigstore.json`. */
  bundle?: string;
}

export interface PublishFileOptions {
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Made once per target by the caller when it wants to reuse clients (tests count parts). */
  store?: (t: ObjectTarget) => ObjectStore;
  log?: (msg: string) => void;
}

/** The sha256sum line for a file: "<hex>  <basename>\n". */
export function checksumLine(sha256: string, name: string): string {
  return `${sha256}  ${posix.basename(name)}\n`;
}

/**
 * Upload `input.file` (+ bundle + checksum) to every target. The checksum file is written next to the
 * local file as `<file>.sha256`. Targets are done one after another; one failing does not stop the others.
 */
export async function publishFile(
  targets: readonly ObjectTarget[],
  input: PublishFileInput,
  opts: PublishFileOptions = {},
): Promise<PublishFileResult> {
  const local = await sha256File(input.file);
  if (input.sha256 && input.sha256 !== local.sha256)
    throw new Error(
      `${input.file} changed since it was built: sha256 ${local.sha256}, recorded ${input.sha256}`,
    );
  const checksumFile = `${input.file}${CHECKSUM_SUFFIX}`;
  await writeFile(checksumFile, checksumLine(local.sha256, input.name));
  const objects: PublishedObject[] = [];
  const failed: PublishFailure[] = [];
  for (const t of targets) {
    opts.signal?.throwIfAborted();
    try {
      const store = opts.store?.(t) ?? new ObjectStore(t, opts.env ?? process.env);
      const up = await store.uploadFile(input.file, input.name, {
        sha256: local.sha256,
        contentType: input.contentType ?? 'application/octet-stream',
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const sum = await store.uploadFile(checksumFile, `${input.name}${CHECKSUM_SUFFIX}`, {
        contentType: 'text/plain; charset=utf-8',
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const sig = input.bundle
        ? await store.uploadFile(input.bundle, `${input.name}${BUNDLE_SUFFIX}`, {
            contentType: bundleMediaType(await readFile(input.bundle, 'utf8')),
            ...(opts.signal ? { signal: opts.signal } : {}),
          })
        : undefined;
      opts.log?.(`${t.name}: ${up.url} ${up.status}`);
      objects.push({
        target: up.target,
        bucket: up.bucket,
        key: up.key,
        url: up.url,
        size: up.size,
        sha256: up.sha256,
        status: up.status,
        checksumUrl: sum.url,
        ...(sig ? { signatureUrl: sig.url } : {}),
      });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      const error = errorMessage(e);
      opts.log?.(`${t.name}: ${error}`);
      failed.push({ target: t.name, error });
    }
  }
  return { objects, failed };
}
