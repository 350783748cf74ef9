// The scan stage of a file kind (wsl, cloud), the same scan as a container's (publisher/scan/record.ts
// scanAndRecord) over the root filesystem of the files themselves — the bytes that are published: the
// kind unpacks it (a `.wsl`'s tar, a disk's root ext4) into a private directory; the installed RPMs of
// each unpacked root are matched against the catalog's openEuler advisory index (matchOsPackages:
// findings, `coverage`, the package lists stored as `packagesRef`), Trivy scans the first root (`trivy
// rootfs`: language packages), and the SBOM is Wharf's own of the RPMs (else Trivy's). Nothing covered
// the OS packages: "OS packages not scanned" (never clean), `not-run` when Trivy did not run either.
// The same files scanned within scanPolicy.rescanHours: the policy re-applied to the stored findings.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Arch } from '../../catalog/names.ts';
import { readRootfsPackages, type PackageSet } from '../advisories/packages.ts';
import { normalizeRelease } from '../advisories/release.ts';
import { reapplyRecentScan } from '../scan/recent.ts';
import { recordNotRun, scanAndRecord, type ScanRunOptions } from '../scan/record.ts';
import { targetLabel, type StageContext, type StageFn, type StageTarget } from '../stage.ts';
import { isKind, notThisKind, skipStage, type BuiltFile, type FileKind } from './files.ts';
import { errorMessage, loadArtifact } from './index.ts';

/** A root filesystem the scan reads: `file`'s, unpacked into `dir`. */
export interface UnpackedRoot {
  arch: Arch;
  file: string;
  dir: string;
}

/** Unpack the root filesystems to scan into new directories under `work` (the stage removes it). */
export type UnpackFiles = (
  ctx: StageContext,
  t: StageTarget,
  files: BuiltFile[],
  work: string,
) => Promise<UnpackedRoot[]>;

export interface FileScanOptions extends ScanRunOptions {
  /** Scan even when the same files were scanned within scanPolicy.rescanHours. */
  force?: boolean;
}

/** The installed packages of each unpacked root (its own arch). */
async function rootPackages(
  roots: readonly UnpackedRoot[],
): Promise<{ sets: PackageSet[] } | { reason: string }> {
  const sets: PackageSet[] = [];
  for (const r of roots) {
    try {
      sets.push(await readRootfsPackages(r.dir, { arch: r.arch }));
    } catch (e) {
      return { reason: `cannot read the RPM database of ${r.file}: ${errorMessage(e)}` };
    }
  }
  return { sets };
}

export function fileScanStage(k: FileKind, unpack: UnpackFiles, opts: FileScanOptions = {}): StageFn<'scan'> {
  return async (ctx, t) => {
    const started = Date.now();
    const now = (opts.now ?? (() => new Date()))();
    if (!isKind(k, t)) return notThisKind('scan', k, t);
    const art = t.artifact ?? (await loadArtifact(ctx, t));
    const files = k.files(t, art?.records.build);
    if (files.length === 0) return skipStage('scan', `scan ${targetLabel(t)}: not built yet`);
    const digest = k.digest(files);
    const recent = await reapplyRecentScan(ctx, t, art?.records.scan, {
      target: digest,
      now,
      ...(opts.force ? { force: true } : {}),
      recent: 'scan of these files is recent',
    });
    if (recent) return recent;

    const work = await mkdtemp(join(tmpdir(), `wharf-${k.kind}-scan-`));
    try {
      let roots: UnpackedRoot[];
      try {
        roots = await unpack(ctx, t, files, work);
        if (roots.length === 0) throw new Error('nothing to unpack');
      } catch (e) {
        return await recordNotRun(
          ctx,
          { target: t, digest },
          `OS packages not scanned: cannot unpack the files' root filesystem: ${errorMessage(e)}`,
          { startedAt: started, now },
        );
      }
      const release = normalizeRelease(t.recipe.osVersion);
      return await scanAndRecord(
        ctx,
        {
          target: t,
          digest,
          source: { kind: 'rootfs', path: roots[0]!.dir },
          packages: () => rootPackages(roots),
          ...(release ? { os: { family: 'openEuler', name: release } } : {}),
          osReasonFirst: true,
        },
        { ...opts, now: () => now },
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  };
}

/** A new empty directory under `work` for one unpacked root. */
export async function rootDir(work: string, name: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir);
  return dir;
}
