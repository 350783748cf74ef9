// The contract every pipeline stage implements. A stage reads the catalog (through ctx.store) and its
// inputs, does its work, and writes exactly one record (one catalog commit) for one artifact. It can be
// re-run alone; running it again on unchanged inputs records "unchanged" (or changes nothing).
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
import { assertAppId, assertTag } from '../catalog/names.ts';
import type { App, Artifact, CatalogConfig, ImageKind, Recipe, Stage } from '../catalog/schema.ts';

export interface StageLogger {
  info(msg: string): void;
  warn(msg: string): void;
  /** Progress lines (build steps, push progress); shown on a terminal, dropped under --json. */
  progress?(msg: string): void;
}

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
}

export interface StageTarget {
  app: App;
  kind: ImageKind;
  artifactId: string;
  recipe: Recipe;
  /** The artifact record as last committed (undefined before the first build). */
  artifact?: Artifact;
}

export interface StageOutcome {
  stage: Stage;
  app: string;
  artifactId: string;
  /** The status written in the record (ok, unchanged, failed, not-run, blocked, …). */
  status: string;
  /** Catalog commit made for this result, or null when nothing changed. */
  commit: string | null;
  durationMs: number;
  message?: string;
}

export type StageRunner = (ctx: StageContext, target: StageTarget) => Promise<StageOutcome>;

/** Where the build stage leaves the OCI image layout of an artifact on this machine. */
export function imageLayoutDir(ctx: Pick<StageContext, 'workDir'>, app: string, artifactId: string): string {
  return join(ctx.workDir, 'images', assertAppId(app), assertTag(artifactId));
}

/** Commit trailers for a stage result, in the order every stage uses. */
export function stageTrailers(stage: Stage, t: StageTarget, runId: string): Record<string, string> {
  return {
    App: t.app.id,
    Version: t.recipe.version,
    Kind: t.kind,
    Artifact: t.artifactId,
    Stage: stage,
    'Run-Id': runId,
  };
}

/** The outcome of a stage that had nothing to do for a target and wrote no record. */
export function skippedOutcome(
  stage: Stage,
  t: StageTarget,
  startedMs: number,
  message: string,
): StageOutcome {
  return {
    stage,
    app: t.app.id,
    artifactId: t.artifactId,
    status: 'skipped',
    commit: null,
    durationMs: Date.now() - startedMs,
    message,
  };
}
