// Contract test of the Tencent CVM import adapter against a loopback server speaking Tencent Cloud API
// 3.0 (POST / with a JSON body and X-TC-* headers; answers {Response: {…, RequestId}}, failures as
// {Response: {Error: {Code, Message}, RequestId}}). The server recomputes every request's
// TC3-HMAC-SHA256 signature with node:crypto from the published algorithm (canonical request, string
// to sign, the TC3 key chain) and the test's secret, and refuses a wrong one with
// AuthFailure.SignatureFailure; it checks the request shapes (X-TC-Action/Version/Region, ImportImage's
// fields against the OS list it serves) and keeps an image table DescribeImages reports from. Not a
// real cloud. Then the import stage runs through the runner on a real git catalog: the task id is
// committed at start, the next run polls it (never a second ImportImage), no secret in any output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zCloudTarget, type CloudTargetInput } from '../../catalog/config.ts';
import { cloudImportStage } from '../../publisher/cloud/providers/index.ts';
import { tencentProvider } from '../../publisher/cloud/providers/tencent.ts';
import type { ImportInput } from '../../publisher/cloud/providers/types.ts';
import { runStage } from '../../publisher/pipeline/index.ts';
import { CVM_ID, CVM_REGION, CVM_SECRET, startCvmServer } from './cvm-server.ts';
import { fakePublish, openImportCatalog, TAG, type ImportCatalog } from './import-catalog.ts';

// ---------------------------------------------------------------- the loopback CVM API (cvm-server.ts)

const ID = CVM_ID;
const SECRET = CVM_SECRET;
const REGION = CVM_REGION;
const cvm = await startCvmServer();
const { calls, images, endpoint } = cvm;
afterAll(() => cvm.close());

// ---------------------------------------------------------------- the adapter

const creds = { accessKeyId: ID, secretAccessKey: SECRET };

function inputFor(
  imageName: string,
  over: Partial<ImportInput> = {},
  target: Partial<CloudTargetInput> = {},
): ImportInput {
  return {
    target: zCloudTarget.parse({
      name: 'tencent-gz',
      provider: 'tencent',
      region: REGION,
      objectStorage: 'images',
      endpoint,
      ...target,
    }),
    bucket: 'wharf-images-1250000000',
    key: `demo/${imageName}.qcow2`,
    url: `https://wharf-images-1250000000.cos.${REGION}.myqcloud.com/demo/${imageName}.qcow2`,
    format: 'qcow2',
    arch: 'amd64',
    imageName,
    osVersion: '24.03-lts-sp4',
    size: 1024,
    description: `wharf demo:${imageName}`,
    ...over,
  };
}
const calledFor = (action: string, name: string) =>
  calls.filter((c) => c.action === action && JSON.stringify(c.body).includes(name));

describe('Tencent CVM import adapter (loopback API 3.0 server)', () => {
  it('refuses a request signed with a wrong secret; the error says so and holds no secret', async () => {
    const before = calls.length;
    cvm.refused.length = 0;
    const wrong = 'wrong-tencent-secret-value';
    const err = await tencentProvider
      .start(inputFor('demo-wrong'), { accessKeyId: ID, secretAccessKey: wrong })
      .catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /^Tencent CVM DescribeImportImageOs failed: AuthFailure\.SignatureFailure: The provided credentials could not be validated/,
    );
    expect((err as Error).message).toMatch(/RequestId req-\d+/);
    expect(JSON.stringify(err) + String(err) + (err as Error).stack).not.toContain(wrong);
    expect(cvm.refused).toEqual(['AuthFailure.SignatureFailure']);
    expect(calls).toHaveLength(before);
  });

  it('starts ImportImage from the COS URL (openEuler, UEFI), then follows the image id to completed', async () => {
    const input = inputFor('demo-ok-amd64');
    const started = await tencentProvider.start(input, creds);
    const id = images.at(-1)!.ImageId;
    expect(started).toEqual({ state: 'running', taskId: id, progress: 'IMPORTING' });
    const imp = calledFor('ImportImage', 'demo-ok-amd64');
    expect(imp).toHaveLength(1);
    expect(imp[0]!.body).toEqual({
      Architecture: 'x86_64',
      OsType: 'OpenEuler',
      OsVersion: '24.03',
      ImageUrl: input.url,
      ImageName: 'demo-ok-amd64',
      ImageDescription: 'wharf demo:demo-ok-amd64',
      BootMode: 'UEFI',
    });
    expect(imp[0]!.headers).toMatchObject({
      'x-tc-action': 'ImportImage',
      'x-tc-version': '2017-03-12',
      'x-tc-region': REGION,
      'x-tc-language': 'en-US',
    });
    const prev = { target: 'tencent-gz', provider: 'tencent' as const, region: REGION, ...started };
    expect(await tencentProvider.poll(input, prev, creds)).toEqual({
      state: 'running',
      progress: 'IMPORTING',
    });
    expect(await tencentProvider.poll(input, prev, creds)).toEqual({
      state: 'completed',
      imageId: id,
      progress: 'NORMAL',
    });
    const polls = calls.filter((c) => c.action === 'DescribeImages').slice(-2);
    expect(polls.map((c) => c.body)).toEqual([{ ImageIds: [id] }, { ImageIds: [id] }]);
  });

  it('follows an import by its exact image name when ImportImage returns no id (arm64 → arm_64)', async () => {
    cvm.answerImageId = false;
    try {
      const input = inputFor('demo-byname-arm64', { arch: 'arm64' });
      // a decoy whose name holds the same text: image-name filters fuzzily
      await tencentProvider.start(inputFor('demo-byname-arm64-old'), creds);
      const started = await tencentProvider.start(input, creds);
      expect(started).toEqual({ state: 'running', taskId: 'name:demo-byname-arm64', progress: 'IMPORTING' });
      expect(calledFor('ImportImage', 'demo-byname-arm64"')[0]!.body).toMatchObject({
        Architecture: 'arm_64',
        OsType: 'OpenEuler',
      });
      const prev = {
        target: 'tencent-gz',
        provider: 'tencent' as const,
        region: REGION,
        startedAt: new Date().toISOString(),
        ...started,
      };
      expect(await tencentProvider.poll(input, prev, creds)).toMatchObject({ state: 'running' });
      const done = await tencentProvider.poll(input, prev, creds);
      const own = images.find((i) => i.ImageName === 'demo-byname-arm64')!;
      expect(done).toEqual({ state: 'completed', imageId: own.ImageId, progress: 'NORMAL' });
      expect(calls.at(-1)!.body).toEqual({
        Filters: [
          { Name: 'image-name', Values: ['demo-byname-arm64'] },
          { Name: 'image-type', Values: ['PRIVATE_IMAGE'] },
        ],
        Limit: 100,
      });
    } finally {
      cvm.answerImageId = true;
    }
  });

  it('reports a failed import as failed with the state Tencent gives, and a refused ImportImage with its code', async () => {
    const input = inputFor('demo-broken-amd64');
    const started = await tencentProvider.start(input, creds);
    const prev = { target: 'tencent-gz', provider: 'tencent' as const, region: REGION, ...started };
    expect(await tencentProvider.poll(input, prev, creds)).toMatchObject({ state: 'running' });
    const failed = await tencentProvider.poll(input, prev, creds);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(new RegExp(`^image ${started.taskId} IMPORTFAILED`));

    // the cloud refuses the import itself: its code and message, the request id
    await expect(
      tencentProvider.start(
        inputFor('demo-unreadable', { url: 'https://cos.example/unreadable.qcow2' }),
        creds,
      ),
    ).rejects.toThrow(
      /^Tencent CVM ImportImage failed: InvalidParameterValue: The image file at ImageUrl https:\/\/cos\.example\/unreadable\.qcow2 cannot be read\. \(RequestId req-\d+\)$/,
    );
    // an image id Tencent no longer knows ends the task
    expect(await tencentProvider.poll(input, { ...prev, taskId: 'img-deleted1' }, creds)).toMatchObject({
      state: 'failed',
      error: expect.stringContaining('InvalidImageId.NotFound'),
    });
  });

  it('refuses a platform Tencent does not list, and an image name Tencent cannot take, before any ImportImage', async () => {
    const before = calls.filter((c) => c.action === 'ImportImage').length;
    await expect(
      tencentProvider.start(inputFor('demo-gentoo', {}, { platform: 'Gentoo' }), creds),
    ).rejects.toThrow(
      'Tencent CVM does not import Linux platform "Gentoo" (DescribeImportImageOs lists: CentOS, Ubuntu, Debian, OpenEuler, Other Linux)',
    );
    await expect(
      tencentProvider.start(inputFor('demo-centos', {}, { platform: 'centos' }), creds),
    ).rejects.toThrow('Tencent CVM lists no CentOS version matching 24.03-lts-sp4 (it lists: 7, 8)');
    await expect(tencentProvider.start(inputFor('x'.repeat(61)), creds)).rejects.toThrow(
      /at most 60 characters/,
    );
    expect(calls.filter((c) => c.action === 'ImportImage')).toHaveLength(before);
  });
});

describe('Tencent CVM import adapter: abort', () => {
  it('sends nothing when the run is aborted (the signal reaches the SDK request)', async () => {
    const before = cvm.requests();
    const ac = new AbortController();
    ac.abort();
    await expect(tencentProvider.start(inputFor('demo-aborted'), creds, ac.signal)).rejects.toThrow(
      /^Tencent CVM DescribeImportImageOs failed: .*abort/i,
    );
    const prev = {
      target: 'tencent-gz',
      provider: 'tencent' as const,
      region: REGION,
      state: 'running' as const,
      taskId: 'img-00000001',
    };
    await expect(tencentProvider.poll(inputFor('demo-aborted'), prev, creds, ac.signal)).rejects.toThrow(
      /^Tencent CVM DescribeImages failed: .*abort/i,
    );
    expect(cvm.requests()).toBe(before);
  });
});

// ---------------------------------------------------------------- the import stage, through the runner

describe('import stage with a tencent target (real git catalog)', () => {
  let cat: ImportCatalog;
  beforeAll(async () => {
    cat = await openImportCatalog(
      [{ name: 'tencent-gz', provider: 'tencent', region: REGION, objectStorage: 'images', endpoint }],
      { TENCENTCLOUD_SECRET_ID: ID, TENCENTCLOUD_SECRET_KEY: SECRET },
    );
  });
  afterAll(async () => {
    await cat.close();
  });

  it('records a refused signature as a failed import, without the secret', async () => {
    const wrong = 'stage-wrong-tencent-secret';
    const r = await cloudImportStage(
      { ...cat.ctx, env: { TENCENTCLOUD_SECRET_ID: ID, TENCENTCLOUD_SECRET_KEY: wrong } },
      await cat.published(),
    );
    expect(r.verdict).toBe('failed');
    expect(r.write?.record.targets[0]).toMatchObject({
      target: 'tencent-gz',
      provider: 'tencent',
      state: 'failed',
      error: expect.stringContaining('AuthFailure.SignatureFailure'),
    });
    expect(JSON.stringify(r)).not.toContain(wrong);
  });

  it('starts ImportImage once, commits the task id, polls on later runs until the image is NORMAL', async () => {
    const name = `demo-${TAG}-amd64`;
    await runStage(cat.ctx, 'publish', fakePublish, await cat.target());
    const o1 = await runStage(cat.ctx, 'import', cloudImportStage, await cat.target());
    expect(o1).toMatchObject({ verdict: 'done', status: 'running' });
    expect(o1.commit).toMatch(/^[a-f0-9]{40}$/);
    let a = (await cat.target()).artifact!;
    const entry = a.records.import?.targets[0];
    expect(entry).toMatchObject({
      target: 'tencent-gz',
      provider: 'tencent',
      region: REGION,
      state: 'running',
      format: 'qcow2',
      imageName: name,
    });
    expect(entry?.taskId).toMatch(/^img-\d{8}$/);
    expect(a.pending?.reason).toBe('import running');
    expect(calledFor('ImportImage', `"${name}"`).map((c) => c.body.ImageUrl)).toEqual([
      `http://127.0.0.1:1/wharf-images/demo/${TAG}/disk.qcow2`,
    ]);

    // "restart": a new run reads the task id from the record and polls (still importing)
    const o2 = await runStage(
      { ...cat.ctx, runId: '20261202T040000Z-abcdef' },
      'import',
      cloudImportStage,
      await cat.target(),
    );
    expect(o2.status).toBe('running');
    const o3 = await runStage(cat.ctx, 'import', cloudImportStage, await cat.target());
    expect(o3).toMatchObject({ verdict: 'done', status: 'ok' });
    expect(calledFor('ImportImage', `"${name}"`)).toHaveLength(1);
    expect(
      calls
        .filter((c) => c.action === 'DescribeImages')
        .slice(-2)
        .map((c) => c.body),
    ).toEqual([{ ImageIds: [entry!.taskId] }, { ImageIds: [entry!.taskId] }]);
    a = (await cat.target()).artifact!;
    expect(a.records.import?.targets[0]).toMatchObject({
      state: 'completed',
      imageId: entry!.taskId,
      taskId: entry!.taskId,
    });
    expect(a.pending).toBeUndefined();

    // completed: nothing more is sent
    const n = calls.length;
    const o4 = await runStage(cat.ctx, 'import', cloudImportStage, await cat.target());
    expect(o4).toMatchObject({ status: 'unchanged', commit: null });
    expect(calls).toHaveLength(n);

    // the secret is in no record, commit, or log line
    for (const text of [await cat.artifactFile(), await cat.history(), cat.logs.join('\n')])
      expect(text).not.toContain(SECRET);
  });
});
