// Selecting targets: `app`, `app:tag` arguments and kind filters → the (app, kind, artifact id, arch)
// targets of a catalog snapshot. One parser for every command (pipeline, build, smoke, scan, sign,
// publish, rescan) and the daemon; names pass catalog/names.ts before they go anywhere.
import { ARCHES, assertAppId, assertTag, type Arch } from '../catalog/names.ts';
import { artifactIdOf, IMAGE_KINDS, type App, type ImageKind, type Recipe } from '../catalog/schema.ts';
import type { AppEntry, CatalogSnapshot, CatalogStore } from '../catalog/store.ts';
import type { StageTarget } from './stage.ts';

export interface Selection {
  app: string;
  /** The artifact id: a container tag, or a wsl/cloud image id. */
  tag?: string;
}

export class SelectionError extends Error {
  override name = 'SelectionError';
}

/** Parse `app[:tag]` arguments; names are validated before they go anywhere. */
export function parseSelection(args: readonly string[]): Selection[] {
  return args.map((a) => {
    const i = a.indexOf(':');
    if (i < 0) return { app: assertAppId(a) };
    return { app: assertAppId(a.slice(0, i)), tag: assertTag(a.slice(i + 1)) };
  });
}

/** Parse a `--kind container,wsl` value; throws SelectionError naming the bad kind. */
export function parseKinds(value: string | undefined): ImageKind[] | undefined {
  if (value === undefined) return undefined;
  const kinds = value
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  for (const k of kinds)
    if (!(IMAGE_KINDS as readonly string[]).includes(k))
      throw new SelectionError(`unknown image kind "${k}" (expected ${IMAGE_KINDS.join(', ')})`);
  return kinds.length ? (kinds as ImageKind[]) : undefined;
}

const NODE_ARCH: Partial<Record<NodeJS.Architecture, Arch>> = {
  x64: 'amd64',
  arm64: 'arm64',
  riscv64: 'riscv64',
  loong64: 'loong64',
  ppc64: 'ppc64le',
  s390x: 's390x',
};

/** This machine's architecture in catalog terms. */
export function hostArch(): Arch {
  const a = NODE_ARCH[process.arch];
  return a && (ARCHES as readonly string[]).includes(a) ? a : 'amd64';
}

/** The arch a recipe is built for on this host: the host's when the recipe lists it, else its first. */
export function targetArch(recipe: Pick<Recipe, 'arches'>, host: Arch = hostArch()): Arch {
  return recipe.arches.includes(host) ? host : (recipe.arches[0] ?? host);
}

export interface SelectOptions {
  /** Only these kinds (default: every kind). */
  kinds?: readonly ImageKind[];
  /** Only artifacts that already have a record (e.g. scan: built ones). */
  where?: (t: StageTarget) => boolean;
}

export interface TargetSelection {
  targets: StageTarget[];
  /** Selection entries that matched nothing. */
  problems: string[];
}

const recipesOf = (app: App, kind: ImageKind): Recipe[] => app.recipes[kind];

/** The target of one recipe of a catalog entry, with its last committed record. */
export function targetOf(e: AppEntry, recipe: Recipe, host: Arch = hostArch()): StageTarget {
  const artifactId = artifactIdOf(recipe);
  return {
    app: e.app,
    kind: recipe.kind,
    artifactId,
    arch: targetArch(recipe, host),
    recipe,
    artifact: e.artifacts.find((a) => a.kind === recipe.kind && a.id === artifactId),
  };
}

/** One target, read from the store now; throws when the app has no such recipe. */
export async function loadTarget(
  store: Pick<CatalogStore, 'loadApp'>,
  app: string,
  artifactId: string,
  kind: ImageKind = 'container',
): Promise<StageTarget> {
  const e = await store.loadApp(app);
  const recipe = e && recipesOf(e.app, kind).find((r) => artifactIdOf(r) === artifactId);
  if (!e || !recipe) throw new SelectionError(`app ${app} has no ${kind} recipe with tag ${artifactId}`);
  return targetOf(e, recipe);
}

/** The targets of a catalog snapshot matching `selection` (all when empty), in app, kind, id order. */
export function selectTargets(
  snap: CatalogSnapshot,
  selection: readonly Selection[] = [],
  opts: SelectOptions = {},
): TargetSelection {
  const kinds = opts.kinds?.length ? opts.kinds : IMAGE_KINDS;
  const problems: string[] = [];
  for (const s of selection) {
    const e = snap.apps.get(s.app);
    if (!e) problems.push(`no app ${s.app} in the catalog`);
    else if (s.tag && !kinds.some((k) => recipesOf(e.app, k).some((r) => artifactIdOf(r) === s.tag)))
      problems.push(`app ${s.app} has no ${kinds.join('/')} recipe with tag ${s.tag}`);
  }
  const wanted = (app: string, id: string) =>
    selection.length === 0 || selection.some((s) => s.app === app && (!s.tag || s.tag === id));
  const host = hostArch();
  const targets: StageTarget[] = [];
  for (const id of [...snap.apps.keys()].sort()) {
    const e = snap.apps.get(id)!;
    for (const kind of kinds) {
      for (const recipe of recipesOf(e.app, kind)) {
        if (!wanted(id, artifactIdOf(recipe))) continue;
        const t = targetOf(e, recipe, host);
        if (!opts.where || opts.where(t)) targets.push(t);
      }
    }
  }
  return { targets, problems };
}
