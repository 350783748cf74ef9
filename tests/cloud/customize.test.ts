// The base-image route, without mounting anything: cloud-init files written into an ext4 image with
// debugfs and read back (by a second editor and by debugfs itself); a base qcow2.xz holding a GPT disk
// with an ext4 root found, customised in place (cloud-init, SSH hardening, host keys and machine-id
// gone, serial console on) and written as qcow2 + raw; a base image download with the wrong SHA-256
// refused; and the pure helpers (sshd_config rewriting, console arguments, root locking, GUIDs).
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromBase, fetchBaseImage, findRootPartition } from '../../publisher/cloud/base.ts';
import { convertDisk, imageInfo } from '../../publisher/cloud/convert.ts';
import {
  CLOUD_INIT_DATASOURCE_CFG,
  hardenSshdConfig,
  lockRoot,
  withSerialConsole,
} from '../../publisher/cloud/customize.ts';
import { Ext4Editor, mkfsExt4 } from '../../publisher/cloud/ext4.ts';
import {
  diskLayout,
  sfdiskScript,
  stableGuid,
  writePartitionTable,
  SECTOR,
} from '../../publisher/cloud/gpt.ts';
import { dirNode, fileNode, Rootfs } from '../../publisher/rootfs/index.ts';

const MiB = 1024 * 1024;
const EPOCH = 1767225600;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-cloud-base-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('debugfs editing of an ext4 image', () => {
  it('writes cloud-init files into an ext4 image and reads them back without mounting', async () => {
    const img = join(dir, 'plain.ext4');
    await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', img, '32M']);
    const ed = new Ext4Editor(img, 0, EPOCH);
    ed.mkdirp('etc/cloud/cloud.cfg.d');
    ed.write('etc/cloud/cloud.cfg.d/99-test.cfg', 'datasource_list: [NoCloud]\n', { mode: 0o640 });
    ed.mkdirp('var/lib/cloud/seed/nocloud');
    ed.write('var/lib/cloud/seed/nocloud/meta-data', 'instance-id: test\n');
    await ed.commit();
    const again = new Ext4Editor(img);
    expect((await again.read('etc/cloud/cloud.cfg.d/99-test.cfg'))?.toString()).toBe(
      'datasource_list: [NoCloud]\n',
    );
    expect(await again.list('var/lib/cloud/seed/nocloud')).toEqual(['meta-data']);
    // debugfs itself, outside the editor: content, mode, owner, the epoch as mtime.
    const cat = await execa('debugfs', ['-R', 'cat /var/lib/cloud/seed/nocloud/meta-data', img]);
    expect(cat.stdout).toBe('instance-id: test');
    const st = (await execa('debugfs', ['-R', 'stat /etc/cloud/cloud.cfg.d/99-test.cfg', img])).stdout;
    expect(st).toMatch(/Mode: +0640/);
    expect(st).toMatch(/User: +0 +Group: +0/);
    expect(st).toMatch(new RegExp(`mtime: 0x${EPOCH.toString(16)}`));
    const fsck = await execa('e2fsck', ['-fn', img], { reject: false });
    expect(fsck.exitCode).toBe(0);
  });
});

/** A base disk like a distribution's: GPT, a small first partition, an ext4 root with sshd, grub, keys. */
async function baseDisk(): Promise<string> {
  const fs = new Rootfs();
  const at = { mtime: EPOCH };
  for (const d of [
    'etc',
    'etc/ssh',
    'etc/default',
    'boot',
    'boot/loader',
    'boot/loader/entries',
    'usr',
    'usr/lib',
    'usr/lib/systemd',
    'usr/lib/systemd/system',
    'var',
    'var/lib',
    'var/lib/dbus',
  ])
    fs.set(d, dirNode(at));
  fs.set(
    'etc/ssh/sshd_config',
    fileNode('Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nPasswordAuthentication yes\n', {
      ...at,
      mode: 0o600,
    }),
  );
  fs.set('etc/ssh/ssh_host_rsa_key', fileNode('secret', { ...at, mode: 0o600 }));
  fs.set('etc/ssh/ssh_host_rsa_key.pub', fileNode('ssh-rsa AAAA', at));
  fs.set('etc/machine-id', fileNode('0123456789abcdef0123456789abcdef\n', at));
  fs.set('var/lib/dbus/machine-id', fileNode('0123456789abcdef0123456789abcdef\n', at));
  fs.set('etc/shadow', fileNode('root:$6$x$y:19000:0:99999:7:::\nbin:*:19000::::::\n', { ...at, mode: 0 }));
  fs.set(
    'etc/default/grub',
    fileNode('GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="resume=/dev/vda3 rhgb quiet"\n', at),
  );
  fs.set(
    'boot/loader/entries/abc-6.6.0.conf',
    fileNode('title openEuler\nlinux /vmlinuz-6.6.0\noptions root=UUID=1234 ro\n', at),
  );
  fs.set('usr/lib/systemd/system/serial-getty@.service', fileNode('[Unit]\n', at));
  const layout = diskLayout({ size: 128 * MiB, arch: 'amd64', seed: 'base-test' });
  const raw = join(dir, 'base.raw');
  await writeFile(raw, '');
  await truncate(raw, layout.size);
  await writePartitionTable(raw, layout);
  const root = join(dir, 'base-root.ext4');
  await mkfsExt4(fs, root, {
    size: layout.root.sectors * SECTOR,
    uuid: stableGuid('b', 'u').toLowerCase(),
    hashSeed: stableGuid('b', 'h').toLowerCase(),
    epoch: EPOCH,
  });
  await execa('dd', [
    `if=${root}`,
    `of=${raw}`,
    'bs=1M',
    `seek=${(layout.root.start * SECTOR) / MiB}`,
    'conv=notrunc',
    'status=none',
  ]);
  const qcow2 = join(dir, 'base.qcow2');
  await convertDisk(raw, 'qcow2', qcow2);
  await execa('xz', ['-0', '-T1', '-k', qcow2]);
  return `${qcow2}.xz`;
}

describe('base image customisation', () => {
  it('finds the ext4 root of a qcow2.xz base and customises it in place, in qcow2 and raw', async () => {
    const base = await baseDisk();
    const out = join(dir, 'out');
    const r = await buildFromBase({
      base,
      arch: 'amd64',
      name: 'base',
      outDir: out,
      formats: ['qcow2', 'raw'],
      epoch: EPOCH,
      datasources: ['NoCloud', 'OpenStack'],
    });
    expect(r.files.map((f) => f.name)).toEqual(['base-amd64.qcow2', 'base-amd64.raw']);
    // every file's recorded virtual size is what qemu-img reads from it (the qcow2's file is smaller)
    for (const f of r.files) expect(f.virtualSize).toBe((await imageInfo(f.path)).virtualSize);
    expect(r.files[0]!.size).toBeLessThan(r.files[0]!.virtualSize);
    const raw = r.files[1]!.path;
    const root = await findRootPartition(raw);
    expect(root.offset).toBe(r.root.offset);
    const ed = new Ext4Editor(raw, root.offset);
    expect((await ed.read(CLOUD_INIT_DATASOURCE_CFG))?.toString()).toContain(
      'datasource_list: [NoCloud, OpenStack]',
    );
    const sshd = (await ed.read('etc/ssh/sshd_config'))!.toString();
    expect(sshd.split('\n').slice(0, 4)).toEqual([
      'PermitEmptyPasswords no',
      'Include /etc/ssh/sshd_config.d/*.conf',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
    ]);
    expect((await ed.read('etc/ssh/sshd_config.d/50-wharf-hardening.conf'))?.toString()).toContain(
      'PasswordAuthentication no',
    );
    expect((await ed.list('etc/ssh')).filter((n) => n.startsWith('ssh_host_'))).toEqual([]);
    expect((await ed.read('etc/machine-id'))!.length).toBe(0);
    expect(await ed.read('var/lib/dbus/machine-id')).toBeNull();
    expect((await ed.read('etc/shadow'))!.toString()).toMatch(/^root:!\$6\$x\$y:/);
    expect((await ed.read('etc/default/grub'))!.toString()).toContain(
      'GRUB_CMDLINE_LINUX="resume=/dev/vda3 rhgb quiet console=tty0 console=ttyS0,115200n8"',
    );
    expect((await ed.read('boot/loader/entries/abc-6.6.0.conf'))!.toString()).toContain(
      'options root=UUID=1234 ro console=tty0 console=ttyS0,115200n8',
    );
    expect(await ed.type('etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service')).toBe('symlink');
    // The edited filesystem is consistent, and the qcow2 holds the same disk as the raw.
    const part = join(dir, 'root-part.ext4');
    await execa('dd', [
      `if=${raw}`,
      `of=${part}`,
      'bs=1M',
      `skip=${root.offset / MiB}`,
      `count=${root.size / MiB}`,
      'status=none',
    ]);
    expect((await execa('e2fsck', ['-fn', part], { reject: false })).exitCode).toBe(0);
    expect(
      (
        await execa('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', r.files[0]!.path, raw], {
          reject: false,
        })
      ).exitCode,
    ).toBe(0);
  }, 120_000);

  it('fetches a base image once, checks its SHA-256 and refuses other bytes', async () => {
    const body = Buffer.from('not really a disk image');
    const server = createServer((_req, res) => res.end(body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/img.qcow2`;
      const sha = createHash('sha256').update(body).digest('hex');
      const got = await fetchBaseImage(url, sha, join(dir, 'cache'));
      expect((await readFile(got)).equals(body)).toBe(true);
      await expect(fetchBaseImage(url, 'a'.repeat(64), join(dir, 'cache'))).rejects.toThrow(
        /sha256 is [a-f0-9]{64}, the recipe says a{64}/,
      );
      await expect(fetchBaseImage('http://example.com/x.qcow2', sha, join(dir, 'cache'))).rejects.toThrow(
        /https/,
      );
    } finally {
      server.close();
    }
  });
});

describe('customisation helpers', () => {
  it('rewrites sshd_config: first match wins, commented defaults replaced, missing keys put first', () => {
    const out = hardenSshdConfig(
      '#PermitRootLogin yes\nPasswordAuthentication yes\nPasswordAuthentication yes\nMatch User x\n  PasswordAuthentication yes\n',
    );
    const lines = out.split('\n');
    expect(lines[0]).toBe('PermitEmptyPasswords no');
    expect(lines).toContain('PermitRootLogin prohibit-password');
    expect(lines.filter((l) => l === 'PasswordAuthentication no')).toHaveLength(1);
    expect(lines).toContain('# PasswordAuthentication yes');
    expect(out).not.toMatch(/^PasswordAuthentication yes/m);
  });

  it('adds the serial console once and locks root only', () => {
    expect(withSerialConsole('ro quiet', 'ttyS0')).toBe('ro quiet console=tty0 console=ttyS0,115200n8');
    expect(withSerialConsole('ro console=ttyS0,9600', 'ttyS0')).toBe('ro console=ttyS0,9600');
    expect(lockRoot('root:$6$a:1::::::\nuser:$6$b:1::::::')).toBe('root:!$6$a:1::::::\nuser:$6$b:1::::::');
    expect(lockRoot('root:*:1::::::')).toBe('root:*:1::::::');
  });

  it('derives fixed RFC 4122 GUIDs and leaves room for the backup GPT', () => {
    expect(stableGuid('a', 'disk')).toBe(stableGuid('a', 'disk'));
    expect(stableGuid('a', 'disk')).not.toBe(stableGuid('b', 'disk'));
    expect(stableGuid('a', 'disk')).toMatch(
      /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/,
    );
    const l = diskLayout({ size: 256 * MiB, arch: 'arm64', seed: 's' });
    const script = sfdiskScript(l);
    expect(script).toContain(`last-lba: ${(256 * MiB) / SECTOR - 34}`);
    expect(script).toContain('type=B921B045-1DF0-41C3-AF44-4C6F280D3FAE');
    expect(l.root.start + l.root.sectors).toBeLessThanOrEqual((256 * MiB) / SECTOR - 33);
    expect(() => diskLayout({ size: 256 * MiB, arch: 'amd64', seed: 's', espMiB: 32 })).toThrow(/64 MiB/);
  });
});
