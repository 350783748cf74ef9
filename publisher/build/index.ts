// The build stage: recipe → image → OCI layout; its result is the build record (the runner commits it).
//
// 1. read the recipe where the import recorded it (source.ts: the repository at the recipe's commit,
//    or the imported directory) and resolve the app's Dockerfile and context inside it;
// 2. plan the build from the Dockerfile (args.ts): only declared build args, authors' defaults kept,
//    TARGETARCH per platform, and every stage's base (and COPY --from image) resolved to a digest
//    through the engine — a Wharf-built parent as Wharf published it;
// 3. compute the inputs digest (context files' paths, modes and contents, the Dockerfile, build args,
//    the platform, every base's digest); if that digest was already built and published (or its
//    layout is still here), record "unchanged" and stop: no build, no export;
// 4. otherwise stream the context as a tar to the engine, keep the log (capped, compressed, in the blob
//    store), export the image as an OCI layout at imageLayoutDir() and record its manifest digest.
// Every failure becomes a "failed" record naming app, tag and stage, with the log's last lines.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { BuildRecord } from '../../catalog/schema.ts';
import type { Arch } from '../../catalog/names.ts';
import { emulationHint, hostArches, QEMU_NAME, type HostArches } from '../arches.ts';
import { explainEngineError, followStream } from '../engine/index.ts';
import {
  checkoutRecipes,
  RecipeError,
  resolveRecipe,
  type RecipeCheckout,
  type RecipeTree,
} from '../recipes/index.ts';
import { ImageIndex } from '../../catalog/graph.ts';
import type { App, BuildBase, ContainerRecipe } from '../../catalog/schema.ts';
import { changedBase, planBuild, type WharfBase } from './args.ts';
import { directoryCheckout, recipeSourceFor, type RecipeSource } from './source.ts';
import { localImageRef, tailLines } from '../artifact/index.ts';
import { baseChangedReason, parentRebuiltReason } from '../artifact/reasons.ts';
import { archLayoutDir, platformImageRef, requiredArches } from '../artifact/arches.ts';
import {
  imageLayoutDir,
  type StageContext,
  type StageFn,
  type StageResult,
  type StageTarget,
} from '../stage.ts';
import { credentialsForRef } from '../registry/credentials.ts';
import { resolveBaseDigest, type ResolvedBase } from './base.ts';
import { contextTar, hashContext, listContext, OUTSIDE_DOCKERFILE } from './context.ts';
import { exportOciLayout, layoutCompressedSize, layoutManifestDigest } from './export.ts';
import { LogBuffer } from './log.ts';

export interface BuildStageOptions {
  /** Recipe source overriding wharf.yml `recipes` (CLI --recipes): a path or git URL, and a ref. */
  recipes?: { url: string; ref?: string };
  /** Cap of the stored build log (its end is kept). Default 1 MiB. */
  maxLogBytes?: number;
  /** Rebuild even when the inputs are unchanged. */
  force?: boolean;
  /**
   * Longest time the engine may spend on one image build (the context upload and every RUN step),
   * in ms; 0 = no limit. Default 2 h. A hanging RUN would otherwise hold a pipeline slot forever.
   */
  timeoutMs?: number;
  /**
   * Build these arches (CLI --arch; default wharf.yml `arches.default`, restricted by the recipe's
   * arches). Absent both: the engine's arch only, as a single-arch build.
   */
  arches?: Arch[];
}

export const DEFAULT_BUILD_TIMEOUT_MS = 2 * 3600_000;

const LOG_MEDIA_TYPE = 'text/plain; charset=utf-8';

export { localImageRef };

const ENGINE_ARCH: Record<string, Arch> = {
  amd64: 'amd64',
  x86_64: 'amd64',
  arm64: 'arm64',
  aarch64: 'arm64',
};

/**
 * A build stage whose recipe checkouts, base digests and engine architecture are resolved once and
 * shared by every artifact of one run (that is what keeps "unchanged" checks fast).
 */
export function makeBuildStage(opts: BuildStageOptions = {}): StageFn<'build'> {
  const checkouts = new Map<string, Promise<RecipeCheckout>>();
  const bases = new Map<string, Promise<ResolvedBase>>();
  let index: Promise<ImageIndex> | undefined;
  let arch: Promise<Arch> | undefined;
  let host: Promise<HostArches> | undefined;
  const memo = <T>(m: Map<string, Promise<T>>, k: string, f: () => Promise<T>): Promise<T> => {
    let p = m.get(k);
    if (!p) m.set(k, (p = f()));
    return p;
  };
  return (ctx, t) =>
    buildOne(ctx, t, opts, {
      checkout: (src, app, recipe) =>
        src.kind === 'dir'
          ? directoryCheckout(src.path, app, recipe)
          : memo(checkouts, `${src.ref}\0${src.url}`, () => checkoutRecipes(src.url, src.ref, ctx.workDir)),
      // Within a run a base is resolved once per platform, except the Wharf-built parents built
      // earlier in the same run (their references carry their new digest). Pulls authenticate with
      // the credentials wharf.yml `registries:` or the containers auth file give for the base.
      base: (engine, ref, platform) =>
        memo(bases, `${platform ?? ''}\0${ref}`, async () => {
          const found = await credentialsForRef(ref, { config: ctx.config, env: ctx.env ?? process.env });
          return resolveBaseDigest(engine, ref, platform, found);
        }),
      wharfBase: async (ref, arch) => {
        index ??= ctx.store.load().then(
          (snap) =>
            new ImageIndex(
              [...snap.apps.values()].map((e) => e.app),
              snap.config,
            ),
        );
        const m = (await index).match(ref);
        if (!m?.tag) return undefined;
        return wharfBuiltBase(ctx, m.app, m.tag, arch);
      },
      arch: (engine) =>
        (arch ??= engine.version().then((v) => {
          const a = ENGINE_ARCH[v.Arch];
          if (!a) throw new Error(`unsupported engine architecture ${v.Arch}`);
          return a;
        })),
      host: () => (host ??= hostArches()),
    });
}

/** The build stage with per-call caches (for running one artifact alone). */
export const buildStage: StageFn<'build'> = (ctx, t) => makeBuildStage()(ctx, t);

/**
 * The reference a child builds FROM for a Wharf-built parent: its published `ref@digest` (the first
 * registry target that has it) when that is its latest build, else its local build in this engine,
 * else nothing (the image as named).
 */
async function wharfBuiltBase(
  ctx: StageContext,
  app: string,
  tag: string,
  arch: Arch,
): Promise<WharfBase | undefined> {
  const entry = await ctx.store.loadApp(app);
  const art = entry?.artifacts.find((a) => a.kind === 'container' && a.id === tag);
  if (!art) return undefined;
  const pub = art.records.publish;
  const build = art.records.build;
  // The published image, unless a newer build (other inputs) has not been published yet.
  const current = !build?.inputsDigest || pub?.inputsDigest === build.inputsDigest;
  if (pub && current && (pub.status === 'ok' || pub.status === 'unchanged' || pub.status === 'partial')) {
    const t = pub.targets.find((x) => x.status !== 'failed' && (x.digest ?? pub.digest));
    const digest = t?.digest ?? pub.digest;
    if (t && digest) return { app, tag, used: `${t.ref.split('@')[0]}@${digest}` };
  }
  if (build && (build.status === 'ok' || build.status === 'unchanged') && build.manifestDigest) {
    // A multi-arch build tags each arch's image on its own (platformImageRef).
    const ref = build.platforms ? platformImageRef(app, tag, arch) : localImageRef(app, tag);
    const present = await ctx.engine
      ?.getImage(ref)
      .inspect()
      .then(
        () => true,
        () => false,
      );
    if (present) return { app, tag, used: ref };
  }
  return undefined;
}

interface Resolvers {
  checkout(src: RecipeSource, app: App, recipe: ContainerRecipe): Promise<RecipeTree>;
  base(engine: Docker, ref: string, platform?: string): Promise<ResolvedBase>;
  wharfBase(ref: string, arch: Arch): Promise<WharfBase | undefined>;
  arch(engine: Docker): Promise<Arch>;
  host(): Promise<HostArches>;
}

/**
 * One build of one arch: where its layout and local image go, its last record, and the platform asked of
 * the engine. A single-arch build (singleArchPlan) is the engine's own arch under the artifact's names and
 * record, with no platform (pulls and builds as the engine defaults, bases by RepoDigests); each arch of a
 * multi-arch build (buildArches) is `linux/<arch>` with its own local image, layout and platforms[] entry.
 */
interface ArchPlan {
  arch: Arch;
  /** `linux/<arch>` for a multi-arch build; undefined for a single-arch one. */
  platform: string | undefined;
  layoutDir: string;
  localRef: string;
  prev: BuildRecord | undefined;
}

function singleArchPlan(ctx: StageContext, t: StageTarget, arch: Arch): ArchPlan {
  return {
    arch,
    platform: undefined,
    layoutDir: imageLayoutDir(ctx, t.app.id, t.artifactId),
    localRef: localImageRef(t.app.id, t.artifactId),
    prev: t.artifact?.records.build,
  };
}

/** The engine and its arch, or the failure to record (no engine configured, engine unreachable). */
async function engineAndArch(
  ctx: StageContext,
  r: Resolvers,
  fail: (message: string) => StageResult<'build'>,
): Promise<{ engine: Docker; arch: Arch } | { failed: StageResult<'build'> }> {
  const engine = ctx.engine;
  if (!engine) return { failed: fail('no container engine configured (DOCKER_HOST, --engine)') };
  try {
    return { engine, arch: await r.arch(engine) };
  } catch (e) {
    return { failed: fail(explainEngineError(engine, e).message) };
  }
}

type PlatformRecord = NonNullable<BuildRecord['platforms']>[number];

export { archLayoutDir };

/** The arches this build makes, or undefined for the single-arch (engine arch) build. */
export function plannedArches(
  config: Pick<StageContext['config'], 'arches'>,
  recipeArches: readonly Arch[],
  requested: readonly Arch[] | undefined,
): Arch[] | undefined {
  const list = requested ?? config.arches?.default;
  if (!list) return undefined;
  return list.filter((a) => recipeArches.includes(a));
}

/**
 * Wait for `work`, unless `signal` fires first: then call `cancel` (closing the engine stream, which
 * makes the engine drop the build) and reject. The stream may otherwise never end while a RUN hangs.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, cancel: () => void): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      cancel();
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

class BuildFailure extends Error {
  readonly partial: Partial<BuildRecord>;
  readonly tail: string[] | undefined;
  constructor(message: string, partial: Partial<BuildRecord> = {}, tail?: string[]) {
    super(message);
    this.partial = partial;
    this.tail = tail;
  }
}

async function buildOne(
  ctx: StageContext,
  t: StageTarget,
  opts: BuildStageOptions,
  r: Resolvers,
): Promise<StageResult<'build'>> {
  const started = Date.now();
  const at = new Date(started).toISOString();
  const name = `${t.app.id}:${t.artifactId}`;

  if (t.kind !== 'container' || t.recipe.kind !== 'container')
    return {
      stage: 'build',
      verdict: 'skipped',
      status: 'skipped',
      message: `build ${name} skipped: ${t.kind} images are not built by the container build stage`,
    };
  if (t.recipe.problem) {
    const message = `build ${name} skipped: ${t.recipe.problem}`;
    return {
      stage: 'build',
      verdict: 'skipped',
      status: 'skipped',
      message,
      write: {
        upsert: true,
        record: {
          runId: ctx.runId,
          at,
          durationMs: Date.now() - started,
          status: 'skipped',
          error: { message },
        },
      },
    };
  }

  const planned = plannedArches(ctx.config, t.recipe.arches, opts.arches);
  if (planned) return buildArches(ctx, t, opts, r, planned, started);

  const ea = await engineAndArch(ctx, r, (cause) =>
    failedBuild(ctx, `build ${name} failed: ${cause}`, started),
  );
  if ('failed' in ea) return ea.failed;
  let partial: Partial<BuildRecord> = {};
  try {
    const res = await prepareAndBuild(
      ctx,
      t,
      opts,
      r,
      (p) => (partial = { ...partial, ...p }),
      singleArchPlan(ctx, t, ea.arch),
    );
    const record: BuildRecord = { ...res.record, runId: ctx.runId, at, durationMs: Date.now() - started };
    const unchanged = record.status === 'unchanged';
    return {
      stage: 'build',
      verdict: 'done',
      status: record.status,
      ...(res.message ? { message: res.message } : {}),
      ...(unchanged ? { unchanged: true } : {}),
      ...(res.published ? { complete: true } : {}),
      write: {
        upsert: true,
        record,
        ...(res.pendingReason ? { pending: { set: res.pendingReason, since: at } } : {}),
      },
    };
  } catch (e) {
    const f = e instanceof BuildFailure ? e : null;
    const cause = f ? f.message : explainEngineError(ctx.engine!, e).message;
    return failedBuild(
      ctx,
      `build ${name} failed: ${cause}`,
      started,
      { ...partial, ...(f?.partial ?? {}) },
      f?.tail,
    );
  }
}

/** A failed build: logged, recorded (with what was known and the log tail) and the artifact pending. */
function failedBuild(
  ctx: StageContext,
  message: string,
  started: number,
  record: Partial<BuildRecord> = {},
  tail?: string[],
): StageResult<'build'> {
  const at = new Date(started).toISOString();
  ctx.log.warn(message);
  return {
    stage: 'build',
    verdict: 'failed',
    status: 'failed',
    message,
    write: {
      upsert: true,
      record: {
        ...record,
        runId: ctx.runId,
        at,
        durationMs: Date.now() - started,
        status: 'failed',
        error: { message, ...(tail && tail.length ? { tail } : {}) },
      },
      pending: { set: 'build failed', since: at },
    },
  };
}

/**
 * A multi-arch build: every planned arch is built (or found unchanged) on its own, in turn, through
 * `/build?platform=linux/<arch>`; each gets a `platforms[]` entry. An arch this host can neither build
 * natively nor emulate is a failed entry with the fix, not a crash. The build fails when any arch failed
 * (the others keep their entries and layouts); the top-level fields are the primary arch's.
 */
async function buildArches(
  ctx: StageContext,
  t: StageTarget,
  opts: BuildStageOptions,
  r: Resolvers,
  planned: Arch[],
  started: number,
): Promise<StageResult<'build'>> {
  const at = new Date(started).toISOString();
  const name = `${t.app.id}:${t.artifactId}`;
  const prevBuild = t.artifact?.records.build;
  const fail = (message: string, record: Partial<BuildRecord> = {}): StageResult<'build'> =>
    failedBuild(ctx, message, started, record);
  if (!planned.length)
    return fail(
      `build ${name} failed: none of the requested arches is in the recipe's arches (${t.recipe.arches.join(', ')})`,
    );
  const ea = await engineAndArch(ctx, r, (cause) => fail(`build ${name} failed: ${cause}`));
  if ('failed' in ea) return ea.failed;
  const { engine, arch: engineArch } = ea;
  const host = await r.host();
  const primary = planned.includes(engineArch) ? engineArch : planned[0]!;
  const order = [primary, ...planned.filter((a) => a !== primary)];
  const platforms: PlatformRecord[] = [];
  let primaryRes: BuildResult | undefined;
  let primaryPartial: Partial<BuildRecord> = {};
  let pendingReason: string | undefined;
  for (const arch of order) {
    const t0 = Date.now();
    const emulated = arch !== engineArch;
    if (emulated && !host.emulated.includes(arch)) {
      platforms.push({
        arch,
        status: 'failed',
        durationMs: 0,
        error: {
          message: `${arch} cannot be built here: the engine is ${engineArch} and no qemu-${QEMU_NAME[arch]} binfmt_misc handler is enabled (fix: ${emulationHint(arch, host.binfmtMounted)})`,
        },
      });
      continue;
    }
    const prevPlat = prevBuild?.platforms?.find((p) => p.arch === arch);
    const plan: ArchPlan = {
      arch,
      platform: `linux/${arch}`,
      layoutDir:
        arch === primary
          ? imageLayoutDir(ctx, t.app.id, t.artifactId)
          : archLayoutDir(ctx, t.app.id, t.artifactId, arch),
      localRef: platformImageRef(t.app.id, t.artifactId, arch),
      prev:
        prevBuild && prevPlat && prevPlat.status !== 'failed'
          ? {
              ...prevBuild,
              status: prevPlat.status,
              ...(prevPlat.inputsDigest ? { inputsDigest: prevPlat.inputsDigest } : {}),
              ...(prevPlat.manifestDigest ? { manifestDigest: prevPlat.manifestDigest } : {}),
              ...(prevPlat.imageId ? { imageId: prevPlat.imageId } : {}),
              ...(prevPlat.log ? { log: prevPlat.log } : {}),
            }
          : undefined,
    };
    let partial: Partial<BuildRecord> = {};
    try {
      const res = await prepareAndBuild(ctx, t, opts, r, (p) => (partial = { ...partial, ...p }), plan);
      const rec = res.record;
      const size = rec.manifestDigest
        ? await layoutCompressedSize(plan.layoutDir, rec.manifestDigest).catch(() => undefined)
        : undefined;
      platforms.push({
        arch,
        status: rec.status === 'unchanged' ? 'unchanged' : 'ok',
        ...(rec.inputsDigest ? { inputsDigest: rec.inputsDigest } : {}),
        ...(rec.manifestDigest ? { manifestDigest: rec.manifestDigest } : {}),
        ...(rec.imageId ? { imageId: rec.imageId } : {}),
        ...(size !== undefined ? { size } : {}),
        durationMs: Date.now() - t0,
        emulated,
        ...(rec.bases ? { bases: rec.bases } : {}),
        ...(rec.log ? { log: rec.log } : {}),
      });
      if (arch === primary) primaryRes = res;
      pendingReason ??= res.pendingReason;
    } catch (e) {
      const f = e instanceof BuildFailure ? e : null;
      const cause = f ? f.message : explainEngineError(engine, e).message;
      const log = f?.partial.log ?? partial.log;
      platforms.push({
        arch,
        status: 'failed',
        ...(partial.inputsDigest ? { inputsDigest: partial.inputsDigest } : {}),
        durationMs: Date.now() - t0,
        emulated,
        ...(log ? { log } : {}),
        error: { message: cause, ...(f?.tail?.length ? { tail: f.tail } : {}) },
      });
      if (arch === primary) primaryPartial = { ...partial, ...(f?.partial ?? {}) };
    }
  }
  const arches = platforms.map((p) => p.arch);
  const required = requiredArches(ctx.config, arches);
  const failed = platforms.filter((p) => p.status === 'failed');
  const top: Partial<BuildRecord> = primaryRes
    ? { ...primaryRes.record, arches, platforms }
    : { ...primaryPartial, arches, platforms };
  // A failed arch that wharf.yml `arches.required` does not list is recorded and left out of the index;
  // a required one fails the build (and so holds the index back).
  const heldBy = failed.filter((p) => required.includes(p.arch));
  if (heldBy.length || !primaryRes) {
    const r0 = fail(
      `build ${name} failed for ${failed.map((p) => `${p.arch} (${p.error?.message ?? 'failed'})`).join('; ')}${heldBy.length ? '; the image index is not published until every required arch builds' : ''}`,
      top,
    );
    return r0;
  }
  const allUnchanged = platforms.every((p) => p.status === 'unchanged');
  // Complete when the published image index lists exactly these arch manifests.
  const pub = prevBuild && t.artifact?.records.publish;
  const indexPublished =
    !!pub &&
    (pub.status === 'ok' || pub.status === 'unchanged') &&
    !!pub.platforms &&
    pub.platforms.length === platforms.length &&
    platforms.every((p) => pub.platforms!.some((x) => x.arch === p.arch && x.digest === p.manifestDigest));
  const record: BuildRecord = {
    ...(top as Omit<BuildRecord, 'runId' | 'at' | 'status'>),
    runId: ctx.runId,
    at,
    durationMs: Date.now() - started,
    status: allUnchanged ? 'unchanged' : 'ok',
  };
  delete record.error;
  return {
    stage: 'build',
    verdict: 'done',
    status: record.status,
    message: allUnchanged
      ? `inputs unchanged for ${arches.join(', ')}${indexPublished ? ' and the image index is published' : ''}`
      : `built ${platforms
          .filter((p) => p.status === 'ok')
          .map((p) => p.arch)
          .join(
            ', ',
          )}${failed.length ? `; ${failed.map((p) => p.arch).join(', ')} failed (not required: left out of the index)` : ''}`,
    ...(allUnchanged ? { unchanged: true } : {}),
    ...(allUnchanged && indexPublished ? { complete: true } : {}),
    write: {
      upsert: true,
      record,
      ...(pendingReason && !allUnchanged ? { pending: { set: pendingReason, since: at } } : {}),
    },
  };
}

type BuildResult = {
  record: Omit<BuildRecord, 'runId' | 'at'>;
  pendingReason?: string;
  message?: string;
  /** Inputs unchanged and this very image already published: nothing more to do. */
  published?: boolean;
};

async function prepareAndBuild(
  ctx: StageContext,
  t: StageTarget,
  opts: BuildStageOptions,
  r: Resolvers,
  note: (p: Partial<BuildRecord>) => void,
  plan: ArchPlan,
): Promise<BuildResult> {
  const recipe = t.recipe;
  if (t.kind !== 'container' || recipe.kind !== 'container')
    throw new BuildFailure('only container recipes are built by this stage');
  const engine = ctx.engine;
  if (!engine) throw new BuildFailure('no container engine configured (DOCKER_HOST, --engine)');
  let src: RecipeSource;
  try {
    src = recipeSourceFor(t.app, recipe, ctx.config, opts.recipes);
  } catch (e) {
    throw new BuildFailure((e as Error).message);
  }
  const checkout = await r.checkout(src, t.app, recipe).catch((e: Error) => {
    throw new BuildFailure(e.message);
  });
  if (checkout.commit) note({ recipeCommit: checkout.commit });
  const at = checkout.commit
    ? ` (recipe commit ${checkout.commit.slice(0, 12)})`
    : ` (directory ${checkout.source})`;
  const resolved = await resolveRecipe(checkout, t.app, recipe).catch((e: Error) => {
    throw new BuildFailure(e instanceof RecipeError ? `${e.message}${at}` : e.message);
  });
  const { arch, platform } = plan;
  const dockerfileBytes = await readFile(resolved.dockerfile);

  // ---- what the Dockerfile says: build args and every stage's base, resolved
  let buildPlan;
  try {
    buildPlan = await planBuild({
      path: resolved.dockerfileRel,
      text: dockerfileBytes.toString('utf8'),
      recipe,
      config: ctx.config,
      arch,
      wharfBase: (ref) => r.wharfBase(ref, arch),
      resolve: async (ref) => {
        try {
          const b = await r.base(engine, ref, platform);
          return { digest: b.digest, local: b.local };
        } catch (e) {
          throw new BuildFailure(explainEngineError(engine, e).message);
        }
      },
    });
  } catch (e) {
    if (e instanceof BuildFailure) throw e;
    throw new BuildFailure(e instanceof RecipeError ? `${e.message}${at}` : (e as Error).message);
  }
  const { buildArgs, bases } = buildPlan;
  const finalBase = finalStageBase(buildPlan.facts, bases);
  note({ bases, buildArgs, ...(finalBase ? { base: finalBase } : {}) });

  // ---- inputs digest
  const entries = await listContext(
    resolved.contextDir,
    resolved.dockerfileInContext ? [resolved.dockerfileInContext] : [],
  );
  const inputsDigest =
    'sha256:' +
    createHash('sha256')
      .update(
        JSON.stringify({
          v: 2,
          context: await hashContext(entries),
          dockerfile: createHash('sha256').update(dockerfileBytes).digest('hex'),
          dockerfilePath: resolved.dockerfileInContext ?? OUTSIDE_DOCKERFILE,
          buildArgs: Object.entries(buildArgs).sort(([a], [b]) => (a < b ? -1 : 1)),
          platform: `linux/${arch}`,
          bases: bases.map((b) => [b.ref, b.used ?? b.ref, b.digest ?? null]).sort(),
        }),
      )
      .digest('hex');
  note({ inputsDigest, arches: [arch] });

  // ---- unchanged?
  const { prev, layoutDir } = plan;
  // A rebuild requested after the last build (watch, trigger, a rescan that found a fixable CVE) is
  // honoured even with identical inputs: package updates inside RUN steps are not part of the digest.
  const pending = t.artifact?.pending;
  const requested = !!pending && !!prev && Date.parse(pending.since) > Date.parse(prev.at);
  if (
    !opts.force &&
    !requested &&
    prev &&
    prev.inputsDigest === inputsDigest &&
    (prev.status === 'ok' || prev.status === 'unchanged') &&
    prev.manifestDigest
  ) {
    const pub = t.artifact?.records.publish;
    const published =
      !!pub && (pub.status === 'ok' || pub.status === 'unchanged') && pub.digest === prev.manifestDigest;
    const layoutHere =
      published ||
      (await layoutManifestDigest(layoutDir).then(
        (d) => d === prev.manifestDigest,
        () => false,
      ));
    if (layoutHere) {
      const { runId: _r, at: _a, durationMs: _d, error: _e, ...kept } = prev;
      return {
        record: { ...kept, status: 'unchanged' },
        published,
        message: published
          ? 'inputs unchanged and already published'
          : 'inputs unchanged; image layout present',
      };
    }
  }

  // ---- build
  const name = `${t.app.id}:${t.artifactId}`;
  const labels: Record<string, string> = {
    'org.opencontainers.image.source': checkout.source,
    ...(checkout.commit ? { 'org.opencontainers.image.revision': checkout.commit } : {}),
    'org.opencontainers.image.version': recipe.version,
    'org.opencontainers.image.created': new Date().toISOString(),
    'org.opencontainers.image.title': t.app.title.en ?? t.app.title.zh ?? t.app.name,
    ...(t.app.license.spdx ? { 'org.opencontainers.image.licenses': t.app.license.spdx } : {}),
  };
  note({ labels });
  const log = new LogBuffer(opts.maxLogBytes ?? 1024 * 1024);
  const storeLog = async () =>
    log.size ? ctx.blobs.put(log.text(), LOG_MEDIA_TYPE, { maxBytes: log.cap }) : undefined;
  const localRef = plan.localRef;
  const extra = resolved.dockerfileInContext ? [] : [{ name: OUTSIDE_DOCKERFILE, data: dockerfileBytes }];
  ctx.log.progress?.(
    `${name}: building (${entries.length} context entries, ${bases.length ? `bases ${bases.map((b) => b.used ?? b.ref).join(', ')}` : 'no base image'})`,
  );
  let buildError: string | undefined;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
  const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
  const signals = [ctx.signal, timeout].filter((s): s is AbortSignal => !!s);
  const signal = signals.length ? AbortSignal.any(signals) : undefined;
  const stopped = () =>
    timeout?.aborted ? `build timed out after ${Math.round(timeoutMs / 1000)} s` : 'build cancelled';
  try {
    signal?.throwIfAborted();
    const stream = await engine.buildImage(contextTar(entries, extra) as unknown as NodeJS.ReadableStream, {
      t: localRef,
      dockerfile: resolved.dockerfileInContext ?? OUTSIDE_DOCKERFILE,
      buildargs: buildArgs,
      labels,
      rm: true,
      forcerm: true,
      ...(platform ? { platform } : {}),
      ...(signal ? { abortSignal: signal } : {}),
    });
    const events = followStream<{ stream?: string; error?: string; errorDetail?: { message?: string } }>(
      engine,
      stream,
      (ev) => {
        if (ev.stream) {
          log.push(ev.stream);
          const line = ev.stream.trim();
          if (line) ctx.log.progress?.(`${name}: ${line}`);
        }
        if (ev.error) {
          buildError ??= ev.error;
          log.push(`ERROR: ${ev.error}\n`);
        }
      },
    );
    await untilAborted(events, signal, () =>
      (stream as NodeJS.ReadableStream & { destroy(): void }).destroy(),
    );
  } catch (e) {
    if (signal?.aborted) {
      buildError ??= stopped();
      log.push(`ERROR: ${stopped()}\n`);
    } else buildError ??= explainEngineError(engine, e).message;
  }
  if (buildError) {
    const ref = await storeLog();
    throw new BuildFailure(buildError.trim(), ref ? { log: ref } : {}, tailLines(log.text(), 30));
  }
  const logRef = await storeLog();
  if (logRef) note({ log: logRef });
  const info = await engine.getImage(localRef).inspect();
  ctx.log.progress?.(`${name}: exporting OCI layout`);
  const manifestDigest = await exportOciLayout(engine, localRef, layoutDir, t.artifactId, {
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  }).catch((e: Error) => {
    throw new BuildFailure(`export failed: ${e.message}`);
  });
  const pendingReason = !prev
    ? 'first build'
    : requested
      ? pending!.reason
      : (reasonForMovedBase(prev, bases) ?? 'recipe inputs changed');
  return {
    record: {
      status: 'ok',
      inputsDigest,
      ...(checkout.commit ? { recipeCommit: checkout.commit } : {}),
      ...(finalBase ? { base: finalBase } : {}),
      bases,
      buildArgs,
      imageId: info.Id,
      manifestDigest,
      arches: [arch],
      labels,
      ...(logRef ? { log: logRef } : {}),
    },
    pendingReason,
    message: `built ${manifestDigest}`,
  };
}

/** The final stage's base as the engine used it ({ref: 'scratch'} for FROM scratch). */
function finalStageBase(
  facts: { stages: { resolved: string | null; parentStage: number | null }[] },
  bases: BuildBase[],
): BuildRecord['base'] | undefined {
  const stages = facts.stages;
  let n = stages.length - 1;
  while (n >= 0 && stages[n]!.parentStage !== null) n = stages[n]!.parentStage!;
  if (n < 0) return undefined;
  const b = bases.find((x) => x.stages?.includes(n));
  if (!b) return stages[n]?.resolved === 'scratch' ? { ref: 'scratch' } : undefined;
  return { ref: b.used ?? b.ref, ...(b.digest ? { digest: b.digest } : {}) };
}

/** Why a rebuild happened when a base moved: a Wharf-built parent rebuilt, or a base's new digest. */
function reasonForMovedBase(prev: BuildRecord, bases: BuildBase[]): string | undefined {
  const before =
    prev.bases ?? (prev.base?.digest ? [{ ref: prev.base.ref, digest: prev.base.digest }] : undefined);
  const byUsed = before?.map((b) => ({ ...b, ref: b.used ?? b.ref }));
  const c =
    changedBase(before, bases) ??
    changedBase(
      byUsed,
      bases.map((b) => ({ ...b, ref: b.used ?? b.ref })),
    );
  if (!c) return undefined;
  return c.app && c.tag ? parentRebuiltReason(c.app, c.tag) : baseChangedReason(c);
}
