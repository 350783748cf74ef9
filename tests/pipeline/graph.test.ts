// The build graph on the real engine: a fixture repository (git) with a parent image and a multi-stage
// child built FROM it, imported by the importer and run through the whole pipeline (podman, a real
// registry; only trivy is a stand-in). The parent is built and published first, the child is built
// FROM the published parent, and its recorded bases are what the engine used. Then the parent's base
// changes: both are rebuilt, parent first, with the pending reasons the catalog history shows.
// Also: a plain directory import (not a git work tree) builds from that directory, and refuses files
// that changed since the import.
import { generateKeyPairSync } from 'node:crypto';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importOpenEuler } from '../../catalog/import/openeuler.ts';
import { resolveImportSource } from '../../catalog/import/source.ts';
import type { Artifact } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { makeBuildStage } from '../../publisher/build/index.ts';
import { openStageContext } from '../../publisher/context.ts';
import { runPipeline, selectTargets, parseSelection } from '../../publisher/pipeline/index.ts';
import { runStage } from '../../publisher/pipeline/runner.ts';
import { loadTarget } from '../../publisher/select.ts';
import type { StageOutcome } from '../../publisher/stage.ts';
import { createBusyboxBase } from '../helpers/podman.ts';
import { startPipelineFixture, type PipelineFixture } from './fixture.ts';

const FAKE_TRIVY = resolve('tests/fixtures/bin/trivy');
const PARENT = '1.0-oe2403sp4';
const CHILD = '2.0-oe2403sp4';
let f: PipelineFixture;
let env: NodeJS.ProcessEnv;

const files: Record<string, string> = {
  'Others/image-list.yml': 'images:\n  hello: hello\n  parent: parent\n  child: child\n',
  'Others/parent/meta.yml': `${PARENT}:\n  path: 1.0/24.03-lts-sp4/Dockerfile\n`,
  'Others/parent/1.0/24.03-lts-sp4/Dockerfile': [
    'ARG BASE=openeuler/openeuler:24.03-lts-sp4',
    'FROM ${BASE}',
    'RUN mkdir -p /etc && cat /etc/base-release > /etc/parent-release',
    '',
  ].join('\n'),
  'Others/child/meta.yml': `${CHILD}:\n  path: /Others/child/2.0/24.03-lts-sp4/Dockerfile\n`,
  // Multi-stage: a builder stage on the OS image, the final stage on the Wharf-built parent, and an
  // ARG VERSION default (v2.0) that is not the tag's version and must not be overridden.
  'Others/child/2.0/24.03-lts-sp4/Dockerfile': [
    'ARG BUILDER=openeuler/openeuler:24.03-lts-sp4',
    'ARG BASE=openeuler/parent:1.0-oe2403sp4',
    'FROM ${BUILDER} AS build',
    'RUN echo built-by-the-builder-stage > /artifact',
    'FROM ${BASE}',
    'ARG VERSION=v2.0',
    'ARG TARGETARCH',
    'COPY --from=build /artifact /opt/artifact',
    'RUN echo "${VERSION} ${TARGETARCH}" > /opt/version',
    'CMD ["cat", "/opt/version"]',
    '',
  ].join('\n'),
};

beforeAll(async () => {
  f = await startPipelineFixture({ apps: false });
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(f.recipesDir, rel, '..'), { recursive: true });
    await writeFile(join(f.recipesDir, rel), text);
  }
  await f.commitRecipes('parent and child');
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  env = {
    WHARF_SIGNING_KEY: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    WHARF_TRIVY: FAKE_TRIVY,
    WHARF_TRIVY_TIMEOUT: '30',
  };
  process.env.FAKE_TRIVY_REPORT = 'alpine-310';
  await f.store.commit({ subject: 'test: scan policy' }, async (tx) => {
    const cfg = await tx.getConfig();
    tx.putConfig({ ...cfg, scanPolicy: { ...cfg.scanPolicy, block: [] } });
  });
}, 180_000);
afterAll(async () => {
  await f?.stop();
});

async function artifact(store: CatalogStore, app: string, tag: string): Promise<Artifact> {
  const a = (await store.loadApp(app))?.artifacts.find((x) => x.id === tag);
  if (!a) throw new Error(`no artifact ${app}:${tag}`);
  return a;
}

/** The child first on purpose: the run must still build the parent first. */
async function run(): Promise<{ stages: StageOutcome[]; counts: Record<string, number> }> {
  const snap = await f.store.load();
  const { targets } = selectTargets(snap, parseSelection([`child:${CHILD}`, `parent:${PARENT}`]));
  expect(targets.map((t) => t.app.id)).toEqual(['child', 'parent']);
  const stages: StageOutcome[] = [];
  const r = await runPipeline(await f.ctx({ env }), targets, {
    concurrency: 2,
    verify: { defaultGraceSeconds: 2, networkMode: 'host' },
    onStage: (o) => stages.push(o),
  });
  return { stages, counts: r.counts };
}

const at = (stages: StageOutcome[], app: string, stage: string) =>
  stages.findIndex((o) => o.app === app && o.stage === stage);

/** The pending reasons the artifact had, commit by commit (oldest first), from the catalog history. */
async function pendingHistory(app: string, tag: string): Promise<string[]> {
  const path = `apps/${app}/artifacts/container/${tag}.json`;
  const { stdout } = await execa('git', ['log', '--reverse', '--format=%H', '--', path], {
    cwd: f.catalogDir,
  });
  const out: string[] = [];
  for (const sha of stdout.split('\n').filter(Boolean)) {
    const a = JSON.parse(
      (await execa('git', ['show', `${sha}:${path}`], { cwd: f.catalogDir })).stdout,
    ) as Artifact;
    const reason = a.pending?.reason;
    if (reason && out.at(-1) !== reason) out.push(reason);
    if (!reason && out.at(-1) !== '-') out.push('-');
  }
  return out;
}

describe('build graph on the real engine', () => {
  it('imports the repository and builds the parent (and publishes it) before the child, FROM the published parent', async () => {
    const src = await resolveImportSource(f.recipesDir);
    expect(src.repo).toBe(f.recipesDir);
    const imp = await importOpenEuler(f.store, src.dir, { repo: src.repo!, commit: src.commit! });
    expect(imp.problems.filter((p) => p.file.startsWith('Others/child/2.0'))).toEqual([]);
    const { stages, counts } = await run();
    expect(counts.published).toBe(2);
    expect(at(stages, 'parent', 'publish')).toBeGreaterThanOrEqual(0);
    expect(at(stages, 'parent', 'publish')).toBeLessThan(at(stages, 'child', 'build'));

    const parent = await artifact(f.store, 'parent', PARENT);
    const child = await artifact(f.store, 'child', CHILD);
    const published = parent.records.publish!;
    const pubRef = `${f.registry.host}/wharf/parent:${PARENT}`;
    expect(published.targets[0]).toMatchObject({ ref: pubRef, status: 'ok' });
    const osBase = parent.records.build!.bases![0]!;
    expect(osBase).toMatchObject({ ref: 'openeuler/openeuler:24.03-lts-sp4', used: f.baseRef, stages: [0] });
    const b = child.records.build!;
    expect(b.bases).toEqual([
      { ref: 'openeuler/openeuler:24.03-lts-sp4', used: f.baseRef, digest: osBase.digest, stages: [0] },
      {
        ref: `openeuler/parent:${PARENT}`,
        used: `${pubRef}@${published.digest}`,
        digest: published.digest,
        stages: [1],
        app: 'parent',
        tag: PARENT,
      },
    ]);
    // Only declared ARGs; the author's VERSION default is kept (not passed), TARGETARCH per platform.
    expect(b.buildArgs).toEqual({
      BUILDER: `${f.baseRef}@${osBase.digest}`,
      BASE: `${pubRef}@${published.digest}`,
      TARGETARCH: 'amd64',
    });
    expect(b.base).toEqual({ ref: `${pubRef}@${published.digest}`, digest: published.digest });
    // What the engine used: the FROM steps in its log, the parent's layers under the child's, the files.
    const log = (await (await f.ctx()).blobs.get(b.log!))!.toString();
    expect(log).toContain(`FROM ${f.baseRef}@${osBase.digest} AS build`);
    expect(log).toContain(`FROM ${pubRef}@${published.digest}`);
    const podman = (...args: string[]) => execa('podman', args, { env: f.podman.env });
    const layers = async (ref: string) =>
      JSON.parse(
        (await podman('image', 'inspect', '--format', '{{json .RootFS.Layers}}', ref)).stdout,
      ) as string[];
    const parentLayers = await layers(`${pubRef}@${published.digest}`);
    expect((await layers(`localhost/wharf/child:${CHILD}`)).slice(0, parentLayers.length)).toEqual(
      parentLayers,
    );
    const cat = async (file: string) =>
      (
        await podman('run', '--rm', '--network', 'none', `localhost/wharf/child:${CHILD}`, 'cat', file)
      ).stdout.trim();
    expect(await cat('/opt/version')).toBe('v2.0 amd64');
    expect(await cat('/opt/artifact')).toBe('built-by-the-builder-stage');
    expect(await cat('/etc/parent-release')).toBe('base');
  });

  it('a new parent base rebuilds the parent, then the child, with the right pending reasons', async () => {
    const before = {
      parent: (await artifact(f.store, 'parent', PARENT)).records.build!,
      child: (await artifact(f.store, 'child', CHILD)).records.build!,
    };
    await createBusyboxBase(f.podman.engine, f.baseRef, { marker: 'base-v2' });
    const { stages, counts } = await run();
    expect(counts.published).toBe(2);
    const built = stages.filter((o) => o.stage === 'build').map((o) => [o.app, o.status]);
    expect(built).toEqual([
      ['parent', 'ok'],
      ['child', 'ok'],
    ]);
    expect(at(stages, 'parent', 'publish')).toBeLessThan(at(stages, 'child', 'build'));
    const parent = await artifact(f.store, 'parent', PARENT);
    const child = await artifact(f.store, 'child', CHILD);
    expect(parent.records.build!.bases![0]!.digest).not.toBe(before.parent.bases![0]!.digest);
    expect(child.records.build!.bases![1]).toMatchObject({
      app: 'parent',
      digest: parent.records.publish!.digest,
    });
    expect(child.records.build!.manifestDigest).not.toBe(before.child.manifestDigest);
    // The history: first builds, then the parent pending because its base moved and the child because
    // its parent was rebuilt; publishing cleared both.
    expect(await pendingHistory('parent', PARENT)).toEqual([
      'first build',
      '-',
      `base image ${f.baseRef} changed`,
      '-',
    ]);
    expect(await pendingHistory('child', CHILD)).toEqual([
      'first build',
      '-',
      `parent parent:${PARENT} rebuilt`,
      '-',
    ]);
  });
});

describe('a directory import that is not a git work tree', () => {
  it('builds from that directory and refuses recipe files changed since the import', async () => {
    const plain = join(f.dir, 'plain');
    await mkdir(join(plain, 'Others'), { recursive: true });
    await cp(join(f.recipesDir, 'Others/parent'), join(plain, 'Others/parent'), { recursive: true });
    await writeFile(join(plain, 'Others/image-list.yml'), 'images:\n  parent: parent\n');
    const src = await resolveImportSource(plain);
    expect(src.repo).toBeUndefined();
    const store = await CatalogStore.init(join(f.dir, 'plain-catalog'), {
      baseImages: { '24.03-lts-sp4': f.baseRef },
    });
    await importOpenEuler(store, src.dir);
    expect((await store.loadApp('parent'))!.app.source!.path).toBe(plain);
    const ctx = await openStageContext(store, {
      workDir: join(f.dir, 'plain-work'),
      engine: f.podman.engine,
      env: {},
    });
    const ok = await runStage(ctx, 'build', makeBuildStage(), await loadTarget(store, 'parent', PARENT));
    expect(ok.message).toMatch(/^built sha256:/);
    const rec = (await artifact(store, 'parent', PARENT)).records.build!;
    expect(rec.recipeCommit).toBeUndefined();
    expect(rec.labels?.['org.opencontainers.image.source']).toBe(plain);
    await writeFile(join(plain, 'Others/parent/1.0/24.03-lts-sp4/extra.txt'), 'not imported\n');
    const changed = await runStage(
      ctx,
      'build',
      makeBuildStage({ force: true }),
      await loadTarget(store, 'parent', PARENT),
    );
    expect(changed.status).toBe('failed');
    expect(changed.message).toMatch(
      /Others\/parent\/1\.0\/24\.03-lts-sp4 in .* changed since it was imported/,
    );
  });
});
