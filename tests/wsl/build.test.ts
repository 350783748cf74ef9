// The .wsl builder: from an OCI layout or a rootfs tarball, gzip and xz, byte-identical on rebuild,
// valid for Microsoft's checks, and what it writes is what Python's tarfile reads.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWsl } from '../../publisher/wsl/build.ts';
import { validateWslFile } from '../../publisher/wsl/validate.ts';
import {
  elfHeader,
  pythonTarList,
  tarOf,
  tempDir,
  writeOciLayout,
  type LayerEntry,
} from '../rootfs/fixtures.ts';

function rootfsEntries(arch: 'amd64' | 'arm64'): LayerEntry[] {
  const mtime = new Date(1_800_000_000_000); // after the epoch used below: must be clamped
  return [
    { name: 'bin', type: 'symlink', linkname: 'usr/bin', mtime },
    { name: 'usr/bin', type: 'directory', mtime },
    { name: 'usr/bin/busybox', mode: 0o755, data: elfHeader(arch), mtime },
    { name: 'usr/bin/sh', type: 'symlink', linkname: 'busybox', mtime },
    { name: 'usr/bin/bash', type: 'symlink', linkname: 'busybox', mtime },
    { name: 'etc', type: 'directory', mtime },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n', mtime },
    { name: 'etc/shadow', mode: 0o640, data: 'root:*:19000:0:99999:7:::\n', mtime },
    { name: 'etc/resolv.conf', data: 'nameserver 10.0.0.1\n', mtime },
    { name: 'home/app', type: 'directory', uid: 1234, gid: 1234, mtime },
  ];
}

describe('buildWsl', () => {
  it('builds valid, byte-identical .wsl files from an OCI layout, gzip and xz', async () => {
    const dir = await tempDir();
    const layout = join(dir, 'layout');
    await writeOciLayout(layout, [
      { arch: 'amd64', layers: [await tarOf(rootfsEntries('amd64'))], created: '2026-03-01T00:00:00Z' },
      { arch: 'arm64', layers: [await tarOf(rootfsEntries('arm64'))], created: '2026-03-01T00:00:00Z' },
    ]);
    const epoch = Math.floor(Date.parse('2026-03-01T00:00:00Z') / 1000);
    for (const arch of ['amd64', 'arm64'] as const) {
      for (const compression of ['gzip', 'xz'] as const) {
        const out = (n: number) => join(dir, `${arch}-${n}.${compression}.wsl`);
        const a = await buildWsl({
          from: layout,
          arch,
          name: 'wharf-test',
          flavor: 'wharf',
          out: out(1),
          compression,
          env: {},
        });
        const b = await buildWsl({
          from: layout,
          arch,
          name: 'wharf-test',
          flavor: 'wharf',
          out: out(2),
          compression,
          env: {},
        });
        expect(a.sha256).toBe(b.sha256);
        expect((await readFile(out(1))).equals(await readFile(out(2)))).toBe(true);
        expect(a.sourceDateEpoch).toBe(epoch); // from the image config's created
        const head = (await readFile(out(1))).subarray(0, 6);
        expect(
          compression === 'gzip'
            ? head[0] === 0x1f && head[1] === 0x8b
            : head.toString('latin1', 1, 5) === '7zXZ',
        ).toBe(true);
        const report = await validateWslFile(out(1), { arch });
        expect(report).toEqual({ errors: [], warnings: [], arch, compression });
        const members = await pythonTarList(out(1));
        expect(members.every((m) => m.mtime <= epoch)).toBe(true);
        expect(members.find((m) => m.name === 'home/app')).toMatchObject({ uid: 1234, gid: 1234 });
        expect(members.find((m) => m.name === 'etc/resolv.conf')).toBeUndefined();
        expect(members.find((m) => m.name === 'etc/wsl-distribution.conf')).toMatchObject({
          mode: 0o644,
          uid: 0,
          gid: 0,
        });
        expect(members.find((m) => m.name === 'usr/lib/wsl/oobe.sh')).toMatchObject({ mode: 0o755 });
        expect(members.find((m) => m.name === 'usr/lib/wsl/terminal-profile.json')).toMatchObject({
          mode: 0o640,
        });
        expect(members.find((m) => m.name === 'usr/lib/wsl/wharf.ico')).toMatchObject({ mode: 0o644 });
      }
    }
  });

  it('honours SOURCE_DATE_EPOCH, and a different epoch gives different bytes', async () => {
    const dir = await tempDir();
    const tarball = join(dir, 'rootfs.tar');
    await writeFile(tarball, await tarOf(rootfsEntries('amd64')));
    const build = (file: string, epoch: string) =>
      buildWsl({
        from: tarball,
        arch: 'amd64',
        name: 'x',
        out: join(dir, file),
        env: { SOURCE_DATE_EPOCH: epoch },
      });
    const a = await build('a.wsl', '1000');
    const b = await build('b.wsl', '1000');
    const c = await build('c.wsl', '2000');
    expect(a.sha256).toBe(b.sha256);
    expect(c.sha256).not.toBe(a.sha256);
    expect((await pythonTarList(join(dir, 'a.wsl'))).every((m) => m.mtime <= 1000)).toBe(true);
    const conf = (await pythonTarList(join(dir, 'a.wsl'))).find(
      (m) => m.name === 'etc/wsl-distribution.conf',
    );
    expect(conf?.mtime).toBe(1000);
    await expect(
      buildWsl({
        from: tarball,
        arch: 'amd64',
        name: 'x',
        out: join(dir, 'd.wsl'),
        env: { SOURCE_DATE_EPOCH: 'soon' },
      }),
    ).rejects.toThrow(/SOURCE_DATE_EPOCH/);
  });

  it('refuses bad names, a big icon and a non-ICO icon', async () => {
    const dir = await tempDir();
    const tarball = join(dir, 'rootfs.tar');
    await writeFile(tarball, await tarOf(rootfsEntries('amd64')));
    const base = { from: tarball, arch: 'amd64' as const, out: join(dir, 'x.wsl'), env: {} };
    await expect(buildWsl({ ...base, name: '../evil' })).rejects.toThrow(/--name/);
    await writeFile(join(dir, 'big.ico'), Buffer.alloc(1024 * 1024 + 1));
    await expect(buildWsl({ ...base, name: 'x', icon: join(dir, 'big.ico') })).rejects.toThrow(
      /at most 1 MiB/,
    );
    await writeFile(join(dir, 'png.ico'), Buffer.from('\x89PNG\r\n\x1a\n0000000000000000000000'));
    await expect(buildWsl({ ...base, name: 'x', icon: join(dir, 'png.ico') })).rejects.toThrow(/not an .ico/);
  });
});
