// `wharf demo [--catalog DIR] [--engine URL] [--json]`: build the self-contained demo image and take it
// through build → verify → scan → sign → publish to the catalog's loopback registry (publisher/demo).
import type { Command } from 'commander';
import { DemoError, runDemo, type DemoResult } from '../../publisher/demo/index.ts';
import { CommandFailed, EXIT_FAIL, catalogOption, jsonOption, openCatalog, printJson } from './common.ts';
import { cliLogger } from './stages.ts';

function print(r: DemoResult): void {
  console.log(`${r.app}:${r.tag} ${r.status} (recipes ${r.recipes})`);
  for (const s of r.stages)
    console.log(`  ${s.stage.padEnd(8)} ${s.status}${s.message ? `  ${s.message}` : ''}`);
  console.log(`  scan     ${r.scan.status}${r.scan.message ? `: ${r.scan.message}` : ''}`);
  if (r.digest) console.log(`  digest   ${r.digest}${r.signed ? ' (signed)' : ' (not signed)'}`);
  for (const p of r.pull) console.log(`  pull     docker pull ${p}`);
}

export default function register(program: Command): void {
  program
    .command('demo')
    .description(
      'build a tiny self-contained image (busybox on scratch, no network) and take it through build → verify → scan → sign → publish to the loopback registry target',
    )
    .addOption(catalogOption())
    .addOption(jsonOption())
    .option('--engine <url>', 'container engine (default: $DOCKER_HOST, then the usual sockets)')
    .option('--work-dir <dir>', 'work directory (default: $WHARF_WORK_DIR, else .wharf/work)')
    .option('-v, --verbose', 'print build and smoke-test progress lines')
    .action(
      async (o: {
        catalog?: string;
        json?: boolean;
        engine?: string;
        workDir?: string;
        verbose?: boolean;
      }) => {
        const store = await openCatalog(o);
        let r: DemoResult;
        try {
          r = await runDemo(store, {
            ...(o.engine ? { engine: o.engine } : {}),
            ...(o.workDir ? { workDir: o.workDir } : {}),
            log: cliLogger(o),
          });
        } catch (e) {
          if (e instanceof DemoError) throw new CommandFailed(e.message);
          throw e;
        }
        const ok = r.status === 'published' || r.status === 'unchanged';
        if (o.json) {
          if (!ok) throw new CommandFailed(`demo ${r.status}: ${r.message ?? ''}`, EXIT_FAIL, r);
          printJson(r);
          return;
        }
        print(r);
        if (!ok) throw new CommandFailed(`demo ${r.status}${r.message ? `: ${r.message}` : ''}`);
      },
    );
}
