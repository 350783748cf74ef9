// The recipe facts the importer recorded, one flat object per container recipe: what
// `wharf recipe inspect --json` prints and what the build graph reads. Pure over a catalog snapshot.
import type { App, ContainerRecipe } from './schema.ts';

export interface RecipeView {
  app: string;
  tag: string;
  /** Recipe file path relative to the recipe repository root. */
  dockerfile: string;
  exists: boolean;
  builder: 'dockerfile' | 'distrofile';
  stages: { from: string; resolved: string | null }[];
  /** The final stage's resolved FROM (FROM <stage> followed), as Docker resolves it with no build args. */
  base: string | null;
  /** Declared ARG → default as written, or null. */
  args: Record<string, string | null>;
  /** External images the build reads, and the app when Wharf builds that image. */
  bases: { ref: string; app?: string; tag?: string }[];
  /** Recipe-repository commit the recipe was imported at, when known. */
  commit: string | null;
  problems: string[];
}

export function recipeView(app: App, r: ContainerRecipe): RecipeView {
  const a = r.analysis;
  const dir = app.source?.dir;
  const problems = [...(a?.problems ?? [])];
  // A problem set outside the importer's analysis (retirement, a hand edit) is part of the picture too.
  if (r.problem && r.problem !== problems.join('; ')) problems.unshift(r.problem);
  if (!a) problems.push('no recipe analysis recorded (re-import the recipe repository)');
  return {
    app: app.id,
    tag: r.tag,
    dockerfile: dir ? `${dir}/${r.dockerfile}` : r.dockerfile,
    exists: a?.exists ?? false,
    builder: a?.builder ?? (/(^|\/)Distrofile$/i.test(r.dockerfile) ? 'distrofile' : 'dockerfile'),
    stages: (a?.stages ?? []).map((s) => ({ from: s.from, resolved: s.resolved })),
    base: a?.base ?? null,
    args: a?.args ?? {},
    bases: a?.bases ?? [],
    commit: r.commit ?? app.source?.commit ?? null,
    problems,
  };
}
