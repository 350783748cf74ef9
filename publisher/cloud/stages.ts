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
// scan: the RPM database read out of the disk's root ext4 with debugfs (the bytes that are published)
//   through the same advisory matcher as containers and WSL images; no database or no index: not-run.
// sign: a Sigstore bundle per file (publisher/sign/blob.ts), kept in the blob store and beside the file.
// publish: every file (+ .sha256 + bundle) to every objectStorage target taking kind cloud
//   (publisher/objects/publish.ts): one record object per target and format {target, format, bucket,
//   key, url, size, sha256}, which the cloud import stage (publisher/cloud/providers) reads.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { assertAppId, assertTag, type Arch } from '../../catalog/names.ts';
import type {
  BuildRecord,
  CloudRecipe,
  Finding,
  PublishRecord,
  ScanRecord,
  SignRecord,
  VerifyRecord,
} from '../../catalog/schema.ts';
import { advisoriesDir } from '../advisories/config.ts';
import { cvrfToFinding } from '../advisories/coverage.ts';
import { loadIndex } from '../advisories/feed.ts';
import { readRootfsPackages, type PackageSet } from '../advisories/packages.ts';
import { normalizeRelease } from '../advisories/release.ts';
import { matchSets } from '../advisories/scan.ts';
import { errorMessage, loadArtifact } from '../artifact/index.ts';
import { sha256File } from '../objects/s3.ts';
import { openOciImage } from '../rootfs/index.ts';
import { putFindings, readFindings } from '../scan/findings.ts';
import { evaluatePolicy, samePolicy } from '../scan/policy.ts';
import { recordNotRun, summaryText } from '../scan/record.ts';
import {
  imageLayoutDir,
  type StageContext,
  type StageFn,
  type StageResult,
  type StageTarget,
} from '../stage.ts';
import { buildFromBase, fetchBaseImage, findRootPartition } from './base.ts';
import { bootTest } from './boot-test.ts';
import { buildCloudImage, type CloudImageFile } from './build.ts';
import { imageInfo, toRaw, type CloudFormat } from './convert.ts';
import { Ext4Editor } from './ext4.ts';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** Seconds a boot test may take (default 600: full systemd under TCG on a busy machine). */
export const BOOT_TIMEOUT_ENV = 'WHARF_CLOUD_BOOT_TIMEOUT';

type BuiltFile = NonNullable<BuildRecord['files']>[number];
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

export function cloudFiles(build: BuildRecord | undefined): BuiltFile[] {
  if (!build || (build.status !== 'ok' && build.status !== 'unchanged')) return [];
  return build.files ?? [];
}

export function filesDigest(files: readonly BuiltFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.arch} ${f.format ?? ''} ${f.sha256}\n`);
  return `sha256:${h.digest('hex')}`;
}

const skip = <S extends 'build' | 'verify' | 'scan' | 'sign' | 'publish'>(stage: S, message: string) => ({
  stage,
  verdict: 'skipped' as const,
  status: 'skipped',
  message,
});

const notCloud = (t: StageTarget) => t.kind !== 'cloud' || t.recipe.kind !== 'cloud';

// ---------------------------------------------------------------- build

export const cloudBuildStage: StageFn<'build'> = async (ctx, t) => {
  const started = Date.now();
  const at = new Date(started).toISOString();
  if (notCloud(t) || t.recipe.kind !== 'cloud') return skip('build', `${label(t)}: not a cloud recipe`);
  const recipe = t.recipe;
  const fail = (message: string): StageResult<'build'> => {
    ctx.log.warn(message);
    return {
      stage: 'build',
      verdict: 'failed',
      status: 'failed',
      message,
      write: {
        upsert: true,
        record: {
          runId: ctx.runId,
          at,
          durationMs: Date.now() - started,
          status: 'failed',
          error: { message },
        },
        pending: { set: 'build failed', since: at },
      },
    };
  };
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
      const primary = imageLayoutDir(ctx, src.app, src.tag);
      let found: { layout: string; digest: string } | undefined;
      let last = '';
      for (const l of [`${primary}@${t.arch}`, primary]) {
        try {
          found = { layout: l, digest: (await openOciImage(l, { arch: t.arch })).manifestDigest };
          break;
        } catch (e) {
          last = errorMessage(e);
        }
      }
      if (!found)
        return fail(
          `build ${label(t)} failed: the container image ${src.app}:${src.tag} (${t.arch}) is not built here: ${last}`,
        );
      layout = found.layout;
      base = { ref: `${src.app}:${src.tag}`, digest: found.digest as `sha256:${string}` };
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
      let same = true;
      for (const f of prev.files) {
        const p = join(outDir, f.name);
        if (
          !(await stat(p).then(
            () => true,
            () => false,
          )) ||
          (await sha256File(p)).sha256 !== f.sha256
        )
          same = false;
      }
      if (same)
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
    }));
    ctx.log.info(`${label(t)}: ${files.map((f) => `${f.name} (${f.size} bytes)`).join(', ')}`);
    const record: BuildRecord = {
      runId: ctx.runId,
      at,
      durationMs: Date.now() - started,
      status: 'ok',
      inputsDigest,
      base,
      ...(layout ? { manifestDigest: base.digest } : {}),
      arches: [t.arch],
      file: { name: files[0]!.name, sha256: files[0]!.sha256, size: files[0]!.size },
      files: recorded,
    };
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
  return async (ctx, t) => {
    const started = Date.now();
    const at = new Date(started).toISOString();
    if (notCloud(t)) return skip('verify', `${label(t)}: not a cloud recipe`);
    const files = cloudFiles(t.artifact?.records.build);
    if (files.length === 0) return skip('verify', `verify ${label(t)}: not built yet`);
    const inputsDigest = filesDigest(files);
    const prev = t.artifact?.records.verify;
    if (prev?.status === 'passed' && prev.inputsDigest === inputsDigest)
      return { stage: 'verify', verdict: 'done', status: 'passed', unchanged: true };
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
    const failed = checks.some((c) => c.status !== 'passed');
    const record: VerifyRecord = {
      runId: ctx.runId,
      at,
      durationMs: Date.now() - started,
      status: failed ? 'failed' : 'passed',
      inputsDigest,
      checks,
      bootTest: bootRecord,
      ...(failed
        ? {
            error: {
              message: checks
                .filter((c) => c.status !== 'passed')
                .map((c) => `${c.name}: ${c.output?.[0] ?? c.status}`)
                .join('; '),
            },
          }
        : {}),
    };
    const message = failed
      ? `verify ${label(t)}: ${record.error!.message}`
      : `${label(t)}: booted ${bootFile.name} in ${bootRecord.seconds} s (${bootRecord.accel})`;
    if (failed) ctx.log.warn(message);
    else ctx.log.info(message);
    return {
      stage: 'verify',
      verdict: failed ? 'failed' : 'done',
      status: record.status,
      message,
      write: { upsert: true, record },
    };
  };
}

export const cloudVerifyStage = makeCloudVerifyStage();

// ---------------------------------------------------------------- scan

const DB_DIRS = ['var/lib/rpm', 'usr/lib/sysimage/rpm'];
const DB_FILES = ['rpmdb.sqlite', 'rpmdb.sqlite-wal', 'rpmdb.sqlite-shm', 'Packages'];

/** The installed packages in a disk image's RPM database, read from its root ext4 with debugfs. */
export async function diskPackages(image: string, arch: Arch): Promise<PackageSet> {
  const work = await mkdtemp(join(tmpdir(), 'wharf-cloud-rpmdb-'));
  try {
    let raw = image;
    if ((await imageInfo(image)).format !== 'raw') {
      raw = join(work, 'disk.raw');
      await toRaw(image, raw);
    }
    const { offset } = await findRootPartition(raw);
    const ed = new Ext4Editor(raw, offset);
    const root = join(work, 'root');
    let found = false;
    for (const d of DB_DIRS)
      for (const f of DB_FILES) {
        const data = await ed.read(`${d}/${f}`);
        if (!data) continue;
        const out = join(root, d, f);
        await mkdir(dirname(out), { recursive: true });
        await writeFile(out, data);
        found = true;
      }
    if (!found) return { arch, packages: [], noRpmdb: 'no RPM database in the disk image' };
    return await readRootfsPackages(root, { arch });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const SEVERITY_KEYS = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;

export function makeCloudScanStage(opts: { now?: () => Date } = {}): StageFn<'scan'> {
  return async (ctx, t) => {
    const started = Date.now();
    const now = (opts.now ?? (() => new Date()))();
    if (notCloud(t)) return skip('scan', `${label(t)}: not a cloud recipe`);
    const art = t.artifact ?? (await loadArtifact(ctx, t));
    const files = cloudFiles(art?.records.build);
    if (files.length === 0) return skip('scan', `scan ${label(t)}: not built yet`);
    const digest = filesDigest(files);
    const notRun = (reason: string) =>
      recordNotRun(ctx, { target: t, digest }, reason, { startedAt: started, now });
    // The same files scanned recently, and the policy gives the same verdict: nothing to do.
    const prev = art?.records.scan;
    const ageH = prev ? (now.getTime() - Date.parse(prev.at)) / 3_600_000 : Infinity;
    if (prev?.status === 'ok' && prev.target === digest && ageH < ctx.config.scanPolicy.rescanHours) {
      const stored = await readFindings(ctx.blobs, prev);
      if (stored.ok) {
        const policy = evaluatePolicy(ctx.config.scanPolicy, t.app.id, stored.findings, now);
        const verdict = policy.blocked ? ('blocked' as const) : ('done' as const);
        const message = policy.blocked
          ? `blocked: ${policy.reasons.join('; ')}`
          : 'scan of these files is recent';
        if (samePolicy(prev.policy, policy))
          return { stage: 'scan', verdict, status: 'unchanged', unchanged: true, message };
        return {
          stage: 'scan',
          verdict,
          status: policy.blocked ? 'blocked' : 'ok',
          message,
          write: {
            record: { ...prev, runId: ctx.runId, policy },
            subject: `scan: ${label(t)} policy re-applied`,
          },
        };
      }
    }
    const release = normalizeRelease(t.recipe.osVersion);
    if (!release) return notRun(`OS packages not scanned: ${t.recipe.osVersion} is not an openEuler release`);
    const dir = advisoriesDir(ctx.store.dir, ctx.config.advisories);
    const idx = await loadIndex(dir).catch(() => undefined);
    if (!idx)
      return notRun(`OS packages not scanned: no advisory index in ${dir} (run wharf advisories sync)`);
    const file = BOOT_ORDER.map((fmt) => files.find((f) => f.format === fmt)).find(Boolean) ?? files[0]!;
    let set: PackageSet;
    try {
      set = await diskPackages(join(cloudDir(ctx, t), file.name), t.arch);
    } catch (e) {
      return notRun(
        `OS packages not scanned: cannot read the RPM database of ${file.name}: ${errorMessage(e)}`,
      );
    }
    const result = matchSets([set], idx, release, { target: digest, dir, now });
    if (!result.coverage.osScanned) return notRun(result.coverage.summary.split(';')[0]!);
    const findings: Finding[] = result.arches.flatMap((a) =>
      a.findings.map((f) => {
        const m = cvrfToFinding(f, `${label(t)} (${a.arch})`);
        return {
          id: m.id,
          pkg: m.pkg,
          installed: m.installed,
          ...(m.fixed ? { fixed: m.fixed } : {}),
          severity: m.severity,
          ...(m.status ? { status: m.status } : {}),
          ...(m.target ? { target: m.target } : {}),
          ...(m.title ? { title: m.title } : {}),
          ...(m.url ? { url: m.url } : {}),
        };
      }),
    );
    const zero = () => ({ CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 });
    const summary = { total: zero(), fixable: zero() };
    for (const f of findings) {
      const s = (SEVERITY_KEYS as readonly string[]).includes(f.severity) ? f.severity : 'UNKNOWN';
      summary.total[s]++;
      if (f.fixed) summary.fixable[s]++;
    }
    const policy = evaluatePolicy(ctx.config.scanPolicy, t.app.id, findings, now);
    const record: ScanRecord = {
      runId: ctx.runId,
      at: now.toISOString(),
      durationMs: Date.now() - started,
      status: 'ok',
      scanner: { name: 'wharf-cvrf', dbUpdatedAt: idx.syncedAt },
      target: digest,
      os: { family: 'openEuler', name: release },
      summary,
      findingsRef: await putFindings(ctx.blobs, findings),
      policy,
    };
    const message = `${label(t)}: ${summaryText(record)} (${set.packages.length} packages in ${file.name})`;
    ctx.log.info(message);
    return {
      stage: 'scan',
      verdict: policy.blocked ? 'blocked' : 'done',
      status: policy.blocked ? 'blocked' : 'ok',
      message: policy.blocked ? `blocked: ${policy.reasons.join('; ')}` : message,
      write: { record, subject: `scan: ${label(t)} ${summaryText(record)}` },
    };
  };
}

export const cloudScanStage = makeCloudScanStage();

// ---------------------------------------------------------------- sign and publish

/** Built, booted for these files, and not blocked by the scan policy. */
function gate(
  ctx: StageContext,
  t: StageTarget,
): { ok: true; files: BuiltFile[] } | { ok: false; blockedBy: string; reason: string } {
  const r = t.artifact?.records;
  const files = cloudFiles(r?.build);
  if (files.length === 0) return { ok: false, blockedBy: 'build', reason: 'not built yet' };
  const digest = filesDigest(files);
  if (r?.verify?.status !== 'passed' || r.verify.inputsDigest !== digest)
    return { ok: false, blockedBy: 'verify', reason: 'these disk images have not passed the boot test' };
  if (r.scan?.policy?.blocked)
    return {
      ok: false,
      blockedBy: 'scan',
      reason: r.scan.policy.reasons.join('; ') || 'blocked by the scan policy',
    };
  if (ctx.config.scanPolicy.requireScan && (r.scan?.status !== 'ok' || r.scan.target !== digest))
    return {
      ok: false,
      blockedBy: 'scan',
      reason: 'scanPolicy.requireScan: these files have no completed scan',
    };
  return { ok: true, files };
}

export const CLOUD_OIDC_TOKEN_ENV = 'WHARF_OIDC_TOKEN';

export const cloudSignStage: StageFn<'sign'> = async (ctx, t) => {
  const started = Date.now();
  if (notCloud(t)) return skip('sign', `${label(t)}: not a cloud recipe`);
  const base = () => ({ runId: ctx.runId, at: new Date().toISOString(), durationMs: Date.now() - started });
  const finish = (
    record: SignRecord,
    verdict: 'done' | 'failed' | 'blocked',
    message?: string,
  ): StageResult<'sign'> => ({
    stage: 'sign',
    verdict,
    status: record.status,
    ...(message ? { message } : {}),
    write: { record },
  });
  const g = gate(ctx, t);
  if (!g.ok) {
    const message = `not signed: ${g.blockedBy}: ${g.reason}`;
    return finish({ ...base(), status: 'skipped', signatures: [], error: { message } }, 'blocked', message);
  }
  const env = ctx.env ?? process.env;
  const { signFile, signFileKeyless } = await import('../sign/blob.ts');
  const token = env[CLOUD_OIDC_TOKEN_ENV];
  let key;
  try {
    key = token ? null : await ctx.signer();
  } catch (e) {
    const message = errorMessage(e);
    return finish({ ...base(), status: 'failed', signatures: [], error: { message } }, 'failed', message);
  }
  if (!token && !key) {
    const message = `no signing key ($WHARF_SIGNING_KEY or $WHARF_SIGNING_KEY_FILE) and no $${CLOUD_OIDC_TOKEN_ENV}; published unsigned`;
    return finish({ ...base(), status: 'skipped', signatures: [], error: { message } }, 'done', message);
  }
  const mode = token ? 'keyless' : 'key';
  const prev = t.artifact?.records.sign;
  if (
    prev &&
    (prev.status === 'signed' || prev.status === 'unchanged') &&
    (mode === 'keyless' || prev.keyId === key!.keyId) &&
    prev.bundles?.length === g.files.length &&
    g.files.every((f) =>
      prev.bundles!.some((b) => b.file === f.name && b.sha256 === f.sha256 && b.mode === mode),
    )
  )
    return { stage: 'sign', verdict: 'done', status: 'unchanged', unchanged: true };
  try {
    const bundles: NonNullable<SignRecord['bundles']> = [];
    for (const f of g.files) {
      const path = join(cloudDir(ctx, t), f.name);
      if ((await sha256File(path)).sha256 !== f.sha256)
        throw new Error(`${f.name} is not the file that was built and booted (rebuild it)`);
      const signed = token
        ? await signFileKeyless(path, { token, env })
        : { bundle: await signFile(path, key!), identity: undefined };
      const json = JSON.stringify(signed.bundle);
      await writeFile(`${path}.sigstore.json`, json);
      const { uri: _uri, ...bundle } = await ctx.blobs.put(json, BUNDLE_MEDIA_TYPE);
      bundles.push({
        arch: f.arch,
        file: f.name,
        sha256: f.sha256,
        bundle,
        mode,
        ...(signed.identity ? { identity: signed.identity } : {}),
      });
    }
    const record: SignRecord = {
      ...base(),
      status: 'signed',
      ...(key ? { keyId: key.keyId } : {}),
      signatures: [],
      bundles,
    };
    const message = `${label(t)}: signed ${bundles.map((b) => b.file).join(', ')}`;
    ctx.log.info(message);
    return finish(record, 'done', message);
  } catch (e) {
    const message = `sign ${label(t)} failed: ${errorMessage(e)}`;
    ctx.log.warn(message);
    return finish({ ...base(), status: 'failed', signatures: [], error: { message } }, 'failed', message);
  }
};

const CONTENT_TYPE: Record<CloudFormat, string> = {
  qcow2: 'application/x-qemu-disk',
  raw: 'application/octet-stream',
  vhd: 'application/x-vhd',
  vmdk: 'application/x-vmdk',
};

export const cloudPublishStage: StageFn<'publish'> = async (ctx, t) => {
  const started = Date.now();
  const at = new Date(started).toISOString();
  if (notCloud(t)) return skip('publish', `${label(t)}: not a cloud recipe`);
  const r = t.artifact?.records;
  const record = (
    p: Omit<PublishRecord, 'runId' | 'at' | 'durationMs' | 'targets'> & {
      targets?: PublishRecord['targets'];
    },
  ): PublishRecord => ({
    runId: ctx.runId,
    at,
    durationMs: Date.now() - started,
    targets: [],
    ...p,
  });
  const blocked = (blockedBy: string, message: string): StageResult<'publish'> => ({
    stage: 'publish',
    verdict: 'blocked',
    status: 'blocked',
    message,
    write: { record: record({ status: 'blocked', blockedBy, error: { message } }) },
  });
  const g = gate(ctx, t);
  if (!g.ok) return blocked(g.blockedBy, `${g.blockedBy}: ${g.reason}`);
  const sign = r?.sign;
  if (sign?.status === 'failed')
    return blocked('sign', `sign: signing failed: ${sign.error?.message ?? 'see record'}`);
  const bundles =
    sign && (sign.status === 'signed' || sign.status === 'unchanged') ? (sign.bundles ?? []) : [];
  const { publishFile, targetsFor } = await import('../objects/publish.ts');
  const targets = targetsFor(ctx.config.objectStorage, 'cloud');
  if (targets.length === 0)
    return skip('publish', `${label(t)}: no objectStorage targets for kind cloud in wharf.yml`);
  const inputsDigest = `sha256:${createHash('sha256')
    .update(
      JSON.stringify({
        files: g.files.map((f) => [f.name, f.sha256]),
        bundles: bundles.map((b) => [b.file, b.bundle.sha256]),
        targets: targets.map((x) => [x.name, x.bucket, x.prefix, x.endpoint ?? null, x.publicUrl ?? null]),
      }),
    )
    .digest('hex')}`;
  const prev = r?.publish;
  if ((prev?.status === 'ok' || prev?.status === 'unchanged') && prev.inputsDigest === inputsDigest)
    return { stage: 'publish', verdict: 'done', status: 'unchanged', unchanged: true, complete: true };
  const objects: NonNullable<PublishRecord['objects']> = [];
  const failures: PublishRecord['targets'] = [];
  const fail = (message: string): StageResult<'publish'> => {
    ctx.log.warn(message);
    return {
      stage: 'publish',
      verdict: 'failed',
      status: 'failed',
      message,
      write: { record: record({ status: 'failed', inputsDigest, error: { message } }) },
    };
  };
  for (const f of g.files) {
    const path = join(cloudDir(ctx, t), f.name);
    let bundlePath: string | undefined;
    const b = bundles.find((x) => x.file === f.name && x.sha256 === f.sha256);
    if (b) {
      bundlePath = `${path}.sigstore.json`;
      const here = await readFile(bundlePath).catch(() => null);
      if (!here || createHash('sha256').update(here).digest('hex') !== b.bundle.sha256) {
        const bytes = await ctx.blobs.get(b.bundle).catch(() => null);
        if (!bytes)
          return fail(
            `the bundle of ${f.name} is neither next to it nor in the blob store (run wharf sign again)`,
          );
        await writeFile(bundlePath, bytes);
      }
    }
    const name = `${assertAppId(t.app.id)}/${assertTag(t.artifactId)}/${f.name}`;
    let res;
    try {
      res = await publishFile(
        targets,
        {
          file: path,
          name,
          sha256: f.sha256,
          ...(f.format ? { contentType: CONTENT_TYPE[f.format] } : {}),
          ...(bundlePath ? { bundle: bundlePath } : {}),
        },
        {
          env: ctx.env ?? process.env,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          log: (m) => ctx.log.progress?.(m),
        },
      );
    } catch (e) {
      return fail(`publish ${label(t)} failed: ${errorMessage(e)}`);
    }
    for (const o of res.objects)
      objects.push({
        url: o.url,
        sha256: o.sha256,
        size: o.size,
        target: o.target,
        arch: f.arch,
        ...(f.format ? { format: f.format } : {}),
        bucket: o.bucket,
        key: o.key,
        checksumUrl: o.checksumUrl,
        ...(o.signatureUrl ? { signatureUrl: o.signatureUrl } : {}),
      });
    for (const x of res.failed)
      failures.push({ target: x.target, ref: name, status: 'failed', error: x.error });
  }
  const status: PublishRecord['status'] =
    failures.length === 0 ? 'ok' : objects.length === 0 ? 'failed' : 'partial';
  const message =
    status === 'ok'
      ? `${label(t)}: ${objects.length} object(s) on ${targets.map((x) => x.name).join(', ')}`
      : `publish ${label(t)} ${status}: ${failures.map((x) => `${x.target}: ${x.error}`).join('; ')}`;
  if (status === 'ok') ctx.log.info(message);
  else ctx.log.warn(message);
  return {
    stage: 'publish',
    verdict: status === 'ok' ? 'done' : 'failed',
    status,
    message,
    ...(status === 'ok' ? { complete: true } : {}),
    write: {
      record: record({
        status,
        inputsDigest,
        targets: failures,
        objects,
        ...(status !== 'ok' ? { error: { message } } : {}),
      }),
      pending: status === 'ok' ? ('clear' as const) : { set: `publish ${status}`, since: at },
    },
  };
};
