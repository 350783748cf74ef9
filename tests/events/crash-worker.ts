// A real process for the crash test: commits stage results one by one and, after each commit, syncs the
// outbox and delivers; the test SIGKILLs it at an arbitrary point. Run with `node crash-worker.ts <catalog> <commits>`.
import { CatalogStore } from '../../catalog/store.ts';
import { Outbox, deliverPending, eventsSetup, syncOutbox } from '../../publisher/events/index.ts';
import { commitStage } from './fixtures.ts';

const [dir, n] = process.argv.slice(2) as [string, string];
const store = await CatalogStore.open(dir);
const outbox = new Outbox(store.dir);
const setup = eventsSetup(await store.config());
const stages = ['build', 'scan', 'publish'] as const;
for (let i = 0; i < Number(n); i++) {
  await commitStage(store, stages[i % 3]!, `8.6.${i}-oe2403sp4`);
  process.stdout.write(`committed ${i}\n`);
  await syncOutbox(store, outbox, setup);
  await deliverPending(outbox, setup.cfg);
}
await syncOutbox(store, outbox, setup);
await deliverPending(outbox, setup.cfg);
process.stdout.write('done\n');
