// The contract every pipeline stage implements, for every image kind (container, wsl, cloud).
//
// A target is one artifact of one app: (app, kind, artifact id, arch). A stage is a function
// `(ctx, target) → StageResult`: it reads the catalog (through ctx.store) and its inputs, does its work,
// and returns the record to write plus a verdict. A stage never writes the catalog: the runner in
// publisher/pipeline commits each result (one commit per result, with the stage trailers) and decides
// what runs next from the verdict alone. Running a stage again on unchanged inputs returns "unchanged"
// (or no record at all, which makes no commit).
//
// Hand-over between stages for container images: the build stage exports the built image as an OCI image
// layout directory at `imageLayoutDir(ctx, app, artifactId)` and records the manifest digest in
// records.build.manifestDigest. scan reads that layout (trivy --input), sign signs that digest, and
// publish pushes that layout (same bytes, same digest) to every registry target, with the .sig/.att
// artifacts sign produced. If the layout is missing (another machine, cleaned work dir), a stage asks
// for a rebuild instead of guessing.
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { BlobStore } from '../catalog/blobs.ts';
import type { CatalogStore } from '../catalog/store.ts';
import { assertAppId, assertTag, type Arch } from '../catalog/names.ts';
import type {
  App,
  Artifact,
  CatalogConfig,
  ImageKind,
  Recipe,
  Stage,
  StageRecords,
} from '../catalog/schema.ts';
import type { RegistryClient, RegistryClientOptions } from './registry/client.ts';
import type { TrivyOptions } from './scan/trivy.ts';
import type { SigningKey } from './sign/keys.ts';

export interface StageLogger {
  info(msg: string): void;
  warn(msg: string): void;
  /** Progress lines (build steps, push progress); shown on a terminal, dropped under --json. */
  progress?(msg: string): void;
}

type RegistryTarget = CatalogConfig['registries'][number];

/** Per-call settings of a registry client (the stage's retry policy and retry hook). */
export type RegistryClientHooks = Pick<RegistryClientOptions, 'retry' | 'onRetry'>;

/**
 * Everything a stage runs with, built once per run by `openStageContext` (publisher/context.ts): the
 * catalog, its configuration, the blob store wharf.yml names, the engine, the signer, the scanner and
 * the registry clients.
 */
export interface StageContext {
  store: CatalogStore;
  config: CatalogConfig;
  runId: string;
  blobs: BlobStore;
  /** Local working directory for this machine (image layouts, build contexts): default .wharf/work. */
  workDir: string;
  log: StageLogger;
  /** Docker-API engine (podman or Docker), when the stage needs one. */
  engine?: Docker;
  signal?: AbortSignal;
  /** Environment to read secrets from (keys, registry passwords); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** The signing key ($WHARF_SIGNING_KEY / $WHARF_SIGNING_KEY_FILE), loaded once; null when none is set. */
  signer(): Promise<SigningKey | null>;
  /** How the scanner (Trivy) is run: executable, cache, timeout, offline (read once; throws on bad settings). */
  scanner(): TrivyOptions;
  /** A registry client for a wharf.yml registry target (credentials from the env variables it names). */
  registry(target: RegistryTarget, hooks?: RegistryClientHooks): RegistryClient;
}

export interface StageTarget {
  app: App;
  kind: ImageKind;
  artifactId: string;
  /** The architecture this target is built for (today the engine's / the recipe's first). */
  arch: Arch;
  recipe: Recipe;
  /** The artifact record as last committed (undefined before the first build). */
  artifact?: Artifact;
}

/**
 * What the runner does next:
 * - done: the stage did its work (or found it already done); the next stage runs.
 * - failed: the stage failed; the artifact stops here.
 * - blocked: a policy or gate refuses to go on (scan policy, publish gate); the artifact stops here.
 * - skipped: the stage does not apply to this target (no buildable recipe, a kind it does not handle);
 *   the artifact stops here with nothing more to do.
 */
export type Verdict = 'done' | 'failed' | 'blocked' | 'skipped';

/** The record a stage result writes: records[stage] of the target's artifact, as one commit. */
export interface RecordWrite<S extends Stage = Stage> {
  record: NonNullable<StageRecords[S]>;
  /** Commit subject; default `<stage> <app>:<artifact>: <status>`. */
  subject?: string;
  /**
   * Outstanding work: `set` marks the artifact pending with this reason (an existing mark is kept),
   * `clear` removes the mark (the artifact is published).
   */
  pending?: { set: string; since: string } | 'clear';
  /** Create the artifact when it has no record yet (and refresh its version from the recipe). */
  upsert?: boolean;
}

export interface StageResult<S extends Stage = Stage> {
  stage: S;
  verdict: Verdict;
  /** The status word for people and the record (ok, unchanged, passed, partial, not-run, …). */
  status: string;
  message?: string;
  /** The record to commit; absent when nothing changed (no commit). */
  write?: RecordWrite<S>;
  /** With `done`: the stage's work was already done (inputs unchanged, already published). */
  unchanged?: boolean;
  /** With `done`: the artifact is complete (built, published for this digest); later stages have nothing to do. */
  complete?: boolean;
}

export type StageFn<S extends Stage = Stage> = (
  ctx: StageContext,
  target: StageTarget,
) => Promise<StageResult<S>>;

/** A stage result as the runner reports it, after the commit. */
export interface StageOutcome {
  stage: Stage;
  app: string;
  artifactId: string;
  kind: ImageKind;
  arch: Arch;
  verdict: Verdict;
  /** The status written in the record (ok, unchanged, failed, not-run, blocked, …); `error` for a crash. */
  status: string;
  /** Catalog commit made for this result, or null when nothing changed. */
  commit: string | null;
  durationMs: number;
  message?: string;
}

/** Where the build stage leaves the OCI image layout of an artifact on this machine. */
export function imageLayoutDir(ctx: Pick<StageContext, 'workDir'>, app: string, artifactId: string): string {
  return join(ctx.workDir, 'images', assertAppId(app), assertTag(artifactId));
}

/** Commit trailers for a stage result, in the order the runner writes them. */
export function stageTrailers(stage: Stage, t: StageTarget, runId: string): Record<string, string> {
  return {
    App: t.app.id,
    Version: t.recipe.version,
    Kind: t.kind,
    Artifact: t.artifactId,
    Arch: t.arch,
    Stage: stage,
    'Run-Id': runId,
  };
}

/** `app:artifact`, the label of a target in messages and commit subjects. */
export const targetLabel = (t: Pick<StageTarget, 'app' | 'artifactId'>) => `${t.app.id}:${t.artifactId}`;
