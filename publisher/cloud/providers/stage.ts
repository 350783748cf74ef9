// The import stage of kind cloud: after publish, each `clouds:` target of wharf.yml gets the disk the
// publish stage uploaded to its objectStorage target (the first format the cloud takes) imported as an
// image, and one entry in records.import: {target, provider, region, taskId, state, imageId, error}.
//
// One run of the stage never waits for a cloud: it starts the tasks that have none (and commits their
// ids), and polls the ones a previous run started. While any import is running the record says
// `running` and the artifact stays pending, so the daemon's next pipeline run (or `wharf cloud import
// --wait`) polls again; a restarted daemon finds the task ids in the record and never starts a second
// import of the same object. Credentials come from the environment variables a target names; errors
// are recorded with the secret values scrubbed.
import type { CloudTarget } from '../../../catalog/config.ts';
import type { BuildRecord, ImportRecord, ImportTarget, PublishRecord } from '../../../catalog/schema.ts';
import {
  targetLabel,
  type StageContext,
  type StageFn,
  type StageResult,
  type StageTarget,
} from '../../stage.ts';
import { PROVIDERS } from './registry.ts';
import { credentialsFor, type DiskFormat, type ImportInput } from './types.ts';

type PublishedObject = NonNullable<PublishRecord['objects']>[number];

/** A fixed VHD is the disk plus a 512-byte footer (publisher/cloud/convert.ts writes only fixed ones). */
const VHD_FOOTER = 512;

/**
 * The virtual size of the published disk: the build record's, for the file with this object's sha256;
 * else, for a build record that predates it, the raw object's size or the fixed VHD's less its footer.
 */
export function virtualSizeOf(obj: PublishedObject, build: BuildRecord | undefined): number | undefined {
  const file = (build?.files ?? []).find(
    (f) => f.sha256 === obj.sha256 && (!obj.format || !f.format || f.format === obj.format),
  );
  if (file?.virtualSize !== undefined) return file.virtualSize;
  if (obj.format === 'raw') return obj.size;
  if (obj.format === 'vhd' && obj.size > VHD_FOOTER) return obj.size - VHD_FOOTER;
  return undefined;
}

function imageName(t: CloudTarget, st: StageTarget): string {
  return t.imageName
    .replaceAll('{app}', st.app.id)
    .replaceAll('{id}', st.artifactId)
    .replaceAll('{version}', st.recipe.version)
    .replaceAll('{arch}', st.arch);
}

/** Remove every secret value of the environment a target names from a message. */
function scrub(msg: string, t: CloudTarget, env: NodeJS.ProcessEnv): string {
  let out = msg;
  for (const name of [t.secretAccessKeyEnv, t.sessionTokenEnv]) {
    const v = name ? env[name] : undefined;
    if (v && v.length >= 4) out = out.split(v).join('***');
  }
  return out.slice(0, 4000);
}

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The published object a cloud target imports: on its objectStorage target, this arch, a format it takes. */
export function pickObject(
  objects: readonly PublishedObject[],
  t: CloudTarget,
  arch: string,
  formats: readonly DiskFormat[],
): PublishedObject | undefined {
  const here = objects.filter(
    (o) => o.target === t.objectStorage && (!o.arch || o.arch === arch) && o.bucket && o.key && o.format,
  );
  for (const f of formats) {
    const o = here.find((x) => x.format === f);
    if (o) return o;
  }
  return undefined;
}

export interface CloudImportOptions {
  /**
   * Only these `clouds:` target names (`wharf cloud import --target`). The entries of the other targets
   * in records.import are kept as they are, never dropped, and never polled.
   */
  targets?: readonly string[];
}

/** The import stage, optionally for some cloud targets only. */
export function makeCloudImportStage(opts: CloudImportOptions = {}): StageFn<'import'> {
  const only = opts.targets?.length ? new Set(opts.targets) : undefined;
  return (ctx, st) => importStage(ctx, st, only);
}

/** Every `clouds:` target: what the pipeline runs. */
export const cloudImportStage: StageFn<'import'> = makeCloudImportStage();

const importStage = async (
  ctx: StageContext,
  st: StageTarget,
  only: ReadonlySet<string> | undefined,
): Promise<StageResult<'import'>> => {
  const started = Date.now();
  const at = new Date(started).toISOString();
  const label = targetLabel(st);
  const skip = (message: string): StageResult<'import'> => ({
    stage: 'import',
    verdict: 'skipped',
    status: 'skipped',
    message,
  });
  if (st.kind !== 'cloud') return skip(`${label}: not a cloud image`);
  const clouds = ctx.config.clouds ?? [];
  if (clouds.length === 0) return skip(`${label}: no clouds targets in wharf.yml`);
  const pub = st.artifact?.records.publish;
  const prev = st.artifact?.records.import;
  const record = (p: Omit<ImportRecord, 'runId' | 'at' | 'durationMs'>): ImportRecord => ({
    runId: ctx.runId,
    at,
    durationMs: Date.now() - started,
    ...p,
  });
  if (!pub || (pub.status !== 'ok' && pub.status !== 'unchanged')) {
    const message = `${label}: not published (${pub?.status ?? 'no publish record'}); nothing to import`;
    // A run for some targets keeps the others' entries (a full run records that nothing is imported).
    const targets = only ? (prev?.targets ?? []) : [];
    return {
      stage: 'import',
      verdict: 'blocked',
      status: 'blocked',
      message,
      write: { record: record({ status: 'blocked', blockedBy: 'publish', targets, error: { message } }) },
    };
  }
  const env = ctx.env ?? process.env;
  const objects = pub.objects ?? [];

  /** Start, poll or keep the import of one cloud target. */
  const importInto = async (t: CloudTarget): Promise<ImportTarget> => {
    const base = { target: t.name, provider: t.provider, region: t.region, arch: st.arch };
    const provider = PROVIDERS[t.provider];
    if (!provider)
      return {
        ...base,
        state: 'failed',
        error: `no import adapter for provider ${t.provider} yet`,
        updatedAt: at,
      };
    const obj = pickObject(objects, t, st.arch, provider.formats);
    if (!obj)
      return {
        ...base,
        state: 'failed',
        error: `no published ${provider.formats.join('/')} object for ${st.arch} on objectStorage target ${t.objectStorage}`,
        updatedAt: at,
      };
    const input: ImportInput = {
      target: t,
      bucket: obj.bucket!,
      key: obj.key!,
      url: obj.url,
      format: obj.format!,
      arch: st.arch,
      imageName: imageName(t, st),
      osVersion: st.recipe.osVersion,
      size: obj.size,
      virtualSize: virtualSizeOf(obj, st.artifact?.records.build),
      description: `wharf ${label} (${st.arch}, sha256 ${obj.sha256})`,
    };
    const same = {
      format: input.format,
      bucket: input.bucket,
      key: input.key,
      sha256: obj.sha256,
      imageName: input.imageName,
    };
    const old = prev?.targets.find(
      (x) => x.target === t.name && x.sha256 === obj.sha256 && x.region === t.region && x.taskId,
    );
    if (old?.state === 'completed') return old;
    try {
      const creds = credentialsFor(t, env);
      if (old?.state === 'running') {
        const p = await provider.poll(input, old, creds, ctx.signal);
        return { ...old, ...p, taskId: old.taskId!, updatedAt: at };
      }
      const p = await provider.start(input, creds, ctx.signal);
      return { ...base, ...same, ...p, startedAt: at, updatedAt: at };
    } catch (e) {
      const error = scrub(errorMessage(e), t, env);
      // A poll that fails (network) keeps the task: the next run polls it again.
      if (old?.state === 'running') return { ...old, error, updatedAt: at };
      return { ...base, ...same, state: 'failed', error, updatedAt: at };
    }
  };

  // In wharf.yml order; with a target filter, the other targets' entries stay as they were, and an
  // entry of a target no longer in wharf.yml is kept too (a full run drops it).
  const entries: ImportTarget[] = [];
  const selected: ImportTarget[] = [];
  for (const t of clouds) {
    if (only && !only.has(t.name)) entries.push(...(prev?.targets ?? []).filter((x) => x.target === t.name));
    else {
      const e = await importInto(t);
      entries.push(e);
      selected.push(e);
    }
  }
  if (only) entries.push(...(prev?.targets ?? []).filter((x) => !clouds.some((t) => t.name === x.target)));
  for (const e of selected)
    ctx.log.info(
      `${label}: import ${e.target} (${e.region}) ${e.state}${e.imageId ? ` ${e.imageId}` : ''}${e.error ? `: ${e.error}` : ''}`,
    );
  const failed = entries.filter((e) => e.state === 'failed');
  const running = entries.filter((e) => e.state === 'running');
  const unchanged =
    !!prev &&
    selected.every((e) => e.state === 'completed') &&
    JSON.stringify(prev.targets) === JSON.stringify(entries);
  if (unchanged) return { stage: 'import', verdict: 'done', status: 'unchanged', unchanged: true };
  const status: ImportRecord['status'] = failed.length
    ? failed.length === entries.length
      ? 'failed'
      : 'partial'
    : running.length
      ? 'running'
      : 'ok';
  // A configured target with no entry yet (a run for other targets only): the artifact stays pending.
  const notStarted = clouds.filter((t) => !entries.some((e) => e.target === t.name)).map((t) => t.name);
  const message = `${label}: import ${status}: ${selected.map((e) => `${e.target} ${e.state}`).join(', ')}`;
  return {
    stage: 'import',
    verdict: status === 'failed' || status === 'partial' ? 'failed' : 'done',
    status,
    message,
    write: {
      record: record({
        status,
        targets: entries,
        ...(failed.length
          ? { error: { message: failed.map((e) => `${e.target}: ${e.error}`).join('; ') } }
          : {}),
      }),
      pending:
        status === 'ok' && !notStarted.length
          ? 'clear'
          : {
              set: status === 'ok' ? `import not started: ${notStarted.join(', ')}` : `import ${status}`,
              since: at,
            },
    },
  };
};
