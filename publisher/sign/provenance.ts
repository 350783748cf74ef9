// The SLSA provenance v1 statement (in-toto Statement v1) for a built container image: who built it
// (builder id), how (buildType, the recipe repository/commit/Dockerfile/tag), from what (inputs
// digest, base image digest, recipe commit) and when (the build run id and times).
import type { App, BuildRecord, CatalogConfig, ContainerRecipe } from '../../catalog/schema.ts';

export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const WHARF_BUILD_TYPE = 'https://wharf.openeuler.org/buildtypes/container/v1';

export interface ProvenanceInput {
  /** Repository the statement is about, e.g. 127.0.0.1:5000/openeuler/redis. */
  subjectName: string;
  digest: string;
  app: App;
  recipe: ContainerRecipe;
  build: BuildRecord;
  config: CatalogConfig;
  builderId: string;
}

export function defaultBuilderId(config: CatalogConfig, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.WHARF_BUILDER_ID;
  if (fromEnv && /^[a-z][a-z0-9+.-]*:\S+$/i.test(fromEnv)) return fromEnv;
  return config.siteUrl ? new URL('/builder', config.siteUrl).toString() : `urn:wharf:builder:${config.name}`;
}

export function slsaProvenance(p: ProvenanceInput): Record<string, unknown> {
  const hex = p.digest.replace(/^sha256:/, '');
  const b = p.build;
  const finished = new Date(b.at);
  const started = new Date(finished.getTime() - (b.durationMs ?? 0));
  const recipeUrl = p.config.recipes?.url;
  const resolved: Array<Record<string, unknown>> = [];
  if (b.base?.ref)
    resolved.push({
      uri: b.base.ref,
      ...(b.base.digest ? { digest: { sha256: b.base.digest.replace(/^sha256:/, '') } } : {}),
      name: 'base-image',
    });
  if (b.recipeCommit)
    resolved.push({
      uri: recipeUrl ? `git+${recipeUrl}@${b.recipeCommit}` : `git+recipes@${b.recipeCommit}`,
      digest: { gitCommit: b.recipeCommit },
      name: 'recipe',
    });
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: p.subjectName, digest: { sha256: hex } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: WHARF_BUILD_TYPE,
        externalParameters: {
          recipe: {
            ...(recipeUrl ? { repository: recipeUrl } : {}),
            ...(b.recipeCommit ? { commit: b.recipeCommit } : {}),
            ...(p.app.scene ? { scene: p.app.scene } : {}),
            app: p.app.id,
            dockerfile: p.recipe.dockerfile,
            ...(p.recipe.context ? { context: p.recipe.context } : {}),
            tag: p.recipe.tag,
          },
          version: p.recipe.version,
          osVersion: p.recipe.osVersion,
          ...(p.recipe.buildArgs ? { buildArgs: p.recipe.buildArgs } : {}),
        },
        internalParameters: {
          ...(b.inputsDigest ? { inputsDigest: b.inputsDigest } : {}),
          ...(b.arches ? { arches: b.arches } : {}),
        },
        resolvedDependencies: resolved,
      },
      runDetails: {
        builder: { id: p.builderId },
        metadata: {
          invocationId: b.runId,
          startedOn: started.toISOString(),
          finishedOn: finished.toISOString(),
        },
      },
    },
  };
}
