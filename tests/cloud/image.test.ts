// Cloud disk images end to end on this machine, no privileges: a bootable rootfs (Debian's kernel, a
// busybox initramfs and userland, systemd-boot) made into a GPT disk (ESP by mkfs.vfat + mtools, ext4
// by mkfs.ext4 -d + debugfs), converted to qcow2/raw/vhd/vmdk, built twice to the same raw and qcow2
// bytes, and the qcow2 booted once under QEMU through `wharf cloud boot-test --json` (the one boot the
// suite shares); an image with no bootloader does not boot; the booted qcow2 goes to s3rver in a
// multipart upload interrupted after its first part and resumed, its checksum read back.
import { mkdtemp, readFile, rm, writeFile, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTest, zBootTestResult, type BootTestResult } from '../../publisher/cloud/boot-test.ts';
import { convertDisk, imageInfo } from '../../publisher/cloud/convert.ts';
import { buildDisk, type DiskBuildResult } from '../../publisher/cloud/disk.ts';
import { readEspFile } from '../../publisher/cloud/esp.ts';
import { Ext4Editor } from '../../publisher/cloud/ext4.ts';
import { ESP_TYPE, ROOT_TYPES, readGpt, SECTOR } from '../../publisher/cloud/gpt.ts';
import { ObjectStore, sha256File } from '../../publisher/objects/s3.ts';
import { startS3 } from '../helpers/s3.ts';
import { runWharf } from '../helpers/wharf.ts';
import { bootableRootfs, EPOCH, SYSTEMD_BOOT } from './fixture.ts';

const MiB = 1024 * 1024;
const SIZE = 160 * MiB;
let dir: string;
let disk: DiskBuildResult;
const files: Record<string, string> = {};
let boot: BootTestResult;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-cloud-'));
  const { rootfs } = await bootableRootfs();
  disk = await buildDisk({
    rootfs,
    arch: 'amd64',
    size: SIZE,
    out: join(dir, 'a.raw'),
    seed: 'demo:1.0-cloud',
    epoch: EPOCH,
  });
  files.raw = disk.path;
  for (const f of ['qcow2', 'vhd', 'vmdk'] as const)
    files[f] = (await convertDisk(disk.path, f, join(dir, `a.${f}`))).path;
  // The suite's one boot, through the CLI contract.
  const r = await runWharf([
    'cloud',
    'boot-test',
    files.qcow2!,
    '--arch',
    'amd64',
    '--timeout',
    '240',
    '--json',
    '--console-log',
    join(dir, 'console.log'),
  ]);
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`boot-test crashed: ${r.stderr}`);
  boot = zBootTestResult.parse(JSON.parse(String(r.stdout)));
}, 400_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('cloud disk build', () => {
  it('writes a GPT with the fixed GUIDs: an ESP and an arch root partition, room for the backup GPT', async () => {
    const gpt = await readGpt(disk.path);
    expect(gpt.diskGuid).toBe(disk.layout.diskGuid);
    expect(gpt.partitions.map((p) => [p.type, p.guid, p.name])).toEqual([
      [ESP_TYPE, disk.layout.esp.guid, 'esp'],
      [ROOT_TYPES.amd64, disk.layout.root.guid, 'root'],
    ]);
    const root = gpt.partitions[1]!;
    expect((root.start + root.sectors) * SECTOR).toBeLessThanOrEqual(SIZE - 33 * SECTOR);
    const v = await execa('sfdisk', ['--verify', disk.path]);
    expect(v.stdout).toContain('No errors detected.');
  });

  it('puts systemd-boot at EFI/BOOT/BOOTX64.EFI and a loader entry booting the root by PARTUUID with a serial console', async () => {
    const esp = join(dir, 'esp.img');
    await execa('dd', [`if=${disk.path}`, `of=${esp}`, 'bs=1M', 'skip=1', 'count=64', 'status=none']);
    expect((await readEspFile(esp, 'EFI/BOOT/BOOTX64.EFI')).equals(await readFile(SYSTEMD_BOOT))).toBe(true);
    const entry = (await readEspFile(esp, 'loader/entries/wharf.conf')).toString();
    expect(entry).toContain(`root=PARTUUID=${disk.layout.root.guid.toLowerCase()}`);
    expect(entry).toContain('console=ttyS0,115200n8');
    expect(entry).toMatch(new RegExp(`^linux /wharf/${disk.kernelVersion}/linux$`, 'm'));
  });

  it('writes the rootfs into ext4 with owners, setuid bits and device nodes, and the customisation', async () => {
    const ed = new Ext4Editor(disk.path, disk.layout.root.start * SECTOR);
    const stat = async (p: string) =>
      (
        await execa('debugfs', [
          '-R',
          `stat "${p}"`,
          `${disk.path}?offset=${disk.layout.root.start * SECTOR}`,
        ])
      ).stdout;
    expect((await ed.read('sbin/init'))?.toString()).toContain('WHARF-BOOT-OK');
    expect(await stat('/var/lib/nobody.txt')).toMatch(/User: +65534 +Group: +65534/);
    expect(await stat('/bin/su-test')).toMatch(/Mode: +04755/);
    expect(await stat('/dev/console')).toMatch(/Type: character special/);
    expect((await ed.read('etc/cloud/cloud.cfg.d/90-wharf-datasources.cfg'))?.toString()).toContain(
      'datasource_list: [NoCloud, ConfigDrive, OpenStack, Ec2, None]',
    );
    const sshd = (await ed.read('etc/ssh/sshd_config'))!.toString();
    expect(sshd).toMatch(/^PermitRootLogin prohibit-password$/m);
    expect(sshd).not.toMatch(/^PermitRootLogin yes/m);
    expect(sshd).toMatch(/^PasswordAuthentication no$/m);
    expect(await ed.list('etc/ssh')).not.toContain('ssh_host_ed25519_key');
    expect((await ed.read('etc/machine-id'))!.length).toBe(0);
    expect(await ed.read('var/lib/dbus/machine-id')).toBeNull();
    expect((await ed.read('etc/shadow'))!.toString()).toMatch(/^root:!\$6\$/);
  });

  it('is reproducible: the same rootfs gives the same raw and qcow2 bytes', async () => {
    const { rootfs } = await bootableRootfs();
    const again = await buildDisk({
      rootfs,
      arch: 'amd64',
      size: SIZE,
      out: join(dir, 'b.raw'),
      seed: 'demo:1.0-cloud',
      epoch: EPOCH,
    });
    expect((await sha256File(again.path)).sha256).toBe((await sha256File(disk.path)).sha256);
    const q = await convertDisk(again.path, 'qcow2', join(dir, 'b.qcow2'));
    expect((await sha256File(q.path)).sha256).toBe((await sha256File(files.qcow2!)).sha256);
    await rm(again.path);
  }, 120_000);

  it('converts to qcow2, fixed VHD of the exact size, and streamOptimized VMDK', async () => {
    expect(await imageInfo(files.raw!)).toEqual({ format: 'raw', virtualSize: SIZE });
    expect(await imageInfo(files.qcow2!)).toEqual({ format: 'qcow2', virtualSize: SIZE });
    expect(await imageInfo(files.vhd!)).toEqual({ format: 'vpc', virtualSize: SIZE });
    expect(await imageInfo(files.vmdk!)).toEqual({ format: 'vmdk', virtualSize: SIZE });
    const vmdk = JSON.parse((await execa('qemu-img', ['info', '--output=json', files.vmdk!])).stdout);
    expect(vmdk['format-specific'].data['create-type']).toBe('streamOptimized');
    // A fixed VHD is the raw bytes plus a 512-byte footer "conectix".
    const vhd = await readFile(files.vhd!);
    expect(vhd.length).toBe(SIZE + 512);
    expect(vhd.subarray(SIZE, SIZE + 8).toString('latin1')).toBe('conectix');
  });
});

describe('wharf cloud boot-test', () => {
  it('boots the qcow2 under QEMU with UEFI and a NoCloud seed: the marker from the seed shows on the console', async () => {
    expect(boot).toMatchObject({ booted: true, format: 'qcow2' });
    expect(boot.marker).toMatch(/^WHARF-BOOT-OK-[a-f0-9]{16}$/);
    const log = await readFile(boot.consoleLog, 'utf8');
    expect(log).toContain('wharf-minimal: reached multi-user');
    expect(log).toContain(boot.marker!);
    expect(log).toContain(`root=PARTUUID=${disk.layout.root.guid.toLowerCase()}`);
  });

  it('does not pass a disk that cannot boot', async () => {
    const blank = join(dir, 'blank.raw');
    await writeFile(blank, '');
    await truncate(blank, 64 * MiB);
    const r = await bootTest(blank, { timeout: 15, accel: 'tcg', consoleLog: join(dir, 'blank.log') });
    expect(r).toMatchObject({ booted: false, marker: null });
    expect(r.reason).toMatch(/no boot marker within 15 s/);
  }, 60_000);
});

describe('upload of the booted image', () => {
  it('resumes an interrupted multipart upload to S3 (s3rver) and reads the checksum back', async () => {
    const s3 = await startS3();
    try {
      const env = { WHARF_S3_ACCESS_KEY_ID: s3.accessKeyId, WHARF_S3_SECRET_ACCESS_KEY: s3.secretAccessKey };
      const target = {
        name: 'local',
        bucket: s3.bucket,
        endpoint: s3.endpoint,
        prefix: 'cloud',
        partSizeMiB: 5,
        queueSize: 1,
      };
      const local = await sha256File(files.qcow2!);
      const parts = Math.ceil(local.size / (5 * MiB));
      expect(parts).toBeGreaterThanOrEqual(2);
      const first = new ObjectStore(target, env);
      const ac = new AbortController();
      const sent1: number[] = [];
      first.onPart = (n) => {
        sent1.push(n);
        ac.abort();
      };
      await expect(first.uploadFile(files.qcow2!, 'demo/a.qcow2', { signal: ac.signal })).rejects.toThrow();
      expect(sent1).toEqual([1]);
      const second = new ObjectStore(target, env);
      const sent2: number[] = [];
      second.onPart = (n) => sent2.push(n);
      const r = await second.uploadFile(files.qcow2!, 'demo/a.qcow2');
      expect(r).toMatchObject({
        status: 'resumed',
        partsSent: parts - 1,
        sha256: local.sha256,
        size: local.size,
      });
      expect(sent2[0]).toBe(2);
      expect(await second.readBack(r.key)).toEqual({ sha256: local.sha256, size: local.size });
    } finally {
      await s3.stop();
    }
  }, 120_000);
});
