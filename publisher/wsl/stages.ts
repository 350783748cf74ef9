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
// scan: each file's root filesystem unpacked (scan.ts) and scanned as a container's is
//   (publisher/artifact/file-scan.ts): its RPMs against the catalog's openEuler advisory index, Trivy,
//   coverage, package lists and SBOM. OS packages nobody matched: "OS packages not scanned", never clean.
// sign: each file signed as a blob (publisher/sign/blob.ts): a Sigstore bundle with the configured key,
//   or keyless (Fulcio + Rekor) when an OIDC token is configured; the bundle goes to the blob store and
//   next to the file. No key and no token: skipped, published unsigned (as containers).
// publish: every file, its `.sha256` and its bundle to every `objectStorage:` target taking kind wsl
//   (publisher/objects/publish.ts); the record lists one object per arch and target.
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { assertAppId, assertTag, type Arch } from '../../catalog/names.ts';
import type { BuildRecord, VerifyRecord, WslRecipe } from '../../catalog/schema.ts';
import { fileScanStage, rootDir, type FileScanOptions, type UnpackFiles } from '../artifact/file-scan.ts';
import { filePublishStage } from '../artifact/file-publish.ts';
import { fileVerifyStage } from '../artifact/file-verify.ts';
import { fileSignStage } from '../artifact/file-sign.ts';
import {
  buildFailed,
  builtRecord,
  containerLayout,
  filesStillThere,
  firstLayout,
  isKind,
  notThisKind,
  recordedFiles,
  type BuiltFile,
  type FileKind,
} from '../artifact/files.ts';
import { errorMessage } from '../artifact/index.ts';
import { sha256File } from '../objects/s3.ts';
import { checkoutRecipes } from '../recipes/index.ts';
import type { StageContext, StageFn, StageTarget } from '../stage.ts';
import { buildWsl } from './build.ts';
import { zWslName } from './files.ts';
import { validateWslFile } from './validate.ts';

export { OIDC_TOKEN_ENV as WSL_OIDC_TOKEN_ENV } from '../artifact/files.ts';

const label = (t: StageTarget) => `${t.app.id}:${t.artifactId}`;
const wslDir = (ctx: Pick<StageContext, 'workDir'>, t: Pick<StageTarget, 'app' | 'artifactId'>) =>
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

/**
 * Fetch one arch of an image reference into an OCI layout (publisher/registry/skopeo.ts: argv only, with
 * the registry credentials wharf.yml or the containers auth file give); returns the layout.
 */
async function fetchImage(ctx: StageContext, ref: string, arch: Arch): Promise<string> {
  const { mkdir, rm } = await import('node:fs/promises');
  const { credentialsForRef } = await import('../registry/credentials.ts');
  const { skopeoFetch } = await import('../registry/skopeo.ts');
  const dir = join(
    ctx.workDir,
    'wsl-sources',
    createHash('sha256').update(ref).digest('hex').slice(0, 16),
    arch,
  );
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  ctx.log.progress?.(`skopeo copy ${ref} (${arch})`);
  const credentials = await credentialsForRef(ref, { config: ctx.config, env: ctx.env ?? process.env });
  await skopeoFetch(ref, {
    dir,
    arch,
    insecure: insecureHost(ctx, ref),
    ...(credentials ? { credentials } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  return dir;
}

/** The arches a WSL recipe is built for: its own, restricted by wharf.yml `arches.default` when set. */
export function wslArches(ctx: Pick<StageContext, 'config'>, recipe: WslRecipe): Arch[] {
  const d = ctx.config.arches?.default;
  return d ? recipe.arches.filter((a) => d.includes(a)) : [...recipe.arches];
}

/** The built files of an artifact's build record (older records: the single `file`, the target's arch). */
export function builtFiles(t: StageTarget, build: BuildRecord | undefined): BuiltFile[] {
  const files = recordedFiles(build);
  if (files.length || !build?.file || (build.status !== 'ok' && build.status !== 'unchanged')) return files;
  return [{ arch: build.arches?.[0] ?? t.arch, ...build.file }];
}

/** sha256 over the files' arch and sha256: what scan, sign and publish are about. */
export function filesDigest(files: readonly BuiltFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.arch} ${f.sha256}\n`);
  return `sha256:${h.digest('hex')}`;
}

/** What the shared verify, scan, sign and publish stages (publisher/artifact/file-*.ts) need to know of kind wsl. */
export const WSL: FileKind = {
  kind: 'wsl',
  dir: wslDir,
  files: builtFiles,
  digest: filesDigest,
  fileKey: 'arch',
  notVerified: 'the .wsl files have not passed verify',
  checkedAs: 'built and verified',
};

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
  if (src.kind === 'artifact') return containerLayout(ctx, src.app, src.tag, arch);
  try {
    return await firstLayout([await fetchImage(ctx, src.ref, arch)], arch);
  } catch (e) {
    return { error: errorMessage(e) };
  }
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

// ---------------------------------------------------------------- build

export const wslBuildStage: StageFn<'build'> = async (ctx, t) => {
  const started = Date.now();
  if (!isKind(WSL, t) || t.recipe.kind !== 'wsl') return notThisKind('build', WSL, t);
  const recipe = t.recipe;
  const name = wslName(t, recipe);
  const fail = (message: string) => buildFailed(ctx, started, message);
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
      if (await filesStillThere(wslDir(ctx, t), prevFiles))
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
    const record = builtRecord(
      ctx,
      started,
      {
        inputsDigest,
        base: { ref: sourceLabel(src), digest: first.manifestDigest },
        manifestDigest: first.manifestDigest,
      },
      built,
    );
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

/** Microsoft's checks on every file (validate.ts): each error a failed check, each warning a passed one. */
export const wslVerifyStage: StageFn<'verify'> = fileVerifyStage(WSL, async (ctx, t, files) => {
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
  return {
    checks,
    ...(failed ? { error: `${failedRules.length} WSL check(s) failed` } : {}),
    message: failed
      ? `verify ${label(t)}: ${failedRules.join(', ')}`
      : `${label(t)}: WSL checks passed for ${files.map((f) => f.arch).join(', ')} (${warnings} warning(s))`,
  };
});

// ---------------------------------------------------------------- scan, sign, publish

/** Each `.wsl`'s own root filesystem (scan.ts), one per arch. */
const unpackWslFiles: UnpackFiles = async (ctx, t, files, work) => {
  const { unpackWsl } = await import('./scan.ts');
  const roots = [];
  for (const f of files) {
    ctx.log.progress?.(`${label(t)}: unpacking ${f.name}`);
    const dir = await rootDir(work, f.arch);
    try {
      await unpackWsl(join(wslDir(ctx, t), f.name), dir);
    } catch (e) {
      throw new Error(`${f.name}: ${errorMessage(e)}`);
    }
    roots.push({ arch: f.arch, file: f.name, dir });
  }
  return roots;
};

export const createWslScanStage = (opts: FileScanOptions = {}): StageFn<'scan'> =>
  fileScanStage(WSL, unpackWslFiles, opts);
export const wslScanStage: StageFn<'scan'> = createWslScanStage();
export const wslSignStage: StageFn<'sign'> = fileSignStage(WSL);
export const wslPublishStage: StageFn<'publish'> = filePublishStage(WSL);
