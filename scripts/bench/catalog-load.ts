// npm run bench:catalog-load [-- --apps N] [--keep] — load time of a synthetic N-app catalog (default 10,000), alone.
// The same catalog shape as bench:catalog (app.yml with 3 recipes, upstream.json, 2 artifact records with
// build/verify/scan/sign/publish records and up to 6 findings), without the git-growth part.
// Each load runs in a fresh child process, as `wharf` or a sweep would:
// - cold: no snapshot cache (every file parsed and validated);
// - warm: the snapshot cache written by the cold load (clean tree, same HEAD), median of 3;
// - after commit: the first load after a sweep-like commit of 1,000 upstream.json files made with
//   `commit(…, {snapshot})`.
// Goal (issue 3): under 2 s for 10,000 apps on 2 cores.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import type { AppInput, Artifact, Finding, Severity } from '../../catalog/schema.ts';

const self = fileURLToPath(import.meta.url);
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
const dig = () => `sha256:${hex(64)}`;
const AT = '2026-01-01T00:00:00.000Z';

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

const SEVERITIES: Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'MEDIUM', 'LOW', 'UNKNOWN'];
function finding(): Finding {
  const fixed = rand() < 0.6;
  const pkg = pick(['openssl', 'glibc', 'zlib', 'curl', 'libxml2', 'python3', 'sqlite']);
  return {
    id: `CVE-${2023 + Math.floor(rand() * 4)}-${10000 + Math.floor(rand() * 40000)}`,
    pkg,
    installed: `1.${Math.floor(rand() * 20)}.${Math.floor(rand() * 10)}-1.oe2403sp4`,
    ...(fixed ? { fixed: '2.0.1-1.oe2403sp4' } : {}),
    severity: pick(SEVERITIES),
    status: fixed ? 'fixed' : 'affected',
    title: `${pkg}: buffer overflow in parser`,
  };
}

function counts(f: Finding[], fixable: boolean) {
  const c = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 };
  for (const x of f) if (!fixable || x.fixed) c[x.severity]++;
  return c;
}

function artifact(app: string, version: string): Artifact {
  const runId = `20260101T000000Z-${hex(6)}`;
  const digest = dig();
  const findings = Array.from({ length: Math.floor(rand() * 6) }, finding);
  const ref = `docker.io/openeuler/${app}:${version}-oe2403sp4`;
  return {
    app,
    kind: 'container',
    id: `${version}-oe2403sp4`,
    version,
    osVersion: '24.03-lts-sp4',
    arches: ['amd64', 'arm64'],
    records: {
      build: {
        runId,
        at: AT,
        status: 'ok',
        manifestDigest: digest,
        inputsDigest: dig(),
        arches: ['amd64', 'arm64'],
        durationMs: 90_000,
      },
      verify: {
        runId,
        at: AT,
        status: 'passed',
        checks: [{ name: 'starts', status: 'passed', durationMs: 1200 }],
      },
      scan: {
        runId,
        at: AT,
        status: 'ok',
        scanner: { name: 'trivy', version: '0.58.1', dbUpdatedAt: AT },
        target: digest,
        os: { family: 'openEuler', name: '24.03-LTS-SP4' },
        summary: { total: counts(findings, false), fixable: counts(findings, true) },
        findings,
        policy: { blocked: false, reasons: [], waived: [] },
      },
      sign: {
        runId,
        at: AT,
        status: 'signed',
        keyId: hex(64),
        signatures: [{ target: 'hub', ref, digest, signatureTag: `sha256-${digest.slice(7)}.sig` }],
      },
      publish: {
        runId,
        at: AT,
        status: 'ok',
        digest,
        targets: [{ target: 'hub', ref, status: 'ok', digest }],
      },
    },
  };
}

/** Child: one load in a fresh process; prints the time and the number of apps. */
async function loadOnce(dir: string): Promise<void> {
  const store = await CatalogStore.open(dir);
  const t0 = performance.now();
  const snap = await store.load();
  const ms = performance.now() - t0;
  process.stdout.write(`${JSON.stringify({ ms, apps: snap.apps.size, problems: snap.problems.length })}\n`);
}

/** Child: a sweep-like commit (1,000 upstream.json rewritten) through commit(…, {snapshot}). */
async function touch(dir: string): Promise<void> {
  const store = await CatalogStore.open(dir);
  const snap = await store.load();
  const ids = [...snap.apps.keys()].filter((_, i) => i % 10 === 0);
  const t0 = performance.now();
  await store.commit(
    { subject: 'bench: touch upstream state' },
    async (tx) => {
      for (const id of ids) {
        const prev = await tx.getUpstream(id);
        tx.putUpstream(id, { known: [], ...prev, lastChecked: new Date().toISOString() });
      }
    },
    { snapshot: snap },
  );
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0, files: ids.length })}\n`);
}

async function child(mode: string, dir: string): Promise<Record<string, number>> {
  const r = await execa(process.execPath, [self, mode, dir], { stderr: 'inherit' });
  return JSON.parse(r.stdout) as Record<string, number>;
}

async function median3(dir: string): Promise<number> {
  const t = [];
  for (let i = 0; i < 3; i++) t.push((await child('--load', dir)).ms!);
  return t.sort((a, b) => a - b)[1]!;
}

async function main(): Promise<void> {
  const n = Number(arg('--apps') ?? 10_000);
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-load-'));
  try {
    let t0 = performance.now();
    const store = await CatalogStore.init(dir);
    await execa('git', ['config', 'gc.auto', '0'], { cwd: dir });
    await store.commit({ subject: `bench: ${n} synthetic apps` }, (tx) => {
      for (let i = 0; i < n; i++) {
        const a = tx.putApp(synthApp(i));
        tx.putUpstream(a.id, { latest: '2.0.0', known: ['1.0.0', '1.1.0', '2.0.0'], lastChecked: AT });
        for (const v of ['1.1.0', '2.0.0']) tx.putArtifact(artifact(a.id, v));
      }
    });
    const files = (await execa('git', ['ls-files'], { cwd: dir })).stdout.split('\n').length;
    console.log(
      `build synthetic ${n}-app catalog: ${Math.round(performance.now() - t0)} ms (${files} files)`,
    );
    const cold = await child('--load', dir);
    console.log(
      `load ${n}-app catalog, cold (parse + validate every file): ${Math.round(cold.ms!)} ms (${cold.apps} apps, ${cold.problems} problems)`,
    );
    console.log(
      `load ${n}-app catalog, warm (snapshot cache, median of 3): ${Math.round(await median3(dir))} ms (goal < 2000 ms)`,
    );
    t0 = performance.now();
    const t = await child('--touch', dir);
    console.log(`commit of ${t.files} upstream.json with {snapshot}: ${Math.round(t.ms!)} ms`);
    const after = await child('--load', dir);
    console.log(`first load of the ${n}-app catalog after that commit: ${Math.round(after.ms!)} ms`);
  } finally {
    if (process.argv.includes('--keep')) console.log(`kept: ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--load')) await loadOnce(arg('--load')!);
else if (process.argv.includes('--touch')) await touch(arg('--touch')!);
else await main();
