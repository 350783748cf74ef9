// Shared setup for the pipeline tests: a real registry, a real podman service, the busybox base pushed
// to the registry, the fixture recipe tree as a real git repository, and a catalog whose apps point
// at it. Everything lives in temp dirs and on loopback ports of its own.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import type { AppInput, CatalogConfig, SmokeTest } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { readMeta } from '../../publisher/recipes/index.ts';
import { openStageContext, type StageContextOptions } from '../../publisher/context.ts';
import type { StageContext } from '../../publisher/stage.ts';
import { createBusyboxBase, startPodman, type TestPodman } from '../helpers/podman.ts';
import { freePort } from '../helpers/ports.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

export const FIXTURE_RECIPES = resolve(import.meta.dirname, '../fixtures/recipes');
export const OS = '24.03-lts-sp4';

export interface PipelineFixture {
  registry: TestRegistry;
  podman: TestPodman;
  baseRef: string;
  recipesDir: string;
  catalogDir: string;
  store: CatalogStore;
  workDir: string;
  dir: string;
  /** The port webby's smoke test expects its server on. */
  webPort: number;
  ctx(overrides?: StageContextOptions): Promise<StageContext>;
  /** Commit everything in the recipe repo; returns the new commit. */
  commitRecipes(message: string): Promise<string>;
  stop(): Promise<void>;
}

const gitEnv = {
  GIT_AUTHOR_NAME: 'Fixture',
  GIT_AUTHOR_EMAIL: 'fixture@localhost',
  GIT_COMMITTER_NAME: 'Fixture',
  GIT_COMMITTER_EMAIL: 'fixture@localhost',
};
const gitIn = (cwd: string, args: string[]) =>
  execa('git', ['-c', 'commit.gpgsign=false', ...args], { cwd, env: gitEnv });

/** The fixture apps as catalog entries, built from each app's meta.yml. */
export async function fixtureApps(recipesDir: string, webPort: number): Promise<AppInput[]> {
  const defs: Array<{ id: string; dir: string; scene: string; smoke?: SmokeTest[] }> = [
    {
      id: 'hello',
      dir: 'Others/hello',
      scene: 'Others',
      smoke: [
        {
          name: 'prints its version',
          command: ['/usr/local/bin/hello'],
          expectExit: 0,
          expectOutput: '^hello [0-9.]+ amd64',
          timeoutSeconds: 30,
        },
      ],
    },
    {
      id: 'webby',
      dir: 'Cloud/webby',
      scene: 'Cloud',
      smoke: [
        {
          name: 'serves http',
          command: ['httpd', '-f', '-p', String(webPort), '-h', '/srv/www'],
          expectExit: 0,
          port: webPort,
          timeoutSeconds: 30,
        },
      ],
    },
    // kv has no smoke tests: the default check applies.
    { id: 'kv', dir: 'Database/kv', scene: 'Database' },
  ];
  const apps: AppInput[] = [];
  for (const d of defs) {
    const meta = await readMeta(recipesDir, d.dir);
    if (meta.problems.length) throw new Error(meta.problems.join('; '));
    apps.push({
      id: d.id,
      name: d.id,
      title: { en: d.id },
      category: 'others',
      scene: d.scene,
      license: { spdx: 'MIT' },
      source: { origin: 'fixture', dir: d.dir },
      recipes: {
        container: meta.recipes.map((r) => ({
          kind: 'container' as const,
          tag: r.tag,
          dockerfile: r.dockerfile,
          version: r.version,
          osVersion: r.osVersion,
          arches: ['amd64' as const],
          ...(d.smoke ? { smoke: d.smoke } : {}),
        })),
        cloud: [],
        wsl: [],
      },
    });
  }
  return apps;
}

export async function startPipelineFixture(opts: { apps?: boolean } = {}): Promise<PipelineFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-pipeline-'));
  const registry = await startRegistry();
  const podman = await startPodman({ insecureRegistries: [registry.host] });
  const baseRef = `${registry.host}/openeuler/openeuler:${OS}`;
  await createBusyboxBase(podman.engine, baseRef);

  const recipesDir = join(dir, 'recipes');
  await cp(FIXTURE_RECIPES, recipesDir, { recursive: true });
  await gitIn(recipesDir, ['init', '-q', '-b', 'main']);
  const commitRecipes = async (message: string) => {
    await gitIn(recipesDir, ['add', '-A']);
    await gitIn(recipesDir, ['commit', '-q', '--allow-empty', '-m', message]);
    return (await gitIn(recipesDir, ['rev-parse', 'HEAD'])).stdout.trim();
  };
  await commitRecipes('fixture recipes');

  const config: Partial<CatalogConfig> = {
    baseImages: { [OS]: baseRef },
    recipes: { url: recipesDir, ref: 'HEAD' },
    registries: [{ name: 'local', repository: `${registry.host}/wharf`, insecure: true }],
  };
  const catalogDir = join(dir, 'catalog');
  const store = await CatalogStore.init(catalogDir, config);
  const webPort = await freePort();
  if (opts.apps !== false) {
    const apps = await fixtureApps(recipesDir, webPort);
    await store.commit({ subject: 'fixture apps' }, (tx) => {
      for (const a of apps) tx.putApp(a);
    });
  }
  const workDir = join(dir, 'work');
  return {
    registry,
    podman,
    baseRef,
    recipesDir,
    catalogDir,
    store,
    workDir,
    dir,
    webPort,
    async ctx(overrides = {}) {
      return openStageContext(store, { workDir, engine: podman.engine, env: {}, ...overrides });
    },
    commitRecipes,
    async stop() {
      await podman.stop().catch(() => undefined);
      await registry.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Write a file into the fixture's recipe working tree (commit with commitRecipes). */
export async function writeRecipeFile(f: PipelineFixture, rel: string, text: string): Promise<void> {
  await writeFile(join(f.recipesDir, rel), text);
}
