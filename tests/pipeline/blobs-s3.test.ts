// `blobs: {kind: s3}` in wharf.yml is honoured by the writers, not only by the site: `wharf pipeline` (the
// CLI, through openStageContext) against a real s3rver writes the build log, the Trivy report, the SBOM
// and the finding list to S3 — nothing to the local blob directory — and the site model reads them back
// from S3. Real podman, docker-registry and s3rver; only `trivy` is the stand-in.
import { generateKeyPairSync } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../catalog/blobs-s3.ts';
import { buildModel, scanFindings } from '../../site/src/lib/model.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { startPipelineFixture, type PipelineFixture } from './fixture.ts';

const TAG = '1.0.0-oe2403sp4';
let f: PipelineFixture;
let s3: TestS3;
const creds = () => ({ WHARF_TEST_S3_KEY: s3.accessKeyId, WHARF_TEST_S3_SECRET: s3.secretAccessKey });

beforeAll(async () => {
  [f, s3] = await Promise.all([startPipelineFixture(), startS3()]);
  await f.store.commit({ subject: 'test: blobs in S3' }, async (tx) => {
    const cfg = await tx.getConfig();
    tx.putConfig({
      ...cfg,
      scanPolicy: { ...cfg.scanPolicy, block: [] },
      blobs: {
        kind: 's3',
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        prefix: 'wharf/',
        accessKeyIdEnv: 'WHARF_TEST_S3_KEY',
        secretAccessKeyEnv: 'WHARF_TEST_S3_SECRET',
      },
    });
  });
}, 180_000);
afterAll(async () => {
  await Promise.all([f?.stop(), s3?.stop()]);
});

describe('a pipeline run with blobs: {kind: s3}', () => {
  it('writes logs, reports, SBOMs and findings to S3, and the site model reads them back', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const r = await execa(
      'node',
      ['scripts/wharf.mjs', 'pipeline', `hello:${TAG}`, '--json', '--smoke-network', 'host'],
      {
        reject: false,
        env: {
          ...creds(),
          WHARF_CATALOG: f.catalogDir,
          WHARF_WORK_DIR: f.workDir,
          DOCKER_HOST: f.podman.url,
          WHARF_TRIVY: resolve('tests/fixtures/bin/trivy'),
          FAKE_TRIVY_REPORT: 'alpine-310',
          WHARF_SIGNING_KEY: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        },
      },
    );
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(String(r.stdout)).counts.published).toBe(1);

    const a = (await f.store.loadApp('hello'))!.artifacts.find((x) => x.id === TAG)!;
    const { build, scan } = a.records;
    expect(build?.log?.uri).toBe(
      `s3://${s3.bucket}/wharf/sha256/${build!.log!.sha256.slice(0, 2)}/${build!.log!.sha256}.gz`,
    );
    expect(scan?.status).toBe('ok');
    const refs = [build!.log!, scan!.report!, scan!.sbom!, scan!.findingsRef!];

    // Every blob is an object in the bucket; none went to the catalog's local blob directory.
    const store = new S3BlobStore(
      {
        kind: 's3',
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        prefix: 'wharf/',
        region: 'us-east-1',
        forcePathStyle: true,
        accessKeyIdEnv: 'K',
        secretAccessKeyEnv: 'S',
      },
      { K: s3.accessKeyId, S: s3.secretAccessKey },
    );
    const listed = await store.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'wharf/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key);
    for (const ref of refs) expect(keys).toContain(`wharf/sha256/${ref.sha256.slice(0, 2)}/${ref.sha256}.gz`);
    await expect(access(join(f.catalogDir, '.wharf-blobs'))).rejects.toThrow(/ENOENT/);

    // The site model opens the same store from wharf.yml (credentials from its environment).
    Object.assign(process.env, creds());
    try {
      const model = await buildModel(f.catalogDir);
      if ('problem' in model.blobs) throw new Error(model.blobs.problem);
      expect(model.blobs.store).toBeInstanceOf(S3BlobStore);
      const tag = model.byId.get('hello')!.tags.find((t) => t.id === TAG)!;
      const found = await scanFindings(model, tag.scan);
      expect(found.ok).toBe(true);
      const total = Object.values(scan!.summary!.total).reduce((x, y) => x + y, 0);
      expect(found.ok && found.findings.length).toBe(total);
      expect(total).toBeGreaterThan(0);
      const log = await model.blobs.store.get(build!.log!);
      expect(log?.toString()).toMatch(/STEP|Step|COMMIT|-->/);
      const report = JSON.parse((await model.blobs.store.get(scan!.report!))!.toString());
      expect(report.SchemaVersion).toBe(2);
    } finally {
      delete process.env.WHARF_TEST_S3_KEY;
      delete process.env.WHARF_TEST_S3_SECRET;
    }
  }, 240_000);
});
