import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError } from '../../publisher/registry/auth.ts';
import { RegistryClient, RegistryError, sha256Digest } from '../../publisher/registry/client.ts';
import { MANIFEST_ACCEPT, OCI_MANIFEST } from '../../publisher/registry/media.ts';
import { pushLayout } from '../../publisher/registry/push.ts';
import { parseImageRef } from '../../publisher/registry/ref.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeTinyImage, startFaultProxy, type TinyImage } from './fixtures.ts';

const fast = { retries: 3, baseDelayMs: 5, maxDelayMs: 20 };
/** A client for `host` over plain HTTP with fast retries (plus any other options). */
const clientFor = (host: string, over: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}) =>
  new RegistryClient({ registry: host, insecure: true, retry: fast, ...over });
let reg: TestRegistry;
let work: string;
let img: TinyImage;

beforeAll(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'wharf-regtest-'));
  img = await makeTinyImage(join(work, 'img'), 'alpha');
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

/** A client on `host` with fast retries that records what it retried. */
function countingRetries(host: string): { client: RegistryClient; retries: string[] } {
  const retries: string[] = [];
  const client = new RegistryClient({
    registry: host,
    insecure: true,
    retry: fast,
    onRetry: (what) => retries.push(what),
  });
  return { client, retries };
}

describe('image references', () => {
  it('parses hosts, Docker Hub names, tags and digests', () => {
    expect(parseImageRef('127.0.0.1:5000/openeuler/redis:8.6-oe2403sp4')).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'openeuler/redis',
      tag: '8.6-oe2403sp4',
    });
    expect(parseImageRef('redis')).toEqual({ registry: 'docker.io', repository: 'library/redis' });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseImageRef(`quay.io/openeuler/nginx@${d}`).digest).toBe(d);
    expect(() => parseImageRef('Bad/Name')).toThrow(/invalid repository/);
    expect(() => parseImageRef('x/y@sha256:zz')).toThrow(/invalid digest/);
  });
});

describe('RegistryClient against a real docker-registry', () => {
  it('pushes an OCI layout with identical manifest bytes and reads it back over HTTP', async () => {
    const c = clientFor(reg.host);
    const r = await pushLayout(c, 'test/alpha', img.dir, { tags: ['1.0', 'latest'] });
    expect(r.digest).toBe(img.digest);
    expect(r.blobs.uploaded).toBe(2);

    // Plain HTTP, with Accept: the registry serves exactly our bytes under both tags.
    for (const tag of ['1.0', 'latest', img.digest]) {
      const res = await fetch(`${reg.url}/v2/test/alpha/manifests/${tag}`, {
        headers: { accept: MANIFEST_ACCEPT },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(img.digest);
      expect(Buffer.from(await res.arrayBuffer()).equals(img.manifest)).toBe(true);
    }
    const head = await c.headManifest('test/alpha', '1.0');
    expect(head).toEqual({ digest: img.digest, mediaType: OCI_MANIFEST, size: img.manifest.length });
    expect(await c.headManifest('test/alpha', 'nope')).toBeNull();
    expect((await c.getBlob('test/alpha', sha256Digest(img.layer))).equals(img.layer)).toBe(true);

    // Pushing again uploads nothing.
    const again = await pushLayout(c, 'test/alpha', img.dir, { tags: ['1.0'] });
    expect(again.blobs).toEqual({ exists: 2, mounted: 0, uploaded: 0 });
  });

  it('mounts blobs across repositories and uploads large blobs in chunks', async () => {
    const c = clientFor(reg.host, { chunkSize: 1000 });
    await pushLayout(c, 'test/src', img.dir, { tags: ['1'] });
    const m = await pushLayout(c, 'test/dst', img.dir, { tags: ['1'], mountFrom: ['test/src'] });
    expect(m.blobs.mounted).toBe(2);

    const big = await makeTinyImage(join(work, 'big'), 'big', 6000);
    expect(big.layer.length).toBeGreaterThan(1000);
    const r = await pushLayout(c, 'test/big', big.dir, { tags: ['1'] });
    expect(r.blobs.uploaded).toBe(2);
    expect((await c.getBlob('test/big', sha256Digest(big.layer))).equals(big.layer)).toBe(true);
  });

  it('lists tags across pages', async () => {
    const c = clientFor(reg.host);
    const tags = ['a1', 'a2', 'a3', 'a4', 'a5'];
    await pushLayout(c, 'test/paged', img.dir, { tags });
    expect((await c.listTags('test/paged', 2)).sort()).toEqual(tags);
    expect(await c.listTags('test/does-not-exist')).toEqual([]);
  });

  it('retries 500s and connection resets with backoff, then gives up with a clear error', async () => {
    const proxy = await startFaultProxy(reg.host);
    try {
      let blobPuts = 0;
      proxy.setFault((req) => {
        if (req.method === 'PUT' && req.url?.includes('/blobs/uploads/')) {
          blobPuts++;
          return blobPuts === 1 ? 'fail500' : blobPuts === 2 ? 'reset' : 'pass';
        }
        return 'pass';
      });
      const { client: c, retries } = countingRetries(proxy.host);
      const r = await pushLayout(c, 'test/flaky', img.dir, { tags: ['1'], concurrency: 1 });
      expect(r.digest).toBe(img.digest);
      expect(retries.length).toBe(2);

      proxy.setFault((req) => (req.method === 'PUT' ? 'fail500' : 'pass'));
      const other = await makeTinyImage(join(work, 'other'), 'other');
      const err = await pushLayout(c, 'test/down', other.dir, { tags: ['1'] }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/HTTP 500.*after 4 attempts/);
      // Nothing was tagged on the real registry.
      const probe = new RegistryClient({ registry: reg.host, insecure: true });
      expect(await probe.headManifest('test/down', '1')).toBeNull();
    } finally {
      await proxy.stop();
    }
  });

  it('retries a manifest PUT that races another push (DIGEST_INVALID), but not a really missing blob', async () => {
    const proxy = await startFaultProxy(reg.host);
    try {
      let tagPuts = 0;
      proxy.setFault((req) =>
        req.method === 'PUT' && req.url === '/v2/test/race/manifests/1' && ++tagPuts === 1
          ? 'digestInvalid'
          : 'pass',
      );
      const { client: c, retries } = countingRetries(proxy.host);
      const r = await pushLayout(c, 'test/race', img.dir, { tags: ['1'] });
      expect(r.digest).toBe(img.digest);
      expect(tagPuts).toBe(2);
      expect(retries).toEqual(['PUT manifest test/race:1']);

      // A manifest naming a blob the repository lacks is refused by the real registry every time.
      const orphan = Buffer.from(img.manifest.toString('utf8').replace(/"size":\s*\d+/, '"size": 1'));
      const err = await c.putManifest('test/orphan', 'x', orphan, OCI_MANIFEST).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/BLOB_UNKNOWN.*after 4 attempts/);
    } finally {
      await proxy.stop();
    }
  });

  it('uploads a blob once when two pushes of it into one repository overlap', async () => {
    const proxy = await startFaultProxy(reg.host);
    try {
      const shared = await makeTinyImage(join(work, 'shared'), 'shared');
      const a = clientFor(proxy.host);
      const b = clientFor(proxy.host);
      const [ra, rb] = await Promise.all([
        pushLayout(a, 'test/shared', shared.dir, { tags: ['a'] }),
        pushLayout(b, 'test/shared', shared.dir, { tags: ['b'] }),
      ]);
      expect([ra.digest, rb.digest]).toEqual([shared.digest, shared.digest]);
      const starts = proxy.log.filter((l) => l.startsWith('POST /v2/test/shared/blobs/uploads/'));
      expect(starts).toHaveLength(2); // config + layer, each once
      expect(ra.blobs.uploaded + rb.blobs.uploaded).toBe(2);
      expect(ra.blobs.exists + rb.blobs.exists).toBe(2);
    } finally {
      await proxy.stop();
    }
  });

  it('detects a manifest whose bytes do not match the digest', async () => {
    const proxy = await startFaultProxy(reg.host, {
      fault: (req) => (req.method === 'GET' ? 'corrupt' : 'pass'),
    });
    try {
      const c = clientFor(proxy.host);
      await pushLayout(c, 'test/corrupt', img.dir, { tags: ['1'] });
      const err = await c.getManifest('test/corrupt', img.digest).catch((e: Error) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as RegistryError).code).toBe('DIGEST_MISMATCH');
      await expect(c.getManifest('test/corrupt', '1')).rejects.toThrow(/does not match/);
    } finally {
      await proxy.stop();
    }
  });

  it('does the Bearer token handshake with Basic credentials and never echoes them', async () => {
    const creds = { username: 'robot', password: 's3cr3t-Pa55' };
    const proxy = await startFaultProxy(reg.host, { auth: creds });
    try {
      const c = clientFor(proxy.host, { credentials: creds });
      const r = await pushLayout(c, 'test/authed', img.dir, { tags: ['1'] });
      expect(r.digest).toBe(img.digest);
      expect((await c.headManifest('test/authed', '1'))?.digest).toBe(img.digest);
      expect(proxy.log.some((l) => l.startsWith('GET /token?'))).toBe(true);

      const wrong = clientFor(proxy.host, { credentials: { username: 'robot', password: 'wrong-password' } });
      const e1 = await wrong.headManifest('test/authed', '1').catch((e: Error) => e);
      expect(e1).toBeInstanceOf(AuthError);
      expect((e1 as Error).message).toMatch(/refused the credentials/);
      expect((e1 as Error).message).not.toContain('wrong-password');

      const anon = clientFor(proxy.host);
      await expect(anon.headManifest('test/authed', '1')).rejects.toThrow(/anonymous/);
    } finally {
      await proxy.stop();
    }
  });

  it('sends Basic credentials to registries that ask for them', async () => {
    const creds = { username: 'plain', password: 'basic-Pa55' };
    const proxy = await startFaultProxy(reg.host, { basic: creds });
    try {
      const c = clientFor(proxy.host, { credentials: creds });
      expect((await pushLayout(c, 'test/basic', img.dir, { tags: ['1'] })).digest).toBe(img.digest);
      const anon = clientFor(proxy.host);
      const err = await anon.headManifest('test/basic', '1').catch((e: Error) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect((err as Error).message).toMatch(/no credentials configured/);
    } finally {
      await proxy.stop();
    }
  });
});
