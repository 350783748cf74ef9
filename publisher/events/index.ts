// The events subsystem: derive events from new catalog commits into the outbox (sync), then deliver
// them to subscriptions. The cursor only advances in the same journal line that adds the events, so a
// crash anywhere loses nothing: at worst the same commits are derived again and dropped as duplicates.
import type { CatalogStore } from '../../catalog/store.ts';
import type { CatalogConfig } from '../../catalog/schema.ts';
import { deriveEvents, type DeriveContext } from './derive.ts';
import { commitsSince } from '../../catalog/store/history.ts';
import { Outbox, type JournalEntry } from './outbox.ts';
import { matchesSubscription, parseEventsConfig, type EventsConfig } from './types.ts';
import { git } from '../../catalog/git.ts';

export { Outbox } from './outbox.ts';
export { deliverPending } from './deliver.ts';
export { signPayload, verifySignature, SIGNATURE_HEADER } from './signature.ts';
export { parseEventsConfig, matchesSubscription, eventType, EVENT_TYPES } from './types.ts';
export type { WharfEvent, EventsConfig, Subscription } from './types.ts';

export interface EventsSetup {
  cfg: EventsConfig;
  ctx: DeriveContext;
}

export function eventsSetup(config: CatalogConfig, warn?: (m: string) => void): EventsSetup {
  const cfg = parseEventsConfig(config.events);
  return {
    cfg,
    ctx: {
      source: cfg.source ?? `wharf://${config.name}`,
      catalogName: config.name,
      ...(config.siteUrl ? { siteUrl: config.siteUrl } : {}),
      ...(warn ? { warn } : {}),
    },
  };
}

export interface SyncReport {
  commits: number;
  events: number;
  cursor: string | null;
}

/** Turn every commit after the outbox cursor into events (in batches), queueing matching deliveries. */
export async function syncOutbox(
  store: CatalogStore,
  outbox: Outbox,
  setup: EventsSetup,
  opts: { batch?: number } = {},
): Promise<SyncReport> {
  const batch = opts.batch ?? 200;
  const report: SyncReport = { commits: 0, events: 0, cursor: null };
  for (;;) {
    const more = await outbox.locked(async () => {
      let cursor = outbox.snapshot.cursor;
      if (cursor === null && setup.cfg.startFrom === 'head') {
        const head = await store.head();
        if (head) await outbox.append([{ op: 'events', cursor: head, events: [] }]);
        report.cursor = head;
        return false;
      }
      const shas = (await commitsSince(store.dir, cursor)).slice(0, batch);
      if (!shas.length) {
        report.cursor = cursor;
        return false;
      }
      const events = await deriveEvents(store.dir, shas, setup.ctx);
      const before = outbox.snapshot.byId.size;
      const entry: JournalEntry = {
        op: 'events',
        cursor: shas[shas.length - 1]!,
        events: events
          .filter((e) => !outbox.snapshot.byId.has(e.id))
          .map((event) => ({
            event,
            subs: setup.cfg.subscriptions.filter((s) => matchesSubscription(s, event)).map((s) => s.name),
          })),
      };
      await outbox.append([entry]);
      cursor = entry.cursor;
      report.commits += shas.length;
      report.events += outbox.snapshot.byId.size - before;
      report.cursor = cursor;
      return shas.length === batch;
    });
    if (!more) return report;
  }
}

/** Commits strictly after `sha` up to HEAD (for `wharf events replay --since`). */
export async function commitsAfter(dir: string, sha: string): Promise<Set<string>> {
  const full = await git(dir, ['rev-parse', '--verify', `${sha}^{commit}`]);
  return new Set(await commitsSince(dir, full));
}

/** Queue events again for delivery: to `subscription` only, or to every subscription that matches them now. */
export async function replayEvents(
  outbox: Outbox,
  cfg: EventsConfig,
  ids: string[],
  subscription?: string,
): Promise<{ queued: { id: string; sub: string }[] }> {
  const subs = subscription
    ? cfg.subscriptions.filter((s) => s.name === subscription)
    : cfg.subscriptions.filter((s) => s.enabled);
  if (subscription && !subs.length)
    throw new Error(`no subscription named ${subscription} in wharf.yml events.subscriptions`);
  return outbox.locked(async () => {
    const at = new Date().toISOString();
    const queued: { id: string; sub: string }[] = [];
    for (const id of ids) {
      const ev = outbox.snapshot.byId.get(id)?.event;
      if (!ev) continue;
      for (const s of subs) if (subscription || matchesSubscription(s, ev)) queued.push({ id, sub: s.name });
    }
    await outbox.append(queued.map((q) => ({ op: 'replay' as const, ...q, at })));
    return { queued };
  });
}
