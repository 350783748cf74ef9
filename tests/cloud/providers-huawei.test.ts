// Contract test of the Huawei IMS import adapter against a loopback server speaking IMS's REST API. The
// server recomputes each request's SDK-HMAC-SHA256 signature on its own, with node:crypto, from Huawei's
// published API Gateway signing algorithm (canonical request: method, URI-encoded path with a trailing
// slash, sorted query, the lower-cased signed headers with x-sdk-date and host, hex SHA-256 of the body;
// string to sign "SDK-HMAC-SHA256\n<x-sdk-date>\n<hex SHA-256 of the canonical request>"), checks the
// X-Project-Id header and the {project_id} of the path, and refuses a wrong one as API Gateway does
// (401, error_code APIGW.0301). It checks the shape of CreateImage's body and answers ShowJob from a
// script (INIT, RUNNING, SUCCESS with entities.image_id, FAIL with fail_reason). Not a real cloud. The
// import stage runs through the runner on a real git catalog: the job id is committed at start, the next
// runs poll it (never a second CreateImage), and no secret appears in any output.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { zCloudTarget, type CloudTargetInput } from '../../catalog/config.ts';
import { HUAWEI_DEFAULT_OS_VERSION, huaweiProvider } from '../../publisher/cloud/providers/huawei.ts';
import { cloudImportStage } from '../../publisher/cloud/providers/index.ts';
import type { Credentials, ImportInput } from '../../publisher/cloud/providers/types.ts';
import { runStage } from '../../publisher/pipeline/index.ts';
import { fakePublish, openImportCatalog, TAG, type ImportCatalog } from './import-catalog.ts';

const AK = 'HPUATESTEXAMPLEAK01';
const SK = 'hw-Test-Secret-7fQ2mZx91LkR0pDe';
const PROJECT = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const PROJECT_ENV = 'WHARF_TEST_HUAWEI_PROJECT_ID';

// ---------------------------------------------------------------- the loopback IMS

/** RFC 3986 percent-encoding, as API Gateway's canonical request uses it (unreserved: A-Z a-z 0-9 - _ . ~). */
const uriEncode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256Hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** Why API Gateway would refuse the request's signature, or null when it verifies with AK/SK. */
function signatureProblem(req: IncomingMessage, body: Buffer): string | null {
  const m = /^SDK-HMAC-SHA256 Access=([^,]+), SignedHeaders=([^,]+), Signature=([a-f0-9]{64})$/.exec(
    req.headers.authorization ?? '',
  );
  if (!m) return 'no SDK-HMAC-SHA256 Authorization header';
  if (m[1] !== AK) return 'unknown access key';
  const signed = m[2]!.split(';');
  if (signed.join(';') !== [...signed].sort().join(';') || signed.some((h) => h !== h.toLowerCase()))
    return 'signed headers not sorted lower-case';
  if (!signed.includes('host') || !signed.includes('x-sdk-date')) return 'host and x-sdk-date must be signed';
  const date = String(req.headers['x-sdk-date'] ?? '');
  const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  if (!d) return 'bad x-sdk-date';
  const at = Date.UTC(+d[1]!, +d[2]! - 1, +d[3]!, +d[4]!, +d[5]!, +d[6]!);
  if (Math.abs(Date.now() - at) > 15 * 60_000) return 'x-sdk-date too far from now';
  const url = new URL(req.url!, 'http://ims.local');
  const path = url.pathname
    .split('/')
    .map((seg) => uriEncode(decodeURIComponent(seg)))
    .join('/');
  const query = [...url.searchParams.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
    .join('&');
  const headers = signed.map((h) => `${h}:${String(req.headers[h] ?? '').trim()}\n`).join('');
  const canonical = [
    req.method,
    path.endsWith('/') ? path : `${path}/`,
    query,
    headers,
    signed.join(';'),
    sha256Hex(body),
  ].join('\n');
  const toSign = `SDK-HMAC-SHA256\n${date}\n${sha256Hex(canonical)}`;
  const want = Buffer.from(createHmac('sha256', SK).update(toSign).digest('hex'));
  const got = Buffer.from(m[3]!);
  return timingSafeEqual(want, got) ? null : 'signature does not match';
}

/** CreateImage's body for a system disk image from an external file in OBS, as IMS documents it. */
const zCreateFromFile = z
  .object({
    name: z.string().min(1).max(128),
    description: z
      .string()
      .max(1024)
      .regex(/^[^\r\n<>]*$/)
      .optional(),
    image_url: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]:.+$/, '<bucket>:<object key>'),
    os_version: z.string().min(1),
    min_disk: z.number().int().min(1).max(1024),
    architecture: z.enum(['x86', 'arm']),
    type: z.enum(['ECS', 'BMS', 'FusionCompute', 'Ironic']),
    is_config: z.boolean(),
  })
  .strict();
type CreateBody = z.infer<typeof zCreateFromFile>;

interface JobAnswer {
  status: 'INIT' | 'RUNNING' | 'SUCCESS' | 'FAIL';
  imageId?: string;
  errorCode?: string;
  failReason?: string;
}

const created: { body: CreateBody; projectHeader: string }[] = [];
const shown: string[] = [];
/** Job ids CreateImage hands out, in order, each with the ShowJob answers it gives (the last one repeats). */
const plannedJobs: { id: string; answers: JobAnswer[] }[] = [];
const jobs = new Map<string, JobAnswer[]>();
const refused: string[] = [];
let server: Server;
let endpoint: string;

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req-0001' });
  res.end(JSON.stringify(body));
}
const apigRefuse = (res: ServerResponse, why: string) => {
  refused.push(why);
  send(res, 401, {
    error_code: 'APIGW.0301',
    error_msg: `Incorrect IAM authentication information: ${why}`,
    request_id: 'req-0001',
  });
};

function ims(req: IncomingMessage, res: ServerResponse, body: Buffer) {
  const problem = signatureProblem(req, body);
  if (problem) return apigRefuse(res, problem);
  const project = String(req.headers['x-project-id'] ?? '');
  if (project !== PROJECT) return apigRefuse(res, 'project id does not match the token');
  const path = new URL(req.url!, 'http://ims.local').pathname;
  if (req.method === 'POST' && path === '/v2/cloudimages/action') {
    const parsed = zCreateFromFile.safeParse(JSON.parse(body.toString() || '{}'));
    if (!parsed.success)
      return send(res, 400, { error: { code: 'IMG.0001', message: parsed.error.issues[0]!.message } });
    created.push({ body: parsed.data, projectHeader: project });
    const job = plannedJobs.shift();
    if (!job) return send(res, 500, { error: { code: 'IMG.0500', message: 'no job planned by the test' } });
    jobs.set(job.id, job.answers);
    return send(res, 200, { job_id: job.id });
  }
  const jm = /^\/v1\/([^/]+)\/jobs\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && jm) {
    if (jm[1] !== PROJECT) return apigRefuse(res, 'project id in the path does not match');
    if (body.length) return send(res, 400, { error: { code: 'IMG.0001', message: 'GET has no body' } });
    const answers = jobs.get(jm[2]!);
    if (!answers) return send(res, 404, { error: { code: 'IMG.0011', message: 'job not found' } });
    shown.push(jm[2]!);
    const a = answers.length > 1 ? answers.shift()! : answers[0]!;
    return send(res, 200, {
      status: a.status,
      entities: a.imageId ? { image_id: a.imageId } : {},
      job_id: jm[2],
      job_type: 'imsImportImageJob',
      begin_time: '02-Dec-2026 05:40:00:000',
      end_time: a.status === 'SUCCESS' || a.status === 'FAIL' ? '02-Dec-2026 05:52:00:000' : '',
      error_code: a.errorCode ?? null,
      fail_reason: a.failReason ?? null,
    });
  }
  send(res, 404, { error: { code: 'IMG.0404', message: `no route ${req.method} ${path}` } });
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => ims(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

// ---------------------------------------------------------------- the adapter, called directly

const targetInput = (over: Partial<CloudTargetInput> = {}): CloudTargetInput => ({
  name: 'hw-cn4',
  provider: 'huawei',
  region: 'cn-north-4',
  objectStorage: 'images',
  endpoint,
  projectIdEnv: PROJECT_ENV,
  ...over,
});
const input = (over: Partial<ImportInput> = {}, target: Partial<CloudTargetInput> = {}): ImportInput => ({
  target: zCloudTarget.parse(targetInput(target)),
  bucket: 'wharf-images',
  key: `demo/${TAG}/disk.vhd`,
  url: `http://127.0.0.1:1/wharf-images/demo/${TAG}/disk.vhd`,
  format: 'vhd',
  arch: 'amd64',
  imageName: `demo-${TAG}-amd64`,
  osVersion: '24.03-lts-sp4',
  size: 2 * 1024 ** 3 + 512,
  description: 'wharf demo:disk-1 (amd64, sha256 aaaa)',
  ...over,
});
const creds: Credentials = { accessKeyId: AK, secretAccessKey: SK, projectId: PROJECT };
const entry = (taskId: string) =>
  ({ target: 'hw-cn4', provider: 'huawei', region: 'cn-north-4', state: 'running', taskId }) as const;

describe('Huawei IMS import adapter (loopback IMS contract server)', () => {
  it('refuses a request signed with a wrong secret, with a clear error that holds no secret', async () => {
    const before = refused.length;
    const wrong = 'wrong-secret-value-123';
    const err = await huaweiProvider.start(input(), { ...creds, secretAccessKey: wrong }).then(
      () => null,
      (e: Error) => e,
    );
    expect(refused.slice(before)).toEqual(['signature does not match']);
    expect(err?.message).toMatch(/^IMS CreateImage: HTTP 401 APIGW\.0301: Incorrect IAM authentication/);
    expect(err?.message).not.toContain(wrong);
    expect(created).toHaveLength(0);
  });

  it('refuses a project id the request was not signed for', async () => {
    const before = refused.length;
    await expect(huaweiProvider.start(input(), { ...creds, projectId: 'f'.repeat(32) })).rejects.toThrow(
      /HTTP 401 APIGW\.0301/,
    );
    expect(refused.slice(before)).toEqual(['project id does not match the token']);
  });

  it('says which variable is unset when there is no project id, before any request', async () => {
    const before = refused.length + created.length;
    const { projectId: _, ...noProject } = creds;
    await expect(huaweiProvider.start(input(), noProject)).rejects.toThrow(
      `cloud target hw-cn4: $${PROJECT_ENV} is not set`,
    );
    // no projectIdEnv in wharf.yml: the SDK's own variable is named
    await expect(huaweiProvider.start(input({}, { projectIdEnv: undefined }), noProject)).rejects.toThrow(
      '$HUAWEICLOUD_SDK_PROJECT_ID is not set',
    );
    expect(refused.length + created.length).toBe(before);
  });

  it('starts CreateImage from the OBS object and reports running with the job id', async () => {
    plannedJobs.push({ id: 'ff8080814dbd65d7014dbe0d84db0013', answers: [{ status: 'INIT' }] });
    const p = await huaweiProvider.start(input(), creds);
    expect(p).toEqual({ state: 'running', taskId: 'ff8080814dbd65d7014dbe0d84db0013', progress: 'INIT' });
    expect(created.at(-1)).toEqual({
      projectHeader: PROJECT,
      body: {
        name: `demo-${TAG}-amd64`,
        description: 'wharf demo:disk-1 (amd64, sha256 aaaa)',
        image_url: `wharf-images:demo/${TAG}/disk.vhd`,
        os_version: HUAWEI_DEFAULT_OS_VERSION,
        min_disk: 3,
        architecture: 'x86',
        type: 'ECS',
        is_config: false,
      },
    });
    // arm64, a small object, a platform override, a description IMS would refuse as it is
    plannedJobs.push({ id: 'ff8080814dbd65d7014dbe0d84db0014', answers: [{ status: 'RUNNING' }] });
    await huaweiProvider.start(
      input({ arch: 'arm64', size: 1024, description: 'a <b>\nc' }, { platform: 'openEuler 24.03 64bit' }),
      creds,
    );
    expect(created.at(-1)!.body).toMatchObject({
      architecture: 'arm',
      min_disk: 1,
      os_version: 'openEuler 24.03 64bit',
      description: 'a  b c',
    });
  });

  it('polls ShowJob: INIT and RUNNING are running, SUCCESS completes with the image id', async () => {
    const id = 'ff8080814dbd65d7014dbe0d84db0021';
    plannedJobs.push({
      id,
      answers: [
        { status: 'INIT' },
        { status: 'RUNNING' },
        { status: 'SUCCESS', imageId: 'e9e91bff-14b6-4a0b-8377-4ed0813e3360' },
      ],
    });
    expect((await huaweiProvider.start(input(), creds)).taskId).toBe(id);
    expect(await huaweiProvider.poll(input(), entry(id), creds)).toEqual({
      state: 'running',
      progress: 'INIT',
    });
    expect(await huaweiProvider.poll(input(), entry(id), creds)).toEqual({
      state: 'running',
      progress: 'RUNNING',
    });
    expect(await huaweiProvider.poll(input(), entry(id), creds)).toEqual({
      state: 'completed',
      imageId: 'e9e91bff-14b6-4a0b-8377-4ed0813e3360',
      progress: 'SUCCESS',
    });
    expect(shown.filter((s) => s === id)).toHaveLength(3);
  });

  it('reports a FAIL job as failed with its error code and reason', async () => {
    const id = 'ff8080814dbd65d7014dbe0d84db0031';
    plannedJobs.push({
      id,
      answers: [
        { status: 'FAIL', errorCode: 'IMG.0080', failReason: 'the image file format is not supported' },
      ],
    });
    await huaweiProvider.start(input(), creds);
    expect(await huaweiProvider.poll(input(), entry(id), creds)).toEqual({
      state: 'failed',
      progress: 'FAIL',
      error: `IMS job ${id} failed (IMG.0080): the image file format is not supported`,
    });
  });

  it('sends nothing once the run is aborted', async () => {
    const before = shown.length + refused.length;
    await expect(
      huaweiProvider.poll(input(), entry('ff8080814dbd65d7014dbe0d84db0021'), creds, AbortSignal.abort()),
    ).rejects.toThrow(/^IMS ShowJob: no response: /);
    expect(shown.length + refused.length).toBe(before);
  });

  it('reports an unknown job as an error from IMS (the stage keeps polling it)', async () => {
    await expect(huaweiProvider.poll(input(), entry('0123abcd'), creds)).rejects.toThrow(
      'IMS ShowJob: HTTP 404 IMG.0011: job not found',
    );
  });
});

// ---------------------------------------------------------------- the import stage through the runner

describe('Huawei IMS import through the runner on a real git catalog', () => {
  let cat: ImportCatalog;
  const env = { HUAWEICLOUD_SDK_AK: AK, HUAWEICLOUD_SDK_SK: SK, [PROJECT_ENV]: PROJECT };
  beforeAll(async () => {
    cat = await openImportCatalog([targetInput({ imageName: '{app}-{id}-{arch}' })], env);
  });
  afterAll(async () => {
    await cat.close();
  });

  it('records a wrong secret and a missing project id as failed, naming the variable, without the secret', async () => {
    const wrong = 'wrong-secret-value-456';
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    // the SDK's own logger would print failed calls to stdout; the adapter silences it
    process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof write;
    const before = refused.length;
    let r;
    try {
      r = await cloudImportStage(
        { ...cat.ctx, env: { ...env, HUAWEICLOUD_SDK_SK: wrong } },
        await cat.published(),
      );
    } finally {
      process.stdout.write = write;
    }
    expect(refused.length).toBe(before + 1);
    expect(r.verdict).toBe('failed');
    expect(r.write?.record.targets[0]).toMatchObject({
      target: 'hw-cn4',
      provider: 'huawei',
      state: 'failed',
    });
    expect(r.write?.record.targets[0]?.error).toMatch(/HTTP 401 APIGW\.0301/);
    expect(JSON.stringify(r)).not.toContain(wrong);
    expect(out.join('')).toBe('');

    const { [PROJECT_ENV]: _, ...noProject } = env;
    const m = await cloudImportStage({ ...cat.ctx, env: noProject }, await cat.published());
    expect(m.write?.record.targets[0]?.error).toContain(`$${PROJECT_ENV} is not set`);
  });

  it('starts CreateImage once, commits the job id, polls on later runs until SUCCESS', async () => {
    const id = 'ff8080814dbd65d7014dbe0d84db0099';
    plannedJobs.push({
      id,
      answers: [
        { status: 'RUNNING' },
        { status: 'SUCCESS', imageId: '7c3e1f4a-0b2d-4e5f-8a9b-c0d1e2f3a4b5' },
      ],
    });
    const creates = created.length;
    await runStage(cat.ctx, 'publish', fakePublish, await cat.target());
    const o1 = await runStage(cat.ctx, 'import', cloudImportStage, await cat.target());
    expect(o1).toMatchObject({ verdict: 'done', status: 'running' });
    expect(o1.commit).toMatch(/^[a-f0-9]{40}$/);
    let a = (await cat.target()).artifact!;
    expect(a.records.import?.targets[0]).toMatchObject({
      target: 'hw-cn4',
      provider: 'huawei',
      region: 'cn-north-4',
      taskId: id,
      state: 'running',
      format: 'vhd',
      bucket: 'wharf-images',
      key: `demo/${TAG}/disk.vhd`,
    });
    expect(a.pending?.reason).toBe('import running');
    expect(created.at(-1)!.body).toMatchObject({
      image_url: `wharf-images:demo/${TAG}/disk.vhd`,
      min_disk: 1,
    });

    // "restart": a new run reads the job id from the record and polls it (RUNNING)
    const o2 = await runStage(
      { ...cat.ctx, runId: '20261202T060000Z-abcdef' },
      'import',
      cloudImportStage,
      await cat.target(),
    );
    expect(o2.status).toBe('running');
    expect((await cat.target()).artifact!.records.import?.targets[0]?.progress).toBe('RUNNING');
    const o3 = await runStage(cat.ctx, 'import', cloudImportStage, await cat.target());
    expect(o3).toMatchObject({ verdict: 'done', status: 'ok' });
    expect(created.length - creates).toBe(1);
    expect(shown.filter((s) => s === id)).toHaveLength(2);
    a = (await cat.target()).artifact!;
    expect(a.records.import?.targets[0]).toMatchObject({
      state: 'completed',
      taskId: id,
      imageId: '7c3e1f4a-0b2d-4e5f-8a9b-c0d1e2f3a4b5',
    });
    expect(a.pending).toBeUndefined();

    // completed: nothing more is sent
    const sent = created.length + shown.length;
    const o4 = await runStage(cat.ctx, 'import', cloudImportStage, await cat.target());
    expect(o4).toMatchObject({ status: 'unchanged', commit: null });
    expect(created.length + shown.length).toBe(sent);

    for (const text of [await cat.artifactFile(), await cat.history(), cat.logs.join('\n')])
      expect(text).not.toContain(SK);
  });
});
