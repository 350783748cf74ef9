// The files a rootfs needs to be a WSL distribution (Microsoft's "Build a Custom Linux Distribution
// for WSL"): /etc/wsl-distribution.conf, the first-run (OOBE) script that creates the default user,
// the start-menu icon and the Windows Terminal profile template, all under /usr/lib/wsl, with the
// owners and modes Microsoft's validator expects.
import { z } from 'zod';

export const WSL_DIR = 'usr/lib/wsl';
export const CONF_PATH = 'etc/wsl-distribution.conf';
export const WSL_CONF_PATH = 'etc/wsl.conf';
export const OOBE_PATH = `${WSL_DIR}/oobe.sh`;
export const PROFILE_PATH = `${WSL_DIR}/terminal-profile.json`;
export const MAX_ICON_BYTES = 1024 * 1024;
export const DEFAULT_UID = 1000;

/** Flavor and distribution names: what `wsl --install <name>` accepts and DistributionInfo.json lists. */
export const zWslName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-" (at most 64)');

export interface WslFilesInput {
  /** oobe.defaultName: the name the distribution is registered under. */
  name: string;
  /** The icon's file name stem (usually the flavor). */
  flavor: string;
  defaultUid: number;
  /** Groups the first user joins when they exist in the image (default: wheel). */
  groups?: string[];
  /** .ico bytes; a generated one when omitted. */
  icon?: Buffer;
  /** Terminal profile template (JSON text); a default when omitted. */
  terminalProfile?: string;
}

export function iconPath(flavor: string): string {
  return `${WSL_DIR}/${zWslName.parse(flavor)}.ico`;
}

export function distributionConf(i: WslFilesInput): string {
  return [
    '# Written by Wharf. See https://learn.microsoft.com/windows/wsl/build-custom-distro',
    '[oobe]',
    `command = /${OOBE_PATH}`,
    `defaultUid = ${i.defaultUid}`,
    `defaultName = ${zWslName.parse(i.name)}`,
    '',
    '[shortcut]',
    `icon = /${iconPath(i.flavor)}`,
    '',
    '[windowsterminal]',
    `profileTemplate = /${PROFILE_PATH}`,
    '',
  ].join('\n');
}

/**
 * The first-run script: creates the default user with the configured UID (useradd from shadow-utils,
 * else busybox adduser), adds it to the groups that exist, and sets its password. POSIX sh, so it
 * runs on minimal images too. Exits 0 when the UID already exists (WSL reruns it on every first shell
 * until it succeeds).
 */
export function oobeScript(i: WslFilesInput): string {
  const uid = String(i.defaultUid);
  const groups = (i.groups ?? ['wheel']).map((g) => {
    if (!/^[a-z_][a-z0-9_-]*$/.test(g)) throw new Error(`invalid group name ${JSON.stringify(g)}`);
    return g;
  });
  return `#!/bin/sh
# First-run (OOBE) script for WSL, written by Wharf: creates the default user (uid ${uid}).
set -u
DEFAULT_UID=${uid}
DEFAULT_GROUPS="${groups.join(' ')}"

if awk -F: -v u="$DEFAULT_UID" '$3 == u { found = 1 } END { exit !found }' /etc/passwd; then
  echo "A user with uid $DEFAULT_UID already exists."
  exit 0
fi

echo 'Create the default UNIX user account. The name does not need to match your Windows user name.'
echo 'See https://aka.ms/wslusers'
shell=/bin/sh
[ -x /bin/bash ] && shell=/bin/bash
while :; do
  printf 'New UNIX user name: '
  read -r name || exit 1
  case "$name" in
    ''|*[!a-z0-9_-]*|[!a-z_]*) echo 'Use lower-case letters, digits, "_" and "-", starting with a letter.'; continue ;;
  esac
  if command -v useradd >/dev/null 2>&1; then
    useradd --create-home --uid "$DEFAULT_UID" --shell "$shell" "$name" || continue
  else
    adduser -D -u "$DEFAULT_UID" -s "$shell" "$name" || continue
  fi
  for g in $DEFAULT_GROUPS; do
    if awk -F: -v g="$g" '$1 == g { found = 1 } END { exit !found }' /etc/group; then
      if command -v usermod >/dev/null 2>&1; then usermod -aG "$g" "$name"; else addgroup "$name" "$g"; fi
    fi
  done
  if command -v passwd >/dev/null 2>&1; then
    until passwd "$name"; do echo 'Try again.'; done
  fi
  break
done
`;
}

export function defaultTerminalProfile(): string {
  return (
    JSON.stringify(
      {
        profiles: [{ colorScheme: 'Wharf', cursorShape: 'bar', fontFace: 'Cascadia Mono' }],
        schemes: [
          {
            name: 'Wharf',
            background: '#0B1F33',
            foreground: '#E6EDF3',
            cursorColor: '#FFFFFF',
            selectionBackground: '#264F78',
            black: '#0C0C0C',
            red: '#C50F1F',
            green: '#13A10E',
            yellow: '#C19C00',
            blue: '#2F81F7',
            purple: '#881798',
            cyan: '#3A96DD',
            white: '#CCCCCC',
            brightBlack: '#767676',
            brightRed: '#E74856',
            brightGreen: '#16C60C',
            brightYellow: '#F9F1A5',
            brightBlue: '#3B78FF',
            brightPurple: '#B4009E',
            brightCyan: '#61D6D6',
            brightWhite: '#F2F2F2',
          },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

/**
 * A 32×32 32-bit icon (ICO with one BMP image): a blue disc on transparent ground. Generated rather
 * than shipped so the builder has no binary assets; the same bytes every time.
 */
export function defaultIcon(): Buffer {
  const W = 32;
  const pixels = Buffer.alloc(W * W * 4);
  for (let y = 0; y < W; y++) {
    for (let x = 0; x < W; x++) {
      const dx = x - 15.5;
      const dy = y - 15.5;
      const inside = dx * dx + dy * dy <= 15 * 15;
      const o = (y * W + x) * 4; // BMP rows are stored bottom-up; the disc is symmetric
      if (inside) pixels.set([0xf7, 0x81, 0x2f, 0xff], o); // BGRA
    }
  }
  const andMask = Buffer.alloc((W / 8) * W); // all zero: opacity comes from the alpha channel
  const info = Buffer.alloc(40);
  info.writeUInt32LE(40, 0); // biSize
  info.writeInt32LE(W, 4); // width
  info.writeInt32LE(W * 2, 8); // height: XOR + AND masks
  info.writeUInt16LE(1, 12); // planes
  info.writeUInt16LE(32, 14); // bit count
  info.writeUInt32LE(pixels.length + andMask.length, 20); // image size
  const image = Buffer.concat([info, pixels, andMask]);
  const dir = Buffer.alloc(6 + 16);
  dir.writeUInt16LE(0, 0);
  dir.writeUInt16LE(1, 2); // type: icon
  dir.writeUInt16LE(1, 4); // one image
  dir.writeUInt8(W, 6);
  dir.writeUInt8(W, 7);
  dir.writeUInt8(0, 8); // no palette
  dir.writeUInt16LE(1, 10); // planes
  dir.writeUInt16LE(32, 12); // bit count
  dir.writeUInt32LE(image.length, 14);
  dir.writeUInt32LE(22, 18); // offset
  return Buffer.concat([dir, image]);
}

/** ICO files start with reserved 0, type 1, and at least one image. */
export function isIco(b: Buffer): boolean {
  return b.length >= 22 && b.readUInt16LE(0) === 0 && b.readUInt16LE(2) === 1 && b.readUInt16LE(4) >= 1;
}
