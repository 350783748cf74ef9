// Which architectures this host can build and run images for: its own (native) and those with an
// enabled binfmt_misc handler for qemu-user-static (emulated). `wharf doctor` reports them, and the
// `--arch` option of build/pipeline is parsed here (an unknown arch name is a usage error).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ARCHES, UNAME_MACHINE, type Arch } from '../catalog/names.ts';
import { hostArch, SelectionError } from './select.ts';

/** The arches `doctor` reports as missing when this host has neither a native nor an emulated way to run them. */
export const KNOWN_ARCHES: readonly Arch[] = ['amd64', 'arm64'];

/** binfmt_misc handler names of qemu-user-static (Debian's binfmt-support registers them as qemu-<name>). */
export const QEMU_NAME: Record<Arch, string> = UNAME_MACHINE;

export const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

export interface HostArches {
  native: Arch[];
  emulated: Arch[];
  missing: Arch[];
  /** Whether binfmt_misc is mounted (its `status` file exists). */
  binfmtMounted: boolean;
  /** How to add each missing arch (and to mount binfmt_misc when it is not). */
  hints: string[];
}

/** The commands that make `arch` runnable here through qemu-user-static. */
export function emulationHint(arch: Arch, mounted: boolean): string {
  const steps = [
    'sudo apt-get install -y qemu-user-static binfmt-support',
    ...(mounted ? [] : [`sudo mount -t binfmt_misc binfmt_misc ${BINFMT_DIR}`]),
    `sudo update-binfmts --enable qemu-${QEMU_NAME[arch]}`,
  ];
  return `${arch}: ${steps.join(' && ')}   (or build ${arch} on a native ${arch} worker)`;
}

/** Is the qemu handler for `arch` registered and enabled in `dir`? */
async function handlerEnabled(dir: string, arch: Arch): Promise<boolean> {
  const text = await readFile(join(dir, `qemu-${QEMU_NAME[arch]}`), 'utf8').catch(() => '');
  return text.split('\n')[0]?.trim() === 'enabled';
}

/**
 * The arches this host builds natively or under emulation. `binfmtDir` defaults to the kernel's
 * binfmt_misc mount; a handler counts only when its file says `enabled` (and binfmt_misc itself is
 * enabled: its `status` file says `enabled`).
 */
export async function hostArches(o: { binfmtDir?: string; native?: Arch } = {}): Promise<HostArches> {
  const dir = o.binfmtDir ?? BINFMT_DIR;
  const native = o.native ?? hostArch();
  const status = await readFile(join(dir, 'status'), 'utf8').catch(() => null);
  const binfmtMounted = status !== null;
  const globallyOn = status?.trim() === 'enabled';
  const emulated: Arch[] = [];
  if (globallyOn)
    for (const a of ARCHES) if (a !== native && (await handlerEnabled(dir, a))) emulated.push(a);
  const missing = KNOWN_ARCHES.filter((a) => a !== native && !emulated.includes(a));
  return {
    native: [native],
    emulated,
    missing,
    binfmtMounted,
    hints: missing.map((a) => emulationHint(a, binfmtMounted)),
  };
}

/** The arches this host can build: native first, then emulated. */
export const buildableArches = (h: Pick<HostArches, 'native' | 'emulated'>): Arch[] => [
  ...h.native,
  ...h.emulated,
];

/** Parse an `--arch amd64,arm64` value; an unknown name throws SelectionError (a usage error). */
export function parseArches(value: string | undefined): Arch[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (!names.length) throw new SelectionError('--arch needs at least one architecture');
  for (const a of names)
    if (!(ARCHES as readonly string[]).includes(a))
      throw new SelectionError(`unknown architecture "${a}" (expected ${ARCHES.join(', ')})`);
  return [...new Set(names)] as Arch[];
}
