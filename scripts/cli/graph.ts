// `wharf graph` and `wharf children <image-ref>`: the build graph derived from the recipes
// (catalog/graph.ts) — every image's parents (the images its Dockerfile's stages read, Wharf-built or
// not) and children (the recipes built FROM it), the order the pipeline builds them in, and cycles as
// problems with file:line.
import type { Command } from 'commander';
import { buildGraph, childrenOf, imageKey, type BuildGraph } from '../../catalog/graph.ts';
import { UsageError, catalogOption, jsonOption, openCatalog, printJson } from './common.ts';

/** An image reference or `app[:tag]`: no whitespace, no option-like or control characters. */
const QUERY_RE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,511}$/;

function graphJson(g: BuildGraph) {
  const rank = new Map(g.order.map((k, i) => [k, i]));
  const images = [...g.images.entries()]
    .sort(([a], [b]) => (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([, img]) => ({ ...img, ...(g.cyclic.has(imageKey(img.app, img.tag)) ? { cycle: true } : {}) }));
  return { images, order: g.order, problems: g.problems };
}

export default function register(program: Command): void {
  program
    .command('graph')
    .description(
      'the build graph: parents (every stage base) and children of every image, the build order, cycles',
    )
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (o: { catalog?: string; json?: boolean }) => {
      const snap = await (await openCatalog(o)).load();
      const g = buildGraph(
        [...snap.apps.values()].map((e) => e.app),
        snap.config,
      );
      const out = graphJson(g);
      if (o.json) return printJson(out);
      for (const img of out.images) {
        if (!img.parents.length && !img.children.length) continue;
        console.log(`${img.app}:${img.tag}  (${img.image})${img.broken ? '  [not buildable]' : ''}`);
        for (const p of img.parents)
          console.log(`    FROM ${p.ref}${p.app ? `  (Wharf: ${p.app}${p.tag ? `:${p.tag}` : ''})` : ''}`);
        for (const c of img.children) console.log(`    child ${c.app}:${c.tag}`);
      }
      const edges = out.images.reduce((n, i) => n + i.children.length, 0);
      console.log(
        `${out.images.length} images, ${edges} Wharf-built parent → child edges, ${out.problems.length} problems`,
      );
      for (const p of out.problems) console.error(`${p.file}:${p.line}: ${p.message}`);
    });

  program
    .command('children')
    .description(
      'the images built FROM an image (an app, app:tag or image reference, e.g. openeuler/python:3.11), and everything rebuilt after it',
    )
    .argument('<image-ref>', 'app, app:tag, or an image reference (Wharf-built or not)')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (query: string, o: { catalog?: string; json?: boolean }) => {
      if (!QUERY_RE.test(query)) throw new UsageError(`invalid image reference ${JSON.stringify(query)}`);
      const snap = await (await openCatalog(o)).load();
      const apps = [...snap.apps.values()].map((e) => e.app);
      const g = buildGraph(apps, snap.config);
      const a = childrenOf(g, query, apps, snap.config);
      if (!a.images.length && !a.children.length && !query.includes('/'))
        throw new UsageError(`no app or image ${JSON.stringify(query)} in the catalog`);
      if (o.json) return printJson(a);
      console.log(
        a.images.length
          ? `${query}: ${a.images.map((i) => `${i.app}:${i.tag}`).join(', ')}`
          : `${query} (not built by Wharf)`,
      );
      if (!a.children.length) console.log('  no children');
      for (const c of a.children) console.log(`  ${c.app}:${c.tag}  FROM ${c.via}`);
      const further = a.descendants.filter(
        (d) => !a.children.some((c) => c.app === d.app && c.tag === d.tag),
      );
      if (further.length)
        console.log(`  then (rebuilt after them): ${further.map((d) => `${d.app}:${d.tag}`).join(', ')}`);
    });
}
