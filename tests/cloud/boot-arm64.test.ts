// arm64 cloud images end to end on an amd64 machine: the fixture's rootfs for arm64 (Debian's arm64
// kernel and its virtio/ext4 modules, the arm64 static busybox, systemd-boot-efi:arm64) made into a
// GPT disk with an arm64 root partition and EFI/BOOT/BOOTAA64.EFI, converted to qcow2, and booted
// under qemu-system-aarch64 (-M virt, AAVMF, TCG) through `wharf cloud boot-test --arch arm64 --json`:
// the NoCloud seed's marker must show on the PL011 serial console (ttyAMA0). Prerequisites
// (qemu-system-arm, qemu-efi-aarch64, the arm64 kernel, busybox and systemd-boot in .cache) come from
// scripts/setup; a missing one fails this file, it is never skipped.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zBootTestResult, type BootTestResult } from '../../publisher/cloud/boot-test.ts';
import { convertDisk } from '../../publisher/cloud/convert.ts';
import { buildDisk, type DiskBuildResult } from '../../publisher/cloud/disk.ts';
import { readEspFile } from '../../publisher/cloud/esp.ts';
import { Ext4Editor } from '../../publisher/cloud/ext4.ts';
import { ESP_TYPE, ROOT_TYPES, readGpt, SECTOR } from '../../publisher/cloud/gpt.ts';
import { runWharf } from '../helpers/wharf.ts';
import { BUSYBOX_ARM64, bootableRootfs, EPOCH, SYSTEMD_BOOT_AA64 } from './fixture.ts';

const MiB = 1024 * 1024;
let dir: string;
let disk: DiskBuildResult;
let qcow2: string;
let boot: BootTestResult;
let wallSeconds: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-arm64-'));
  const { rootfs } = await bootableRootfs('arm64');
  disk = await buildDisk({
    rootfs,
    arch: 'arm64',
    size: 160 * MiB,
    out: join(dir, 'a.raw'),
    seed: 'demo:1.0-cloud-arm64',
    epoch: EPOCH,
  });
  qcow2 = (await convertDisk(disk.path, 'qcow2', join(dir, 'a.qcow2'))).path;
  const t0 = Date.now();
  const r = await runWharf([
    'cloud',
    'boot-test',
    qcow2,
    '--arch',
    'arm64',
    '--accel',
    'tcg',
    '--timeout',
    '110',
    '--json',
    '--console-log',
    join(dir, 'console.log'),
  ]);
  wallSeconds = (Date.now() - t0) / 1000;
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`boot-test crashed: ${r.stderr}`);
  boot = zBootTestResult.parse(JSON.parse(String(r.stdout)));
}, 170_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('arm64 cloud disk', () => {
  it('has an arm64 root partition, BOOTAA64.EFI and a loader entry with the PL011 console', async () => {
    const gpt = await readGpt(disk.path);
    expect(gpt.partitions.map((p) => [p.type, p.name])).toEqual([
      [ESP_TYPE, 'esp'],
      [ROOT_TYPES.arm64, 'root'],
    ]);
    const esp = join(dir, 'esp.img');
    await execa('dd', [`if=${disk.path}`, `of=${esp}`, 'bs=1M', 'skip=1', 'count=64', 'status=none']);
    expect((await readEspFile(esp, 'EFI/BOOT/BOOTAA64.EFI')).equals(await readFile(SYSTEMD_BOOT_AA64))).toBe(
      true,
    );
    await expect(readEspFile(esp, 'EFI/BOOT/BOOTX64.EFI')).rejects.toThrow();
    const entry = (await readEspFile(esp, 'loader/entries/wharf.conf')).toString();
    expect(entry).toContain('console=ttyAMA0,115200n8');
    expect(entry).not.toContain('ttyS0');
    expect(entry).toMatch(/-arm64\/linux$/m);
    // The kernel on the ESP is an arm64 Image (its header's magic "ARM\x64" at offset 56).
    const kernel = await readEspFile(esp, `wharf/${disk.kernelVersion}/linux`);
    expect(kernel.subarray(56, 60).toString('latin1')).toBe('ARM\x64');
    // The root holds the arm64 busybox (an AArch64 ELF: e_machine 183).
    const ed = new Ext4Editor(disk.path, disk.layout.root.start * SECTOR);
    const bb = (await ed.read('bin/busybox'))!;
    expect(bb.equals(await readFile(BUSYBOX_ARM64))).toBe(true);
    expect(bb.readUInt16LE(18)).toBe(183);
  });
});

describe('wharf cloud boot-test --arch arm64', () => {
  it('boots the qcow2 under qemu-system-aarch64 (virt, AAVMF, TCG): the seed marker shows on ttyAMA0', async () => {
    const log = await readFile(boot.consoleLog, 'utf8');
    expect(boot, `console:\n${log.slice(-3000)}`).toMatchObject({
      booted: true,
      accel: 'tcg',
      format: 'qcow2',
    });
    expect(boot.marker).toMatch(/^WHARF-BOOT-OK-[a-f0-9]{16}$/);
    expect(log).toContain(boot.marker!);
    expect(log).toContain('wharf-minimal: reached multi-user');
    // The kernel ran on the emulated arm64 CPU, with its console on the PL011.
    expect(log).toMatch(/Booting Linux on physical CPU/);
    expect(log).toContain('printk: console [ttyAMA0] enabled');
    expect(log).toContain(`root=PARTUUID=${disk.layout.root.guid.toLowerCase()}`);
    console.log(
      `arm64 TCG boot: ${boot.seconds} s (boot-test), ${wallSeconds.toFixed(1)} s wall with the CLI`,
    );
  });
});
