// The pipeline stages of kind `wsl` (publisher/pipeline/stages.ts registers them): build, verify, scan,
// sign and publish. One artifact holds one `.wsl` file per arch.
//
// build: the recipe's `source` names a container artifact ("app:tag", or "tag" of the same app) or an
//   image reference with a repository path (the OS base image, fetched per arch with skopeo); for
//   every arch of the recipe (restricted by wharf.yml `arches.default`) that the container build
//   exported (its OCI layout `images/<app>/<tag>`, or `images/<app>/<tag>@<arch>` for the other arches
//   of a multi-arch build) or the reference has, buildWsl (the same code as `wharf wsl build`) writes
//   `<workDir>/wsl/<app>/<id>/<name>-<arch>.wsl`, with the recipe's icon and terminal profile (paths
//   in the app's directory of the recipe tree). Inputs (source manifest digests, recipe, arches, icon and
//   profile bytes, SOURCE_DATE_EPOCH) unchanged and the files still there with the recorded sha256:
//   "unchanged". No arch's layout there: failed, asking for the container build.
// verify: Microsoft's checks on every file (validate.ts); any error fails the artifact.
// scan: each file's RPM database (scan.ts) matched against the catalog's openEuler advisory index; the
//   findings, summary and scan policy as for containers. No index, no RPM database, or an OS release
//   the feed has no advisories for: `not-run` with the reason, never clean.
// sign: each file signed as a blob (publisher/sign/blob.ts): a Sigstore bundle with the configured key,
//   or keyless (Fulcio + Rekor) when an OIDC token is configured; the bundle goes to the blob store and
//   next to the file. No key and no token: skipped, published unsigned (as containers).
// publish: every file, its `.sha256` and its bundle to every `objectStorage:` target taking kind wsl
//   (publisher/objects/publish.ts); the record lists one object per arch and target.
import { createHash } from 'node:crypto';
import { readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { assertAppId, assertTag, type Arch } from '../../catalog/names.ts';
import type {
  BuildRecord,
  Finding,
  PublishRecord,
  ScanRecord,
  SignRecord,
  VerifyRecord,
  WslRecipe,
} from '../../catalog/schema.ts';
import { advisoriesDir } from '../advisories/config.ts';
import { cvrfToFinding } from '../advisories/coverage.ts';
import { loadIndex } from '../advisories/feed.ts';
import { normalizeRelease } from '../advisories/release.ts';
import { matchSets } from '../advisories/scan.ts';
import { errorMessage, loadArtifact } from '../artifact/index.ts';
import { sha256File } from '../objects/s3.ts';
import { checkoutRecipes } from '../recipes/index.ts';
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
import { buildWsl } from './build.ts';
import { zWslName } from './files.ts';
import { validateWslFile } from './validate.ts';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

type BuiltFile = NonNullable<BuildRecord['files']>[number];

const label = (t: StageTarget) => `${t.app.id}:${t.artifactId}`;
const wslDir = (ctx: Pick<StageContext, 'workDir'>, t: StageTarget) =>
  join(ctx.workDir, 'wsl', assertAppId(t.app.id), assertTag(t.artifactId));

/** The distribution name of a recipe (oobe.defaultName): `defaultName`, else `<flavor>-<id>`. */
export function wslName(t: StageTarget, recipe: WslRecipe): string {
  return recipe.defaultName ?? `${recipe.flavor ?? t.app.name}-${t.artifactId}`;
}

export function wslFilePath(
  ctx: Pick<StageContext, 'workDir'>,
  t: StageTarget,
  name: string,
  arch: Arch = t.arch,
): string {
  return join(wslDir(ctx, t), `${zWslName.parse(name)}-${arch}.wsl`);
}

/**
 * What a WSL recipe is made from: a container artifact of the catalog ("app:tag", or a tag of the same
 * app), or an image reference with a repository path (e.g. the OS base image
 * openeuler/openeuler:24.03-lts-sp4, or 127.0.0.1:5000/base:1), fetched with skopeo.
 */
export type WslSource = { kind: 'artifact'; app: string; tag: string } | { kind: 'image'; ref: string };

const IMAGE_REF_RE =
  /^(?:[a-z0-9.-]+(?::[0-9]{1,5})?\/)?[a-z0-9._-]+(?:\/[a-z0-9._-]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export function wslSource(t: StageTarget): WslSource {
  if (t.recipe.kind !== 'wsl') throw new Error('not a wsl recipe');
  const s = t.recipe.source;
  if (s.includes('/')) {
    if (!IMAGE_REF_RE.test(s)) throw new Error(`source ${JSON.stringify(s)} is not an image reference`);
    return { kind: 'image', ref: s };
  }
  const i = s.indexOf(':');
  return i === -1
    ? { kind: 'artifact', app: t.app.id, tag: assertTag(s) }
    : { kind: 'artifact', app: assertAppId(s.slice(0, i)), tag: assertTag(s.slice(i + 1)) };
}

const sourceLabel = (s: WslSource) => (s.kind === 'image' ? s.ref : `${s.app}:${s.tag}`);

/** Loopback registries and wharf.yml registries marked insecure are read over plain HTTP. */
function insecureHost(ctx: StageContext, ref: string): boolean {
  const host = ref.split('/')[0]!;
  if (!host.includes('.') && !host.includes(':') && host !== 'localhost') return false;
  const name = host.replace(/:[0-9]+$/, '');
  if (name === 'localhost' || name === '127.0.0.1') return true;
  return ctx.config.registries.some((r) => r.insecure && r.repository.split('/')[0] === host);
}

/** Fetch one arch of an image reference into an OCI layout (skopeo, argv only); returns the layout. */
async function fetchImage(ctx: StageContext, ref: string, arch: Arch): Promise<string> {
  const { execa } = await import('execa');
  const { mkdir, rm } = await import('node:fs/promises');
  const dir = join(
    ctx.workDir,
    'wsl-sources',
    createHash('sha256').update(ref).digest('hex').slice(0, 16),
    arch,
  );
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  ctx.log.progress?.(`skopeo copy ${ref} (${arch})`);
  const r = await execa(
    process.env.WHARF_SKOPEO ?? 'skopeo',
    [
      'copy',
      '--quiet',
      '--override-os',
      'linux',
      '--override-arch',
      arch,
      ...(insecureHost(ctx, ref) ? ['--src-tls-verify=false'] : []),
      `docker://${ref}`,
      `oci:${dir}`,
    ],
    { reject: false, timeout: 30 * 60_000, ...(ctx.signal ? { cancelSignal: ctx.signal } : {}) },
  );
  if (r.exitCode !== 0)
    throw new Error(
      `skopeo copy ${ref} (${arch}): ${String(r.stderr).trim().split('\n').slice(-3).join(' ')}`,
    );
  return dir;
}

/** The arches a WSL recipe is built for: its own, restricted by wharf.yml `arches.default` when set. */
export function wslArches(ctx: Pick<StageContext, 'config'>, recipe: WslRecipe): Arch[] {
  const d = ctx.config.arches?.default;
  return d ? recipe.arches.filter((a) => d.includes(a)) : [...recipe.arches];
}

/** The built files of an artifact's build record (older records: the single `file`, the target's arch). */
export function builtFiles(t: StageTarget, build: BuildRecord | undefined): BuiltFile[] {
  if (!build || (build.status !== 'ok' && build.status !== 'unchanged')) return [];
  if (build.files?.length) return build.files;
  return build.file ? [{ arch: build.arches?.[0] ?? t.arch, ...build.file }] : [];
}

/** sha256 over the files' arch and sha256: what scan, sign and publish are about. */
export function filesDigest(files: readonly BuiltFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.arch} ${f.sha256}\n`);
  return `sha256:${h.digest('hex')}`;
}

/**
 * The OCI layout holding the source image for `arch`: for a catalog artifact, the multi-arch build's
 * per-arch layout (`<tag>@<arch>`, publisher/build archLayoutDir) or the primary one; for an image
 * reference, that arch fetched with skopeo.
 */
async function sourceImage(
  ctx: StageContext,
  src: WslSource,
  arch: Arch,
): Promise<{ layout: string; manifestDigest: string } | { error: string }> {
  let candidates: string[];
  if (src.kind === 'image') {
    try {
      candidates = [await fetchImage(ctx, src.ref, arch)];
    } catch (e) {
      return { error: errorMessage(e) };
    }
  } else {
    const primary = imageLayoutDir(ctx, src.app, src.tag);
    candidates = [`${primary}@${arch}`, primary];
  }
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

/** The recipe's icon and terminal profile, read from the app's directory of the recipe checkout. */
async function recipeFiles(
  ctx: StageContext,
  t: StageTarget,
  recipe: WslRecipe,
): Promise<{ icon?: string; terminalProfile?: string; digests: Record<string, string> }> {
  if (!recipe.icon && !recipe.terminalProfile) return { digests: {} };
  const src = ctx.config.recipes;
  if (!src) throw new Error('the recipe names an icon or terminal profile but wharf.yml has no recipes.url');
  const checkout = await checkoutRecipes(src.url, src.ref ?? 'HEAD', ctx.workDir);
  const root = await realpath(checkout.dir);
  const base = t.app.source?.dir ? join(root, t.app.source.dir) : root;
  const out: { icon?: string; terminalProfile?: string; digests: Record<string, string> } = { digests: {} };
  for (const key of ['icon', 'terminalProfile'] as const) {
    const rel = recipe[key];
    if (!rel) continue;
    let p: string;
    try {
      p = await realpath(join(base, rel));
    } catch {
      throw new Error(`${key} ${rel}: not in the recipe tree (commit ${checkout.commit.slice(0, 12)})`);
    }
    if (!p.startsWith(root + sep)) throw new Error(`${key} ${rel} leaves the recipe tree`);
    out[key] = p;
    out.digests[key] = (await sha256File(p)).sha256;
  }
  return out;
}

const skip = <S extends 'build' | 'verify' | 'scan' | 'sign' | 'publish'>(stage: S, message: string) => ({
  stage,
  verdict: 'skipped' as const,
  status: 'skipped',
  message,
});

// ---------------------------------------------------------------- build

export const wslBuildStage: StageFn<'build'> = async (ctx, t) => {
  const started = Date.now();
  const at = new Date(started).toISOString();
  if (t.kind !== 'wsl' || t.recipe.kind !== 'wsl') return skip('build', `${label(t)}: not a wsl recipe`);
  const recipe = t.recipe;
  const name = wslName(t, recipe);
  const fail = (message: string, partial: Partial<BuildRecord> = {}): StageResult<'build'> => {
    ctx.log.warn(message);
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
  };
  try {
    const src = wslSource(t);
    const arches = wslArches(ctx, recipe);
    if (arches.length === 0)
      return fail(`build ${label(t)} failed: none of wharf.yml arches.default is in the recipe's arches`);
    const sources: Array<{ arch: Arch; layout: string; manifestDigest: string }> = [];
    const missing: Array<{ arch: Arch; error: string }> = [];
    for (const arch of arches) {
      const s = await sourceImage(ctx, src, arch);
      if ('error' in s) missing.push({ arch, error: s.error });
      else sources.push({ arch, ...s });
    }
    const notHere = () =>
      `the ${src.kind === 'image' ? 'image' : 'container image'} ${sourceLabel(src)} (${missing.map((m) => m.arch).join(', ')}) is not ${src.kind === 'image' ? 'available' : 'built here'}: ${[...new Set(missing.map((m) => m.error))].join('; ')}`;
    if (sources.length === 0) return fail(`build ${label(t)} failed: ${notHere()}`);
    const files = await recipeFiles(ctx, t, recipe);
    const env = ctx.env ?? process.env;
    const inputsDigest = `sha256:${createHash('sha256')
      .update(
        JSON.stringify({
          sources: sources.map((s) => [s.arch, s.manifestDigest]),
          recipe,
          files: files.digests,
          epoch: env.SOURCE_DATE_EPOCH ?? null,
        }),
      )
      .digest('hex')}`;
    const prev = t.artifact?.records.build;
    const prevFiles = builtFiles(t, prev);
    if (prev?.inputsDigest === inputsDigest && prevFiles.length === sources.length) {
      let same = true;
      for (const f of prevFiles) {
        const p = join(wslDir(ctx, t), f.name);
        const there = await stat(p).then(
          () => true,
          () => false,
        );
        if (!there || (await sha256File(p)).sha256 !== f.sha256) same = false;
      }
      if (same)
        return {
          stage: 'build',
          verdict: 'done',
          status: 'unchanged',
          unchanged: true,
          message: `${label(t)}: ${prevFiles.map((f) => f.name).join(', ')} unchanged`,
        };
    }
    const built: BuiltFile[] = [];
    for (const s of sources) {
      const out = wslFilePath(ctx, t, name, s.arch);
      ctx.log.progress?.(`${label(t)}: ${s.arch} → ${out}`);
      const r = await buildWsl({
        from: s.layout,
        arch: s.arch,
        digest: s.manifestDigest,
        name,
        out,
        compression: recipe.compression,
        defaultUid: recipe.defaultUid,
        env,
        ...(recipe.flavor ? { flavor: recipe.flavor } : {}),
        ...(files.icon ? { icon: files.icon } : {}),
        ...(files.terminalProfile ? { terminalProfile: files.terminalProfile } : {}),
      });
      ctx.log.info(`${label(t)}: ${out} (${r.size} bytes, sha256 ${r.sha256.slice(0, 12)})`);
      built.push({ arch: s.arch, name: out.slice(out.lastIndexOf('/') + 1), sha256: r.sha256, size: r.size });
    }
    const first = sources[0]!;
    const record: BuildRecord = {
      runId: ctx.runId,
      at,
      durationMs: Date.now() - started,
      status: 'ok',
      inputsDigest,
      base: { ref: sourceLabel(src), digest: first.manifestDigest },
      manifestDigest: first.manifestDigest,
      arches: built.map((f) => f.arch),
      file: { name: built[0]!.name, sha256: built[0]!.sha256, size: built[0]!.size },
      files: built,
    };
    const message = missing.length
      ? `${label(t)}: built ${record.arches!.join(', ')}; ${notHere()}`
      : undefined;
    if (message) ctx.log.warn(message);
    return {
      stage: 'build',
      verdict: 'done',
      status: 'ok',
      ...(message ? { message } : {}),
      write: { upsert: true, record },
    };
  } catch (e) {
    return fail(`build ${label(t)} failed: ${errorMessage(e)}`);
  }
};

// ---------------------------------------------------------------- verify

export const wslVerifyStage: StageFn<'verify'> = async (ctx, t) => {
  const started = Date.now();
  const at = new Date(started).toISOString();
  if (t.kind !== 'wsl' || t.recipe.kind !== 'wsl') return skip('verify', `${label(t)}: not a wsl recipe`);
  const files = builtFiles(t, t.artifact?.records.build);
  if (files.length === 0) return skip('verify', `verify ${label(t)}: not built yet`);
  const inputsDigest = filesDigest(files);
  const prev = t.artifact?.records.verify;
  if (prev?.status === 'passed' && prev.inputsDigest === inputsDigest)
    return { stage: 'verify', verdict: 'done', status: 'passed', unchanged: true };
  const checks: VerifyRecord['checks'] = [];
  const failedRules: string[] = [];
  let warnings = 0;
  const many = files.length > 1;
  for (const f of files) {
    const report = await validateWslFile(join(wslDir(ctx, t), f.name), { arch: f.arch }).catch(
      (e: unknown) => ({
        errors: [{ rule: 'read', message: errorMessage(e) }],
        warnings: [],
      }),
    );
    const n = (rule: string) => (many ? `${f.arch}:${rule}` : rule);
    for (const e of report.errors) {
      checks.push({ name: n(e.rule), status: 'failed', output: [e.message] });
      failedRules.push(n(e.rule));
    }
    for (const w of report.warnings)
      checks.push({ name: `warning:${n(w.rule)}`, status: 'passed', output: [w.message] });
    warnings += report.warnings.length;
  }
  if (checks.length === 0) checks.push({ name: 'wsl-validate', status: 'passed' });
  const failed = failedRules.length > 0;
  const record: VerifyRecord = {
    runId: ctx.runId,
    at,
    durationMs: Date.now() - started,
    status: failed ? 'failed' : 'passed',
    inputsDigest,
    checks,
    ...(failed ? { error: { message: `${failedRules.length} WSL check(s) failed` } } : {}),
  };
  const message = failed
    ? `verify ${label(t)}: ${failedRules.join(', ')}`
    : `${label(t)}: WSL checks passed for ${files.map((f) => f.arch).join(', ')} (${warnings} warning(s))`;
  if (failed) ctx.log.warn(message);
  return {
    stage: 'verify',
    verdict: failed ? 'failed' : 'done',
    status: record.status,
    message,
    write: { upsert: true, record },
  };
};

// ---------------------------------------------------------------- scan

const SEVERITY_KEYS = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;

function countFindings(findings: readonly Finding[]): NonNullable<ScanRecord['summary']> {
  const zero = () => ({ CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 });
  const total = zero();
  const fixable = zero();
  for (const f of findings) {
    const s = (SEVERITY_KEYS as readonly string[]).includes(f.severity) ? f.severity : 'UNKNOWN';
    total[s]++;
    if (f.fixed) fixable[s]++;
  }
  return { total, fixable };
}

export function createWslScanStage(opts: { now?: () => Date; force?: boolean } = {}): StageFn<'scan'> {
  return async (ctx, t) => {
    const started = Date.now();
    const now = (opts.now ?? (() => new Date()))();
    if (t.kind !== 'wsl' || t.recipe.kind !== 'wsl') return skip('scan', `${label(t)}: not a wsl recipe`);
    const art = t.artifact ?? (await loadArtifact(ctx, t));
    const files = builtFiles(t, art?.records.build);
    if (files.length === 0) return skip('scan', `scan ${label(t)}: not built yet`);
    const digest = filesDigest(files);
    const notRun = (reason: string) =>
      recordNotRun(ctx, { target: t, digest }, reason, { startedAt: started, now });

    // The same files scanned recently: re-apply the (possibly edited) policy to the stored findings.
    const prev = art?.records.scan;
    const ageH = prev ? (now.getTime() - Date.parse(prev.at)) / 3_600_000 : Infinity;
    if (
      !opts.force &&
      prev?.status === 'ok' &&
      prev.target === digest &&
      ageH < ctx.config.scanPolicy.rescanHours
    ) {
      const stored = await readFindings(ctx.blobs, prev);
      if (stored.ok) {
        const policy = evaluatePolicy(ctx.config.scanPolicy, t.app.id, stored.findings, now);
        const blocked = policy.blocked;
        const message = blocked ? `blocked: ${policy.reasons.join('; ')}` : 'scan of these files is recent';
        if (samePolicy(prev.policy, policy))
          return {
            stage: 'scan',
            verdict: blocked ? 'blocked' : 'done',
            status: 'unchanged',
            unchanged: true,
            message,
          };
        return {
          stage: 'scan',
          verdict: blocked ? 'blocked' : 'done',
          status: blocked ? 'blocked' : 'ok',
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
    const { wslPackages } = await import('./scan.ts');
    const sets = [];
    for (const f of files) {
      ctx.log.progress?.(`${label(t)}: packages of ${f.name}`);
      try {
        sets.push(await wslPackages(join(wslDir(ctx, t), f.name), f.arch));
      } catch (e) {
        return notRun(
          `OS packages not scanned: cannot read the RPM database of ${f.name}: ${errorMessage(e)}`,
        );
      }
    }
    const result = matchSets(sets, idx, release, { target: digest, dir, now });
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
    const policy = evaluatePolicy(ctx.config.scanPolicy, t.app.id, findings, now);
    const record: ScanRecord = {
      runId: ctx.runId,
      at: now.toISOString(),
      durationMs: Date.now() - started,
      status: 'ok',
      scanner: { name: 'wharf-cvrf', dbUpdatedAt: idx.syncedAt },
      target: digest,
      os: { family: 'openEuler', name: release },
      summary: countFindings(findings),
      findingsRef: await putFindings(ctx.blobs, findings),
      policy,
    };
    const packages = sets.map((s) => `${s.arch}: ${s.packages.length} packages`).join(', ');
    const message = `${label(t)}: ${summaryText(record)} (${packages})`;
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

export const wslScanStage: StageFn<'scan'> = createWslScanStage();

// ---------------------------------------------------------------- sign

/** Gate shared by sign and publish: built, verified for these files, scan not blocking. */
function gate(
  ctx: StageContext,
  t: StageTarget,
): { ok: true; files: BuiltFile[]; digest: string } | { ok: false; blockedBy: string; reason: string } {
  const r = t.artifact?.records;
  const files = builtFiles(t, r?.build);
  if (files.length === 0) return { ok: false, blockedBy: 'build', reason: 'not built yet' };
  const digest = filesDigest(files);
  if (r?.verify?.status !== 'passed' || r.verify.inputsDigest !== digest)
    return { ok: false, blockedBy: 'verify', reason: 'the .wsl files have not passed verify' };
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

export const WSL_OIDC_TOKEN_ENV = 'WHARF_OIDC_TOKEN';

export const wslSignStage: StageFn<'sign'> = async (ctx, t) => {
  const started = Date.now();
  if (t.kind !== 'wsl' || t.recipe.kind !== 'wsl') return skip('sign', `${label(t)}: not a wsl recipe`);
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
  const token = env[WSL_OIDC_TOKEN_ENV];
  let key;
  try {
    key = token ? null : await ctx.signer();
  } catch (e) {
    const message = errorMessage(e);
    return finish({ ...base(), status: 'failed', signatures: [], error: { message } }, 'failed', message);
  }
  if (!token && !key) {
    const message = `no signing key ($WHARF_SIGNING_KEY or $WHARF_SIGNING_KEY_FILE) and no $${WSL_OIDC_TOKEN_ENV}; published unsigned`;
    return finish({ ...base(), status: 'skipped', signatures: [], error: { message } }, 'done', message);
  }
  const prev = t.artifact?.records.sign;
  const mode = token ? 'keyless' : 'key';
  if (
    prev &&
    (prev.status === 'signed' || prev.status === 'unchanged') &&
    (mode === 'keyless' || prev.keyId === key!.keyId) &&
    prev.bundles?.length === g.files.length &&
    g.files.every((f) =>
      prev.bundles!.some((b) => b.arch === f.arch && b.sha256 === f.sha256 && b.mode === mode),
    )
  )
    return { stage: 'sign', verdict: 'done', status: 'unchanged', unchanged: true };
  try {
    const bundles: NonNullable<SignRecord['bundles']> = [];
    let identity: string | undefined;
    for (const f of g.files) {
      const path = join(wslDir(ctx, t), f.name);
      if ((await sha256File(path)).sha256 !== f.sha256)
        throw new Error(`${f.name} is not the file that was built and verified (rebuild it)`);
      const signed = token
        ? await signFileKeyless(path, { token, env })
        : { bundle: await signFile(path, key!), identity: undefined };
      identity = signed.identity ?? identity;
      const json = JSON.stringify(signed.bundle);
      await writeFile(`${path}.sigstore.json`, json);
      const ref = await ctx.blobs.put(json, BUNDLE_MEDIA_TYPE);
      const { uri: _uri, ...bundle } = ref;
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
    const message = `${label(t)}: signed ${bundles.map((b) => b.file).join(', ')} (${key ? `key ${key.keyId.slice(0, 16)}` : `keyless, ${identity ?? 'OIDC identity'}`})`;
    ctx.log.info(message);
    return finish(record, 'done', message);
  } catch (e) {
    const message = `sign ${label(t)} failed: ${errorMessage(e)}`;
    ctx.log.warn(message);
    return finish({ ...base(), status: 'failed', signatures: [], error: { message } }, 'failed', message);
  }
};

// ---------------------------------------------------------------- publish

export const wslPublishStage: StageFn<'publish'> = async (ctx, t) => {
  const started = Date.now();
  const at = new Date(started).toISOString();
  if (t.kind !== 'wsl' || t.recipe.kind !== 'wsl') return skip('publish', `${label(t)}: not a wsl recipe`);
  const r = t.artifact?.records;
  const g = gate(ctx, t);
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
  if (!g.ok) {
    const message = `${g.blockedBy}: ${g.reason}`;
    return {
      stage: 'publish',
      verdict: 'blocked',
      status: 'blocked',
      message,
      write: { record: record({ status: 'blocked', blockedBy: g.blockedBy, error: { message } }) },
    };
  }
  const sign = r?.sign;
  if (sign?.status === 'failed') {
    const message = `sign: signing failed: ${sign.error?.message ?? 'see record'}`;
    return {
      stage: 'publish',
      verdict: 'blocked',
      status: 'blocked',
      message,
      write: { record: record({ status: 'blocked', blockedBy: 'sign', error: { message } }) },
    };
  }
  const bundles =
    sign && (sign.status === 'signed' || sign.status === 'unchanged') ? (sign.bundles ?? []) : [];
  const { publishFile, targetsFor } = await import('../objects/publish.ts');
  const targets = targetsFor(ctx.config.objectStorage, 'wsl');
  if (targets.length === 0)
    return skip('publish', `${label(t)}: no objectStorage targets for kind wsl in wharf.yml`);
  const inputsDigest = `sha256:${createHash('sha256')
    .update(
      JSON.stringify({
        files: g.files.map((f) => [f.arch, f.sha256]),
        bundles: bundles.map((b) => [b.arch, b.bundle.sha256]),
        targets: targets.map((x) => [x.name, x.bucket, x.prefix, x.endpoint ?? null, x.publicUrl ?? null]),
      }),
    )
    .digest('hex')}`;
  const prev = r?.publish;
  if ((prev?.status === 'ok' || prev?.status === 'unchanged') && prev.inputsDigest === inputsDigest)
    return { stage: 'publish', verdict: 'done', status: 'unchanged', unchanged: true, complete: true };

  const objects: NonNullable<PublishRecord['objects']> = [];
  const failures: PublishRecord['targets'] = [];
  for (const f of g.files) {
    const path = join(wslDir(ctx, t), f.name);
    let bundlePath: string | undefined;
    const b = bundles.find((x) => x.arch === f.arch && x.sha256 === f.sha256);
    if (b) {
      bundlePath = `${path}.sigstore.json`;
      const here = await readFile(bundlePath).catch(() => null);
      if (!here || createHash('sha256').update(here).digest('hex') !== b.bundle.sha256) {
        const bytes = await ctx.blobs.get(b.bundle).catch(() => null);
        if (!bytes) {
          const message = `the bundle of ${f.name} is neither next to it nor in the blob store (run wharf sign again)`;
          return {
            stage: 'publish',
            verdict: 'failed',
            status: 'failed',
            message,
            write: { record: record({ status: 'failed', inputsDigest, error: { message } }) },
          };
        }
        await writeFile(bundlePath, bytes);
      }
    }
    const name = `${assertAppId(t.app.id)}/${assertTag(t.artifactId)}/${f.name}`;
    let res;
    try {
      res = await publishFile(
        targets,
        { file: path, name, sha256: f.sha256, ...(bundlePath ? { bundle: bundlePath } : {}) },
        {
          env: ctx.env ?? process.env,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          log: (m) => ctx.log.progress?.(m),
        },
      );
    } catch (e) {
      const message = `publish ${label(t)} failed: ${errorMessage(e)}`;
      ctx.log.warn(message);
      return {
        stage: 'publish',
        verdict: 'failed',
        status: 'failed',
        message,
        write: { record: record({ status: 'failed', inputsDigest, error: { message } }) },
      };
    }
    for (const o of res.objects)
      objects.push({
        url: o.url,
        sha256: o.sha256,
        size: o.size,
        target: o.target,
        arch: f.arch,
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
  if (status !== 'ok') ctx.log.warn(message);
  else ctx.log.info(message);
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
      // Not on every target: the artifact stays (or becomes) pending, so the next run tries again.
      pending: status === 'ok' ? ('clear' as const) : { set: `publish ${status}`, since: at },
    },
  };
};
