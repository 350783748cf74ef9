// `wharf site …`: build the static marketplace from the catalog, and serve a built site locally.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { resolveCatalogDir } from '../../catalog/store.ts';
import { buildSite, DEFAULT_OUT, relativeOut } from '../../site/node/build.ts';
import { serveSite } from '../../site/node/serve.ts';
import { CommandFailed, UsageError, catalogOption, jsonOption, printJson } from './common.ts';

const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

export default function register(program: Command): void {
  const site = program.command('site').description('generate and serve the marketplace (Astro + Pagefind)');

  site
    .command('build')
    .description(
      'render the site from the catalog and index it for search; only the apps changed since the last build are rendered again, nothing when nothing changed',
    )
    .addOption(catalogOption())
    .option('--out <dir>', `output directory (default: ${relativeOut(DEFAULT_OUT)})`)
    .option('--force', 'render every page, even when the catalog and site sources are unchanged')
    .option(
      '--public-key <file>',
      'the signing public key (PEM) to publish at /keys/cosign.pub (default: $WHARF_SIGNING_PUBLIC_KEY_FILE, else wharf.yml signing.publicKey, else the public half of $WHARF_SIGNING_KEY(_FILE))',
    )
    .addOption(jsonOption())
    .action(
      async (o: { catalog?: string; out?: string; force?: boolean; json?: boolean; publicKey?: string }) => {
        const r = await buildSite({
          catalog: resolveCatalogDir(o.catalog),
          ...(o.out ? { out: o.out } : {}),
          ...(o.publicKey ? { publicKeyFile: o.publicKey } : {}),
          force: !!o.force,
          logLevel: o.json ? 'silent' : process.stderr.isTTY ? 'info' : 'warn',
        });
        if (o.json) return printJson(r);
        const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
        if (r.skipped) {
          console.log(
            `site up to date (catalog ${r.catalogHead?.slice(0, 12) ?? 'empty'}); nothing rebuilt in ${s(r.timings.totalMs)}`,
          );
          return;
        }
        const what = r.renderedApps
          ? `rendered ${r.renderedApps.length} changed app(s) and the pages over all apps (${r.pages} pages)`
          : `built ${r.pages} pages`;
        console.log(
          `${what} into ${relativeOut(r.out)} in ${s(r.timings.totalMs)} ` +
            `(astro ${s(r.timings.astroMs)}, pagefind ${s(r.timings.pagefindMs)}: ${r.indexedPages} pages indexed, ` +
            `${r.languages.join('+')}, ${kb(r.pagefindBytes)})`,
        );
      },
    );

  site
    .command('serve')
    .description('serve a built site on 127.0.0.1')
    .option('--port <n>', 'port (default 4321; 0 picks a free one)', '4321')
    .option('--out <dir>', `the built site (default: ${relativeOut(DEFAULT_OUT)})`)
    .action(async (o: { port: string; out?: string }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port must be 0-65535, got ${o.port}`);
      const dir = o.out ?? DEFAULT_OUT;
      if (!existsSync(join(dir, 'index.html')))
        throw new CommandFailed(`no built site in ${relativeOut(dir)}; run 'wharf site build' first`);
      const { url } = await serveSite({ dir, port });
      console.log(`serving ${relativeOut(o.out ?? DEFAULT_OUT)} at ${url} (Ctrl-C to stop)`);
      await new Promise(() => {});
    });
}
