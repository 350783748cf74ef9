// Build a `.wsl` file: the rootfs of a built image (or a rootfs tarball) plus the WSL files, written as a
// reproducible compressed tar. The same code serves `wharf wsl build` and the pipeline's wsl kind.
//
// Reproducible: entries sorted by path, owners numeric as the image has them, no atime/ctime, mtimes
// clamped to SOURCE_DATE_EPOCH (the option, else $SOURCE_DATE_EPOCH, else the image config's `created`),
// the added files dated at that epoch, deterministic compression (see compress.ts).
import { readFile } from 'node:fs/promises';
import type { Arch } from '../../catalog/names.ts';
import { readRootfs, rootfsTar, fileNode, type Rootfs, type RootfsSource } from '../rootfs/index.ts';
import { compressToFile, type WslCompression, type WrittenFile } from './compress.ts';
import {
  CONF_PATH,
  DEFAULT_UID,
  MAX_ICON_BYTES,
  OOBE_PATH,
  PROFILE_PATH,
  WSL_CONF_PATH,
  defaultIcon,
  defaultTerminalProfile,
  distributionConf,
  iconPath,
  isIco,
  oobeScript,
  zWslName,
  type WslFilesInput,
} from './files.ts';

export class WslBuildError extends Error {
  override name = 'WslBuildError';
}

export interface WslBuildOptions {
  /** OCI layout directory or rootfs tarball. */
  from: string;
  arch: Arch;
  /** Distribution name (oobe.defaultName); also the flavor unless `flavor` is given. */
  name: string;
  flavor?: string;
  out: string;
  compression?: WslCompression;
  defaultUid?: number;
  groups?: string[];
  /** Path of an .ico file (≤ 1 MiB); a generated icon otherwise. */
  icon?: string;
  /** Path of a Windows Terminal profile template (JSON). */
  terminalProfile?: string;
  /** Seconds; overrides $SOURCE_DATE_EPOCH. */
  sourceDateEpoch?: number;
  /** Manifest digest to pick in the layout (default: the one for `arch`). */
  digest?: string;
  env?: NodeJS.ProcessEnv;
}

export interface WslBuildResult extends WrittenFile {
  arch: Arch;
  compression: WslCompression;
  name: string;
  flavor: string;
  defaultUid: number;
  entries: number;
  sourceDateEpoch?: number;
  /** The image the rootfs came from (OCI layout sources). */
  image?: { manifestDigest: string; layers: number };
}

export function sourceDateEpochFrom(
  opt: number | undefined,
  env: NodeJS.ProcessEnv,
  src: RootfsSource,
): number | undefined {
  if (opt !== undefined) return opt;
  const e = env.SOURCE_DATE_EPOCH;
  if (e !== undefined && e !== '') {
    if (!/^[0-9]+$/.test(e)) throw new WslBuildError(`SOURCE_DATE_EPOCH must be whole seconds, got ${e}`);
    return Number(e);
  }
  const created = src.image?.config.created;
  if (created) {
    const t = Date.parse(created);
    if (Number.isFinite(t)) return Math.floor(t / 1000);
  }
  return undefined;
}

/** Put the WSL files into a rootfs (replacing any the image had) and drop what WSL must not get. */
export function addWslFiles(fs: Rootfs, input: WslFilesInput, epoch: number): void {
  const at = { mtime: epoch, uid: 0, gid: 0 };
  // Microsoft: "Do not include the file /etc/resolv.conf"; WSL writes its own.
  fs.remove('etc/resolv.conf');
  fs.set(CONF_PATH, fileNode(distributionConf(input), { ...at, mode: 0o644 }));
  fs.set(OOBE_PATH, fileNode(oobeScript(input), { ...at, mode: 0o755 }));
  const icon = input.icon ?? defaultIcon();
  fs.set(iconPath(input.flavor), fileNode(icon, { ...at, mode: 0o644 }));
  fs.set(PROFILE_PATH, fileNode(input.terminalProfile ?? defaultTerminalProfile(), { ...at, mode: 0o640 }));
  if (!fs.get(WSL_CONF_PATH)) {
    const systemd = fs.resolve('usr/lib/systemd/systemd')?.node?.type === 'file';
    fs.set(
      WSL_CONF_PATH,
      fileNode(`[boot]\nsystemd = ${systemd ? 'true' : 'false'}\n`, { ...at, mode: 0o644 }),
    );
  }
}

export async function buildWsl(o: WslBuildOptions): Promise<WslBuildResult> {
  const name = zWslName.safeParse(o.name);
  if (!name.success)
    throw new WslBuildError(`--name ${JSON.stringify(o.name)}: ${name.error.issues[0]?.message}`);
  const flavor = o.flavor ?? o.name;
  if (!zWslName.safeParse(flavor).success)
    throw new WslBuildError(`invalid flavor ${JSON.stringify(flavor)}`);
  const defaultUid = o.defaultUid ?? DEFAULT_UID;
  let icon: Buffer | undefined;
  if (o.icon) {
    icon = await readFile(o.icon);
    if (icon.length > MAX_ICON_BYTES)
      throw new WslBuildError(`${o.icon}: the icon has ${icon.length} bytes; WSL takes at most 1 MiB`);
    if (!isIco(icon)) throw new WslBuildError(`${o.icon}: not an .ico file`);
  }
  let terminalProfile: string | undefined;
  if (o.terminalProfile) {
    terminalProfile = await readFile(o.terminalProfile, 'utf8');
    try {
      JSON.parse(terminalProfile);
    } catch (e) {
      throw new WslBuildError(`${o.terminalProfile}: not JSON (${(e as Error).message})`);
    }
  }
  const src = await readRootfs(o.from, { arch: o.arch, ...(o.digest ? { digest: o.digest } : {}) });
  const epoch = sourceDateEpochFrom(o.sourceDateEpoch, o.env ?? process.env, src);
  addWslFiles(
    src.rootfs,
    {
      name: name.data,
      flavor,
      defaultUid,
      ...(o.groups ? { groups: o.groups } : {}),
      ...(icon ? { icon } : {}),
      ...(terminalProfile !== undefined ? { terminalProfile } : {}),
    },
    epoch ?? 0,
  );
  const compression = o.compression ?? 'gzip';
  const written = await compressToFile(
    rootfsTar(src.rootfs, epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
    o.out,
    compression,
  );
  return {
    ...written,
    arch: o.arch,
    compression,
    name: name.data,
    flavor,
    defaultUid,
    entries: src.rootfs.size,
    ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
    ...(src.image ? { image: { manifestDigest: src.image.manifestDigest, layers: src.image.layers } } : {}),
  };
}
