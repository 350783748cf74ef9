// Benchmark: 20 small apps through build → verify → scan (stand-in trivy printing a real report) →
// sign → publish against a real podman service and docker-registry on loopback, then the same run again
// with nothing changed. Prints both times; the goal for the unchanged run is < 1 s per app.
//
//   npm run bench:pipeline            (BENCH_APPS=20 BENCH_CONCURRENCY=2 by default)
import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import type { AppInput } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { runPipeline, selectTargets, type PipelineResult } from '../../publisher/pipeline/index.ts';
import { openStageContext } from '../../publisher/context.ts';
import { createBusyboxBase, startPodman } from '../../tests/helpers/podman.ts';
import { startRegistry } from '../../tests/helpers/registry.ts';
import { prepareArches } from '../../tests/helpers/arches.ts';

const APPS = Number(process.env.BENCH_APPS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);
const OS = '24.03-lts-sp4';
/** Multi-arch part: apps FROM scratch with a static busybox per arch, built for amd64 and arm64. */
const MULTI_APPS = Number(process.env.BENCH_MULTIARCH_APPS ?? 4);

type BenchRecipe = NonNullable<NonNullable<AppInput['recipes']>['container']>[number];

/** A bench app under Others/<id> with one container recipe, 1.0.0 on OS, for these arches. */
function benchApp(id: string, arches: BenchRecipe['arches'], smoke?: BenchRecipe['smoke']): AppInput {
  return {
    id,
    name: id,
    title: { en: id },
    category: 'others',
    source: { origin: 'bench', dir: `Others/${id}` },
    recipes: {
      container: [
        {
          kind: 'container',
          tag: '1.0.0-oe2403sp4',
          dockerfile: `1.0.0/${OS}/Dockerfile`,
          version: '1.0.0',
          osVersion: OS,
          arches,
          ...(smoke === undefined ? {} : { smoke }),
        },
      ],
      cloud: [],
      wsl: [],
    },
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-pipeline-'));
  const registry = await startRegistry();
  const podman = await startPodman({ insecureRegistries: [registry.host] });
  try {
    const baseRef = `${registry.host}/openeuler/openeuler:${OS}`;
    await createBusyboxBase(podman.engine, baseRef);

    // A recipe repository in the openEuler layout with APPS small apps.
    const recipes = join(dir, 'recipes');
    const apps: AppInput[] = [];
    for (let i = 1; i <= APPS; i++) {
      const id = `bench-app-${String(i).padStart(2, '0')}`;
      const d = join(recipes, 'Others', id, '1.0.0', OS);
      await mkdir(d, { recursive: true });
      await writeFile(
        join(recipes, 'Others', id, 'meta.yml'),
        `1.0.0-oe2403sp4:\n  path: 1.0.0/${OS}/Dockerfile\n`,
      );
      await writeFile(
        join(d, 'Dockerfile'),
        `ARG BASE\nFROM \${BASE}\nARG VERSION\nRUN mkdir -p /opt/app && echo "${id} \${VERSION}" > /opt/app/version\nCOPY motd /etc/motd\nCMD ["cat", "/opt/app/version"]\n`,
      );
      await writeFile(join(d, 'motd'), `welcome to ${id}\n`);
      apps.push(
        benchApp(
          id,
          ['amd64'],
          [
            {
              name: 'version',
              command: ['cat', '/opt/app/version'],
              expectExit: 0,
              expectOutput: `^${id} 1\\.0\\.0$`,
              timeoutSeconds: 30,
            },
          ],
        ),
      );
    }
    const g = (args: string[]) =>
      execa('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...args], { cwd: recipes });
    await g(['init', '-q', '-b', 'main']);
    await g(['add', '-A']);
    await g(['commit', '-q', '-m', 'bench recipes']);

    const store = await CatalogStore.init(join(dir, 'catalog'), {
      baseImages: { [OS]: baseRef },
      recipes: { url: recipes, ref: 'HEAD' },
      registries: [{ name: 'local', repository: `${registry.host}/wharf`, insecure: true }],
    });
    await store.commit({ subject: 'bench apps' }, async (tx) => {
      for (const a of apps) tx.putApp(a);
      const cfg = await tx.getConfig();
      // Findings are recorded but do not block: the benchmark measures the pipeline, not the policy.
      tx.putConfig({ ...cfg, scanPolicy: { ...cfg.scanPolicy, block: [] } });
    });
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    process.env.FAKE_TRIVY_REPORT ??= 'alpine-310';
    const env = {
      WHARF_SIGNING_KEY: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      WHARF_TRIVY: resolve('tests/fixtures/bin/trivy'),
    };
    const once = async (): Promise<PipelineResult> => {
      const snap = await store.load();
      const ctx = await openStageContext(store, {
        config: snap.config,
        workDir: join(dir, 'work'),
        engine: podman.engine,
        env,
        log: { info() {}, warn: (m) => process.stderr.write(`warning: ${m}\n`) },
      });
      return runPipeline(ctx, selectTargets(snap).targets, {
        concurrency: CONCURRENCY,
        verify: { networkMode: 'host' },
      });
    };
    const line = (label: string, r: PipelineResult) => {
      const c = r.counts;
      const perApp = r.durationMs / r.artifacts.length;
      console.log(
        `${label}: ${r.artifacts.length} apps in ${(r.durationMs / 1000).toFixed(2)} s (${perApp.toFixed(0)} ms per app; ${c.published} published, ${c.unchanged} unchanged, ${c.failed} failed, ${c.blocked} blocked; concurrency ${CONCURRENCY})`,
      );
    };
    const first = await once();
    line('first run (build, verify, scan, sign, publish)', first);
    const second = await once();
    line('second run (nothing changed)', second);
    const perApp = second.durationMs / second.artifacts.length;
    console.log(
      `goal: unchanged run < 1000 ms per app: ${perApp < 1000 ? 'met' : 'NOT met'} (${perApp.toFixed(0)} ms)`,
    );
    const multiOk =
      MULTI_APPS > 0
        ? await multiArch(store, recipes, g, { engine: podman.engine, workDir: join(dir, 'work'), env })
        : true;
    if (!multiOk || first.counts.published !== APPS || second.counts.unchanged !== APPS) {
      for (const a of [...first.artifacts, ...second.artifacts].filter((x) => x.status === 'failed'))
        console.error(`${a.app}:${a.tag} ${a.status} at ${a.stoppedAt}: ${a.message}`);
      process.exitCode = 1;
    }
  } finally {
    await podman.stop();
    await registry.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The multi-arch part (the whole pipeline with `--arch amd64,arm64`: per-arch build, verify — arm64 under
 * qemu-user-static — scan, sign, and one OCI image index published): per-arch build and smoke-test times
 * from the records' platforms[].durationMs, then the time of a rerun with nothing changed (no arch built,
 * the published index found unchanged).
 */
async function multiArch(
  store: CatalogStore,
  recipes: string,
  g: (args: string[]) => Promise<unknown>,
  where: { engine: Docker; workDir: string; env: NodeJS.ProcessEnv },
): Promise<boolean> {
  const busybox = await prepareArches();
  const apps: AppInput[] = [];
  for (let i = 1; i <= MULTI_APPS; i++) {
    const id = `bench-multi-${String(i).padStart(2, '0')}`;
    const d = join(recipes, 'Others', id, '1.0.0', OS);
    for (const a of ['amd64', 'arm64'] as const) {
      await mkdir(join(d, a), { recursive: true });
      await copyFile(busybox[a], join(d, a, 'busybox'));
    }
    await writeFile(join(d, 'id'), `${id}\n`);
    await writeFile(
      join(d, 'Dockerfile'),
      'FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}/busybox /bin/busybox\nCOPY id /id\nENTRYPOINT ["/bin/busybox"]\n',
    );
    apps.push(
      benchApp(
        id,
        ['amd64', 'arm64'],
        [
          {
            name: 'runs',
            command: ['/bin/busybox', 'uname', '-m'],
            expectExit: 0,
            expectOutput: '^(x86_64|aarch64)$',
            timeoutSeconds: 30,
          },
        ],
      ),
    );
  }
  await g(['add', '-A']);
  await g(['commit', '-q', '-m', 'bench multi-arch recipes']);
  await store.commit({ subject: 'bench multi-arch apps' }, async (tx) => {
    // Only the multi-arch apps this time: the single-arch ones keep their single-arch records.
    for (const a of apps) tx.putApp(a);
  });
  const buildMulti = async (): Promise<PipelineResult> => {
    const snap = await store.load();
    const ctx = await openStageContext(store, {
      config: snap.config,
      workDir: where.workDir,
      engine: where.engine,
      env: where.env,
      log: { info() {}, warn: (m) => process.stderr.write(`warning: ${m}\n`) },
    });
    const targets = selectTargets(snap).targets.filter((t) => t.app.id.startsWith('bench-multi-'));
    return runPipeline(ctx, targets, {
      concurrency: CONCURRENCY,
      build: { arches: ['amd64', 'arm64'] },
      verify: { networkMode: 'host' },
    });
  };
  const first = await buildMulti();
  const built: Record<string, number[]> = {};
  const verified: Record<string, number[]> = {};
  let indexes = 0;
  for (const a of apps) {
    const r = (await store.loadApp(a.id))?.artifacts[0]?.records;
    for (const p of r?.build?.platforms ?? []) (built[`${p.arch} (${p.status})`] ??= []).push(p.durationMs);
    for (const p of r?.verify?.platforms ?? [])
      (verified[`${p.arch}${p.emulated ? ' emulated' : ''}`] ??= []).push(p.durationMs ?? 0);
    if (r?.publish?.status === 'ok' && r.publish.platforms?.length === 2) indexes++;
  }
  const means = (m: Record<string, number[]>) =>
    Object.entries(m)
      .map(([k, v]) => `${k} mean ${(v.reduce((x, y) => x + y, 0) / v.length).toFixed(0)} ms`)
      .join(', ');
  console.log(
    `multi-arch pipeline (amd64 + arm64; build, verify, scan, sign, publish an image index): ${apps.length} apps in ${(first.durationMs / 1000).toFixed(2)} s; ${indexes} indexes published`,
  );
  console.log(`multi-arch build per arch: ${means(built)}`);
  console.log(`multi-arch smoke tests per arch: ${means(verified)}`);
  const second = await buildMulti();
  console.log(
    `multi-arch rerun (nothing changed): ${apps.length} apps in ${(second.durationMs / 1000).toFixed(2)} s (${(second.durationMs / apps.length).toFixed(0)} ms per app; ${second.counts.unchanged} unchanged, ${second.counts.failed} failed)`,
  );
  return first.counts.failed === 0 && indexes === apps.length && second.counts.unchanged === apps.length;
}

await main();
