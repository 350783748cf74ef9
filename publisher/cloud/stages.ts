// The pipeline stages of kind `cloud` (publisher/pipeline/stages.ts registers them). One artifact holds
// one disk image per format (qcow2, raw, vhd, vmdk) for the target's arch.
//
// build: the recipe's `source` is a container artifact built by Wharf ("app:tag" or a tag of the same
//   app; its exported OCI layout, as the wsl kind reads it) whose rootfs carries kernel, initramfs and
//   systemd-boot (build.ts), or a base disk image by https URL with the recipe's `sha256` (base.ts:
//   fetched into <workDir>/cloud/base, customised in place with debugfs). Files go to
//   <workDir>/cloud/<app>/<id>/<app>-<id>-<arch>.<ext>. Inputs unchanged and the files still there
//   with their recorded sha256: "unchanged".
// verify: boot it (boot-test.ts): the qcow2 (else the raw, vmdk, vhd) booted under QEMU with a NoCloud
//   seed; every other file must read as its format with the same virtual size. The console log goes to
//   the blob store. A failed boot fails the artifact: nothing after it runs, nothing is published.
// scan: the root filesystem copied out of the disk's root ext4 with debugfs (the bytes that are
//   published) and scanned as a container's is (publisher/artifact/file-scan.ts): its RPMs against
//   openEuler's advisories, Trivy, coverage, package lists and SBOM; OS packages nobody matched: "OS
//   packages not scanned", never clean.
// sign: a Sigstore bundle per file (publisher/sign/blob.ts), kept in the blob store and beside the file.
// publish: every file (+ .sha256 + bundle) to every objectStorage target taking kind cloud
//   (publisher/objects/publish.ts): one record object per target and format {target, format, bucket,
//   key, url, size, sha256}, which the cloud import stage (publisher/cloud/providers) reads.
import { createHash } from 'node:crypto';
import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertAppId, assertTag } from '../../catalog/names.ts';
import type { BuildRecord, CloudRecipe, VerifyRecord } from '../../catalog/schema.ts';
import { fileScanStage, rootDir, type FileScanOptions, type UnpackFiles } from '../artifact/file-scan.ts';
import { filePublishStage } from '../artifact/file-publish.ts';
import { fileVerifyStage } from '../artifact/file-verify.ts';
import { fileSignStage } from '../artifact/file-sign.ts';
import {
  buildFailed,
  builtRecord,
  containerLayout,
  filesStillThere,
  isKind,
  notThisKind,
  recordedFiles,
  type BuiltFile,
  type FileKind,
} from '../artifact/files.ts';
import { errorMessage } from '../artifact/index.ts';
import type { StageContext, StageFn, StageTarget } from '../stage.ts';
import { buildFromBase, fetchBaseImage, findRootPartition } from './base.ts';
import { bootTest } from './boot-test.ts';
import { buildCloudImage, type CloudImageFile } from './build.ts';
import { imageInfo, toRaw, type CloudFormat } from './convert.ts';
import { Ext4Editor } from './ext4.ts';

export { OIDC_TOKEN_ENV as CLOUD_OIDC_TOKEN_ENV } from '../artifact/files.ts';
/** Seconds a boot test may take (default 600: full systemd under TCG on a busy machine). */
export const BOOT_TIMEOUT_ENV = 'WHARF_CLOUD_BOOT_TIMEOUT';

const label = (t: StageTarget) => `${t.app.id}:${t.artifactId}`;
export const cloudDir = (ctx: Pick<StageContext, 'workDir'>, t: Pick<StageTarget, 'app' | 'artifactId'>) =>
  join(ctx.workDir, 'cloud', assertAppId(t.app.id), assertTag(t.artifactId));

export function cloudFormats(r: CloudRecipe): CloudFormat[] {
  return [...new Set<CloudFormat>(r.formats ?? (r.format ? [r.format] : ['qcow2']))];
}

const isUrl = (s: string) => /^https?:\/\//.test(s);

function containerSource(t: StageTarget, r: CloudRecipe): { app: string; tag: string } {
  const i = r.source.indexOf(':');
  return i === -1
    ? { app: t.app.id, tag: assertTag(r.source) }
    : { app: assertAppId(r.source.slice(0, i)), tag: assertTag(r.source.slice(i + 1)) };
}

export const cloudFiles = (build: BuildRecord | undefined): BuiltFile[] => recordedFiles(build);

export function filesDigest(files: readonly BuiltFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.arch} ${f.format ?? ''} ${f.sha256}\n`);
  return `sha256:${h.digest('hex')}`;
}

const CONTENT_TYPE: Record<CloudFormat, string> = {
  qcow2: 'application/x-qemu-disk',
  raw: 'application/octet-stream',
  vhd: 'application/x-vhd',
  vmdk: 'application/x-vmdk',
};

/** What the shared verify, scan, sign and publish stages (publisher/artifact/file-*.ts) need to know of kind cloud. */
export const CLOUD: FileKind = {
  kind: 'cloud',
  dir: cloudDir,
  files: (_t, build) => cloudFiles(build),
  digest: filesDigest,
  fileKey: 'file',
  notVerified: 'these disk images have not passed the boot test',
  checkedAs: 'built and booted',
  contentType: (f) => (f.format ? CONTENT_TYPE[f.format] : undefined),
  objectExtra: (f) => (f.format ? { format: f.format } : {}),
};

// ---------------------------------------------------------------- build

export const cloudBuildStage: StageFn<'build'> = async (ctx, t) => {
  const started = Date.now();
  if (!isKind(CLOUD, t) || t.recipe.kind !== 'cloud') return notThisKind('build', CLOUD, t);
  const recipe = t.recipe;
  const fail = (message: string) => buildFailed(ctx, started, message);
  try {
    const env = ctx.env ?? process.env;
    const formats = cloudFormats(recipe);
    const outDir = cloudDir(ctx, t);
    const name = `${assertAppId(t.app.id)}-${assertTag(t.artifactId)}`;
    let base: NonNullable<BuildRecord['base']>;
    let layout: string | undefined;
    if (isUrl(recipe.source)) {
      if (!recipe.sha256) return fail(`build ${label(t)} failed: a base image URL needs the recipe's sha256`);
      base = { ref: recipe.source, digest: `sha256:${recipe.sha256}` };
    } else {
      const src = containerSource(t, recipe);
      const found = await containerLayout(ctx, src.app, src.tag, t.arch);
      if ('error' in found)
        return fail(
          `build ${label(t)} failed: the container image ${src.app}:${src.tag} (${t.arch}) is not built here: ${found.error}`,
        );
      layout = found.layout;
      base = { ref: `${src.app}:${src.tag}`, digest: found.manifestDigest as `sha256:${string}` };
    }
    const epochEnv = env.SOURCE_DATE_EPOCH;
    const inputsDigest = `sha256:${createHash('sha256')
      .update(JSON.stringify({ base, recipe, arch: t.arch, formats, epoch: epochEnv ?? null }))
      .digest('hex')}`;
    const prev = t.artifact?.records.build;
    if (
      prev &&
      (prev.status === 'ok' || prev.status === 'unchanged') &&
      prev.inputsDigest === inputsDigest &&
      prev.files?.length
    ) {
      if (await filesStillThere(outDir, prev.files))
        return {
          stage: 'build',
          verdict: 'done',
          status: 'unchanged',
          unchanged: true,
          message: `${label(t)}: unchanged`,
        };
    }
    let files: CloudImageFile[];
    if (layout) {
      const r = await buildCloudImage({
        from: layout,
        arch: t.arch,
        name,
        outDir,
        sizeGiB: recipe.sizeGiB ?? 2,
        formats,
        seed: `${t.app.id}:${t.artifactId}:${t.arch}`,
        ...(recipe.datasources ? { datasources: recipe.datasources } : {}),
        ...(recipe.cloudInit !== undefined ? { cloudInit: recipe.cloudInit } : {}),
        env,
      });
      files = r.files;
    } else {
      const cached = await fetchBaseImage(
        recipe.source,
        recipe.sha256!,
        join(ctx.workDir, 'cloud', 'base'),
        ctx.signal,
      );
      const epoch = epochEnv && /^[0-9]+$/.test(epochEnv) ? Number(epochEnv) : 0;
      files = (
        await buildFromBase({
          base: cached,
          arch: t.arch,
          name,
          outDir,
          formats,
          epoch,
          ...(recipe.datasources ? { datasources: recipe.datasources } : {}),
          ...(recipe.cloudInit !== undefined ? { cloudInit: recipe.cloudInit } : {}),
          env,
        })
      ).files;
    }
    const recorded = files.map((f) => ({
      arch: t.arch,
      name: f.name,
      sha256: f.sha256,
      size: f.size,
      format: f.format,
      virtualSize: f.virtualSize,
    }));
    ctx.log.info(`${label(t)}: ${files.map((f) => `${f.name} (${f.size} bytes)`).join(', ')}`);
    const record = builtRecord(
      ctx,
      started,
      { inputsDigest, base, ...(layout ? { manifestDigest: base.digest } : {}) },
      recorded,
    );
    return { stage: 'build', verdict: 'done', status: 'ok', write: { upsert: true, record } };
  } catch (e) {
    return fail(`build ${label(t)} failed: ${errorMessage(e)}`);
  }
};

// ---------------------------------------------------------------- verify

const BOOT_ORDER: CloudFormat[] = ['qcow2', 'raw', 'vmdk', 'vhd'];
const QEMU_FORMAT: Record<CloudFormat, string> = { qcow2: 'qcow2', raw: 'raw', vmdk: 'vmdk', vhd: 'vpc' };

export function makeCloudVerifyStage(
  opts: { timeout?: number; accel?: 'auto' | 'kvm' | 'tcg' } = {},
): StageFn<'verify'> {
  return fileVerifyStage(CLOUD, async (ctx, t, files) => {
    const dir = cloudDir(ctx, t);
    const checks: VerifyRecord['checks'] = [];
    const virtual = new Set<number>();
    for (const f of files) {
      const c0 = Date.now();
      try {
        const info = await imageInfo(join(dir, f.name));
        virtual.add(info.virtualSize);
        const want = f.format ? QEMU_FORMAT[f.format] : info.format;
        checks.push({
          name: `format:${f.name}`,
          status: info.format === want ? 'passed' : 'failed',
          output: [`${info.format}, virtual size ${info.virtualSize}`],
          durationMs: Date.now() - c0,
        });
      } catch (e) {
        checks.push({ name: `format:${f.name}`, status: 'error', output: [errorMessage(e)] });
      }
    }
    if (virtual.size > 1)
      checks.push({
        name: 'virtual-size',
        status: 'failed',
        output: [`sizes differ: ${[...virtual].join(', ')}`],
      });
    const bootFile = BOOT_ORDER.map((fmt) => files.find((f) => f.format === fmt)).find(Boolean) ?? files[0]!;
    const env = ctx.env ?? process.env;
    const timeout = opts.timeout ?? (Number(env[BOOT_TIMEOUT_ENV]) > 0 ? Number(env[BOOT_TIMEOUT_ENV]) : 600);
    const work = await mkdtemp(join(tmpdir(), 'wharf-cloud-verify-'));
    let bootRecord: NonNullable<VerifyRecord['bootTest']>;
    try {
      const consoleLog = join(work, 'console.log');
      ctx.log.progress?.(`${label(t)}: booting ${bootFile.name} (timeout ${timeout} s)`);
      const b = await bootTest(join(dir, bootFile.name), {
        arch: t.arch,
        timeout,
        consoleLog,
        ...(opts.accel ? { accel: opts.accel } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      const log = await readFile(consoleLog).catch(() => Buffer.alloc(0));
      const ref = await ctx.blobs.put(log, 'text/plain; charset=utf-8', { maxBytes: 4 * 1024 * 1024 });
      const { uri: _uri, ...consoleRef } = ref;
      bootRecord = {
        booted: b.booted,
        seconds: b.seconds,
        marker: b.marker,
        accel: b.accel,
        file: bootFile.name,
        format: b.format,
        ...(b.reason ? { reason: b.reason } : {}),
        consoleLog: consoleRef,
      };
      checks.push({
        name: `boot:${bootFile.name}`,
        status: b.booted ? 'passed' : b.reason?.startsWith('no boot marker') ? 'timeout' : 'failed',
        output: [b.booted ? `${b.marker} after ${b.seconds} s (${b.accel})` : (b.reason ?? 'did not boot')],
        durationMs: Math.round(b.seconds * 1000),
      });
    } catch (e) {
      const message = `boot test of ${bootFile.name} could not run: ${errorMessage(e)}`;
      checks.push({ name: `boot:${bootFile.name}`, status: 'error', output: [message] });
      bootRecord = {
        booted: false,
        seconds: 0,
        marker: null,
        accel: 'tcg',
        file: bootFile.name,
        format: bootFile.format ?? 'unknown',
        reason: message,
      };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    const failed = checks.filter((c) => c.status !== 'passed');
    const error = failed.map((c) => `${c.name}: ${c.output?.[0] ?? c.status}`).join('; ');
    return {
      checks,
      record: { bootTest: bootRecord },
      ...(failed.length ? { error } : {}),
      message: failed.length
        ? `verify ${label(t)}: ${error}`
        : `${label(t)}: booted ${bootFile.name} in ${bootRecord.seconds} s (${bootRecord.accel})`,
    };
  });
}

export const cloudVerifyStage = makeCloudVerifyStage();

// ---------------------------------------------------------------- scan

/**
 * The root filesystem of a disk image, copied out of its root ext4 with debugfs into `dest` (the raw
 * disk is read in place; another format is converted to raw under `work` first).
 */
export async function unpackDisk(image: string, dest: string, work: string): Promise<void> {
  let raw = image;
  if ((await imageInfo(image)).format !== 'raw') {
    raw = join(work, 'disk.raw');
    await toRaw(image, raw);
  }
  try {
    const { offset } = await findRootPartition(raw);
    await new Ext4Editor(raw, offset).dump(dest);
  } finally {
    if (raw !== image) await rm(raw, { force: true });
  }
}

/** The disk file the scan reads: the raw one when there is one (nothing to convert), else the one verify booted. */
const scannedFile = (files: readonly BuiltFile[]) =>
  files.find((f) => f.format === 'raw') ??
  BOOT_ORDER.map((fmt) => files.find((f) => f.format === fmt)).find(Boolean) ??
  files[0]!;

/** The root filesystem of one of the artifact's disks (all formats hold the same one). */
const unpackDiskFiles: UnpackFiles = async (ctx, t, files, work) => {
  const file = scannedFile(files);
  ctx.log.progress?.(`${label(t)}: unpacking the root filesystem of ${file.name}`);
  const dir = await rootDir(work, 'root');
  try {
    await unpackDisk(join(cloudDir(ctx, t), file.name), dir, work);
  } catch (e) {
    throw new Error(`${file.name}: ${errorMessage(e)}`);
  }
  return [{ arch: file.arch, file: file.name, dir }];
};

// ---------------------------------------------------------------- scan, sign, publish

export const makeCloudScanStage = (opts: FileScanOptions = {}): StageFn<'scan'> =>
  fileScanStage(CLOUD, unpackDiskFiles, opts);
export const cloudScanStage: StageFn<'scan'> = makeCloudScanStage();
export const cloudSignStage: StageFn<'sign'> = fileSignStage(CLOUD);
export const cloudPublishStage: StageFn<'publish'> = filePublishStage(CLOUD);
