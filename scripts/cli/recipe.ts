// `wharf recipe inspect [app…]`: what the importer read from every recipe file (catalog/dockerfile):
// builder, stages with their resolved bases, final base, declared ARGs, problems.
import type { Command } from 'commander';
import { assertAppId } from '../../catalog/names.ts';
import { recipeView } from '../../catalog/recipes.ts';
import { UsageError, catalogOption, jsonOption, openCatalog, printJson } from './common.ts';

export default function register(program: Command): void {
  const recipe = program.command('recipe').description('read the recipes the catalog imported');
  recipe
    .command('inspect')
    .description(
      'per container recipe: Dockerfile path, whether it exists, builder, stages and resolved bases, ARGs, problems',
    )
    .argument('[apps...]', 'app ids (default: all apps)')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (apps: string[], o: { catalog?: string; json?: boolean }) => {
      for (const a of apps) assertAppId(a);
      const snap = await (await openCatalog(o)).load();
      const unknown = apps.filter((a) => !snap.apps.has(a));
      if (unknown.length) throw new UsageError(`unknown app(s): ${unknown.join(', ')}`);
      const ids = apps.length ? apps : [...snap.apps.keys()].sort();
      const views = ids.flatMap((id) => {
        const app = snap.apps.get(id)!.app;
        return app.recipes.container.map((r) => recipeView(app, r));
      });
      if (o.json) return printJson(views);
      for (const v of views) {
        const state = !v.exists ? 'MISSING' : v.problems.length ? 'BROKEN' : 'ok';
        console.log(`${v.app}:${v.tag}  ${v.dockerfile}  [${v.builder}] ${state}`);
        for (const s of v.stages)
          console.log(`    FROM ${s.from}${s.resolved !== s.from ? ` → ${s.resolved ?? '?'}` : ''}`);
        const built = v.bases.filter((b) => b.app).map((b) => `${b.ref} (app ${b.app})`);
        if (built.length) console.log(`    Wharf-built bases: ${built.join(', ')}`);
        for (const p of v.problems) console.log(`    ! ${p}`);
      }
    });
}
