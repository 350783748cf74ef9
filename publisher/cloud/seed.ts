// The NoCloud seed a boot test attaches: a small FAT image labelled CIDATA with meta-data and
// user-data (cloud-init's NoCloud datasource finds it by that label). The user-data prints a marker
// line with a fresh nonce on the console, so a pass proves that this boot read this seed.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tool } from './run.ts';

export const MARKER_PREFIX = 'WHARF-BOOT-OK-';

export function seedFiles(nonce: string): { metaData: string; userData: string } {
  if (!/^[a-z0-9]{6,64}$/.test(nonce)) throw new Error(`nonce ${nonce} must be [a-z0-9]{6,64}`);
  return {
    metaData: `instance-id: wharf-boot-test-${nonce}\nlocal-hostname: wharf-boot-test\n`,
    userData: [
      '#cloud-config',
      '# Wharf boot test: print the marker on the console once cloud-init runs user commands.',
      'runcmd:',
      `  - [sh, -c, "echo ${MARKER_PREFIX}${nonce} > /dev/console"]`,
      '',
    ].join('\n'),
  };
}

export async function makeSeed(out: string, nonce: string): Promise<void> {
  const f = seedFiles(nonce);
  const dir = await mkdtemp(join(tmpdir(), 'wharf-seed-'));
  try {
    await writeFile(join(dir, 'meta-data'), f.metaData);
    await writeFile(join(dir, 'user-data'), f.userData);
    await rm(out, { force: true });
    const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
    await tool('mkfs.vfat', ['-n', 'CIDATA', '-C', out, '2048'], { env });
    await tool('mcopy', ['-i', out, join(dir, 'meta-data'), join(dir, 'user-data'), '::/'], { env });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
