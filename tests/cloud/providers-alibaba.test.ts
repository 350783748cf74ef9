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
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zCloudTarget } from '../../catalog/config.ts';
import { alibabaProvider } from '../../publisher/cloud/providers/alibaba.ts';
import { cloudImportStage } from '../../publisher/cloud/providers/index.ts';
import type { ImportInput } from '../../publisher/cloud/providers/types.ts';
import { runStage } from '../../publisher/pipeline/index.ts';
import { fakePublish, openImportCatalog, TAG, type ImportCatalog } from './import-catalog.ts';

const ID = 'LTAI5tTestAccessKeyId';
const SECRET = 'alibaba-test-secret-9f3KxQ2vLm';
const WRONG = 'wrong-alibaba-secret-value';
const GiB = 1024 ** 3;
const BUCKET = 'wharf-images';

interface Seen {
  action: string;
  params: URLSearchParams;
  headers: IncomingMessage['headers'];
}
const seen: Seen[] = [];
const nonces = new Set<string>();
let refused = 0;
let server: Server;
let endpoint: string;

/** Per image name: the states successive DescribeImages calls see (the last one repeats). */
const SCRIPT: Record<string, { status: string; progress: string }[]> = {
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
interface Image {
  id: string;
  taskId: string;
  name: string;
  polls: number;
}
const images = new Map<string, Image>();

// RFC 3986 percent-encoding as the V3 canonical query string wants it (space as %20, ~ kept).
const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** Why the request's V3 signature is not the one the secret makes, or undefined when it is. */
function signatureProblem(req: IncomingMessage, body: Buffer): { code: string; message: string } | undefined {
  const m = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([a-f0-9]{64})$/.exec(
    req.headers.authorization ?? '',
  );
  if (!m) return { code: 'IncompleteSignature', message: 'The request signature is incomplete.' };
  if (m[1] !== ID)
    return { code: 'InvalidAccessKeyId.NotFound', message: 'Specified access key is not found.' };
  const signed = m[2]!.split(';');
  // Alibaba: every x-acs-* header and host must be signed, names lowercase and sorted.
  const mustSign = Object.keys(req.headers).filter((h) => h === 'host' || h.startsWith('x-acs-'));
  if (mustSign.some((h) => !signed.includes(h)) || signed.join(';') !== [...signed].sort().join(';'))
    return { code: 'IncompleteSignature', message: 'Some x-acs-* headers are not signed.' };
  if (req.headers['x-acs-content-sha256'] !== sha256hex(body))
    return { code: 'InvalidParameter', message: 'x-acs-content-sha256 is not the body hash.' };
  const date = Date.parse(String(req.headers['x-acs-date']));
  if (!(Math.abs(Date.now() - date) < 15 * 60_000))
    return { code: 'InvalidTimeStamp.Expired', message: 'The x-acs-date is outside 15 minutes.' };
  const url = new URL(req.url!, 'http://x');
  const query = [...url.searchParams]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headers = signed.map((h) => `${h}:${String(req.headers[h] ?? '').trim()}\n`).join('');
  const canonical = [
    req.method,
    url.pathname,
    query,
    headers,
    signed.join(';'),
    req.headers['x-acs-content-sha256'],
  ].join('\n');
  const toSign = `ACS3-HMAC-SHA256\n${sha256hex(canonical)}`;
  const expected = createHmac('sha256', SECRET).update(toSign).digest('hex');
  if (expected !== m[3])
    return {
      code: 'SignatureDoesNotMatch',
      // As ECS answers: the message carries the server's string to sign (the adapter must cut it).
      message: `The request signature does not conform to Aliyun standards. server string to sign is:${toSign}`,
    };
  const nonce = String(req.headers['x-acs-signature-nonce'] ?? '');
  if (!nonce || nonces.has(nonce))
    return { code: 'SignatureNonceUsed', message: 'The request signature nonce has been used.' };
  nonces.add(nonce);
  return undefined;
}

function answer(res: ServerResponse, status: number, body: object) {
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' });
  res.end(JSON.stringify({ RequestId: randomUUID().toUpperCase(), ...body }));
}
const fail = (res: ServerResponse, status: number, code: string, message: string) =>
  answer(res, status, {
    HostId: 'ecs.cn-hangzhou.aliyuncs.com',
    Code: code,
    Message: message,
    Recommend: `https://api.aliyun.com/troubleshoot?q=${code}`,
  });

function handle(req: IncomingMessage, res: ServerResponse, body: Buffer) {
  const problem = signatureProblem(req, body);
  if (problem) {
    refused++;
    return fail(
      res,
      problem.code === 'InvalidAccessKeyId.NotFound' ? 404 : 400,
      problem.code,
      problem.message,
    );
  }
  const action = String(req.headers['x-acs-action'] ?? '');
  const params = new URL(req.url!, 'http://x').searchParams;
  seen.push({ action, params, headers: req.headers });
  if (req.method !== 'POST' || req.headers['x-acs-version'] !== '2014-05-26')
    return fail(res, 400, 'InvalidVersion', 'Specified parameter Version is not valid.');
  const region = params.get('RegionId');
  if (region !== 'cn-hangzhou') return fail(res, 400, 'MissingRegionId', 'RegionId is mandatory.');
  if (action === 'ImportImage') {
    const name = params.get('ImageName') ?? '';
    for (const p of ['OSSBucket', 'OSSObject', 'Format', 'DiskImageSize'])
      if (!params.get(`DiskDeviceMapping.1.${p}`))
        return fail(res, 400, `MissingDiskDeviceMapping.${p}`, `DiskDeviceMapping.1.${p} is mandatory.`);
    if (!SCRIPT[name]) return fail(res, 400, 'InvalidImageName.Malformed', 'unknown test image name');
    const n = images.size + 1;
    const img: Image = { id: `m-bp1imp${n}test`, taskId: `t-bp1imp${n}task`, name, polls: 0 };
    images.set(img.id, img);
    return answer(res, 200, { ImageId: img.id, TaskId: img.taskId, RegionId: region });
  }
  if (action === 'DescribeImages') {
    const img = images.get(params.get('ImageId') ?? '');
    const script = img ? SCRIPT[img.name]! : [];
    const state = img ? script[Math.min(img.polls++, script.length - 1)]! : undefined;
    // As ECS does: without Status only Available images are listed.
    const wanted = (params.get('Status') ?? 'Available').split(',');
    const list =
      img && state && wanted.includes(state.status)
        ? [{ ImageId: img.id, ImageName: img.name, Status: state.status, Progress: state.progress }]
        : [];
    return answer(res, 200, {
      RegionId: region,
      TotalCount: list.length,
      PageNumber: 1,
      PageSize: 10,
      Images: { Image: list },
    });
  }
  if (action === 'DescribeTaskAttribute') {
    const img = [...images.values()].find((i) => i.taskId === params.get('TaskId'));
    if (!img) return fail(res, 404, 'InvalidTaskId.NotFound', 'The specified task is not found.');
    const broken = img.name.startsWith('broken');
    return answer(res, 200, {
      RegionId: region,
      TaskId: img.taskId,
      TaskAction: 'ImportImage',
      TaskStatus: broken ? 'Failed' : 'Processing',
      TaskProcess: broken ? '12%' : '50%',
      SupportCancel: 'false',
      TotalCount: 1,
      SuccessCount: 0,
      FailedCount: broken ? 1 : 0,
      OperationProgressSet: {
        OperationProgress: [
          {
            OperationStatus: broken ? 'Failed' : 'Processing',
            ...(broken
              ? { ErrorCode: 'ImageCheck.Failed', ErrorMsg: 'The image file has no valid partition table.' }
              : {}),
            RelatedItemSet: { RelatedItem: [{ Name: 'ImageId', Value: img.id }] },
          },
        ],
      },
    });
  }
  return fail(res, 400, 'InvalidAction.NotFound', `Specified api ${action} is not found.`);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

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
  description: `wharf test ${imageName}`,
  ...over,
});
const calls = (action: string) => seen.filter((s) => s.action === action);

describe('Alibaba ECS import adapter (loopback ECS contract server, signature V3)', () => {
  it('a request signed with a wrong secret is refused; the error is one short line without the secret', async () => {
    const before = refused;
    const n = seen.length;
    const err = await alibabaProvider
      .start(input('direct-arm64'), { accessKeyId: ID, secretAccessKey: WRONG })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(refused).toBe(before + 1);
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
    const r = refused;
    const ac = new AbortController();
    ac.abort();
    await expect(alibabaProvider.start(input('direct-arm64'), creds, ac.signal)).rejects.toThrow(/abort/i);
    expect(seen).toHaveLength(n);
    expect(refused).toBe(r);
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

  it('start sends ImportImage (UEFI, arm64, Others Linux, QCOW2 from OSS, GiB rounded up) → running with the task id; polls until Available', async () => {
    const i = input('direct-arm64', { arch: 'arm64', size: 3.5 * GiB });
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
      const before = refused;
      const n = calls('ImportImage').length;
      const r = await cloudImportStage(
        { ...h.ctx, env: { ALIBABA_CLOUD_ACCESS_KEY_ID: ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: WRONG } },
        await h.published(),
      );
      expect(refused).toBe(before + 1);
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
      expect(imp.get('DiskDeviceMapping.1.DiskImageSize')).toBe('1');

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
