// The GPT of a cloud disk: an EFI system partition and a root partition, fixed disk and partition
// GUIDs (derived from a seed, so the same image gets the same GUIDs), 1 MiB alignment and the 33
// sectors the backup GPT needs at the end. Written by `sfdisk` into a regular file (no device, no
// privileges); read back by readGpt (pure TypeScript) for base images.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Arch } from '../../catalog/names.ts';
import { tool } from './run.ts';

export const SECTOR = 512;
const MIB = 1024 * 1024;
/** Sectors the backup GPT takes at the end of the disk: 32 of partition entries + its header. */
export const BACKUP_GPT_SECTORS = 33;

export const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
/** The Discoverable Partitions Specification's root partition types. */
export const ROOT_TYPES: Partial<Record<Arch, string>> = {
  amd64: '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709',
  arm64: 'B921B045-1DF0-41C3-AF44-4C6F280D3FAE',
  riscv64: '72EC70A6-CF74-40E6-BD49-4BDA08E8F224',
  loong64: '77055800-792C-4F94-B39A-98C91B762BB6',
  ppc64le: 'C31C45E6-3F39-412E-80FB-4809C4980599',
  s390x: '5EEAD9A9-FE09-4A1E-A1D7-520D00531306',
};
export const LINUX_DATA_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

/** A GUID (RFC 4122 version 4 layout) made from sha256(seed/role): fixed for a given seed. */
export function stableGuid(seed: string, role: string): string {
  const b = createHash('sha256').update(`${seed}/${role}`).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export interface DiskLayout {
  /** Total size in bytes (a whole number of MiB plus nothing: the backup GPT fits in the last MiB). */
  size: number;
  diskGuid: string;
  esp: { start: number; sectors: number; guid: string };
  root: { start: number; sectors: number; guid: string; type: string };
}

export interface LayoutOptions {
  /** Whole disk, bytes; a multiple of 1 MiB. */
  size: number;
  /** EFI system partition size in MiB (FAT32 needs at least 64 here; default 64). */
  espMiB?: number;
  arch: Arch;
  /** What the GUIDs are derived from (app:id). */
  seed: string;
}

export function diskLayout(o: LayoutOptions): DiskLayout {
  const espMiB = o.espMiB ?? 64;
  if (!Number.isInteger(o.size / MIB)) throw new Error(`disk size ${o.size} is not a whole number of MiB`);
  if (espMiB < 64) throw new Error(`the EFI system partition needs at least 64 MiB for FAT32, got ${espMiB}`);
  const total = o.size / SECTOR;
  const espStart = MIB / SECTOR;
  const espSectors = (espMiB * MIB) / SECTOR;
  const rootStart = espStart + espSectors;
  // The root ends on a MiB boundary before the backup GPT: the last MiB holds the backup table.
  const rootSectors = total - rootStart - MIB / SECTOR;
  if (rootSectors < (16 * MIB) / SECTOR)
    throw new Error(`disk size ${o.size / MIB} MiB leaves less than 16 MiB for the root partition`);
  const type = ROOT_TYPES[o.arch] ?? LINUX_DATA_TYPE;
  return {
    size: o.size,
    diskGuid: stableGuid(o.seed, 'disk'),
    esp: { start: espStart, sectors: espSectors, guid: stableGuid(o.seed, 'esp') },
    root: { start: rootStart, sectors: rootSectors, guid: stableGuid(o.seed, 'root'), type },
  };
}

/** The sfdisk script for a layout (fixed GUIDs, explicit first/last usable LBA). */
export function sfdiskScript(l: DiskLayout): string {
  const total = l.size / SECTOR;
  return [
    'label: gpt',
    `label-id: ${l.diskGuid}`,
    'unit: sectors',
    'first-lba: 2048',
    `last-lba: ${total - BACKUP_GPT_SECTORS - 1}`,
    'sector-size: 512',
    '',
    `start=${l.esp.start}, size=${l.esp.sectors}, type=${ESP_TYPE}, uuid=${l.esp.guid}, name="esp"`,
    `start=${l.root.start}, size=${l.root.sectors}, type=${l.root.type}, uuid=${l.root.guid}, name="root"`,
    '',
  ].join('\n');
}

/** Write the partition table of `l` into `file` (which must already have the layout's size). */
export async function writePartitionTable(file: string, l: DiskLayout): Promise<void> {
  await tool('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', file], { input: sfdiskScript(l) });
}

export interface GptPartition {
  index: number;
  type: string;
  guid: string;
  name: string;
  /** First sector and number of sectors. */
  start: number;
  sectors: number;
}

function guidAt(b: Buffer, o: number): string {
  const le = (s: number, n: number) =>
    Buffer.from(b.subarray(o + s, o + s + n))
      .reverse()
      .toString('hex');
  const be = (s: number, n: number) => b.subarray(o + s, o + s + n).toString('hex');
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${be(8, 2)}-${be(10, 6)}`.toUpperCase();
}

/** The partitions of a raw disk image's primary GPT (512-byte sectors). */
export async function readGpt(file: string): Promise<{ diskGuid: string; partitions: GptPartition[] }> {
  const fh = await open(file, 'r');
  try {
    const hdr = Buffer.alloc(SECTOR);
    await fh.read(hdr, 0, SECTOR, SECTOR);
    if (hdr.subarray(0, 8).toString('latin1') !== 'EFI PART')
      throw new Error(`${file}: no GPT header at LBA 1`);
    const entriesLba = Number(hdr.readBigUInt64LE(72));
    const count = hdr.readUInt32LE(80);
    const size = hdr.readUInt32LE(84);
    if (count > 1024 || size < 128 || size > 4096) throw new Error(`${file}: implausible GPT entry table`);
    const table = Buffer.alloc(count * size);
    await fh.read(table, 0, table.length, entriesLba * SECTOR);
    const partitions: GptPartition[] = [];
    for (let i = 0; i < count; i++) {
      const o = i * size;
      const type = guidAt(table, o);
      if (type === '00000000-0000-0000-0000-000000000000') continue;
      const first = Number(table.readBigUInt64LE(o + 32));
      const last = Number(table.readBigUInt64LE(o + 40));
      const name = table
        .subarray(o + 56, o + 128)
        .toString('utf16le')
        .replace(/\0.*$/s, '');
      partitions.push({
        index: i + 1,
        type,
        guid: guidAt(table, o + 16),
        name,
        start: first,
        sectors: last - first + 1,
      });
    }
    return { diskGuid: guidAt(hdr, 56), partitions };
  } finally {
    await fh.close();
  }
}
