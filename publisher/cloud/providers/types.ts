// One interface every cloud import adapter implements (aws.ts, tencent.ts, …). An import is a task the
// cloud runs for minutes to hours: `start` submits it and returns its task id at once; `poll` asks how
// it is doing, and finishes it when the cloud needs a second call (AWS: RegisterImage once the snapshot
// exists). The import stage (stage.ts) commits the task id before it polls, so a daemon that restarts
// polls the same task instead of starting a second one.
import type { CloudTarget } from '../../../catalog/config.ts';
import type { Arch } from '../../../catalog/names.ts';
import type { ImportTarget } from '../../../catalog/schema.ts';

export type DiskFormat = 'qcow2' | 'raw' | 'vhd' | 'vmdk';

export interface ImportInput {
  target: CloudTarget;
  bucket: string;
  key: string;
  /** The object's public URL as the publish stage recorded it (clouds that import from a URL: Tencent). */
  url: string;
  format: DiskFormat;
  arch: Arch;
  imageName: string;
  /** The recipe's OS version (e.g. 24.03-lts-sp4): clouds that ask for one (Tencent OsVersion) match it. */
  osVersion: string;
  /** Size of the disk object in bytes. */
  size: number;
  /**
   * The disk's virtual size in bytes (the disk a VM gets: what IMS min_disk and Alibaba DiskImageSize
   * must cover), from the build record; for raw and fixed VHD derived from the object's size when the
   * build record predates it. Undefined for an older qcow2 or VMDK (its object is smaller than its disk).
   */
  virtualSize?: number;
  description: string;
}

const GiB = 1024 ** 3;

/**
 * The disk's virtual size in whole GiB (rounded up), for clouds that take a disk size: refused outside
 * the cloud's documented range [min, max], or when the virtual size is not known.
 */
export function diskSizeGiB(input: ImportInput, cloud: string, min: number, max: number): number {
  if (input.virtualSize === undefined)
    throw new Error(
      `${cloud} needs the disk's virtual size, which the build record of ${input.key} does not hold (built before Wharf recorded it): rebuild the image`,
    );
  const gib = Math.max(min, Math.ceil(input.virtualSize / GiB));
  if (gib > max)
    throw new Error(
      `${cloud} imports system disks of at most ${max} GiB; ${input.key} is a ${gib} GiB disk (virtual size ${input.virtualSize} bytes)`,
    );
  return gib;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Huawei: the project id `projectIdEnv` names (IMS's jobs API is per project); not a secret. */
  projectId?: string;
}

/** What start/poll report: the fields of the record entry they set. */
export type ImportProgress = Pick<
  ImportTarget,
  'state' | 'taskId' | 'snapshotId' | 'pendingImageId' | 'imageId' | 'progress' | 'error'
>;

export interface CloudProvider {
  /** Formats this cloud imports, best first (the stage picks the first one published). */
  formats: readonly DiskFormat[];
  start(input: ImportInput, creds: Credentials, signal?: AbortSignal): Promise<ImportProgress>;
  poll(
    input: ImportInput,
    prev: ImportTarget,
    creds: Credentials,
    signal?: AbortSignal,
  ): Promise<ImportProgress>;
}

/** The credentials a target names, from the environment; a clear error naming the variable when unset. */
export function credentialsFor(t: CloudTarget, env: NodeJS.ProcessEnv): Credentials {
  const id = env[t.accessKeyIdEnv];
  const secret = env[t.secretAccessKeyEnv];
  if (!id) throw new Error(`cloud target ${t.name}: $${t.accessKeyIdEnv} is not set`);
  if (!secret) throw new Error(`cloud target ${t.name}: $${t.secretAccessKeyEnv} is not set`);
  const token = t.sessionTokenEnv ? env[t.sessionTokenEnv] : undefined;
  const projectId = t.projectIdEnv ? env[t.projectIdEnv] : undefined;
  return {
    accessKeyId: id,
    secretAccessKey: secret,
    ...(token ? { sessionToken: token } : {}),
    ...(projectId ? { projectId } : {}),
  };
}
