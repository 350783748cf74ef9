// `wharf doctor [--json]`: which tools and services are there, which are missing, and how to get them.
import type { Command } from 'commander';
import { resolveCatalogDir } from '../../catalog/store.ts';
import { runDoctor } from '../doctor/checks.ts';
import { EXIT_FAIL, catalogOption, jsonOption, printJson } from './common.ts';

export default function register(program: Command): void {
  program
    .command('doctor')
    .description(
      'check the tools Wharf uses (git, node, container engine, registry, trivy, …) and say how to install what is missing',
    )
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (o: { catalog?: string; json?: boolean }) => {
      const report = await runDoctor({ catalogDir: resolveCatalogDir(o.catalog) });
      if (o.json) printJson(report);
      else {
        for (const c of report.checks) {
          const mark = c.ok ? 'ok  ' : c.required ? 'FAIL' : 'warn';
          console.log(`${mark} ${c.name.padEnd(20)} ${c.version ?? ''}${c.version ? '  ' : ''}${c.detail}`);
          if (!c.ok && c.fix)
            console.log(
              c.fix
                .split('\n')
                .map((l) => `       ${l}`)
                .join('\n'),
            );
        }
        const missing = report.checks.filter((c) => !c.ok);
        console.log(
          report.ok
            ? `all required tools present${missing.length ? `; ${missing.length} optional missing` : ''}`
            : `missing required: ${missing
                .filter((c) => c.required)
                .map((c) => c.name)
                .join(', ')}`,
        );
      }
      if (!report.ok) process.exitCode = EXIT_FAIL;
    });
}
