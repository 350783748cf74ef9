// The build graph, derived from the recipes as bashbrew derives it from official-images: every container
// recipe is an image (`openeuler/<name>:<tag>`, the name its app publishes under); its parents are the
// images its Dockerfile reads (every stage's base and COPY --from, as the importer resolved them with
// no build args); a parent is Wharf-built when it names an app's publish repository (under the
// `openeuler` namespace openEuler publishes to, or under a wharf.yml registry target) and one of its
// tags. Children are the reverse. A cycle is a problem on each recipe in it (file:line of the FROM
// naming the next image), and those recipes are left out of the order; the rest goes on.
// Pure over a catalog snapshot.
import type { App, CatalogConfig, ContainerRecipe } from './schema.ts';

/** Namespace openEuler publishes its application images under (docker.io, quay.io, hub.oepkgs.net). */
export const IMAGE_NAMESPACE = 'openeuler';
const HUB_HOSTS_RE = /^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io|quay\.io|hub\.oepkgs\.net)\//;

/** `docker.io/library/x` → `x`, `docker.io/a/b` → `a/b`: the short form Docker Hub references share. */
export function normaliseRef(ref: string): string {
  return ref
    .replace(/^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '')
    .replace(/^library\//, '');
}

export interface GraphParent {
  /** The image as the recipe names it. */
  ref: string;
  /** The Wharf app that publishes it, and the tag when it is one of that app's recipes. */
  app?: string;
  tag?: string;
  /** Line of the FROM (or COPY --from) that reads it. */
  line: number;
}

export interface GraphImage {
  app: string;
  tag: string;
  /** `openeuler/<name>:<tag>`. */
  image: string;
  /** The recipe file, relative to the recipe repository root. */
  file: string;
  parents: GraphParent[];
  children: { app: string; tag: string; image: string }[];
  /** The recipe cannot be built (its problem), or it is retired. */
  broken?: boolean;
}

export interface GraphProblem {
  app: string;
  tag: string;
  file: string;
  line: number;
  message: string;
}

export interface BuildGraph {
  /** Keyed `app:tag`. */
  images: Map<string, GraphImage>;
  /** Parents before children (recipes in a cycle are left out). */
  order: string[];
  /** Keys of recipes in a cycle. */
  cyclic: Set<string>;
  problems: GraphProblem[];
}

export const imageKey = (app: string, tag: string) => `${app}:${tag}`;

/** Matches image references to the Wharf apps that build them. */
export class ImageIndex {
  private readonly byName = new Map<string, { id: string; tags: Set<string> }>();
  private readonly prefixes: string[];
  constructor(apps: Iterable<App>, config?: Pick<CatalogConfig, 'registries'>) {
    for (const a of apps)
      if (!a.retired)
        this.byName.set(a.name, { id: a.id, tags: new Set(a.recipes.container.map((r) => r.tag)) });
    this.prefixes = (config?.registries ?? []).map((r) => `${r.repository}/`);
  }

  /** The app (and tag, when it is one of its recipes) that builds `ref`, or null. */
  match(ref: string): { app: string; tag?: string } | null {
    const noDigest = ref.split('@')[0]!;
    let rest: string | undefined;
    for (const p of this.prefixes) if (noDigest.startsWith(p)) rest = noDigest.slice(p.length);
    if (rest === undefined) {
      const parts = noDigest.replace(HUB_HOSTS_RE, '').split('/');
      if (parts.length !== 2 || parts[0] !== IMAGE_NAMESPACE) return null;
      rest = parts[1]!;
    }
    if (rest.includes('/')) return null;
    const colon = rest.indexOf(':');
    const name = colon < 0 ? rest : rest.slice(0, colon);
    const tag = colon < 0 ? 'latest' : rest.slice(colon + 1);
    const app = this.byName.get(name);
    if (!app) return null;
    return app.tags.has(tag) ? { app: app.id, tag } : { app: app.id };
  }
}

function recipeFile(app: App, r: ContainerRecipe): string {
  return app.source?.dir ? `${app.source.dir}/${r.dockerfile}` : r.dockerfile;
}

function parentsOf(r: ContainerRecipe, index: ImageIndex): GraphParent[] {
  const a = r.analysis;
  if (!a) return [];
  return a.bases.map((b) => {
    const line = a.stages.find((s) => s.resolved === b.ref && s.stage === undefined)?.line ?? 1;
    const m = index.match(b.ref);
    return { ref: b.ref, ...(m ? { app: m.app, ...(m.tag ? { tag: m.tag } : {}) } : {}), line };
  });
}

/** The build graph of every container recipe of `apps`. */
export function buildGraph(apps: Iterable<App>, config?: Pick<CatalogConfig, 'registries'>): BuildGraph {
  const list = [...apps];
  const index = new ImageIndex(list, config);
  const images = new Map<string, GraphImage>();
  for (const app of list)
    for (const r of app.recipes.container) {
      const key = imageKey(app.id, r.tag);
      images.set(key, {
        app: app.id,
        tag: r.tag,
        image: `${IMAGE_NAMESPACE}/${app.name}:${r.tag}`,
        file: recipeFile(app, r),
        parents: parentsOf(r, index),
        children: [],
        ...(r.problem || app.retired ? { broken: true } : {}),
      });
    }
  const edges = new Map<string, string[]>(); // parent key → child keys
  for (const [key, img] of images)
    for (const p of img.parents) {
      if (!p.app || !p.tag) continue;
      const pk = imageKey(p.app, p.tag);
      const parent = images.get(pk);
      if (!parent) continue;
      if (!parent.children.some((c) => imageKey(c.app, c.tag) === key))
        parent.children.push({ app: img.app, tag: img.tag, image: img.image });
      edges.set(pk, [...(edges.get(pk) ?? []), key]);
    }
  const keys = [...images.keys()].sort();
  const cycles = stronglyConnected(keys, edges).filter(
    (c) => c.length > 1 || (edges.get(c[0]!) ?? []).includes(c[0]!),
  );
  const cyclic = new Set(cycles.flat());
  const problems: GraphProblem[] = [];
  for (const c of cycles) {
    const members = new Set(c);
    for (const key of [...c].sort()) {
      const img = images.get(key)!;
      // The FROM that names the next image of the cycle.
      const p = img.parents.find((x) => x.app && x.tag && members.has(imageKey(x.app, x.tag)))!;
      const path = cyclePath(key, edges, members);
      problems.push({
        app: img.app,
        tag: img.tag,
        file: img.file,
        line: p.line,
        message: `build graph cycle: ${path.join(' → ')}; not built until the cycle is broken`,
      });
    }
  }
  // Kahn's order, parents first, ties by key.
  const indegree = new Map<string, number>();
  for (const k of keys) if (!cyclic.has(k)) indegree.set(k, 0);
  for (const [pk, cs] of edges)
    if (!cyclic.has(pk)) for (const c of cs) if (indegree.has(c)) indegree.set(c, indegree.get(c)! + 1);
  const ready = keys.filter((k) => indegree.get(k) === 0);
  const order: string[] = [];
  while (ready.length) {
    const k = ready.shift()!;
    order.push(k);
    for (const c of (edges.get(k) ?? []).sort()) {
      if (!indegree.has(c)) continue;
      const n = indegree.get(c)! - 1;
      indegree.set(c, n);
      if (n === 0) ready.push(c);
    }
  }
  return { images, order, cyclic, problems };
}

/** A path from `key` through the cycle back to it (parent → child direction). */
function cyclePath(key: string, edges: Map<string, string[]>, members: Set<string>): string[] {
  const path = [key];
  const seen = new Set([key]);
  let cur = key;
  for (;;) {
    const next = (edges.get(cur) ?? []).filter((c) => members.has(c)).sort();
    const back = next.find((c) => c === key);
    if (back) return [...path, key];
    const n = next.find((c) => !seen.has(c));
    if (!n) return [...path, key];
    path.push(n);
    seen.add(n);
    cur = n;
  }
}

/** Tarjan's strongly connected components (iterative). */
function stronglyConnected(keys: string[], edges: Map<string, string[]>): string[][] {
  let next = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  for (const root of keys) {
    if (idx.has(root)) continue;
    const work: { k: string; i: number }[] = [{ k: root, i: 0 }];
    idx.set(root, next);
    low.set(root, next++);
    stack.push(root);
    on.add(root);
    while (work.length) {
      const top = work.at(-1)!;
      const succ = edges.get(top.k) ?? [];
      if (top.i < succ.length) {
        const s = succ[top.i++]!;
        if (!idx.has(s)) {
          idx.set(s, next);
          low.set(s, next++);
          stack.push(s);
          on.add(s);
          work.push({ k: s, i: 0 });
        } else if (on.has(s)) low.set(top.k, Math.min(low.get(top.k)!, idx.get(s)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work.at(-1)!.k;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.k)!));
      }
      if (low.get(top.k) === idx.get(top.k)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          on.delete(w);
          comp.push(w);
        } while (w !== top.k);
        out.push(comp);
      }
    }
  }
  return out;
}

export interface ChildrenAnswer {
  /** The query as given. */
  query: string;
  /** The Wharf images it names (none for an image Wharf does not build). */
  images: { app: string; tag: string; image: string }[];
  /** Recipes built directly FROM it. */
  children: { app: string; tag: string; image: string; via: string }[];
  /** Everything that would be rebuilt after it, parents first. */
  descendants: { app: string; tag: string; image: string }[];
}

/**
 * The children of an image: `app`, `app:tag`, or an image reference (Wharf-built or not, e.g.
 * `openeuler/openeuler:24.03-lts-sp4` for everything built on that OS image).
 */
export function childrenOf(
  g: BuildGraph,
  query: string,
  apps: Iterable<App>,
  config?: Pick<CatalogConfig, 'registries'>,
): ChildrenAnswer {
  const list = [...apps];
  const byId = new Map(list.map((a) => [a.id, a]));
  const index = new ImageIndex(list, config);
  let target: { app: string; tag?: string } | null = null;
  let external: string | null = null;
  if (!query.includes('/')) {
    const i = query.indexOf(':');
    const id = i < 0 ? query : query.slice(0, i);
    if (byId.has(id)) target = i < 0 ? { app: id } : { app: id, tag: query.slice(i + 1) };
  }
  if (!target) {
    target = index.match(query);
    if (!target) external = normaliseRef(query.split('@')[0]!);
  }
  const images = [...g.images.values()].filter(
    (img) => target && img.app === target.app && (!target.tag || img.tag === target.tag),
  );
  const namesIt = (p: GraphParent) =>
    external !== null
      ? normaliseRef(p.ref.split('@')[0]!) === external
      : !!target && p.app === target.app && (!target.tag || p.tag === target.tag || !p.tag);
  const children: ChildrenAnswer['children'] = [];
  for (const img of g.images.values())
    for (const p of img.parents)
      if (namesIt(p) && !children.some((c) => c.app === img.app && c.tag === img.tag))
        children.push({ app: img.app, tag: img.tag, image: img.image, via: p.ref });
  // Descendants: the closure over children, listed in graph order (cyclic ones at the end).
  const seen = new Set(children.map((c) => imageKey(c.app, c.tag)));
  const queue = [...seen];
  while (queue.length) {
    const k = queue.shift()!;
    for (const c of g.images.get(k)?.children ?? []) {
      const ck = imageKey(c.app, c.tag);
      if (!seen.has(ck)) {
        seen.add(ck);
        queue.push(ck);
      }
    }
  }
  const rank = new Map(g.order.map((k, i) => [k, i]));
  const descendants = [...seen]
    .sort((a, b) => (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity) || a.localeCompare(b))
    .map((k) => g.images.get(k)!)
    .map(({ app, tag, image }) => ({ app, tag, image }));
  return {
    query,
    images: images.map(({ app, tag, image }) => ({ app, tag, image })),
    children: children.sort((a, b) => imageKey(a.app, a.tag).localeCompare(imageKey(b.app, b.tag))),
    descendants,
  };
}
