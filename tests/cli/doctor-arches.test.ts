// `wharf doctor` arches: native = this host, emulated = enabled qemu-user-static binfmt_misc handlers,
// missing = amd64/arm64 with neither (with the commands that add one). Fake binfmt_misc directories
// cover each state; the real host (after scripts/setup/multiarch.sh) must report arm64 as emulated.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { hostArches, parseArches } from '../../publisher/arches.ts';
import { SelectionError } from '../../publisher/select.ts';
import type { DoctorReport } from '../../scripts/doctor/checks.ts';
import { prepareArches } from '../helpers/arches.ts';

const ROOT = resolve(import.meta.dirname, '../..');

async function fakeBinfmt(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-binfmt-'));
  await mkdir(dir, { recursive: true });
  for (const [n, text] of Object.entries(files)) await writeFile(join(dir, n), text);
  return dir;
}

const handler = (state: 'enabled' | 'disabled') =>
  `${state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n`;

describe('host arches', () => {
  it('an enabled qemu-aarch64 handler makes arm64 emulated', async () => {
    const dir = await fakeBinfmt({ status: 'enabled\n', 'qemu-aarch64': handler('enabled') });
    expect(await hostArches({ binfmtDir: dir, native: 'amd64' })).toEqual({
      native: ['amd64'],
      emulated: ['arm64'],
      missing: [],
      binfmtMounted: true,
      hints: [],
    });
  });

  it('a disabled handler (or binfmt_misc disabled) leaves arm64 missing, with the enable command', async () => {
    for (const files of [
      { status: 'enabled\n', 'qemu-aarch64': handler('disabled') },
      { status: 'disabled\n', 'qemu-aarch64': handler('enabled') },
    ]) {
      const h = await hostArches({ binfmtDir: await fakeBinfmt(files), native: 'amd64' });
      expect(h.emulated).toEqual([]);
      expect(h.missing).toEqual(['arm64']);
      expect(h.hints).toEqual([expect.stringContaining('sudo update-binfmts --enable qemu-aarch64')]);
      expect(h.hints[0]).not.toContain('mount -t binfmt_misc');
    }
  });

  it('binfmt_misc not mounted: the hint says how to mount it; an arm64 host misses amd64', async () => {
    const h = await hostArches({ binfmtDir: join(tmpdir(), 'wharf-no-binfmt-here'), native: 'arm64' });
    expect(h).toMatchObject({ native: ['arm64'], emulated: [], missing: ['amd64'], binfmtMounted: false });
    expect(h.hints[0]).toContain('mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc');
    expect(h.hints[0]).toContain('update-binfmts --enable qemu-x86_64');
    expect(h.hints[0]).toContain('qemu-user-static binfmt-support');
  });

  it('--arch values: known names pass (deduplicated), unknown ones are usage errors', () => {
    expect(parseArches('amd64, arm64,amd64')).toEqual(['amd64', 'arm64']);
    expect(parseArches(undefined)).toBeUndefined();
    expect(() => parseArches('amd64,sparc')).toThrow(SelectionError);
    expect(() => parseArches('amd64,sparc')).toThrow(/unknown architecture "sparc"/);
    expect(() => parseArches(',')).toThrow(SelectionError);
  });
});

describe('wharf doctor --json on this host', () => {
  beforeAll(async () => {
    await prepareArches();
  }, 300_000);

  it('reports the native arch and the foreign one as emulated', async () => {
    const r = await execa(process.execPath, ['scripts/wharf.mjs', 'doctor', '--json'], {
      cwd: ROOT,
      reject: false,
    });
    const rep = JSON.parse(r.stdout) as DoctorReport;
    const native = process.arch === 'arm64' ? 'arm64' : 'amd64';
    const foreign = native === 'amd64' ? 'arm64' : 'amd64';
    expect(rep.arches).toMatchObject({ native: [native], emulated: [foreign], missing: [] });
    expect(rep.checks.find((c) => c.name === 'arches')).toMatchObject({ ok: true });
  });
});
