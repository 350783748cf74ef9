// Two daemon processes racing on a stale job lock (its owner died) never both run the job: the
// takeover goes through the one file lock's breaker (catalog/lock.ts). The job is cheap and held
// open by the test until the other daemon has made its attempt, so every round is a real race.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { processAlive } from '../../catalog/lock.ts';

const RACER = resolve(import.meta.dirname, '../fixtures/daemon-lock-racer.ts');
const off = { enabled: false };

interface Racer {
  child: ResultPromise;
  next(): Promise<Record<string, unknown>>;
  send(line: string): void;
}

function racer(dir: string): Racer {
  const child = execa(process.execPath, [RACER, dir], { reject: false, buffer: false, stdin: 'pipe' });
  const queue: Record<string, unknown>[] = [];
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const m = JSON.parse(l) as Record<string, unknown>;
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => void (stderr += b.toString()));
  const exited = child.then(() => {
    throw new Error(`racer exited: ${stderr.slice(-2000)}`);
  });
  exited.catch(() => {});
  return {
    child,
    next: () =>
      queue.length
        ? Promise.resolve(queue.shift()!)
        : Promise.race([new Promise<Record<string, unknown>>((r) => waiting.push(r)), exited]),
    send: (line) => void child.stdin!.write(line + '\n'),
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

describe('job lock race between daemon processes', () => {
  it('50 races on a stale job lock: the job runs exactly once each time', { timeout: 240_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-lock-race-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const quiet = { watch: { schedule: '0 0 1 1 *' }, pipeline: off, rescan: off, site: off, events: off };
    const store = await CatalogStore.init(join(root, 'catalog'), {
      name: 'race',
      daemon: { port: 0, jobs: quiet },
    } as never);
    // A pid that is certainly gone: a child that has exited.
    const exited = execa('true');
    const deadPid = exited.pid!;
    await exited;
    expect(processAlive(deadPid)).toBe(false);
    const lockDir = join(store.dir, '.git', 'wharf-daemon');
    const lock = join(lockDir, 'watch.lock');
    await mkdir(lockDir, { recursive: true });

    const a = racer(store.dir);
    const b = racer(store.dir);
    cleanups.push(
      async () => a.child.kill('SIGKILL'),
      async () => b.child.kill('SIGKILL'),
    );
    expect(await a.next()).toHaveProperty('ready');
    expect(await b.next()).toHaveProperty('ready');

    const ranTwice: number[] = [];
    const noRun: number[] = [];
    for (let round = 0; round < 50; round++) {
      // The lock of a daemon that died while running the job.
      await writeFile(lock, `${hostname()} ${deadPid} ${new Date().toISOString()}\n`);
      a.send('go');
      b.send('go');
      // Each racer says "started" (it runs the job, which then waits) and/or "result".
      const started = new Set<Racer>();
      const results = new Map<Racer, string>();
      const pump = async (r: Racer) => {
        for (;;) {
          const m = await r.next();
          if ('started' in m) {
            started.add(r);
            // Hold the job until the other daemon has made its attempt (or has started it too).
            const other = r === a ? b : a;
            const wait = async () => {
              while (!results.has(other) && !started.has(other)) await new Promise((x) => setTimeout(x, 2));
            };
            void wait().then(() => r.send('release'));
          } else if ('result' in m) {
            results.set(r, m.result as string);
            return;
          }
        }
      };
      await Promise.all([pump(a), pump(b)]);
      const ran = [...results.values()].filter((x) => x === 'ran').length;
      if (ran > 1 || started.size > 1) ranTwice.push(round);
      if (ran === 0) noRun.push(round);
      // Released by its holder; nothing left behind but the lock directory.
      expect(await readFile(lock, 'utf8').catch(() => null)).toBeNull();
    }
    expect({ ranTwice, noRun }).toEqual({ ranTwice: [], noRun: [] });
    expect((await readdir(lockDir)).filter((f) => f.startsWith('watch.lock'))).toEqual([]);
  });
});
