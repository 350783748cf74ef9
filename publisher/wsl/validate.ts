// The checks Microsoft's validator (microsoft/WSL distributions/validate-modern.py) and its guide
// ("Build a Custom Linux Distribution for WSL", recommendations) apply to a `.wsl` file, done on the
// tar itself: nothing is extracted or run. Paths are looked up the way WSL would see them, following
// symlinks inside the archive (merged /usr: /bin → usr/bin).
//
// Severity: what Microsoft's script reports as an error is an error here; so are wrong modes and owners
// of the WSL files, /etc/passwd, /etc/shadow and /bin/sh, and a default UID other than 1000 (its script
// only warns about those: Wharf refuses to publish them). Discouraged systemd units, a missing icon
// setting, files outside /usr/lib/wsl, /etc/resolv.conf, password hashes and kernels are warnings.
import type { Arch } from '../../catalog/names.ts';
import { Rootfs, openDecompressed, readTar, type Compression, type RootfsNode } from '../rootfs/index.ts';
import { CONF_PATH, DEFAULT_UID, MAX_ICON_BYTES, WSL_CONF_PATH, isIco } from './files.ts';

export interface Finding {
  /** Stable rule id, e.g. "conf.keys", "sh.elf" (docs/wsl.md lists them). */
  rule: string;
  message: string;
  path?: string;
}

export interface ValidationReport {
  errors: Finding[];
  warnings: Finding[];
  compression?: Compression;
  /** The architecture /bin/sh is built for, when it is an ELF of a known one. */
  arch?: Arch;
}

/** Microsoft's allowed keys ("section.key", compared case-insensitively). */
export const DISTRIBUTION_CONF_KEYS = [
  'oobe.command',
  'oobe.defaultuid',
  'oobe.defaultname',
  'shortcut.icon',
  'windowsterminal.profiletemplate',
];
export const WSL_CONF_KEYS = ['boot.systemd'];

/** Units known to break WSL (the guide's list and the validator's, system and user units). */
export const DISCOURAGED_UNITS = [
  'NetworkManager.service',
  'networking.service',
  'systemd-networkd-wait-online.service',
  'systemd-networkd.service',
  'systemd-resolved.service',
  'systemd-tmpfiles-clean.service',
  'systemd-tmpfiles-clean.timer',
  'systemd-tmpfiles-setup-dev-early.service',
  'systemd-tmpfiles-setup-dev.service',
  'systemd-tmpfiles-setup.service',
  'tmp.mount',
];

const ELF_MACHINE: Record<number, Arch> = { 62: 'amd64', 183: 'arm64' };
const WSL_DIRS = ['usr/lib/wsl/', 'usr/libexec/wsl/', 'usr/share/wsl/'];

/** The architecture of a 64-bit little-endian ELF executable or shared object, else null. */
export function elfArch(head: Buffer): Arch | null {
  if (head.length < 24) return null;
  if (head.readUInt32BE(0) !== 0x7f454c46) return null;
  if (head[4] !== 2 || head[5] !== 1 || head[6] !== 1) return null; // ELFCLASS64, LSB, EV_CURRENT
  const type = head.readUInt16LE(16);
  if (type !== 2 && type !== 3) return null; // ET_EXEC, ET_DYN
  return ELF_MACHINE[head.readUInt16LE(18)] ?? null;
}

/** INI as Python's configparser reads it: sections, "key = value" or "key: value", # and ; comments. */
export function parseIni(text: string): { keys: Map<string, string>; problems: string[] } {
  const keys = new Map<string, string>();
  const problems: string[] = [];
  const sections = new Set<string>();
  let section: string | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!.trim();
      if (sections.has(section.toLowerCase())) problems.push(`line ${i + 1}: section [${section}] repeated`);
      sections.add(section.toLowerCase());
      return;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (!kv) return void problems.push(`line ${i + 1}: not "key = value": ${JSON.stringify(line)}`);
    if (section === null) return void problems.push(`line ${i + 1}: key before any [section]`);
    const key = `${String(section).toLowerCase()}.${kv[1]!.toLowerCase()}`;
    if (keys.has(key)) problems.push(`line ${i + 1}: ${key} set twice`);
    keys.set(key, kv[2]!);
  });
  return { keys, problems };
}

const oct = (m: number) => `0${(m & 0o7777).toString(8).padStart(3, '0')}`;

/** Keep whole files where content is checked, and only ELF headers elsewhere. */
export function validatorKeepBytes(path: string, size: number): number {
  if (path.startsWith('etc/') || WSL_DIRS.some((d) => path.startsWith(d)))
    return Math.min(size, MAX_ICON_BYTES + 1);
  return 64;
}

class Checker {
  readonly errors: Finding[] = [];
  readonly warnings: Finding[] = [];
  readonly fs: Rootfs;
  constructor(fs: Rootfs) {
    this.fs = fs;
  }
  error(rule: string, message: string, path?: string): void {
    this.errors.push({ rule, message, ...(path ? { path } : {}) });
  }
  warn(rule: string, message: string, path?: string): void {
    this.warnings.push({ rule, message, ...(path ? { path } : {}) });
  }

  /** Find a file, following symlinks in its directories (and in itself when `follow`). */
  lookup(path: string, follow: boolean): { path: string; node: RootfsNode } | null {
    const r = this.fs.resolve(path, follow);
    if (!r?.node) return null;
    return { path: r.path, node: r.node };
  }

  /**
   * The checks validate-modern.py applies to one file: present (else `missing` unless optional), a
   * regular file with one of the expected modes, root-owned, at most `maxSize`.
   */
  file(
    rule: string,
    path: string,
    o: { modes: number[]; gid?: number | null; maxSize?: number; optional?: boolean; follow?: boolean },
  ): RootfsNode | null {
    const shown = `/${path}`;
    const f = this.lookup(path, o.follow ?? false);
    if (!f) {
      if (!o.optional) this.error(`${rule}.missing`, `${shown} is not in the archive`, shown);
      return null;
    }
    if (f.node.type !== 'file') {
      this.error(`${rule}.mode`, `${shown} is a ${f.node.type}, not a regular file`, shown);
      return null;
    }
    if (!o.modes.includes(f.node.mode & 0o7777))
      this.error(
        `${rule}.mode`,
        `${shown} has mode ${oct(f.node.mode)} (expected ${o.modes.map(oct).join(' or ')})`,
        shown,
      );
    const gid = o.gid === undefined ? 0 : o.gid;
    if (f.node.uid !== 0 || (gid !== null && f.node.gid !== gid))
      this.error(
        `${rule}.owner`,
        `${shown} is owned by ${f.node.uid}:${f.node.gid} (expected root${gid !== null ? ':root' : ''})`,
        shown,
      );
    if (o.maxSize !== undefined && f.node.size > o.maxSize)
      this.error(`${rule}.size`, `${shown} has ${f.node.size} bytes (at most ${o.maxSize})`, shown);
    return f.node;
  }

  elf(rule: string, path: string, arch: Arch | undefined): Arch | undefined {
    const n = this.file(rule, path, { modes: [0o755, 0o775], follow: true });
    if (!n) return undefined;
    const got = elfArch(n.data);
    if (!got) {
      this.error(`${rule}.elf`, `/${path} is not a 64-bit ELF executable for amd64 or arm64`, `/${path}`);
      return undefined;
    }
    if (arch && got !== arch)
      this.error(`${rule}.elf`, `/${path} is an ELF for ${got}, not ${arch}`, `/${path}`);
    return got;
  }

  config(rule: string, path: string, allowed: string[]): Map<string, string> | null {
    const n = this.file(rule, path, {
      modes: [0o644, 0o664],
      follow: true,
      optional: path === WSL_CONF_PATH,
    });
    if (!n) return null;
    const { keys, problems } = parseIni(n.data.toString('utf8'));
    for (const p of problems) this.error(`${rule}.syntax`, `/${path}: ${p}`, `/${path}`);
    const unknown = [...keys.keys()].filter((k) => !allowed.includes(k));
    if (unknown.length)
      this.error(
        `${rule}.keys`,
        `/${path} has keys WSL does not know: ${unknown.join(', ')} (allowed: ${allowed.join(', ')})`,
        `/${path}`,
      );
    return keys;
  }
}

const under = (p: string, dirs: string[]) => dirs.some((d) => p.startsWith(`/${d}`));

function passwdChecks(c: Checker, defaultUid: number | undefined): void {
  const n = c.file('passwd', 'etc/passwd', { modes: [0o644, 0o664] });
  if (!n) return;
  const uids = new Map<number, string>();
  for (const line of n.data.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const f = line.split(':');
    const uid = Number(f[2]);
    if (f.length !== 7 || f[2] === '' || !Number.isInteger(uid) || uid < 0) {
      c.error('passwd.syntax', `/etc/passwd: invalid entry ${JSON.stringify(line)}`, '/etc/passwd');
      continue;
    }
    if (uids.has(uid))
      c.error('passwd.duplicate-uid', `/etc/passwd: uid ${uid} appears twice`, '/etc/passwd');
    else uids.set(uid, f[0]!);
  }
  if (!uids.has(0)) c.error('passwd.root', '/etc/passwd has no root user (uid 0)', '/etc/passwd');
  else if (uids.get(0) !== 'root')
    c.error('passwd.root', `/etc/passwd: uid 0 is ${uids.get(0)}, not root`, '/etc/passwd');
  if (defaultUid !== undefined && uids.has(defaultUid))
    c.warn(
      'passwd.default-uid-exists',
      `/etc/passwd already has uid ${defaultUid} (${uids.get(defaultUid)}): the OOBE script will not create a user`,
      '/etc/passwd',
    );
}

function shadowChecks(c: Checker): void {
  // Microsoft: modes 0640, 0600 or 0000, owned by root (any group, e.g. shadow).
  const n = c.file('shadow', 'etc/shadow', { modes: [0o640, 0o600, 0o000], gid: null });
  if (!n) return;
  for (const line of n.data.toString('utf8').split('\n')) {
    const f = line.split(':');
    const hash = f[1] ?? '';
    if (f.length >= 2 && hash !== '' && !/^[!*]/.test(hash))
      c.warn('shadow.password-hash', `/etc/shadow: ${f[0]} has a password hash (ship none)`, '/etc/shadow');
  }
}

function enabledUnits(c: Checker): Array<{ unit: string; path: string }> {
  const out: Array<{ unit: string; path: string }> = [];
  const scopes: Array<{ dirs: string[]; mask: string }> = [
    {
      dirs: [
        'etc/systemd/system',
        'usr/lib/systemd/system',
        'usr/local/lib/systemd/system',
        'lib/systemd/system',
      ],
      mask: 'etc/systemd/system',
    },
    {
      dirs: ['etc/systemd/user', 'usr/lib/systemd/user', 'usr/local/lib/systemd/user'],
      mask: 'etc/systemd/user',
    },
  ];
  const seen = new Set<string>();
  for (const scope of scopes) {
    for (const d of scope.dirs) {
      const dir = c.fs.resolve(d, true);
      if (!dir?.node || dir.node.type !== 'dir' || seen.has(dir.path)) continue;
      seen.add(dir.path);
      for (const wants of c.fs.list(dir.path)) {
        if (!/\.(wants|requires)$/.test(wants)) continue;
        for (const entry of c.fs.list(wants)) {
          const unit = entry.slice(entry.lastIndexOf('/') + 1);
          const mask = c.fs.get(`${scope.mask}/${unit}`);
          const masked = mask?.type === 'symlink' && mask.linkname.replace(/^\.?\//, '') === 'dev/null';
          const link = c.fs.get(entry);
          const toNull = link?.type === 'symlink' && /^\/?dev\/null$/.test(link.linkname);
          if (!masked && !toNull) out.push({ unit, path: `/${entry}` });
        }
      }
    }
  }
  return out;
}

/** Validate a rootfs (as read from a .wsl) for `arch` (either amd64 or arm64 when not given). */
export function validateRootfs(fs: Rootfs, opts: { arch?: Arch } = {}): ValidationReport {
  const c = new Checker(fs);
  let defaultUid: number | undefined;
  const conf = c.config('conf', CONF_PATH, DISTRIBUTION_CONF_KEYS);
  if (conf) {
    const cmd = conf.get('oobe.command');
    if (cmd) {
      const p = cmd.trim().split(/\s+/)[0]!;
      c.file('oobe', p.replace(/^\/+/, ''), { modes: [0o755, 0o775] });
      if (!under(p, ['usr/lib/wsl/', 'usr/libexec/wsl/']))
        c.warn('oobe.location', `oobe.command ${p} is not under /usr/lib/wsl or /usr/libexec/wsl`, p);
    }
    const uid = conf.get('oobe.defaultuid');
    if (uid === undefined) {
      if (cmd) c.warn('default-uid.missing', 'oobe.command is set but oobe.defaultUid is not');
    } else if (!/^[0-9]+$/.test(uid.trim())) {
      c.error('default-uid', `oobe.defaultUid ${JSON.stringify(uid)} is not a number`);
    } else {
      defaultUid = Number(uid.trim());
      if (defaultUid !== DEFAULT_UID)
        c.error('default-uid', `oobe.defaultUid is ${defaultUid}; WSL distributions use ${DEFAULT_UID}`);
    }
    if (!conf.get('oobe.defaultname'))
      c.warn('default-name.missing', 'no oobe.defaultName: double-click installs need it');
    const icon = conf.get('shortcut.icon');
    if (!icon) c.warn('icon.missing-key', 'no shortcut.icon: WSL will use its default icon');
    else {
      const n = c.file('icon', icon.replace(/^\/+/, ''), { modes: [0o644, 0o664], maxSize: MAX_ICON_BYTES });
      if (n && n.size <= MAX_ICON_BYTES && !isIco(n.data))
        c.error('icon.format', `${icon} is not an .ico file`, icon);
      if (!under(icon, ['usr/lib/wsl/', 'usr/share/wsl/']))
        c.warn('icon.location', `shortcut.icon ${icon} is not under /usr/lib/wsl or /usr/share/wsl`, icon);
    }
    const profile = conf.get('windowsterminal.profiletemplate');
    if (profile) {
      const n = c.file('profile', profile.replace(/^\/+/, ''), {
        modes: [0o660, 0o640],
        maxSize: MAX_ICON_BYTES,
      });
      if (n && n.size <= MAX_ICON_BYTES) {
        try {
          JSON.parse(n.data.toString('utf8'));
        } catch {
          c.error('profile.json', `${profile} is not JSON`, profile);
        }
      }
      if (!under(profile, ['usr/lib/wsl/']))
        c.warn(
          'profile.location',
          `windowsterminal.profileTemplate ${profile} is not under /usr/lib/wsl`,
          profile,
        );
    }
  }
  const wslConf = c.config('wslconf', WSL_CONF_PATH, WSL_CONF_KEYS);
  if (wslConf && /^(true|yes|on|1)$/i.test(wslConf.get('boot.systemd')?.trim() ?? ''))
    c.elf('init', 'sbin/init', opts.arch);

  passwdChecks(c, defaultUid);
  shadowChecks(c);
  const shArch = c.elf('sh', 'bin/sh', opts.arch);
  c.elf('bash', 'bin/bash', opts.arch ?? shArch);

  for (const u of enabledUnits(c))
    if (DISCOURAGED_UNITS.includes(u.unit))
      c.warn(
        'systemd.unit',
        `${u.unit} is enabled (${u.path}); it is known to break WSL: disable or mask it`,
        u.path,
      );
  if (fs.get('etc/resolv.conf'))
    c.warn('resolv-conf', '/etc/resolv.conf is in the archive; WSL writes its own', '/etc/resolv.conf');
  const boot = fs.resolve('boot', true);
  if (boot?.node?.type === 'dir')
    for (const p of fs.list(boot.path))
      if (/\/(vmlinu[xz]|initramfs|initrd)[^/]*$/.test(p))
        c.warn('kernel', `/${p}: the archive should not contain a kernel or an initramfs`, `/${p}`);
  return {
    errors: c.errors,
    warnings: c.warnings,
    ...((opts.arch ?? shArch) ? { arch: opts.arch ?? shArch } : {}),
  };
}

/** Validate a .wsl file. */
export async function validateWslFile(file: string, opts: { arch?: Arch } = {}): Promise<ValidationReport> {
  const { stream, compression } = await openDecompressed(file);
  if (compression !== 'gzip' && compression !== 'xz') {
    stream.destroy();
    return {
      errors: [
        {
          rule: 'format',
          message: `${file} is ${compression === 'none' ? 'not compressed' : `${compression}-compressed`}; WSL reads gzip or xz tars`,
        },
      ],
      warnings: [],
      compression,
    };
  }
  const fs = new Rootfs();
  try {
    await fs.apply(readTar(stream, { label: file }), {
      whiteouts: false,
      keepBytes: validatorKeepBytes,
      label: file,
    });
  } catch (e) {
    stream.destroy();
    return { errors: [{ rule: 'tar', message: (e as Error).message }], warnings: [], compression };
  }
  return { ...validateRootfs(fs, opts), compression };
}
