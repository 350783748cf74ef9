// The publish stage: push a built, verified, scan-approved (and, with a key, signed) image to every
// registry target in wharf.yml, with its tag, its alias tags and the .sig/.att artifacts sign made.
// Targets are independent: one that fails (after retries) does not undo the others, and the record says
// which succeeded (ok / partial / failed). A target that already serves every tag at the right digest is
// "unchanged" after a few HEAD requests. Nothing is pushed when the gate says blocked.
import pLimit from 'p-limit';
import type { CatalogConfig, PublishRecord } from '../../catalog/schema.ts';
import { errorMessage, publishGate } from '../artifact/index.ts';
import { artifactImageIndex } from '../artifact/arches.ts';
import { RegistryError } from '../registry/client.ts';
import type { ImageIndexDoc } from '../registry/image-index.ts';
import { OCI_INDEX } from '../registry/media.ts';
import { readSignatureLayout, signatureLayoutDir, type SignatureEntry } from '../artifact/signatures.ts';
import { OciLayout } from '../registry/layout.ts';
import { pushItems, pushLayout } from '../registry/push.ts';
import { splitTargetRepository } from '../registry/ref.ts';
import {
  imageLayoutDir,
  type StageContext,
  type StageFn,
  type StageResult,
  type StageTarget,
  type Verdict,
} from '../stage.ts';
import { aliasTagsFor } from './aliases.ts';

type RegistryTarget = CatalogConfig['registries'][number];
type TargetResult = PublishRecord['targets'][number];

export interface PublishOptions {
  /** Retry policy for registry requests (tests shorten it). */
  retry?: { retries?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Parallel registry targets (different hosts); targets on one host go one after the other so
   * later ones can mount blobs from earlier ones. */
  concurrency?: number;
}

export function makePublish(opts: PublishOptions = {}): StageFn<'publish'> {
  return (ctx, t) => publish(ctx, t, opts);
}

export const publishStage: StageFn<'publish'> = makePublish();

const VERDICT: Record<PublishRecord['status'], Verdict> = {
  ok: 'done',
  unchanged: 'done',
  blocked: 'blocked',
  // Some targets failed: the artifact is not fully published, so it stays pending.
  partial: 'failed',
  failed: 'failed',
};

async function publish(
  ctx: StageContext,
  t: StageTarget,
  opts: PublishOptions,
): Promise<StageResult<'publish'>> {
  const started = Date.now();
  const label = `${t.app.id}:${t.artifactId}`;
  const base = () => ({ runId: ctx.runId, at: new Date().toISOString(), durationMs: Date.now() - started });
  const finish = (record: PublishRecord, message?: string): StageResult<'publish'> => {
    const ok = record.status === 'ok' || record.status === 'unchanged';
    return {
      stage: 'publish',
      verdict: VERDICT[record.status],
      status: record.status,
      ...(message ? { message } : {}),
      ...(record.status === 'unchanged' ? { unchanged: true } : {}),
      write: { record, ...(ok ? { pending: 'clear' as const } : {}) },
    };
  };
  const skipped = (message: string): StageResult<'publish'> => ({
    stage: 'publish',
    verdict: 'skipped',
    status: 'skipped',
    message,
  });
  if (t.kind !== 'container' || t.recipe.kind !== 'container')
    return skipped('only container images are published here');
  const recipe = t.recipe;
  const entry = await ctx.store.loadApp(t.app.id);
  const art = entry?.artifacts.find((a) => a.kind === 'container' && a.id === t.artifactId);
  if (!art || !entry) return skipped('not built yet');

  const gate = publishGate(art, recipe, ctx.config);
  if (!gate.ok) {
    const message = `${gate.blockedBy}: ${gate.reason}`;
    ctx.log.warn(`${label}: not published: ${message}`);
    return finish(
      {
        ...base(),
        status: 'blocked',
        blockedBy: gate.blockedBy,
        inputsDigest: art.records.build?.inputsDigest,
        targets: [],
        ...(gate.heldBack ? { heldBack: gate.heldBack } : {}),
        error: { message },
      },
      message,
    );
  }
  let digest = gate.digest;
  const build = art.records.build!;
  // Multi-arch: the per-arch manifests and the image index over them (the same bytes sign signed).
  let index: ImageIndexDoc | undefined;
  const multi = gate.arches
    ? {
        mediaType: OCI_INDEX,
        platforms: gate.arches.map((a) => ({
          arch: a.arch,
          digest: a.digest,
          ...(a.size !== undefined ? { size: a.size } : {}),
        })),
      }
    : {};
  const fail = (message: string) =>
    finish(
      {
        ...base(),
        status: 'failed',
        digest,
        inputsDigest: build.inputsDigest,
        targets: [],
        ...multi,
        error: { message },
      },
      message,
    );
  if (ctx.config.registries.length === 0)
    return fail('no registry targets configured (wharf.yml registries[])');

  let aliases: string[];
  let layout: OciLayout;
  let sigs: { layout: OciLayout; entries: SignatureEntry[] } | null = null;
  try {
    aliases = aliasTagsFor(entry.app, entry.artifacts, recipe, ctx.config);
    if (gate.arches) {
      index = await artifactImageIndex(ctx, t.app.id, t.artifactId, build, gate.arches);
      digest = index.digest;
    }
    layout = await OciLayout.open(imageLayoutDir(ctx, t.app.id, t.artifactId));
    if (!index) await layout.root({ digest });
    const sign = art.records.sign!;
    if (sign.status === 'signed' || sign.status === 'unchanged') {
      sigs = await readSignatureLayout(signatureLayoutDir(ctx.workDir, t.app.id, t.artifactId));
      if (!sigs) return fail('the signatures sign recorded are not in the work dir (run wharf sign again)');
      if (index && !sign.signatures.some((x) => !x.arch && x.digest === index!.digest))
        return fail(`the signed image index is not ${index.digest} (run wharf sign again)`);
    }
  } catch (e) {
    return fail(errorMessage(e));
  }

  // Targets on one registry host run in sequence (later ones mount blobs from earlier ones).
  const byHost = new Map<string, RegistryTarget[]>();
  for (const target of ctx.config.registries) {
    const host = splitTargetRepository(target.repository).registry;
    byHost.set(host, [...(byHost.get(host) ?? []), target]);
  }
  const limit = pLimit(opts.concurrency ?? 4);
  const results = new Map<string, TargetResult>();
  await Promise.all(
    [...byHost.values()].map((group) =>
      limit(async () => {
        const pushedRepos: string[] = [];
        for (const target of group) {
          const r = await publishToTarget(ctx, target, {
            appName: t.app.name,
            tag: recipe.tag,
            aliases,
            digest,
            layout,
            ...(index ? { index } : {}),
            sigs:
              sigs?.entries.filter(
                (e) =>
                  e.target === target.name &&
                  (e.subject === digest || !!gate.arches?.some((a) => a.digest === e.subject)),
              ) ?? [],
            sigLayout: sigs?.layout,
            signed: !!sigs,
            mountFrom: pushedRepos,
            opts,
          });
          if (r.status !== 'failed') pushedRepos.push(repoPath(target, t.app.name));
          results.set(target.name, r);
        }
      }),
    ),
  );
  const targets = ctx.config.registries.map((x) => results.get(x.name)!);
  const failed = targets.filter((x) => x.status === 'failed');
  const status: PublishRecord['status'] =
    failed.length === targets.length
      ? 'failed'
      : failed.length
        ? 'partial'
        : targets.every((x) => x.status === 'unchanged')
          ? 'unchanged'
          : 'ok';
  const message = failed.length
    ? `failed on ${failed.map((f) => `${f.target} (${f.error})`).join(', ')}`
    : undefined;
  return finish(
    {
      ...base(),
      status,
      digest,
      inputsDigest: build.inputsDigest,
      targets,
      ...multi,
      ...(message ? { error: { message } } : {}),
    },
    message,
  );
}

interface TargetJob {
  appName: string;
  tag: string;
  aliases: string[];
  digest: string;
  layout: OciLayout;
  /** Multi-arch: the image index to push (after every arch manifest) instead of the layout's root. */
  index?: ImageIndexDoc;
  sigs: SignatureEntry[];
  sigLayout: OciLayout | undefined;
  signed: boolean;
  mountFrom: string[];
  opts: PublishOptions;
}

async function publishToTarget(
  ctx: StageContext,
  target: RegistryTarget,
  job: TargetJob,
): Promise<TargetResult> {
  const repo = repoPath(target, job.appName);
  const ref = `${target.repository}/${job.appName}:${job.tag}`;
  const res: TargetResult = {
    target: target.name,
    ref,
    status: 'failed',
    digest: job.digest,
    ...(job.aliases.length ? { aliases: job.aliases } : {}),
  };
  let retries = 0;
  try {
    if (job.signed && job.sigs.length === 0)
      throw new Error(`no signature was made for target ${target.name} (run wharf sign again)`);
    const client = ctx.registry(target, {
      ...(job.opts.retry ? { retry: job.opts.retry } : {}),
      onRetry: (what, attempt, err) => {
        retries++;
        ctx.log.progress?.(`${ref}: ${what} failed (${err.message}); retry ${attempt}`);
      },
    });
    const tags = [job.tag, ...job.aliases];
    // Already there? One HEAD per tag and per signature tag.
    const heads = await Promise.all([
      ...tags.map(async (tg) => (await client.headManifest(repo, tg))?.digest === job.digest),
      ...job.sigs.map(async (s) => (await client.headManifest(repo, s.tag))?.digest === s.descriptor.digest),
    ]);
    if (heads.every(Boolean)) return { ...res, status: 'unchanged', attempts: 1 + retries };
    if (job.index) {
      const refused = await pushImageIndex(client, repo, job.index, tags, job.mountFrom, ctx.log.progress);
      if (refused) {
        ctx.log.warn(`${ref}: ${refused}`);
        return {
          ...res,
          status: 'failed',
          error: refused,
          refusedMediaType: OCI_INDEX,
          attempts: 1 + retries,
        };
      }
    } else
      await pushLayout(client, repo, job.layout.dir, {
        tags,
        digest: job.digest,
        mountFrom: job.mountFrom,
        onProgress: ctx.log.progress,
      });
    for (const s of job.sigs) {
      const items = await job.sigLayout!.closure(s.descriptor);
      await pushItems(client, repo, job.sigLayout!, items, { tags: [s.tag] });
    }
    ctx.log.info(`${ref}: pushed ${job.digest}${job.aliases.length ? ` (+${job.aliases.join(', ')})` : ''}`);
    return { ...res, status: 'ok', attempts: 1 + retries };
  } catch (e) {
    const message = errorMessage(e);
    ctx.log.warn(`${ref}: ${message}`);
    return { ...res, status: 'failed', error: message, attempts: 1 + retries };
  }
}

/**
 * Push a multi-arch image: every arch's manifest (and its blobs) by digest, then the image index by
 * digest and under each tag. A registry that refuses the index media type (HTTP 400/415 on the index
 * PUT, e.g. MANIFEST_INVALID or UNSUPPORTED) gets a clear message back instead of a throw.
 */
async function pushImageIndex(
  client: ReturnType<StageContext['registry']>,
  repo: string,
  index: ImageIndexDoc,
  tags: string[],
  mountFrom: string[],
  onProgress: ((m: string) => void) | undefined,
): Promise<string | undefined> {
  for (const m of index.manifests)
    await pushLayout(client, repo, m.layoutDir, {
      tags: [],
      digest: m.descriptor.digest,
      mountFrom,
      ...(onProgress ? { onProgress } : {}),
    });
  for (const ref of [index.digest, ...tags]) {
    try {
      await client.putManifest(repo, ref, index.bytes, index.mediaType);
    } catch (e) {
      if (e instanceof RegistryError && (e.status === 400 || e.status === 415))
        return `registry refused the image index (${index.mediaType}): ${e.message}`;
      throw e;
    }
  }
  onProgress?.(`${repo}: image index ${index.digest} ${tags.join(', ')}`);
  return undefined;
}

/** The repository path of an app on a target (namespace/app), without the registry host. */
export function repoPath(target: RegistryTarget, appName: string): string {
  const { namespace } = splitTargetRepository(target.repository);
  return namespace ? `${namespace}/${appName}` : appName;
}
