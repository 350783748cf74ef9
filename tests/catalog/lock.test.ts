// The one file lock (catalog/lock.ts): try-once semantics for the daemon's jobs, release only of one's
// own lock, and takeover of a dead owner's lock.
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { isHeld, readLockHolder, tryFileLock, withFileLock } from '../../catalog/lock.ts';

const dir = () => mkdtemp(join(tmpdir(), 'wharf-lock-'));

describe('tryFileLock', () => {
  it('takes a free lock, names its holder to the next taker, and is free again after release', async () => {
    const lock = join(await dir(), 'job.lock');
    const first = await tryFileLock(lock);
    expect(isHeld(first)).toBe(true);
    // The file has its owner from the first moment (it is linked into place already written).
    expect(await readLockHolder(lock)).toMatchObject({ host: hostname(), pid: process.pid });
    const second = await tryFileLock(lock);
    expect(isHeld(second)).toBe(false);
    expect(second).toMatchObject({ host: hostname(), pid: process.pid });
    if (isHeld(first)) await first.release();
    expect(await readFile(lock, 'utf8').catch(() => null)).toBeNull();
    const third = await tryFileLock(lock);
    expect(isHeld(third)).toBe(true);
    if (isHeld(third)) await third.release();
    // No private files left behind.
    expect(await readdir(join(lock, '..'))).toEqual([]);
  });

  it("takes over a dead owner's lock, and a late release by the old owner leaves the new lock alone", async () => {
    const lock = join(await dir(), 'job.lock');
    const exited = execa('true');
    const deadPid = exited.pid!;
    await exited;
    await writeFile(lock, `${hostname()} ${deadPid} 2026-01-01T00:00:00Z\n`);
    const got = await tryFileLock(lock);
    expect(isHeld(got)).toBe(true);
    expect((await readLockHolder(lock))?.pid).toBe(process.pid);

    // A holder whose lock was taken over (judged stale) must not remove the new owner's lock.
    const a = await tryFileLock(join(lock, '..', 'other.lock'));
    expect(isHeld(a)).toBe(true);
    const stolen = `${hostname()} ${process.pid} later someone-else\n`;
    await writeFile(join(lock, '..', 'other.lock'), stolen);
    if (isHeld(a)) await a.release();
    expect(await readFile(join(lock, '..', 'other.lock'), 'utf8')).toBe(stolen);
    if (isHeld(got)) await got.release();
  });

  it('treats a lock from another host as held until it is older than staleMs', async () => {
    const lock = join(await dir(), 'job.lock');
    await writeFile(lock, `elsewhere.example 4242 2026-01-01T00:00:00Z\n`);
    expect(await tryFileLock(lock, { staleMs: 60_000 })).toMatchObject({
      host: 'elsewhere.example',
      pid: 4242,
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(isHeld(await tryFileLock(lock, { staleMs: 1 }))).toBe(true);
  });
});

describe('withFileLock', () => {
  it('with timeoutMs 0 tries once and throws when the lock is held', async () => {
    const lock = join(await dir(), 'lock');
    await withFileLock(lock, async () => {
      await expect(withFileLock(lock, async () => 'inner', { timeoutMs: 0 })).rejects.toThrow(/timed out/);
    });
    expect(await withFileLock(lock, async () => 'after', { timeoutMs: 0 })).toBe('after');
  });
});
