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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zCloudTarget, type CloudTargetInput } from '../../catalog/config.ts';
import { HUAWEI_DEFAULT_OS_VERSION, huaweiProvider } from '../../publisher/cloud/providers/huawei.ts';
import { cloudImportStage } from '../../publisher/cloud/providers/index.ts';
import type { Credentials, ImportInput } from '../../publisher/cloud/providers/types.ts';
import { runStage } from '../../publisher/pipeline/index.ts';
import { IMS_AK, IMS_PROJECT, IMS_SK, startImsServer } from './ims-server.ts';
import {
  fakeBuild,
  fakePublish,
  openImportCatalog,
  TAG,
  VIRTUAL_SIZE,
  type ImportCatalog,
} from './import-catalog.ts';

const AK = IMS_AK;
const SK = IMS_SK;
const PROJECT = IMS_PROJECT;
const PROJECT_ENV = 'WHARF_TEST_HUAWEI_PROJECT_ID';

// ---------------------------------------------------------------- the loopback IMS (ims-server.ts)

const ims = await startImsServer();
const { created, shown, plannedJobs, refused, endpoint } = ims;
afterAll(() => ims.close());

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
  virtualSize: 3 * 1024 ** 3,
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
      input(
        { arch: 'arm64', size: 1024, virtualSize: 1024, description: 'a <b>\nc' },
        { platform: 'openEuler 24.03 64bit' },
      ),
      creds,
    );
    expect(created.at(-1)!.body).toMatchObject({
      architecture: 'arm',
      min_disk: 1,
      os_version: 'openEuler 24.03 64bit',
      description: 'a  b c',
    });
  });

  it("takes min_disk from the disk's virtual size, not the object's size, within IMS's 1-1024 GB", async () => {
    // a qcow2 object of 300 MiB holding a 4.5 GiB disk: min_disk 5, where its size would give 1
    plannedJobs.push({ id: 'ff8080814dbd65d7014dbe0d84db0015', answers: [{ status: 'INIT' }] });
    await huaweiProvider.start(
      input({ format: 'qcow2', key: 'demo/d.qcow2', size: 300 * 1024 ** 2, virtualSize: 4.5 * 1024 ** 3 }),
      creds,
    );
    expect(created.at(-1)!.body).toMatchObject({ image_url: 'wharf-images:demo/d.qcow2', min_disk: 5 });
    const before = created.length + refused.length;
    await expect(huaweiProvider.start(input({ virtualSize: 1025 * 1024 ** 3 }), creds)).rejects.toThrow(
      'IMS imports system disks of at most 1024 GiB; demo/disk-1/disk.vhd is a 1025 GiB disk',
    );
    // a qcow2 whose build record predates virtual sizes: refused before any request, saying why
    await expect(
      huaweiProvider.start(input({ format: 'qcow2', virtualSize: undefined }), creds),
    ).rejects.toThrow(/IMS needs the disk's virtual size, which the build record of .* does not hold/);
    expect(created.length + refused.length).toBe(before);
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
    await runStage(cat.ctx, 'build', fakeBuild, await cat.target());
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
    // min_disk from the build record's virtual size (4.5 GiB), not the 1 KiB object
    expect(created.at(-1)!.body).toMatchObject({
      image_url: `wharf-images:demo/${TAG}/disk.vhd`,
      min_disk: Math.ceil(VIRTUAL_SIZE / 1024 ** 3),
    });
    expect(Math.ceil(VIRTUAL_SIZE / 1024 ** 3)).toBe(5);

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
