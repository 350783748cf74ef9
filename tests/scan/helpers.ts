// Shared set-up for the scan tests: a real git catalog, a real blob store, a real OCI image layout built
// with tar-stream, and the stand-in trivy (the only replaced part).
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import tar from 'tar-stream';
import { FsBlobStore } from '../../catalog/blobs.ts';
import { newRunId } from '../../catalog/run-id.ts';
import { openStageContext, type StageContextOptions } from '../../publisher/context.ts';
import { runStage } from '../../publisher/pipeline/runner.ts';
import { scanStage } from '../../publisher/scan/index.ts';
import { loadTarget } from '../../publisher/select.ts';
import { CatalogStore } from '../../catalog/store.ts';
import type { Artifact, CatalogConfig } from '../../catalog/schema.ts';
import { imageLayoutDir, type StageContext, type StageFn, type StageTarget } from '../../publisher/stage.ts';

export const FAKE_TRIVY = resolve('tests/fixtures/bin/trivy');
export const FIXTURES = resolve('tests/fixtures/trivy-reports');
export const REPORTS = ['centos-7', 'almalinux-8', 'rockylinux-8', 'alpine-310'] as const;

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export async function readFixture(name: string): Promise<string> {
  return readFile(join(FIXTURES, `${name}.json`), 'utf8');
}

/** Write an OCI image layout (oci-layout, index.json, blobs) holding one tiny image; returns its manifest digest. */
export async function makeOciLayout(
  dir: string,
  tag: string,
  content = 'hello from wharf\n',
): Promise<string> {
  const pack = tar.pack();
  pack.entry({ name: 'etc/motd', mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const layer = Buffer.concat(chunks);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layer)}`] },
    }),
  );
  const desc = (mediaType: string, b: Buffer) => ({
    mediaType,
    digest: `sha256:${sha256(b)}`,
    size: b.length,
  });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: desc('application/vnd.oci.image.config.v1+json', config),
      layers: [desc('application/vnd.oci.image.layer.v1.tar', layer)],
    }),
  );
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const b of [layer, config, manifest]) await writeFile(join(dir, 'blobs', 'sha256', sha256(b)), b);
  const m = desc('application/vnd.oci.image.manifest.v1+json', manifest);
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...m, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return m.digest;
}

/** The environment the fixture's stage context reads: the stand-in Trivy, a 20 s timeout. */
export const SCAN_ENV: NodeJS.ProcessEnv = { WHARF_TRIVY: FAKE_TRIVY, WHARF_TRIVY_TIMEOUT: '20' };

export interface ScanFixture {
  root: string;
  store: CatalogStore;
  blobs: FsBlobStore;
  workDir: string;
  logs: string[];
  ctx(over?: StageContextOptions): Promise<StageContext>;
  target(app: string, tag: string): Promise<StageTarget>;
  artifact(app: string, tag: string): Promise<Artifact>;
  /** Add an app with one container recipe and a build record; optionally the OCI layout too. */
  addBuiltApp(
    app: string,
    tag: string,
    opts?: { layout?: boolean; extra?: Partial<Artifact> },
  ): Promise<string>;
}

export async function scanFixture(config: Partial<CatalogConfig> = {}): Promise<ScanFixture> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-scan-'));
  const store = await CatalogStore.init(join(root, 'catalog'), config);
  const blobs = new FsBlobStore(join(root, 'blobs'));
  const workDir = join(root, 'work');
  const logs: string[] = [];
  const f: ScanFixture = {
    root,
    store,
    blobs,
    workDir,
    logs,
    async ctx(over = {}) {
      return openStageContext(store, {
        blobs,
        workDir,
        engine: null,
        log: { info: (m) => logs.push(`info ${m}`), warn: (m) => logs.push(`warn ${m}`) },
        env: SCAN_ENV,
        ...over,
      });
    },
    async artifact(app, tag) {
      const e = await store.loadApp(app);
      const a = e?.artifacts.find((x) => x.id === tag);
      if (!a) throw new Error(`no artifact ${app}:${tag}`);
      return a;
    },
    target: (app, tag) => loadTarget(store, app, tag),
    async addBuiltApp(app, tag, opts = {}) {
      const dir = imageLayoutDir({ workDir }, app, tag);
      const digest =
        opts.layout === false
          ? `sha256:${sha256(`${app}:${tag}`)}`
          : await makeOciLayout(dir, tag, `${app}:${tag}\n`);
      await store.commit({ subject: `test: add ${app}` }, async (tx) => {
        const existing = await tx.getApp(app);
        const recipe = {
          kind: 'container' as const,
          tag,
          dockerfile: `1.0/24.03-lts-sp4/Dockerfile`,
          version: '1.0',
          osVersion: '24.03-lts-sp4',
          arches: ['amd64' as const],
        };
        tx.putApp({
          id: app,
          name: app,
          title: { en: app },
          category: 'tools',
          recipes: { container: [...(existing?.recipes.container ?? []), recipe], cloud: [], wsl: [] },
        });
        tx.putArtifact({
          app,
          kind: 'container',
          id: tag,
          version: '1.0',
          osVersion: '24.03-lts-sp4',
          arches: ['amd64'],
          ...opts.extra,
          records: {
            build: { runId: newRunId(), at: new Date().toISOString(), status: 'ok', manifestDigest: digest },
            ...opts.extra?.records,
          },
        });
      });
      return digest;
    },
  };
  return f;
}

/** A real Trivy report with its vulnerabilities edited (severity, fixed version, extra or removed CVEs). */
export async function editedReport(
  base: string,
  edit: (vulns: Record<string, unknown>[]) => Record<string, unknown>[],
  dir: string,
  name: string,
): Promise<string> {
  const r = JSON.parse(await readFixture(base));
  r.Results[0].Vulnerabilities = edit(r.Results[0].Vulnerabilities);
  const p = join(dir, `${name}.json`);
  await writeFile(p, JSON.stringify(r, null, 2));
  return p;
}

/** A scan stage function through the runner, which commits its record (as the pipeline and `wharf scan` do). */
export const scanWith = (fn: StageFn) => (ctx: StageContext, t: StageTarget) => runStage(ctx, 'scan', fn, t);
export const runScan = scanWith(scanStage);

/** The stand-in Trivy's calls in this fixture (argv, and the registry credentials it was given). */
/** Where the stand-in Trivy logs its calls (FAKE_TRIVY_ARGS_LOG). */
export const trivyArgsLog = (fx: Pick<ScanFixture, 'root'>) => join(fx.root, 'trivy-args.jsonl');

export async function trivyCalls(
  fx: Pick<ScanFixture, 'root'>,
): Promise<{ argv: string[]; username: string | null; password: string | null }[]> {
  return (await readFile(trivyArgsLog(fx), 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { argv: string[]; username: string | null; password: string | null });
}
