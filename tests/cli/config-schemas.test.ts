// One schema per wharf.yml section and per watch source, used by everything that reads them:
// `wharf catalog validate` reports what the daemon and the sweep would refuse, with file:line:field,
// and the daemon refuses the same wharf.yml with the same located problems.
import { mkdtemp, readdir, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { zCatalogConfig } from '../../catalog/schema.ts';
import { BACKENDS, SOURCES, checkUpstream } from '../../publisher/watch/sources/index.ts';
import { check, makeApp, startServer } from '../watch/helpers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const wharf = (args: string[]) =>
  execa('node', ['scripts/wharf.mjs', ...args], { cwd: ROOT, reject: false, env: { GITHUB_TOKEN: '' } });

// Each line number below is asserted: keep the layout.
const BAD_WHARF_YML = `name: t
watch:
  perHost: 0
events:
  subscriptions:
    - name: hooks
      url: ftp://example.org/x
daemon:
  port: 0
  jobs:
    watch: { schedule: every hour }
  triggers:
    github: { secret: abc }
blobs:
  kind: nfs
advisories:
  url: not a url
`;

const APPS: Record<string, string> = {
  // http-json without its JSON path
  feed: `id: feed
name: feed
title: { en: Feed }
category: tools
upstream:
  backend: http-json
  url: https://example.org/releases.json
`,
  // a backend no source answers to
  bucket: `id: bucket
name: bucket
title: { en: Bucket }
category: tools
upstream:
  backend: bitbucket
  repo: a/b
`,
  // a typo in a github setting
  typo: `id: typo
name: typo
title: { en: Typo }
category: tools
upstream:
  backend: github
  repo: a/b
  useTag: true
`,
};

let bad: string;
beforeAll(async () => {
  const store = await CatalogStore.init(join(await mkdtemp(join(tmpdir(), 'wharf-cfg-')), 'catalog'));
  bad = store.dir;
  await writeFile(join(bad, 'wharf.yml'), BAD_WHARF_YML);
  for (const [id, text] of Object.entries(APPS)) {
    await mkdir(join(bad, 'apps', id), { recursive: true });
    await writeFile(join(bad, 'apps', id, 'app.yml'), text);
  }
});

const EXPECTED_CONFIG = [
  /^(?:wharf: )?wharf\.yml:3: watch\.perHost: /m,
  /^(?:wharf: )?wharf\.yml:7: events\.subscriptions\.0\.url: webhook URL must be http\(s\)/m,
  /^(?:wharf: )?wharf\.yml:11: daemon\.jobs\.watch\.schedule: not a valid cron expression/m,
  /^(?:wharf: )?wharf\.yml:13: daemon\.triggers\.github: .*secret/m,
  /^(?:wharf: )?wharf\.yml:15: blobs\.kind: /m,
  /^(?:wharf: )?wharf\.yml:17: advisories\.url: /m,
];

describe('wharf.yml sections and watch sources have real schemas', () => {
  it('`wharf catalog validate` names every refused section and upstream entry with file:line:field', async () => {
    const r = await wharf(['catalog', 'validate', '--catalog', bad]);
    expect(r.exitCode).toBe(1);
    for (const re of EXPECTED_CONFIG) expect(r.stderr).toMatch(re);
    expect(r.stderr).toMatch(/^apps\/feed\/app\.yml:6: upstream\.jsonPath: required \(a JSON path/m);
    expect(r.stderr).toMatch(
      /^apps\/bucket\/app\.yml:6: upstream\.backend: unknown backend "bitbucket"; one of github/m,
    );
    expect(r.stderr).toMatch(/^apps\/typo\/app\.yml:\d+: upstream: .*useTag/m);
  });

  it('the daemon refuses that wharf.yml at start, with the same located problems', async () => {
    const r = await execa('node', ['scripts/wharf.mjs', 'daemon', '--catalog', bad, '--port', '0'], {
      cwd: ROOT,
      reject: false,
      timeout: 120_000,
    });
    expect(r.exitCode).toBe(1);
    for (const re of EXPECTED_CONFIG) expect(r.stderr).toMatch(re);
    // It never got as far as listening.
    expect(r.stdout).not.toMatch(/daemon started/);
    // And a sweep refuses it too, instead of running on defaults against the public APIs.
    const { runSweep } = await import('../../publisher/watch/sweep.ts');
    await expect(runSweep(await CatalogStore.open(bad), { env: {} })).rejects.toThrow(
      /wharf\.yml:3: watch\.perHost/,
    );
  });

  it('the daemon and validate accept the sections the daemon runs with (defaults filled once)', () => {
    const c = zCatalogConfig.parse({
      daemon: {
        port: 0,
        jobs: { watch: { schedule: '*/2 * * * * *' } },
        triggers: { github: { secretEnv: 'X' } },
      },
      watch: { apis: { github: 'http://127.0.0.1:1/' } },
      blobs: { kind: 's3', bucket: 'wharf-blobs' },
    });
    expect(c.daemon?.jobs.watch).toEqual({ schedule: '*/2 * * * * *', enabled: true });
    expect(c.daemon?.triggers?.maxBodyBytes).toBe(1024 * 1024);
    expect(c.watch?.apis.github).toBe('http://127.0.0.1:1');
    expect(c.blobs).toMatchObject({ kind: 's3', region: 'us-east-1' });
    // Parsing what was parsed changes nothing (the subsystems parse their section again).
    expect(zCatalogConfig.parse(c)).toEqual(c);
  });

  it('the sources registry is the only backend list: one file per backend, each declaring its schema', async () => {
    const files = (await readdir(join(ROOT, 'publisher/watch/sources')))
      .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    expect([...BACKENDS].sort()).toEqual(files);
    for (const b of BACKENDS) {
      const mod = (await import(`../../publisher/watch/sources/${b}.ts`)) as {
        config: unknown;
        default: { backend: string; config: unknown };
      };
      expect(mod.default.backend).toBe(b);
      expect(mod.default.config).toBe(mod.config);
      expect(SOURCES.get(b)).toBe(mod.default);
    }
    // The catalog itself checks only the name's shape: a new backend needs no catalog change.
    expect(checkUpstream({ backend: 'github', repo: 'a/b', scheme: 'loose' })).toMatchObject({ ok: true });
    expect(checkUpstream({ backend: 'rpm', package: 'x', scheme: 'loose' })).toMatchObject({
      ok: false,
      issues: [{ path: ['url'], message: expect.stringMatching(/^required/) }],
    });
  });

  it('the sweep records a refused upstream entry as the app error, without asking upstream', async () => {
    const srv = await startServer();
    try {
      const app = makeApp({ id: 'feed', upstream: { backend: 'http-json', url: `${srv.url}/r.json` } });
      const { outcome } = await check(app);
      expect(outcome).toEqual({
        kind: 'error',
        message: expect.stringMatching(/^upstream\.jsonPath: required \(a JSON path/),
      });
      expect(srv.log).toEqual([]);
    } finally {
      await srv.close();
    }
  });
});
