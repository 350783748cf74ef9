import { createHmac } from 'node:crypto';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { Daemon, type JobRun } from '../../publisher/scheduler/index.ts';
import { redisApp, startReceiver, type Receiver } from '../events/fixtures.ts';

const SECRET = 'daemon-test-secret-1';
const HOOK = 'daemon-hook-secret-2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function catalog(daemon: Record<string, unknown>, events: Record<string, unknown> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-daemon-'));
  const store = await CatalogStore.init(join(dir, 'catalog'), { name: 'test', daemon, events } as never);
  await store.commit({ subject: 'add redis' }, (tx) => {
    // The events tests' redis app, but with the default arches (the recipe names none).
    const { arches: _arches, ...recipe } = redisApp.recipes!.container![0]!;
    tx.putApp({ ...redisApp, recipes: { container: [recipe] } });
  });
  return store;
}

const off = { enabled: false };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

describe('wharf daemon (a real process)', () => {
  it('runs jobs on second schedules, serves /healthz, /metrics and hooks, and stops cleanly on SIGTERM', async () => {
    const recv: Receiver = await startReceiver(SECRET);
    cleanups.push(() => recv.close());
    const siteOut = await mkdtemp(join(tmpdir(), 'wharf-daemon-site-'));
    await writeFile(join(siteOut, 'index.html'), '<h1>marketplace</h1>\n');
    const store = await catalog(
      {
        jobs: {
          events: { schedule: '* * * * * *' },
          pipeline: { schedule: '*/2 * * * * *' },
          watch: off,
          rescan: off,
          site: off,
        },
        triggers: { github: { secretEnv: 'WHARF_DAEMON_HOOK' } },
        siteOut,
      },
      { subscriptions: [{ name: 'all', url: recv.url, secretEnv: 'WHARF_DAEMON_SECRET' }] },
    );
    const child: ResultPromise = execa(
      'node',
      [
        'scripts/wharf.mjs',
        'daemon',
        '--catalog',
        store.dir,
        '--port',
        '0',
        '--site-port',
        '0',
        '--json-logs',
      ],
      { env: { WHARF_DAEMON_SECRET: SECRET, WHARF_DAEMON_HOOK: HOOK }, reject: false, buffer: true },
    );
    cleanups.push(async () => child.kill('SIGKILL'));
    const lines: Record<string, unknown>[] = [];
    let url = '';
    let site = '';
    child.stdout!.on('data', (b: Buffer) => {
      for (const l of b.toString().split('\n').filter(Boolean)) {
        const j = JSON.parse(l) as Record<string, unknown>;
        lines.push(j);
        if (j.msg === 'daemon started') {
          url = j.url as string;
          site = j.site as string;
        }
      }
    });
    const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 20_000) => {
      const end = Date.now() + ms;
      while (!(await ok())) {
        if (Date.now() > end)
          throw new Error(`timed out waiting for ${what}; log: ${JSON.stringify(lines.slice(-5))}`);
        await sleep(50);
      }
    };
    await until('start', () => url !== '');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The marketplace is served too, and missing tools are named with how to add them.
    expect(await (await fetch(site)).text()).toContain('marketplace');
    expect(
      lines.some(
        (l) => l.msg === 'no Trivy: scans are recorded as not-run (never as clean) until it is installed',
      ),
    ).toBe(true);

    // The event job delivers the catalog's first event (app.added) within a second or two.
    await until('first delivery', () => recv.received.length >= 1);
    expect(recv.received[0]!.event.type).toBe('org.openeuler.wharf.app.added');
    expect(recv.received[0]!.verified).toBe(true);

    // A signed GitHub release queues a rebuild; its rebuild.queued/release.detected events follow.
    const body = JSON.stringify({
      action: 'published',
      release: { tag_name: '8.6.5' },
      repository: { full_name: 'redis/redis', html_url: 'https://github.com/redis/redis' },
    });
    const sig = `sha256=${createHmac('sha256', HOOK).update(body).digest('hex')}`;
    /** POST the release hook with this delivery id and signature header. */
    const postRelease = (delivery: string, signature: string) =>
      fetch(`${url}/hooks/github`, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'release',
          'x-github-delivery': delivery,
          'x-hub-signature-256': signature,
        },
      });
    const hook = await postRelease('x1', sig);
    expect(hook.status).toBe(202);
    const forged = await postRelease('x2', sig.replace(/.$/, '0'));
    expect(forged.status).toBe(401);
    const replayed = await postRelease('x1', sig);
    expect(replayed.status).toBe(409);
    // Delivery ids are remembered on disk, so a restart or a second daemon on this catalog refuses them too.
    const journal = join(store.dir, '.git', 'wharf-daemon', 'deliveries');
    const remembered = await Promise.all((await readdir(journal)).map((b) => readdir(join(journal, b))));
    expect(remembered.flat()).toHaveLength(1);
    // One commit: the app got a derived recipe, upstream has a new release, its artifact is pending.
    await until('release events', () => recv.received.length >= 4);
    expect(recv.received.slice(1, 4).map((r) => r.event.type)).toEqual([
      'org.openeuler.wharf.app.updated',
      'org.openeuler.wharf.release.detected',
      'org.openeuler.wharf.rebuild.queued',
    ]);

    const health = (await (await fetch(`${url}/healthz`)).json()) as {
      status: string;
      jobs: Record<string, { enabled: boolean; loaded: boolean; runs: number }>;
    };
    expect(health.jobs.events).toMatchObject({ enabled: true, loaded: true });
    expect(health.jobs.events!.runs).toBeGreaterThan(0);
    expect(health.jobs.watch!.enabled).toBe(false);
    await until('a pipeline run', () => lines.some((l) => l.msg === 'job pipeline finished'));

    // The receiver can see events before the delivery run that sent them returns and counts them.
    let metrics = '';
    await until('delivered events counted', async () => {
      metrics = await (await fetch(`${url}/metrics`)).text();
      return Number(/wharf_events_delivered_total (\d+)/.exec(metrics)?.[1] ?? 0) >= 4;
    });
    expect(metrics).toMatch(/wharf_job_runs_total\{job="events",outcome="success"\} [1-9]/);
    expect(metrics).toContain('wharf_triggers_total{forge="github",outcome="accepted"} 1');
    expect(metrics).toContain('wharf_triggers_total{forge="github",outcome="refused"} 2');
    expect(metrics).toMatch(/wharf_job_last_success_timestamp_seconds\{job="events"\} \d+/);
    expect(metrics).toContain('# TYPE wharf_job_duration_seconds histogram');

    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(lines.at(-1)).toMatchObject({ msg: 'daemon stopped', abandoned: [] });
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    expect(JSON.stringify(lines)).not.toContain(HOOK);
  });
});

describe('daemon scheduling', () => {
  const quiet = { watch: off, pipeline: off, rescan: off, site: off, events: off };

  it('never overlaps a job, lets two daemons share a catalog without both running it, and reports load failures', async () => {
    const store = await catalog({
      port: 0,
      jobs: { ...quiet, watch: { schedule: '0 0 1 1 *' }, rescan: { schedule: '0 0 1 1 *' } },
    });
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const slow: JobRun = async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      await sleep(300);
      running--;
      return {};
    };
    const loader = async (name: string): Promise<JobRun> => {
      throw new Error(`cannot load ${name}: module missing`);
    };
    const a = new Daemon({ store, jobs: { watch: slow }, loader });
    const b = new Daemon({ store, jobs: { watch: slow }, loader });
    await a.start();
    await b.start();
    cleanups.push(
      () => a.stop(1000),
      () => b.stop(1000),
    );
    await Promise.all([
      a.runJob('watch', 'manual'),
      a.runJob('watch', 'manual'),
      b.runJob('watch', 'manual'),
    ]);
    expect(runs).toBe(1);
    expect(maxRunning).toBe(1);
    const ma = await a.metrics.registry.getSingleMetricAsString('wharf_job_runs_total');
    const mb = await b.metrics.registry.getSingleMetricAsString('wharf_job_runs_total');
    expect(ma + mb).toContain('outcome="skipped_overlap"} 1');
    expect(ma + mb).toContain('outcome="skipped_locked"} 1');
    // After the run, the lock is free again.
    await b.runJob('watch', 'manual');
    expect(runs).toBe(2);

    const h = await a.health();
    expect(h.status).toBe('degraded');
    expect(h.jobs.rescan).toMatchObject({ loaded: false, loadError: 'cannot load rescan: module missing' });
    expect(h.jobs.watch).toMatchObject({ loaded: true });
  });

  it('on stop, waits for a running job within the grace period, or abandons it after', async () => {
    const store = await catalog({
      port: 0,
      jobs: { ...quiet, watch: { schedule: '0 0 1 1 *' }, pipeline: { schedule: '0 0 1 1 *' } },
    });
    let finished = false;
    let sawAbort = false;
    const polite: JobRun = async ({ signal }) => {
      // A stage-like loop that finishes its current step, then stops when asked.
      for (let i = 0; i < 50 && !signal.aborted; i++) await sleep(20);
      sawAbort = signal.aborted;
      finished = true;
      return {};
    };
    const stubborn: JobRun = async () => {
      await sleep(3000);
      return {};
    };
    const d = new Daemon({ store, jobs: { watch: polite, pipeline: stubborn } });
    await d.start();
    void d.runJob('watch', 'manual');
    await sleep(100);
    expect((await d.stop(2000)).abandoned).toEqual([]);
    expect(finished && sawAbort).toBe(true);

    const e = new Daemon({ store, jobs: { watch: polite, pipeline: stubborn } });
    await e.start();
    void e.runJob('pipeline', 'manual');
    await sleep(50);
    const t0 = Date.now();
    expect((await e.stop(300)).abandoned).toEqual(['pipeline']);
    // abandoned after the 300 ms grace period, not after the job's own (much longer) run
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
