// A bootable GPT disk from a root filesystem (the container-image route, as bootc images do: the
// rootfs carries its kernel, initramfs and systemd-boot). No privileges: the partition table by
// sfdisk on a regular file, the ESP by mkfs.vfat + mtools, the root by mkfs.ext4 -d + debugfs, put in
// place with `dd conv=notrunc`. Same rootfs, size and epoch: the same raw bytes.
//
// ESP layout: EFI/BOOT/BOOT<ARCH>.EFI (systemd-boot), loader/loader.conf, loader/entries/wharf.conf,
// wharf/<kver>/{linux,initrd}; the entry boots root=PARTUUID=<root partition GUID> with the serial
// console on.
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Arch } from '../../catalog/names.ts';
import type { Rootfs } from '../rootfs/index.ts';
import {
  customize,
  rootfsEditor,
  serialConsole,
  type CustomizeOptions,
  type CustomizeReport,
} from './customize.ts';
import { buildEsp, type EspFile } from './esp.ts';
import { mkfsExt4 } from './ext4.ts';
import { diskLayout, writePartitionTable, type DiskLayout, SECTOR } from './gpt.ts';
import { tool } from './run.ts';

export class DiskBuildError extends Error {
  override name = 'DiskBuildError';
}

const EFI_NAME: Partial<Record<Arch, { boot: string; sdboot: string }>> = {
  amd64: { boot: 'BOOTX64.EFI', sdboot: 'systemd-bootx64.efi' },
  arm64: { boot: 'BOOTAA64.EFI', sdboot: 'systemd-bootaa64.efi' },
  riscv64: { boot: 'BOOTRISCV64.EFI', sdboot: 'systemd-bootriscv64.efi' },
  loong64: { boot: 'BOOTLOONGARCH64.EFI', sdboot: 'systemd-bootloongarch64.efi' },
};

export interface BootFiles {
  kernelVersion: string;
  kernel: Buffer;
  initrd: Buffer;
  bootloader: Buffer;
  /** Where each was found in the rootfs. */
  from: { kernel: string; initrd: string; bootloader: string };
}

const versionCompare = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/** The kernel, initramfs and systemd-boot a rootfs carries (bootc layout first, then /boot). */
export function findBootFiles(fs: Rootfs, arch: Arch): BootFiles {
  const efi = EFI_NAME[arch];
  if (!efi) throw new DiskBuildError(`no UEFI boot path for ${arch}`);
  const file = (p: string) => {
    const r = fs.resolve(p);
    return r?.node?.type === 'file' ? { path: r.path, data: r.node.data } : null;
  };
  const found: { v: string; k: { path: string; data: Buffer }; i: { path: string; data: Buffer } }[] = [];
  for (const dir of [...fs.list('usr/lib/modules'), ...fs.list('lib/modules')]) {
    const v = dir.slice(dir.lastIndexOf('/') + 1);
    const k = file(`${dir}/vmlinuz`);
    const i = file(`${dir}/initramfs.img`) ?? file(`${dir}/initrd.img`);
    if (k && i) found.push({ v, k, i });
  }
  if (found.length === 0)
    for (const p of fs.list('boot')) {
      const m = /^boot\/vmlinuz-(.+)$/.exec(p);
      if (!m) continue;
      const v = m[1]!;
      const k = file(p);
      const i = file(`boot/initrd.img-${v}`) ?? file(`boot/initramfs-${v}.img`) ?? file(`boot/initrd-${v}`);
      if (k && i) found.push({ v, k, i });
    }
  if (found.length === 0)
    throw new DiskBuildError(
      'the rootfs has no kernel with an initramfs (usr/lib/modules/<ver>/vmlinuz + initramfs.img, or boot/vmlinuz-<ver> + initrd)',
    );
  found.sort((a, b) => versionCompare(b.v, a.v));
  const best = found[0]!;
  const sd = file(`usr/lib/systemd/boot/efi/${efi.sdboot}`);
  if (!sd)
    throw new DiskBuildError(`the rootfs has no systemd-boot (usr/lib/systemd/boot/efi/${efi.sdboot})`);
  return {
    kernelVersion: best.v,
    kernel: best.k.data,
    initrd: best.i.data,
    bootloader: sd.data,
    from: { kernel: best.k.path, initrd: best.i.path, bootloader: sd.path },
  };
}

const KVER_RE = /^[A-Za-z0-9._+-]{1,128}$/;

export function espFiles(boot: BootFiles, arch: Arch, layout: DiskLayout, extraCmdline = ''): EspFile[] {
  const efi = EFI_NAME[arch]!;
  if (!KVER_RE.test(boot.kernelVersion))
    throw new DiskBuildError(`kernel version ${boot.kernelVersion} is not a plain name`);
  const dir = `wharf/${boot.kernelVersion}`;
  const cmdline = [
    `root=PARTUUID=${layout.root.guid.toLowerCase()}`,
    'rw',
    'console=tty0',
    `console=${serialConsole(arch)},115200n8`,
    extraCmdline.trim(),
  ]
    .filter(Boolean)
    .join(' ');
  return [
    { path: `EFI/BOOT/${efi.boot}`, data: boot.bootloader },
    { path: 'loader/loader.conf', data: Buffer.from('default wharf.conf\ntimeout 0\neditor no\n') },
    {
      path: 'loader/entries/wharf.conf',
      data: Buffer.from(
        `title Wharf (${boot.kernelVersion})\nlinux /${dir}/linux\ninitrd /${dir}/initrd\noptions ${cmdline}\n`,
      ),
    },
    { path: `${dir}/linux`, data: boot.kernel },
    { path: `${dir}/initrd`, data: boot.initrd },
  ];
}

export interface DiskBuildOptions {
  rootfs: Rootfs;
  arch: Arch;
  /** Disk size in bytes (whole MiB). */
  size: number;
  out: string;
  /** GUIDs and the filesystem UUID are derived from it (app:id). */
  seed: string;
  epoch: number;
  espMiB?: number;
  /** The Wharf customisation (cloud-init, SSH, serial); false leaves the rootfs as it is. */
  customize?: Omit<CustomizeOptions, 'arch'> | false;
  /** Appended to the kernel command line. */
  cmdline?: string;
  env?: NodeJS.ProcessEnv;
}

export interface DiskBuildResult {
  path: string;
  size: number;
  layout: DiskLayout;
  kernelVersion: string;
  boot: BootFiles['from'];
  inodes: number;
  customized?: CustomizeReport;
}

/** The root filesystem's UUID and hash seed from the seed (fixed, as the GUIDs). */
export function fsIds(layout: DiskLayout): { uuid: string; hashSeed: string } {
  // Reuse the derivation: the root partition GUID's lowercase form is unique enough, the hash seed its sibling.
  return { uuid: layout.root.guid.toLowerCase(), hashSeed: layout.diskGuid.toLowerCase() };
}

export async function buildDisk(o: DiskBuildOptions): Promise<DiskBuildResult> {
  const layout = diskLayout({
    size: o.size,
    arch: o.arch,
    seed: o.seed,
    ...(o.espMiB ? { espMiB: o.espMiB } : {}),
  });
  const customized =
    o.customize === false
      ? undefined
      : await customize(rootfsEditor(o.rootfs, o.epoch), { arch: o.arch, ...o.customize });
  const boot = findBootFiles(o.rootfs, o.arch);
  const work = await mkdtemp(join(tmpdir(), 'wharf-disk-'));
  try {
    const esp = join(work, 'esp.img');
    const root = join(work, 'root.img');
    await buildEsp(esp, {
      sizeMiB: (layout.esp.sectors * SECTOR) / (1024 * 1024),
      files: espFiles(boot, o.arch, layout, o.cmdline),
      epoch: o.epoch,
      volumeId: layout.esp.guid.slice(0, 8),
      ...(o.env ? { env: o.env } : {}),
    });
    const ids = fsIds(layout);
    const { inodes } = await mkfsExt4(o.rootfs, root, {
      size: layout.root.sectors * SECTOR,
      uuid: ids.uuid,
      hashSeed: ids.hashSeed,
      label: 'root',
      epoch: o.epoch,
      ...(o.env ? { env: o.env } : {}),
    });
    await rm(o.out, { force: true });
    await writeFile(o.out, '');
    await truncate(o.out, o.size);
    await writePartitionTable(o.out, layout);
    for (const [img, start] of [
      [esp, layout.esp.start],
      [root, layout.root.start],
    ] as const)
      await tool('dd', [
        `if=${img}`,
        `of=${o.out}`,
        'bs=1M',
        `seek=${(start * SECTOR) / (1024 * 1024)}`,
        'conv=notrunc,sparse',
        'status=none',
      ]);
    return {
      path: o.out,
      size: o.size,
      layout,
      kernelVersion: boot.kernelVersion,
      boot: boot.from,
      inodes,
      ...(customized ? { customized } : {}),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
