// A minimal initramfs, for kernels whose storage and filesystem drivers are modules (Debian's
// generic kernel has virtio_blk and ext4 as modules): a static busybox, the modules asked for with
// the modules they depend on (read from each .ko's own modinfo "depends=", so no modules.dep or
// depmod is needed), and an /init that loads them in dependency order, mounts the root partition
// and switch_roots into it. Written as a newc cpio, gzip'd, entries sorted and dated at the epoch:
// same inputs, same bytes.
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface CpioEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  data?: Buffer;
  target?: string;
}

const TYPE: Record<CpioEntry['type'], number> = { file: 0o100000, dir: 0o040000, symlink: 0o120000 };

function newcHeader(f: Record<string, number>, name: string): Buffer {
  const fields = [f.ino, f.mode, 0, 0, f.nlink, f.mtime, f.size, 0, 0, 0, 0, name.length + 1, 0].map((n) =>
    (n ?? 0).toString(16).padStart(8, '0'),
  );
  const head = Buffer.from(`070701${fields.join('')}${name}\0`, 'latin1');
  return Buffer.concat([head, Buffer.alloc((4 - (head.length % 4)) % 4)]);
}

/** A newc ("070701") cpio archive of the entries, in path order, all owned by root, dated `epoch`. */
export function cpioNewc(entries: readonly CpioEntry[], epoch: number): Buffer {
  const out: Buffer[] = [];
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let ino = 1;
  for (const e of sorted) {
    const body =
      e.type === 'symlink'
        ? Buffer.from(e.target ?? '')
        : e.type === 'file'
          ? (e.data ?? Buffer.alloc(0))
          : Buffer.alloc(0);
    out.push(
      newcHeader(
        {
          ino: ino++,
          mode: TYPE[e.type] | (e.mode & 0o7777),
          nlink: e.type === 'dir' ? 2 : 1,
          mtime: epoch,
          size: body.length,
        },
        e.path,
      ),
    );
    out.push(body, Buffer.alloc((4 - (body.length % 4)) % 4));
  }
  out.push(newcHeader({ ino: 0, mode: 0, nlink: 1, mtime: 0, size: 0 }, 'TRAILER!!!'));
  return Buffer.concat(out);
}

const modName = (f: string) => f.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');

/** Every .ko under a kernel's modules directory, by module name. */
export async function indexModules(dir: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.ko')) found.set(modName(e.name), p);
    }
  };
  await walk(dir);
  return found;
}

/** The "depends=" list of a module, from its .modinfo strings. */
export function moduleDepends(ko: Buffer): string[] {
  const i = ko.indexOf('\0depends=');
  if (i === -1) return [];
  const end = ko.indexOf(0, i + 9);
  return ko
    .subarray(i + 9, end)
    .toString('latin1')
    .split(',')
    .filter(Boolean)
    .map((n) => n.replace(/-/g, '_'));
}

/** The named modules and everything they depend on, dependencies first. */
export async function moduleClosure(
  dir: string,
  names: readonly string[],
): Promise<{ name: string; path: string; data: Buffer }[]> {
  const index = await indexModules(dir);
  const out: { name: string; path: string; data: Buffer }[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = async (raw: string): Promise<void> => {
    const name = raw.replace(/-/g, '_');
    if (done.has(name)) return;
    if (visiting.has(name)) throw new Error(`module dependency cycle at ${name}`);
    const path = index.get(name);
    if (!path) throw new Error(`module ${name} not found under ${dir}`);
    visiting.add(name);
    const data = await readFile(path);
    for (const d of moduleDepends(data)) await visit(d);
    visiting.delete(name);
    done.add(name);
    out.push({ name, path: relative(dir, path), data });
  };
  for (const n of names) await visit(n);
  return out;
}

/** The modules a virtio disk with an ext4 root and a FAT seed need on Debian's generic kernel. */
export const VIRTIO_EXT4_MODULES = [
  'crc32c_generic',
  'virtio_pci',
  'virtio_blk',
  'ext4',
  'vfat',
  'nls_cp437',
  'nls_ascii',
];

export function initScript(root = '/dev/vda2'): string {
  return `#!/bin/busybox sh
# Wharf minimal initramfs: load the modules, mount the root, switch_root.
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in $($B cat /lib/modules/load-order); do $B insmod /lib/modules/$m || echo "initramfs: insmod $m failed"; done
i=0
while [ ! -b ${root} ] && [ $i -lt 200 ]; do $B sleep 0.1; i=$((i+1)); done
$B mount -t ext4 -o rw ${root} /newroot || { echo "initramfs: cannot mount ${root}"; exec $B sh; }
$B umount /proc /sys
$B mount --move /dev /newroot/dev
exec $B switch_root /newroot /sbin/init
`;
}

/** A gzip'd newc initramfs: busybox, the modules (and their dependencies) and the init script. */
export async function minimalInitramfs(o: {
  modulesDir: string;
  modules: readonly string[];
  busybox: Buffer;
  epoch: number;
  root?: string;
}): Promise<{ data: Buffer; modules: string[] }> {
  const mods = await moduleClosure(o.modulesDir, o.modules);
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'newroot', 'lib', 'lib/modules'].map((p) => ({
      path: p,
      type: 'dir' as const,
      mode: 0o755,
    })),
    { path: 'bin/busybox', type: 'file', mode: 0o755, data: o.busybox },
    { path: 'bin/sh', type: 'symlink', mode: 0o777, target: 'busybox' },
    { path: 'init', type: 'file', mode: 0o755, data: Buffer.from(initScript(o.root)) },
    ...mods.map((m) => ({
      path: `lib/modules/${m.name}.ko`,
      type: 'file' as const,
      mode: 0o644,
      data: m.data,
    })),
    {
      path: 'lib/modules/load-order',
      type: 'file',
      mode: 0o644,
      data: Buffer.from(mods.map((m) => `${m.name}.ko`).join('\n') + '\n'),
    },
  ];
  return { data: gzipSync(cpioNewc(entries, o.epoch), { level: 9 }), modules: mods.map((m) => m.name) };
}
