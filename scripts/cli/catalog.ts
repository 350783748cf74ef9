// `wharf catalog …`: init, import, validate, list, show, log.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CatalogStore, resolveCatalogDir } from '../../catalog/store.ts';
import { formatProblem } from '../../catalog/format.ts';
import { assertAppId } from '../../catalog/names.ts';
import { summarizeApp } from '../../catalog/summary.ts';
import {
  CommandFailed,
  EXIT_FAIL,
  catalogOption,
  jsonOption,
  openCatalog,
  printJson,
  progress,
} from './common.ts';
import { commitOpenEulerImport, planOpenEulerImport } from '../../catalog/import/openeuler.ts';
import { ImportSourceError, resolveImportSource } from '../../catalog/import/source.ts';
import { upstreamProblems } from '../../publisher/watch/sources/index.ts';

export default function register(program: Command): void {
  const cat = program.command('catalog').description('create, import, check and read the git-backed catalog');

  cat
    .command('init')
    .description('create an empty catalog (a git repository with wharf.yml); safe to run again')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (o: { catalog?: string; json?: boolean }) => {
      const store = await CatalogStore.init(resolveCatalogDir(o.catalog));
      if (o.json) printJson({ catalog: store.dir, head: await store.head() });
      else console.log(`catalog ready at ${store.dir}`);
    });

  cat
    .command('import')
    .description(
      "import openEuler's openeuler-docker-images repository (a directory or a git URL) as one commit",
    )
    .argument(
      '<dir|git-url[#ref]>',
      'the repository in its own layout (<Scene>/image-list.yml, <Scene>/<app>/meta.yml, doc/image-info.yml, Dockerfiles)',
    )
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (arg: string, o: { catalog?: string; json?: boolean }) => {
      const bar = progress(!o.json);
      let source;
      try {
        source = await resolveImportSource(arg);
      } catch (e) {
        if (e instanceof ImportSourceError) throw new CommandFailed(e.message);
        throw e;
      }
      try {
        // Read everything first: unreadable input fails before the catalog is even created.
        const plan = await planOpenEulerImport(source.dir, {
          ...(source.repo ? { repo: source.repo } : {}),
          ...(source.commit ? { commit: source.commit } : {}),
          onProgress: (done, total) => {
            if (done === 0) bar.start(total, 'apps');
            else bar.tick();
          },
        }).finally(() => bar.stop());
        const store = await CatalogStore.init(resolveCatalogDir(o.catalog));
        const r = await commitOpenEulerImport(store, plan);
        if (o.json) {
          printJson(r);
        } else {
          for (const p of r.problems) console.error(formatProblem(p));
          console.log(
            `imported ${r.apps} apps (${r.hidden} hidden, ${r.retired} retired, ${r.recipes} container recipes, ${r.brokenRecipes} broken) with ${r.problems.length} problems` +
              (r.sourceCommit ? ` from commit ${r.sourceCommit.slice(0, 12)}` : '') +
              (r.commit ? `; catalog commit ${r.commit.slice(0, 12)}` : '; nothing changed'),
          );
        }
      } finally {
        await source.cleanup();
      }
    });

  cat
    .command('validate')
    .description(
      'check every catalog file against the schema; exit 1 and name file:line:field for each problem',
    )
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (o: { catalog?: string; json?: boolean }) => {
      const store = await openCatalog(o);
      const snap = await store.load();
      // The catalog's schema (wharf.yml with every section, app files), then each upstream entry
      // against its watch source's own schema (the catalog cannot know the backends).
      const upstream = await upstreamProblems(
        [...snap.apps.values()].map((e) => ({ id: e.app.id, upstream: e.app.upstream })),
        (id) => readFile(join(store.dir, 'apps', id, 'app.yml'), 'utf8').catch(() => null),
      );
      const problems = [...snap.problems, ...upstream].sort(
        (a, b) => a.file.localeCompare(b.file) || a.line - b.line,
      );
      const ok = problems.length === 0;
      if (o.json) printJson({ valid: ok, apps: snap.apps.size, problems });
      else {
        for (const p of problems) console.error(formatProblem(p));
        console.log(
          ok
            ? `valid: ${snap.apps.size} apps`
            : `invalid: ${problems.length} problems in ${new Set(problems.map((p) => p.file)).size} files`,
        );
      }
      if (!ok) process.exitCode = EXIT_FAIL;
    });

  cat
    .command('list')
    .description('list apps')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .option('--category <c>', 'only this category')
    .option('--all', 'include hidden apps (default: all apps are listed; hidden ones are marked)')
    .action(async (o: { catalog?: string; json?: boolean; category?: string }) => {
      const store = await openCatalog(o);
      const snap = await store.load();
      const rows = [...snap.apps.values()]
        .filter((e) => !o.category || e.app.category === o.category)
        .map((e) => summarizeApp(e));
      if (o.json) printJson(rows);
      else
        for (const r of rows)
          console.log(
            `${r.id.padEnd(36)} ${r.category.padEnd(10)} ${r.visibility === 'hidden' ? 'hidden ' : '       '} ${r.tags} tags  ${r.latest ?? ''}`,
          );
    });

  cat
    .command('show')
    .description('show one app with its upstream state and artifact records')
    .argument('<app>', 'app id')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (id: string, o: { catalog?: string; json?: boolean }) => {
      const store = await openCatalog(o);
      const e = await store.loadApp(assertAppId(id));
      if (!e) throw new CommandFailed(`no app ${id} in ${store.dir}`);
      if (o.json) printJson(e);
      else {
        const a = e.app;
        console.log(
          `${a.id}  ${a.title.en ?? a.title.zh ?? ''}  [${a.category}${a.visibility === 'hidden' ? ', hidden' : ''}]`,
        );
        if (a.homepage) console.log(`homepage: ${a.homepage}`);
        if (a.license.spdx || a.license.text)
          console.log(`license:  ${a.license.spdx ?? '?'} (${a.license.text ?? ''})`);
        if (a.upstream)
          console.log(
            `upstream: ${a.upstream.backend} ${a.upstream.repo ?? a.upstream.url ?? ''} (${a.upstream.scheme})`,
          );
        if (e.upstream?.latest)
          console.log(`latest:   ${e.upstream.latest} (checked ${e.upstream.lastChecked ?? 'never'})`);
        console.log(
          `recipes:  ${a.recipes.container.length} container, ${a.recipes.cloud.length} cloud, ${a.recipes.wsl.length} wsl`,
        );
        for (const r of a.recipes.container) {
          const art = e.artifacts.find((x) => x.kind === 'container' && x.id === r.tag);
          const st = art
            ? Object.entries(art.records)
                .map(([k, v]) => `${k}:${(v as { status: string }).status}`)
                .join(' ')
            : 'not built';
          console.log(
            `  ${r.tag.padEnd(32)} ${r.dockerfile.padEnd(36)} ${st}${r.problem ? `  ! ${r.problem}` : ''}`,
          );
        }
      }
    });

  cat
    .command('log')
    .description("show an app's history from git")
    .argument('<app>', 'app id')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .option('-n, --limit <n>', 'at most this many entries', (v) => Number.parseInt(v, 10))
    .action(async (id: string, o: { catalog?: string; json?: boolean; limit?: number }) => {
      const store = await openCatalog(o);
      const entries = await store.log(assertAppId(id), { limit: o.limit });
      if (o.json) printJson(entries);
      else
        for (const e of entries) {
          const t = e.trailers;
          console.log(
            `${e.sha.slice(0, 12)} ${e.date} ${e.subject}${t['Run-Id'] ? `  [${t['Run-Id']}]` : ''}`,
          );
        }
    });
}
