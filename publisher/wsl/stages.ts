// The pipeline stages of kind `wsl` (publisher/pipeline/stages.ts registers them): build and verify.
//
// build: the recipe's `source` names a container artifact ("app:tag", or "tag" of the same app); its
//   exported OCI layout (imageLayoutDir, written by the container build stage) is turned into
//   `<workDir>/wsl/<app>/<id>/<name>-<arch>.wsl` by buildWsl, the same code as `wharf wsl build`. Inputs
//   (source manifest digest, recipe, arch, SOURCE_DATE_EPOCH) unchanged and the file still there with the
//   recorded sha256: "unchanged". The source layout missing: failed, asking for the container build.
// verify: Microsoft's checks on that file (validate.ts); any error fails the artifact (nothing after runs).
//
// Not yet: scan (the rootfs's RPM database), sign (signFile) and publish (ObjectStore) stages, and the
// recipe's icon/terminalProfile files (they need the recipe checkout): see docs/wsl.md.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assertAppId, assertTag } from '../../catalog/names.ts';
import type { BuildRecord, VerifyRecord } from '../../catalog/schema.ts';
import { errorMessage } from '../artifact/index.ts';
import { sha256File } from '../objects/s3.ts';
import { openOciImage } from '../rootfs/index.ts';
import { imageLayoutDir, type StageContext, type StageFn, type StageTarget } from '../stage.ts';
import { buildWsl } from './build.ts';
import { zWslName } from './files.ts';
import { validateWslFile } from './validate.ts';

export function wslFilePath(ctx: Pick<StageContext, 'workDir'>, t: StageTarget, name: string): string {
  return join(
    ctx.workDir,
    'wsl',
    assertAppId(t.app.id),
    assertTag(t.artifactId),
    `${zWslName.parse(name)}-${t.arch}.wsl`,
  );
}

/** The container artifact a WSL recipe is made from: "app:tag" or a tag of the same app. */
export function wslSource(t: StageTarget): { app: string; tag: string } {
  if (t.recipe.kind !== 'wsl') throw new Error('not a wsl recipe');
  const s = t.recipe.source;
  const i = s.indexOf(':');
  return i === -1
    ? { app: t.app.id, tag: assertTag(s) }
    : { app: assertAppId(s.slice(0, i)), tag: assertTag(s.slice(i + 1)) };
}

const skip = <S extends 'build' | 'verify'>(stage: S, t: StageTarget) => ({
  stage,
  verdict: 'skipped' as const,
  status: 'skipped',
  message: `${stage} ${t.app.id}:${t.artifactId} skipped: not a wsl recipe`,
});

export const wslBuildStage: StageFn<'build'> = async (ctx, t) => {
  const started = Date.now();
  const at = new Date(started).toISOString();
  const label = `${t.app.id}:${t.artifactId}`;
  if (t.kind !== 'wsl' || t.recipe.kind !== 'wsl') return skip('build', t);
  const recipe = t.recipe;
  const name = recipe.defaultName ?? `${recipe.flavor ?? t.app.name}-${t.artifactId}`;
  const fail = (message: string, partial: Partial<BuildRecord> = {}) => {
    ctx.log.warn(message);
    return {
      stage: 'build' as const,
      verdict: 'failed' as const,
      status: 'failed',
      message,
      write: {
        upsert: true,
        record: {
          ...partial,
          runId: ctx.runId,
          at,
          durationMs: Date.now() - started,
          status: 'failed' as const,
          error: { message },
        },
        pending: { set: 'build failed', since: at },
      },
    };
  };
  try {
    const src = wslSource(t);
    const layout = imageLayoutDir(ctx, src.app, src.tag);
    let manifestDigest: string;
    try {
      manifestDigest = (await openOciImage(layout, { arch: t.arch })).manifestDigest;
    } catch (e) {
      return fail(
        `build ${label} failed: the container image ${src.app}:${src.tag} (${t.arch}) is not built here: ${errorMessage(e)}`,
      );
    }
    const env = ctx.env ?? process.env;
    const inputsDigest = `sha256:${createHash('sha256')
      .update(JSON.stringify({ manifestDigest, recipe, arch: t.arch, epoch: env.SOURCE_DATE_EPOCH ?? null }))
      .digest('hex')}`;
    const out = wslFilePath(ctx, t, name);
    const prev = t.artifact?.records.build;
    if (
      prev &&
      (prev.status === 'ok' || prev.status === 'unchanged') &&
      prev.inputsDigest === inputsDigest &&
      prev.file
    ) {
      const there = await stat(out).then(
        () => true,
        () => false,
      );
      if (there && (await sha256File(out)).sha256 === prev.file.sha256) {
        return {
          stage: 'build',
          verdict: 'done',
          status: 'unchanged',
          unchanged: true,
          message: `${label}: ${out} unchanged`,
        };
      }
    }
    const r = await buildWsl({
      from: layout,
      arch: t.arch,
      name,
      out,
      compression: recipe.compression,
      defaultUid: recipe.defaultUid,
      env,
      ...(recipe.flavor ? { flavor: recipe.flavor } : {}),
    });
    ctx.log.info(`${label}: ${out} (${r.size} bytes, sha256 ${r.sha256.slice(0, 12)})`);
    const record: BuildRecord = {
      runId: ctx.runId,
      at,
      durationMs: Date.now() - started,
      status: 'ok',
      inputsDigest,
      base: { ref: `${src.app}:${src.tag}`, digest: manifestDigest },
      manifestDigest,
      arches: [t.arch],
      file: { name: out.slice(out.lastIndexOf('/') + 1), sha256: r.sha256, size: r.size },
    };
    return { stage: 'build', verdict: 'done', status: 'ok', write: { upsert: true, record } };
  } catch (e) {
    return fail(`build ${label} failed: ${errorMessage(e)}`);
  }
};

export const wslVerifyStage: StageFn<'verify'> = async (ctx, t) => {
  const started = Date.now();
  const at = new Date(started).toISOString();
  const label = `${t.app.id}:${t.artifactId}`;
  if (t.kind !== 'wsl' || t.recipe.kind !== 'wsl') return skip('verify', t);
  const build = t.artifact?.records.build;
  if (!build?.file)
    return {
      stage: 'verify',
      verdict: 'skipped',
      status: 'skipped',
      message: `verify ${label}: not built yet`,
    };
  const path = join(ctx.workDir, 'wsl', assertAppId(t.app.id), assertTag(t.artifactId), build.file.name);
  const inputsDigest = `sha256:${build.file.sha256}`;
  const prev = t.artifact?.records.verify;
  if (prev?.status === 'passed' && prev.inputsDigest === inputsDigest)
    return { stage: 'verify', verdict: 'done', status: 'passed', unchanged: true };
  const report = await validateWslFile(path, { arch: t.arch }).catch((e: unknown) => ({
    errors: [{ rule: 'read', message: errorMessage(e) }],
    warnings: [],
  }));
  const checks: VerifyRecord['checks'] = [
    ...report.errors.map((f) => ({ name: f.rule, status: 'failed' as const, output: [f.message] })),
    ...report.warnings.map((f) => ({
      name: `warning:${f.rule}`,
      status: 'passed' as const,
      output: [f.message],
    })),
  ];
  if (checks.length === 0) checks.push({ name: 'wsl-validate', status: 'passed' });
  const failed = report.errors.length > 0;
  const record: VerifyRecord = {
    runId: ctx.runId,
    at,
    durationMs: Date.now() - started,
    status: failed ? 'failed' : 'passed',
    inputsDigest,
    checks,
    ...(failed ? { error: { message: `${report.errors.length} WSL check(s) failed` } } : {}),
  };
  const message = failed
    ? `verify ${label}: ${report.errors.map((f) => f.rule).join(', ')}`
    : `${label}: WSL checks passed (${report.warnings.length} warning(s))`;
  if (failed) ctx.log.warn(message);
  return {
    stage: 'verify',
    verdict: failed ? 'failed' : 'done',
    status: record.status,
    message,
    write: { upsert: true, record },
  };
};
