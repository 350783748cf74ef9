// Publishing a file to every object-storage target (publisher/objects/publish.ts) on a real S3 API
// (s3rver): per-target records with URL, size and SHA-256, the checksum file and the bundle next to
// it, read back by URL; a target that fails is a failure record and the others still get the file;
// `kinds:` filters targets. And the wharf.yml `objectStorage:` schema: providers' endpoints, addressing
// style, and the errors it reports.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zObjectStorageConfig } from '../../catalog/config.ts';
import { zCatalogConfig } from '../../catalog/schema.ts';
import { bundleMediaType, checksumLine, publishFile, targetsFor } from '../../publisher/objects/publish.ts';
import { zObjectTarget } from '../../publisher/objects/s3.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { tempDir } from '../rootfs/fixtures.ts';

let a: TestS3;
let b: TestS3;
beforeAll(async () => {
  [a, b] = await Promise.all([startS3({ bucket: 'mirror-a' }), startS3({ bucket: 'mirror-b' })]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

const env = () => ({ WHARF_S3_ACCESS_KEY_ID: 'S3RVER', WHARF_S3_SECRET_ACCESS_KEY: 'S3RVER' });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const fetchBytes = async (url: string) => {
  const r = await fetch(url);
  expect(r.status).toBe(200);
  return Buffer.from(await r.arrayBuffer());
};

describe('bundleMediaType', () => {
  it('is the media type the bundle declares, else plain JSON', () => {
    expect(bundleMediaType('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}')).toBe(
      'application/vnd.dev.sigstore.bundle.v0.3+json',
    );
    expect(bundleMediaType('{"mediaType":"text/html"}')).toBe('application/json');
    expect(bundleMediaType('{"mediaType":"application/vnd.dev.sigstore.bundle\\r\\nX: y"}')).toBe(
      'application/json',
    );
    expect(bundleMediaType('not json')).toBe('application/json');
  });
});

describe('publishFile', () => {
  it('uploads the file, its checksum and bundle to every target and records each', async () => {
    const dir = await tempDir();
    const file = join(dir, 'x-amd64.wsl');
    const bytes = randomBytes(300_000);
    await writeFile(file, bytes);
    const bundle = join(dir, 'x-amd64.wsl.sigstore.json');
    // @sigstore/sign 5's message-signature bundles say v0.2: the upload is labelled as the bundle says.
    await writeFile(bundle, '{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.2"}');
    const targets = zObjectStorageConfig.parse([
      { name: 'a', bucket: a.bucket, endpoint: a.endpoint, prefix: 'wsl' },
      { name: 'b', bucket: b.bucket, endpoint: b.endpoint, kinds: ['wsl'] },
      { name: 'cloud-only', bucket: b.bucket, endpoint: b.endpoint, kinds: ['cloud'] },
    ]);
    const wslTargets = targetsFor(targets, 'wsl');
    expect(wslTargets.map((t) => t.name)).toEqual(['a', 'b']);
    expect(targetsFor(targets, 'cloud').map((t) => t.name)).toEqual(['a', 'cloud-only']);

    const r = await publishFile(
      wslTargets,
      { file, name: 'myos/1.0-wsl/x-amd64.wsl', sha256: sha(bytes), bundle },
      { env: env() },
    );
    expect(r.failed).toEqual([]);
    expect(r.objects).toEqual([
      {
        target: 'a',
        bucket: 'mirror-a',
        key: 'wsl/myos/1.0-wsl/x-amd64.wsl',
        url: `${a.endpoint}/mirror-a/wsl/myos/1.0-wsl/x-amd64.wsl`,
        size: bytes.length,
        sha256: sha(bytes),
        status: 'uploaded',
        checksumUrl: `${a.endpoint}/mirror-a/wsl/myos/1.0-wsl/x-amd64.wsl.sha256`,
        signatureUrl: `${a.endpoint}/mirror-a/wsl/myos/1.0-wsl/x-amd64.wsl.sigstore.json`,
      },
      {
        target: 'b',
        bucket: 'mirror-b',
        key: 'myos/1.0-wsl/x-amd64.wsl',
        url: `${b.endpoint}/mirror-b/myos/1.0-wsl/x-amd64.wsl`,
        size: bytes.length,
        sha256: sha(bytes),
        status: 'uploaded',
        checksumUrl: `${b.endpoint}/mirror-b/myos/1.0-wsl/x-amd64.wsl.sha256`,
        signatureUrl: `${b.endpoint}/mirror-b/myos/1.0-wsl/x-amd64.wsl.sigstore.json`,
      },
    ]);
    for (const o of r.objects) {
      expect(sha(await fetchBytes(o.url))).toBe(sha(bytes));
      expect((await fetchBytes(o.checksumUrl)).toString()).toBe(`${sha(bytes)}  x-amd64.wsl\n`);
      expect((await fetchBytes(o.signatureUrl!)).equals(await readFile(bundle))).toBe(true);
      const head = await fetch(o.signatureUrl!, { method: 'HEAD' });
      expect(head.headers.get('content-type')).toBe('application/vnd.dev.sigstore.bundle+json;version=0.2');
    }
    expect(checksumLine(sha(bytes), 'a/b/x-amd64.wsl')).toBe(`${sha(bytes)}  x-amd64.wsl\n`);

    // Again: nothing is sent, every object is unchanged (and read back).
    const again = await publishFile(wslTargets, { file, name: 'myos/1.0-wsl/x-amd64.wsl' }, { env: env() });
    expect(again.objects.map((o) => o.status)).toEqual(['unchanged', 'unchanged']);
  });

  it('records a failing target and still publishes to the others; refuses a changed file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'y.wsl');
    await writeFile(file, 'y');
    const targets = zObjectStorageConfig.parse([
      { name: 'missing-bucket', bucket: 'no-such-bucket', endpoint: a.endpoint },
      { name: 'b', bucket: b.bucket, endpoint: b.endpoint },
    ]);
    const r = await publishFile(targets, { file, name: 'y.wsl' }, { env: env() });
    expect(r.objects.map((o) => o.target)).toEqual(['b']);
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0]!.target).toBe('missing-bucket');
    expect(r.failed[0]!.error).toMatch(/bucket/i);
    expect(r.failed[0]!.error).not.toContain('S3RVER');
    await expect(
      publishFile(targets, { file, name: 'y.wsl', sha256: '0'.repeat(64) }, { env: env() }),
    ).rejects.toThrow(/changed since it was built/);
  });
});

describe('wharf.yml objectStorage', () => {
  it('fills endpoints and addressing style per provider', () => {
    const t = (o: object) => zObjectTarget.parse({ name: 'n', bucket: 'b-1', ...o });
    expect(t({ provider: 'obs', region: 'cn-north-4' })).toMatchObject({
      endpoint: 'https://obs.cn-north-4.myhuaweicloud.com',
      forcePathStyle: false,
    });
    expect(t({ provider: 'cos', region: 'ap-guangzhou' })).toMatchObject({
      endpoint: 'https://cos.ap-guangzhou.myqcloud.com',
      forcePathStyle: false,
    });
    expect(t({ provider: 'oss', region: 'cn-hangzhou' })).toMatchObject({
      endpoint: 'https://s3.oss-cn-hangzhou.aliyuncs.com',
      forcePathStyle: false,
    });
    expect(t({ region: 'eu-west-1' })).toMatchObject({ provider: 'aws', forcePathStyle: false });
    expect(t({ region: 'eu-west-1' }).endpoint).toBeUndefined();
    expect(t({ provider: 'minio', endpoint: 'http://127.0.0.1:9000' })).toMatchObject({
      forcePathStyle: true,
    });
    expect(t({ endpoint: 'http://127.0.0.1:9000' })).toMatchObject({ provider: 's3', forcePathStyle: true });
  });

  it('reports bad targets by field', () => {
    const issues = (objectStorage: unknown) => {
      const r = zCatalogConfig.safeParse({ objectStorage });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues([{ name: 'm', bucket: 'b-1', provider: 'minio' }])).toEqual([
      'objectStorage.0.endpoint: provider minio needs an endpoint',
    ]);
    expect(issues([{ name: 'h', bucket: 'b-1', provider: 'obs' }])).toEqual([
      'objectStorage.0.region: provider obs needs its region (e.g. cn-north-4) or an endpoint',
    ]);
    expect(
      issues([
        { name: 'x', bucket: 'b-1', region: 'eu-west-1' },
        { name: 'x', bucket: 'b-2', region: 'eu-west-1' },
      ]),
    ).toEqual(['objectStorage.1.name: duplicate target x']);
    expect(issues([{ name: 'x', bucket: 'b-1', accessKeyId: 'AKIA…' }])[0]).toMatch(/accessKeyId/);
    expect(issues([{ name: 'x', bucket: 'b-1', kinds: ['container'] }])[0]).toMatch(
      /^objectStorage\.0\.kinds/,
    );
  });
});
