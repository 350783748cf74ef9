// npm run bench:catalog — catalog load time and git growth.
//
// 1. Load time of the imported seed catalog (444 apps) and of a synthetic 10,000-app catalog
//    (each app: app.yml with 3 recipes, upstream.json, 2 artifact records with stage records).
//    Goal: the 10,000-app load under 2 s on 2 cores.
// 2. Git size after 100 simulated pipeline runs on 444 apps × 10 versions (goal < 50 MB), see
//    simulateRuns() for what a run writes. Full reports, SBOMs and logs go to the blob store (not git);
//    git holds records with summaries and finding lists.
//
// Output: plain "name: value" lines. Options: --apps N (synthetic size), --runs N, --keep (leave dirs).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { importOpenEuler } from '../../catalog/import/openeuler.ts';
import { FsBlobStore } from '../../catalog/blobs.ts';
import type { AppInput, Artifact, Finding, ScanRecord, Severity } from '../../catalog/schema.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SYNTH_APPS = opt('apps', 10_000);
const RUNS = opt('runs', 100);
const VERSIONS = 10;
const keep = args.includes('--keep');
/** Keep finding lists only in the blob store (records keep summary + new/fixed ids). */
const FINDINGS_IN_BLOB = args.includes('--findings-in-blob');
const SEED = resolve(import.meta.dirname, '../../catalog/seed/openeuler-images');

// Deterministic pseudo-random numbers so every bench run simulates the same history.
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');

function line(name: string, value: string): void {
  console.log(`${name}: ${value}`);
}

/** Cold: first load (every file parsed and validated); warm: median of 3 loads at the same HEAD (snapshot cache). */
async function timeLoad(
  dir: string,
): Promise<{ cold: number; warm: number; apps: number; problems: number }> {
  await rm(join(dir, '.git', 'wharf-snapshot.v8'), { force: true });
  const timed = async () => {
    const store = await CatalogStore.open(dir);
    const t0 = performance.now();
    const snap = await store.load();
    return { ms: performance.now() - t0, apps: snap.apps.size, problems: snap.problems.length };
  };
  const cold = await timed();
  const warm = [await timed(), await timed(), await timed()].map((x) => x.ms).sort((a, b) => a - b);
  return { cold: cold.ms, warm: warm[1]!, apps: cold.apps, problems: cold.problems };
}

async function gitSize(dir: string): Promise<{ sizePack: string; count: string; bytes: number }> {
  // No background auto-gc racing the explicit one (commits trigger `gc --auto`).
  await execa('git', ['config', 'gc.auto', '0'], { cwd: dir });
  await execa('git', ['gc', '-q', '--force', '--prune=now'], { cwd: dir });
  const out = (await execa('git', ['count-objects', '-vH'], { cwd: dir })).stdout;
  const raw = (await execa('git', ['count-objects', '-v'], { cwd: dir })).stdout;
  const kib = Number(/size-pack: (\d+)/.exec(raw)?.[1] ?? 0) + Number(/size: (\d+)/.exec(raw)?.[1] ?? 0);
  return {
    sizePack: /size-pack: (.+)/.exec(out)?.[1] ?? '?',
    count: /in-pack: (\d+)/.exec(out)?.[1] ?? '?',
    bytes: kib * 1024,
  };
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MB`;
const dig = () => `sha256:${hex(64)}`;
const now = (run: number, minute = 0) =>
  new Date(Date.UTC(2026, 0, 1) + run * 86_400_000 + minute * 60_000).toISOString();
const runId = (run: number) =>
  `${now(run)
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${hex(6)}`;

// ------------------------------------------------------------------ synthetic 10,000-app catalog

function synthApp(i: number): AppInput {
  const id = `app-${String(i).padStart(5, '0')}`;
  return {
    id,
    name: id,
    title: { zh: `应用 ${i}`, en: `App ${i}` },
    summary: { zh: '一个用于基准测试的合成应用。', en: 'A synthetic app for the load benchmark.' },
    description: {
      zh: '合成应用的较长描述。'.repeat(8),
      en: 'A longer description of a synthetic app. '.repeat(8),
    },
    category: pick(['ai', 'bigdata', 'cloud', 'database', 'hpc', 'others', 'storage']),
    scene: 'Others',
    homepage: `https://example.org/${id}`,
    license: { spdx: 'Apache-2.0', text: 'Apache-2.0 license' },
    upstream: { backend: 'github', repo: `example/${id}`, scheme: 'semver' },
    recipes: {
      container: ['1.0.0', '1.1.0', '2.0.0'].map((v) => ({
        kind: 'container' as const,
        tag: `${v}-oe2403sp4`,
        dockerfile: `${v}/24.03-lts-sp4/Dockerfile`,
        version: v,
        osVersion: '24.03-lts-sp4',
      })),
    },
    docs: { usage: { zh: '```\ndocker run openeuler/' + id + ':{Tag}\n```\n' } },
  };
}

function artifactWithRecords(app: string, version: string, run: number, findings: Finding[]): Artifact {
  const rid = runId(run);
  const digest = dig();
  return {
    app,
    kind: 'container',
    id: `${version}-oe2403sp4`,
    version,
    osVersion: '24.03-lts-sp4',
    arches: ['amd64', 'arm64'],
    records: {
      build: {
        runId: rid,
        at: now(run, 1),
        status: 'ok',
        manifestDigest: digest,
        inputsDigest: dig(),
        arches: ['amd64', 'arm64'],
        durationMs: 90_000,
      },
      verify: {
        runId: rid,
        at: now(run, 3),
        status: 'passed',
        checks: [{ name: 'starts', status: 'passed', durationMs: 1200 }],
      },
      scan: scanRecord(rid, now(run, 4), digest, findings, [], []),
      sign: {
        runId: rid,
        at: now(run, 5),
        status: 'signed',
        keyId: hex(64),
        signatures: [
          {
            target: 'hub',
            ref: `docker.io/openeuler/${app}:${version}-oe2403sp4`,
            digest,
            signatureTag: `sha256-${digest.slice(7)}.sig`,
          },
        ],
      },
      publish: {
        runId: rid,
        at: now(run, 6),
        status: 'ok',
        digest,
        targets: [
          { target: 'hub', ref: `docker.io/openeuler/${app}:${version}-oe2403sp4`, status: 'ok', digest },
        ],
      },
    },
  };
}

async function buildSynthetic(dir: string, n: number): Promise<void> {
  const store = await CatalogStore.init(dir);
  await store.commit({ subject: `bench: ${n} synthetic apps` }, (tx) => {
    for (let i = 0; i < n; i++) {
      const a = tx.putApp(synthApp(i));
      tx.putUpstream(a.id, { latest: '2.0.0', known: ['1.0.0', '1.1.0', '2.0.0'], lastChecked: now(0) });
      for (const v of ['1.1.0', '2.0.0'])
        tx.putArtifact(artifactWithRecords(a.id, v, 0, findingsFor(a.id, 6)));
    }
  });
}

// ------------------------------------------------------------------ findings and records

const SEVERITY_MIX: Severity[] = [
  'CRITICAL',
  'HIGH',
  'HIGH',
  'MEDIUM',
  'MEDIUM',
  'MEDIUM',
  'LOW',
  'LOW',
  'UNKNOWN',
];
const PKGS = [
  'openssl',
  'glibc',
  'zlib',
  'curl',
  'libxml2',
  'python3',
  'sqlite',
  'expat',
  'krb5',
  'systemd',
  'ncurses',
  'bash',
  'libgcrypt',
  'gnutls',
  'perl',
];

function finding(): Finding {
  const pkg = pick(PKGS);
  const fixed = rand() < 0.6;
  const year = 2023 + Math.floor(rand() * 4);
  return {
    id:
      rand() < 0.5
        ? `CVE-${year}-${10000 + Math.floor(rand() * 40000)}`
        : `openEuler-SA-${year}-${1000 + Math.floor(rand() * 2000)}`,
    pkg,
    installed: `${1 + Math.floor(rand() * 3)}.${Math.floor(rand() * 20)}.${Math.floor(rand() * 10)}-${1 + Math.floor(rand() * 9)}.oe2403sp4`,
    ...(fixed ? { fixed: `${2 + Math.floor(rand() * 3)}.0.1-1.oe2403sp4` } : {}),
    severity: pick(SEVERITY_MIX),
    status: fixed ? 'fixed' : 'affected',
    title: `${pkg}: ${pick(['buffer overflow', 'use after free', 'integer overflow', 'denial of service', 'information disclosure'])} in ${pick(['parser', 'decoder', 'TLS handshake', 'resolver'])}`,
  };
}

const findingCache = new Map<string, Finding[]>();
/** A stable base list of findings per image (a typical openEuler image: ~0–40). */
function findingsFor(key: string, max = 40): Finding[] {
  let f = findingCache.get(key);
  if (!f) {
    f = Array.from({ length: Math.floor(rand() * max) }, finding).sort((a, b) => a.id.localeCompare(b.id));
    findingCache.set(key, f);
  }
  return f;
}

function counts(f: Finding[], fixable: boolean) {
  const c = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 };
  for (const x of f) if (!fixable || x.fixed) c[x.severity]++;
  return c;
}

function scanRecord(
  rid: string,
  at: string,
  target: string,
  findings: Finding[],
  added: string[],
  fixed: string[],
  report?: ScanRecord['report'],
  sbom?: ScanRecord['sbom'],
): ScanRecord {
  const blocked = findings.some((f) => f.severity === 'CRITICAL' && f.fixed);
  return {
    runId: rid,
    at,
    status: 'ok',
    scanner: { name: 'trivy', version: '0.58.1', dbUpdatedAt: at },
    target,
    os: { family: 'openEuler', name: '24.03-LTS-SP4' },
    summary: { total: counts(findings, false), fixable: counts(findings, true) },
    ...(FINDINGS_IN_BLOB ? {} : { findings }),
    ...(added.length ? { newSinceLast: added } : {}),
    ...(fixed.length ? { fixedSinceLast: fixed } : {}),
    policy: { blocked, reasons: blocked ? ['fixable CRITICAL'] : [], waived: [] },
    ...(report ? { report } : {}),
    ...(sbom ? { sbom } : {}),
  };
}

// ------------------------------------------------------------------ 100 simulated pipeline runs

/**
 * The simulation, per run (one run = one day of the pipeline):
 * - ~5% of the 4,440 artifacts (a new upstream release or a rebuild for a fixed base) go through
 *   build → verify → scan → sign → publish, each stage writing its record (new digests); their
 *   findings start from the app's current list (same packages, same base OS) with some drift;
 * - every app's latest artifact (444) is rescanned: its finding list drifts (on average ~0.8 new
 *   advisories appear and ~3% get fixed per image per day), with newSinceLast/fixedSinceLast;
 * - full reports (Trivy JSON), SBOMs and build logs go to the blob store (FsBlobStore, outside git):
 *   records only hold their BlobRef.
 * Commits: the results of one run are batched into ONE commit (one commit per result would be ~1,550
 * commits per run and make this bench take hours); the extra cost of per-result commits (trees and
 * commit objects) is measured separately on a sample and extrapolated.
 */
function drift(prev: Finding[]): { next: Finding[]; added: string[]; fixed: string[] } {
  const fixed = prev.filter(() => rand() < 0.03).map((f) => f.id);
  const add = rand() < 0.6 ? [finding(), ...(rand() < 0.3 ? [finding()] : [])] : [];
  const next = [...prev.filter((f) => !fixed.includes(f.id)), ...add].sort((x, y) =>
    x.id.localeCompare(y.id),
  );
  return { next, added: add.map((f) => f.id), fixed };
}

async function simulateRuns(
  store: CatalogStore,
  blobs: FsBlobStore,
  runs: number,
  onRun: (r: number) => void,
): Promise<void> {
  const snap = await store.load();
  const apps = [...snap.apps.values()].map((e) => e.app);
  const latest = new Map<string, string>();
  for (const a of apps) latest.set(a.id, a.recipes.container[a.recipes.container.length - 1]!.tag);
  for (let run = 1; run <= runs; run++) {
    const rid = runId(run);
    const updates = new Map<string, Artifact['records']>();
    const at = (m: number) => now(run, m);
    for (const a of apps) {
      for (const r of a.recipes.container) {
        const key = `${a.id}/${r.tag}`;
        const isLatest = latest.get(a.id) === r.tag;
        const rebuilt = rand() < 0.05;
        if (!rebuilt && !isLatest) continue;
        const prev = findingsFor(key, 40);
        const { next, added, fixed } = drift(prev);
        findingCache.set(key, next);
        const report = await blobs.put(
          JSON.stringify({ ArtifactName: key, Results: [{ Vulnerabilities: next }] }),
          'application/vnd.trivy+json',
        );
        if (!rebuilt) {
          // daily rescan of the latest artifact only
          updates.set(key, {
            scan: scanRecord(rid, at(30), `sha256:${'0'.repeat(64)}`, next, added, fixed, report),
          });
          continue;
        }
        const digest = dig();
        const log = await blobs.put(
          `build log of ${key} run ${run}\n` + `STEP ${hex(8)}\n`.repeat(40),
          'text/plain',
        );
        const sbom = await blobs.put(
          JSON.stringify({ bomFormat: 'CycloneDX', components: PKGS.map((p) => ({ name: p, digest })) }),
          'application/vnd.cyclonedx+json',
        );
        updates.set(key, {
          build: {
            runId: rid,
            at: at(1),
            status: 'ok',
            manifestDigest: digest,
            inputsDigest: dig(),
            arches: ['amd64', 'arm64'],
            durationMs: 60_000 + Math.floor(rand() * 600_000),
            log,
          },
          verify: {
            runId: rid,
            at: at(2),
            status: 'passed',
            checks: [
              { name: 'starts', status: 'passed', durationMs: 800 + Math.floor(rand() * 3000) },
              { name: 'version', status: 'passed', output: [r.version] },
            ],
          },
          scan: scanRecord(rid, at(3), digest, next, added, fixed, report, sbom),
          sign: {
            runId: rid,
            at: at(4),
            status: 'signed',
            keyId: 'a'.repeat(64),
            signatures: [
              {
                target: 'hub',
                ref: `docker.io/openeuler/${a.name}:${r.tag}`,
                digest,
                signatureTag: `sha256-${digest.slice(7)}.sig`,
              },
            ],
          },
          publish: {
            runId: rid,
            at: at(5),
            status: 'ok',
            digest,
            targets: ['hub', 'quay'].map((t) => ({
              target: t,
              ref: `${t === 'hub' ? 'docker.io' : 'quay.io'}/openeuler/${a.name}:${r.tag}`,
              status: 'ok' as const,
              digest,
            })),
          },
        });
      }
    }
    await store.commit(
      {
        subject: `bench: run ${run} (${updates.size} artifacts)`,
        trailers: { Stage: 'bench', 'Run-Id': rid },
      },
      async (tx) => {
        for (const [key, rec] of updates) {
          const [app, tag] = key.split('/') as [string, string];
          await tx.updateArtifact(app, 'container', tag, (a) => ({
            ...(a ?? {
              app,
              kind: 'container' as const,
              id: tag,
              version: tag.split('-oe')[0]!,
              osVersion: '24.03-lts-sp4',
              arches: ['amd64', 'arm64'] as Artifact['arches'],
              records: {},
            }),
            records: { ...(a?.records ?? {}), ...rec },
          }));
        }
      },
    );
    onRun(run);
  }
}

/** The seed apps, each with exactly 10 container versions (444 × 10 = 4,440 artifacts). */
async function tenVersions(store: CatalogStore): Promise<void> {
  const snap = await store.load();
  await store.commit({ subject: 'bench: 10 versions per app' }, (tx) => {
    for (const e of snap.apps.values()) {
      const container = Array.from({ length: VERSIONS }, (_, i) => ({
        kind: 'container' as const,
        tag: `${i + 1}.0.${i % 3}-oe2403sp4`,
        dockerfile: `${i + 1}.0.${i % 3}/24.03-lts-sp4/Dockerfile`,
        version: `${i + 1}.0.${i % 3}`,
        osVersion: '24.03-lts-sp4',
      }));
      tx.putApp({ ...e.app, recipes: { ...e.app.recipes, container } });
    }
  });
}

/** Bytes of git history per extra commit when every result is its own commit (sample of n). */
async function perResultCommitCost(dir: string, n: number): Promise<number> {
  const store = await CatalogStore.open(dir);
  const before = (await gitSize(dir)).bytes;
  const ids = [...(await store.load()).apps.keys()];
  for (let i = 0; i < n; i++) {
    const app = ids[i % ids.length]!;
    await store.commit(
      { subject: `bench: one result`, trailers: { App: app, Stage: 'scan' } },
      async (tx) => {
        await tx.updateArtifact(app, 'container', '10.0.0-oe2403sp4', (a) => ({
          ...a!,
          records: { ...a!.records, scan: { ...a!.records.scan!, at: now(1000 + i) } },
        }));
      },
    );
  }
  return ((await gitSize(dir)).bytes - before) / n;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-bench-'));
  try {
    line('machine', `${(await import('node:os')).cpus().length} cores, node ${process.version}`);
    line(
      'finding lists',
      FINDINGS_IN_BLOB
        ? 'blob store only (records: summary + new/fixed ids)'
        : 'in git records (and in the blob store report)',
    );
    // 1. the imported seed
    const seedDir = join(root, 'seed');
    const seedStore = await CatalogStore.init(seedDir);
    await execa('git', ['config', 'gc.auto', '0'], { cwd: seedDir });
    let t0 = performance.now();
    const imp = await importOpenEuler(seedStore, SEED);
    line(
      'import of the openEuler seed',
      `${imp.apps} apps, ${imp.recipes} recipes, ${imp.problems.length} problems in ${Math.round(performance.now() - t0)} ms`,
    );
    const l1 = await timeLoad(seedDir);
    line(
      'load 444-app catalog, cold (parse + validate every file)',
      `${Math.round(l1.cold)} ms (${l1.apps} apps, ${l1.problems} problems)`,
    );
    line('load 444-app catalog, warm (snapshot cache, median of 3)', `${Math.round(l1.warm)} ms`);

    // 2. synthetic catalog
    const synDir = join(root, 'synthetic');
    t0 = performance.now();
    await buildSynthetic(synDir, SYNTH_APPS);
    line(
      `build synthetic ${SYNTH_APPS}-app catalog`,
      `${Math.round(performance.now() - t0)} ms (app.yml + upstream.json + 2 artifact records per app)`,
    );
    const l2 = await timeLoad(synDir);
    line(
      `load ${SYNTH_APPS}-app catalog, cold (parse + validate every file)`,
      `${Math.round(l2.cold)} ms (${l2.apps} apps, ${l2.problems} problems)`,
    );
    line(
      `load ${SYNTH_APPS}-app catalog, warm (snapshot cache, median of 3)`,
      `${Math.round(l2.warm)} ms (goal < 2000 ms)`,
    );
    await rm(synDir, { recursive: true, force: true });

    // 3. git growth over simulated runs
    await tenVersions(seedStore);
    const base = await gitSize(seedDir);
    line('git size before runs (444 apps x 10 versions)', `${base.sizePack} (${mb(base.bytes)})`);
    const blobs = new FsBlobStore(join(root, 'blobs'));
    t0 = performance.now();
    await simulateRuns(seedStore, blobs, RUNS, (r) => {
      if (process.stderr.isTTY) process.stderr.write(`\r  run ${r}/${RUNS}`);
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    const commits = (await execa('git', ['rev-list', '--count', 'HEAD'], { cwd: seedDir })).stdout;
    line(
      `simulate ${RUNS} runs`,
      `${Math.round((performance.now() - t0) / 1000)} s, ${commits} commits in total (results batched: one commit per run)`,
    );
    const after = await gitSize(seedDir);
    line(
      `git size after ${RUNS} runs (git gc; count-objects size-pack)`,
      `${after.sizePack} (${mb(after.bytes)}; goal < 50 MB)`,
    );
    const blobBytes = Number((await execa('du', ['-sb', join(root, 'blobs')])).stdout.split('\t')[0]);
    line('blob store (outside git: reports, SBOMs, logs, gzip)', mb(blobBytes));
    const l3 = await timeLoad(seedDir);
    line(
      `load 444-app catalog after ${RUNS} runs (4440 artifacts), cold / warm`,
      `${Math.round(l3.cold)} ms / ${Math.round(l3.warm)} ms`,
    );
    const sample = 50;
    const perCommit = await perResultCommitCost(seedDir, sample);
    const perRun = 0.05 * 4440 * 5 + 444;
    line(
      `extra git bytes per commit if every result were its own commit (sample of ${sample})`,
      `${Math.round(perCommit)} bytes`,
    );
    line(
      `estimated git size with one commit per result (${Math.round(perRun)} commits per run)`,
      `${mb(after.bytes + perCommit * perRun * RUNS)}`,
    );
  } finally {
    if (keep) line('kept', root);
    else await rm(root, { recursive: true, force: true });
  }
}

await main();
