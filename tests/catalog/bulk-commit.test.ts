// Large commits (≥ 64 changed paths) are built by git fast-import instead of `git commit`: same
// commit (author, message, trailers, tree), clean work tree and index, and nothing left on failure.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { commitMessage } from '../../catalog/git.ts';

const N = 80;
const app = (i: number, title = `App ${i}`) => ({
  id: `app-${i}`,
  name: `app-${i}`,
  title: { en: title },
  category: 'tools',
  recipes: { container: [] },
});
const sh = async (dir: string, ...args: string[]) => (await execa('git', args, { cwd: dir })).stdout;

async function fresh(): Promise<CatalogStore> {
  return CatalogStore.init(join(await mkdtemp(join(tmpdir(), 'wharf-bulk-')), 'catalog'));
}

describe('bulk commits (fast-import)', () => {
  it('make the same commit git commit would: identity, message, trailers, tree; clean tree and index', async () => {
    const s = await fresh();
    const before = await sh(s.dir, 'rev-parse', 'HEAD');
    const info = {
      subject: 'bulk: add apps',
      body: 'many apps',
      trailers: { Stage: 'import', 'Run-Id': 'r1' },
    };
    const r = await s.commit(info, (tx) => {
      for (let i = 0; i < N; i++) tx.putApp(app(i));
      tx.putText('notes/with "quotes" and spaces.txt', 'hello\n');
    });
    expect(r.changed).toBe(true);
    expect(r.sha).toBe(await sh(s.dir, 'rev-parse', 'HEAD'));
    expect(await sh(s.dir, 'rev-parse', 'HEAD^')).toBe(before);
    expect(await sh(s.dir, 'log', '-1', '--format=%an <%ae>|%cn <%ce>')).toBe(
      'Wharf <wharf@localhost>|Wharf <wharf@localhost>',
    );
    const raw = await sh(s.dir, 'cat-file', 'commit', 'HEAD');
    expect(raw.slice(raw.indexOf('\n\n') + 2) + '\n').toBe(
      commitMessage(info.subject, info.trailers, info.body),
    );
    expect((await s.log())[0]!.trailers).toMatchObject({ Stage: 'import', 'Run-Id': 'r1' });
    expect(Math.abs(Number(await sh(s.dir, 'log', '-1', '--format=%ct')) * 1000 - Date.now())).toBeLessThan(
      60_000,
    );
    expect(await sh(s.dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    expect(await sh(s.dir, 'diff', '--cached', '--name-only')).toBe('');
    expect(await sh(s.dir, 'for-each-ref', 'refs/wharf')).toBe('');
    expect(await sh(s.dir, 'show', 'HEAD:apps/app-7/app.yml')).toBe(
      (await readFile(join(s.dir, 'apps/app-7/app.yml'), 'utf8')).trimEnd(),
    );
    expect(await sh(s.dir, 'show', 'HEAD:notes/with "quotes" and spaces.txt')).toBe('hello');
    expect((await s.load()).apps.size).toBe(N);

    // Rewrites (shorter files, in place) and removals in one bulk commit.
    await s.commit({ subject: 'bulk: retitle half, remove half' }, async (tx) => {
      for (let i = 0; i < N; i++) {
        if (i % 2) await tx.removeApp(`app-${i}`);
        else tx.putApp(app(i, 'T'));
      }
    });
    expect(await sh(s.dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    const snap = await s.load();
    expect(snap.apps.size).toBe(N / 2);
    expect(snap.apps.get('app-4')!.app.title.en).toBe('T');
    expect(await sh(s.dir, 'ls-tree', '--name-only', 'HEAD', 'apps/app-5')).toBe('');

    // The same writes again change nothing: no commit.
    const again = await s.commit({ subject: 'noop' }, (tx) => {
      for (let i = 0; i < N; i += 2) tx.putApp(app(i, 'T'));
    });
    expect(again.changed).toBe(false);
  });

  it('leave HEAD, index and work tree as they were when writing fails after the import', async () => {
    const s = await fresh();
    const head = await sh(s.dir, 'rev-parse', 'HEAD');
    await expect(
      s.commit({ subject: 'bulk: fails' }, (tx) => {
        for (let i = 0; i < N; i++) tx.putApp(app(i));
        tx.putText('wharf.yml/below-a-file', 'x\n'); // mkdir under a file: ENOTDIR, after fast-import
      }),
    ).rejects.toThrow();
    expect(await sh(s.dir, 'rev-parse', 'HEAD')).toBe(head);
    expect(await sh(s.dir, 'status', '--porcelain', '--untracked-files=all')).toBe('');
    expect(await sh(s.dir, 'for-each-ref', 'refs/wharf')).toBe('');
    expect((await s.load()).apps.size).toBe(0);
  });
});
