// A new upstream version becomes pending work, the way openEuler's auto-upgrade bot does it: copy the
// newest existing container recipe of each OS line, replace the version (tag `<new>-oe<os>`, same
// Dockerfile path, build arg VERSION), and open a pending artifact record for the pipeline.
import { assertTag, isTag } from '../../catalog/names.ts';
import type { App, Artifact } from '../../catalog/schema.ts';
import { inLine, type VersionScheme } from './versions/index.ts';

type ContainerRecipe = App['recipes']['container'][number];

/** openEuler's tag suffix for an OS version: 24.03-lts-sp4 → 2403sp4, 22.03-lts → 2203lts, 25.09 → 2509. */
export function osTagSuffix(osVersion: string): string {
  const m = /^(\d{2})\.(\d{2})(?:-lts(?:-(sp\d+))?)?$/.exec(osVersion);
  if (!m) throw new Error(`not an openEuler OS version: ${osVersion}`);
  const lts = osVersion.includes('-lts');
  return `${m[1]}${m[2]}${m[3] ?? (lts ? 'lts' : '')}`;
}

/** The tag of a recipe moved to a new version: keep the existing suffix when the tag follows `<ver>-…`. */
export function derivedTag(recipe: ContainerRecipe, newVersion: string): string {
  const tag = recipe.tag.startsWith(`${recipe.version}-`)
    ? `${newVersion}${recipe.tag.slice(recipe.version.length)}`
    : `${newVersion}-oe${osTagSuffix(recipe.osVersion)}`;
  return assertTag(tag);
}

export interface PendingWork {
  recipes: ContainerRecipe[];
  artifacts: Artifact[];
  /** The version of the recipes that were copied (the "from" of the upgrade). */
  from?: string;
}

/**
 * Recipes and artifacts to add for `newVersion`, or none when the app already has a recipe at that
 * version or a newer one (within `line`, when release lines are tracked). Pure: same inputs, same output.
 */
export function derivePendingWork(
  app: App,
  scheme: VersionScheme,
  newVersion: string,
  pending: { reason?: string; since: string; runId: string },
  line?: string,
): PendingWork {
  const candidates = app.recipes.container.filter(
    (r) => !r.problem && scheme.isValid(r.version) && (!line || inLine(scheme, r.version, line)),
  );
  if (!candidates.length) return { recipes: [], artifacts: [] };
  const newest = candidates.reduce((a, b) => (scheme.compare(b.version, a.version) > 0 ? b : a)).version;
  if (scheme.compare(newVersion, newest) <= 0) return { recipes: [], artifacts: [], from: newest };
  const existingTags = new Set(app.recipes.container.map((r) => r.tag));
  const seenOs = new Set<string>();
  const recipes: ContainerRecipe[] = [];
  const artifacts: Artifact[] = [];
  for (const r of candidates.filter((c) => scheme.compare(c.version, newest) === 0)) {
    if (seenOs.has(r.osVersion)) continue;
    seenOs.add(r.osVersion);
    const tag = derivedTag(r, newVersion);
    if (!isTag(tag) || existingTags.has(tag)) continue;
    const { problem: _p, derived: _d, ...rest } = r;
    recipes.push({ ...rest, tag, version: newVersion, buildArgs: { ...r.buildArgs, VERSION: newVersion } });
    artifacts.push({
      app: app.id,
      kind: 'container',
      id: tag,
      version: newVersion,
      osVersion: r.osVersion,
      arches: r.arches,
      pending: {
        reason: pending.reason ?? `upstream ${newest} → ${newVersion}`,
        since: pending.since,
        runId: pending.runId,
      },
      records: {},
    });
  }
  return { recipes, artifacts, from: newest };
}
