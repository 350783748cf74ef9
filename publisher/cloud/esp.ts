// The EFI system partition as a FAT32 image file: `mkfs.vfat --invariant` (fixed volume id, no
// clock-dependent fields) and mtools (`mmd`, `mcopy -m`) to put the files in, no mount. Files are
// staged with their mtime set to the epoch, and mtools takes SOURCE_DATE_EPOCH for the directories,
// so the same files give the same bytes.
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { reproducibleEnv, tool } from './run.ts';

export interface EspFile {
  /** Path inside the ESP, e.g. EFI/BOOT/BOOTX64.EFI. */
  path: string;
  data: Buffer;
}

const ESP_PATH_RE = /^[A-Za-z0-9_.+-]+(?:\/[A-Za-z0-9_.+-]+)*$/;

/** Make `out` (sizeMiB, FAT32, label ESP) holding `files`. */
export async function buildEsp(
  out: string,
  o: { sizeMiB: number; files: readonly EspFile[]; epoch: number; volumeId: string; env?: NodeJS.ProcessEnv },
): Promise<void> {
  if (!/^[0-9A-Fa-f]{8}$/.test(o.volumeId))
    throw new Error(`ESP volume id must be 8 hex digits, got ${o.volumeId}`);
  const env = reproducibleEnv(o.epoch, o.env);
  await rm(out, { force: true });
  await tool(
    'mkfs.vfat',
    ['--invariant', '-F', '32', '-n', 'ESP', '-i', o.volumeId, '-C', out, String(o.sizeMiB * 1024)],
    {
      env,
    },
  );
  const dirs = new Set<string>();
  for (const f of o.files) {
    if (!ESP_PATH_RE.test(f.path) || f.path.split('/').some((c) => c === '..' || c === '.'))
      throw new Error(`ESP path ${JSON.stringify(f.path)} is not a plain relative path`);
    for (let d = posix.dirname(f.path); d !== '.'; d = posix.dirname(d)) dirs.add(d);
  }
  const sortedDirs = [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
  if (sortedDirs.length) await tool('mmd', ['-i', out, ...sortedDirs.map((d) => `::/${d}`)], { env });
  const stage = await mkdtemp(join(tmpdir(), 'wharf-esp-'));
  try {
    const files = [...o.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const [i, f] of files.entries()) {
      const src = join(stage, `${i}-${posix.basename(f.path)}`);
      await writeFile(src, f.data);
      await utimes(src, o.epoch, o.epoch);
      await tool('mcopy', ['-m', '-o', '-i', out, src, `::/${f.path}`], { env });
    }
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Read a file back out of a FAT image (tests, the base-image route's grub.cfg). */
export async function readEspFile(image: string, path: string, env?: NodeJS.ProcessEnv): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-esp-'));
  try {
    const dst = join(dir, 'f');
    await tool('mcopy', ['-i', image, `::/${path}`, dst], {
      env: { ...(env ?? process.env), MTOOLS_SKIP_CHECK: '1' },
    });
    return await readFile(dst);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
