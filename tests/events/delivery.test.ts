import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { CatalogStore } from '../../catalog/store.ts';
import {
  Outbox,
  deliverPending,
  eventsSetup,
  replayEvents,
  syncOutbox,
} from '../../publisher/events/index.ts';
import { deriveEvents } from '../../publisher/events/derive.ts';
import { commitsSince } from '../../catalog/store/history.ts';
import { commitStage, freshCatalog, redisApp, startReceiver, type Receiver } from './fixtures.ts';

const SECRET = 'test-secret-0123456789';
const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function setupCatalog(subscriptions: unknown[], extra: Record<string, unknown> = {}) {
  const store = await freshCatalog({
    name: 'test',
    events: { backoff: { baseMs: 20, maxMs: 100 }, maxAttempts: 3, timeoutMs: 3000, ...extra, subscriptions },
  });
  await store.commit({ subject: 'redis: add' }, (tx) => {
    tx.putApp(redisApp);
  });
  return store;
}

const env = { WHARF_TEST_HOOK_SECRET: SECRET };

describe('event delivery', () => {
  it('delivers signed CloudEvents in order, filtered per subscription, and marks them delivered', async () => {
    const all = await startReceiver(SECRET);
    const images = await startReceiver(SECRET);
    const other = await startReceiver(SECRET);
    receivers.push(all, images, other);
    const store = await setupCatalog([
      { name: 'all', url: all.url, secretEnv: 'WHARF_TEST_HOOK_SECRET' },
      {
        name: 'images',
        url: images.url,
        secretEnv: 'WHARF_TEST_HOOK_SECRET',
        types: ['org.openeuler.wharf.image.*'],
        categories: ['database'],
      },
      { name: 'other-app', url: other.url, secretEnv: 'WHARF_TEST_HOOK_SECRET', apps: ['nginx'] },
    ]);
    await commitStage(store, 'build');
    await commitStage(store, 'scan');
    await commitStage(store, 'publish');
    const outbox = new Outbox(store.dir);
    const setup = eventsSetup(await store.config());
    const sync = await syncOutbox(store, outbox, setup);
    expect(sync.events).toBe(4);
    const r = await deliverPending(outbox, setup.cfg, { env });
    expect(r).toMatchObject({ delivered: 7, failed: 0, dead: 0 });

    expect(all.received.map((x) => x.event.type.split('.').slice(3).join('.'))).toEqual([
      'app.added',
      'image.built',
      'image.scanned',
      'image.published',
    ]);
    expect(all.received.every((x) => x.verified && x.attempt === 1)).toBe(true);
    expect(all.received[0]!.contentType).toMatch(/^application\/cloudevents\+json/);
    expect(images.received.map((x) => x.event.type)).toEqual(all.received.slice(1).map((x) => x.event.type));
    expect(other.received).toEqual([]);
    expect(outbox.counts()).toEqual({ pending: 0, delivered: 7, dead: 0 });

    // Nothing new: a second pass sends nothing; a new commit sends exactly its event.
    expect((await deliverPending(outbox, setup.cfg, { env })).delivered).toBe(0);
    await commitStage(store, 'build', '8.6.4-oe2203sp3');
    await syncOutbox(store, outbox, setup);
    await deliverPending(outbox, setup.cfg, { env });
    expect(all.received).toHaveLength(5);

    // Replay one event to one subscription: same id again.
    const id = all.received[2]!.event.id;
    await replayEvents(outbox, setup.cfg, [id], 'all');
    await deliverPending(outbox, setup.cfg, { env });
    expect(all.received.at(-1)!.event.id).toBe(id);
    expect(images.received).toHaveLength(4);
  });

  it('retries with backoff, keeps order, and dead-letters after maxAttempts', async () => {
    const flaky = await startReceiver(SECRET);
    const down = await startReceiver(SECRET);
    receivers.push(flaky, down);
    const store = await setupCatalog([
      { name: 'flaky', url: flaky.url, secretEnv: 'WHARF_TEST_HOOK_SECRET' },
      { name: 'down', url: down.url, secretEnv: 'WHARF_TEST_HOOK_SECRET', maxAttempts: 2 },
      {
        name: 'nosecret',
        url: flaky.url,
        secretEnv: 'WHARF_UNSET_SECRET_VAR',
        types: ['org.openeuler.wharf.app.*'],
        maxAttempts: 1,
      },
    ]);
    await commitStage(store, 'build');
    const outbox = new Outbox(store.dir);
    const setup = eventsSetup(await store.config());
    await syncOutbox(store, outbox, setup);
    flaky.failNext(2, 503);
    down.failNext(1000, 500);

    const first = await deliverPending(outbox, setup.cfg, { env });
    expect(first.failed).toBe(2);
    expect(first.dead).toBe(1);
    const unsigned = [...outbox.snapshot.deliveries.get('nosecret')!.values()];
    expect(unsigned.map((d) => [d.status, d.lastError])).toEqual([
      ['dead', 'environment variable WHARF_UNSET_SECRET_VAR (the signing secret) is not set'],
    ]);
    expect(first.waiting.sort()).toEqual(['down', 'flaky']);
    // The failed head blocks the queue: the second event was not sent out of order.
    expect(flaky.received).toEqual([]);
    const deadline = Date.now() + 10_000;
    while (outbox.counts().pending > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 30));
      await deliverPending(outbox, setup.cfg, { env });
    }
    expect(flaky.received.map((x) => x.event.type.split('.').pop())).toEqual(['added', 'built']);
    expect(flaky.received[0]!.attempt).toBe(3);
    const dead = [...outbox.snapshot.deliveries.get('down')!.values()];
    expect(dead.map((d) => [d.status, d.attempts, d.lastError])).toEqual([
      ['dead', 2, 'HTTP 500'],
      ['dead', 2, 'HTTP 500'],
    ]);
    // The journal survives a reload from disk with the same state.
    const reloaded = new Outbox(store.dir);
    await reloaded.refresh();
    expect(reloaded.counts()).toEqual(outbox.counts());
    // A missing signing secret is reported by variable name, never by value.
    expect(await outbox.raw()).not.toContain(SECRET);
  });

  it("waits for the receiver's Retry-After (seconds or HTTP-date) on 429/5xx, up to backoff.maxMs", async () => {
    const busy = await startReceiver(SECRET);
    receivers.push(busy);
    const store = await setupCatalog([{ name: 'busy', url: busy.url, secretEnv: 'WHARF_TEST_HOOK_SECRET' }], {
      backoff: { baseMs: 20, maxMs: 60_000 },
      maxAttempts: 8,
    });
    const outbox = new Outbox(store.dir);
    const setup = eventsSetup(await store.config());
    await syncOutbox(store, outbox, setup);
    const head = () =>
      [...outbox.snapshot.deliveries.get('busy')!.values()].find((d) => d.status === 'pending')!;
    let t = Date.parse('2026-10-21T07:28:00Z');
    const now = () => t;

    busy.failNext(1, 503, { 'retry-after': '30' });
    await deliverPending(outbox, setup.cfg, { env, now });
    expect(head().next).toBe(t + 30_000);

    t = head().next;
    busy.failNext(1, 429, { 'retry-after': new Date(Date.now() + 45_000).toUTCString() });
    await deliverPending(outbox, setup.cfg, { env, now });
    // The HTTP-date is read against the real clock: a wait of up to 45 s (whole seconds on the wire).
    expect(head().next - t).toBeGreaterThan(30_000);
    expect(head().next - t).toBeLessThanOrEqual(45_000);

    t = head().next;
    busy.failNext(1, 503, { 'retry-after': '86400' });
    await deliverPending(outbox, setup.cfg, { env, now });
    expect(head().next).toBe(t + 60_000);

    // Not a transient answer: its Retry-After is ignored and the backoff (≤ 20·2^3 ms) applies.
    t = head().next;
    busy.failNext(1, 400, { 'retry-after': '30' });
    await deliverPending(outbox, setup.cfg, { env, now });
    expect(head().next - t).toBeLessThanOrEqual(160);

    t = head().next;
    await deliverPending(outbox, setup.cfg, { env, now });
    expect(busy.received.length).toBeGreaterThan(0);
    expect(busy.received[0]!.attempt).toBe(5);
  });

  it('loses no event when the process is SIGKILLed between commit and delivery', async () => {
    const recv = await startReceiver(SECRET);
    receivers.push(recv);
    const store = await setupCatalog([{ name: 'all', url: recv.url, secretEnv: 'WHARF_TEST_HOOK_SECRET' }]);
    recv.delay(120);
    const worker = fileURLToPath(new URL('./crash-worker.ts', import.meta.url));
    const child = execa('node', [worker, store.dir, '12'], { env, reject: false, buffer: true });
    // Kill it once a few events went out, while it is mid-way through commits and deliveries.
    const deadline = Date.now() + 30_000;
    while (recv.received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    const killed = await child;
    expect(killed.signal).toBe('SIGKILL');
    expect(String(killed.stdout)).not.toContain('done');
    // A commit made while nothing is running: it must be delivered after the restart too.
    await commitStage(await CatalogStore.open(store.dir), 'build', '9.0.0-oe2403sp4');
    recv.delay(0);
    const restarted = await execa('node', [worker, store.dir, '0'], { env });
    expect(restarted.stdout).toContain('done');

    const expected = await deriveEvents(store.dir, await commitsSince(store.dir, null), {
      source: 'wharf://test',
      catalogName: 'test',
    });
    const got = new Map(recv.received.map((x) => [x.event.id, x.event]));
    for (const e of expected) expect(got.get(e.id), `${e.type} ${e.subject}`).toEqual(e);
    // Duplicates are allowed (at-least-once) but only as exact repeats of an expected id.
    const ids = new Set(expected.map((e) => e.id));
    expect(recv.received.every((x) => ids.has(x.event.id) && x.verified)).toBe(true);
    // Per subscription order follows commit order (first deliveries only).
    const firstSeen = [...new Map(recv.received.map((x) => [x.event.id, x])).keys()];
    const order = expected.map((e) => e.id);
    expect(firstSeen).toEqual(order.filter((i) => firstSeen.includes(i)));
  });
});
