import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileReplayGuard } from '../../publisher/triggers/replay.ts';

const HOUR = 3600_000;

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of await readdir(dir).catch(() => [] as string[]))
    for (const f of await readdir(join(dir, s))) out.push(join(dir, s, f));
  return out;
}

describe('FileReplayGuard', () => {
  it('admits a delivery once, also across instances (a restart, a second daemon), until it expires', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-replay-'));
    const t0 = Date.UTC(2026, 10, 22);
    const a = new FileReplayGuard(dir, 24 * HOUR);
    expect(await a.admit('github:d-1', t0)).toBe(true);
    expect(await a.admit('github:d-1', t0 + 1000)).toBe(false);
    // A new instance on the same directory (the daemon restarted) still refuses it.
    const b = new FileReplayGuard(dir, 24 * HOUR);
    expect(await b.admit('github:d-1', t0 + HOUR)).toBe(false);
    expect(await b.admit('github:d-2', t0 + HOUR)).toBe(true);
    // After the time to live the same id is a new delivery again.
    expect(await b.admit('github:d-1', t0 + 25 * HOUR)).toBe(true);
    expect(await b.admit('github:d-1', t0 + 25 * HOUR + 1)).toBe(false);
  });

  it('lets exactly one of many concurrent admits of one key win', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-replay-'));
    const guards = Array.from({ length: 8 }, () => new FileReplayGuard(dir));
    const got = await Promise.all(guards.map((g) => g.admit('gitlab:uuid-7')));
    expect(got.filter(Boolean)).toHaveLength(1);
  });

  it('forgets a delivery that could not be processed, stores no key, and prunes expired entries', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-replay-'));
    const t0 = Date.UTC(2026, 10, 22);
    const g = new FileReplayGuard(dir, HOUR);
    const secretish = 'gitee:1700000000000:c2VjcmV0LXRva2Vu';
    expect(await g.admit(secretish, t0)).toBe(true);
    await g.forget(secretish);
    expect(await g.admit(secretish, t0 + 1)).toBe(true);
    for (const f of await files(dir)) {
      expect(f).not.toContain('c2VjcmV0LXRva2Vu');
      expect(await readFile(f, 'utf8')).not.toContain('c2VjcmV0LXRva2Vu');
    }
    // Buckets as wide as the TTL: whatever is older than the previous bucket goes as a whole.
    await g.admit('github:old', t0);
    await g.admit('github:new', t0 + 2 * HOUR + 50 * 60_000);
    expect(await g.admit('github:new', t0 + 3 * HOUR + 10 * 60_000)).toBe(false);
    expect(await g.prune(t0 + 3 * HOUR + 10 * 60_000)).toBe(0);
    expect(await files(dir)).toHaveLength(1);
    expect(await g.admit('github:old', t0 + 3 * HOUR)).toBe(true);
  });
});
