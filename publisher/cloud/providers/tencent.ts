// Tencent Cloud CVM: ImportImage from the published object's URL (COS), then DescribeImages until the
// image leaves IMPORTING, through the official tencentcloud-sdk-nodejs-cvm (API 2017-03-12, TC3-HMAC-SHA256).
//
// ImportImage asks for an OsType and OsVersion from the list DescribeImportImageOs returns, so `start`
// asks for that list first: the target's `platform` when given (refused with the list when Tencent
// does not take it), else openEuler when listed, else Tencent's catch-all "Other Linux". The task id
// is the image id ImportImage returns; API versions that return none are followed by the image's name
// (task id `name:<ImageName>`, DescribeImages filtered on image-name, matched exactly).
import { cvm } from 'tencentcloud-sdk-nodejs-cvm';
import type {
  DescribeImagesRequest,
  DescribeImagesResponse,
  DescribeImportImageOsResponse,
  Image,
  ImportImageRequest,
  ImportImageResponse,
} from 'tencentcloud-sdk-nodejs-cvm/tencentcloud/services/cvm/v20170312/cvm_models.js';
import type { Arch } from '../../../catalog/names.ts';
import type { ImportTarget } from '../../../catalog/schema.ts';
import type { CloudProvider, Credentials, ImportInput, ImportProgress } from './types.ts';

type CvmClient = InstanceType<typeof cvm.v20170312.Client>;

/** ImportImage's Architecture values (it takes x86_64, i386, arm_64). */
const ARCH: Partial<Record<Arch, string>> = { amd64: 'x86_64', arm64: 'arm_64' };

function tencentArch(arch: Arch): string {
  const a = ARCH[arch];
  if (!a) throw new Error(`Tencent CVM imports x86_64 and arm_64 images, not ${arch}`);
  return a;
}
/** The longest ImageName ImportImage takes. */
const MAX_NAME = 60;
const BY_NAME = 'name:';
/** A name-followed import not listed by DescribeImages this long after its start has failed. */
const NOT_LISTED_MS = 30 * 60_000;

function client(input: ImportInput, creds: Credentials): CvmClient {
  const ep = input.target.endpoint ? new URL(input.target.endpoint) : undefined;
  return new cvm.v20170312.Client({
    credential: {
      secretId: creds.accessKeyId,
      secretKey: creds.secretAccessKey,
      ...(creds.sessionToken ? { token: creds.sessionToken } : {}),
    },
    region: input.target.region,
    profile: {
      language: 'en-US',
      httpProfile: {
        reqTimeout: 30,
        // The SDK signs for the service named by the endpoint's first label (cvm.… → cvm).
        ...(ep ? { endpoint: ep.host, protocol: `${ep.protocol}//` } : {}),
      },
    },
  });
}

/** A failed API call: the action, Tencent's error code and request id in the message, never a secret. */
export class TencentApiError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** One API call through the SDK (with the abort signal, which the typed methods do not take). */
async function call<Res>(
  c: CvmClient,
  creds: Credentials,
  action: string,
  req: object,
  signal?: AbortSignal,
): Promise<Res> {
  try {
    return (await c.request(action, req, signal ? { signal } : {})) as Res;
  } catch (e) {
    const err = e as { code?: string; message?: string; requestId?: string };
    let msg = `Tencent CVM ${action} failed: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`;
    if (err.requestId) msg += ` (RequestId ${err.requestId})`;
    for (const s of [creds.secretAccessKey, creds.sessionToken])
      if (s && s.length >= 4) msg = msg.split(s).join('***');
    throw new TencentApiError(msg, err.code);
  }
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** OsType and OsVersion for ImportImage, chosen from what DescribeImportImageOs lists. */
export function chooseOs(
  list: DescribeImportImageOsResponse,
  input: Pick<ImportInput, 'target' | 'osVersion' | 'arch'>,
): { osType: string; osVersion: string } {
  const t = input.target;
  const family = t.osType === 'windows' ? 'Windows' : 'Linux';
  const names = list.ImportImageOsListSupported?.[family] ?? [];
  let osType: string | undefined;
  if (t.platform) {
    osType = names.find((n) => norm(n) === norm(t.platform!));
    if (!osType)
      throw new Error(
        `Tencent CVM does not import ${family} platform "${t.platform}" (DescribeImportImageOs lists: ${names.join(', ') || 'none'})`,
      );
  } else if (family === 'Linux') {
    osType = names.find((n) => norm(n) === 'openeuler') ?? names.find((n) => norm(n) === 'otherlinux');
    if (!osType)
      throw new Error(
        `Tencent CVM lists neither openEuler nor Other Linux for import (it lists: ${names.join(', ') || 'none'}); set platform on the target`,
      );
  } else throw new Error('Tencent CVM: a windows target needs platform (e.g. "Windows Server 2019")');
  const entry = list.ImportImageOsVersionSet?.find((v) => v.OsName === osType);
  const arch = tencentArch(input.arch);
  if (entry?.Architecture?.length && !entry.Architecture.some((a) => norm(a) === norm(arch)))
    throw new Error(
      `Tencent CVM does not import ${osType} for ${arch} (it lists ${entry.Architecture.join(', ')})`,
    );
  const versions = entry?.OsVersions ?? [];
  // The listed version the recipe's OS version starts with, longest first (24.03-lts-sp4 → 24.03); an
  // OS listed without versions ("-") takes "-".
  const own = norm(input.osVersion);
  const osVersion =
    [...versions].sort((a, b) => b.length - a.length).find((v) => norm(v) && own.startsWith(norm(v))) ??
    (versions.length === 0 || versions.includes('-') ? '-' : undefined);
  if (!osVersion)
    throw new Error(
      `Tencent CVM lists no ${osType} version matching ${input.osVersion} (it lists: ${versions.join(', ')})`,
    );
  return { osType, osVersion };
}

/** What one image's ImageState means for the import. */
function progressOf(img: Image): ImportProgress {
  const state = img.ImageState ?? 'UNKNOWN';
  if (state === 'NORMAL' && img.ImageId) return { state: 'completed', imageId: img.ImageId, progress: state };
  if (state === 'IMPORTFAILED' || state === 'CREATEFAILED')
    return {
      state: 'failed',
      // DescribeImages gives the state only; Tencent's console shows the import's reason.
      error: `image ${img.ImageId ?? img.ImageName} ${state}: Tencent CVM reported the import as failed`,
    };
  // IMPORTING, CREATING, SYNCING (and any state Tencent adds): still running.
  return { state: 'running', progress: state };
}

export const tencentProvider: CloudProvider = {
  // ImportImage takes RAW, VHD, QCOW2 and VMDK; qcow2 first: the smallest upload of the same disk.
  formats: ['qcow2', 'vhd', 'vmdk', 'raw'],
  async start(input, creds, signal) {
    if (input.imageName.length > MAX_NAME)
      throw new Error(
        `Tencent CVM image names are at most ${MAX_NAME} characters; ${input.imageName} has ${input.imageName.length} (shorten imageName on the target)`,
      );
    const c = client(input, creds);
    const os = chooseOs(
      await call<DescribeImportImageOsResponse>(c, creds, 'DescribeImportImageOs', {}, signal),
      input,
    );
    const req: ImportImageRequest = {
      Architecture: tencentArch(input.arch),
      OsType: os.osType,
      OsVersion: os.osVersion,
      ImageUrl: input.url,
      ImageName: input.imageName,
      ImageDescription: input.description.slice(0, 256),
      // Wharf's disks boot through systemd-boot on a GPT ESP: UEFI only.
      BootMode: 'UEFI',
    };
    const out = await call<ImportImageResponse>(c, creds, 'ImportImage', req, signal);
    return {
      state: 'running',
      taskId: out.ImageId ? out.ImageId : `${BY_NAME}${input.imageName}`,
      progress: 'IMPORTING',
    };
  },
  async poll(input, prev: ImportTarget, creds, signal) {
    const c = client(input, creds);
    const taskId = prev.taskId ?? '';
    const byName = taskId.startsWith(BY_NAME);
    const name = byName ? taskId.slice(BY_NAME.length) : undefined;
    const req: DescribeImagesRequest = name
      ? {
          Filters: [
            { Name: 'image-name', Values: [name] },
            { Name: 'image-type', Values: ['PRIVATE_IMAGE'] },
          ],
          Limit: 100,
        }
      : { ImageIds: [taskId] };
    let out: DescribeImagesResponse;
    try {
      out = await call<DescribeImagesResponse>(c, creds, 'DescribeImages', req, signal);
    } catch (e) {
      // An image id Tencent no longer knows (the import was deleted): the task is over.
      if (e instanceof TencentApiError && e.code?.startsWith('InvalidImageId'))
        return { state: 'failed', error: e.message };
      throw e;
    }
    // image-name matches fuzzily: keep the exact name, newest first.
    const found = (out.ImageSet ?? [])
      .filter((i) => (name ? i.ImageName === name : i.ImageId === taskId))
      .sort((a, b) => (b.CreatedTime ?? '').localeCompare(a.CreatedTime ?? ''))[0];
    if (found) return progressOf(found);
    const since = Date.now() - Date.parse(prev.startedAt ?? '');
    if (byName && since < NOT_LISTED_MS) return { state: 'running', progress: 'not listed yet' };
    return { state: 'failed', error: `Tencent CVM lists no image ${name ?? taskId} (deleted?)` };
  },
};
