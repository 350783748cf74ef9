// Concurrency limits for one client: a global limit on requests in flight and a per-host one (the
// politeness limit), plus per-host "do not ask before" times set by rate-limit answers.
import pLimit, { type LimitFunction } from 'p-limit';
import { HttpError } from './errors.ts';
import { sleep } from './retry.ts';

export class HostLimits {
  private readonly global: LimitFunction;
  private readonly perHost: number;
  private readonly hosts = new Map<string, LimitFunction>();
  /** Host → time until which requests wait (a rate-limit reset seen on an earlier response). */
  private readonly blockedUntil = new Map<string, number>();

  constructor(opts: { concurrency: number; perHost: number }) {
    this.global = pLimit(opts.concurrency);
    this.perHost = opts.perHost;
  }

  /** Run `fn` under the host's limit and the global one. */
  run<T>(host: string, fn: () => Promise<T>): Promise<T> {
    let l = this.hosts.get(host);
    if (!l) this.hosts.set(host, (l = pLimit(this.perHost)));
    return l(() => this.global(fn));
  }

  block(host: string, untilMs: number): void {
    this.blockedUntil.set(host, untilMs);
  }

  /** Wait until the host may be asked again; fail when that is further away than `maxWaitMs`. */
  async wait(host: string, url: string, maxWaitMs: number): Promise<void> {
    const until = this.blockedUntil.get(host);
    if (!until) return;
    const ms = until - Date.now();
    if (ms <= 0) return void this.blockedUntil.delete(host);
    if (ms > maxWaitMs) throw new HttpError(url, `rate limited until ${new Date(until).toISOString()}`, 429);
    await sleep(ms);
  }
}
