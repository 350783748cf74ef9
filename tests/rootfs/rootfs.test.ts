// The OCI layer reader: layers applied in order (whiteouts, opaque directories, hard links across
// layers, owners, modes, symlinks, devices, xattrs), the architecture picked from an image index, digests
// checked, and the reproducible tar it writes, read back by Python's tarfile.
import { createWriteStream } from 'node:fs';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  Rootfs,
  encodeHeader,
  readTar,
  rootfsFromOciLayout,
  rootfsFromTarball,
  rootfsTar,
  fileNode,
  END_OF_ARCHIVE,
  padding,
} from '../../publisher/rootfs/index.ts';
import { elfHeader, pythonTarList, tarOf, tempDir, writeOciLayout, type LayerEntry } from './fixtures.ts';

const lower: LayerEntry[] = [
  { name: 'bin', type: 'directory', mode: 0o755 },
  { name: 'bin/busybox', mode: 0o755, data: elfHeader('amd64') },
  { name: 'bin/hl', type: 'link', linkname: 'bin/busybox' },
  { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
  { name: 'dev', type: 'directory', mode: 0o755 },
  { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
  { name: 'etc', type: 'directory', mode: 0o755 },
  {
    name: 'etc/owned',
    mode: 0o640,
    uid: 1234,
    gid: 99,
    data: 'secret\n',
    pax: { 'SCHILY.xattr.user.k': 'v1' },
  },
  { name: 'etc/gone', data: 'bye\n' },
  { name: 'etc/gonedir', type: 'directory' },
  { name: 'etc/gonedir/child', data: 'x' },
  { name: 'opq', type: 'directory', mode: 0o700 },
  { name: 'opq/old1', data: '1' },
  { name: 'opq/sub', type: 'directory' },
  { name: 'opq/sub/old2', data: '2' },
  { name: 'was-dir', type: 'directory' },
  { name: 'was-dir/inner', data: 'i' },
  { name: 'usr', type: 'directory' },
  { name: 'usr/bin', type: 'directory' },
  { name: 'usr/bin/tool', mode: 0o4755, data: 'suid' },
];
const upper: LayerEntry[] = [
  { name: 'etc/.wh.gone', data: '' },
  { name: 'etc/.wh.gonedir', data: '' },
  { name: 'opq/.wh..wh..opq', data: '' },
  { name: 'opq/new', data: 'n' },
  // Replacing one path of a hard-linked pair breaks only that path's link.
  { name: 'bin/busybox', mode: 0o755, data: Buffer.concat([elfHeader('amd64'), Buffer.from('v2')]) },
  { name: 'was-dir', data: 'now a file' },
  { name: 'usr/bin/tool2', type: 'link', linkname: 'usr/bin/tool' },
];

async function twoLayerLayout(): Promise<string> {
  const dir = join(await tempDir(), 'layout');
  await writeOciLayout(dir, [
    { arch: 'amd64', layers: [await tarOf(lower), await tarOf(upper)], created: '2026-01-02T03:04:05Z' },
  ]);
  return dir;
}

describe('rootfs from an OCI layout', () => {
  it('applies layers in order: whiteouts, opaque dirs, replaced dirs, hard links, owners, xattrs', async () => {
    const { rootfs, image } = await rootfsFromOciLayout(await twoLayerLayout(), { arch: 'amd64' });
    expect(image?.layers).toBe(2);
    const paths = rootfs.sortedPaths();
    expect(paths).not.toContain('etc/gone');
    expect(paths).not.toContain('etc/gonedir');
    expect(paths).not.toContain('etc/gonedir/child');
    expect(paths.filter((p) => p.startsWith('opq/'))).toEqual(['opq/new']);
    expect(rootfs.get('opq')?.mode).toBe(0o700); // the opaque directory itself stays
    expect(rootfs.get('was-dir')?.type).toBe('file');
    expect(paths).not.toContain('was-dir/inner');
    const owned = rootfs.get('etc/owned')!;
    expect([owned.uid, owned.gid, owned.mode]).toEqual([1234, 99, 0o640]);
    expect(owned.xattrs.get('user.k')?.toString()).toBe('v1');
    expect(rootfs.get('usr/bin/tool')?.mode).toBe(0o4755);
    // bin/hl kept the first busybox; bin/busybox is the new one.
    expect(rootfs.get('bin/hl')!.data.length).toBe(64);
    expect(rootfs.get('bin/busybox')!.data.toString().endsWith('v2')).toBe(true);
    expect(rootfs.get('bin/hl')).not.toBe(rootfs.get('bin/busybox'));
    // A hard link made in the upper layer to a lower-layer file shares its node.
    expect(rootfs.get('usr/bin/tool2')).toBe(rootfs.get('usr/bin/tool'));
    expect(rootfs.get('dev/null')).toMatchObject({ type: 'char', devmajor: 1, devminor: 3 });
    expect(rootfs.resolve('bin/sh')?.path).toBe('bin/busybox');
  });

  it('writes a sorted, clamped, reproducible tar that Python reads back with links and xattrs intact', async () => {
    const layout = await twoLayerLayout();
    const dir = await tempDir();
    const write = async (name: string) => {
      const { rootfs } = await rootfsFromOciLayout(layout, { arch: 'amd64' });
      const p = join(dir, name);
      await pipeline(
        Readable.from(rootfsTar(rootfs, { sourceDateEpoch: 1_600_000_000 })),
        createWriteStream(p),
      );
      return p;
    };
    const a = await write('a.tar');
    const b = await write('b.tar');
    expect((await readFile(a)).equals(await readFile(b))).toBe(true);
    const members = await pythonTarList(a);
    const names = members.map((m) => m.name);
    expect(names).toEqual([...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    expect(members.every((m) => m.mtime <= 1_600_000_000)).toBe(true);
    expect(members.every((m) => m.uname === '' && m.gname === '')).toBe(true);
    expect(members.some((m) => Object.keys(m.pax).some((k) => /atime|ctime/.test(k)))).toBe(false);
    const tool2 = members.find((m) => m.name === 'usr/bin/tool2')!;
    expect(tool2.type).toBe('1');
    expect(tool2.linkname).toBe('usr/bin/tool');
    const owned = members.find((m) => m.name === 'etc/owned')!;
    expect([owned.uid, owned.gid, owned.mode]).toEqual([1234, 99, 0o640]);
    expect(Buffer.from(owned.pax['SCHILY.xattr.user.k']!, 'hex').toString()).toBe('v1');
    expect(members.find((m) => m.name === 'dev/null')!.type).toBe('3');
  });

  it('picks the architecture from an image index and refuses one the image does not have', async () => {
    const dir = join(await tempDir(), 'multi');
    await writeOciLayout(dir, [
      { arch: 'amd64', layers: [await tarOf([{ name: 'bin/sh', mode: 0o755, data: elfHeader('amd64') }])] },
      { arch: 'arm64', layers: [await tarOf([{ name: 'bin/sh', mode: 0o755, data: elfHeader('arm64') }])] },
    ]);
    const arm = await rootfsFromOciLayout(dir, { arch: 'arm64' });
    expect(arm.rootfs.get('bin/sh')!.data.readUInt16LE(18)).toBe(183);
    const amd = await rootfsFromOciLayout(dir, { arch: 'amd64' });
    expect(amd.rootfs.get('bin/sh')!.data.readUInt16LE(18)).toBe(62);
    await expect(rootfsFromOciLayout(dir, { arch: 'riscv64' })).rejects.toThrow(/no linux\/riscv64 manifest/);
    const single = join(await tempDir(), 'single');
    await writeOciLayout(single, [{ arch: 'amd64', layers: [await tarOf([{ name: 'a', data: 'a' }])] }]);
    await expect(rootfsFromOciLayout(single, { arch: 'arm64' })).rejects.toThrow(
      /is linux\/amd64, not linux\/arm64/,
    );
  });

  it('refuses a corrupt layer blob', async () => {
    const dir = await twoLayerLayout();
    const blobs = join(dir, 'blobs', 'sha256');
    for (const f of await readdir(blobs)) {
      const b = await readFile(join(blobs, f));
      if (b[0] === 0x1f && b[1] === 0x8b) {
        // Same length, different bytes: re-gzip the same content at another level.
        const { gunzipSync, gzipSync } = await import('node:zlib');
        const other = gzipSync(gunzipSync(b), { level: 1 });
        await writeFile(
          join(blobs, f),
          other.length === b.length ? Buffer.concat([other, Buffer.from([0])]) : other,
        );
      }
    }
    await expect(rootfsFromOciLayout(dir, { arch: 'amd64' })).rejects.toThrow(/bytes, expected|is corrupt/);
  });
});

describe('tar codec', () => {
  it('round-trips binary xattr values, long and non-ASCII names, large ids through pax', async () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xfe]);
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
    const h = {
      type: 'file' as const,
      mode: 0o755,
      uid: 3_000_000,
      gid: 5,
      mtime: 1,
      linkname: '',
      devmajor: 0,
      devminor: 0,
    };
    const chunks = [
      encodeHeader({ ...h, name: 'usr/bin/ping', size: 4, xattrs: new Map([['security.capability', cap]]) }),
      Buffer.from('ping'),
      padding(4),
      encodeHeader({ ...h, name: long, size: 0, xattrs: new Map() }),
      encodeHeader({ ...h, name: 'etc/café', size: 0, xattrs: new Map() }),
      END_OF_ARCHIVE,
    ];
    const got = [];
    for await (const e of readTar(Readable.from(chunks))) got.push(e);
    expect(got.map((e) => e.header.name)).toEqual(['usr/bin/ping', long, 'etc/café']);
    expect(got[0]!.header.xattrs.get('security.capability')!.equals(cap)).toBe(true);
    expect(got[0]!.header.uid).toBe(3_000_000);
    expect(got[0]!.data.toString()).toBe('ping');
    // Python agrees on the binary xattr.
    const dir = await tempDir();
    await writeFile(join(dir, 'x.tar'), Buffer.concat(chunks));
    const py = await pythonTarList(join(dir, 'x.tar'));
    expect(Buffer.from(py[0]!.pax['SCHILY.xattr.security.capability']!, 'hex').equals(cap)).toBe(true);
    expect(py[1]!.name).toBe(long);
  });

  it('reads a rootfs tarball (gzip) without interpreting whiteouts', async () => {
    const dir = await tempDir();
    const { gzipSync } = await import('node:zlib');
    await writeFile(
      join(dir, 'r.tar.gz'),
      gzipSync(
        await tarOf([
          { name: './etc/.wh.keep', data: 'k' },
          { name: './etc/a', data: 'a' },
        ]),
      ),
    );
    const { rootfs, tarball } = await rootfsFromTarball(join(dir, 'r.tar.gz'));
    expect(tarball?.compression).toBe('gzip');
    expect(rootfs.sortedPaths()).toEqual(['etc', 'etc/.wh.keep', 'etc/a']);
  });

  it('refuses a hard link to a file that does not exist', async () => {
    const fs = new Rootfs();
    await expect(
      fs.apply(readTar(Readable.from([await tarOf([{ name: 'a', type: 'link', linkname: 'missing' }])]))),
    ).rejects.toThrow(/no such file/);
    fs.set('x', fileNode('x'));
    expect(fs.get('x')?.data.toString()).toBe('x');
  });
});
