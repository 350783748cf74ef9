// An OCI Distribution API client (https://github.com/opencontainers/distribution-spec) on undici:
// manifests (HEAD/GET/PUT, always with Accept for OCI and Docker v2 types), blobs (HEAD, GET, monolithic
// or chunked upload, cross-repository mount), tag listing with pagination, the Bearer/Basic auth
// handshake, retries with backoff + jitter on 5xx/429/network errors, and digest verification of all
// that is read back. Errors name the registry, repository and operation, never a credential.
// Requests, retries, Retry-After, body caps and origin-bound credentials come from publisher/net.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import {
  DEFAULT_RETRY,
  StatusError,
  TransientError,
  bindCredentials,
  nextLink,
  parseRetryAfter,
  send,
  withRetry,
  type RetryPolicy,
} from '../net/index.ts';
import {
  AuthError,
  basicHeader,
  fetchToken,
  httpRealmAllowed,
  parseChallenge,
  type Credentials,
} from './auth.ts';
import { MANIFEST_ACCEPT } from './media.ts';
import { registryBaseUrl } from './ref.ts';

export interface RegistryClientOptions {
  /** Registry host as in references, e.g. 127.0.0.1:5000 or quay.io. */
  registry: string;
  /** Speak plain http (loopback and private test registries). */
  insecure?: boolean;
  credentials?: Credentials;
  retry?: Partial<RetryPolicy>;
  /** Per-request header/body timeout. */
  timeoutMs?: number;
  /** Blobs larger than this are uploaded in chunks of this size (PATCH); smaller ones in one PUT. */
  chunkSize?: number;
  signal?: AbortSignal;
  /** Called for every retried attempt (e.g. to count attempts or log "retrying"). */
  onRetry?: (what: string, attempt: number, err: Error) => void;
  dispatcher?: Dispatcher;
  /** Cap on a buffered response body (manifests, small blobs, error documents); default 64 MiB. */
  maxBodyBytes?: number;
}

export class RegistryError extends StatusError {
  override name = 'RegistryError';
  readonly code: string | undefined;
  constructor(message: string, status?: number, code?: string) {
    super(message, status);
    this.code = code;
  }
}

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
}

export interface Manifest extends ManifestInfo {
  bytes: Buffer;
}

export type BlobSource = { bytes: Buffer } | { path: string };
export type BlobUploadResult = 'exists' | 'mounted' | 'uploaded';

interface SendOptions {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** A path under the registry (/v2/…) or an absolute URL (upload locations). */
  url: string;
  headers?: Record<string, string>;
  body?: () => Buffer | Readable;
  scopes: string[];
  /** Statuses that are a success; anything else becomes an error (404 may be asked for explicitly). */
  ok: number[];
  /** Retry transient failures inside send (false for upload steps: the session is retried as a whole). */
  retry?: boolean;
  /** 4xx error codes that are transient for this request (races in the registry, see putManifest). */
  transientCodes?: string[];
  what: string;
}

interface Response {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export const sha256Digest = (b: Buffer | string): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`;

const DEFAULT_CHUNK = 16 * 1024 * 1024;

export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: string;
  private readonly opts: RegistryClientOptions;
  private readonly policy: RetryPolicy;
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private basic = false;

  constructor(opts: RegistryClientOptions) {
    this.opts = opts;
    this.registry = opts.registry;
    this.baseUrl = registryBaseUrl(opts.registry, opts.insecure ?? false);
    this.policy = { ...DEFAULT_RETRY, ...opts.retry };
  }

  // ------------------------------------------------------------------ plumbing

  private authHeader(scopes: string[]): string | undefined {
    const t = this.tokens.get(scopeKey(scopes));
    if (t && t.expiresAt > Date.now()) return `Bearer ${t.token}`;
    if (this.basic && this.opts.credentials) return basicHeader(this.opts.credentials);
    return undefined;
  }

  private async once(o: SendOptions): Promise<Response> {
    const url = new URL(o.url, this.baseUrl);
    // Upload locations and pagination links may point at another origin: it gets no credentials of
    // ours (they are bound to the registry's origin) and no auth handshake.
    const sameOrigin = url.origin === new URL(this.baseUrl).origin;
    for (let round = 0; ; round++) {
      const auth = sameOrigin ? this.authHeader(o.scopes) : undefined;
      const res = await send(url, {
        method: o.method,
        headers: { 'user-agent': 'wharf', ...o.headers },
        credentials: auth ? bindCredentials(this.baseUrl, { headers: { authorization: auth } }) : undefined,
        body: o.body?.(),
        timeoutMs: this.opts.timeoutMs ?? 60_000,
        signal: this.opts.signal,
        dispatcher: this.opts.dispatcher,
        maxBytes: this.opts.maxBodyBytes,
        // Content is addressed by the digest of its exact bytes: never undo an encoding we did not ask for.
        decode: false,
      });
      const { body, headers: h } = res;
      if (res.status === 401 && round === 0 && sameOrigin) {
        const ch = parseChallenge(h['www-authenticate']);
        if (ch?.scheme === 'bearer') {
          const scopes = [...new Set([...o.scopes, ...(ch.params.scope?.split(' ').filter(Boolean) ?? [])])];
          const tok = await fetchToken(ch, scopes, this.opts.credentials, {
            timeoutMs: this.opts.timeoutMs ?? 60_000,
            allowHttp: httpRealmAllowed(this.baseUrl, this.opts.insecure ?? false),
          });
          this.tokens.set(scopeKey(o.scopes), tok);
          continue;
        }
        // Retry when this request went out without our Basic credentials (a concurrent request may
        // already have switched the client to Basic while this one was in flight).
        if (ch?.scheme === 'basic' && this.opts.credentials && !auth?.startsWith('Basic ')) {
          this.basic = true;
          continue;
        }
      }
      if (o.ok.includes(res.status)) return { status: res.status, headers: h, body };
      const detail = registryErrorDetail(body);
      const msg = `${o.what}: ${this.registry} answered HTTP ${res.status}${detail.text ? ` (${detail.text})` : ''}`;
      if (res.status >= 500 || res.status === 429 || res.status === 408)
        throw new TransientError(msg, parseRetryAfter(h['retry-after']));
      if (detail.code && o.transientCodes?.includes(detail.code)) throw new TransientError(msg);
      if (res.status === 401 || res.status === 403)
        throw new AuthError(
          `${o.what}: ${this.registry} refused access (HTTP ${res.status})` +
            (this.opts.credentials ? '' : '; no credentials configured (usernameEnv/passwordEnv)'),
        );
      throw new RegistryError(msg, res.status, detail.code);
    }
  }

  private send(o: SendOptions): Promise<Response> {
    if (o.retry === false) return this.once(o);
    return withRetry(o.what, () => this.once(o), this.policy, {
      signal: this.opts.signal,
      onRetry: (attempt, err) => this.opts.onRetry?.(o.what, attempt, err),
    });
  }

  // ------------------------------------------------------------------ API

  /** GET /v2/: true when the registry answers (after any auth handshake). */
  async ping(): Promise<boolean> {
    await this.send({ method: 'GET', url: '/v2/', scopes: [], ok: [200], what: 'ping' });
    return true;
  }

  /** HEAD a manifest by tag or digest; null when it does not exist. */
  async headManifest(repo: string, ref: string): Promise<ManifestInfo | null> {
    const r = await this.send({
      method: 'HEAD',
      url: `/v2/${repo}/manifests/${ref}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: [pullScope(repo)],
      ok: [200, 404],
      what: `HEAD manifest ${repo}:${ref}`,
    });
    if (r.status === 404) return null;
    const digest = r.headers['docker-content-digest'];
    if (!digest) {
      // Not every registry sends the digest on HEAD: fall back to reading (and hashing) it.
      const m = await this.getManifest(repo, ref);
      return m && { digest: m.digest, mediaType: m.mediaType, size: m.size };
    }
    return {
      digest,
      mediaType: (r.headers['content-type'] ?? '').split(';')[0]!.trim(),
      size: Number(r.headers['content-length'] ?? 0),
    };
  }

  /** GET a manifest's exact bytes, verified against the digest asked for (or the one announced). */
  async getManifest(repo: string, ref: string): Promise<Manifest | null> {
    const r = await this.send({
      method: 'GET',
      url: `/v2/${repo}/manifests/${ref}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: [pullScope(repo)],
      ok: [200, 404],
      what: `GET manifest ${repo}:${ref}`,
    });
    if (r.status === 404) return null;
    const digest = sha256Digest(r.body);
    const expected = ref.startsWith('sha256:') ? ref : r.headers['docker-content-digest'];
    if (expected && expected !== digest)
      throw new RegistryError(
        `GET manifest ${repo}:${ref}: content digest ${digest} does not match ${expected}`,
        r.status,
        'DIGEST_MISMATCH',
      );
    return {
      bytes: r.body,
      digest,
      mediaType: (r.headers['content-type'] ?? '').split(';')[0]!.trim(),
      size: r.body.length,
    };
  }

  /**
   * PUT a manifest's exact bytes under a tag or digest; returns its digest (checked against the registry's).
   * The registry checks every blob the manifest names; distribution 2.x reads each blob's link file
   * for that, and a concurrent push of the same blob into the repository (another worker, another
   * publisher) rewrites that file in place, so the check can read it empty and answer DIGEST_INVALID
   * or MANIFEST_BLOB_UNKNOWN for a blob that is there. The bytes were hashed here, so those answers
   * are retried with backoff like a 5xx; a blob that is really missing still fails after the retries.
   */
  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    const digest = sha256Digest(bytes);
    const r = await this.send({
      method: 'PUT',
      url: `/v2/${repo}/manifests/${ref}`,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: () => bytes,
      scopes: [pushScope(repo)],
      ok: [201, 200],
      what: `PUT manifest ${repo}:${ref}`,
      transientCodes: ['DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'BLOB_UNKNOWN'],
    });
    const got = r.headers['docker-content-digest'];
    if (got && got !== digest)
      throw new RegistryError(`PUT manifest ${repo}:${ref}: registry computed ${got}, expected ${digest}`);
    return digest;
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const r = await this.send({
      method: 'HEAD',
      url: `/v2/${repo}/blobs/${digest}`,
      scopes: [pullScope(repo)],
      ok: [200, 404],
      what: `HEAD blob ${repo}@${digest.slice(0, 19)}`,
    });
    return r.status === 200;
  }

  /** GET a blob and check its digest (for small blobs: signature payloads, configs). */
  async getBlob(repo: string, digest: string): Promise<Buffer> {
    const r = await this.send({
      method: 'GET',
      url: `/v2/${repo}/blobs/${digest}`,
      scopes: [pullScope(repo)],
      ok: [200, 307],
      what: `GET blob ${repo}@${digest.slice(0, 19)}`,
    });
    let body = r.body;
    if (r.status === 307) {
      // Storage redirects (S3 and the like) go to another host without our credentials.
      const loc = r.headers.location;
      if (!loc) throw new RegistryError(`GET blob ${repo}@${digest}: redirect without a Location`);
      const res = await send(new URL(loc, this.baseUrl), {
        signal: this.opts.signal,
        timeoutMs: this.opts.timeoutMs ?? 60_000,
        maxBytes: this.opts.maxBodyBytes,
        decode: false,
      });
      body = res.body;
      if (res.status !== 200)
        throw new RegistryError(`GET blob ${repo}@${digest}: storage answered HTTP ${res.status}`);
    }
    const got = sha256Digest(body);
    if (got !== digest)
      throw new RegistryError(
        `GET blob ${repo}@${digest}: content digest ${got} does not match`,
        r.status,
        'DIGEST_MISMATCH',
      );
    return body;
  }

  /**
   * Make sure a blob exists in `repo`: skip it when present, mount it from one of `mountFrom` (same
   * registry) when possible, else upload it (one PUT, or PATCH chunks then PUT). A failed upload
   * session is restarted from scratch with backoff.
   */
  async uploadBlob(
    repo: string,
    digest: string,
    size: number,
    source: BlobSource,
    opts: { mountFrom?: string[] } = {},
  ): Promise<BlobUploadResult> {
    // One upload of a blob into a repository at a time in this process: a second caller (another
    // artifact of the same app sharing a layer, a signature sharing a config) waits for the first and
    // then finds the blob there. Two uploads at once make the registry rewrite the blob's link while a
    // manifest PUT may be reading it (see putManifest).
    const key = `${this.baseUrl} ${repo} ${digest}`;
    for (let pending = inFlightUploads.get(key); pending; pending = inFlightUploads.get(key))
      await pending.catch(() => undefined);
    const upload = this.uploadBlobOnce(repo, digest, size, source, opts);
    inFlightUploads.set(key, upload);
    try {
      return await upload;
    } finally {
      if (inFlightUploads.get(key) === upload) inFlightUploads.delete(key);
    }
  }

  private async uploadBlobOnce(
    repo: string,
    digest: string,
    size: number,
    source: BlobSource,
    opts: { mountFrom?: string[] },
  ): Promise<BlobUploadResult> {
    if (await this.hasBlob(repo, digest)) return 'exists';
    const what = `upload blob ${repo}@${digest.slice(0, 19)}`;
    return withRetry(
      what,
      async () => {
        let location: string | undefined;
        for (const from of opts.mountFrom ?? []) {
          if (from === repo) continue;
          const r = await this.once({
            method: 'POST',
            url: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
            headers: { 'content-length': '0' },
            scopes: [pushScope(repo), pullScope(from)],
            ok: [201, 202],
            what: `mount blob into ${repo} from ${from}`,
          });
          if (r.status === 201) return 'mounted';
          location = r.headers.location;
          break;
        }
        if (!location) {
          const r = await this.once({
            method: 'POST',
            url: `/v2/${repo}/blobs/uploads/`,
            headers: { 'content-length': '0' },
            scopes: [pushScope(repo)],
            ok: [202],
            what: `start ${what}`,
          });
          location = r.headers.location;
        }
        if (!location) throw new RegistryError(`${what}: registry gave no upload location`);
        const chunk = this.opts.chunkSize ?? DEFAULT_CHUNK;
        if (size > chunk) {
          for (let start = 0; start < size; start += chunk) {
            const end = Math.min(size, start + chunk) - 1;
            const r = await this.once({
              method: 'PATCH',
              url: location,
              headers: {
                'content-type': 'application/octet-stream',
                'content-length': String(end - start + 1),
                'content-range': `${start}-${end}`,
              },
              body: () => sliceSource(source, start, end),
              scopes: [pushScope(repo)],
              ok: [202],
              what: `${what} (bytes ${start}-${end})`,
            });
            location = r.headers.location ?? location;
          }
          await this.once({
            method: 'PUT',
            url: withQuery(location, 'digest', digest),
            headers: { 'content-length': '0' },
            scopes: [pushScope(repo)],
            ok: [201, 204],
            what: `finish ${what}`,
          });
        } else {
          await this.once({
            method: 'PUT',
            url: withQuery(location, 'digest', digest),
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
            body: () => sliceSource(source, 0, size - 1),
            scopes: [pushScope(repo)],
            ok: [201, 204],
            what,
          });
        }
        return 'uploaded';
      },
      this.policy,
      { signal: this.opts.signal, onRetry: (a, e) => this.opts.onRetry?.(what, a, e) },
    );
  }

  /** All tags of a repository, following `Link: <…>; rel="next"` pages. Empty when it does not exist. */
  async listTags(repo: string, pageSize = 100): Promise<string[]> {
    const tags: string[] = [];
    let url: string | undefined = `/v2/${repo}/tags/list?n=${pageSize}`;
    for (let page = 0; url && page < 10_000; page++) {
      const r = await this.send({
        method: 'GET',
        url,
        headers: { accept: 'application/json' },
        scopes: [pullScope(repo)],
        ok: [200, 404],
        what: `list tags of ${repo}`,
      });
      if (r.status === 404) return tags;
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(r.body.toString('utf8')) as { tags?: unknown };
      } catch {
        throw new RegistryError(`list tags of ${repo}: answer is not JSON`);
      }
      if (Array.isArray(doc.tags)) for (const t of doc.tags) if (typeof t === 'string') tags.push(t);
      url = nextLink(r.headers.link, new URL(url, this.baseUrl).toString());
    }
    return tags;
  }
}

/** Blob uploads under way in this process, by registry URL, repository and digest. */
const inFlightUploads = new Map<string, Promise<BlobUploadResult>>();

export const pullScope = (repo: string) => `repository:${repo}:pull`;
export const pushScope = (repo: string) => `repository:${repo}:pull,push`;
const scopeKey = (scopes: string[]) => [...scopes].sort().join(' ');

function registryErrorDetail(body: Buffer): { text?: string; code?: string } {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
    const e = doc.errors?.[0];
    if (e) return { text: [e.code, e.message].filter(Boolean).join(': ').slice(0, 200), code: e.code };
  } catch {
    /* not a distribution error document */
  }
  return {};
}

function withQuery(location: string, key: string, value: string): string {
  const u = new URL(location, 'http://placeholder');
  u.searchParams.set(key, value);
  return /^https?:\/\//.test(location) ? u.toString() : `${u.pathname}${u.search}`;
}

function sliceSource(source: BlobSource, start: number, end: number): Buffer | Readable {
  if (end < start) return Buffer.alloc(0);
  if ('bytes' in source) return source.bytes.subarray(start, end + 1);
  return createReadStream(source.path, { start, end });
}
