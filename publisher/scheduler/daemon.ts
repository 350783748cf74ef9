// `wharf daemon` as a library: node-cron schedules for the jobs, no overlapping runs of one job (in this
// process: a running flag; across daemons on the same catalog: a job lock file), an HTTP server on a
// loopback port with /healthz, /metrics and the webhook endpoint, and a graceful stop: no new runs,
// running jobs get `graceSeconds` to finish (their signal is aborted so long stages can stop at a step
// boundary), then they are abandoned. Records are committed atomically by the store, so abandoning a job
// never leaves a half-written record.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import cron, { type ScheduledTask } from 'node-cron';
import { isHeld, tryFileLock } from '../../catalog/lock.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import { JOB_NAMES, parseDaemonConfig, type DaemonConfig, type JobName } from './config.ts';
import { loadJob, SUBSYSTEM, type JobLogger, type JobRun, type JobSummary } from './jobs.ts';
import { DaemonMetrics } from './metrics.ts';

export interface DaemonLog {
  (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export interface DaemonOptions {
  store: CatalogStore;
  /** Overrides of wharf.yml's daemon section (CLI flags). */
  overrides?: Partial<Pick<DaemonConfig, 'host' | 'port' | 'sitePort' | 'siteOut'>>;
  log?: DaemonLog;
  env?: NodeJS.ProcessEnv;
  /** Replace job implementations (tests). */
  jobs?: Partial<Record<JobName, JobRun>>;
  /** How a job's subsystem is loaded (default: lazy import, see jobs.ts). */
  loader?: (name: JobName) => Promise<JobRun>;
}

interface JobState {
  name: JobName;
  enabled: boolean;
  schedule: string;
  task?: ScheduledTask;
  run?: JobRun;
  loadError?: string;
  running: Promise<void> | null;
  /** Asked to run again as soon as the current run ends (a kick during a run). */
  again: boolean;
  lastStart?: string;
  lastEnd?: string;
  lastSuccess?: string;
  lastError?: string;
  lastSummary?: JobSummary;
  runs: number;
  failures: number;
}

export class Daemon {
  readonly store: CatalogStore;
  readonly metrics = new DaemonMetrics();
  cfg!: DaemonConfig;
  private readonly opts: DaemonOptions;
  private readonly log: DaemonLog;
  private readonly jobs = new Map<JobName, JobState>();
  private readonly abort = new AbortController();
  private server: Server | null = null;
  private siteServer: Server | null = null;
  siteUrl = '';
  private hooks: ((req: IncomingMessage, res: ServerResponse, forge: string) => Promise<void>) | null = null;
  private hooksError: string | undefined;
  /** Which apps a webhook's repository stands for, kept fresh by the catalog HEAD (triggers/app-index.ts). */
  private appIndex: import('../triggers/app-index.ts').AppIndex | null = null;
  /** Accepted rebuild requests, recorded before the 202 and committed in batches (triggers/spool.ts). */
  private spool: import('../triggers/spool.ts').RebuildSpool | null = null;
  private stopping = false;
  private readonly siteHead: { value: string | null | undefined } = { value: undefined };
  private startedAt = new Date().toISOString();
  url = '';

  constructor(opts: DaemonOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.log = opts.log ?? (() => {});
  }

  /** Validate the configuration, load subsystems, start the server and the schedules. */
  async start(): Promise<void> {
    const config = await this.store.config();
    this.cfg = { ...parseDaemonConfig(config.daemon), ...this.opts.overrides };
    for (const name of JOB_NAMES) {
      const jc = this.cfg.jobs[name];
      const st: JobState = {
        name,
        enabled: jc.enabled,
        schedule: jc.schedule,
        running: null,
        again: false,
        runs: 0,
        failures: 0,
      };
      this.jobs.set(name, st);
      if (jc.enabled) await this.ensureLoaded(st);
    }
    await this.loadHooks(config.daemon?.triggers);
    await this.listen();
    if (this.cfg.sitePort !== undefined) await this.serveSite();
    await this.preflight();
    for (const st of this.jobs.values()) {
      if (!st.enabled) continue;
      st.task = cron.schedule(st.schedule, () => void this.runJob(st.name, 'schedule'), {
        name: `wharf-${st.name}`,
        logger: this.cronLogger(st.name),
      });
    }
    this.log('info', 'daemon started', {
      url: this.url,
      ...(this.siteUrl ? { site: this.siteUrl } : {}),
      catalog: this.store.dir,
      jobs: Object.fromEntries(
        [...this.jobs.values()].map((j) => [j.name, j.enabled ? j.schedule : 'disabled']),
      ),
    });
  }

  /** Serve the built site (rebuilt in place by the site job); an empty directory until the first build. */
  private async serveSite(): Promise<void> {
    const { serveSite, DEFAULT_OUT } = await Promise.all([
      import('../../site/node/serve.ts'),
      import('../../site/node/build.ts'),
    ]).then(([a, b]) => ({ serveSite: a.serveSite, DEFAULT_OUT: b.DEFAULT_OUT }));
    const dir = resolve(this.cfg.siteOut ?? DEFAULT_OUT);
    await mkdir(dir, { recursive: true });
    const { server, url } = await serveSite({ dir, port: this.cfg.sitePort!, host: this.cfg.host });
    this.siteServer = server;
    this.siteUrl = url;
  }

  /** Say what will not work on this machine, and how to add it (the daemon runs anyway). */
  private async preflight(): Promise<void> {
    const jobs = this.cfg.jobs;
    if (jobs.pipeline.enabled || jobs.rescan.enabled) {
      try {
        const { connectEngine, pingEngine } = await import('../engine/index.ts');
        const h = connectEngine(this.cfg.engine);
        await pingEngine(h, 3000).catch((e: Error) =>
          this.log('warn', 'no container engine: the pipeline job skips pending builds until one answers', {
            engine: h.address,
            error: e.message.slice(0, 200),
            howto:
              'install podman and run `podman system service --time=0 unix:///run/user/$UID/podman/podman.sock`, or set daemon.engine / DOCKER_HOST',
          }),
        );
      } catch {
        /* the pipeline job reports its own load failure */
      }
      const trivy = this.opts.env?.WHARF_TRIVY ?? process.env.WHARF_TRIVY ?? 'trivy';
      const found = await execa(trivy, ['--version'], { reject: false, timeout: 10_000 }).catch(() => null);
      if (!found || found.exitCode !== 0)
        this.log('warn', 'no Trivy: scans are recorded as not-run (never as clean) until it is installed', {
          trivy,
          howto: 'install Trivy (https://trivy.dev) on PATH or set WHARF_TRIVY to its path',
        });
    }
  }

  /** node-cron's own messages (e.g. a tick missed under load) go to our log, never raw to the console. */
  private cronLogger(job: JobName) {
    const text = (m: string | Error) => (m instanceof Error ? m.message : m);
    return {
      info: () => {},
      debug: () => {},
      warn: (m: string) => this.log('warn', `scheduler: ${m}`, { job }),
      error: (m: string | Error) => this.log('error', `scheduler: ${text(m)}`, { job }),
    };
  }

  private async ensureLoaded(st: JobState): Promise<JobRun | undefined> {
    if (st.run) return st.run;
    const given = this.opts.jobs?.[st.name];
    try {
      st.run = given ?? (await (this.opts.loader ?? loadJob)(st.name));
      st.loadError = undefined;
      this.metrics.subsystem.set({ subsystem: SUBSYSTEM[st.name] }, 1);
    } catch (e) {
      st.loadError = (e as Error).message.split('\n')[0]!.slice(0, 300);
      this.metrics.subsystem.set({ subsystem: SUBSYSTEM[st.name] }, 0);
      this.log('error', `job ${st.name}: ${SUBSYSTEM[st.name]} failed to load`, { error: st.loadError });
    }
    return st.run;
  }

  private async loadHooks(raw: unknown): Promise<void> {
    try {
      const t = await import('../triggers/index.ts');
      const config = t.parseTriggersConfig(raw);
      this.appIndex = new t.AppIndex(this.store);
      // Shared by restarts and by every daemon on this catalog (GitHub/GitLab sign no timestamp).
      const replay = new t.FileReplayGuard(join(this.store.dir, '.git', 'wharf-daemon', 'deliveries'));
      // Shared by every daemon on this catalog: a daemon that died leaves its requests to the next.
      this.spool = new t.RebuildSpool(this.store, {
        dir: join(this.store.dir, '.git', 'wharf-daemon', 'spool'),
        // A request whose id a redelivery took over after a crash is not applied twice.
        deliveries: replay,
        log: (level, msg, fields) => this.log(level, msg, fields),
        // A batch of queued rebuilds is a catalog commit: tell subscribers soon.
        onBatch: (r) => {
          if (r.commit) this.kick('events');
        },
      });
      await this.spool.start();
      this.hooks = t.createHookHandler({
        store: this.store,
        config,
        index: this.appIndex,
        spool: this.spool,
        replay,
        ...(this.opts.env ? { env: this.opts.env } : {}),
        log: (l) => {
          // Bounded labels: three forges or "unknown", three outcomes; /hooks/<anything> adds no series.
          const forge = (t.FORGES as readonly string[]).includes(l.forge) ? l.forge : 'unknown';
          this.metrics.triggers.inc({ forge, outcome: l.outcome });
          this.log(l.outcome === 'accepted' ? 'info' : 'warn', `hook ${l.forge} ${l.status}`, { ...l });
        },
      });
      this.metrics.subsystem.set({ subsystem: 'publisher/triggers' }, 1);
    } catch (e) {
      this.hooksError = (e as Error).message.slice(0, 300);
      this.metrics.subsystem.set({ subsystem: 'publisher/triggers' }, 0);
      this.log('error', 'publisher/triggers failed to load; /hooks answers 503', { error: this.hooksError });
    }
  }

  /** Run a job now (unless it is running; then once more right after). */
  kick(name: JobName): void {
    const st = this.jobs.get(name);
    if (!st?.enabled || this.stopping) return;
    if (st.running) st.again = true;
    else void this.runJob(name, 'kick');
  }

  /** One run of a job, unless it is already running here or another daemon holds its lock. */
  async runJob(name: JobName, why: 'schedule' | 'kick' | 'manual'): Promise<void> {
    const st = this.jobs.get(name)!;
    if (this.stopping) return;
    if (st.running) {
      this.metrics.jobRuns.inc({ job: name, outcome: 'skipped_overlap' });
      if (why === 'kick') st.again = true;
      return;
    }
    st.running = this.runOnce(st, why).finally(() => {
      st.running = null;
      if (st.again && !this.stopping) {
        st.again = false;
        void this.runJob(name, 'kick');
      }
    });
    return st.running;
  }

  private async runOnce(st: JobState, why: string): Promise<void> {
    const run = await this.ensureLoaded(st);
    if (!run) {
      this.metrics.jobRuns.inc({ job: st.name, outcome: 'failure' });
      st.failures++;
      st.lastError = `not loaded: ${st.loadError}`;
      return;
    }
    // Shared by every daemon on this catalog. A job another daemon runs is skipped, not waited for; the
    // lock of a daemon that died is taken over (other host: after 6 hours).
    const lockDir = join(this.store.dir, '.git', 'wharf-daemon');
    await mkdir(lockDir, { recursive: true });
    const lock = await tryFileLock(join(lockDir, `${st.name}.lock`), { staleMs: 6 * 3600_000 });
    if (!isHeld(lock)) {
      this.metrics.jobRuns.inc({ job: st.name, outcome: 'skipped_locked' });
      this.log('info', `job ${st.name} skipped: running in another daemon`, {
        holder: `${lock.host}:${lock.pid}`,
      });
      return;
    }
    const headBefore = await this.store.head();
    const t0 = performance.now();
    st.lastStart = new Date().toISOString();
    st.runs++;
    this.metrics.running.set({ job: st.name }, 1);
    const log: JobLogger = {
      info: (m, f) => this.log('info', `${st.name}: ${m}`, f),
      warn: (m, f) => this.log('warn', `${st.name}: ${m}`, f),
    };
    try {
      const summary = await run({
        store: this.store,
        cfg: this.cfg,
        signal: this.abort.signal,
        log,
        metrics: this.metrics,
        siteHead: this.siteHead,
      });
      const secs = (performance.now() - t0) / 1000;
      st.lastSuccess = st.lastEnd = new Date().toISOString();
      st.lastSummary = summary;
      st.lastError = undefined;
      this.metrics.jobRuns.inc({ job: st.name, outcome: 'success' });
      this.metrics.lastSuccess.set({ job: st.name }, Math.floor(Date.now() / 1000));
      this.metrics.jobDuration.observe({ job: st.name }, secs);
      this.log('info', `job ${st.name} finished`, { why, seconds: Number(secs.toFixed(3)), ...summary });
    } catch (e) {
      const secs = (performance.now() - t0) / 1000;
      st.lastEnd = new Date().toISOString();
      st.failures++;
      st.lastError = (e as Error).message.split('\n')[0]!.slice(0, 500);
      this.metrics.jobRuns.inc({ job: st.name, outcome: 'failure' });
      this.metrics.jobDuration.observe({ job: st.name }, secs);
      this.log('error', `job ${st.name} failed`, {
        why,
        seconds: Number(secs.toFixed(3)),
        error: st.lastError,
      });
    } finally {
      this.metrics.running.set({ job: st.name }, 0);
      await lock.release();
    }
    // New catalog commits: turn them into events (and deliver them) now rather than at the next tick.
    if (st.name !== 'events' && (await this.store.head()) !== headBefore) this.kick('events');
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => void this.route(req, res));
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.cfg.port, this.cfg.host, () => resolve());
    });
    this.server = server;
    const a = server.address() as { port: number };
    const host = this.cfg.host.includes(':') ? `[${this.cfg.host}]` : this.cfg.host;
    this.url = `http://${host}:${a.port}`;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
        const h = await this.health();
        const body = JSON.stringify(h, null, 2) + '\n';
        res.writeHead(h.status === 'stopping' ? 503 : 200, {
          'content-type': 'application/json; charset=utf-8',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      if (path === '/metrics' && req.method === 'GET') {
        const text = await this.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
        res.end(text);
        return;
      }
      const hook = /^\/hooks\/([a-z]+)$/.exec(path);
      if (hook) {
        if (this.stopping || !this.hooks) {
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '30' });
          res.end(JSON.stringify({ error: this.stopping ? 'shutting down' : 'triggers unavailable' }) + '\n');
          req.resume();
          return;
        }
        await this.hooks(req, res, hook[1]!);
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}\n');
      req.resume();
    } catch (e) {
      this.log('error', 'request failed', { path, error: (e as Error).message.slice(0, 300) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"internal error"}\n');
    }
  }

  async health() {
    const jobs = Object.fromEntries(
      [...this.jobs.values()].map((j) => [
        j.name,
        {
          enabled: j.enabled,
          schedule: j.schedule,
          subsystem: SUBSYSTEM[j.name],
          loaded: !j.loadError && (!!j.run || !j.enabled),
          ...(j.loadError ? { loadError: j.loadError } : {}),
          running: !!j.running,
          runs: j.runs,
          failures: j.failures,
          ...(j.lastSuccess ? { lastSuccess: j.lastSuccess } : {}),
          ...(j.lastError ? { lastError: j.lastError } : {}),
          ...(j.lastSummary ? { lastSummary: j.lastSummary } : {}),
        },
      ]),
    );
    const degraded =
      [...this.jobs.values()].some((j) => j.enabled && (j.loadError || j.lastError)) || !this.hooks;
    return {
      status: this.stopping ? 'stopping' : degraded ? 'degraded' : 'ok',
      pid: process.pid,
      startedAt: this.startedAt,
      catalog: this.store.dir,
      head: await this.store.head(),
      triggers: this.hooks
        ? {
            loaded: true,
            ...(this.appIndex ? { index: { apps: this.appIndex.size, ...this.appIndex.stats } } : {}),
            ...(this.spool ? { spool: { backlog: await this.spool.backlog(), ...this.spool.stats } } : {}),
          }
        : { loaded: false, error: this.hooksError },
      jobs,
    };
  }

  /**
   * Stop scheduling, give running jobs `graceSeconds` to finish, then abandon them (their signal is
   * aborted at once so stages that honour it stop at their next step). Returns the jobs abandoned.
   */
  async stop(graceMs = this.cfg.graceSeconds * 1000): Promise<{ abandoned: JobName[] }> {
    if (this.stopping) return { abandoned: [] };
    this.stopping = true;
    for (const st of this.jobs.values()) await st.task?.destroy();
    this.abort.abort();
    const running = [...this.jobs.values()].filter((j) => j.running);
    if (running.length)
      this.log('info', 'waiting for running jobs', { jobs: running.map((j) => j.name), graceMs });
    const all = Promise.all(running.map((j) => j.running!.catch(() => {})));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
    ]);
    clearTimeout(timer);
    const abandoned = timedOut ? running.filter((j) => j.running).map((j) => j.name) : [];
    // The spool's commit in progress gets the same grace; what is not committed replays on the next start.
    if (this.spool) {
      let t2: NodeJS.Timeout | undefined;
      await Promise.race([
        this.spool.stop(),
        new Promise((r) => (t2 = setTimeout(r, timedOut ? 1000 : graceMs))),
      ]);
      clearTimeout(t2);
    }
    if (abandoned.length) this.log('warn', 'abandoning jobs after the grace period', { jobs: abandoned });
    for (const srv of [this.server, this.siteServer]) {
      if (!srv) continue;
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
    this.log('info', 'daemon stopped', { abandoned });
    return { abandoned };
  }
}
