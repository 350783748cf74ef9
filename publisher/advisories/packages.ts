// Installed RPM packages of an image: read from a root filesystem directory or from an OCI image layout
// (the layers are applied by the shared root filesystem reader, publisher/rootfs, keeping only the RPM
// database files' bytes; nothing from the image is run). The database is read by the system's `rpm` (argv only) from a private copy, so the
// image's files are never touched: openEuler 22.03+ keeps `rpmdb.sqlite` (backend sqlite), 20.03 the
// BerkeleyDB `Packages` file (read with rpm's read-only backend bdb_ro).
import { lstat, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { OciLayout, LayoutError } from '../registry/layout.ts';
import {
  isIndexType,
  zImageIndex,
  zImageManifest,
  type Descriptor,
  type ImageManifest,
} from '../registry/media.ts';
import { layerStream } from '../rootfs/oci.ts';
import { readTar } from '../rootfs/tar.ts';
import { Rootfs } from '../rootfs/tree.ts';
import { RPM_ARCH, RPM_NAME, RPM_TO_OCI_ARCH, RPM_VR } from './release.ts';

export interface InstalledPackage {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  sourceRpm: string;
  license: string;
}

export type DbFormat = 'sqlite' | 'bdb';

export interface PackageSet {
  /** Image platform architecture (amd64, arm64, …); from the image config, or inferred from the packages. */
  arch: string;
  /** Where the RPM database was found, relative to the root ("var/lib/rpm/rpmdb.sqlite"); absent: none. */
  rpmdb?: string;
  format?: DbFormat;
  packages: InstalledPackage[];
  /** Set when there is no RPM database (distroless, scratch): a reason, not an error. */
  noRpmdb?: string;
  /** Manifest digest when read from an OCI layout. */
  manifest?: string;
}

export class PackageReadError extends Error {
  override name = 'PackageReadError';
}

const DB_DIRS = ['var/lib/rpm', 'usr/lib/sysimage/rpm'];
const DB_FILES: Record<DbFormat, string[]> = {
  sqlite: ['rpmdb.sqlite', 'rpmdb.sqlite-wal', 'rpmdb.sqlite-shm'],
  bdb: ['Packages'],
};
const RPM_BIN = () => process.env.WHARF_RPM ?? 'rpm';
const QF = '%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\n';
const MAX_DB_BYTES = 1024 * 1024 * 1024;
/** Names of the database files: the only files whose bytes are kept when reading image layers. */
const DB_FILE_NAMES = new Set([...DB_FILES.sqlite, ...DB_FILES.bdb]);

const zPackage = z.object({
  name: z.string().regex(RPM_NAME, 'not an RPM package name'),
  epoch: z.number().int().min(0),
  version: z.string().regex(RPM_VR, 'not an RPM version'),
  release: z.string().regex(RPM_VR, 'not an RPM release'),
  arch: z.string().regex(RPM_ARCH, 'not an RPM architecture'),
  sourceRpm: z.string().max(512),
  license: z.string().max(4096),
});

/**
 * Resolve rel inside root, following symlinks as the image would see them (absolute targets are
 * relative to root); never leaves root. Returns the host path, or undefined when a component is missing.
 */
async function resolveInRoot(root: string, rel: string): Promise<string | undefined> {
  const todo = rel.split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    let st;
    try {
      st = await lstat(host);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw new PackageReadError(`${rel}: too many symbolic links`);
      const target = await readlink(host);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

async function isFile(p: string | undefined): Promise<boolean> {
  if (!p) return false;
  try {
    return (await lstat(p)).isFile();
  } catch {
    return false;
  }
}

/** Parse rpm's --qf output; a malformed line is an error naming the line. */
export function parseRpmQuery(out: string, source: string): InstalledPackage[] {
  const pkgs: InstalledPackage[] = [];
  out.split('\n').forEach((line, i) => {
    if (!line) return;
    const f = line.split('\t');
    if (f.length !== 7) throw new PackageReadError(`${source}: rpm output line ${i + 1}: expected 7 fields`);
    const [name, epoch, version, release, arch, sourceRpm, license] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    // gpg-pubkey "packages" are imported signing keys, not software.
    if (name === 'gpg-pubkey') return;
    const r = zPackage.safeParse({
      name,
      epoch: Number(epoch),
      version,
      release,
      arch: arch === '(none)' ? 'noarch' : arch,
      sourceRpm: sourceRpm === '(none)' ? '' : sourceRpm,
      license: license === '(none)' ? '' : license,
    });
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new PackageReadError(
        `${source}: rpm output line ${i + 1}: field ${issue.path.join('.')}: ${issue.message} (${JSON.stringify(String((f as string[])[['name', 'epoch', 'version', 'release', 'arch'].indexOf(String(issue.path[0]))] ?? '').slice(0, 80))})`,
      );
    }
    pkgs.push(r.data);
  });
  return pkgs.sort(
    (a, b) =>
      a.name.localeCompare(b.name) || a.arch.localeCompare(b.arch) || a.version.localeCompare(b.version),
  );
}

/** Query a directory holding RPM database files of the given format. */
export async function queryRpmdb(
  dbDir: string,
  format: DbFormat,
  source: string,
): Promise<InstalledPackage[]> {
  const backend = format === 'sqlite' ? 'sqlite' : 'bdb_ro';
  let res;
  try {
    res = await execa(
      RPM_BIN(),
      ['--dbpath', dbDir, '--define', `_db_backend ${backend}`, '-qa', '--qf', QF],
      { reject: false, timeout: 120_000, maxBuffer: 256 * 1024 * 1024, env: { LC_ALL: 'C' } },
    );
  } catch (e) {
    throw new PackageReadError(`${source}: cannot run rpm: ${(e as Error).message}`);
  }
  if ((res as { code?: string }).code === 'ENOENT' || (res.failed && res.exitCode === undefined))
    throw new PackageReadError(`${source}: cannot run ${RPM_BIN()} (${res.shortMessage ?? 'not found'})`);
  const errors = String(res.stderr)
    .split('\n')
    .filter((l) => l.startsWith('error:'));
  if (res.exitCode !== 0 || errors.length)
    throw new PackageReadError(
      `${source}: the RPM database does not open (${backend}): ${errors.map((l) => l.slice(7)).join('; ') || `rpm exited ${res.exitCode}`}`,
    );
  return parseRpmQuery(String(res.stdout), source);
}

const majorityArch = (pkgs: InstalledPackage[]): string => {
  const n = new Map<string, number>();
  for (const p of pkgs) if (p.arch !== 'noarch') n.set(p.arch, (n.get(p.arch) ?? 0) + 1);
  const top = [...n.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  return top ? (RPM_TO_OCI_ARCH[top] ?? top) : 'unknown';
};

/** Bytes of a file inside the image (symlinks followed inside it), or undefined when there is none. */
type FileLookup = (rel: string) => Promise<Buffer | undefined>;

/** Find the RPM database through `lookup`, copy it to a private directory and query it. */
async function readDb(lookup: FileLookup, label: string, opts: { arch?: string }): Promise<PackageSet> {
  for (const dir of DB_DIRS) {
    for (const format of ['sqlite', 'bdb'] as const) {
      const main = DB_FILES[format][0]!;
      const mainBytes = await lookup(`${dir}/${main}`);
      if (!mainBytes) continue;
      const tmp = await mkdtemp(join(tmpdir(), 'wharf-rpmdb-'));
      try {
        await writeFile(join(tmp, main), mainBytes);
        for (const f of DB_FILES[format].slice(1)) {
          const b = await lookup(`${dir}/${f}`);
          if (b) await writeFile(join(tmp, f), b);
        }
        const packages = await queryRpmdb(tmp, format, `${label}: ${dir}/${main}`);
        return {
          arch: opts.arch ?? majorityArch(packages),
          rpmdb: `${dir}/${main}`,
          format,
          packages,
        };
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
  }
  return {
    arch: opts.arch ?? 'unknown',
    packages: [],
    noRpmdb: `no RPM database (${DB_DIRS.map((d) => `/${d}`).join(', ')}): distroless or scratch image`,
  };
}

/** The installed packages of a root filesystem directory. */
export async function readRootfsPackages(root: string, opts: { arch?: string } = {}): Promise<PackageSet> {
  return readDb(
    async (rel) => {
      const host = await resolveInRoot(root, rel);
      if (!(await isFile(host))) return undefined;
      const st = await lstat(host!);
      if (st.size > MAX_DB_BYTES)
        throw new PackageReadError(`${root}: ${rel} is larger than ${MAX_DB_BYTES} bytes`);
      return readFile(host!);
    },
    root,
    opts,
  );
}

// ---- OCI layouts ----------------------------------------------------------------------------------

interface ImageRef {
  manifest: Descriptor;
  platform?: { os?: string; architecture?: string; variant?: string };
}

async function readJsonBlob(layout: OciLayout, d: Descriptor): Promise<unknown> {
  try {
    return JSON.parse((await layout.readBlob(d.digest)).toString('utf8'));
  } catch (e) {
    if (e instanceof LayoutError) throw e;
    throw new LayoutError(`${layout.dir}: ${d.digest} is not JSON`);
  }
}

/** Every image manifest of a layout (multi-arch indexes walked); attestation manifests skipped. */
async function imageManifests(layout: OciLayout): Promise<ImageRef[]> {
  const out: ImageRef[] = [];
  const seen = new Set<string>();
  const visit = async (d: Descriptor, depth: number): Promise<void> => {
    if (seen.has(d.digest) || depth > 4) return;
    seen.add(d.digest);
    const doc = await readJsonBlob(layout, d);
    const mt = (doc as { mediaType?: string }).mediaType ?? d.mediaType;
    if (isIndexType(mt) || Array.isArray((doc as { manifests?: unknown }).manifests)) {
      const idx = zImageIndex.safeParse(doc);
      if (!idx.success) throw new LayoutError(`${layout.dir}: index ${d.digest} is invalid`);
      for (const c of idx.data.manifests) await visit(c, depth + 1);
      return;
    }
    const platform = d.platform as ImageRef['platform'];
    if (platform?.os === 'unknown' || d.annotations?.['vnd.docker.reference.type']) return;
    out.push({ manifest: d, ...(platform ? { platform } : {}) });
  };
  for (const d of (await layout.index()).manifests) await visit(d, 0);
  return out;
}

/**
 * The RPM database files of an image's merged filesystem, read with the shared layer reader
 * (publisher/rootfs: digests checked, whiteouts and opaque directories applied); only the database
 * files keep their bytes, everything else is dropped as it streams past.
 */
async function imageRootfs(layout: OciLayout, manifest: ImageManifest, label: string): Promise<Rootfs> {
  const fs = new Rootfs();
  for (const [i, l] of manifest.layers.entries()) {
    const where = `${label}: layer ${i + 1}/${manifest.layers.length} (${l.digest.slice(7, 19)})`;
    try {
      await fs.apply(readTar(await layerStream(layout, l), { label: where }), {
        whiteouts: true,
        label: where,
        keepBytes: (path, size) => (DB_FILE_NAMES.has(posix.basename(path)) ? size : 0),
      });
    } catch (e) {
      if (e instanceof PackageReadError) throw e;
      throw new PackageReadError(`${where}: cannot be read: ${(e as Error).message}`);
    }
  }
  return fs;
}

/** The installed packages of a merged image filesystem (the RPM database files in it). */
export async function readTreePackages(
  fs: Rootfs,
  label: string,
  opts: { arch?: string } = {},
): Promise<PackageSet> {
  return readDb(
    async (rel) => {
      const r = fs.resolve(rel);
      return r?.node?.type === 'file' ? r.node.data : undefined;
    },
    label,
    opts,
  );
}

/** The installed packages of every image (platform) in an OCI layout. */
export async function readLayoutPackages(dir: string): Promise<PackageSet[]> {
  const layout = await OciLayout.open(dir);
  const images = await imageManifests(layout);
  if (!images.length) throw new PackageReadError(`${dir}: the layout holds no image manifest`);
  const sets: PackageSet[] = [];
  for (const img of images) {
    const m = zImageManifest.safeParse(await readJsonBlob(layout, img.manifest));
    if (!m.success) throw new LayoutError(`${dir}: manifest ${img.manifest.digest} is invalid`);
    const cfg = (await readJsonBlob(layout, m.data.config)) as { architecture?: unknown };
    const arch =
      img.platform?.architecture ?? (typeof cfg?.architecture === 'string' ? cfg.architecture : undefined);
    const fs = await imageRootfs(layout, m.data, dir);
    const set = await readTreePackages(fs, dir, arch ? { arch } : {});
    sets.push({ ...set, manifest: img.manifest.digest });
  }
  return sets;
}

/** A rootfs directory or an OCI layout (a directory with an `oci-layout` file). */
export async function readPackages(target: string, opts: { arch?: string } = {}): Promise<PackageSet[]> {
  let st;
  try {
    st = await lstat(target);
  } catch {
    throw new PackageReadError(`${target}: no such directory`);
  }
  if (!st.isDirectory()) throw new PackageReadError(`${target}: not a directory (a rootfs or an OCI layout)`);
  if (await isFile(join(target, 'oci-layout'))) return readLayoutPackages(target);
  return [await readRootfsPackages(target, opts)];
}
