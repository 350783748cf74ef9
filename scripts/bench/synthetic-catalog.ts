// The synthetic catalog that bench:catalog and bench:catalog-load time: N apps, each with app.yml (3
// recipes, zh/en text), upstream.json and 2 artifact records carrying build/verify/scan/sign/publish
// records and up to 6 findings. Its own deterministic random numbers, so every run (and both benches)
// builds the same bytes, whatever else the calling bench draws.
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import type { AppInput, Artifact, Finding, ScanRecord, Severity } from '../../catalog/schema.ts';

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

/** Severity counts of a finding list (all of them, or only those with a fix). */
export function counts(f: Finding[], fixable: boolean) {
  const c = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 };
  for (const x of f) if (!fixable || x.fixed) c[x.severity]++;
  return c;
}

/**
 * A container artifact built, verified, scanned, signed and published to the hub by one run; `at(step)` is
 * the time of each record (build 1, verify 3, sign 5, publish 6; the scan record comes in whole).
 */
export function containerArtifact(a: {
  app: string;
  version: string;
  runId: string;
  at: (step: number) => string;
  digest: string;
  inputsDigest: string;
  scan: ScanRecord;
  keyId: string;
}): Artifact {
  const { app, version, runId, at, digest } = a;
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
        at: at(1),
        status: 'ok',
        manifestDigest: digest,
        inputsDigest: a.inputsDigest,
        arches: ['amd64', 'arm64'],
        durationMs: 90_000,
      },
      verify: {
        runId,
        at: at(3),
        status: 'passed',
        checks: [{ name: 'starts', status: 'passed', durationMs: 1200 }],
      },
      scan: a.scan,
      sign: {
        runId,
        at: at(5),
        status: 'signed',
        keyId: a.keyId,
        signatures: [{ target: 'hub', ref, digest, signatureTag: `sha256-${digest.slice(7)}.sig` }],
      },
      publish: {
        runId,
        at: at(6),
        status: 'ok',
        digest,
        targets: [{ target: 'hub', ref, status: 'ok', digest }],
      },
    },
  };
}

function artifact(app: string, version: string): Artifact {
  const runId = `20260101T000000Z-${hex(6)}`;
  const digest = dig();
  const findings = Array.from({ length: Math.floor(rand() * 6) }, finding);
  // Drawn in the order the records used to draw them, so a seed gives the same catalog as before.
  const inputsDigest = dig();
  const scan: ScanRecord = {
    runId,
    at: AT,
    status: 'ok',
    scanner: { name: 'trivy', version: '0.58.1', dbUpdatedAt: AT },
    target: digest,
    os: { family: 'openEuler', name: '24.03-LTS-SP4' },
    summary: { total: counts(findings, false), fixable: counts(findings, true) },
    findings,
    policy: { blocked: false, reasons: [], waived: [] },
  };
  const keyId = hex(64);
  return containerArtifact({ app, version, runId, at: () => AT, digest, inputsDigest, scan, keyId });
}

/** Create a catalog at `dir` holding `n` synthetic apps, in one commit (auto-gc off). */
export async function buildSyntheticCatalog(dir: string, n: number): Promise<CatalogStore> {
  const store = await CatalogStore.init(dir);
  await execa('git', ['config', 'gc.auto', '0'], { cwd: dir });
  await store.commit({ subject: `bench: ${n} synthetic apps` }, (tx) => {
    for (let i = 0; i < n; i++) {
      const a = tx.putApp(synthApp(i));
      tx.putUpstream(a.id, { latest: '2.0.0', known: ['1.0.0', '1.1.0', '2.0.0'], lastChecked: AT });
      for (const v of ['1.1.0', '2.0.0']) tx.putArtifact(artifact(a.id, v));
    }
  });
  return store;
}
