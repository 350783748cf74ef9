// Microsoft's .wsl checks: a rootfs with Wharf's WSL files passes clean, and every rule has a fixture
// that breaks exactly it. Then the file-level checks (compression, tar) and the builder's output.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Rootfs, dirNode, fileNode, type RootfsNode } from '../../publisher/rootfs/index.ts';
import { addWslFiles } from '../../publisher/wsl/build.ts';
import { validateRootfs, validateWslFile, type ValidationReport } from '../../publisher/wsl/validate.ts';
import { elfHeader, tarOf, tempDir } from '../rootfs/fixtures.ts';

const sym = (linkname: string): RootfsNode => ({ ...fileNode(''), type: 'symlink', mode: 0o777, linkname });

/** A small merged-/usr rootfs with the WSL files added: valid for `arch`. */
function goodRootfs(arch: 'amd64' | 'arm64' = 'amd64'): Rootfs {
  const fs = new Rootfs();
  fs.set('bin', sym('usr/bin'));
  fs.set('sbin', sym('usr/sbin'));
  fs.set('usr/bin', dirNode());
  fs.set('usr/bin/busybox', fileNode(elfHeader(arch), { mode: 0o755 }));
  fs.set('usr/bin/sh', sym('busybox'));
  fs.set('usr/bin/bash', sym('/usr/bin/busybox'));
  fs.set('etc/passwd', fileNode('root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/sbin/nologin\n'));
  fs.set('etc/shadow', fileNode('root:*:19000:0:99999:7:::\nbin:!!:19000::::::\n', { mode: 0o640 }));
  fs.set('etc/group', fileNode('root:x:0:\nwheel:x:10:\n'));
  addWslFiles(fs, { name: 'wharf-test', flavor: 'wharf', defaultUid: 1000 }, 1_700_000_000);
  return fs;
}

const rules = (r: ValidationReport, kind: 'errors' | 'warnings') => r[kind].map((f) => f.rule).sort();

function expectOnly(r: ValidationReport, rule: string, kind: 'errors' | 'warnings' = 'errors'): void {
  expect(rules(r, kind)).toContain(rule);
  const other = kind === 'errors' ? 'warnings' : 'errors';
  // The fixture breaks that rule and nothing else.
  expect(rules(r, kind).filter((x) => x !== rule)).toEqual([]);
  expect(rules(r, other)).toEqual([]);
}

describe('validateRootfs', () => {
  it('passes a rootfs with the WSL files, for amd64 and arm64', () => {
    for (const arch of ['amd64', 'arm64'] as const) {
      const r = validateRootfs(goodRootfs(arch), { arch });
      expect(r).toEqual({ errors: [], warnings: [], arch });
    }
    // Without --arch, the architecture of /bin/sh is reported.
    expect(validateRootfs(goodRootfs('arm64')).arch).toBe('arm64');
  });

  const conf = (fs: Rootfs, text: string) =>
    fs.set('etc/wsl-distribution.conf', fileNode(text, { mode: 0o644 }));
  const baseConf = [
    '[oobe]',
    'command = /usr/lib/wsl/oobe.sh',
    'defaultUid = 1000',
    'defaultName = wharf-test',
    '[shortcut]',
    'icon = /usr/lib/wsl/wharf.ico',
    '[windowsterminal]',
    'profileTemplate = /usr/lib/wsl/terminal-profile.json',
  ];

  // [rule, kind, how to break it]
  const cases: Array<[string, 'errors' | 'warnings', (fs: Rootfs) => void]> = [
    ['conf.missing', 'errors', (fs) => fs.remove('etc/wsl-distribution.conf')],
    ['conf.mode', 'errors', (fs) => (fs.get('etc/wsl-distribution.conf')!.mode = 0o600)],
    ['conf.owner', 'errors', (fs) => (fs.get('etc/wsl-distribution.conf')!.uid = 1000)],
    ['conf.keys', 'errors', (fs) => conf(fs, [...baseConf, '[user]', 'default = me'].join('\n'))],
    ['conf.syntax', 'errors', (fs) => conf(fs, ['stray = 1', ...baseConf].join('\n'))],
    ['oobe.missing', 'errors', (fs) => fs.remove('usr/lib/wsl/oobe.sh')],
    ['oobe.mode', 'errors', (fs) => (fs.get('usr/lib/wsl/oobe.sh')!.mode = 0o644)],
    ['oobe.owner', 'errors', (fs) => (fs.get('usr/lib/wsl/oobe.sh')!.gid = 5)],
    [
      'oobe.location',
      'warnings',
      (fs) => {
        fs.set('etc/oobe.sh', fileNode('#!/bin/sh\n', { mode: 0o755 }));
        conf(fs, baseConf.map((l) => l.replace('/usr/lib/wsl/oobe.sh', '/etc/oobe.sh')).join('\n'));
      },
    ],
    ['default-uid', 'errors', (fs) => conf(fs, baseConf.map((l) => l.replace('1000', '1001')).join('\n'))],
    [
      'default-uid.missing',
      'warnings',
      (fs) => conf(fs, baseConf.filter((l) => !l.startsWith('defaultUid')).join('\n')),
    ],
    [
      'default-name.missing',
      'warnings',
      (fs) => conf(fs, baseConf.filter((l) => !l.startsWith('defaultName')).join('\n')),
    ],
    [
      'icon.missing-key',
      'warnings',
      (fs) => conf(fs, baseConf.filter((l) => !l.startsWith('icon')).join('\n')),
    ],
    ['icon.missing', 'errors', (fs) => fs.remove('usr/lib/wsl/wharf.ico')],
    ['icon.mode', 'errors', (fs) => (fs.get('usr/lib/wsl/wharf.ico')!.mode = 0o755)],
    ['icon.owner', 'errors', (fs) => (fs.get('usr/lib/wsl/wharf.ico')!.uid = 1)],
    [
      'icon.size',
      'errors',
      (fs) => {
        const ico = fs.get('usr/lib/wsl/wharf.ico')!.data;
        fs.set('usr/lib/wsl/wharf.ico', fileNode(Buffer.concat([ico, Buffer.alloc(1024 * 1024)])));
      },
    ],
    ['icon.format', 'errors', (fs) => fs.set('usr/lib/wsl/wharf.ico', fileNode('\x89PNG\r\n\x1a\n....'))],
    [
      'icon.location',
      'warnings',
      (fs) => {
        fs.set('etc/wharf.ico', fileNode(fs.get('usr/lib/wsl/wharf.ico')!.data));
        conf(fs, baseConf.map((l) => l.replace('/usr/lib/wsl/wharf.ico', '/etc/wharf.ico')).join('\n'));
      },
    ],
    ['profile.missing', 'errors', (fs) => fs.remove('usr/lib/wsl/terminal-profile.json')],
    ['profile.mode', 'errors', (fs) => (fs.get('usr/lib/wsl/terminal-profile.json')!.mode = 0o644)],
    ['profile.owner', 'errors', (fs) => (fs.get('usr/lib/wsl/terminal-profile.json')!.uid = 7)],
    [
      'profile.size',
      'errors',
      (fs) =>
        fs.set(
          'usr/lib/wsl/terminal-profile.json',
          fileNode(`{"x":"${'a'.repeat(1024 * 1024)}"}`, { mode: 0o640 }),
        ),
    ],
    [
      'profile.json',
      'errors',
      (fs) => fs.set('usr/lib/wsl/terminal-profile.json', fileNode('{not json', { mode: 0o640 })),
    ],
    [
      'profile.location',
      'warnings',
      (fs) => {
        fs.set('etc/profile.json', fileNode('{}', { mode: 0o640 }));
        conf(
          fs,
          baseConf
            .map((l) => l.replace('/usr/lib/wsl/terminal-profile.json', '/etc/profile.json'))
            .join('\n'),
        );
      },
    ],
    ['wslconf.keys', 'errors', (fs) => fs.set('etc/wsl.conf', fileNode('[automount]\nenabled = false\n'))],
    ['wslconf.mode', 'errors', (fs) => (fs.get('etc/wsl.conf')!.mode = 0o600)],
    ['init.missing', 'errors', (fs) => fs.set('etc/wsl.conf', fileNode('[boot]\nsystemd = true\n'))],
    [
      'init.elf',
      'errors',
      (fs) => {
        fs.set('etc/wsl.conf', fileNode('[boot]\nsystemd = true\n'));
        fs.set('usr/sbin/init', fileNode('#!/bin/sh\n', { mode: 0o755 }));
      },
    ],
    ['passwd.missing', 'errors', (fs) => fs.remove('etc/passwd')],
    ['passwd.mode', 'errors', (fs) => (fs.get('etc/passwd')!.mode = 0o600)],
    ['passwd.owner', 'errors', (fs) => (fs.get('etc/passwd')!.uid = 1)],
    [
      'passwd.syntax',
      'errors',
      (fs) => fs.set('etc/passwd', fileNode('root:x:0:0:root:/root:/bin/sh\nbroken\n')),
    ],
    [
      'passwd.duplicate-uid',
      'errors',
      (fs) => fs.set('etc/passwd', fileNode('root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\n')),
    ],
    ['passwd.root', 'errors', (fs) => fs.set('etc/passwd', fileNode('admin:x:0:0::/root:/bin/sh\n'))],
    [
      'passwd.default-uid-exists',
      'warnings',
      (fs) =>
        fs.set('etc/passwd', fileNode('root:x:0:0:root:/root:/bin/sh\nme:x:1000:1000::/home/me:/bin/sh\n')),
    ],
    ['shadow.missing', 'errors', (fs) => fs.remove('etc/shadow')],
    ['shadow.mode', 'errors', (fs) => (fs.get('etc/shadow')!.mode = 0o644)],
    ['shadow.owner', 'errors', (fs) => (fs.get('etc/shadow')!.uid = 42)],
    [
      'shadow.password-hash',
      'warnings',
      (fs) => fs.set('etc/shadow', fileNode('root:$6$salt$hash:19000:0:99999:7:::\n', { mode: 0o640 })),
    ],
    ['sh.missing', 'errors', (fs) => fs.remove('usr/bin/sh')],
    ['sh.elf', 'errors', (fs) => fs.set('usr/bin/sh', fileNode('#!/bin/busybox\n', { mode: 0o755 }))],
    ['sh.mode', 'errors', (fs) => fs.set('usr/bin/sh', fileNode(elfHeader('amd64'), { mode: 0o700 }))],
    [
      'sh.owner',
      'errors',
      (fs) => fs.set('usr/bin/sh', fileNode(elfHeader('amd64'), { mode: 0o755, uid: 3 })),
    ],
    ['bash.missing', 'errors', (fs) => fs.remove('usr/bin/bash')],
    ['bash.elf', 'errors', (fs) => fs.set('usr/bin/bash', fileNode(elfHeader('arm64'), { mode: 0o755 }))],
    [
      'systemd.unit',
      'warnings',
      (fs) =>
        fs.set(
          'etc/systemd/system/multi-user.target.wants/systemd-resolved.service',
          sym('/usr/lib/systemd/system/systemd-resolved.service'),
        ),
    ],
    ['resolv-conf', 'warnings', (fs) => fs.set('etc/resolv.conf', fileNode('nameserver 1.1.1.1\n'))],
    ['kernel', 'warnings', (fs) => fs.set('boot/vmlinuz-6.6.0', fileNode('kernel'))],
  ];

  for (const [rule, kind, breakIt] of cases) {
    it(`${kind === 'errors' ? 'fails' : 'warns'}: ${rule}`, () => {
      const fs = goodRootfs();
      breakIt(fs);
      expectOnly(validateRootfs(fs, { arch: 'amd64' }), rule, kind);
    });
  }

  it('reports an ELF of the wrong architecture for /bin/sh', () => {
    const r = validateRootfs(goodRootfs('arm64'), { arch: 'amd64' });
    expect(rules(r, 'errors')).toEqual(['bash.elf', 'sh.elf']);
    expect(r.errors[0]!.message).toMatch(/ELF for arm64, not amd64/);
  });

  it('does not warn about a discouraged unit that is masked', () => {
    const fs = goodRootfs();
    fs.set('usr/lib/systemd/system/sysinit.target.wants/tmp.mount', sym('../tmp.mount'));
    expect(rules(validateRootfs(fs), 'warnings')).toEqual(['systemd.unit']);
    fs.set('etc/systemd/system/tmp.mount', sym('/dev/null'));
    expect(validateRootfs(fs).warnings).toEqual([]);
  });
});

describe('validateWslFile', () => {
  it('refuses an uncompressed tar and an unreadable one', async () => {
    const dir = await tempDir();
    const plain = join(dir, 'plain.wsl');
    await writeFile(plain, await tarOf([{ name: 'etc/passwd', data: 'root:x:0:0::/:/bin/sh\n' }]));
    expect(rules(await validateWslFile(plain), 'errors')).toEqual(['format']);
    const junk = join(dir, 'junk.wsl');
    await writeFile(junk, gzipSync(Buffer.alloc(1024, 7)));
    expect(rules(await validateWslFile(junk), 'errors')).toEqual(['tar']);
  });
});
