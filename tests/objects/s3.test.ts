// Object storage on a real S3 API (s3rver): multipart through lib-storage, an interrupted upload
// resumed from its journal with only the missing parts sent, unchanged objects not sent again, the
// read-back check, URLs; and blob signatures that fail on other bytes or another key.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStore, objectUrl, zObjectTarget } from '../../publisher/objects/s3.ts';
import { signBlob, verifyBlob } from '../../publisher/sign/blob.ts';
import { parsePrivateKey } from '../../publisher/sign/keys.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { tempDir } from '../rootfs/fixtures.ts';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3({ bucket: 'objects' });
});
afterAll(async () => {
  await s3?.stop();
});

const MiB = 1024 * 1024;
const storeFor = (prefix = 'up') =>
  new ObjectStore(
    { name: 'local', bucket: s3.bucket, endpoint: s3.endpoint, prefix, partSizeMiB: 5, queueSize: 1 },
    { WHARF_S3_ACCESS_KEY_ID: s3.accessKeyId, WHARF_S3_SECRET_ACCESS_KEY: s3.secretAccessKey },
  );

describe('ObjectStore', () => {
  it('uploads in parts, resumes an interrupted upload with only the missing parts, then skips it', async () => {
    const dir = await tempDir();
    const file = join(dir, 'big.wsl');
    const bytes = randomBytes(12 * MiB + 123); // three 5 MiB parts
    await writeFile(file, bytes);
    const sha = createHash('sha256').update(bytes).digest('hex');

    // First attempt: interrupted after the first part.
    const first = storeFor();
    const controller = new AbortController();
    const parts1: number[] = [];
    first.onPart = (n) => {
      parts1.push(n);
      controller.abort();
    };
    await expect(first.uploadFile(file, 'images/big.wsl', { signal: controller.signal })).rejects.toThrow();
    expect(parts1).toEqual([1]);
    const journals = (await readdir(dir)).filter((f) => f.includes('.upload-'));
    expect(journals).toHaveLength(1);

    // Second attempt (a new process would do the same): sends parts 2 and 3 only.
    const second = storeFor();
    const parts2: number[] = [];
    second.onPart = (n) => parts2.push(n);
    const r = await second.uploadFile(file, 'images/big.wsl');
    expect(r).toMatchObject({
      status: 'resumed',
      partsSent: 2,
      sha256: sha,
      size: bytes.length,
      key: 'up/images/big.wsl',
    });
    expect(parts2).toEqual([2, 3]);
    expect((await readdir(dir)).filter((f) => f.includes('.upload-'))).toEqual([]);
    const got = Buffer.from(await (await fetch(r.url)).arrayBuffer());
    expect(got.equals(bytes)).toBe(true);

    // Third: already there with the same sha256 → nothing sent.
    const third = storeFor();
    const r3 = await third.uploadFile(file, 'images/big.wsl');
    expect(r3).toMatchObject({ status: 'unchanged', partsSent: 0 });

    // A fresh multipart upload of other bytes to the same key replaces it.
    const other = randomBytes(11 * MiB);
    await writeFile(file, other);
    const r4 = await storeFor().uploadFile(file, 'images/big.wsl');
    expect(r4).toMatchObject({ status: 'uploaded', partsSent: 3 });
    expect(r4.sha256).toBe(createHash('sha256').update(other).digest('hex'));
    expect((await storeFor().readBack('up/images/big.wsl')).sha256).toBe(r4.sha256);
  });

  it('refuses a file whose sha256 is not the recorded one, bad keys and half-set credentials', async () => {
    const dir = await tempDir();
    const file = join(dir, 'x.wsl');
    await writeFile(file, 'abc');
    await expect(storeFor().uploadFile(file, 'x.wsl', { sha256: '0'.repeat(64) })).rejects.toThrow(/changed/);
    await expect(storeFor().uploadFile(file, '../x.wsl')).rejects.toThrow(/invalid object key/);
    expect(
      () =>
        new ObjectStore(
          { name: 'x', bucket: 'bucket', endpoint: s3.endpoint },
          { WHARF_S3_ACCESS_KEY_ID: 'only-one' },
        ),
    ).toThrow(/set both/);
  });

  it('builds URLs for path-style, virtual-host, AWS and public bases', () => {
    const t = (o: object) => zObjectTarget.parse({ name: 'n', bucket: 'b-1', ...o });
    expect(objectUrl(t({ endpoint: 'http://127.0.0.1:9000' }), 'a/b c.wsl')).toBe(
      'http://127.0.0.1:9000/b-1/a/b%20c.wsl',
    );
    expect(
      objectUrl(t({ endpoint: 'https://obs.cn-north-4.myhuaweicloud.com', forcePathStyle: false }), 'k'),
    ).toBe('https://b-1.obs.cn-north-4.myhuaweicloud.com/k');
    expect(objectUrl(t({ forcePathStyle: false, region: 'eu-west-1' }), 'k')).toBe(
      'https://b-1.s3.eu-west-1.amazonaws.com/k',
    );
    expect(objectUrl(t({ publicUrl: 'https://cdn.example.org/wsl/' }), 'k')).toBe(
      'https://cdn.example.org/wsl/k',
    );
  });
});

describe('blob signatures (Sigstore bundles)', () => {
  const keyOf = () =>
    parsePrivateKey(
      generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
      'test',
    );

  it('verifies the signed bytes with the signing key, and nothing else', async () => {
    const key = keyOf();
    const data = Buffer.from('a .wsl file');
    const bundle = await signBlob(data, key);
    expect((bundle as { mediaType: string }).mediaType).toMatch(/^application\/vnd\.dev\.sigstore\.bundle/);
    expect(verifyBlob(data, bundle, key.publicKey)).toBe(key.keyId);
    expect(() => verifyBlob(Buffer.from('another file'), bundle, key.publicKey)).toThrow(/does not verify/);
    expect(() => verifyBlob(data, bundle, keyOf().publicKey)).toThrow(/signed by key/);
    expect(() => verifyBlob(data, { nope: true }, key.publicKey)).toThrow(
      /not a Sigstore bundle|does not verify/,
    );
  });
});
