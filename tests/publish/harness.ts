// A catalog + work dir for sign/publish tests: apps with container recipes whose artifacts are
// recorded as built (with a real tiny OCI layout on disk), verified and scanned, exactly as the
// earlier stages leave them. Logs are collected so tests can check what was said.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppInput, Artifact, CatalogConfig, ContainerRecipe } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { newRunId } from '../../catalog/run-id.ts';
import { openStageContext } from '../../publisher/context.ts';
import { runStage } from '../../publisher/pipeline/runner.ts';
import { loadTarget } from '../../publisher/select.ts';
import { makePublish, type PublishOptions } from '../../publisher/publish/index.ts';
import { signStage } from '../../publisher/sign/index.ts';
import { imageLayoutDir, type StageContext, type StageTarget } from '../../publisher/stage.ts';
import { makeTinyImage } from '../registry/fixtures.ts';

export interface Harness {
  dir: string;
  store: CatalogStore;
  logs: string[];
  ctx(env?: NodeJS.ProcessEnv): Promise<StageContext>;
  target(app: string, tag: string): Promise<StageTarget>;
  /** Record the artifact as built (+ verified, scanned) with a fresh tiny image; returns its digest. */
  built(
    app: string,
    tag: string,
    opts?: { verify?: 'passed' | 'failed'; scanBlocked?: boolean; seed?: string },
  ): Promise<string>;
  cleanup(): Promise<void>;
}

export function recipe(tag: string, version: string, osVersion: string): ContainerRecipe {
  return {
    kind: 'container',
    tag,
    dockerfile: `${version}/${osVersion}/Dockerfile`,
    version,
    osVersion,
    arches: ['amd64'],
  };
}

export async function makeHarness(config: Partial<CatalogConfig>, apps: AppInput[]): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-pub-'));
  const store = await CatalogStore.init(join(dir, 'catalog'), config);
  await store.commit({ subject: 'test apps' }, (tx) => {
    for (const a of apps) tx.putApp(a);
  });
  const logs: string[] = [];
  const workDir = join(dir, 'work');
  const h: Harness = {
    dir,
    store,
    logs,
    async ctx(env = {}) {
      return openStageContext(store, {
        workDir,
        engine: null,
        env,
        log: {
          info: (m) => logs.push(m),
          warn: (m) => logs.push(m),
          progress: (m) => logs.push(m),
        },
      });
    },
    target: (app, tag) => loadTarget(store, app, tag),
    async built(app, tag, opts = {}) {
      const t = await h.target(app, tag);
      const img = await makeTinyImage(
        imageLayoutDir({ workDir }, app, tag),
        opts.seed ?? `${app}:${tag}:${Math.random()}`,
      );
      const runId = newRunId();
      const at = new Date().toISOString();
      const inputsDigest = `sha256:${createHash('sha256')
        .update(img.digest + 'inputs')
        .digest('hex')}`;
      const art: Artifact = {
        app,
        kind: 'container',
        id: tag,
        version: t.recipe.version,
        osVersion: t.recipe.osVersion,
        arches: ['amd64'],
        pending: { reason: 'new version', since: at },
        records: {
          build: {
            runId,
            at,
            durationMs: 1234,
            status: 'ok',
            inputsDigest,
            recipeCommit: 'a'.repeat(40),
            base: { ref: 'localhost/wharf-base/openeuler:24.03-lts-sp4', digest: `sha256:${'b'.repeat(64)}` },
            manifestDigest: img.digest,
            arches: ['amd64'],
          },
          verify: {
            runId,
            at,
            status: opts.verify ?? 'passed',
            inputsDigest,
            checks: [
              {
                name: 'version',
                status: opts.verify === 'failed' ? 'failed' : 'passed',
                exitCode: opts.verify === 'failed' ? 1 : 0,
              },
            ],
          },
          scan: {
            runId,
            at,
            status: 'ok',
            target: img.digest,
            policy: {
              blocked: !!opts.scanBlocked,
              reasons: opts.scanBlocked ? ['CVE-2024-0001 CRITICAL fixable'] : [],
              waived: [],
            },
          },
        },
      };
      await store.commit({ subject: `built ${app}:${tag}` }, (tx) => {
        tx.putArtifact(art);
      });
      return img.digest;
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** The sign stage through the runner (which commits its record), as the pipeline and `wharf sign` run it. */
export const runSign = (ctx: StageContext, t: StageTarget) => runStage(ctx, 'sign', signStage, t);

/** The publish stage with these options, through the runner. */
export const publishWith =
  (opts: PublishOptions = {}) =>
  (ctx: StageContext, t: StageTarget) =>
    runStage(ctx, 'publish', makePublish(opts), t);
