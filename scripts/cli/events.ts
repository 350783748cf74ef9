// `wharf events tail|list|replay`: read the event outbox (after bringing it up to date with the catalog)
// and queue events again for delivery. Delivery itself runs in the daemon (or `wharf events deliver`).
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  Outbox,
  commitsAfter,
  deliverPending,
  eventsSetup,
  replayEvents,
  syncOutbox,
  type WharfEvent,
} from '../../publisher/events/index.ts';
import type { Delivery, DeliveryStatus } from '../../publisher/events/outbox.ts';
import { CommandFailed, UsageError, catalogOption, jsonOption, openCatalog, printJson } from './common.ts';

async function open(o: { catalog?: string }) {
  const store = await openCatalog(o);
  const setup = eventsSetup(await store.config(), (m) => process.stderr.write(`warning: ${m}\n`));
  const outbox = new Outbox(store.dir);
  await syncOutbox(store, outbox, setup);
  return { store, setup, outbox };
}

const line = (e: WharfEvent) =>
  `${e.time}  ${e.type.replace('org.openeuler.wharf.', '')}  ${e.subject}  ${e.title}`;

export default function register(program: Command): void {
  const ev = program
    .command('events')
    .description('the CloudEvents Wharf derives from catalog commits, and their deliveries');

  ev.command('tail')
    .description('print the newest events (derived from the catalog first); --follow keeps printing new ones')
    .option('-n, --lines <n>', 'how many events to print first', '20')
    .option('-f, --follow', 'keep watching the catalog for new events')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (o: { lines: string; follow?: boolean; catalog?: string; json?: boolean }) => {
      const n = Number(o.lines);
      if (!Number.isInteger(n) || n < 0)
        throw new UsageError(`--lines must be a whole number, got ${o.lines}`);
      const { store, setup, outbox } = await open(o);
      const print = (e: WharfEvent) => console.log(o.json ? JSON.stringify(e) : line(e));
      const events = outbox.snapshot.events;
      let shown = events.length;
      for (const e of events.slice(Math.max(0, events.length - n))) print(e);
      if (!o.follow) return;
      const stop = new AbortController();
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort());
      while (!stop.signal.aborted) {
        await new Promise((r) => setTimeout(r, 1000));
        await syncOutbox(store, outbox, setup);
        const all = outbox.snapshot.events;
        for (const e of all.slice(shown)) print(e);
        shown = all.length;
      }
    });

  ev.command('list')
    .description('list deliveries per subscription with their status, attempts and last error')
    .addOption(
      new Option('--status <status>', 'only deliveries in this state').choices([
        'pending',
        'delivered',
        'dead',
      ]),
    )
    .option('--subscription <name>', 'only this subscription')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(
      async (o: { status?: DeliveryStatus; subscription?: string; catalog?: string; json?: boolean }) => {
        const { outbox } = await open(o);
        const s = outbox.snapshot;
        const rows: (Delivery & { type: string; subject: string; time: string })[] = [];
        for (const [sub, m] of s.deliveries) {
          if (o.subscription && sub !== o.subscription) continue;
          for (const d of m.values()) {
            if (o.status && d.status !== o.status) continue;
            const e = s.byId.get(d.id)!.event;
            rows.push({ ...d, type: e.type, subject: e.subject, time: e.time });
          }
        }
        rows.sort((a, b) => s.byId.get(a.id)!.seq - s.byId.get(b.id)!.seq || a.sub.localeCompare(b.sub));
        if (o.json) {
          printJson({ cursor: s.cursor, events: s.events.length, counts: outbox.counts(), deliveries: rows });
          return;
        }
        for (const r of rows) {
          const err = r.lastError ? `  (${r.lastError})` : '';
          console.log(
            `${r.status.padEnd(9)} ${r.sub}  ${r.id.slice(0, 12)}  ${r.type.replace('org.openeuler.wharf.', '')}  ${r.subject}  attempts=${r.attempts}${err}`,
          );
        }
        const c = outbox.counts();
        console.log(
          `${s.events.length} events; ${c.pending} pending, ${c.delivered} delivered, ${c.dead} dead`,
        );
      },
    );

  ev.command('replay')
    .description(
      'queue events again: one event by id (or id prefix), or every event of the commits after --since',
    )
    .argument('[id]', 'event id (at least 8 hex characters of it)')
    .option('--since <sha>', 'replay the events of every commit after this one')
    .option(
      '--subscription <name>',
      'deliver only to this subscription (default: every subscription that matches)',
    )
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(
      async (
        id: string | undefined,
        o: { since?: string; subscription?: string; catalog?: string; json?: boolean },
      ) => {
        if (!id === !o.since) throw new UsageError('give an event id or --since <sha> (one of them)');
        const { store, setup, outbox } = await open(o);
        let ids: string[];
        if (id) {
          if (!/^[a-f0-9]{8,64}$/.test(id))
            throw new UsageError(`event ids are hex; got ${JSON.stringify(id)}`);
          ids = outbox.snapshot.events.filter((e) => e.id.startsWith(id)).map((e) => e.id);
          if (ids.length !== 1)
            throw new CommandFailed(
              ids.length ? `event id prefix ${id} is ambiguous` : `no event ${id} in the outbox`,
            );
        } else {
          if (!/^[A-Za-z0-9^~._/-]+$/.test(o.since!))
            throw new UsageError(`--since must be a commit, got ${o.since}`);
          const commits = await commitsAfter(store.dir, o.since!).catch(() => {
            throw new UsageError(`--since ${o.since} is not a commit of the catalog`);
          });
          ids = outbox.snapshot.events.filter((e) => commits.has(e.data.commit)).map((e) => e.id);
        }
        const r = await replayEvents(outbox, setup.cfg, ids, o.subscription);
        if (o.json) printJson(r);
        else
          console.log(
            `queued ${r.queued.length} deliveries for ${ids.length} events; the daemon delivers them`,
          );
      },
    );

  ev.command('deliver')
    .description('derive new events and deliver everything due once (what the daemon does on a schedule)')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (o: { catalog?: string; json?: boolean }) => {
      const { setup, outbox } = await open(o);
      const r = await deliverPending(outbox, setup.cfg, { log: (m) => process.stderr.write(m + '\n') });
      if (o.json) printJson({ ...r, counts: outbox.counts() });
      else console.log(`delivered ${r.delivered}, failed ${r.failed}, dead ${r.dead}`);
    });
}
