// What the file kinds (`wsl`: one `.wsl` per arch, `cloud`: one disk image per format) share: their
// built files as the build record lists them, the digest scan, verify, sign and publish are about, the
// gate in front of sign and publish, and the small pieces of their build stages that are the same.
// Each kind describes itself once as a FileKind (publisher/wsl/stages.ts, publisher/cloud/stages.ts);
// the scan, sign and publish stages of both kinds are made from it (file-scan.ts, file-sign.ts,
// file-publish.ts).
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Arch } from '../../catalog/names.ts';
import type { BuildRecord, SignRecord } from '../../catalog/schema.ts';
import { sha256File } from '../objects/s3.ts';
import { openOciImage } from '../rootfs/index.ts';
import {
  imageLayoutDir,
  targetLabel,
  type StageContext,
  type StageResult,
  type StageTarget,
} from '../stage.ts';
import { errorMessage } from './index.ts';

/** The environment variable whose OIDC token makes sign keyless (Fulcio + Rekor). */
export const OIDC_TOKEN_ENV = 'WHARF_OIDC_TOKEN';

export type BuiltFile = NonNullable<BuildRecord['files']>[number];
type Bundle = NonNullable<SignRecord['bundles']>[number];

/** A file kind, as its scan, sign and publish stages need to know it. */
export interface FileKind {
  kind: 'wsl' | 'cloud';
  /** The directory holding the artifact's files: `<workDir>/<kind>/<app>/<id>`. */
  dir(ctx: Pick<StageContext, 'workDir'>, t: Pick<StageTarget, 'app' | 'artifactId'>): string;
  /** The built files of the artifact's build record (none unless it is ok or unchanged). */
  files(t: StageTarget, build: BuildRecord | undefined): BuiltFile[];
  /** sha256 over what identifies the files: the value verify, scan and the gate compare. */
  digest(files: readonly BuiltFile[]): string;
  /**
   * What tells an artifact's files apart in the sign and publish records: the arch (one `.wsl` per
   * arch) or the file name (one disk per format).
   */
  fileKey: 'arch' | 'file';
  /** The gate's reason when verify has not passed for these files. */
  notVerified: string;
  /** What sign checked the file against ("built and verified"). */
  checkedAs: string;
  /** The Content-Type an uploaded file gets (default: publishFile's). */
  contentType?(f: BuiltFile): string | undefined;
  /** Extra fields of each published object (cloud: the format). */
  objectExtra?(f: BuiltFile): { format?: BuiltFile['format'] };
}

export const keyOfFile = (k: FileKind, f: BuiltFile): string => (k.fileKey === 'arch' ? f.arch : f.name);
export const keyOfBundle = (k: FileKind, b: Bundle): string => (k.fileKey === 'arch' ? b.arch : b.file);

/** The built files of a build record: `files`, when the build is ok or unchanged. */
export function recordedFiles(build: BuildRecord | undefined): BuiltFile[] {
  if (!build || (build.status !== 'ok' && build.status !== 'unchanged')) return [];
  return build.files ?? [];
}

/** Is the target of this kind (kind and recipe)? */
export const isKind = (k: Pick<FileKind, 'kind'>, t: StageTarget) =>
  t.kind === k.kind && t.recipe.kind === k.kind;

export const skipStage = <S extends 'build' | 'verify' | 'scan' | 'sign' | 'publish'>(
  stage: S,
  message: string,
) => ({
  stage,
  verdict: 'skipped' as const,
  status: 'skipped',
  message,
});

export const notThisKind = <S extends 'build' | 'verify' | 'scan' | 'sign' | 'publish'>(
  stage: S,
  k: Pick<FileKind, 'kind'>,
  t: StageTarget,
) => skipStage(stage, `${targetLabel(t)}: not a ${k.kind} recipe`);

/** Gate shared by sign and publish: built, verified for these files, scan not blocking. */
export function fileGate(
  ctx: Pick<StageContext, 'config'>,
  k: FileKind,
  t: StageTarget,
): { ok: true; files: BuiltFile[]; digest: string } | { ok: false; blockedBy: string; reason: string } {
  const r = t.artifact?.records;
  const files = k.files(t, r?.build);
  if (files.length === 0) return { ok: false, blockedBy: 'build', reason: 'not built yet' };
  const digest = k.digest(files);
  if (r?.verify?.status !== 'passed' || r.verify.inputsDigest !== digest)
    return { ok: false, blockedBy: 'verify', reason: k.notVerified };
  const scan = r.scan;
  if (scan?.policy?.blocked)
    return {
      ok: false,
      blockedBy: 'scan',
      reason: scan.policy.reasons.join('; ') || 'blocked by the scan policy',
    };
  if (ctx.config.scanPolicy.requireScan && (scan?.status !== 'ok' || scan.target !== digest))
    return {
      ok: false,
      blockedBy: 'scan',
      reason: 'scanPolicy.requireScan: these files have no completed scan',
    };
  return { ok: true, files, digest };
}

// ---------------------------------------------------------------- what the build stages share

/** The failed build result: the record (with the error) and the artifact pending again. */
export function buildFailed(
  ctx: Pick<StageContext, 'runId' | 'log'>,
  started: number,
  message: string,
  partial: Partial<BuildRecord> = {},
): StageResult<'build'> {
  ctx.log.warn(message);
  const at = new Date(started).toISOString();
  return {
    stage: 'build',
    verdict: 'failed',
    status: 'failed',
    message,
    write: {
      upsert: true,
      record: {
        ...partial,
        runId: ctx.runId,
        at,
        durationMs: Date.now() - started,
        status: 'failed',
        error: { message },
      },
      pending: { set: 'build failed', since: at },
    },
  };
}

/** The ok build record of these files: `files`, their arches in order, and `file` (the first). */
export function builtRecord(
  ctx: Pick<StageContext, 'runId'>,
  started: number,
  r: Pick<BuildRecord, 'inputsDigest' | 'base' | 'manifestDigest'>,
  files: BuiltFile[],
): BuildRecord {
  const first = files[0]!;
  return {
    runId: ctx.runId,
    at: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    status: 'ok',
    ...r,
    arches: [...new Set(files.map((f) => f.arch))],
    file: { name: first.name, sha256: first.sha256, size: first.size },
    files,
  };
}

/** Are the recorded files still in `dir` with the recorded sha256 (so the build is unchanged)? */
export async function filesStillThere(dir: string, files: readonly BuiltFile[]): Promise<boolean> {
  for (const f of files) {
    const p = join(dir, f.name);
    const there = await stat(p).then(
      () => true,
      () => false,
    );
    if (!there || (await sha256File(p)).sha256 !== f.sha256) return false;
  }
  return true;
}

/**
 * The OCI layout a container artifact of the catalog left for `arch`: the multi-arch build's per-arch
 * layout (`<tag>@<arch>`, publisher/build archLayoutDir), else the primary one when it holds that arch.
 */
export async function containerLayout(
  ctx: Pick<StageContext, 'workDir'>,
  app: string,
  tag: string,
  arch: Arch,
): Promise<{ layout: string; manifestDigest: string } | { error: string }> {
  const primary = imageLayoutDir(ctx, app, tag);
  return firstLayout([`${primary}@${arch}`, primary], arch);
}

/** The first of these OCI layouts that holds an image for `arch`, with its manifest digest. */
export async function firstLayout(
  candidates: readonly string[],
  arch: Arch,
): Promise<{ layout: string; manifestDigest: string } | { error: string }> {
  let last = '';
  for (const layout of candidates) {
    try {
      return { layout, manifestDigest: (await openOciImage(layout, { arch })).manifestDigest };
    } catch (e) {
      last = errorMessage(e);
    }
  }
  return { error: last };
}
