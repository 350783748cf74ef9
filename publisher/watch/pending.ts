// A new upstream version becomes pending work, the way openEuler's auto-upgrade bot does it: copy the
// newest existing container recipe of each OS line, replace the version (tag `<new>-oe<os>`, same
// Dockerfile path, build arg VERSION), and open a pending artifact record for the pipeline.
//
// This is the ONE path from "upstream offers these versions" to records, used by the watch sweep (a
// whole listing) and by triggers (one release, merged into what was known: `seenWithRelease`), so a
// webhook and a sweep that see the same release write the same upstream.json version fields, recipes
// and pending artifacts: `releaseUpdate` → `addPendingWork`.
//
// The build graph's pending work lives here too: when a Wharf-built image is rebuilt (a base digest of
// one of its stages changed, its own parent was rebuilt, its recipe changed), its children in the build
// graph (catalog/graph.ts) become pending with the reason `parent <app>:<tag> rebuilt`:
// `childrenPendingWork` → `markChildrenPending` (the pipeline calls it after each rebuilt image).
import { assertTag, isTag } from '../../catalog/names.ts';
import type { App, Artifact, Upstream, UpstreamState } from '../../catalog/schema.ts';
import type { Tx } from '../../catalog/store.ts';
import { imageKey, type BuildGraph } from '../../catalog/graph.ts';
import { parentRebuiltReason } from '../artifact/reasons.ts';
import { sortVersions } from './policy.ts';
import { getScheme, inLine, type VersionScheme } from './versions/index.ts';

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

/** What an upstream is known to offer: versions (newest first), the newest overall and per release line. */
export interface SeenVersions {
  versions: string[];
  latest?: string;
  lines: Record<string, string>;
}

/** A newly seen version: overall (`line` absent) or in a tracked release line. */
export interface VersionChange {
  app: string;
  from: string | null;
  to: string;
  line?: string;
}

/** The newest valid version among the app's container recipes (within `line`, when given). */
export function newestRecipeVersion(app: App, scheme: VersionScheme, line?: string): string | null {
  const vs = app.recipes.container
    .map((r) => r.version)
    .filter((v) => scheme.isValid(v) && (!line || inLine(scheme, v, line)));
  return vs.length ? vs.reduce((a, b) => (scheme.compare(b, a) > 0 ? b : a)) : null;
}

const newest = (scheme: VersionScheme, vs: (string | undefined)[]): string | undefined =>
  vs
    .filter((v): v is string => !!v)
    .reduce<string | undefined>((a, b) => (!a || scheme.compare(b, a) > 0 ? b : a), undefined);

/**
 * What is known once one release (`version`, already through the version policy) is added to `prev`:
 * nothing is forgotten (a webhook names one release, not the whole listing). Pure.
 */
export function seenWithRelease(
  entry: Upstream,
  prev: UpstreamState | undefined,
  version: string,
  knownLimit: number,
): SeenVersions {
  const scheme = getScheme(entry.scheme);
  const known = sortVersions(scheme, [version, ...(prev?.known ?? [])]);
  const lines: Record<string, string> = {};
  for (const line of entry.lines ?? []) {
    const v = newest(scheme, [prev?.lines?.[line], inLine(scheme, version, line) ? version : undefined]);
    if (v) lines[line] = v;
  }
  const latest = newest(scheme, [prev?.latest, version]);
  return { versions: known.slice(0, knownLimit), ...(latest ? { latest } : {}), lines };
}

/**
 * The version fields of the next upstream.json (latest, lines, known, lastChanged; every other field
 * kept from `prev`), the changes they mean, and the pending work they call for. A version is new when
 * it is newer than the last one recorded, or — none recorded yet — than the newest recipe (of its line,
 * when lines are tracked). Pure: same inputs, same output.
 */
export function releaseUpdate(
  app: App,
  prev: UpstreamState | undefined,
  seen: SeenVersions,
  at: string,
  runId: string,
  knownLimit: number,
): { state: UpstreamState; changes: VersionChange[]; moved: boolean; work: PendingWork[] } {
  const entry = app.upstream!;
  const scheme = getScheme(entry.scheme);
  const newer = (to: string | undefined, from: string | null | undefined): to is string =>
    !!to && (from == null || scheme.compare(to, from) > 0);
  const changes: VersionChange[] = [];
  if (!entry.lines?.length) {
    const from = prev?.latest ?? newestRecipeVersion(app, scheme);
    if (newer(seen.latest, from)) changes.push({ app: app.id, from, to: seen.latest });
  }
  for (const [line, v] of Object.entries(seen.lines)) {
    const from = prev?.lines?.[line] ?? newestRecipeVersion(app, scheme, line);
    if (newer(v, from)) changes.push({ app: app.id, from, to: v, line });
  }
  const state: UpstreamState = { ...prev, known: seen.versions.slice(0, knownLimit) };
  if (seen.latest) state.latest = seen.latest;
  else delete state.latest;
  if (Object.keys(seen.lines).length) state.lines = { ...seen.lines };
  else delete state.lines;
  const moved = state.latest !== prev?.latest || JSON.stringify(state.lines) !== JSON.stringify(prev?.lines);
  if (moved) state.lastChanged = at;
  return { state, changes, moved, work: pendingFor(app, state, at, runId) };
}

/** Pending work for every tracked newest version (overall, or per release line). Pure. */
export function pendingFor(app: App, state: UpstreamState, at: string, runId: string): PendingWork[] {
  const entry = app.upstream;
  if (!entry || !app.recipes.container.length) return [];
  const scheme = getScheme(entry.scheme);
  const targets: [string, string | undefined][] = entry.lines?.length
    ? Object.entries(state.lines ?? {}).map(([line, v]) => [v, line])
    : state.latest
      ? [[state.latest, undefined]]
      : [];
  return targets
    .map(([v, line]) => derivePendingWork(app, scheme, v, { since: at, runId }, line))
    .filter((w) => w.recipes.length > 0);
}

/** Write pending work: new recipes into app.yml, artifacts that do not exist yet. Returns those added. */
export async function addPendingWork(
  tx: Pick<Tx, 'getArtifact' | 'putArtifact' | 'putApp'>,
  app: App,
  work: PendingWork[],
): Promise<Artifact[]> {
  const recipes = [...app.recipes.container];
  const added: Artifact[] = [];
  for (const w of work) {
    for (const r of w.recipes) if (!recipes.some((x) => x.tag === r.tag)) recipes.push(r);
    for (const a of w.artifacts) {
      if (await tx.getArtifact(app.id, 'container', a.id)) continue;
      tx.putArtifact(a);
      added.push(a);
    }
  }
  if (recipes.length !== app.recipes.container.length)
    tx.putApp({ ...app, recipes: { ...app.recipes, container: recipes } });
  return added;
}

/** The reason a child of a rebuilt Wharf image is pending (one wording: publisher/artifact/reasons.ts). */
export { parentRebuiltReason };

/**
 * The children of `parent` in the build graph whose artifact exists and is not already pending, marked
 * pending because the parent was rebuilt. Children never built yet need no mark (they are new work);
 * recipes in a cycle are left alone (their problem says why). Pure.
 */
export function childrenPendingWork(
  graph: BuildGraph,
  parent: { app: string; tag: string },
  artifact: (app: string, tag: string) => Artifact | undefined,
  pending: { since: string; runId: string },
): Artifact[] {
  const img = graph.images.get(imageKey(parent.app, parent.tag));
  const out: Artifact[] = [];
  for (const c of img?.children ?? []) {
    if (graph.cyclic.has(imageKey(c.app, c.tag))) continue;
    const a = artifact(c.app, c.tag);
    if (!a || a.pending) continue;
    out.push({
      ...a,
      pending: {
        reason: parentRebuiltReason(parent.app, parent.tag),
        since: pending.since,
        runId: pending.runId,
      },
    });
  }
  return out;
}

/** Write `childrenPendingWork` in a transaction; returns the artifacts marked. */
export async function markChildrenPending(
  tx: Pick<Tx, 'getArtifact' | 'putArtifact'>,
  graph: BuildGraph,
  parent: { app: string; tag: string },
  pending: { since: string; runId: string },
): Promise<Artifact[]> {
  const img = graph.images.get(imageKey(parent.app, parent.tag));
  const current = new Map<string, Artifact | undefined>();
  for (const c of img?.children ?? [])
    current.set(imageKey(c.app, c.tag), await tx.getArtifact(c.app, 'container', c.tag));
  const marked = childrenPendingWork(graph, parent, (app, tag) => current.get(imageKey(app, tag)), pending);
  for (const a of marked) tx.putArtifact(a);
  return marked;
}
