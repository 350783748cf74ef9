// The S3 blob store against a real s3rver: content-addressed gzip'd keys, upload-once, round trip,
// size cap, and openBlobStore choosing fs or s3 from wharf.yml's `blobs:` section.
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../catalog/blobs.ts';
import { S3BlobStore, openBlobStore } from '../../catalog/blobs-s3.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { tempDir } from './seed.ts';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.stop();
});

const env = () => ({
  WHARF_S3_ACCESS_KEY_ID: s3.accessKeyId,
  WHARF_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
});
const cfg = () => ({ blobs: { kind: 's3', endpoint: s3.endpoint, bucket: s3.bucket, prefix: 'cat1' } });

describe('S3 blob store', () => {
  it('stores gzip under sha256/ab/<hex>.gz once, and reads it back', async () => {
    const store = openBlobStore('/nonexistent', cfg(), env());
    expect(store).toBeInstanceOf(S3BlobStore);
    const report = JSON.stringify({
      Results: [{ Vulnerabilities: Array(200).fill({ id: 'CVE-2024-0001' }) }],
    });
    const sha = createHash('sha256').update(report).digest('hex');
    const ref = await store.put(report, 'application/vnd.trivy+json');
    expect(ref).toEqual({
      sha256: sha,
      size: Buffer.byteLength(report),
      mediaType: 'application/vnd.trivy+json',
      uri: `s3://${s3.bucket}/cat1/sha256/${sha.slice(0, 2)}/${sha}.gz`,
    });
    expect((await store.get(ref))!.toString()).toBe(report);
    // the same bytes again: same ref, still one object
    expect(await store.put(Buffer.from(report), 'application/vnd.trivy+json')).toEqual(ref);
    const s = store as S3BlobStore;
    const list = await s.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'cat1/' }));
    expect(list.Contents?.map((o) => o.Key)).toEqual([`cat1/sha256/${sha.slice(0, 2)}/${sha}.gz`]);
    expect(list.Contents![0]!.Size!).toBeLessThan(Buffer.byteLength(report) / 10); // compressed
    expect(await store.get({ sha256: 'f'.repeat(64) })).toBeNull();
    await expect(store.get({ sha256: '../../etc/passwd' })).rejects.toThrow(/invalid blob/);
  });

  it('keeps the end of an oversized log and marks it truncated', async () => {
    const store = openBlobStore('/nonexistent', cfg(), env());
    const log = 'x'.repeat(5000) + 'THE END';
    const ref = await store.put(log, 'text/plain', { maxBytes: 100 });
    expect(ref.truncated).toBe(true);
    expect(ref.size).toBe(100);
    expect((await store.get(ref))!.toString().endsWith('THE END')).toBe(true);
  });

  it('fails on wrong credentials rather than pretending', async () => {
    const store = openBlobStore('/nonexistent', cfg(), {
      WHARF_S3_ACCESS_KEY_ID: 'wrong',
      WHARF_S3_SECRET_ACCESS_KEY: 'wrong',
    });
    await expect(store.put('x', 'text/plain')).rejects.toThrow();
  });

  it('openBlobStore: local default, fs path, and located config errors', async () => {
    const dir = await tempDir();
    expect(openBlobStore(dir, {})).toBeInstanceOf(FsBlobStore);
    const fs = openBlobStore(dir, { blobs: { kind: 'fs', path: 'blobs' } }) as FsBlobStore;
    expect(fs.root).toBe(`${dir}/blobs`);
    const ref = await fs.put('hello', 'text/plain');
    expect(
      gunzipSync((await import('node:fs')).readFileSync(ref.uri!.slice('file://'.length))).toString(),
    ).toBe('hello');
    expect(() => openBlobStore(dir, { blobs: { kind: 's3', bucket: 'Bad_Bucket' } })).toThrow(
      /blobs\.bucket/,
    );
    expect(() =>
      openBlobStore(dir, { blobs: { kind: 's3', bucket: 'ok-bucket', accessKeyIdEnv: 'not a name' } }),
    ).toThrow(/blobs\.accessKeyIdEnv/);
  });
});
