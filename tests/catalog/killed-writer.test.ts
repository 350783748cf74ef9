// A writer SIGKILLed in the middle of a large (fast-import) commit, with its git children: what it
// leaves in .git — the temporary pack of a fast-import that never finished, or the temporary ref
// refs/wharf/commit-<pid> of one that did — is removed by the next writer, which commits normally.
// A temporary ref whose writer is alive is left alone.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { tempDir } from './seed.ts';

const BULK = resolve(import.meta.dirname, '../fixtures/bulk-writer.ts');

const tmpPacks = (dir: string) =>
  readdirSync(join(dir, '.git', 'objects', 'pack')).filter((f) => f.startsWith('tmp_'));

async function wharfRefs(dir: string): Promise<string[]> {
  const r = await execa('git', ['for-each-ref', '--format=%(refname)', 'refs/wharf/'], { cwd: dir });
  return r.stdout.split('\n').filter(Boolean);
}

/**
 * Start a bulk writer in its own process group and SIGKILL the whole group (node and its git
 * children) as soon as `when(pid)` holds; false when the writer finished first.
 */
async function killWhen(dir: string, when: (pid: number) => boolean): Promise<boolean> {
  const child = execa(process.execPath, [BULK, dir, '3000', '8000'], { detached: true, reject: false });
  const pid = child.pid!;
  let exited = false;
  void child.then(() => (exited = true));
  while (!exited && !when(pid)) await sleep(2);
  if (!exited) process.kill(-pid, 'SIGKILL');
  const r = await child;
  return r.signal === 'SIGKILL';
}

/** Kill writers until one dies in the wanted state (a writer on a fast machine may finish first). */
async function killedWriter(dir: string, when: (pid: number) => boolean): Promise<void> {
  for (let i = 0; i < 5; i++) if (await killWhen(dir, when)) return;
  throw new Error('every bulk writer finished before it could be killed in the wanted state');
}

async function nextWriterCommits(store: CatalogStore): Promise<void> {
  const r = await store.commit({ subject: 'after the kill' }, (tx) => void tx.putText('after.txt', 'ok\n'));
  expect(r.changed).toBe(true);
  expect((await execa('git', ['status', '--porcelain'], { cwd: store.dir })).stdout).toBe('');
  await execa('git', ['fsck', '--no-progress', '--connectivity-only'], { cwd: store.dir });
}

describe('a writer killed mid-commit', { timeout: 300_000 }, () => {
  it('leaves a temporary pack (killed inside fast-import); the next writer removes it', async () => {
    const store = await CatalogStore.init(join(await tempDir(), 'c'));
    await killedWriter(store.dir, () => tmpPacks(store.dir).length > 0);
    expect(tmpPacks(store.dir).length).toBeGreaterThan(0);
    await nextWriterCommits(store);
    expect(tmpPacks(store.dir)).toEqual([]);
    expect(existsSync(join(store.dir, 'bulk'))).toBe(false);
  });

  it('leaves refs/wharf/commit-<pid> (killed after fast-import); the next writer removes it, not a live one', async () => {
    const store = await CatalogStore.init(join(await tempDir(), 'c'));
    const live = execa('sleep', ['600'], { reject: false });
    try {
      const liveRef = `refs/wharf/commit-${live.pid}`;
      await execa('git', ['update-ref', liveRef, 'HEAD'], { cwd: store.dir });
      let killedPid = 0;
      await killedWriter(store.dir, (pid) => {
        killedPid = pid;
        return existsSync(join(store.dir, '.git', 'refs', 'wharf', `commit-${pid}`));
      });
      expect(await wharfRefs(store.dir)).toEqual([`refs/wharf/commit-${killedPid}`, liveRef].sort());
      await nextWriterCommits(store);
      expect(await wharfRefs(store.dir)).toEqual([liveRef]);
      // the killed writer's files were put back (its journal), so nothing of its commit remains
      expect(existsSync(join(store.dir, 'bulk'))).toBe(false);
    } finally {
      live.kill('SIGKILL');
      await live;
    }
  });
});
