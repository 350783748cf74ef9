// Contract test of the Alibaba ECS import adapter against a loopback server speaking ECS's RPC API as
// the SDK (signature method V3) sends it: the action and version in x-acs-action/x-acs-version, the
// parameters in the query. The server recomputes each request's ACS3-HMAC-SHA256 signature itself with
// node:crypto from Alibaba's published algorithm (canonical request over method, path, sorted
// RFC 3986-encoded query, the signed x-acs-*/host headers and the body's SHA-256; HMAC-SHA256 with the
// secret) and refuses a wrong one as ECS does (HTTP 400, Code SignatureDoesNotMatch, RequestId, and a
// message that goes on with the server's string to sign), refuses a replayed nonce, and checks the
// request shapes (ImportImage's DiskDeviceMapping, UEFI, Platform; DescribeImages' Status list). Not a
// real cloud. The import stage then runs through the runner on a real git catalog: the task id is
// committed at start, the next run polls it (never a second ImportImage), and no secret appears in any
// output.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zCloudTarget } from '../../catalog/config.ts';
import { alibabaProvider } from '../../publisher/cloud/providers/alibaba.ts';
import { cloudImportStage } from '../../publisher/cloud/providers/index.ts';
import type { ImportInput } from '../../publisher/cloud/providers/types.ts';
import { runStage } from '../../publisher/pipeline/index.ts';
import { ECS_ID, ECS_SECRET, startEcsServer, type EcsScript } from './ecs-server.ts';
import {
  fakeBuild,
  fakePublish,
  openImportCatalog,
  TAG,
  VIRTUAL_SIZE,
  type ImportCatalog,
} from './import-catalog.ts';

const ID = ECS_ID;
const SECRET = ECS_SECRET;
const WRONG = 'wrong-alibaba-secret-value';
const GiB = 1024 ** 3;
const BUCKET = 'wharf-images';

/** Per image name: the states successive DescribeImages calls see (the last one repeats). */
const SCRIPT: EcsScript = {
  'demo-disk-1-amd64': [
    { status: 'Creating', progress: '45%' },
    { status: 'Available', progress: '100%' },
  ],
  'direct-arm64': [
    { status: 'Waiting', progress: '0%' },
    { status: 'Creating', progress: '70%' },
    { status: 'Available', progress: '100%' },
  ],
  'broken-amd64': [{ status: 'CreateFailed', progress: '12%' }],
};
// ---------------------------------------------------------------- the loopback ECS (ecs-server.ts)

const ecs = await startEcsServer(SCRIPT);
const { seen, endpoint } = ecs;
afterAll(() => ecs.close());

const creds = { accessKeyId: ID, secretAccessKey: SECRET };
const input = (imageName: string, over: Partial<ImportInput> = {}): ImportInput => ({
  target: zCloudTarget.parse({
    name: 'ali-hz',
    provider: 'alibaba',
    region: 'cn-hangzhou',
    objectStorage: 'images',
    endpoint,
  }),
  bucket: BUCKET,
  key: `demo/${imageName}/disk.qcow2`,
  url: `http://127.0.0.1:1/${BUCKET}/demo/${imageName}/disk.qcow2`,
  format: 'qcow2',
  arch: 'amd64',
  imageName,
  osVersion: '24.03-lts-sp4',
  size: 1024,
  virtualSize: 2 * GiB,
  description: `wharf test ${imageName}`,
  ...over,
});
const calls = (action: string) => seen.filter((s) => s.action === action);

describe('Alibaba ECS import adapter (loopback ECS contract server, signature V3)', () => {
  it('a request signed with a wrong secret is refused; the error is one short line without the secret', async () => {
    const before = ecs.refused();
    const n = seen.length;
    const err = await alibabaProvider
      .start(input('direct-arm64'), { accessKeyId: ID, secretAccessKey: WRONG })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(ecs.refused()).toBe(before + 1);
    expect(seen).toHaveLength(n);
    expect(err?.message).toMatch(
      /^Alibaba ECS ImportImage: SignatureDoesNotMatch: The request signature does not conform to Aliyun standards\. \(request id [0-9A-F-]{36}\)$/,
    );
    expect(err?.message).not.toContain(WRONG);
    expect(err?.message).not.toMatch(/string to sign|ACS3-HMAC-SHA256|\n/);
  });

  it('a network error is one line without the request URL and its parameters', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const i = input('direct-arm64');
    const err = await alibabaProvider
      .start({ ...i, target: { ...i.target, endpoint: `http://127.0.0.1:${port}` } }, creds)
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err?.message).toMatch(
      /^Alibaba ECS ImportImage: ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:\d+$/,
    );
  });

  it('an aborted run sends no request; an abort while waiting stops the wait', async () => {
    const n = seen.length;
    const r = ecs.refused();
    const ac = new AbortController();
    ac.abort();
    await expect(alibabaProvider.start(input('direct-arm64'), creds, ac.signal)).rejects.toThrow(/abort/i);
    expect(seen).toHaveLength(n);
    expect(ecs.refused()).toBe(r);
    // a server that accepts and never answers: the abort ends the call, not the SDK's read timeout
    const silent = createServer(() => {});
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
    const i = input('direct-arm64');
    const late = new AbortController();
    setTimeout(() => late.abort(), 200);
    const t0 = Date.now();
    await expect(
      alibabaProvider.start(
        {
          ...i,
          target: { ...i.target, endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` },
        },
        creds,
        late.signal,
      ),
    ).rejects.toThrow('Alibaba ECS ImportImage: aborted');
    expect(Date.now() - t0).toBeLessThan(5000);
    silent.closeAllConnections();
    await new Promise((res) => silent.close(res));
  });

  it("refuses a disk outside DiskImageSize's 1-2048 GiB, or one without its virtual size, before any request", async () => {
    const n = seen.length + ecs.refused();
    await expect(
      alibabaProvider.start(input('direct-arm64', { virtualSize: 2049 * GiB }), creds),
    ).rejects.toThrow(
      'Alibaba ECS ImportImage imports system disks of at most 2048 GiB; demo/direct-arm64/disk.qcow2 is a 2049 GiB disk',
    );
    await expect(
      alibabaProvider.start(input('direct-arm64', { virtualSize: undefined }), creds),
    ).rejects.toThrow(
      /Alibaba ECS ImportImage needs the disk's virtual size, which the build record of .* does not hold/,
    );
    expect(seen.length + ecs.refused()).toBe(n);
  });

  it('start sends ImportImage (UEFI, arm64, Others Linux, QCOW2 from OSS, DiskImageSize the virtual size in GiB rounded up) → running with the task id; polls until Available', async () => {
    // a 700 MiB qcow2 holding a 3.5 GiB disk: DiskImageSize 4, where the object's size would give 1
    const i = input('direct-arm64', { arch: 'arm64', size: 700 * 1024 ** 2, virtualSize: 3.5 * GiB });
    const started = await alibabaProvider.start(i, creds);
    expect(started).toEqual({
      state: 'running',
      taskId: 't-bp1imp1task',
      pendingImageId: 'm-bp1imp1test',
      progress: 'Creating',
    });
    const imp = calls('ImportImage')[0]!;
    expect(imp.headers['x-acs-version']).toBe('2014-05-26');
    expect(Object.fromEntries(imp.params)).toMatchObject({
      RegionId: 'cn-hangzhou',
      ImageName: 'direct-arm64',
      Description: 'wharf test direct-arm64',
      Architecture: 'arm64',
      OSType: 'linux',
      Platform: 'Others Linux',
      BootMode: 'UEFI',
      'DiskDeviceMapping.1.OSSBucket': BUCKET,
      'DiskDeviceMapping.1.OSSObject': 'demo/direct-arm64/disk.qcow2',
      'DiskDeviceMapping.1.Format': 'QCOW2',
      'DiskDeviceMapping.1.DiskImageSize': '4',
    });
    expect(imp.params.get('ClientToken')).toMatch(/^[a-f0-9]{64}$/);

    const prev = { target: 'ali-hz', provider: 'alibaba' as const, region: 'cn-hangzhou', ...started };
    expect(await alibabaProvider.poll(i, prev, creds)).toEqual({ state: 'running', progress: 'Waiting 0%' });
    expect(await alibabaProvider.poll(i, prev, creds)).toEqual({
      state: 'running',
      progress: 'Creating 70%',
    });
    expect(await alibabaProvider.poll(i, prev, creds)).toEqual({
      state: 'completed',
      imageId: 'm-bp1imp1test',
      progress: 'Available 100%',
    });
    const d = calls('DescribeImages').at(-1)!.params;
    expect(d.get('ImageId')).toBe('m-bp1imp1test');
    expect(d.get('RegionId')).toBe('cn-hangzhou');
    expect(d.get('Status')?.split(',')).toEqual(
      expect.arrayContaining(['Creating', 'Available', 'CreateFailed']),
    );
    expect(calls('DescribeTaskAttribute')).toHaveLength(0);
  });

  it('a failed import → failed with the task’s reason', async () => {
    const i = input('broken-amd64');
    const started = await alibabaProvider.start(i, creds);
    expect(calls('ImportImage').at(-1)!.params.get('Architecture')).toBe('x86_64');
    const prev = { target: 'ali-hz', provider: 'alibaba' as const, region: 'cn-hangzhou', ...started };
    const p = await alibabaProvider.poll(i, prev, creds);
    expect(p).toEqual({
      state: 'failed',
      error: `image ${started.pendingImageId} CreateFailed (task ${started.taskId} Failed: ImageCheck.Failed: The image file has no valid partition table.)`,
    });
    expect(calls('DescribeTaskAttribute').at(-1)!.params.get('TaskId')).toBe(started.taskId);
  });

  describe('the import stage through the runner on a git catalog', () => {
    let h: ImportCatalog;
    beforeAll(async () => {
      h = await openImportCatalog(
        [
          {
            name: 'ali-hz',
            provider: 'alibaba',
            region: 'cn-hangzhou',
            objectStorage: 'images',
            endpoint,
            platform: 'Customized Linux',
          },
        ],
        { ALIBABA_CLOUD_ACCESS_KEY_ID: ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET },
      );
    });
    afterAll(async () => {
      await h.close();
    });

    it('a wrong secret is recorded as failed with a clean error and no secret', async () => {
      const before = ecs.refused();
      const n = calls('ImportImage').length;
      const r = await cloudImportStage(
        { ...h.ctx, env: { ALIBABA_CLOUD_ACCESS_KEY_ID: ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: WRONG } },
        await h.published(),
      );
      expect(ecs.refused()).toBe(before + 1);
      expect(calls('ImportImage')).toHaveLength(n);
      expect(r.verdict).toBe('failed');
      const t = r.write?.record.targets[0];
      expect(t).toMatchObject({ target: 'ali-hz', provider: 'alibaba', state: 'failed', format: 'qcow2' });
      expect(t?.error).toMatch(/^Alibaba ECS ImportImage: SignatureDoesNotMatch: .* \(request id /);
      expect(JSON.stringify(r)).not.toContain(WRONG);
      expect(JSON.stringify(r)).not.toContain('string to sign');
    });

    it('starts ImportImage once, commits the task id, polls on later runs until the image is Available', async () => {
      const { ctx, target } = h;
      const before = calls('ImportImage').length;
      await runStage(ctx, 'build', fakeBuild, await target());
      await runStage(ctx, 'publish', fakePublish, await target());
      const o1 = await runStage(ctx, 'import', cloudImportStage, await target());
      expect(o1).toMatchObject({ verdict: 'done', status: 'running' });
      expect(o1.commit).toMatch(/^[a-f0-9]{40}$/);
      let a = (await target()).artifact!;
      const entry = a.records.import?.targets[0];
      expect(entry).toMatchObject({
        target: 'ali-hz',
        provider: 'alibaba',
        region: 'cn-hangzhou',
        state: 'running',
        format: 'qcow2',
        taskId: expect.stringMatching(/^t-/),
        pendingImageId: expect.stringMatching(/^m-/),
      });
      expect(entry?.imageId).toBeUndefined();
      expect(a.pending?.reason).toBe('import running');
      const imp = calls('ImportImage').at(-1)!.params;
      expect(imp.get('Platform')).toBe('Customized Linux');
      expect(imp.get('DiskDeviceMapping.1.OSSObject')).toBe(`demo/${TAG}/disk.qcow2`);
      // the build record's virtual size (4.5 GiB, rounded up), not the 1 KiB object
      expect(imp.get('DiskDeviceMapping.1.DiskImageSize')).toBe(String(Math.ceil(VIRTUAL_SIZE / GiB)));
      expect(imp.get('DiskDeviceMapping.1.DiskImageSize')).toBe('5');

      // "restart": a new run reads the task from the record and polls (still creating)
      const o2 = await runStage(
        { ...ctx, runId: '20261202T040000Z-abcdef' },
        'import',
        cloudImportStage,
        await target(),
      );
      expect(o2.status).toBe('running');
      expect((await target()).artifact!.records.import?.targets[0]?.progress).toBe('Creating 45%');
      const o3 = await runStage(ctx, 'import', cloudImportStage, await target());
      expect(o3).toMatchObject({ verdict: 'done', status: 'ok' });
      expect(calls('ImportImage')).toHaveLength(before + 1);
      a = (await target()).artifact!;
      expect(a.records.import?.targets[0]).toMatchObject({
        state: 'completed',
        imageId: entry!.pendingImageId,
        taskId: entry!.taskId,
      });
      expect(a.pending).toBeUndefined();

      // completed: nothing more is sent
      const n = seen.length;
      const o4 = await runStage(ctx, 'import', cloudImportStage, await target());
      expect(o4).toMatchObject({ status: 'unchanged', commit: null });
      expect(seen).toHaveLength(n);

      // the secret is in no record, commit, or log line
      for (const text of [await h.artifactFile(), await h.history(), h.logs.join('\n')])
        expect(text).not.toContain(SECRET);
    });
  });
});
