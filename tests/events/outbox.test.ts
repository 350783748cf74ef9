import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { Outbox, eventsSetup, syncOutbox } from '../../publisher/events/index.ts';
import { commitStage, freshCatalog, redisApp } from './fixtures.ts';

async function catalogWithEvents(n: number) {
  const store = await freshCatalog({
    name: 'test',
    events: { subscriptions: [{ name: 'a', url: 'http://127.0.0.1:9/none' }] },
  });
  await store.commit({ subject: 'add' }, (tx) => {
    tx.putApp(redisApp);
  });
  for (let i = 0; i < n; i++) await commitStage(store, 'build', `1.0.${i}-oe2403sp4`);
  return store;
}

describe('event outbox journal', () => {
  it('ignores and cuts off a torn last line, and re-derivation never queues an event twice', async () => {
    const store = await catalogWithEvents(2);
    const outbox = new Outbox(store.dir);
    const setup = eventsSetup(await store.config());
    await syncOutbox(store, outbox, setup);
    expect(outbox.counts().pending).toBe(3);
    const file = join(outbox.dir, 'outbox.jsonl');
    // A crash in the middle of an append leaves half a line.
    await appendFile(file, '{"op":"delivered","sub":"a","id":"ab');
    const fresh = new Outbox(store.dir);
    await fresh.locked(async () => {
      expect(fresh.counts()).toEqual({ pending: 3, delivered: 0, dead: 0 });
      await fresh.append([
        {
          op: 'delivered',
          sub: 'a',
          id: fresh.snapshot.events[0]!.id,
          at: new Date().toISOString(),
          status: 204,
        },
      ]);
    });
    const text = await readFile(file, 'utf8');
    expect(text.split('\n').every((l) => l === '' || JSON.parse(l))).toBe(true);
    // Forget the cursor (as if the cursor line was lost): the same events are derived again, not re-queued.
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { op: string; cursor?: string | null });
    await writeFile(
      file,
      lines.map((l) => JSON.stringify(l.op === 'events' ? { ...l, cursor: null } : l)).join('\n') + '\n',
    );
    const again = new Outbox(store.dir);
    const r = await syncOutbox(store, again, setup);
    expect(r.commits).toBeGreaterThan(0);
    expect(r.events).toBe(0);
    expect(again.counts()).toEqual({ pending: 2, delivered: 1, dead: 0 });
  });

  it('starts a fresh outbox at HEAD when events.startFrom is head', async () => {
    const store = await freshCatalog({ events: { startFrom: 'head' } });
    await store.commit({ subject: 'add' }, (tx) => {
      tx.putApp(redisApp);
    });
    const outbox = new Outbox(store.dir);
    const setup = eventsSetup(await store.config());
    expect(await syncOutbox(store, outbox, setup)).toMatchObject({
      commits: 0,
      events: 0,
      cursor: await store.head(),
    });
    await commitStage(store, 'build');
    expect(await syncOutbox(store, outbox, setup)).toMatchObject({ commits: 1, events: 1 });
    expect(outbox.snapshot.events.map((e) => e.type)).toEqual(['org.openeuler.wharf.image.built']);
  });

  it('compacts atomically, keeping the cursor, undelivered work and recent history', async () => {
    const store = await catalogWithEvents(5);
    const outbox = new Outbox(store.dir);
    const setup = eventsSetup(await store.config());
    await syncOutbox(store, outbox, setup);
    const ids = outbox.snapshot.events.map((e) => e.id);
    await outbox.locked(() =>
      outbox.append(
        [...ids.slice(0, 4), ids[5]!].map((id) => ({
          op: 'delivered' as const,
          sub: 'a',
          id,
          at: new Date().toISOString(),
          status: 200,
        })),
      ),
    );
    await outbox.locked(() =>
      outbox.append([
        { op: 'attempt', sub: 'a', id: ids[4]!, at: new Date().toISOString(), error: 'HTTP 500', next: 1 },
      ]),
    );
    const cursor = outbox.snapshot.cursor;
    await outbox.locked(() => outbox.compact(2));
    const reread = new Outbox(store.dir);
    await reread.refresh();
    expect(reread.snapshot.cursor).toBe(cursor);
    // The newest two events stay (one pending with its attempt, one delivered); older delivered ones go.
    expect(reread.snapshot.events.map((e) => e.id)).toEqual(ids.slice(4));
    expect(reread.pendingFor('a').map((d) => [d.id, d.attempts, d.lastError])).toEqual([
      [ids[4], 1, 'HTTP 500'],
    ]);
    expect(reread.counts()).toEqual({ pending: 1, delivered: 1, dead: 0 });
  });

  it('wharf events list, tail and replay work on a catalog from the command line', async () => {
    const store = await catalogWithEvents(2);
    const cli = (...a: string[]) =>
      execa('node', ['scripts/wharf.mjs', 'events', ...a, '--catalog', store.dir], { reject: false });
    const tail = await cli('tail', '--json', '-n', '2');
    expect(tail.exitCode).toBe(0);
    const tailed = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; id: string });
    expect(tailed.map((e) => e.type)).toEqual([
      'org.openeuler.wharf.image.built',
      'org.openeuler.wharf.image.built',
    ]);
    const list = JSON.parse((await cli('list', '--status', 'pending', '--json')).stdout) as {
      counts: { pending: number };
    };
    expect(list.counts.pending).toBe(3);
    const replay = await cli('replay', tailed[0]!.id.slice(0, 12), '--subscription', 'a', '--json');
    expect(replay.exitCode).toBe(0);
    expect(JSON.parse(replay.stdout)).toEqual({ queued: [{ id: tailed[0]!.id, sub: 'a' }] });
    expect((await cli('replay', 'nothex!')).exitCode).toBe(2);
    expect((await cli('replay')).exitCode).toBe(2);
    expect((await cli('list', '--status', 'bogus')).exitCode).toBe(2);
  });
});
