// `wharf cloud import <app>:<id>`, spawned as a user runs it, against the loopback EC2 server of the AWS
// adapter test (ec2-server.ts: SigV4 checked on every request). A real git catalog holds the cloud image
// with a publish record and two `clouds:` targets: aws-use1 (the loopback EC2) and aws-euw1, whose
// credentials variable is unset, so its import fails. Checked: usage errors (exit 2), --target runs only
// that target and keeps the other's entry byte for byte, --json prints the target entries, a failed
// import exits 1, --wait polls with one commit per run, a --wait that is killed is resumed from the
// committed task id (one ImportSnapshot in all), --timeout gives up with exit 1, and no secret is printed
// or committed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppInput, ImportTarget } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { openStageContext } from '../../publisher/context.ts';
import { runStage, selectTargets } from '../../publisher/pipeline/index.ts';
import { parseSelection } from '../../publisher/select.ts';
import { runWharf } from '../helpers/wharf.ts';
import { EC2_ID, EC2_SECRET, IMAGE_ID, TASK_ID, startEc2Server, type Ec2Server } from './ec2-server.ts';
import { FORMATS, fakePublish, TAG } from './import-catalog.ts';

const app: AppInput = {
  id: 'demo',
  name: 'demo',
  title: { en: 'demo' },
  category: 'tools',
  recipes: {
    container: [
      {
        kind: 'container',
        tag: '1.0-oe2403sp4',
        dockerfile: '1.0/24.03-lts-sp4/Dockerfile',
        version: '1.0',
        osVersion: '24.03-lts-sp4',
      },
    ],
    wsl: [],
    cloud: [
      {
        kind: 'cloud',
        id: TAG,
        source: 'demo:1.0-oe2403sp4',
        formats: [...FORMATS],
        version: '1.0',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64'],
      },
    ],
  },
};

interface Report {
  artifact: string;
  status: string;
  runs: { runId: string; status: string; commit: string | null }[];
  timedOut?: true;
  targets: ImportTarget[];
}

let ec2: Ec2Server;
let ready = false;
let dir: string;
let catalog: string;
let store: CatalogStore;
const env = { AWS_ACCESS_KEY_ID: EC2_ID, AWS_SECRET_ACCESS_KEY: EC2_SECRET };
const wharf = (args: string[], timeout = 120_000) =>
  runWharf(['cloud', 'import', ...args, '--catalog', catalog], { env, timeout });
const importRecord = async () =>
  (await store.loadApp('demo'))!.artifacts.find((a) => a.kind === 'cloud')!.records.import!;
/** Per test: several CLI processes, each a few seconds to start on a loaded 2-core machine. */
const SPAWN_TIMEOUT = 240_000;
const actions = (name: string) => ec2.seen.filter((s) => s.action === name).length;

beforeAll(async () => {
  ec2 = await startEc2Server(() => ready);
  dir = await mkdtemp(join(tmpdir(), 'wharf-cli-import-'));
  catalog = join(dir, 'catalog');
  store = await CatalogStore.init(catalog, {
    objectStorage: [{ name: 'images', bucket: 'wharf-images', endpoint: 'http://127.0.0.1:1' }],
    clouds: [
      {
        name: 'aws-use1',
        provider: 'aws',
        region: 'us-east-1',
        objectStorage: 'images',
        endpoint: ec2.endpoint,
      },
      {
        name: 'aws-euw1',
        provider: 'aws',
        region: 'eu-west-1',
        objectStorage: 'images',
        endpoint: ec2.endpoint,
        accessKeyIdEnv: 'WHARF_TEST_UNSET_KEY_ID',
      },
    ],
  } as never);
  await store.commit({ subject: 'test app' }, (tx) => {
    tx.putApp(app);
  });
  const ctx = await openStageContext(store, { workDir: join(dir, 'work'), engine: null, env: {} });
  const target = selectTargets(await store.load(), parseSelection([`demo:${TAG}`]), {}).targets[0]!;
  await runStage(ctx, 'publish', fakePublish, target);
});
afterAll(async () => {
  await ec2.close();
  await rm(dir, { recursive: true, force: true });
});

describe('wharf cloud import (spawned CLI, loopback EC2)', () => {
  it(
    'refuses an unknown app or id, an artifact that is not a cloud image and an unknown target (exit 2)',
    async () => {
      const [noApp, noId, notCloud, noTarget, bare] = await Promise.all([
        wharf(['nope:disk-1', '--json']),
        wharf(['demo:disk-9', '--json']),
        wharf(['demo:1.0-oe2403sp4', '--json']),
        wharf([`demo:${TAG}`, '--target', 'aws-mars', '--json']),
        wharf(['demo']),
      ]);
      for (const r of [noApp, noId, notCloud, noTarget, bare]) expect(r.exitCode).toBe(2);
      expect(JSON.parse(noApp.stdout).error).toBe('no app nope in the catalog');
      expect(JSON.parse(noId.stdout).error).toBe('app demo has no cloud image disk-9');
      expect(JSON.parse(notCloud.stdout).error).toBe(
        'demo:1.0-oe2403sp4 is a container artifact, not a cloud image',
      );
      expect(JSON.parse(noTarget.stdout).error).toBe(
        'unknown cloud target aws-mars (wharf.yml clouds: aws-use1, aws-euw1)',
      );
      expect(bare.stderr).toContain('expected <app>:<id> of a cloud image, got demo');
      expect(ec2.seen).toHaveLength(0);
      expect(
        (await store.loadApp('demo'))!.artifacts.find((a) => a.kind === 'cloud')!.records.import,
      ).toBeUndefined();
    },
    SPAWN_TIMEOUT,
  );

  it(
    '--target runs that target only, keeps the other entry, prints the entries, exits 1 on a failure',
    async () => {
      const bad = await wharf([`demo:${TAG}`, '--target', 'aws-euw1', '--json']);
      expect(bad.exitCode).toBe(1);
      const b = JSON.parse(bad.stdout) as Report;
      expect(b.targets).toHaveLength(1);
      expect(b.targets[0]).toMatchObject({
        target: 'aws-euw1',
        provider: 'aws',
        region: 'eu-west-1',
        arch: 'amd64',
        format: 'vhd',
        state: 'failed',
        error: 'cloud target aws-euw1: $WHARF_TEST_UNSET_KEY_ID is not set',
      });
      expect(b.status).toBe('failed');
      expect(b.runs).toHaveLength(1);
      expect(b.runs[0]!.commit).toMatch(/^[a-f0-9]{40}$/);
      expect(ec2.seen).toHaveLength(0);
      const failedEntry = (await importRecord()).targets.find((e) => e.target === 'aws-euw1')!;

      const ok = await wharf([`demo:${TAG}`, '--target', 'aws-use1', '--json']);
      expect(ok.exitCode).toBe(0);
      const o = JSON.parse(ok.stdout) as Report;
      expect(o.artifact).toBe(`demo:${TAG}`);
      expect(o.targets).toEqual([
        expect.objectContaining({
          target: 'aws-use1',
          provider: 'aws',
          region: 'us-east-1',
          arch: 'amd64',
          format: 'vhd',
          taskId: TASK_ID,
          state: 'running',
        }),
      ]);
      // The record holds both: aws-euw1's entry exactly as the first run left it.
      const rec = await importRecord();
      expect(rec.status).toBe('partial');
      expect(rec.targets.map((e) => e.target)).toEqual(['aws-use1', 'aws-euw1']);
      expect(rec.targets[1]).toEqual(failedEntry);
      expect(actions('ImportSnapshot')).toBe(1);
    },
    SPAWN_TIMEOUT,
  );

  it(
    '--wait polls with one commit per run, resumes after a kill from the committed task id, and times out',
    async () => {
      // Still active: --wait gives up at --timeout with exit 1 and says so.
      const t = await wharf([
        `demo:${TAG}`,
        '--target',
        'aws-use1',
        '--wait',
        '--poll-interval',
        '0.3',
        '--timeout',
        '3',
        '--json',
      ]);
      expect(t.exitCode).toBe(1);
      const tr = JSON.parse(t.stdout) as Report;
      expect(tr.timedOut).toBe(true);
      expect(tr.runs.length).toBeGreaterThanOrEqual(2);
      expect(new Set(tr.runs.map((r) => r.runId)).size).toBe(tr.runs.length);
      expect(tr.targets[0]).toMatchObject({ target: 'aws-use1', state: 'running', taskId: TASK_ID });
      expect(t.stderr).toContain('still running after 3 s on aws-use1');

      // A --wait killed after its first poll...
      const polls = ec2.polls();
      const killed = runWharf(
        [
          'cloud',
          'import',
          `demo:${TAG}`,
          '--target',
          'aws-use1',
          '--wait',
          '--poll-interval',
          '1',
          '--catalog',
          catalog,
        ],
        { env, timeout: 120_000 },
      );
      // Its progress line says it polled (or it ended on its own, which the check below reports).
      const sawPoll = await new Promise<boolean>((resolve) => {
        killed.stderr!.on('data', (d: Buffer) => {
          if (String(d).includes('aws-use1 (aws us-east-1 amd64): running')) resolve(true);
        });
        void killed.finally(() => resolve(false));
      });
      killed.kill('SIGTERM');
      const k = await killed;
      expect(sawPoll, k.stderr).toBe(true);
      expect(ec2.polls()).toBeGreaterThan(polls);

      // ...is resumed by the next one: it polls the recorded task, registers the image, exits 0.
      ready = true;
      const w = await wharf([`demo:${TAG}`, '--target', 'aws-use1', '--wait', '--poll-interval', '0.3']);
      expect(w.exitCode).toBe(0);
      expect(w.stdout).toContain(`demo:${TAG} aws-use1 (aws us-east-1 amd64): completed ${IMAGE_ID}`);
      expect(actions('ImportSnapshot')).toBe(1);
      expect(actions('RegisterImage')).toBe(1);
      const rec = await importRecord();
      expect(rec.targets[0]).toMatchObject({
        target: 'aws-use1',
        state: 'completed',
        imageId: IMAGE_ID,
        taskId: TASK_ID,
      });
      expect(rec.targets[1]).toMatchObject({ target: 'aws-euw1', state: 'failed' });

      // Each run is its own commit with its own Run-Id trailer.
      const log = await store.log('demo');
      const importRuns = log.filter((h) => h.trailers.Stage === 'import').map((h) => h.trailers['Run-Id']);
      expect(importRuns.length).toBeGreaterThanOrEqual(2 + tr.runs.length + 2);
      expect(new Set(importRuns).size).toBe(importRuns.length);
    },
    SPAWN_TIMEOUT,
  );

  it(
    'without --target imports into every target: completed kept, the failed one retried, exit 1',
    async () => {
      const n = ec2.seen.length;
      const r = await wharf([`demo:${TAG}`, '--json']);
      expect(r.exitCode).toBe(1);
      const o = JSON.parse(r.stdout) as Report;
      expect(o.targets.map((e) => [e.target, e.state, e.imageId])).toEqual([
        ['aws-use1', 'completed', IMAGE_ID],
        ['aws-euw1', 'failed', undefined],
      ]);
      expect(ec2.seen).toHaveLength(n); // nothing sent for a completed import
      const file = await readFile(join(catalog, 'apps', 'demo', 'artifacts', 'cloud', `${TAG}.json`), 'utf8');
      for (const text of [file, r.stdout, r.stderr, JSON.stringify(await store.log('demo'))])
        expect(text).not.toContain(EC2_SECRET);
    },
    SPAWN_TIMEOUT,
  );
});
