import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { CatalogFileError } from '../../catalog/format.ts';
import { newRunId } from '../../catalog/run-id.ts';
import { containerRecipe } from '../helpers/apps.ts';

async function fresh() {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-store-'));
  return CatalogStore.init(join(dir, 'catalog'));
}

const app = {
  id: 'redis',
  name: 'redis',
  title: { en: 'Redis' },
  category: 'database',
  recipes: {
    container: [containerRecipe('8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4')],
  },
};

describe('CatalogStore', () => {
  it('writes one commit per transaction with trailers, and nothing when nothing changed', async () => {
    const s = await fresh();
    const runId = newRunId();
    const r1 = await s.commit(
      { subject: 'redis: add', trailers: { App: 'redis', Stage: 'import', 'Run-Id': runId } },
      (tx) => {
        tx.putApp(app);
      },
    );
    expect(r1.changed).toBe(true);
    const r2 = await s.commit({ subject: 'redis: add again', trailers: { App: 'redis' } }, (tx) => {
      tx.putApp(app);
    });
    expect(r2.changed).toBe(false);
    const log = await s.log('redis');
    expect(log).toHaveLength(1);
    expect(log[0]!.trailers).toMatchObject({ App: 'redis', Stage: 'import', 'Run-Id': runId });
    const text = await readFile(join(s.dir, 'apps/redis/app.yml'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.indexOf('id: redis')).toBe(0);
  });

  it('leaves the work tree clean when a mutation throws or a record is invalid', async () => {
    const s = await fresh();
    await expect(
      s.commit({ subject: 'bad' }, (tx) => {
        tx.putApp(app);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(
      s.commit({ subject: 'bad' }, (tx) => void tx.putApp({ ...app, id: '../x' })),
    ).rejects.toThrow();
    const st = await execa('git', ['status', '--porcelain'], { cwd: s.dir });
    expect(st.stdout).toBe('');
    expect((await s.load()).apps.size).toBe(0);
  });

  it('puts back the files of a writer killed between writing and committing (its journal), on load or the next commit', async () => {
    for (const next of ['load', 'commit'] as const) {
      const s = await fresh();
      await s.commit({ subject: 'add' }, (tx) => void tx.putApp(app));
      const head = await s.head();
      // What a writer killed mid-write leaves: a torn app.yml, a new file, and its journal.
      const torn = (await readFile(join(s.dir, 'apps/redis/app.yml'), 'utf8')).slice(0, 25);
      await writeFile(join(s.dir, 'apps/redis/app.yml'), torn);
      await writeFile(join(s.dir, 'apps/redis/upstream.json'), '{"lat');
      await writeFile(
        join(s.dir, '.git/wharf-writing.json'),
        JSON.stringify({ pid: 999_999, paths: ['apps/redis/app.yml', 'apps/redis/upstream.json'] }),
      );
      if (next === 'load') {
        const snap = await s.load();
        expect(snap.problems).toEqual([]);
        expect(snap.apps.get('redis')?.app.title.en).toBe('Redis');
      } else {
        await s.commit(
          { subject: 'other' },
          (tx) => void tx.putApp({ ...app, id: 'valkey', name: 'valkey' }),
        );
        expect((await s.log(undefined, { limit: 1 }))[0]!.subject).toBe('other');
      }
      expect((await execa('git', ['status', '--porcelain', '--ignored'], { cwd: s.dir })).stdout).toBe('');
      if (next === 'load') expect(await s.head()).toBe(head);
      expect((await s.load()).problems).toEqual([]);
    }
  });

  it('records stage results on artifacts and reports bad files with file, line and field', async () => {
    const s = await fresh();
    await s.commit({ subject: 'add' }, (tx) => void tx.putApp(app));
    await s.commit({ subject: 'build', trailers: { App: 'redis', Stage: 'build' } }, async (tx) => {
      await tx.updateArtifact('redis', 'container', '8.6.4-oe2403sp4', (a) => ({
        app: 'redis',
        kind: 'container',
        id: '8.6.4-oe2403sp4',
        version: '8.6.4',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64'],
        ...a,
        records: { ...a?.records, build: { runId: newRunId(), at: new Date().toISOString(), status: 'ok' } },
      }));
    });
    const snap = await s.load();
    expect(snap.apps.get('redis')!.artifacts[0]!.records.build!.status).toBe('ok');

    await writeFile(
      join(s.dir, 'apps/redis/app.yml'),
      'id: redis\nname: redis\ntitle: {}\ncategory: Database Stuff\n',
    );
    const bad = await s.load();
    expect(bad.problems).toEqual([
      expect.objectContaining({ file: 'apps/redis/app.yml', line: 4, field: 'category' }),
    ]);
    await expect(s.loadApp('redis')).rejects.toBeInstanceOf(CatalogFileError);
  });
});

describe('withFileLock', () => {
  it('takes over a lock left empty by a process killed before it wrote its pid', async () => {
    const { withFileLock } = await import('../../catalog/lock.ts');
    const { utimes } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'wharf-lock-'));
    const lock = join(dir, 'lock');
    await writeFile(lock, '');
    const old = new Date(Date.now() - 5000);
    await utimes(lock, old, old);
    const got = await withFileLock(lock, async () => 'ran', { timeoutMs: 3000 });
    expect(got).toBe('ran');
  });

  it('waits for a live owner instead of breaking its lock', async () => {
    const { withFileLock } = await import('../../catalog/lock.ts');
    const { hostname } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'wharf-lock-'));
    const lock = join(dir, 'lock');
    await writeFile(lock, `${hostname()} ${process.pid} now`);
    await expect(withFileLock(lock, async () => 'ran', { timeoutMs: 300 })).rejects.toThrow(/timed out/);
  });
});

describe('commit with a snapshot', () => {
  it('reads untouched apps from a snapshot at HEAD, and from disk once HEAD has moved', async () => {
    const s = await fresh();
    await s.commit({ subject: 'add' }, (tx) => void tx.putApp(app));
    const snap = await s.load();
    // Same HEAD: the snapshot answers (a file edited behind the store's back is not re-read).
    await writeFile(join(s.dir, 'apps/redis/app.yml'), 'not: [valid');
    let seen: string | undefined;
    await s.commit({ subject: 'noop' }, async (tx) => void (seen = (await tx.getApp('redis'))?.title.en), {
      snapshot: snap,
    });
    expect(seen).toBe('Redis');
    await execa('git', ['checkout', '--', 'apps/redis/app.yml'], { cwd: s.dir });
    // HEAD moved since the snapshot: the transaction must see the newer commit.
    await s.commit({ subject: 'retitle' }, (tx) => void tx.putApp({ ...app, title: { en: 'Redis 2' } }));
    await s.commit({ subject: 'read' }, async (tx) => void (seen = (await tx.getApp('redis'))?.title.en), {
      snapshot: snap,
    });
    expect(seen).toBe('Redis 2');
  });
});
