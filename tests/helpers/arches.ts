// Multi-arch test setup: runs scripts/setup/multiarch.sh (mounts binfmt_misc, enables the qemu handler
// of the foreign arch, fetches a static busybox per arch) once per machine; idempotent.
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import type { Arch } from '../../catalog/names.ts';

const ROOT = resolve(import.meta.dirname, '../..');
export const ARCH_CACHE = process.env.WHARF_ARCH_CACHE ?? join(ROOT, '.cache/arches');

/** Make amd64 and arm64 runnable here; returns the path of each arch's static busybox. */
export async function prepareArches(): Promise<Record<'amd64' | 'arm64', string>> {
  await execa('bash', [join(ROOT, 'scripts/setup/multiarch.sh'), ARCH_CACHE], { stdin: 'ignore' });
  const bb = (a: Arch) => join(ARCH_CACHE, a, 'busybox');
  return { amd64: bb('amd64'), arm64: bb('arm64') };
}
