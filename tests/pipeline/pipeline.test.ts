// End to end: the fixture recipe repository through build → verify → scan → sign → publish against a
// real podman service and a real docker-registry; manifests and signatures are read back over HTTP.
// Only the `trivy` executable is a stand-in (tests/fixtures/bin/trivy prints a real report).
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppInput, Artifact } from '../../catalog/schema.ts';
import { newRunId } from '../../catalog/run-id.ts';
import { MANIFEST_ACCEPT } from '../../publisher/registry/media.ts';
import { verifyImage } from '../../publisher/sign/verify.ts';
import {
  runPipeline,
  selectTargets,
  parseSelection,
  type PipelineResult,
} from '../../publisher/pipeline/index.ts';
import type { StageContextOptions } from '../../publisher/context.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import { startPipelineFixture, OS, type PipelineFixture } from './fixture.ts';

const FAKE_TRIVY = resolve('tests/fixtures/bin/trivy');
let f: PipelineFixture;
let env: NodeJS.ProcessEnv;
let publicKey: KeyObject;

beforeAll(async () => {
  f = await startPipelineFixture();
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  publicKey = keys.publicKey;
  env = {
    WHARF_SIGNING_KEY: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    WHARF_TRIVY: FAKE_TRIVY,
    WHARF_TRIVY_TIMEOUT: '30',
  };
  // The stand-in scanner reads its report choice from the environment it inherits.
  process.env.FAKE_TRIVY_REPORT = 'alpine-310';
  // Findings are recorded but do not block the fixture images (policy blocking is tested by scan's own suite).
  await f.store.commit({ subject: 'test: scan policy' }, async (tx) => {
    const cfg = await tx.getConfig();
    tx.putConfig({ ...cfg, scanPolicy: { ...cfg.scanPolicy, block: [] } });
  });
}, 180_000);
afterAll(async () => {
  await f?.stop();
});

async function run(args: string[] = [], ctxOverrides: StageContextOptions = {}): Promise<PipelineResult> {
  const ctx = await f.ctx({ env, ...ctxOverrides });
  const snap = await f.store.load();
  expect(snap.problems).toEqual([]);
  const { targets, problems } = selectTargets(snap, parseSelection(args));
  expect(problems).toEqual([]);
  return runPipeline(ctx, targets, {
    concurrency: 2,
    verify: { defaultGraceSeconds: 2, networkMode: 'host' },
  });
}

async function artifact(app: string, tag: string): Promise<Artifact> {
  const e = await f.store.loadApp(app);
  const a = e?.artifacts.find((x) => x.id === tag);
  if (!a) throw new Error(`no artifact ${app}:${tag}`);
  return a;
}

async function registryManifest(
  repo: string,
  ref: string,
): Promise<{ status: number; digest?: string; body?: Buffer }> {
  const r = await fetch(`${f.registry.url}/v2/${repo}/manifests/${ref}`, {
    headers: { Accept: MANIFEST_ACCEPT },
  });
  if (r.status !== 200) return { status: r.status };
  return {
    status: 200,
    digest: r.headers.get('docker-content-digest') ?? '',
    body: Buffer.from(await r.arrayBuffer()),
  };
}

const ARTIFACTS = [
  ['hello', '1.0.0-oe2403sp4'],
  ['hello', '1.1.0-oe2403sp4'],
  ['kv', '0.3.0-oe2403sp4'],
  ['webby', '2.0.0-oe2403sp4'],
] as const;
const digests = new Map<string, string>();

describe('container pipeline end to end', () => {
  it('builds, verifies, scans, signs and publishes every fixture artifact', async () => {
    const r = await run();
    const summary = r.artifacts.map((a) => `${a.app}:${a.tag} ${a.status} ${a.message ?? ''}`);
    expect(r.counts.published, summary.join('\n')).toBe(4);
    expect(r.artifacts.map((a) => `${a.app}:${a.tag}`).sort()).toEqual(
      ARTIFACTS.map(([a, t]) => `${a}:${t}`),
    );

    for (const [app, tag] of ARTIFACTS) {
      const a = await artifact(app, tag);
      const { build, verify, scan, sign, publish } = a.records;
      expect(build?.status).toBe('ok');
      expect(build?.recipeCommit).toMatch(/^[a-f0-9]{40}$/);
      expect(build?.base).toEqual({ ref: f.baseRef, digest: expect.stringMatching(/^sha256:/) });
      const index = JSON.parse(
        await readFile(join(imageLayoutDir({ workDir: f.workDir }, app, tag), 'index.json'), 'utf8'),
      );
      expect(index.manifests[0].digest).toBe(build!.manifestDigest);
      expect(verify?.status).toBe('passed');
      expect(verify?.inputsDigest).toBe(build!.inputsDigest);
      expect(verify?.checks.every((c) => c.status === 'passed')).toBe(true);
      expect(scan?.status).toBe('ok');
      expect(scan?.target).toBe(build!.manifestDigest);
      expect(sign?.status).toBe('signed');
      expect(sign?.signatures.every((s) => s.digest === build!.manifestDigest)).toBe(true);
      expect(publish?.status).toBe('ok');
      expect(publish?.digest).toBe(build!.manifestDigest);
      expect(publish?.targets.map((x) => [x.status, x.digest])).toEqual([['ok', build!.manifestDigest]]);
      expect(a.pending).toBeUndefined();

      // The registry serves exactly the bytes that were built, under the recorded digest.
      const m = await registryManifest(`wharf/${app}`, tag);
      expect(m.status).toBe(200);
      expect(m.digest).toBe(build!.manifestDigest);
      expect(`sha256:${createHash('sha256').update(m.body!).digest('hex')}`).toBe(build!.manifestDigest);

      // The signature and provenance verify with the public key, read back over HTTP.
      const v = await verifyImage(`${f.registry.host}/wharf/${app}:${tag}`, publicKey, {
        requireAttestation: true,
      });
      expect(v.reasons).toEqual([]);
      expect(v.valid).toBe(true);
      digests.set(`${app}:${tag}`, build!.manifestDigest!);
    }
    const kvChecks = (await artifact('kv', '0.3.0-oe2403sp4')).records.verify!.checks;
    expect(kvChecks.map((c) => c.name)).toEqual(['starts (default check)']);

    // One commit per stage result, with trailers naming app, artifact, stage and run.
    const log = await f.store.log('hello');
    const mine = log.filter(
      (e) => e.trailers['Run-Id'] === r.runId && e.trailers.Artifact === '1.0.0-oe2403sp4',
    );
    expect(mine.map((e) => e.trailers.Stage).sort()).toEqual(['build', 'publish', 'scan', 'sign', 'verify']);
    // Smoke-test containers are gone.
    const left = await f.podman.engine.listContainers({
      all: true,
      filters: { label: ['dev.wharf.smoke-test'] },
    });
    expect(left).toEqual([]);
  }, 240_000);

  it('a second run with nothing changed is all "unchanged" (timing: npm run bench:pipeline)', async () => {
    const r = await run();
    expect(r.counts.unchanged, JSON.stringify(r.artifacts, null, 1)).toBe(4);
    for (const a of r.artifacts) {
      expect(a.stages.map((s) => `${s.stage}:${s.status}`)).toEqual(['build:unchanged']);
      const rec = await artifact(a.app, a.tag);
      expect(rec.records.build?.status).toBe('unchanged');
      expect(rec.records.build?.manifestDigest).toBe(digests.get(`${a.app}:${a.tag}`));
    }
  }, 60_000);

  it('a changed Dockerfile rebuilds only that app', async () => {
    const df = join(f.recipesDir, 'Database/kv/0.3.0/24.03-lts-sp4/Dockerfile');
    await writeFile(df, (await readFile(df, 'utf8')) + 'RUN echo tuned > /var/lib/kv/tuning\n');
    // A .dockerignore'd file changing is not an input.
    await writeFile(join(f.recipesDir, 'Others/hello/1.0.0/24.03-lts-sp4/NOTES.md'), 'edited notes\n');
    const commit = await f.commitRecipes('kv: tune');
    const r = await run();
    const by = Object.fromEntries(r.artifacts.map((a) => [`${a.app}:${a.tag}`, a.status]));
    expect(by).toEqual({
      'hello:1.0.0-oe2403sp4': 'unchanged',
      'hello:1.1.0-oe2403sp4': 'unchanged',
      'kv:0.3.0-oe2403sp4': 'published',
      'webby:2.0.0-oe2403sp4': 'unchanged',
    });
    const kv = await artifact('kv', '0.3.0-oe2403sp4');
    expect(kv.records.build?.recipeCommit).toBe(commit);
    expect(kv.records.build?.manifestDigest).not.toBe(digests.get('kv:0.3.0-oe2403sp4'));
    expect((await registryManifest('wharf/kv', '0.3.0-oe2403sp4')).digest).toBe(
      kv.records.build?.manifestDigest,
    );
  }, 120_000);
});

describe('faults are recorded, never published', () => {
  const faultApp = (
    id: string,
    dir: string,
    dockerfile: string,
    extra: Record<string, unknown> = {},
  ): AppInput => ({
    id,
    name: id,
    title: { en: id },
    category: 'others',
    source: { origin: 'fixture', dir },
    recipes: {
      container: [
        {
          kind: 'container',
          tag: `1.0-oe2403sp4`,
          dockerfile,
          version: '1.0',
          osVersion: OS,
          arches: ['amd64'],
          ...extra,
        },
      ],
      cloud: [],
      wsl: [],
    },
  });

  it('escaping paths, a missing Dockerfile, a failing RUN and a hanging smoke test', async () => {
    // evil: a Dockerfile that is a symlink out of the tree; broken: RUN exits 3.
    await mkdir(join(f.recipesDir, 'Others/evil/1.0/24.03-lts-sp4'), { recursive: true });
    await symlink('/etc/passwd', join(f.recipesDir, 'Others/evil/1.0/24.03-lts-sp4/Dockerfile'));
    await mkdir(join(f.recipesDir, 'Others/broken/1.0/24.03-lts-sp4'), { recursive: true });
    await writeFile(
      join(f.recipesDir, 'Others/broken/1.0/24.03-lts-sp4/Dockerfile'),
      'ARG BASE\nFROM ${BASE}\nRUN echo about to fail && exit 3\n',
    );
    await f.commitRecipes('fault recipes');
    await f.store.commit({ subject: 'test: fault apps' }, (tx) => {
      tx.putApp(faultApp('evil', 'Others/evil', '1.0/24.03-lts-sp4/Dockerfile'));
      tx.putApp(faultApp('escape', '../outside', '1.0/24.03-lts-sp4/Dockerfile'));
      tx.putApp(faultApp('ghost', 'Others/hello', '9.9/24.03-lts-sp4/Dockerfile'));
      tx.putApp(faultApp('broken', 'Others/broken', '1.0/24.03-lts-sp4/Dockerfile'));
      tx.putApp(
        faultApp('sleepy', 'Others/hello', '1.0.0/24.03-lts-sp4/Dockerfile', {
          smoke: [{ name: 'hangs', command: ['sleep', '600'], expectExit: 0, timeoutSeconds: 2 }],
        }),
      );
    });
    const r = await run(['evil', 'escape', 'ghost', 'broken', 'sleepy']);
    const by = Object.fromEntries(r.artifacts.map((a) => [a.app, a]));
    for (const id of ['evil', 'escape', 'ghost', 'broken', 'sleepy']) expect(by[id]?.status).toBe('failed');
    expect(by.evil?.stoppedAt).toBe('build');
    expect(by.sleepy?.stoppedAt).toBe('verify');

    const err = async (app: string, stage: 'build' | 'verify') =>
      (await artifact(app, '1.0-oe2403sp4')).records[stage]?.error;
    expect((await err('evil', 'build'))?.message).toMatch(
      /^build evil:1\.0-oe2403sp4 failed: .*outside the recipe tree/,
    );
    expect((await err('escape', 'build'))?.message).toMatch(
      /^build escape:1\.0-oe2403sp4 failed: invalid app directory/,
    );
    expect((await err('ghost', 'build'))?.message).toMatch(
      /^build ghost:1\.0-oe2403sp4 failed: Dockerfile Others\/hello\/9\.9.* not found/,
    );
    const broken = await err('broken', 'build');
    expect(broken?.message).toMatch(/^build broken:1\.0-oe2403sp4 failed: /);
    expect(broken?.tail?.join('\n')).toMatch(/about to fail/);
    expect((await artifact('broken', '1.0-oe2403sp4')).records.build?.log).toBeDefined();
    const sleepy = await artifact('sleepy', '1.0-oe2403sp4');
    expect(sleepy.records.verify?.status).toBe('failed');
    expect(sleepy.records.verify?.checks[0]?.status).toBe('timeout');
    expect(sleepy.records.verify?.error?.message).toMatch(
      /^verify sleepy:1\.0-oe2403sp4 failed: smoke test "hangs" timed out/,
    );

    for (const id of ['evil', 'escape', 'ghost', 'broken', 'sleepy']) {
      const a = await artifact(id, '1.0-oe2403sp4');
      expect(a.records.publish).toBeUndefined();
      expect(a.records.sign).toBeUndefined();
      expect(a.pending).toBeDefined();
      expect((await registryManifest(`wharf/${id}`, '1.0-oe2403sp4')).status).toBe(404);
    }
    const left = await f.podman.engine.listContainers({
      all: true,
      filters: { label: ['dev.wharf.smoke-test'] },
    });
    expect(left).toEqual([]);
    // The catalog is consistent and the work tree clean: no half-written record.
    expect((await f.store.load()).problems).toEqual([]);
  }, 180_000);

  it('an unreachable engine is a recorded build error, not a crash', async () => {
    const engine = new Docker({ socketPath: join(f.dir, 'no-such-engine.sock') });
    const r = await run(['kv'], { engine, runId: newRunId() });
    expect(r.artifacts).toHaveLength(1);
    expect(r.artifacts[0]!.status).toBe('failed');
    const kv = await artifact('kv', '0.3.0-oe2403sp4');
    expect(kv.records.build?.status).toBe('failed');
    expect(kv.records.build?.error?.message).toMatch(
      /^build kv:0\.3\.0-oe2403sp4 failed: container engine unreachable at unix:\/\//,
    );
    // What was published before stays published and recorded.
    expect(kv.records.publish?.status).toBe('ok');
  }, 60_000);
});

describe('wharf pipeline|build|smoke CLI', () => {
  const wharf = (args: string[]) =>
    execa('node', ['scripts/wharf.mjs', ...args], {
      reject: false,
      env: { ...env, WHARF_CATALOG: f.catalogDir, WHARF_WORK_DIR: f.workDir, DOCKER_HOST: f.podman.url },
    });

  it('runs the pipeline with --json and exits 0 when everything is unchanged', async () => {
    const r = await wharf([
      'pipeline',
      'hello',
      'webby',
      '--json',
      '--concurrency',
      '2',
      '--smoke-network',
      'host',
    ]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const out = JSON.parse(String(r.stdout));
    expect(out.counts.unchanged).toBe(3);
    expect(out.artifacts.map((a: { app: string; tag: string }) => `${a.app}:${a.tag}`).sort()).toEqual([
      'hello:1.0.0-oe2403sp4',
      'hello:1.1.0-oe2403sp4',
      'webby:2.0.0-oe2403sp4',
    ]);
  }, 60_000);

  it('wharf smoke runs only the smoke tests; failures exit 1 and name the artifact', async () => {
    const ok = await wharf(['smoke', 'hello:1.0.0-oe2403sp4', '--smoke-network', 'host']);
    expect(ok.exitCode, String(ok.stderr)).toBe(0);
    expect(String(ok.stdout)).toMatch(/hello:1\.0\.0-oe2403sp4\s+done\s+verify:passed/);
    const bad = await wharf(['build', 'broken', '--json']);
    expect(bad.exitCode).toBe(1);
    expect(JSON.parse(String(bad.stdout)).artifacts[0].message).toMatch(
      /^build broken:1\.0-oe2403sp4 failed/,
    );
  }, 90_000);

  it('usage errors exit 2', async () => {
    expect((await wharf(['build', 'no-such-app'])).exitCode).toBe(2);
    expect((await wharf(['build', 'Bad/Name'])).exitCode).toBe(2);
    expect((await wharf(['pipeline', '--concurrency', '0'])).exitCode).toBe(2);
  }, 30_000);
});
