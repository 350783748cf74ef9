// What to pass to the engine for one recipe and platform, from the Dockerfile itself (catalog/dockerfile):
//
// - only build args the Dockerfile declares are passed;
// - a default the recipe's author chose is never replaced: an explicit recipe build arg (a derived
//   recipe's VERSION) is passed, a declared ARG without default is filled in (`BASE` from wharf.yml
//   baseImages for the recipe's OS version, `VERSION` from the recipe), and the platform ARGs
//   (TARGETARCH, TARGETOS, TARGETPLATFORM) get the platform being built;
// - the image of every stage is resolved to a digest. When a stage is built `FROM $ARG` (a global ARG),
//   that ARG may be pinned to the digest of the very image its value names: the image as named, its
//   Wharf-built copy (the parent's published reference, or its local build), or the wharf.yml
//   baseImages mirror of `openeuler/openeuler:<os>`. A literal FROM is built as written.
//
// The result is what the inputs digest covers and what the build record keeps (every stage's base).
import type { Arch } from '../../catalog/names.ts';
import type { BuildBase, CatalogConfig, ContainerRecipe } from '../../catalog/schema.ts';
import { analyseRecipeFile, type RecipeFacts } from '../../catalog/dockerfile/index.ts';
import { normaliseRef } from '../../catalog/graph.ts';
import { RecipeError } from '../recipes/index.ts';

/** The image a Wharf app builds for a base reference, and the reference to build FROM. */
export interface WharfBase {
  app: string;
  tag: string;
  /** The published `repo:tag@digest`, or the local image of its build. */
  used: string;
}

export interface PlanInput {
  /** The recipe file's path (repository-relative), for messages. */
  path: string;
  text: string;
  recipe: Pick<ContainerRecipe, 'buildArgs' | 'version' | 'osVersion'>;
  config: Pick<CatalogConfig, 'baseImages'>;
  arch: Arch;
  /** The Wharf-built image for a base reference, when Wharf builds it and a build of it exists. */
  wharfBase(ref: string): Promise<WharfBase | undefined>;
  /** A reference's digest through the engine; `local` when only a local image id could be had. */
  resolve(ref: string): Promise<{ digest: string; local: boolean }>;
}

export interface BuildPlan {
  buildArgs: Record<string, string>;
  bases: BuildBase[];
  /** The Dockerfile's facts with the build args applied (what the engine will resolve). */
  facts: RecipeFacts;
}

const PLATFORM_ARGS: Record<string, (arch: Arch) => string> = {
  TARGETARCH: (a) => a,
  TARGETOS: () => 'linux',
  TARGETPLATFORM: (a) => `linux/${a}`,
};

const ARG_REF_RE = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$/;

/** The wharf.yml baseImages mirror of `openeuler/openeuler:<os>` (not of a digest-pinned reference). */
export function osMirror(ref: string, baseImages: Record<string, string>): string | undefined {
  if (ref.includes('@')) return undefined;
  const m = /^openeuler\/openeuler:(.+)$/.exec(normaliseRef(ref));
  const mirror = m ? baseImages[m[1]!] : undefined;
  return mirror && mirror !== ref ? mirror : undefined;
}

const recipeProblems = (path: string, facts: RecipeFacts) =>
  facts.problems.map((p) => `${path}:${p.line}: ${p.message}`).join('; ');

/** Plan one platform's build of a recipe file. Throws RecipeError for what cannot be built. */
export async function planBuild(i: PlanInput): Promise<BuildPlan> {
  const platform = `linux/${i.arch}`;
  const facts0 = analyseRecipeFile(i.path, i.text, { platform });
  if (facts0.builder !== 'dockerfile')
    throw new RecipeError(`${i.path}: a Distroless Distrofile (YAML spec), not buildable by Wharf`);

  // ---- the build args: declared ones only
  const args: Record<string, string> = {};
  for (const [name, declared] of Object.entries(facts0.args)) {
    const explicit = i.recipe.buildArgs?.[name];
    if (explicit !== undefined) args[name] = explicit;
    else if (PLATFORM_ARGS[name]) args[name] = PLATFORM_ARGS[name](i.arch);
    else if (declared === null && name === 'VERSION') args[name] = i.recipe.version;
    else if (declared === null && name === 'BASE') {
      const b = i.config.baseImages[i.recipe.osVersion];
      if (b) args[name] = b;
    }
  }
  let facts = analyseRecipeFile(i.path, i.text, { platform, buildArgs: args });
  if (facts.problems.length)
    throw new RecipeError(
      `${recipeProblems(i.path, facts)}${
        'BASE' in facts0.args && facts0.args.BASE === null && !args.BASE
          ? ` (ARG BASE has no default and wharf.yml baseImages has no entry for ${i.recipe.osVersion})`
          : ''
      }`,
    );

  // ---- every stage's image, and the COPY --from images
  const byRef = new Map<string, number[]>();
  for (const [n, s] of facts.stages.entries()) {
    if (s.parentStage !== null || !s.resolved || s.resolved === 'scratch') continue;
    byRef.set(s.resolved, [...(byRef.get(s.resolved) ?? []), n]);
  }
  const bases: BuildBase[] = [];
  for (const [ref, stages] of byRef) {
    // The stages may be redirected only when each is `FROM $X` with X a global ARG.
    const vars = new Set<string>();
    let redirectable = true;
    for (const n of stages) {
      const m = ARG_REF_RE.exec(facts.stages[n]!.from);
      const v = m?.[1] ?? m?.[2];
      if (!v || !(v in facts.globalArgs)) redirectable = false;
      else vars.add(v);
    }
    const wharf = await i.wharfBase(ref);
    let used = ref;
    if (redirectable) used = wharf?.used ?? osMirror(ref, i.config.baseImages) ?? ref;
    const r = await i.resolve(used);
    if (redirectable) {
      const pinned = r.local || used.includes('@') ? used : `${used}@${r.digest}`;
      if (pinned !== ref) for (const v of vars) args[v] = pinned;
    }
    bases.push({
      ref,
      ...(used !== ref ? { used } : {}),
      digest: r.digest,
      stages,
      ...(wharf ? { app: wharf.app, tag: wharf.tag } : {}),
    });
  }
  for (const c of facts.copyFrom) {
    if (!c.image || c.image === 'scratch' || bases.some((b) => b.ref === c.image)) continue;
    const r = await i.resolve(c.image);
    bases.push({ ref: c.image, digest: r.digest });
  }
  facts = analyseRecipeFile(i.path, i.text, { platform, buildArgs: args });
  return { buildArgs: args, bases, facts };
}

/** The first base whose digest differs from the previous build's (same Dockerfile reference). */
export function changedBase(
  prev: readonly BuildBase[] | undefined,
  next: readonly BuildBase[],
): BuildBase | undefined {
  if (!prev) return undefined;
  return next.find((b) => {
    const p = prev.find((x) => x.ref === b.ref);
    return p?.digest !== undefined && p.digest !== b.digest;
  });
}
