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
  description: string;
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
