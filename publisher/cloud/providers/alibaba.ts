// Alibaba Cloud ECS: ImportImage from the OSS object (DiskDeviceMapping OSSBucket/OSSObject/Format/
// DiskImageSize, UEFI boot), then DescribeImages on the image id ImportImage reserved until the image is
// Available; when it is CreateFailed (or gone) DescribeTaskAttribute on the task says why. Through the
// official @alicloud/ecs20140526 SDK, which signs with ACS3-HMAC-SHA256 (signature method V3).
import { createHash } from 'node:crypto';
import Ecs, {
  DescribeImagesRequest,
  DescribeTaskAttributeRequest,
  ImportImageRequest,
  ImportImageRequestDiskDeviceMapping,
} from '@alicloud/ecs20140526';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import { RuntimeOptions } from '@alicloud/tea-util';
import {
  diskSizeGiB,
  type CloudProvider,
  type Credentials,
  type ImportInput,
  type ImportProgress,
} from './types.ts';

// A CommonJS module with `exports.default = Client`: Node's ESM loader hands over the whole exports
// object as the default import, Vite's (vitest) the class itself; take the class either way.
type EcsClient = InstanceType<typeof Ecs.default>;
const EcsClient: typeof Ecs.default =
  (Ecs as { default?: typeof Ecs.default }).default ?? (Ecs as unknown as typeof Ecs.default);

/** ImportImage's DiskDeviceMapping.Format values (VMDK is in invitational preview at Alibaba). */
const FORMAT = { qcow2: 'QCOW2', raw: 'RAW', vhd: 'VHD', vmdk: 'VMDK' } as const;
const ARCH = { amd64: 'x86_64', arm64: 'arm64' } as const;
/**
 * Alibaba's Platform list has no openEuler; "Others Linux" (its own default) makes ECS leave the guest's
 * configuration (hostname, network, keys) to the image's cloud-init. `platform:` in wharf.yml overrides.
 */
const DEFAULT_PLATFORM = 'Others Linux';
/** Every image status DescribeImages knows: without Status it lists only Available images. */
const ALL_STATUSES = 'Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated';

function client(input: ImportInput, creds: Credentials): EcsClient {
  const endpoint = input.target.endpoint ? new URL(input.target.endpoint) : undefined;
  return new EcsClient(
    new $OpenApiUtil.Config({
      accessKeyId: creds.accessKeyId,
      accessKeySecret: creds.secretAccessKey,
      ...(creds.sessionToken ? { securityToken: creds.sessionToken } : {}),
      regionId: input.target.region,
      // Without an endpoint the SDK picks the region's (ecs.<region>.aliyuncs.com, https).
      ...(endpoint ? { endpoint: endpoint.host, protocol: endpoint.protocol.replace(':', '') } : {}),
    }),
  );
}

const runtime = () => new RuntimeOptions({ connectTimeout: 10_000, readTimeout: 30_000 });

/**
 * One line for the record: the service's code and message and the request id, never the SDK's request
 * data. Alibaba's SignatureDoesNotMatch message goes on with "server string to sign is: …", and the
 * SDK's network errors with the whole request URL: both are cut.
 */
export function alibabaError(action: string, e: unknown, creds: Credentials): Error {
  const err = e as { code?: unknown; data?: { Message?: unknown }; requestId?: unknown; message?: unknown };
  const code = typeof err.code === 'string' && err.code !== 'undefined' ? err.code : undefined;
  const raw =
    typeof err.data?.Message === 'string'
      ? err.data.Message
      : typeof err.message === 'string'
        ? err.message
        : String(e);
  let msg = raw
    .split(/server string to sign is/i)[0]!
    // Network errors end with the request line (method, URL and every parameter): drop it.
    .replace(/(?:GET|POST|PUT|DELETE|HEAD|PATCH)\s*https?:\/\/.*$/s, '')
    .replace(/\s+/g, ' ')
    .trim();
  for (const s of [creds.secretAccessKey, creds.sessionToken])
    if (s && s.length >= 4) msg = msg.split(s).join('***');
  if (msg.length > 240) msg = `${msg.slice(0, 240)}…`;
  const rid = typeof err.requestId === 'string' && err.requestId !== 'undefined' ? err.requestId : '';
  return new Error(
    `Alibaba ECS ${action}: ${code ? `${code}: ` : ''}${msg}${rid ? ` (request id ${rid})` : ''}`,
  );
}

/** Run one SDK call; errors become alibabaError, and an aborted signal stops waiting for it. */
async function call<T>(
  action: string,
  creds: Credentials,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  signal?.throwIfAborted();
  const work = run().catch((e: unknown) => {
    throw alibabaError(action, e, creds);
  });
  if (!signal) return work;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error(`Alibaba ECS ${action}: aborted`));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Why the import task failed, from DescribeTaskAttribute (its operation's ErrorCode/ErrorMsg). */
async function taskFailure(
  ecs: EcsClient,
  input: ImportInput,
  taskId: string,
  creds: Credentials,
  signal?: AbortSignal,
): Promise<string> {
  const t = await call('DescribeTaskAttribute', creds, signal, () =>
    ecs.describeTaskAttributeWithOptions(
      new DescribeTaskAttributeRequest({ regionId: input.target.region, taskId }),
      runtime(),
    ),
  );
  const ops = t.body?.operationProgressSet?.operationProgress ?? [];
  const why = ops
    .filter((o) => o.errorCode || o.errorMsg)
    .map((o) => [o.errorCode, o.errorMsg].filter(Boolean).join(': '))
    .join('; ');
  return `task ${taskId} ${t.body?.taskStatus ?? 'unknown'}${why ? `: ${why}` : ''}`;
}

export const alibabaProvider: CloudProvider = {
  formats: ['qcow2', 'raw', 'vhd', 'vmdk'],
  async start(input, creds, signal) {
    const format = FORMAT[input.format];
    const architecture = ARCH[input.arch as keyof typeof ARCH];
    if (!architecture) throw new Error(`Alibaba ECS ImportImage takes x86_64 and arm64, not ${input.arch}`);
    const diskImageSize = diskSizeGiB(input, 'Alibaba ECS ImportImage', 1, 2048);
    const ecs = client(input, creds);
    const out = await call('ImportImage', creds, signal, () =>
      ecs.importImageWithOptions(
        new ImportImageRequest({
          regionId: input.target.region,
          imageName: input.imageName,
          description: input.description,
          architecture,
          OSType: input.target.osType,
          platform: input.target.platform ?? DEFAULT_PLATFORM,
          // Wharf's disks boot through systemd-boot on an ESP: UEFI only (arm64 takes only UEFI anyway).
          bootMode: 'UEFI',
          diskDeviceMapping: [
            new ImportImageRequestDiskDeviceMapping({
              OSSBucket: input.bucket,
              OSSObject: input.key,
              format,
              // The system disk's size in GiB (1 to 2048), from the disk's virtual size.
              diskImageSize,
            }),
          ],
          // Idempotent: a start repeated after a lost answer gets the same task, not a second import.
          clientToken: createHash('sha256')
            .update(`${input.imageName}\n${input.bucket}\n${input.key}\n${input.description}`)
            .digest('hex')
            .slice(0, 64),
        }),
        runtime(),
      ),
    );
    const { taskId, imageId } = out.body ?? {};
    if (!taskId || !imageId) throw new Error('Alibaba ECS ImportImage returned no TaskId/ImageId');
    return { state: 'running', taskId, pendingImageId: imageId, progress: 'Creating' };
  },
  async poll(input, prev, creds, signal): Promise<ImportProgress> {
    const ecs = client(input, creds);
    const taskId = prev.taskId!;
    const imageId = prev.pendingImageId;
    if (!imageId) return { state: 'failed', error: `task ${taskId}: no pending image id recorded` };
    const out = await call('DescribeImages', creds, signal, () =>
      ecs.describeImagesWithOptions(
        new DescribeImagesRequest({
          regionId: input.target.region,
          imageId,
          status: ALL_STATUSES,
          imageOwnerAlias: 'self',
        }),
        runtime(),
      ),
    );
    const image = out.body?.images?.image?.find((i) => i.imageId === imageId);
    const status = image?.status;
    if (status === 'Available')
      return { state: 'completed', imageId, progress: `Available ${image?.progress ?? '100%'}` };
    if (status === 'Creating' || status === 'Waiting')
      return { state: 'running', progress: `${status}${image?.progress ? ` ${image.progress}` : ''}` };
    const why = await taskFailure(ecs, input, taskId, creds, signal);
    return { state: 'failed', error: `image ${imageId} ${status ?? 'not found'} (${why})` };
  },
};
