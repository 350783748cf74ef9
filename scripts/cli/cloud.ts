// `wharf cloud …`: cloud disk images outside the pipeline, on the same code the cloud stages use.
//   wharf cloud build --from <oci-layout|rootfs.tar> --arch amd64 --out-dir DIR [--name N] [--size-gib G]
//                     [--formats qcow2,raw,vhd,vmdk] [--json]
//   wharf cloud boot-test <image-file> [--arch amd64|arm64] [--timeout S] [--accel auto|kvm|tcg]
//                     [--console-log FILE] [--json]        exit 1 when it did not boot
//   wharf cloud import <app>:<id> [--target NAME[,NAME]] [--wait] [--poll-interval S] [--timeout S]
//                     [--catalog DIR] [--json]              exit 1 when an import failed (cloud-import.ts)
import { Option, type Command } from 'commander';
import { zArch, type Arch } from '../../catalog/names.ts';
import { bootTest } from '../../publisher/cloud/boot-test.ts';
import { buildCloudImage } from '../../publisher/cloud/build.ts';
import { CLOUD_FORMATS, type CloudFormat } from '../../publisher/cloud/convert.ts';
import { cloudImportCommand, type CloudImportCliOptions } from './cloud-import.ts';
import { EXIT_FAIL, UsageError, catalogOption, jsonOption, printJson } from './common.ts';

const BOOT_ARCHES = ['amd64', 'arm64'] as const;

function parseArch(v: string | undefined): Arch {
  if (v === undefined) return 'amd64';
  if (!(BOOT_ARCHES as readonly string[]).includes(v))
    throw new UsageError(`--arch must be amd64 or arm64, got ${v}`);
  return zArch.parse(v);
}

function parsePositive(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+(\.[0-9]+)?$/.test(v) || Number(v) <= 0)
    throw new UsageError(`${flag} must be a positive number, got ${v}`);
  return Number(v);
}

function parseFormats(v: string): CloudFormat[] {
  const out = v.split(',').map((s) => s.trim());
  for (const f of out)
    if (!(CLOUD_FORMATS as readonly string[]).includes(f))
      throw new UsageError(`--formats: ${f} is not one of ${CLOUD_FORMATS.join(', ')}`);
  return [...new Set(out)] as CloudFormat[];
}

export default function register(program: Command): void {
  const cloud = program.command('cloud').description('cloud disk images: build, boot-test, import');

  cloud
    .command('build')
    .description(
      'make a bootable GPT disk (ESP + ext4) from a bootable image or rootfs tarball, in each format',
    )
    .requiredOption(
      '--from <path>',
      'OCI image layout directory or rootfs tarball (with kernel, initramfs, systemd-boot)',
    )
    .requiredOption('--out-dir <dir>', 'where the images go')
    .option('--arch <arch>', 'amd64 or arm64', 'amd64')
    .option('--name <name>', 'file name stem', 'disk')
    .option('--size-gib <n>', 'disk size in GiB', '2')
    .option('--formats <list>', 'comma-separated: qcow2, raw, vhd, vmdk', 'qcow2,raw')
    .option('--source-date-epoch <seconds>', 'timestamps (default: $SOURCE_DATE_EPOCH, else the image date)')
    .addOption(jsonOption())
    .action(
      async (o: {
        from: string;
        outDir: string;
        arch: string;
        name: string;
        sizeGib: string;
        formats: string;
        sourceDateEpoch?: string;
        json?: boolean;
      }) => {
        const epoch = parsePositive('--source-date-epoch', o.sourceDateEpoch);
        const r = await buildCloudImage({
          from: o.from,
          arch: parseArch(o.arch),
          name: o.name,
          outDir: o.outDir,
          sizeGiB: parsePositive('--size-gib', o.sizeGib)!,
          formats: parseFormats(o.formats),
          seed: o.name,
          ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
        });
        if (o.json) printJson(r);
        else
          for (const f of r.files) console.log(`${f.path}: ${f.format}, ${f.size} bytes, sha256 ${f.sha256}`);
      },
    );

  cloud
    .command('boot-test')
    .description(
      'boot a disk image under QEMU (UEFI, NoCloud seed) and check it reached multi-user; exit 1 if not',
    )
    .argument('<image-file>', 'qcow2, raw, vhd or vmdk')
    .option('--arch <arch>', 'amd64 or arm64', 'amd64')
    .option('--timeout <seconds>', 'give up after this long', '300')
    .addOption(
      new Option('--accel <a>', 'auto: KVM when it works, else TCG')
        .choices(['auto', 'kvm', 'tcg'])
        .default('auto'),
    )
    .option('--console-log <file>', 'where to keep the serial console (default: a temp file, printed)')
    .addOption(jsonOption())
    .action(
      async (
        file: string,
        o: {
          arch: string;
          timeout: string;
          accel: 'auto' | 'kvm' | 'tcg';
          consoleLog?: string;
          json?: boolean;
        },
      ) => {
        const r = await bootTest(file, {
          arch: parseArch(o.arch),
          timeout: parsePositive('--timeout', o.timeout)!,
          accel: o.accel,
          ...(o.consoleLog ? { consoleLog: o.consoleLog } : {}),
        });
        if (o.json) printJson(r);
        else
          console.log(
            r.booted
              ? `${file}: booted in ${r.seconds} s (${r.accel}): ${r.marker}; console: ${r.consoleLog}`
              : `${file}: did not boot (${r.reason}); console: ${r.consoleLog}`,
          );
        if (!r.booted) process.exitCode = EXIT_FAIL;
      },
    );

  cloud
    .command('import')
    .description(
      "import a published cloud image into wharf.yml's clouds: targets (the import stage, committed); exit 1 if one failed",
    )
    .argument('<app:id>', 'the cloud image, e.g. openeuler:24.03-lts-sp1-cloud')
    .option('--target <names>', 'only these clouds: targets (comma-separated; default: every one)')
    .option('--wait', 'poll until every selected import is completed or failed (one committed run per poll)')
    .option('--poll-interval <seconds>', 'with --wait: seconds between polls', '30')
    .option(
      '--timeout <seconds>',
      'with --wait: give up (exit 1) after this long; run again to go on',
      '3600',
    )
    .option('-v, --verbose', "print the stage's own line per target and run")
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action((ref: string, o: CloudImportCliOptions) => cloudImportCommand(ref, o));
}
