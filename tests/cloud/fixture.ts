// The cloud-image test fixture: a small bootable rootfs, as a bootable container image carries it —
// Debian's generic kernel (scripts/setup/cloud-kernel.sh fetches it with `apt-get download` into
// .cache/cloud-kernel, the arm64 one into .cache/cloud-kernel/arm64; run here when CI has not), a
// tiny initramfs that loads virtio/ext4 and switch_roots, a static busybox userland whose /sbin/init
// prints the NoCloud seed's marker (a "marker unit"), and systemd-boot (amd64: the host's
// systemd-boot-efi; arm64: systemd-boot-efi:arm64 from the same script). Plus files the customisation
// must change (sshd_config allowing root passwords, a host key, a machine-id, root's password).
// A missing arm64 part is an error naming the setup script, never a skip.
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import type { Arch } from '../../catalog/names.ts';
import { dirNode, fileNode, Rootfs } from '../../publisher/rootfs/index.ts';
import { minimalInitramfs, VIRTIO_EXT4_MODULES } from '../../publisher/cloud/initramfs.ts';

export const EPOCH = 1767225600;
const REPO = resolve(import.meta.dirname, '../..');
const CACHE = join(REPO, '.cache/cloud-kernel');

export type TestArch = Extract<Arch, 'amd64' | 'arm64'>;
const kernelCache = (arch: TestArch) => (arch === 'amd64' ? CACHE : join(CACHE, arch));

/** Debian's kernel for `arch`: vmlinuz and the modules directory (fetched on first use). */
export async function debianKernel(
  arch: TestArch = 'amd64',
): Promise<{ version: string; vmlinuz: string; modulesDir: string }> {
  const cache = kernelCache(arch);
  if (!existsSync(join(cache, 'current')))
    await execa('bash', [join(REPO, 'scripts/setup/cloud-kernel.sh'), CACHE], { stdio: 'inherit' });
  const pkg = (await readFile(join(cache, 'current'), 'utf8')).trim();
  const root = join(cache, pkg);
  const version = (await readdir(join(root, 'lib/modules')))[0]!;
  return {
    version,
    vmlinuz: join(root, 'boot', `vmlinuz-${version}`),
    modulesDir: join(root, 'lib/modules', version),
  };
}

export const busyboxPath = () => ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p))!;
export const SYSTEMD_BOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi';
/** arm64's systemd-boot, from systemd-boot-efi:arm64 (scripts/setup/cloud-kernel.sh). */
export const SYSTEMD_BOOT_AA64 = join(CACHE, 'arm64/systemd-bootaa64.efi');
/** arm64's static busybox (scripts/setup/multiarch.sh). */
export const BUSYBOX_ARM64 = join(REPO, '.cache/arches/arm64/busybox');

const mustRead = async (path: string, what: string, setup: string) => {
  if (!existsSync(path)) throw new Error(`${what} is missing: ${path} (run ${setup})`);
  return readFile(path);
};

/** The busybox and systemd-boot binaries for `arch`, with their file names in the rootfs. */
async function archBinaries(
  arch: TestArch,
): Promise<{ busybox: Buffer; sdboot: Buffer; sdbootName: string }> {
  if (arch === 'amd64')
    return {
      busybox: await readFile(busyboxPath()),
      sdboot: await readFile(SYSTEMD_BOOT),
      sdbootName: 'systemd-bootx64.efi',
    };
  if (!existsSync(SYSTEMD_BOOT_AA64))
    await execa('bash', [join(REPO, 'scripts/setup/cloud-kernel.sh'), CACHE], { stdio: 'inherit' });
  return {
    busybox: await mustRead(BUSYBOX_ARM64, 'the arm64 busybox', 'scripts/setup/multiarch.sh'),
    sdboot: await mustRead(SYSTEMD_BOOT_AA64, 'the arm64 systemd-boot', 'scripts/setup/cloud-kernel.sh'),
    sdbootName: 'systemd-bootaa64.efi',
  };
}

export const INIT = `#!/bin/sh
export PATH=/bin
busybox mount -t proc proc /proc
busybox mount -t sysfs sys /sys
echo "wharf-minimal: reached multi-user"
for d in /dev/vdb /dev/vdc /dev/sr0; do
  if [ -b $d ] && busybox mount -t vfat -o ro $d /mnt/seed 2>/dev/null; then
    busybox sed -n 's/.*\\(WHARF-BOOT-OK-[0-9a-z]*\\).*/\\1/p' /mnt/seed/user-data | busybox head -n1
    break
  fi
done
busybox sync
busybox poweroff -f
`;

/** The bootable test rootfs for `arch` (kernel, initramfs, systemd-boot, busybox, the marker init). */
export async function bootableRootfs(arch: TestArch = 'amd64'): Promise<{
  rootfs: Rootfs;
  kernelVersion: string;
  modules: string[];
}> {
  const k = await debianKernel(arch);
  const { busybox, sdboot, sdbootName } = await archBinaries(arch);
  const initrd = await minimalInitramfs({
    modulesDir: k.modulesDir,
    modules: VIRTIO_EXT4_MODULES,
    busybox,
    epoch: EPOCH,
  });
  const fs = new Rootfs();
  const at = { mtime: EPOCH };
  for (const d of [
    'bin',
    'sbin',
    'dev',
    'proc',
    'sys',
    'tmp',
    'mnt',
    'mnt/seed',
    'etc',
    'etc/ssh',
    'boot',
    'root',
    'var',
    'var/lib',
    'var/lib/dbus',
    'usr',
    'usr/lib',
    'usr/lib/systemd',
    'usr/lib/systemd/boot',
    'usr/lib/systemd/boot/efi',
  ])
    fs.set(d, dirNode({ ...at, mode: d === 'tmp' ? 0o1777 : d === 'root' ? 0o700 : 0o755 }));
  fs.set('bin/busybox', fileNode(busybox, { ...at, mode: 0o755 }));
  fs.set('bin/sh', {
    ...fileNode(''),
    type: 'symlink',
    linkname: 'busybox',
    mode: 0o777,
    mtime: EPOCH,
    size: 0,
  });
  fs.set('sbin/init', fileNode(INIT, { ...at, mode: 0o755 }));
  fs.set('etc/os-release', fileNode('NAME="Wharf test"\nID=wharftest\nVERSION_ID=1.0\n', at));
  fs.set('etc/passwd', fileNode('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n', at));
  fs.set('etc/shadow', fileNode('root:$6$salt$hash:19000:0:99999:7:::\n', { ...at, mode: 0o600 }));
  fs.set('etc/machine-id', fileNode('0123456789abcdef0123456789abcdef\n', { ...at, mode: 0o444 }));
  fs.set('var/lib/dbus/machine-id', fileNode('0123456789abcdef0123456789abcdef\n', at));
  fs.set(
    'etc/ssh/sshd_config',
    fileNode('PermitRootLogin yes\n#PasswordAuthentication yes\nUsePAM yes\n', { ...at, mode: 0o600 }),
  );
  fs.set(
    'etc/ssh/ssh_host_ed25519_key',
    fileNode('-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n', { ...at, mode: 0o600 }),
  );
  fs.set('etc/ssh/ssh_host_ed25519_key.pub', fileNode('ssh-ed25519 AAAA test\n', at));
  // An owner other than root, a setuid file and a device node: what a staged copy cannot carry.
  fs.set('var/lib/nobody.txt', fileNode('owned by nobody\n', { ...at, uid: 65534, gid: 65534 }));
  fs.set('bin/su-test', fileNode('#!/bin/sh\n', { ...at, mode: 0o4755 }));
  fs.set('dev/console', {
    ...fileNode(''),
    type: 'char',
    devmajor: 5,
    devminor: 1,
    mode: 0o600,
    mtime: EPOCH,
    size: 0,
  });
  fs.set(`boot/vmlinuz-${k.version}`, fileNode(await readFile(k.vmlinuz), { ...at, mode: 0o644 }));
  fs.set(`boot/initrd.img-${k.version}`, fileNode(initrd.data, { ...at, mode: 0o644 }));
  fs.set(`usr/lib/systemd/boot/efi/${sdbootName}`, fileNode(sdboot, at));
  return { rootfs: fs, kernelVersion: k.version, modules: initrd.modules };
}
