// Issue 17: long-running cloud imports are polled and resumable across daemon restarts, with real daemon
// processes (`node scripts/wharf.mjs daemon`) and the loopback EC2 contract server (tests/cloud/
// ec2-server.ts: it checks every request's SigV4 signature). The catalog holds a published cloud image
// (records written directly: no image is built) and an aws `clouds:` target pointed at the server; the
// daemon's engine is a socket that does not exist, so only the import can run (a second artifact, which
// needs a build, stays pending). The first daemon starts the import (one ImportSnapshot) and polls it
// while it stays active; it is SIGKILLed; then the snapshot becomes ready and a second daemon polls the
// same task id (no second ImportSnapshot), registers the image, and the artifact's pending clears.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import type { Artifact, PublishRecord } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { EC2_ID, EC2_SECRET, IMAGE_ID, startEc2Server, TASK_ID } from '../cloud/ec2-server.ts';
import { importApp, publishedRecord, TAG } from '../cloud/import-catalog.ts';
import { ROOT } from '../helpers/wharf.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const off = { enabled: false };
const BUILD_TAG = 'disk-2';
const RUN_ID = '20261202T050000Z-abcdef';
const children: ResultPromise[] = [];
const tmps: string[] = [];

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.catch(() => {})));
  for (const t of tmps) await rm(t, { recursive: true, force: true });
});

const published = (at: string): PublishRecord => publishedRecord(RUN_ID, at);

type Line = Record<string, unknown>;

/** Start `wharf daemon --json-logs` on the catalog; resolves once it says it started. */
async function startDaemon(dir: string): Promise<{ child: ResultPromise; lines: Line[] }> {
  const child = execa(
    process.execPath,
    ['scripts/wharf.mjs', 'daemon', '--catalog', dir, '--port', '0', '--json-logs'],
    {
      cwd: ROOT,
      env: { WHARF_CATALOG: '', WHARF_TEST_AWS_ID: EC2_ID, WHARF_TEST_AWS_SECRET: EC2_SECRET },
      reject: false,
      buffer: false,
    },
  );
  children.push(child);
  const lines: Line[] = [];
  let partial = '';
  child.stdout!.on('data', (b: Buffer) => {
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop()!;
    for (const l of parts.filter(Boolean)) lines.push(JSON.parse(l) as Line);
  });
  await until('the daemon to start', () => lines.some((l) => l.msg === 'daemon started'), lines);
  return { child, lines };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, lines: Line[], ms = 30_000) {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}; log: ${JSON.stringify(lines.slice(-5))}`);
    await sleep(100);
  }
}

const pipelineRuns = (lines: Line[]) => lines.filter((l) => l.msg === 'job pipeline finished');

describe('cloud imports across daemon restarts', () => {
  it('a second daemon polls the import the first started (killed while running) until the image is registered', async () => {
    let ready = false;
    const ec2 = await startEc2Server(() => ready);
    const tmp = await mkdtemp(join(tmpdir(), 'wharf-import-resume-'));
    tmps.push(tmp);
    try {
      const store = await CatalogStore.init(join(tmp, 'catalog'), {
        name: 'import-resume',
        daemon: {
          // A socket that does not exist: no container engine answers.
          engine: `unix://${join(tmp, 'no-engine.sock')}`,
          workDir: join(tmp, 'work'),
          jobs: {
            pipeline: { schedule: '* * * * * *' },
            watch: off,
            bases: off,
            rescan: off,
            site: off,
            events: off,
          },
        },
        objectStorage: [{ name: 'images', bucket: 'wharf-images', endpoint: 'http://127.0.0.1:1' }],
        clouds: [
          {
            name: 'aws-use1',
            provider: 'aws',
            region: 'us-east-1',
            objectStorage: 'images',
            endpoint: ec2.endpoint,
            accessKeyIdEnv: 'WHARF_TEST_AWS_ID',
            secretAccessKeyEnv: 'WHARF_TEST_AWS_SECRET',
          },
        ],
      } as never);
      const at = new Date().toISOString();
      const recipe = importApp.recipes!.cloud![0]!;
      const artifact = (id: string, a: Partial<Artifact>): Artifact => ({
        app: 'demo',
        kind: 'cloud',
        id,
        version: '1.0',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64'],
        records: {},
        ...a,
      });
      await store.commit({ subject: 'a published cloud image, its import not started' }, (tx) => {
        tx.putApp({
          ...importApp,
          recipes: { ...importApp.recipes!, cloud: [recipe, { ...recipe, id: BUILD_TAG }] },
        });
        // What a run for other cloud targets leaves: published, this target's import not started.
        tx.putArtifact(
          artifact(TAG, {
            pending: { reason: 'import not started: aws-use1', since: at },
            records: { publish: published(at) },
          }),
        );
        // Never built: needs an engine (and so waits for one).
        tx.putArtifact(artifact(BUILD_TAG, { pending: { reason: 'first build', since: at } }));
      });
      const record = async () =>
        (await store.loadApp('demo'))!.artifacts.find((a) => a.kind === 'cloud' && a.id === TAG)!;
      const imports = () => ec2.seen.filter((s) => s.action === 'ImportSnapshot');

      // The first daemon starts the import, commits the task id, and polls while the task is active.
      const first = await startDaemon(store.dir);
      await until(
        'the import running and polled by the first daemon',
        async () => (await record()).records.import?.status === 'running' && ec2.polls() >= 1,
        first.lines,
      );
      first.child.kill('SIGKILL');
      await first.child;
      expect(imports()).toHaveLength(1);
      let a = await record();
      expect(a.pending?.reason).toMatch(/^import /);
      expect(a.records.import?.targets[0]).toMatchObject({
        target: 'aws-use1',
        taskId: TASK_ID,
        state: 'running',
      });
      // Without an engine the job ran the import only, and said what it left for an engine.
      const summary = pipelineRuns(first.lines)[0]!;
      expect(summary).toMatchObject({ pending: 2, importOnly: 1, needEngine: 1, done: 1 });
      expect(summary.noEngine).toMatch(/^no container engine: /);
      const pollsBefore = ec2.polls();

      // The snapshot is ready now: only a poll by the second daemon can find it.
      ready = true;
      const second = await startDaemon(store.dir);
      await until('the import completed', async () => !(await record()).pending, second.lines);
      a = await record();
      expect(a.records.import).toMatchObject({ status: 'ok' });
      expect(a.records.import?.targets[0]).toMatchObject({
        target: 'aws-use1',
        state: 'completed',
        taskId: TASK_ID,
        imageId: IMAGE_ID,
      });
      expect(ec2.polls()).toBeGreaterThan(pollsBefore);
      expect(imports()).toHaveLength(1);
      expect(ec2.seen.filter((s) => s.action === 'RegisterImage')).toHaveLength(1);
      const polled = ec2.seen.filter((s) => s.action === 'DescribeImportSnapshotTasks');
      expect(new Set(polled.map((s) => s.params.get('ImportTaskId.1')))).toEqual(new Set([TASK_ID]));
      expect(ec2.refused()).toBe(0);
      // The artifact that needs a build is still pending, untouched.
      const waiting = (await store.loadApp('demo'))!.artifacts.find((x) => x.id === BUILD_TAG)!;
      expect(waiting.pending?.reason).toBe('first build');
      expect(waiting.records.build).toBeUndefined();

      second.child.kill('SIGTERM');
      expect((await second.child).exitCode).toBe(0);
      for (const lines of [first.lines, second.lines])
        expect(JSON.stringify(lines)).not.toContain(EC2_SECRET);
    } finally {
      await ec2.close();
    }
  });
});
