// Benchmark: a sweep over 10,000 http-regex upstreams on one loopback server, then a second sweep
// where nothing changed (conditional requests → 304). The HTTP server runs in its own child process and
// each sweep runs in a fresh child process, so time and peak RSS belong to the sweep alone.
//   npm run bench:watch [-- --apps 10000]
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { runSweep } from '../../publisher/watch/sweep.ts';

const self = fileURLToPath(import.meta.url);
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/** Child: the upstream server. Page n lists three releases with an ETag; If-None-Match → 304. */
function serve(): void {
  const server = createServer((req, res) => {
    const m = /^\/p\/(\d+)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    const n = Number(m[1]);
    const etag = `"p${n}-v1"`;
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
    const minor = n % 7;
    const body = `<html><body><h1>app${n}</h1><ul>${[0, 1, 2]
      .map((p) => `<li><a href="/dl/app${n}-1.${minor}.${p}.tar.gz">app${n}-1.${minor}.${p}.tar.gz</a></li>`)
      .join('')}</ul></body></html>`;
    res
      .writeHead(200, { 'content-type': 'text/html', etag, 'content-length': Buffer.byteLength(body) })
      .end(body);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    process.stdout.write(`${typeof a === 'object' && a ? a.port : 0}\n`);
  });
}

/** Child: one sweep over the catalog; prints its figures as JSON. */
async function sweep(dir: string): Promise<void> {
  const store = await CatalogStore.open(dir);
  const r = await runSweep(store, { env: {} });
  const usage = process.resourceUsage();
  process.stdout.write(
    JSON.stringify({
      ms: r.durationMs,
      loadMs: r.loadMs,
      checkMs: r.checkMs,
      commitMs: r.commitMs,
      written: r.written,
      requests: r.http.requests,
      notModified: r.http.notModified,
      checked: r.checked,
      new: r.new,
      errors: r.errors,
      peakRssMb: Math.round(usage.maxRSS / 1024),
      commit: r.commit,
    }) + '\n',
  );
}

const s = (ms: number) => (ms / 1000).toFixed(2);

async function main(): Promise<void> {
  const apps = Number(arg('--apps') ?? 10_000);
  const server = spawn(process.execPath, [self, '--server'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    server.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    server.once('exit', () => reject(new Error('bench server exited')));
  });
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-watch-'));
  try {
    const t0 = performance.now();
    const store = await CatalogStore.init(dir, {
      watch: { concurrency: 64, perHost: 32, timeoutMs: 30_000 },
    } as never);
    await store.commit({ subject: 'bench: seed apps' }, (tx) => {
      for (let i = 0; i < apps; i++) {
        const id = `app${i}`;
        const minor = i % 7;
        tx.putApp({
          id,
          name: id,
          title: { en: id },
          category: 'tools',
          upstream: {
            backend: 'http-regex',
            url: `http://127.0.0.1:${port}/p/${i}`,
            regex: `app${i}-([0-9.]+)\\.tar\\.gz`,
            scheme: 'semver',
          },
          // Every 10th app is one release behind, so the first sweep also derives pending work.
          recipes: {
            container: [
              {
                kind: 'container',
                tag: `1.${minor}.${i % 10 === 0 ? 1 : 2}-oe2403sp4`,
                version: `1.${minor}.${i % 10 === 0 ? 1 : 2}`,
                osVersion: '24.03-lts-sp4',
                dockerfile: `1.${minor}/24.03-lts-sp4/Dockerfile`,
              },
            ],
          },
        });
      }
    });
    // Flush the seed's dirty pages first: otherwise the first sweep's writes queue behind their writeback.
    await execa('sync');
    console.log(
      `catalog: ${apps} apps seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s (not timed below)`,
    );
    for (const label of ['first sweep ', 'second sweep']) {
      const r = await execa('node', [self, '--sweep', dir], { stderr: 'inherit' });
      const f = JSON.parse(r.stdout) as Record<
        | 'ms'
        | 'loadMs'
        | 'checkMs'
        | 'commitMs'
        | 'written'
        | 'requests'
        | 'notModified'
        | 'checked'
        | 'new'
        | 'errors'
        | 'peakRssMb',
        number
      >;
      const pct = f.requests ? ((100 * f.notModified) / f.requests).toFixed(1) : '0';
      console.log(
        `${label}: ${f.checked} apps, checks ${s(f.checkMs)} s (catalog load ${s(f.loadMs)} s, commit ${s(f.commitMs)} s ` +
          `of ${f.written} upstream.json; total ${s(f.ms)} s), ${f.requests} requests, ${f.notModified} answered 304 ` +
          `(${pct}%), ${f.new} new, ${f.errors} errors, peak RSS ${f.peakRssMb} MB`,
      );
    }
  } finally {
    server.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--server')) serve();
else if (process.argv.includes('--sweep')) await sweep(arg('--sweep')!);
else await main();
