// `wharf cloud` usage errors (exit 2) and a missing image (exit 1, a message naming the file), without
// booting anything; the booting paths are in image.test.ts.
import { describe, expect, it } from 'vitest';
import { runWharf } from '../helpers/wharf.ts';

describe('wharf cloud (usage)', () => {
  it('refuses an arch it cannot boot and a format it does not know', async () => {
    const a = await runWharf(['cloud', 'boot-test', 'x.qcow2', '--arch', 's390x', '--json']);
    expect(a.exitCode).toBe(2);
    expect(String(a.stdout) + String(a.stderr)).toContain('--arch must be amd64 or arm64, got s390x');
    const f = await runWharf(['cloud', 'build', '--from', 'x', '--out-dir', 'y', '--formats', 'qcow2,iso']);
    expect(f.exitCode).toBe(2);
    expect(String(f.stdout) + String(f.stderr)).toContain(
      '--formats: iso is not one of qcow2, raw, vhd, vmdk',
    );
    const t = await runWharf(['cloud', 'boot-test', 'x.qcow2', '--timeout', '-3']);
    expect(t.exitCode).toBe(2);
  });

  it('fails on an image that is not there', async () => {
    const r = await runWharf(['cloud', 'boot-test', '/nonexistent/disk.qcow2', '--timeout', '5']);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain('/nonexistent/disk.qcow2');
  });
});
