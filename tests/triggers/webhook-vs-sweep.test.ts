// A webhook and a sweep that see the same release write the same records: two copies of one catalog,
// one told by a signed GitHub release webhook (through the real handler), the other swept against a
// loopback GitHub API listing that release; then every file under apps/ is compared byte for byte.
// Only the fields a sweep alone can know (it asked upstream: lastChecked, validators, policy) may
// differ in upstream.json.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import {
  createHookHandler,
  parseTriggersConfig,
  RebuildSpool,
  type HookHandler,
} from '../../publisher/triggers/index.ts';
import { runSweep } from '../../publisher/watch/sweep.ts';
import { sendWithEtag, startServer, type FakeServer } from '../watch/helpers.ts';

const SECRET = 'gh-secret-same-release';
let root: string;
let upstream: FakeServer;
let releases: { tag_name: string }[] = [];
let hooks: Server;
let hookUrl: string;
let handler: HookHandler | null = null;

const recipe = (tag: string, version: string, osVersion: string) => ({
  kind: 'container' as const,
  tag,
  version,
  osVersion,
  dockerfile: `${version}/${osVersion}/Dockerfile`,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-same-release-'));
  upstream = await startServer();
  upstream.route('/repos/redis/redis/releases', (req, res) =>
    sendWithEtag(req, res, JSON.stringify(releases)),
  );
  hooks = createServer((req, res) => void handler!(req, res, 'github'));
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hooks.address() as { port: number }).port}/hooks/github`;
});
afterAll(async () => {
  await upstream.close();
  hooks.closeAllConnections();
  await new Promise((r) => hooks.close(r));
  await rm(root, { recursive: true, force: true });
});

async function files(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(join(dir, 'apps'), { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    out.set(relative(dir, p), await readFile(p, 'utf8'));
  }
  return out;
}

/** upstream.json without what only a check of upstream can know. */
function versionFields(text: string): string {
  const {
    lastChecked: _c,
    validators: _v,
    policy: _p,
    ...rest
  } = JSON.parse(text) as Record<string, unknown>;
  return JSON.stringify(rest, null, 2);
}

async function webhook(store: CatalogStore, tag: string, at: Date, runId: string) {
  const spool = new RebuildSpool(store);
  handler = createHookHandler({
    store,
    spool,
    env: { WHARF_GH: SECRET },
    config: parseTriggersConfig({ github: { secretEnv: 'WHARF_GH' } }),
    now: () => at.getTime(),
    runId: () => runId,
  });
  const body = JSON.stringify({
    action: 'published',
    release: { tag_name: tag, prerelease: false, draft: false },
    repository: { full_name: 'redis/redis', html_url: 'https://github.com/redis/redis' },
  });
  const res = await fetch(hookUrl, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'release',
      'x-github-delivery': `d-${tag}`,
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
  });
  expect(res.status).toBe(202);
  const answer = (await res.json()) as { accepted: boolean; queued: { app: string; version?: string }[] };
  // The commit follows the answer (the spool's writer): wait for it.
  await spool.settled();
  await spool.stop();
  const pending = (await store.loadApp('redis'))!.artifacts
    .filter((a) => a.pending?.runId === runId)
    .map((a) => `${a.kind}/${a.id}`);
  return { answer, pending };
}

describe('a webhook and a sweep of the same release', () => {
  it('write byte-identical records (a new release, then a release on a line with no recorded version)', async () => {
    let base = await CatalogStore.init(join(root, 'base'), {
      watch: { retries: 0, apis: { github: upstream.url } },
    } as never);
    await base.commit({ subject: 'seed' }, (tx) => {
      tx.putApp({
        id: 'redis',
        name: 'redis',
        title: { en: 'Redis' },
        category: 'database',
        upstream: {
          backend: 'github',
          repo: 'redis/redis',
          scheme: 'semver',
          prefixes: ['v'],
          lines: ['7.x', '8.x'],
        },
        recipes: {
          container: [
            recipe('7.2.4-oe2203sp4', '7.2.4', '22.03-lts-sp4'),
            recipe('8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4'),
          ],
        },
      });
    });
    // An earlier sweep recorded the 8.x line only (the listing had no 7.x release then).
    releases = [{ tag_name: 'v8.6.4' }];
    await runSweep(base, { env: {}, now: new Date('2026-01-01T00:00:00Z') });

    const rounds = [
      { tag: 'v8.6.5', artifact: 'container/8.6.5-oe2403sp4' },
      { tag: 'v7.2.5', artifact: 'container/7.2.5-oe2203sp4' },
    ];
    for (const [i, round] of rounds.entries()) {
      const at = new Date(`2026-01-0${i + 2}T00:00:00Z`);
      const runId = `2026010${i + 2}T000000Z-same${i}a`;
      const [hookDir, sweepDir] = [join(root, `hook-${i}`), join(root, `sweep-${i}`)];
      await cp(base.dir, hookDir, { recursive: true });
      await cp(base.dir, sweepDir, { recursive: true });
      const byHook = await CatalogStore.open(hookDir);
      const bySweep = await CatalogStore.open(sweepDir);

      // Upstream publishes the release: the forge tells one copy, the sweep finds it for the other.
      releases = [{ tag_name: round.tag }, ...releases];
      const out = await webhook(byHook, round.tag, at, runId);
      expect(out.answer).toMatchObject({ accepted: true, queued: [{ app: 'redis' }] });
      expect(out.pending).toEqual([round.artifact]);
      const swept = await runSweep(bySweep, { env: {}, now: at, runId });
      expect(swept.pending.map((p) => `container/${p.tag}`)).toEqual([round.artifact]);

      const a = await files(hookDir);
      const b = await files(sweepDir);
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      expect(a.has(`apps/redis/artifacts/${round.artifact}.json`)).toBe(true);
      for (const [path, text] of a) {
        if (path.endsWith('upstream.json'))
          expect(versionFields(text), path).toBe(versionFields(b.get(path)!));
        else expect(text, path).toBe(b.get(path));
      }
      // The webhook's commit touched exactly the records the sweep's did (besides the sweep's summary).
      const changed = async (dir: string) =>
        (await execa('git', ['diff', '--name-only', 'HEAD^', 'HEAD'], { cwd: dir })).stdout
          .split('\n')
          .filter((f) => f.startsWith('apps/'));
      expect(await changed(hookDir)).toEqual(await changed(sweepDir));
      base = bySweep;
    }
  });
});
