// What Wharf changes in every cloud image, on either route (a rootfs before mkfs, or a base disk's
// ext4 through debugfs), through one small editor interface:
// - cloud-init: the datasources to try (datasource_list), root and password logins off, host keys
//   deleted and regenerated at first boot;
// - SSH: PermitRootLogin prohibit-password, PasswordAuthentication no (sshd_config.d drop-in, and the
//   main sshd_config's own lines rewritten, since a first match wins in sshd), no host keys in the image;
// - no machine-id (an empty /etc/machine-id: systemd makes one at first boot), root's password locked;
// - serial console: a getty on the serial port and console=<serial> on the kernel command lines the
//   image carries (BLS entries, /etc/default/grub, grub.cfg).
import { posix } from 'node:path';
import type { Arch } from '../../catalog/names.ts';
import { fileNode, dirNode, type Rootfs } from '../rootfs/index.ts';

export interface FsEditor {
  read(path: string): Promise<Buffer | null>;
  list(dir: string): Promise<string[]>;
  write(path: string, data: Buffer | string, o?: { mode?: number }): void;
  remove(path: string): void;
  symlink(path: string, target: string): void;
  mkdirp(path: string, mode?: number): void;
}

/** An FsEditor over an in-memory Rootfs (the container-image route). */
export function rootfsEditor(fs: Rootfs, epoch: number): FsEditor {
  const norm = (p: string) => posix.normalize(p).replace(/^\/+/, '');
  return {
    async read(p) {
      const n = fs.get(norm(p));
      return n?.type === 'file' ? n.data : null;
    },
    async list(d) {
      return fs
        .list(norm(d))
        .map((c) => posix.basename(c))
        .sort();
    },
    write(p, data, o = {}) {
      fs.set(norm(p), fileNode(data, { mode: o.mode ?? 0o644, mtime: epoch }));
    },
    remove(p) {
      fs.remove(norm(p));
    },
    symlink(p, target) {
      fs.set(norm(p), {
        ...fileNode(''),
        type: 'symlink',
        linkname: target,
        mode: 0o777,
        mtime: epoch,
        size: 0,
      });
    },
    mkdirp(p, mode = 0o755) {
      const parts = norm(p).split('/').filter(Boolean);
      for (let i = 1; i <= parts.length; i++) {
        const q = parts.slice(0, i).join('/');
        if (fs.get(q)?.type !== 'dir') fs.set(q, dirNode({ mode, mtime: epoch }));
      }
    },
  };
}

export const DEFAULT_DATASOURCES = ['NoCloud', 'ConfigDrive', 'OpenStack', 'Ec2', 'None'] as const;
export const CLOUD_INIT_DATASOURCE_CFG = 'etc/cloud/cloud.cfg.d/90-wharf-datasources.cfg';
export const CLOUD_INIT_SSH_CFG = 'etc/cloud/cloud.cfg.d/91-wharf-ssh.cfg';
export const SSHD_DROPIN = 'etc/ssh/sshd_config.d/50-wharf-hardening.conf';

export interface CustomizeOptions {
  arch: Arch;
  /** cloud-init datasources in the order they are tried. */
  datasources?: readonly string[];
  /** Whether to write the cloud-init configuration (default true). */
  cloudInit?: boolean;
}

export interface CustomizeReport {
  written: string[];
  removed: string[];
  /** Kernel command-line files given console=<serial>. */
  consoleOn: string[];
}

export const serialConsole = (arch: Arch) => (arch === 'arm64' ? 'ttyAMA0' : 'ttyS0');

const DATASOURCE_RE = /^[A-Za-z][A-Za-z0-9]{0,31}$/;

export function datasourceConfig(list: readonly string[]): string {
  for (const d of list)
    if (!DATASOURCE_RE.test(d))
      throw new Error(`cloud-init datasource ${JSON.stringify(d)} is not a datasource name`);
  return `# Written by Wharf: the datasources cloud-init tries, in order.\ndatasource_list: [${list.join(', ')}]\n`;
}

export const CLOUD_INIT_SSH = [
  '# Written by Wharf: no root or password logins; host keys made at first boot, never baked in.',
  'disable_root: true',
  'ssh_pwauth: false',
  'ssh_deletekeys: true',
  'ssh_genkeytypes: [rsa, ecdsa, ed25519]',
  '',
].join('\n');

export const SSHD_HARDENING = [
  '# Written by Wharf',
  'PermitRootLogin prohibit-password',
  'PasswordAuthentication no',
  'KbdInteractiveAuthentication no',
  'PermitEmptyPasswords no',
  '',
].join('\n');

/** sshd_config with its own PermitRootLogin/PasswordAuthentication lines set to the hardened values. */
export function hardenSshdConfig(text: string): string {
  const want: Record<string, string> = {
    permitrootlogin: 'PermitRootLogin prohibit-password',
    passwordauthentication: 'PasswordAuthentication no',
    permitemptypasswords: 'PermitEmptyPasswords no',
  };
  const seen = new Set<string>();
  const lines = text.split('\n').map((l) => {
    const m = /^\s*#?\s*([A-Za-z]+)\s/.exec(l);
    const k = m?.[1]?.toLowerCase();
    if (k && want[k] && !/^\s*Match\b/i.test(l)) {
      if (seen.has(k)) return l.trimStart().startsWith('#') ? l : `# ${l}`;
      seen.add(k);
      return want[k];
    }
    return l;
  });
  // sshd takes the first value it reads: missing keys go first, before any Match block.
  const missing = Object.entries(want)
    .filter(([k]) => !seen.has(k))
    .map(([, v]) => v);
  return [...missing, ...lines].join('\n');
}

/** /etc/shadow with root's password locked ("!" prefix; an empty one becomes "!"). */
export function lockRoot(shadow: string): string {
  return shadow
    .split('\n')
    .map((l) => {
      const f = l.split(':');
      if (f[0] !== 'root' || f.length < 2) return l;
      const pw = f[1]!;
      f[1] = pw.startsWith('!') || pw === '*' ? pw : `!${pw}`;
      return f.join(':');
    })
    .join('\n');
}

/** Add console=tty0 console=<serial>,115200 to a kernel command line that has no serial console. */
export function withSerialConsole(cmdline: string, serial: string): string {
  if (new RegExp(`(^|\\s)console=${serial}\\b`).test(cmdline)) return cmdline;
  const base = cmdline.trim();
  return `${base}${base ? ' ' : ''}console=tty0 console=${serial},115200n8`;
}

export async function customize(ed: FsEditor, o: CustomizeOptions): Promise<CustomizeReport> {
  const rep: CustomizeReport = { written: [], removed: [], consoleOn: [] };
  const write = (p: string, data: string, mode = 0o644) => {
    ed.write(p, data, { mode });
    rep.written.push(p);
  };
  const serial = serialConsole(o.arch);
  if (o.cloudInit !== false) {
    ed.mkdirp('etc/cloud/cloud.cfg.d');
    write(CLOUD_INIT_DATASOURCE_CFG, datasourceConfig(o.datasources ?? DEFAULT_DATASOURCES));
    write(CLOUD_INIT_SSH_CFG, CLOUD_INIT_SSH);
  }
  // SSH: the drop-in, the main file's own lines, and no host keys.
  ed.mkdirp('etc/ssh/sshd_config.d');
  write(SSHD_DROPIN, SSHD_HARDENING, 0o600);
  const sshd = await ed.read('etc/ssh/sshd_config');
  if (sshd) write('etc/ssh/sshd_config', hardenSshdConfig(sshd.toString('utf8')), 0o600);
  for (const n of await ed.list('etc/ssh'))
    if (/^ssh_host_.*key(\.pub)?$/.test(n)) {
      ed.remove(`etc/ssh/${n}`);
      rep.removed.push(`etc/ssh/${n}`);
    }
  // machine-id: empty (systemd's "first boot" state), the D-Bus copy gone.
  write('etc/machine-id', '', 0o444);
  if ((await ed.list('var/lib/dbus')).includes('machine-id')) {
    ed.remove('var/lib/dbus/machine-id');
    rep.removed.push('var/lib/dbus/machine-id');
  }
  const shadow = await ed.read('etc/shadow');
  if (shadow) {
    const locked = lockRoot(shadow.toString('utf8'));
    if (locked !== shadow.toString('utf8')) write('etc/shadow', locked, 0o000);
  }
  // Serial console: a getty on it (systemd images) and console= on every kernel command line found.
  if ((await ed.read('usr/lib/systemd/system/serial-getty@.service')) !== null) {
    ed.mkdirp('etc/systemd/system/getty.target.wants');
    ed.symlink(
      `etc/systemd/system/getty.target.wants/serial-getty@${serial}.service`,
      '/usr/lib/systemd/system/serial-getty@.service',
    );
    rep.written.push(`etc/systemd/system/getty.target.wants/serial-getty@${serial}.service`);
  }
  for (const n of await ed.list('boot/loader/entries')) {
    if (!n.endsWith('.conf')) continue;
    const p = `boot/loader/entries/${n}`;
    const t = (await ed.read(p))?.toString('utf8');
    if (t === undefined) continue;
    const out = t.replace(
      /^(options[ \t]+)(.*)$/m,
      (_m, k: string, v: string) => k + withSerialConsole(v, serial),
    );
    if (out !== t) {
      write(p, out);
      rep.consoleOn.push(p);
    }
  }
  const grubDefault = (await ed.read('etc/default/grub'))?.toString('utf8');
  if (grubDefault !== undefined) {
    const out = grubDefault.replace(
      /^GRUB_CMDLINE_LINUX="([^"]*)"/m,
      (_m, v: string) => `GRUB_CMDLINE_LINUX="${withSerialConsole(v, serial)}"`,
    );
    if (out !== grubDefault) {
      write('etc/default/grub', out);
      rep.consoleOn.push('etc/default/grub');
    }
  }
  for (const p of ['boot/grub2/grub.cfg', 'boot/grub/grub.cfg']) {
    const t = (await ed.read(p))?.toString('utf8');
    if (t === undefined) continue;
    const out = t.replace(/^(\s*linux(?:efi|16)?\s+\S+)(.*)$/gm, (_m, k: string, v: string) =>
      `${k} ${withSerialConsole(v, serial)}`.replace(/\s+$/, ''),
    );
    if (out !== t) {
      write(p, out, 0o600);
      rep.consoleOn.push(p);
    }
  }
  return rep;
}
