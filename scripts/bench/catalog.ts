// npm run bench:catalog — catalog load time and git growth.
//
// 1. Load time of a catalog imported from a synthetic openEuler tree in the real layout at upstream's
//    size (444 apps, 1,757 Dockerfiles: scripts/bench/synthetic-recipes.ts; the shipped seed is a
//    40-app sample, too small for this) and of a synthetic 10,000-app catalog
//    (scripts/bench/synthetic-catalog.ts: app.yml with 3 recipes, upstream.json, 2 artifact records).
//    Goal: the 10,000-app load under 2 s on 2 cores.
// 2. Git size after 100 simulated pipeline runs on 444 apps × 10 versions (goal < 50 MB), with ONE
//    COMMIT PER RESULT as the real writers make them (see simulateGrowth): each rebuilt artifact gets
//    five commits (build, verify, scan, sign, publish: publisher/<stage> through commitStageRecord /
//    scanAndRecord), each rescanned artifact one (publisher/scan/rescan.ts), with the real commit
//    messages (catalog/git.ts commitMessage + publisher/stage.ts stageTrailers) and the real file bytes
//    (zArtifact.parse + catalog/format.ts toStableJson, as CatalogTx.putArtifact writes them). The
//    commits are streamed into `git fast-import` (CatalogStore.commit would take hours for ~150k
//    commits), then `git gc` packs them as on the catalog host. Raw reports, SBOMs, logs and (current
//    writers) finding lists are blob-store objects: only their BlobRefs are in git.
//    Scenarios: legacy writers (finding lists inline) vs current writers, at the bench churn, plus the
//    current writers at an assumed realistic churn, labelled as such (see Layout and Churn).
//
// Output: plain "name: value" lines. Options: --apps N (synthetic size; 0 skips it), --runs N,
// --only legacy/bench,current/bench,current/weekly (scenarios), --keep (leave the dirs).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { cp, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { CatalogStore, artifactFile } from '../../catalog/store.ts';
import { COMMIT_IDENTITY, commitMessage } from '../../catalog/git.ts';
import { toStableJson } from '../../catalog/format.ts';
import { encodeFindings, FINDINGS_MEDIA_TYPE, unchangedScan } from '../../publisher/scan/findings.ts';
import { evaluatePolicy, rebuildCandidates } from '../../publisher/scan/policy.ts';
import {
  diffFindings,
  REPORT_MEDIA_TYPE,
  SBOM_MEDIA_TYPE,
  summaryText,
} from '../../publisher/scan/record.ts';
import { stageTrailers, type StageTarget } from '../../publisher/stage.ts';
import { importOpenEuler } from '../../catalog/import/openeuler.ts';
import { writeSyntheticRecipeTree } from './synthetic-recipes.ts';
import { buildSyntheticCatalog, containerArtifact, counts } from './synthetic-catalog.ts';
import {
  zArtifact,
  type App,
  type Artifact,
  type BlobRef,
  type BuildRecord,
  type Finding,
  type PublishRecord,
  type ScanRecord,
  type Severity,
  type SignRecord,
  type Stage,
  type VerifyRecord,
} from '../../catalog/schema.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SYNTH_APPS = opt('apps', 10_000);
const RUNS = opt('runs', 100);
const VERSIONS = 10;
const keep = args.includes('--keep');
const onlyArg = args.indexOf('--only');
const ONLY = onlyArg >= 0 ? (args[onlyArg + 1] ?? '').split(',') : undefined;

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

async function gitSize(
  dir: string,
): Promise<{ sizePack: string; count: string; bytes: number; packBytes: number }> {
  // No background auto-gc racing the explicit one (commits trigger `gc --auto`).
  await execa('git', ['config', 'gc.auto', '0'], { cwd: dir });
  await execa('git', ['gc', '-q', '--force', '--prune=now'], { cwd: dir });
  const out = (await execa('git', ['count-objects', '-vH'], { cwd: dir })).stdout;
  const raw = (await execa('git', ['count-objects', '-v'], { cwd: dir })).stdout;
  const kib = Number(/size-pack: (\d+)/.exec(raw)?.[1] ?? 0) + Number(/size: (\d+)/.exec(raw)?.[1] ?? 0);
  // size-pack counts .pack and .idx files; the .pack alone is what a clone transfers.
  const packDir = join(dir, '.git', 'objects', 'pack');
  let packBytes = 0;
  for (const f of await readdir(packDir))
    if (f.endsWith('.pack')) packBytes += (await stat(join(packDir, f))).size;
  return {
    sizePack: /size-pack: (.+)/.exec(out)?.[1] ?? '?',
    count: /in-pack: (\d+)/.exec(out)?.[1] ?? '?',
    bytes: kib * 1024,
    packBytes,
  };
}

/** Bytes in the pack per object type (commit, tree, blob), from `git verify-pack -v`. */
async function packByType(dir: string): Promise<Map<string, { count: number; bytes: number }>> {
  const packDir = join(dir, '.git', 'objects', 'pack');
  const out = new Map<string, { count: number; bytes: number }>();
  for (const f of await readdir(packDir)) {
    if (!f.endsWith('.idx')) continue;
    // Streamed line by line: a million objects print ~100 MB.
    const rows = execa('git', ['verify-pack', '-v', join(packDir, f)], { cwd: dir, buffer: false });
    for await (const row of rows) {
      // <sha> <type> <size> <size-in-pack> <offset> [<depth> <base>]
      const m = /^[0-9a-f]{40,64} (commit|tree|blob|tag) +\d+ (\d+) /.exec(row);
      if (!m) continue;
      const t = out.get(m[1]!) ?? { count: 0, bytes: 0 };
      t.count++;
      t.bytes += Number(m[2]);
      out.set(m[1]!, t);
    }
  }
  return out;
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MB`;
const dig = () => `sha256:${hex(64)}`;
const now = (run: number, minute = 0) =>
  new Date(Date.UTC(2026, 0, 1) + run * 86_400_000 + minute * 60_000).toISOString();
const runId = (run: number) =>
  `${now(run)
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${hex(6)}`;

// ------------------------------------------------------------------ baseline artifacts of the growth simulation

// Unlike the synthetic catalog's artifacts (synthetic-catalog.ts, fixed times, own random numbers), these
// carry run-based times and run ids and take the finding list the simulation tracks per artifact.
function artifactWithRecords(app: string, version: string, run: number, findings: Finding[]): Artifact {
  const rid = runId(run);
  // Drawn in the order the records used to draw them.
  const digest = dig();
  const inputsDigest = dig();
  const scan = scanRecord(rid, now(run, 4), digest, findings, [], []);
  const keyId = hex(64);
  return containerArtifact({
    app,
    version,
    runId: rid,
    at: (step) => now(run, step),
    digest,
    inputsDigest,
    scan,
    keyId,
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
    findings,
    ...(added.length ? { newSinceLast: added } : {}),
    ...(fixed.length ? { fixedSinceLast: fixed } : {}),
    policy: { blocked, reasons: blocked ? ['fixable CRITICAL'] : [], waived: [] },
    ...(report ? { report } : {}),
    ...(sbom ? { sbom } : {}),
  };
}

// ------------------------------------------------------------------ git growth: 100 simulated pipeline runs

/**
 * Which writer code the history is made with:
 * - legacy: the scan writers before findingsRef (finding list inline, pretty JSON; BlobRefs with their
 *   store `uri`; every rescan commits and regenerates its SBOM);
 * - current: the writers in publisher/scan today (finding list in the blob store, only its hash in
 *   git; no `uri`; a rescan whose finding list and policy are unchanged makes no commit unless the
 *   record is older than scanPolicy.rewriteAfterDays; a rescan keeps the SBOM of the same digest).
 */
type Layout = 'legacy' | 'current';
/**
 * How the finding list of one image changes from one day to the next:
 * - bench: every day ~0.8 new advisories appear with probability 0.6 and each finding is fixed with
 *   probability 0.03 (the churn this bench has always used: most daily rescans change something);
 * - weekly: an assumption closer to openEuler images (the list changes on about one day in seven,
 *   by the same amounts when it does). Printed separately and labelled.
 */
type Churn = 'bench' | 'weekly';

interface Growth {
  commits: number;
  rescansWritten: number;
  rescansSkipped: number;
  generateS: number;
  gcS: number;
  sizePack: string;
  bytes: number;
  packBytes: number;
  objects: string;
  findingBlobBytes: number;
  byType: Map<string, { count: number; bytes: number }>;
}

const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');
const fakeRef = (label: string, size: number, mediaType: string, layout: Layout): BlobRef => {
  const sha = sha256hex(label);
  return {
    sha256: sha,
    size,
    mediaType,
    ...(layout === 'legacy'
      ? { uri: `file:///srv/wharf/catalog/.wharf-blobs/sha256/${sha.slice(0, 2)}/${sha}.gz` }
      : {}),
  };
};

/** Streams commits into `git fast-import`: each commit = the real message + the real file bytes. */
class FastImport {
  private readonly child;
  private mark = 0;
  private time: number;
  private first = true;
  private readonly branch: string;
  private readonly from: string;
  constructor(dir: string, branch: string, from: string, startTime: number) {
    this.branch = branch;
    this.from = from;
    this.child = spawn('git', ['fast-import', '--quiet', '--done'], {
      cwd: dir,
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    this.time = startTime;
  }
  private async write(chunk: string | Buffer): Promise<void> {
    if (!this.child.stdin.write(chunk)) await once(this.child.stdin, 'drain');
  }
  async commit(message: string, files: Map<string, string>, at: number): Promise<void> {
    this.time = Math.max(this.time + 1, at);
    const ident = `${COMMIT_IDENTITY.name} <${COMMIT_IDENTITY.email}> ${this.time} +0000`;
    const msg = Buffer.from(message);
    let out = `commit refs/heads/${this.branch}\nmark :${++this.mark}\nauthor ${ident}\ncommitter ${ident}\ndata ${msg.length}\n`;
    await this.write(out);
    await this.write(msg);
    out = this.first ? `\nfrom ${this.from}\n` : '\n';
    this.first = false;
    for (const [path, text] of files) {
      const b = Buffer.from(text);
      out += `M 100644 inline ${path}\ndata ${b.length}\n`;
      await this.write(out);
      await this.write(b);
      out = '\n';
    }
    await this.write(out + '\n');
  }
  async done(): Promise<void> {
    this.child.stdin.end('done\n');
    const [code] = (await once(this.child, 'exit')) as [number];
    if (code !== 0) throw new Error(`git fast-import exited ${code}`);
  }
}

type Recipe = App['recipes']['container'][number];

interface SimApp {
  app: App;
  recipes: Recipe[];
}

/**
 * Writes the history the real writers would write for `runs` days on 444 apps × 10 versions, one
 * commit per result, through git fast-import (CatalogStore.commit takes ~30 ms per commit, hours for
 * ~150k commits; fast-import writes the same objects in seconds):
 * - baseline (one commit, labelled): every artifact built, scanned and published once;
 * - per run, ~5% of the 4,440 artifacts are rebuilt: build → verify → scan → sign → publish, one
 *   commit each (publisher/build|verify|scan|sign|publish), the artifact file rewritten each time;
 * - per run, every app's latest artifact (444) is rescanned, one commit each (publisher/scan/rescan.ts),
 *   or none when the current writers find nothing changed (findings.ts unchangedScan).
 * File bytes: zArtifact.parse + toStableJson (= CatalogTx.putArtifact); messages: commitMessage()
 * with stageTrailers() (= CatalogStore.commit). Then `git gc` as on the catalog host.
 */
async function simulateGrowth(
  baseDir: string,
  dir: string,
  layout: Layout,
  churn: Churn,
  runs: number,
  onRun: (r: number) => void,
): Promise<Growth> {
  seed = 42; // every scenario draws the same releases, rebuilds and findings
  findingCache.clear();
  await cp(baseDir, dir, { recursive: true });
  const store = await CatalogStore.open(dir);
  const snap = await store.load();
  const config = snap.config;
  const policyCfg = config.scanPolicy;
  const apps: SimApp[] = [...snap.apps.values()].map((e) => ({
    app: e.app,
    recipes: e.app.recipes.container,
  }));
  const head = (await execa('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout;
  const t0 = performance.now();
  const fi = new FastImport(dir, 'main', head, Math.floor(Date.UTC(2026, 0, 1) / 1000));
  const state = new Map<string, Artifact>();
  const findingBlobs = new Map<string, number>();
  let commits = 0;
  let rescansWritten = 0;
  let rescansSkipped = 0;
  const file = (a: Artifact) => {
    const parsed = zArtifact.parse(a);
    state.set(`${a.app}/${a.id}`, parsed);
    return [artifactFile(a.app, 'container', a.id), toStableJson(parsed)] as const;
  };
  const put = async (subject: string, trailers: Record<string, string>, a: Artifact, at: string) => {
    const [path, text] = file(a);
    await fi.commit(commitMessage(subject, trailers), new Map([[path, text]]), Date.parse(at) / 1000);
    commits++;
  };
  const findingsFields = (list: Finding[]): Pick<ScanRecord, 'findings' | 'findingsRef'> => {
    if (layout === 'legacy') return { findings: list };
    const text = encodeFindings(list);
    const sha = sha256hex(text);
    if (!findingBlobs.has(sha)) findingBlobs.set(sha, gzipSync(text).length);
    return { findingsRef: { sha256: sha, size: Buffer.byteLength(text), mediaType: FINDINGS_MEDIA_TYPE } };
  };
  const scanBase = (
    rid: string,
    at: string,
    digest: string,
    list: Finding[],
    sbom: BlobRef,
    rescanRef?: string,
  ): Omit<ScanRecord, 'policy'> => ({
    runId: rid,
    at,
    durationMs: 20_000 + Math.floor(rand() * 60_000),
    status: 'ok',
    scanner: { name: 'trivy', version: '0.58.1', dbUpdatedAt: `${at.slice(0, 10)}T06:00:00.000000000Z` },
    target: digest,
    ...(rescanRef ? { rescan: true, ref: rescanRef } : {}),
    os: { family: 'openEuler', name: '24.03-LTS-SP4' },
    summary: { total: counts(list, false), fixable: counts(list, true) },
    ...findingsFields(list),
    report: fakeRef(`report ${rid} ${digest} ${at}`, 20_000 + list.length * 900, REPORT_MEDIA_TYPE, layout),
    sbom,
  });
  const prevList = (a: Artifact | undefined): Finding[] | undefined => {
    const s = a?.records.scan;
    if (!s || s.status !== 'ok') return undefined;
    return s.findings ?? findingsCacheBySha.get(s.findingsRef!.sha256);
  };
  const findingsCacheBySha = new Map<string, Finding[]>();
  const remember = (list: Finding[]) => findingsCacheBySha.set(sha256hex(encodeFindings(list)), list);

  /** build → verify → scan → sign → publish of one artifact, one commit per stage result. */
  const pipeline = async (sa: SimApp, r: Recipe, run: number, list: Finding[]) => {
    const rid = runId(run);
    const at = (m: number) => now(run, m);
    const t: StageTarget = { app: sa.app, kind: 'container', artifactId: r.tag, arch: 'amd64', recipe: r };
    const tr = (stage: Stage) => stageTrailers(stage, t, rid);
    const name = `${sa.app.id}:${r.tag}`;
    const digest = dig();
    const prev = state.get(`${sa.app.id}/${r.tag}`);
    let a: Artifact = prev ?? {
      app: sa.app.id,
      kind: 'container',
      id: r.tag,
      version: r.version,
      osVersion: r.osVersion,
      arches: ['amd64', 'arm64'],
      records: {},
    };
    const build: BuildRecord = {
      runId: rid,
      at: at(1),
      durationMs: 60_000 + Math.floor(rand() * 600_000),
      status: 'ok',
      inputsDigest: dig(),
      base: {
        ref: 'docker.io/openeuler/openeuler:24.03-lts-sp4',
        digest: `sha256:${sha256hex(`base ${Math.floor(run / 30)}`)}`,
      },
      manifestDigest: digest,
      arches: ['amd64', 'arm64'],
      // The build stage still writes the store uri of its log (publisher/build is unchanged).
      log: fakeRef(`log ${name} ${run}`, 40_000 + Math.floor(rand() * 200_000), 'text/plain', 'legacy'),
    };
    a = { ...a, records: { ...a.records, build } };
    await put(`build ${name}: ok`, tr('build'), a, build.at);
    const verify: VerifyRecord = {
      runId: rid,
      at: at(2),
      durationMs: 2_000 + Math.floor(rand() * 3000),
      status: 'passed',
      checks: [
        { name: 'starts', status: 'passed', durationMs: 800 + Math.floor(rand() * 3000) },
        { name: 'version', status: 'passed', exitCode: 0, output: [r.version] },
      ],
    };
    a = { ...a, records: { ...a.records, verify } };
    await put(`verify ${name}: passed`, tr('verify'), a, verify.at);
    const sbom = fakeRef(`sbom ${digest}`, 60_000, SBOM_MEDIA_TYPE, layout);
    const base = scanBase(rid, at(3), digest, list, sbom);
    const diff = diffFindings(prevList(a), list);
    const scan: ScanRecord = {
      ...base,
      ...(diff.newSinceLast ? { newSinceLast: diff.newSinceLast } : {}),
      ...(diff.fixedSinceLast ? { fixedSinceLast: diff.fixedSinceLast } : {}),
      policy: evaluatePolicy(policyCfg, sa.app.id, list, new Date(base.at)),
    };
    remember(list);
    a = { ...a, records: { ...a.records, scan } };
    await put(`scan: ${name} ${summaryText(base)}`, tr('scan'), a, scan.at);
    const refs = config.registries.length
      ? config.registries.map((g) => ({ target: g.name, ref: `${g.repository}/${sa.app.name}:${r.tag}` }))
      : [{ target: 'hub', ref: `docker.io/openeuler/${sa.app.name}:${r.tag}` }];
    const sign: SignRecord = {
      runId: rid,
      at: at(4),
      status: 'signed',
      keyId: 'a'.repeat(64),
      signatures: refs.map((x) => ({ ...x, digest, signatureTag: `sha256-${digest.slice(7)}.sig` })),
    };
    a = { ...a, records: { ...a.records, sign } };
    await put(`sign ${name}: signed`, tr('sign'), a, sign.at);
    const publish: PublishRecord = {
      runId: rid,
      at: at(5),
      durationMs: 30_000 + Math.floor(rand() * 90_000),
      status: 'ok',
      digest,
      targets: refs.map((x) => ({ ...x, status: 'ok' as const, digest })),
    };
    const { pending: _done, ...rest } = a;
    a = { ...rest, records: { ...a.records, publish } };
    await put(`publish ${name}: ok`, tr('publish'), a, publish.at);
  };

  /** A rescan of the published digest: publisher/scan/record.ts scanAndRecord with a rescanRef. */
  const rescan = async (sa: SimApp, r: Recipe, run: number, list: Finding[]) => {
    const key = `${sa.app.id}/${r.tag}`;
    const a = state.get(key)!;
    const prev = a.records.scan;
    const digest = a.records.publish!.digest!;
    const rid = runId(run);
    const at = now(run, 30);
    const nowD = new Date(at);
    const t: StageTarget = { app: sa.app, kind: 'container', artifactId: r.tag, arch: 'amd64', recipe: r };
    const sbom =
      layout === 'current' && prev?.sbom && prev.target === digest
        ? prev.sbom
        : fakeRef(`sbom ${digest} ${at}`, 60_000, SBOM_MEDIA_TYPE, layout);
    const ref = `${a.records.publish!.targets[0]!.ref.split(':')[0]}@${digest}`;
    const base = scanBase(rid, at, digest, list, sbom, ref);
    const policy = evaluatePolicy(policyCfg, sa.app.id, list, nowD);
    if (
      layout === 'current' &&
      unchangedScan(
        prev,
        { target: digest, findingsSha: sha256hex(encodeFindings(list)), policy },
        nowD,
        policyCfg.rewriteAfterDays,
      )
    ) {
      rescansSkipped++;
      return;
    }
    const diff = diffFindings(prevList(a), list);
    const cands = rebuildCandidates(policyCfg, sa.app.id, diff.added, nowD);
    if (cands.length) policy.rebuildQueued = true;
    const scan: ScanRecord = {
      ...base,
      ...(diff.newSinceLast ? { newSinceLast: diff.newSinceLast } : {}),
      ...(diff.fixedSinceLast ? { fixedSinceLast: diff.fixedSinceLast } : {}),
      policy,
    };
    remember(list);
    const pending =
      cands.length && !a.pending
        ? { reason: `rescan: fixable ${cands[0]!.id} in ${cands[0]!.pkg}`, since: at, runId: rid }
        : a.pending;
    await put(
      `rescan: ${sa.app.id}:${r.tag} ${summaryText(base)}`,
      stageTrailers('scan', t, rid),
      { ...a, ...(pending ? { pending } : {}), records: { ...a.records, scan } },
      at,
    );
    rescansWritten++;
  };

  // Baseline: every artifact built, scanned, signed and published once (one commit, not counted as a run).
  {
    const files = new Map<string, string>();
    for (const sa of apps)
      for (const r of sa.recipes) {
        const key = `${sa.app.id}/${r.tag}`;
        const list = findingsFor(key, 40);
        remember(list);
        const a = artifactWithRecords(sa.app.id, r.version, 0, []);
        const digest = a.records.publish!.digest!;
        const base = scanBase(
          a.records.build!.runId,
          now(0, 4),
          digest,
          list,
          fakeRef(`sbom ${digest}`, 60_000, SBOM_MEDIA_TYPE, layout),
        );
        const [path, text] = file({
          ...a,
          records: {
            ...a.records,
            scan: { ...base, policy: evaluatePolicy(policyCfg, sa.app.id, list, new Date(base.at)) },
          },
        });
        files.set(path, text);
      }
    await fi.commit(
      commitMessage('bench: baseline, every artifact published once', {}),
      files,
      Date.parse(now(0)) / 1000,
    );
    commits++;
  }

  for (let run = 1; run <= runs; run++) {
    for (const sa of apps) {
      const latest = sa.recipes[sa.recipes.length - 1]!;
      for (const r of sa.recipes) {
        const key = `${sa.app.id}/${r.tag}`;
        const rebuilt = rand() < 0.05;
        if (!rebuilt && r !== latest) continue;
        const prev = findingsFor(key, 40);
        const changes = churn === 'bench' || rand() < 1 / 7;
        const next = changes ? drift(prev).next : prev;
        findingCache.set(key, next);
        if (rebuilt) await pipeline(sa, r, run, next);
        else await rescan(sa, r, run, next);
      }
    }
    onRun(run);
  }
  await fi.done();
  await execa('git', ['reset', '-q', '--hard'], { cwd: dir });
  const generateS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const size = await gitSize(dir);
  return {
    commits,
    rescansWritten,
    rescansSkipped,
    generateS,
    gcS: (performance.now() - t1) / 1000,
    sizePack: size.sizePack,
    bytes: size.bytes,
    packBytes: size.packBytes,
    objects: size.count,
    findingBlobBytes: [...findingBlobs.values()].reduce((x, y) => x + y, 0),
    byType: await packByType(dir),
  };
}

/** The 444 imported apps, each with exactly 10 container versions (444 × 10 = 4,440 artifacts). */
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

/** The history a day's churn leaves in a finding list (see Churn). */
function drift(prev: Finding[]): { next: Finding[]; added: string[]; fixed: string[] } {
  const fixed = prev.filter(() => rand() < 0.03).map((f) => f.id);
  const add = rand() < 0.6 ? [finding(), ...(rand() < 0.3 ? [finding()] : [])] : [];
  const next = [...prev.filter((f) => !fixed.includes(f.id)), ...add].sort((x, y) =>
    x.id.localeCompare(y.id),
  );
  return { next, added: add.map((f) => f.id), fixed };
}

const SCENARIOS: { layout: Layout; churn: Churn; label: string }[] = [
  { layout: 'legacy', churn: 'bench', label: 'legacy writers (findings inline, every rescan commits)' },
  { layout: 'current', churn: 'bench', label: 'current writers (findingsRef, unchanged rescans skip)' },
  {
    layout: 'current',
    churn: 'weekly',
    label: "current writers, ASSUMED realistic churn (an image's findings change ~1 day in 7)",
  },
];

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-bench-'));
  try {
    line('machine', `${(await import('node:os')).cpus().length} cores, node ${process.version}`);
    // 1. a catalog imported from an openEuler tree of upstream's size
    const recipeTree = join(root, 'recipes');
    await writeSyntheticRecipeTree(recipeTree);
    const seedDir = join(root, 'seed');
    const seedStore = await CatalogStore.init(seedDir);
    await execa('git', ['config', 'gc.auto', '0'], { cwd: seedDir });
    let t0 = performance.now();
    const imp = await importOpenEuler(seedStore, recipeTree);
    line(
      'import of a synthetic 444-app openEuler tree (real layout)',
      `${imp.apps} apps, ${imp.recipes} recipes, ${imp.problems.length} problems in ${Math.round(performance.now() - t0)} ms`,
    );
    const l1 = await timeLoad(seedDir);
    line(
      'load 444-app catalog, cold (parse + validate every file)',
      `${Math.round(l1.cold)} ms (${l1.apps} apps, ${l1.problems} problems)`,
    );
    line('load 444-app catalog, warm (snapshot cache, median of 3)', `${Math.round(l1.warm)} ms`);

    // 2. synthetic catalog
    if (SYNTH_APPS > 0) {
      const synDir = join(root, 'synthetic');
      t0 = performance.now();
      await buildSyntheticCatalog(synDir, SYNTH_APPS);
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
    }

    // 3. git growth over simulated runs, one commit per result
    await tenVersions(seedStore);
    const base = await gitSize(seedDir);
    line('git size before runs (444 apps x 10 versions, no records)', `${base.sizePack} (${mb(base.bytes)})`);
    const chosen = SCENARIOS.filter((s) => (ONLY ? ONLY.includes(`${s.layout}/${s.churn}`) : true));
    for (const [i, sc] of chosen.entries()) {
      const dir = join(root, `growth-${i}`);
      const g = await simulateGrowth(seedDir, dir, sc.layout, sc.churn, RUNS, (r) => {
        if (process.stderr.isTTY) process.stderr.write(`\r  ${sc.layout}/${sc.churn}: run ${r}/${RUNS}`);
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      const tag = `[${sc.layout}/${sc.churn}]`;
      line(
        `${tag} ${sc.label}: ${RUNS} runs`,
        `${g.commits} commits (one per result: ${g.rescansWritten} rescans written, ${g.rescansSkipped} unchanged rescans not committed), generated in ${Math.round(g.generateS)} s, git gc ${Math.round(g.gcS)} s`,
      );
      line(
        `${tag} git size after ${RUNS} runs, one commit per result (git gc; size-pack)`,
        `${g.sizePack} (${mb(g.bytes)}; goal < 50 MB)`,
      );
      line(
        `${tag} of which the .pack alone (what a clone transfers; the rest is the .idx)`,
        `${mb(g.packBytes)}, ${g.objects} objects, ${Math.round(g.packBytes / g.commits)} bytes per commit`,
      );
      // Where the bytes go: each commit object, the trees on its path (root, apps/, the app,
      // artifacts/, the kind) and the new version of the record file (a delta against the last).
      line(
        `${tag} pack by object type, per commit`,
        ['commit', 'tree', 'blob']
          .map((t) => {
            const v = g.byType.get(t) ?? { count: 0, bytes: 0 };
            return `${t}s ${mb(v.bytes)} (${v.count}, ${Math.round(v.bytes / g.commits)} B/commit)`;
          })
          .join(', '),
      );
      if (sc.layout === 'current')
        line(`${tag} finding lists in the blob store (unique, gzip)`, mb(g.findingBlobBytes));
      if (i === chosen.length - 1) {
        const l3 = await timeLoad(dir);
        line(
          `${tag} load 444-app catalog after ${RUNS} runs (4440 artifacts), cold / warm`,
          `${Math.round(l3.cold)} ms / ${Math.round(l3.warm)} ms`,
        );
      }
      if (!keep) await rm(dir, { recursive: true, force: true });
    }
  } finally {
    if (keep) line('kept', root);
    else await rm(root, { recursive: true, force: true });
  }
}

await main();
