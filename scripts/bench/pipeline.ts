// Benchmark: 20 small apps through build → verify → scan (stand-in trivy printing a real report) →
// sign → publish against a real podman service and docker-registry on loopback, then the same run again
// with nothing changed. Prints both times; the goal for the unchanged run is < 1 s per app.
//
//   npm run bench:pipeline            (BENCH_APPS=20 BENCH_CONCURRENCY=2 by default)
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import type { AppInput } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { runPipeline, selectTargets, type PipelineResult } from '../../publisher/pipeline/index.ts';
import { openStageContext } from '../../publisher/context.ts';
import { createBusyboxBase, startPodman } from '../../tests/helpers/podman.ts';
import { startRegistry } from '../../tests/helpers/registry.ts';

const APPS = Number(process.env.BENCH_APPS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);
const OS = '24.03-lts-sp4';

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
      apps.push({
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
              arches: ['amd64'],
              smoke: [
                {
                  name: 'version',
                  command: ['cat', '/opt/app/version'],
                  expectExit: 0,
                  expectOutput: `^${id} 1\\.0\\.0$`,
                  timeoutSeconds: 30,
                },
              ],
            },
          ],
          cloud: [],
          wsl: [],
        },
      });
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
    if (first.counts.published !== APPS || second.counts.unchanged !== APPS) {
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

await main();
