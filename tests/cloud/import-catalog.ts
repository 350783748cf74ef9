// The catalog the cloud import adapters' contract tests share (tests/cloud/providers-*.test.ts): one
// app with one cloud recipe, fake build and publish stages writing the records the cloud build and
// publish stages write (one file per format with its virtual size; one object per format on
// objectStorage target `images`), and a stage context on a real git catalog whose
// wharf.yml has the given `clouds:` targets. Each test keeps its own loopback cloud server.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudTargetInput } from '../../catalog/config.ts';
import { zCatalogConfig, type AppInput, type PublishRecord } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { openStageContext } from '../../publisher/context.ts';
import { selectTargets } from '../../publisher/pipeline/index.ts';
import { parseSelection } from '../../publisher/select.ts';
import type { StageContext, StageFn, StageTarget } from '../../publisher/stage.ts';

export const TAG = 'disk-1';
export const FORMATS = ['qcow2', 'vhd'] as const;

export const importApp: AppInput = {
  id: 'demo',
  name: 'demo',
  title: { en: 'demo' },
  category: 'tools',
  recipes: {
    container: [],
    wsl: [],
    cloud: [
      {
        kind: 'cloud',
        id: TAG,
        source: 'demo:1.0',
        formats: [...FORMATS],
        version: '1.0',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64'],
      },
    ],
  },
};

/** The disks' virtual size in the fake build record: 4.5 GiB, where each object is 1 KiB. */
export const VIRTUAL_SIZE = 4.5 * 1024 ** 3;

/** A fake build stage: the record the cloud build stage writes (one file per format, with its virtual size). */
export const fakeBuild: StageFn<'build'> = async (c) => ({
  stage: 'build',
  verdict: 'done',
  status: 'ok',
  write: {
    upsert: true,
    record: {
      runId: c.runId,
      at: new Date().toISOString(),
      status: 'ok',
      arches: ['amd64'],
      files: FORMATS.map((format) => ({
        arch: 'amd64' as const,
        name: `disk.${format}`,
        sha256: 'a'.repeat(64),
        size: 1024,
        format,
        virtualSize: VIRTUAL_SIZE,
      })),
    },
  },
});

/** The record the cloud publish stage writes: one object per format on objectStorage target `images`. */
export const publishedRecord = (runId: string, at: string): PublishRecord => ({
  runId,
  at,
  status: 'ok',
  targets: [],
  objects: FORMATS.map((format) => ({
    target: 'images',
    format,
    arch: 'amd64' as const,
    bucket: 'wharf-images',
    key: `demo/${TAG}/disk.${format}`,
    url: `http://127.0.0.1:1/wharf-images/demo/${TAG}/disk.${format}`,
    size: 1024,
    sha256: 'a'.repeat(64),
  })),
});

/** A fake publish stage: the record the cloud publish stage writes (one object per format). */
export const fakePublish: StageFn<'publish'> = async (c) => ({
  stage: 'publish',
  verdict: 'done',
  status: 'ok',
  write: { upsert: true, record: publishedRecord(c.runId, new Date().toISOString()) },
});

export interface ImportCatalog {
  dir: string;
  store: CatalogStore;
  /** Log lines of every stage run with `ctx` (info and warn). */
  logs: string[];
  ctx: StageContext;
  /** The app's cloud target as the runner selects it now (with the artifact as last committed). */
  target(): Promise<StageTarget>;
  /** The target with build and publish records but nothing committed (for a stage call outside the runner). */
  published(): Promise<StageTarget>;
  /** The committed artifact file, as text. */
  artifactFile(): Promise<string>;
  /** Every commit's message of the app, as text. */
  history(): Promise<string>;
  close(): Promise<void>;
}

/** A real git catalog holding `importApp`, with `clouds` in wharf.yml and `env` as the stage's environment. */
export async function openImportCatalog(
  clouds: CloudTargetInput[],
  env: NodeJS.ProcessEnv,
): Promise<ImportCatalog> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-clouds-'));
  const store = await CatalogStore.init(join(dir, 'catalog'));
  await store.commit({ subject: 'test app' }, (tx) => {
    tx.putApp(importApp);
  });
  const base = await openStageContext(store, { workDir: join(dir, 'work'), engine: null, env: {} });
  const config = zCatalogConfig.parse({
    objectStorage: [{ name: 'images', bucket: 'wharf-images', endpoint: 'http://127.0.0.1:1' }],
    clouds,
  });
  const logs: string[] = [];
  const say = (s: string) => logs.push(s);
  const ctx: StageContext = {
    ...base,
    config: { ...base.config, ...config },
    env,
    log: { info: say, warn: say },
  };
  const target = async () =>
    selectTargets(await store.load(), parseSelection([`demo:${TAG}`]), {}).targets[0]!;
  return {
    dir,
    store,
    logs,
    ctx,
    target,
    async published() {
      const t = await target();
      return {
        ...t,
        artifact: {
          app: 'demo',
          kind: 'cloud',
          id: TAG,
          version: '1.0',
          osVersion: '24.03-lts-sp4',
          arches: ['amd64'],
          records: {
            build: (await fakeBuild(ctx, t)).write!.record,
            publish: (await fakePublish(ctx, t)).write!.record,
          },
        },
      };
    },
    artifactFile: () =>
      readFile(join(dir, 'catalog', 'apps', 'demo', 'artifacts', 'cloud', `${TAG}.json`), 'utf8'),
    history: async () => JSON.stringify(await store.log('demo')),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
