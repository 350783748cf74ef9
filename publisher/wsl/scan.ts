// What is read from a `.wsl` file to scan it: the bytes that are published, not the container image it
// came from. unpackWsl writes its whole root filesystem out as a directory (the scan stage's package
// list and Trivy pass read that). wslPackages reads only its RPM database (var/lib/rpm or
// usr/lib/sysimage/rpm, through symlinks inside the archive; only those files' bytes kept), copied into
// a private directory and read by the system's `rpm` (publisher/advisories/packages.ts; `npm run
// bench:wsl`). Nothing from the file is run.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Arch } from '../../catalog/names.ts';
import { readRootfsPackages, type PackageSet } from '../advisories/packages.ts';
import { rootfsFromTarball, writeRootfsDir } from '../rootfs/index.ts';

const DB_DIRS = ['var/lib/rpm', 'usr/lib/sysimage/rpm'];
const DB_FILES = ['rpmdb.sqlite', 'rpmdb.sqlite-wal', 'rpmdb.sqlite-shm', 'Packages'];

/** The `.wsl`'s root filesystem written into the empty directory `dir` (device nodes left out). */
export async function unpackWsl(file: string, dir: string): Promise<void> {
  const { rootfs } = await rootfsFromTarball(file);
  await writeRootfsDir(rootfs, dir);
}

/** Keep the bytes of files that can be (part of) an RPM database; drop everything else's. */
const keepRpmdb = (path: string, size: number): number =>
  /(^|\/)(rpmdb\.sqlite(-wal|-shm)?|Packages)$/.test(path) ? size : 0;

/** The installed packages recorded in a .wsl file's RPM database (a PackageSet with noRpmdb when none). */
export async function wslPackages(file: string, arch: Arch): Promise<PackageSet> {
  const { rootfs } = await rootfsFromTarball(file, { keepBytes: keepRpmdb });
  const root = await mkdtemp(join(tmpdir(), 'wharf-wsl-rpmdb-'));
  try {
    let found = false;
    for (const dir of DB_DIRS) {
      for (const f of DB_FILES) {
        const node = rootfs.resolve(`${dir}/${f}`)?.node;
        if (node?.type !== 'file' || !node.data) continue;
        const out = join(root, dir, f);
        await mkdir(dirname(out), { recursive: true });
        await writeFile(out, node.data);
        found = true;
      }
    }
    if (!found) return { arch, packages: [], noRpmdb: 'no RPM database in the .wsl rootfs' };
    return await readRootfsPackages(root, { arch });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
