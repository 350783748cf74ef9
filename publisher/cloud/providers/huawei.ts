// Huawei Cloud IMS: "create a system disk image from an external image file" (POST /v2/cloudimages/action
// with image_url `<bucket>:<key>` of the object in OBS) answers a job id at once; GET
// /v1/{project_id}/jobs/{job_id} says INIT/RUNNING until the job is SUCCESS (entities.image_id) or FAIL
// (fail_reason, error_code). No IMS package is published for Node, so the calls go through Huawei's
// official core, @huaweicloud/huaweicloud-sdk-core: its HcClient sends them, and its BasicCredentials
// (AK, SK, project id) sign each one with SDK-HMAC-SHA256, add X-Project-Id and fill {project_id}.
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core/auth/BasicCredentials.js';
import { HcClient, type HttpRequestOptions } from '@huaweicloud/huaweicloud-sdk-core/HcClient.js';
import { DefaultHttpClient } from '@huaweicloud/huaweicloud-sdk-core/http/DefaultHttpClient.js';
import type { Logger, LogLevel } from '@huaweicloud/huaweicloud-sdk-core/logger/index.js';
import { z } from 'zod';
import { diskSizeGiB, type CloudProvider, type Credentials, type ImportInput } from './types.ts';

/** What IMS calls an OS when the target names no `platform` (a value of IMS's os_version list). */
export const HUAWEI_DEFAULT_OS_VERSION = 'openEuler 22.03 64bit';
/** The environment variable Huawei's SDKs read the project id from, when a target names none. */
export const HUAWEI_DEFAULT_PROJECT_ID_ENV = 'HUAWEICLOUD_SDK_PROJECT_ID';

const ARCH = { amd64: 'x86', arm64: 'arm' } as const;
const TIMEOUT_MS = 60_000;

const zCreateImageResponse = z.object({ job_id: z.string().regex(/^[A-Za-z0-9-]{1,128}$/) });
const zJob = z.object({
  status: z.enum(['INIT', 'RUNNING', 'SUCCESS', 'FAIL']),
  job_id: z.string().optional(),
  entities: z
    .object({ image_id: z.string().min(1).max(256).optional() })
    .loose()
    .optional(),
  error_code: z.string().nullish(),
  fail_reason: z.string().nullish(),
});

/**
 * The SDK's HTTP client logs every failed call to stdout (request config included) through log4js; the
 * import stage records its own scrubbed error instead, so this logger drops them.
 */
const quiet: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  setLevel() {},
  getLevel: () => 'error' as LogLevel,
  setName() {},
};

function projectIdOf(input: ImportInput, creds: Credentials): string {
  const t = input.target;
  const name = t.projectIdEnv ?? HUAWEI_DEFAULT_PROJECT_ID_ENV;
  if (!creds.projectId)
    throw new Error(
      `cloud target ${t.name}: $${name} is not set (Huawei IMS needs the project id of region ${t.region}${t.projectIdEnv ? '' : '; projectIdEnv names another variable'})`,
    );
  if (!/^[A-Za-z0-9-]{1,64}$/.test(creds.projectId))
    throw new Error(`cloud target ${t.name}: $${name} is not a project id (letters, digits, "-")`);
  return creds.projectId;
}

function client(input: ImportInput, creds: Credentials): HcClient {
  const endpoint = input.target.endpoint ?? `https://ims.${input.target.region}.myhuaweicloud.com`;
  const credential = new BasicCredentials()
    .withAk(creds.accessKeyId)
    .withSk(creds.secretAccessKey)
    .withProjectId(projectIdOf(input, creds));
  if (creds.sessionToken) credential.withSecurityToken(creds.sessionToken);
  return new HcClient(new DefaultHttpClient({ logger: quiet }, [endpoint]))
    .withCredential(credential)
    .withEndpoints([endpoint]);
}

/** One IMS call; the SDK's exception (HTTP status, error_code, error_msg, request id) as a readable error. */
async function call(
  hc: HcClient,
  what: string,
  o: Omit<HttpRequestOptions, 'contentType' | 'queryParams' | 'headers'>,
  signal?: AbortSignal,
): Promise<unknown> {
  // axiosRequestConfig is read by HcClient.buildRequest but not in its declared options type.
  const options: HttpRequestOptions & { axiosRequestConfig: object } = {
    contentType: 'application/json',
    queryParams: {},
    headers: {},
    ...o,
    axiosRequestConfig: { timeout: TIMEOUT_MS, ...(signal ? { signal } : {}) },
  };
  try {
    return await hc.sendRequest(options);
  } catch (e) {
    const x = e as {
      httpStatusCode?: number | string;
      errorCode?: string;
      errorMsg?: string;
      requestId?: string;
      message?: string;
    };
    const status = x.httpStatusCode ? `HTTP ${x.httpStatusCode}` : 'no response';
    const code = x.errorCode ? ` ${x.errorCode}` : '';
    const msg = x.errorMsg ?? x.message ?? String(e);
    const request = x.requestId ? ` (request ${x.requestId})` : '';
    throw new Error(`IMS ${what}: ${status}${code}: ${msg}${request}`, { cause: e });
  }
}

/** IMS descriptions take at most 1024 characters and no line breaks or angle brackets. */
const imsDescription = (s: string) => s.replace(/[\r\n<>]+/g, ' ').slice(0, 1024);

export const huaweiProvider: CloudProvider = {
  // min_disk comes from the disk's virtual size whatever the format. The fixed VHD comes first: it is
  // the disk byte for byte (plus a footer), so IMS has nothing to convert. Raw is last: IMS's docs
  // steer raw to the quick-import API (which wants a bitmap file) rather than this one.
  formats: ['vhd', 'qcow2', 'vmdk', 'raw'],
  async start(input, creds, signal) {
    const t = input.target;
    if (t.osType === 'windows' && !t.platform)
      throw new Error(`cloud target ${t.name}: a Windows image needs platform (an IMS os_version)`);
    // IMS: min_disk is the system disk's size in GB, 1 to 1024, at least the image file's disk.
    const minDisk = diskSizeGiB(input, 'IMS', 1, 1024);
    const body = {
      name: input.imageName.slice(0, 128),
      description: imsDescription(input.description),
      image_url: `${input.bucket}:${input.key}`,
      os_version: t.platform ?? HUAWEI_DEFAULT_OS_VERSION,
      min_disk: minDisk,
      architecture: ARCH[input.arch as keyof typeof ARCH] ?? 'x86',
      type: 'ECS',
      // The image is already prepared for the cloud (cloud-init, virtio drivers): no IMS reconfiguration.
      is_config: false,
    };
    const out = zCreateImageResponse.safeParse(
      await call(
        client(input, creds),
        'CreateImage',
        { method: 'POST', url: '/v2/cloudimages/action', pathParams: {}, data: body },
        signal,
      ),
    );
    if (!out.success) throw new Error('IMS CreateImage answered no job_id');
    return { state: 'running', taskId: out.data.job_id, progress: 'INIT' };
  },
  async poll(input, prev, creds, signal) {
    const jobId = prev.taskId ?? '';
    if (!/^[A-Za-z0-9-]{1,128}$/.test(jobId))
      return { state: 'failed', error: `not an IMS job id: ${jobId}` };
    const res = await call(
      client(input, creds),
      'ShowJob',
      { method: 'GET', url: '/v1/{project_id}/jobs/{job_id}', pathParams: { job_id: jobId } },
      signal,
    );
    const job = zJob.safeParse(res);
    if (!job.success)
      throw new Error(`IMS ShowJob ${jobId}: unexpected answer: ${job.error.issues[0]?.message}`);
    const j = job.data;
    if (j.status === 'FAIL')
      return {
        state: 'failed',
        progress: 'FAIL',
        error: `IMS job ${jobId} failed${j.error_code ? ` (${j.error_code})` : ''}: ${j.fail_reason || 'no reason given'}`,
      };
    if (j.status !== 'SUCCESS') return { state: 'running', progress: j.status };
    const imageId = j.entities?.image_id;
    if (!imageId)
      return {
        state: 'failed',
        progress: 'SUCCESS',
        error: `IMS job ${jobId} succeeded without an image_id`,
      };
    return { state: 'completed', imageId, progress: 'SUCCESS' };
  },
};
