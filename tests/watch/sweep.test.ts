// A whole sweep over a real git-backed catalog: one commit, upstream state, pending work derived like
// openEuler's auto-upgrade bot, conditional requests on the next sweep, errors that never stop it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogStore } from '../../catalog/store.ts';
import type { AppInput } from '../../catalog/schema.ts';

type ContainerRecipeInput = NonNullable<NonNullable<AppInput['recipes']>['container']>[number];
import { runSweep } from '../../publisher/watch/sweep.ts';
import { sendWithEtag, startServer, type FakeServer } from './helpers.ts';

let dir: string;
let srv: FakeServer;
let store: CatalogStore;
let redisReleases = [
  { tag_name: '8.6.5' },
  { tag_name: '8.6.4' },
  { tag_name: '8.8.0-rc1', prerelease: true },
];

const recipe = (tag: string, version: string, osVersion: string): ContainerRecipeInput => ({
  kind: 'container',
  tag,
  version,
  osVersion,
  dockerfile: `${version}/${osVersion}/Dockerfile`,
});

function app(id: string, upstream: AppInput['upstream'], container: ContainerRecipeInput[] = []): AppInput {
  return {
    id,
    name: id,
    title: { en: id },
    category: 'database',
    upstream,
    recipes: { container, cloud: [], wsl: [] },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-watch-sweep-'));
  srv = await startServer();
  srv.route('/repos/redis/redis/releases', (req, res) =>
    sendWithEtag(req, res, JSON.stringify(redisReleases)),
  );
  srv.route('/repos/nginx/nginx/tags', (req, res) =>
    sendWithEtag(
      req,
      res,
      JSON.stringify([{ name: 'release-1.27.3' }, { name: 'release-1.26.2' }, { name: 'release-1.28.0' }]),
    ),
  );
  srv.route(
    '/repos/down/down/releases',
    (_req, res) => void res.writeHead(500, { 'content-type': 'text/html' }).end('<html>oops'),
  );
  store = await CatalogStore.init(join(dir, 'catalog'), {
    watch: { retries: 0, retryBaseMs: 10, apis: { github: srv.url } },
  } as never);
  await store.commit({ subject: 'seed' }, (tx) => {
    tx.putApp(
      app(
        'redis',
        {
          backend: 'github',
          repo: 'redis/redis',
          scheme: 'rpm',
          original: { version_url: 'redis/redis', version_filter: 'int;rc;m' },
        },
        [
          recipe('7.4.1-oe2203sp4', '7.4.1', '22.03-lts-sp4'),
          recipe('8.6.4-oe2403sp3', '8.6.4', '24.03-lts-sp3'),
          {
            ...recipe('8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4'),
            buildArgs: { VERSION: '8.6.4', EXTRA: 'x' },
          },
        ],
      ),
    );
    tx.putApp(
      app(
        'nginx',
        {
          backend: 'github',
          repo: 'nginx/nginx',
          useTags: true,
          scheme: 'semver',
          lines: ['1.26.x', '1.28.x'],
        },
        [
          recipe('1.26.1-oe2403sp4', '1.26.1', '24.03-lts-sp4'),
          recipe('1.28.0-oe2403sp4', '1.28.0', '24.03-lts-sp4'),
        ],
      ),
    );
    tx.putApp(app('down', { backend: 'github', repo: 'down/down', scheme: 'semver' }));
    tx.putApp(app('plain', undefined));
  });
});

afterAll(async () => {
  await srv.close();
  await rm(dir, { recursive: true, force: true });
});

describe('sweep', () => {
  it('dry run reports changes and commits nothing', async () => {
    const head = await store.head();
    const r = await runSweep(store, { dryRun: true, env: {} });
    // A line with no recorded version is compared with its newest recipe (as triggers do): 1.28.0 has a
    // recipe already, so it is no change.
    expect(r.changes).toEqual([
      { app: 'nginx', from: '1.26.1', to: '1.26.2', line: '1.26.x' },
      { app: 'redis', from: '8.6.4', to: '8.6.5' },
    ]);
    expect(r.commit).toBeNull();
    expect(await store.head()).toBe(head);
  });

  it('records results and pending work in one commit', async () => {
    const before = (await store.log()).length;
    const r = await runSweep(store, { env: {} });
    expect(r).toMatchObject({ checked: 3, new: 2, unchanged: 0, notModified: 0, errors: 1, skipped: 1 });
    expect(r.errorDetails).toEqual([
      { app: 'down', message: expect.stringMatching(/HTTP 500 \(HTML error page\)/), count: 1 },
    ]);
    const log = await store.log();
    expect(log.length).toBe(before + 1);
    expect(log[0]!.subject).toBe('watch: 2 new versions (nginx 1.26.2, redis 8.6.5)');
    expect(log[0]!.trailers).toMatchObject({ Stage: 'watch', 'Run-Id': r.runId });

    const redis = (await store.loadApp('redis'))!;
    expect(redis.upstream).toMatchObject({
      latest: '8.6.5',
      known: ['8.6.5', '8.6.4'],
      lastChecked: expect.any(String),
    });
    expect(Object.keys(redis.upstream!.validators!)).toEqual([
      `${srv.url}/repos/redis/redis/releases?per_page=100`,
    ]);
    const added = redis.app.recipes.container.filter((c) => c.version === '8.6.5');
    expect(added).toEqual([
      {
        kind: 'container',
        tag: '8.6.5-oe2403sp3',
        version: '8.6.5',
        osVersion: '24.03-lts-sp3',
        dockerfile: '8.6.4/24.03-lts-sp3/Dockerfile',
        arches: ['amd64', 'arm64'],
        buildArgs: { VERSION: '8.6.5' },
      },
      expect.objectContaining({ tag: '8.6.5-oe2403sp4', buildArgs: { VERSION: '8.6.5', EXTRA: 'x' } }),
    ]);
    const art = redis.artifacts.find((a) => a.id === '8.6.5-oe2403sp4')!;
    expect(art.pending).toEqual({
      reason: 'upstream 8.6.4 → 8.6.5',
      since: expect.any(String),
      runId: r.runId,
    });

    // Release lines: 1.26.x has 1.26.2 (new), 1.28.x stays at 1.28.0 (recipe exists already).
    const nginx = (await store.loadApp('nginx'))!;
    expect(nginx.upstream!.lines).toEqual({ '1.26.x': '1.26.2', '1.28.x': '1.28.0' });
    expect(nginx.artifacts.map((a) => a.id)).toEqual(['1.26.2-oe2403sp4']);

    const down = (await store.loadApp('down'))!;
    expect(down.upstream!.lastError).toMatchObject({ count: 1 });
  });

  it('revalidates on the next sweep (304s), counts consecutive failures, then clears them', async () => {
    const r = await runSweep(store, { env: {} });
    expect(r).toMatchObject({ checked: 3, new: 0, notModified: 2, errors: 1, changes: [], pending: [] });
    expect(r.http.notModified).toBe(2);
    expect((await store.loadApp('down'))!.upstream!.lastError!.count).toBe(2);
    expect((await store.log())[0]!.subject).toBe('watch: 3 apps checked, no new versions');

    srv.route('/repos/down/down/releases', (req, res) =>
      sendWithEtag(req, res, JSON.stringify([{ tag_name: 'v0.1.0' }])),
    );
    redisReleases = [{ tag_name: '8.6.6' }, ...redisReleases];
    const r2 = await runSweep(store, { apps: ['redis', 'down'], env: {} });
    expect(r2.changes).toEqual([
      { app: 'down', from: null, to: '0.1.0' },
      { app: 'redis', from: '8.6.5', to: '8.6.6' },
    ]);
    const down = (await store.loadApp('down'))!;
    expect(down.upstream!.lastError).toBeUndefined();
    const redis = (await store.loadApp('redis'))!;
    // Copied from the newest recipes (8.6.5), one per OS line.
    expect(redis.app.recipes.container.filter((c) => c.version === '8.6.6').map((c) => c.tag)).toEqual([
      '8.6.6-oe2403sp3',
      '8.6.6-oe2403sp4',
    ]);
    expect(redis.artifacts.find((a) => a.id === '8.6.6-oe2403sp4')!.pending!.reason).toBe(
      'upstream 8.6.5 → 8.6.6',
    );
    const log = await store.log();
    expect(log[0]!.subject).toBe('watch: 2 new versions (down 0.1.0, redis 8.6.6)');
  });

  // Eleven CLI processes: on a loaded 2-core machine each takes seconds to start.
  it('runs from the CLI with --json, --dry-run and usage errors', { timeout: 240_000 }, async () => {
    const cli = (...args: string[]) =>
      execa('node', ['scripts/wharf.mjs', ...args], {
        cwd: join(import.meta.dirname, '../..'),
        reject: false,
        env: { GITHUB_TOKEN: '' },
      });
    const r = await cli('watch', 'redis', '--catalog', store.dir, '--dry-run', '--json');
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      checked: 1,
      new: 0,
      unchanged: 0,
      notModified: 1,
      errors: 0,
      changes: [],
      commit: null,
      dryRun: true,
    });
    const plain = await cli('watch', '--catalog', store.dir, '--dry-run');
    expect(plain.stdout).toMatch(/checked 3 apps: 0 new, 0 unchanged, 3 not modified, 0 errors/);
    expect((await cli('watch', 'no-such-app', '--catalog', store.dir)).exitCode).toBe(2);
    expect((await cli('watch', 'Bad;Id', '--catalog', store.dir)).exitCode).toBe(2);
    const cmp = await cli('version', 'compare', '1:1.0', '2.0', '--scheme', 'rpm');
    expect([cmp.exitCode, cmp.stdout.trim()]).toEqual([0, '1']);
    expect((await cli('version', 'compare', '1.0.0', '1.0.0-rc1', '--scheme', 'semver')).stdout.trim()).toBe(
      '1',
    );
    expect((await cli('version', 'compare', '24.03', '24.09', '--scheme', 'calendar')).stdout.trim()).toBe(
      '-1',
    );
    expect((await cli('version', 'compare', '1.0', '1.0', '--scheme', 'loose')).stdout.trim()).toBe('0');
    expect((await cli('version', 'compare', '1', '2', '--scheme', 'bogus')).exitCode).toBe(2);
    expect((await cli('version', 'compare', '1', '--scheme', 'rpm')).exitCode).toBe(2);
  });
});
