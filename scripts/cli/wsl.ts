// `wharf wsl …`: WSL images outside the pipeline, on the same code the wsl stage uses.
//   wharf wsl build --from <rootfs.tar|oci-layout-dir> --arch amd64|arm64 --name <flavor> --out <file.wsl>
//   wharf wsl validate <file.wsl> [--arch amd64|arm64] [--json]   exit 1 when there are errors
//   wharf wsl distribution-info [--catalog DIR]                   DistributionInfo.json entries (JSON)
import { Option, type Command } from 'commander';
import { zArch, type Arch } from '../../catalog/names.ts';
import { buildWsl } from '../../publisher/wsl/build.ts';
import { distributionInfo } from '../../publisher/wsl/distribution-info.ts';
import { validateWslFile, type Finding } from '../../publisher/wsl/validate.ts';
import { EXIT_FAIL, UsageError, catalogOption, jsonOption, openCatalog, printJson } from './common.ts';

const WSL_ARCHES = ['amd64', 'arm64'] as const;

function parseArch(v: string | undefined): Arch | undefined {
  if (v === undefined) return undefined;
  if (!(WSL_ARCHES as readonly string[]).includes(v))
    throw new UsageError(`--arch must be amd64 or arm64, got ${v}`);
  return zArch.parse(v);
}

function parseInt10(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) throw new UsageError(`${flag} must be a whole number, got ${v}`);
  return Number(v);
}

const show = (f: Finding) => `  ${f.rule.padEnd(26)} ${f.message}`;

export default function register(program: Command): void {
  const wsl = program
    .command('wsl')
    .description('WSL images: build, validate, DistributionInfo.json entries');

  wsl
    .command('build')
    .description(
      'make a reproducible .wsl from a built image (OCI layout) or a rootfs tarball, adding the WSL files',
    )
    .requiredOption('--from <path>', 'OCI image layout directory or rootfs tarball (tar, tar.gz, tar.xz)')
    .requiredOption('--arch <arch>', 'amd64 or arm64')
    .requiredOption('--name <flavor>', 'distribution name (oobe.defaultName; also the flavor)')
    .requiredOption('--out <file.wsl>', 'output file')
    .option('--flavor <flavor>', 'flavor when it differs from --name (names the icon file)')
    .addOption(
      new Option('--compression <c>', 'gzip (what WSL recommends) or xz')
        .choices(['gzip', 'xz'])
        .default('gzip'),
    )
    .option('--icon <file.ico>', 'start-menu icon (.ico, at most 1 MiB; default: a generated one)')
    .option('--terminal-profile <file.json>', 'Windows Terminal profile template')
    .option('--default-uid <uid>', 'UID of the user the OOBE script creates', '1000')
    .option(
      '--source-date-epoch <seconds>',
      'clamp mtimes to this (default: $SOURCE_DATE_EPOCH, else the image date)',
    )
    .addOption(jsonOption())
    .action(
      async (o: {
        from: string;
        arch: string;
        name: string;
        out: string;
        flavor?: string;
        compression: 'gzip' | 'xz';
        icon?: string;
        terminalProfile?: string;
        defaultUid?: string;
        sourceDateEpoch?: string;
        json?: boolean;
      }) => {
        const epoch = parseInt10('--source-date-epoch', o.sourceDateEpoch);
        const uid = parseInt10('--default-uid', o.defaultUid);
        const r = await buildWsl({
          from: o.from,
          arch: parseArch(o.arch)!,
          name: o.name,
          out: o.out,
          compression: o.compression,
          ...(o.flavor ? { flavor: o.flavor } : {}),
          ...(o.icon ? { icon: o.icon } : {}),
          ...(o.terminalProfile ? { terminalProfile: o.terminalProfile } : {}),
          ...(uid !== undefined ? { defaultUid: uid } : {}),
          ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
        });
        if (o.json) printJson(r);
        else
          console.log(
            `${r.path}: ${r.size} bytes, sha256 ${r.sha256} (${r.arch}, ${r.compression}, ${r.entries} entries)`,
          );
      },
    );

  wsl
    .command('validate')
    .description("Microsoft's .wsl checks on a file; exit 1 when there are errors")
    .argument('<file>', '.wsl file')
    .option('--arch <arch>', 'amd64 or arm64 (default: either; the one /bin/sh is built for is reported)')
    .addOption(jsonOption())
    .action(async (file: string, o: { arch?: string; json?: boolean }) => {
      const arch = parseArch(o.arch);
      const r = await validateWslFile(file, arch ? { arch } : {});
      if (o.json) printJson(r);
      else {
        console.log(
          `${file}: ${r.errors.length} error(s), ${r.warnings.length} warning(s)${r.arch ? ` (${r.arch})` : ''}`,
        );
        if (r.errors.length) console.log(['errors:', ...r.errors.map(show)].join('\n'));
        if (r.warnings.length) console.log(['warnings:', ...r.warnings.map(show)].join('\n'));
      }
      if (r.errors.length) process.exitCode = EXIT_FAIL;
    });

  wsl
    .command('distribution-info')
    .description('print the DistributionInfo.json ModernDistributions entries for the published WSL images')
    .addOption(catalogOption())
    .action(async (o: { catalog?: string }) => {
      const store = await openCatalog(o);
      const { info, skipped } = distributionInfo(await store.load());
      for (const s of skipped) process.stderr.write(`wharf: skipped ${s.app}:${s.id}: ${s.reason}\n`);
      printJson(info);
    });
}
