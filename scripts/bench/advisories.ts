// bench:advisories — feed sync and match time for 1,000 installed packages × 20,000 synthetic advisories.
//
// A loopback HTTP server serves a feed in openEuler's layout (index.txt + YYYY/cvrf-….xml) whose 20,000
// documents are the real golang advisory (SA-2024-1488) with new ids, package names and versions; the
// first sync fetches and parses them all, the second is answered 304. Then 1,000 installed packages
// (a quarter of them below an advisory's fix) are matched against the index for 22.03-LTS-SP2.
// Prints one JSON line per measurement. Goal: match under 1 s.
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadIndex, syncFeed } from '../../publisher/advisories/feed.ts';
import { ReleaseMatcher } from '../../publisher/advisories/match.ts';
import type { InstalledPackage } from '../../publisher/advisories/packages.ts';

const ADVISORIES = Number(process.env.BENCH_ADVISORIES ?? 20_000);
const PACKAGES = Number(process.env.BENCH_PACKAGES ?? 1_000);
const SHARED = [resolve(import.meta.dirname, '../../../shared/data'), '/work/shared/data'];

async function template(): Promise<string> {
  for (const d of SHARED) {
    try {
      return await readFile(join(d, 'openeuler-security/cvrf/2024/cvrf-openEuler-SA-2024-1488.xml'), 'utf8');
    } catch {
      /* next */
    }
  }
  throw new Error('shared/data/openeuler-security not found');
}

/** Wall time and this process's CPU time (the VM is shared: CPU time is the steadier figure). */
function timer() {
  const t = performance.now();
  const c = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(c);
    return { ms: Math.round(performance.now() - t), cpuMs: Math.round((d.user + d.system) / 1000) };
  };
}

const pkgName = (i: number) => `pkg${String(i % PACKAGES).padStart(4, '0')}`;

/** Advisory i fixes package i % PACKAGES at release 10 + floor(i / PACKAGES). */
function doc(t: string, i: number): string {
  const id = `openEuler-SA-${2000 + Math.floor(i / 10_000)}-${String(i % 10_000).padStart(4, '0')}`;
  const rel = 10 + Math.floor(i / PACKAGES);
  return t
    .replaceAll('openEuler-SA-2024-1488', id)
    .replaceAll('golang-help-', `${pkgName(i)}-help-`)
    .replaceAll('golang-devel-', `${pkgName(i)}-devel-`)
    .replaceAll('golang-', `${pkgName(i)}-`)
    .replaceAll('1.17.3-32', `1.0.0-${rel}`)
    .replaceAll('1.15.7-43', `0.9.0-${rel}`);
}

const t = await template();
const paths = Array.from({ length: ADVISORIES }, (_, i) => `${2000 + Math.floor(i / 10_000)}/cvrf-${i}.xml`);
const index = paths.join('\n') + '\n';
const server = createServer((req, res) => {
  const p = (req.url ?? '/').replace(/^\/cvrf\//, '');
  if (p === 'index.txt') {
    if (req.headers['if-none-match'] === '"idx"') return res.writeHead(304).end();
    return res.writeHead(200, { etag: '"idx"' }).end(index);
  }
  const m = /^\d{4}\/cvrf-(\d+)\.xml$/.exec(p);
  if (!m) return res.writeHead(404).end();
  const etag = `"d${m[1]}"`;
  if (req.headers['if-none-match'] === etag) return res.writeHead(304).end();
  res.writeHead(200, { etag }).end(doc(t, Number(m[1])));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const port = (server.address() as { port: number }).port;
const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-adv-'));
try {
  const url = `http://127.0.0.1:${port}/cvrf/`;
  let done = timer();
  const first = await syncFeed({ url, dir, concurrency: 16 });
  console.log(
    JSON.stringify({
      what: 'feed sync (cold)',
      advisories: first.advisories,
      documents: first.documents,
      fetched: first.fetched,
      problems: first.problems.length,
      ...done(),
      note: 'cpuMs includes the loopback server in this process',
    }),
  );
  done = timer();
  const second = await syncFeed({ url, dir });
  console.log(
    JSON.stringify({
      what: 'feed sync (unchanged, 304)',
      requests: second.requests,
      fetched: second.fetched,
      ...done(),
    }),
  );

  done = timer();
  const idx = (await loadIndex(dir))!;
  const load = done();
  const packages: InstalledPackage[] = Array.from({ length: PACKAGES }, (_, i) => ({
    name: pkgName(i),
    epoch: 0,
    version: '1.0.0',
    // a quarter of the packages are older than the oldest fix (release 10)
    release: `${i % 4 === 0 ? 5 : 10 + Math.ceil(ADVISORIES / PACKAGES)}.oe2203sp2`,
    arch: 'x86_64',
    sourceRpm: `${pkgName(i)}-1.0.0-1.oe2203sp2.src.rpm`,
    license: 'MIT',
  }));
  done = timer();
  const matcher = new ReleaseMatcher(Object.values(idx.advisories), '22.03-LTS-SP2');
  const findings = matcher.match(packages);
  const match = done();
  console.log(
    JSON.stringify({
      what: 'match',
      packages: PACKAGES,
      advisories: Object.keys(idx.advisories).length,
      findings: findings.length,
      indexLoad: load,
      match,
      goal: 'match (matcher build + match) < 1000 ms',
      ok: match.ms < 1000,
    }),
  );
} finally {
  server.close();
  await rm(dir, { recursive: true, force: true });
}
