import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import {
  createHookHandler,
  giteeSignature,
  parseTriggersConfig,
  RebuildSpool,
  verifyGitee,
  type HookLogLine,
} from '../../publisher/triggers/index.ts';
import { containerRecipe } from '../helpers/apps.ts';

const GH = 'gh-secret-5f2c9a';
const GE = 'gitee-secret-77ab';
const GL = 'gitlab-secret-93cd';
const env = { WHARF_GH: GH, WHARF_GE: GE, WHARF_GL: GL };

const app = (id: string, repo: string, dir: string) => ({
  id,
  name: id,
  title: { en: id },
  category: 'database',
  upstream: { backend: 'github' as const, repo, scheme: 'semver' as const, prefixes: ['v'] },
  source: { origin: 'openeuler/openeuler-docker-images', dir },
  recipes: {
    container: [containerRecipe('8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4', { arches: ['amd64'] })],
  },
});

let store: CatalogStore;
let spool: RebuildSpool;
let server: Server;
let base: string;
const logs: HookLogLine[] = [];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-triggers-'));
  store = await CatalogStore.init(join(dir, 'catalog'));
  await store.commit({ subject: 'add apps' }, (tx) => {
    tx.putApp(app('redis', 'redis/redis', 'Database/redis'));
    tx.putApp(app('valkey', 'valkey-io/valkey', 'Database/valkey'));
  });
  spool = new RebuildSpool(store);
  const handler = createHookHandler({
    store,
    spool,
    env,
    config: parseTriggersConfig({
      maxBodyBytes: 4096,
      github: { secretEnv: 'WHARF_GH' },
      gitee: { secretEnv: 'WHARF_GE' },
      gitlab: { secretEnv: 'WHARF_GL' },
    }),
    log: (l) => logs.push(l),
  });
  server = createServer((req, res) => {
    const m = /^\/hooks\/([a-z]+)$/.exec(req.url ?? '');
    void handler(req, res, m ? m[1]! : '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await spool.stop();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const ghSign = (body: string, secret = GH) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
const post = (forge: string, body: string, headers: Record<string, string>) =>
  fetch(`${base}/hooks/${forge}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });

/** A GitHub release hook with this delivery id, signed with `secret`. */
const postRelease = (body: string, delivery: string, secret = GH) =>
  post('github', body, {
    'x-github-event': 'release',
    'x-github-delivery': delivery,
    'x-hub-signature-256': ghSign(body, secret),
  });

const release = (tag: string, repo = 'redis/redis') =>
  JSON.stringify({
    action: 'published',
    release: { tag_name: tag, prerelease: false, draft: false },
    repository: { full_name: repo, html_url: `https://github.com/${repo}` },
  });

describe('webhook triggers', () => {
  it('GitHub: a signed release of a newer version records it and queues the derived artifact', async () => {
    const head = await store.head();
    const body = release('v8.6.5');
    const res = await postRelease(body, 'd-1');
    expect(res.status).toBe(202);
    // Accepted once recorded in the spool: the answer names the delivery, not a commit.
    const out = (await res.json()) as Record<string, unknown>;
    expect(out).toEqual({
      accepted: true,
      delivery: expect.stringMatching(/^[0-9a-f-]{36}$/),
      queued: [{ app: 'redis', version: '8.6.5' }],
    });
    await spool.settled();
    const e = (await store.loadApp('redis'))!;
    expect(e.artifacts.filter((a) => a.pending).map((a) => a.id)).toEqual(['8.6.5-oe2403sp4']);
    expect(e.upstream?.latest).toBe('8.6.5');
    expect(e.app.recipes.container.map((r) => r.tag)).toEqual(['8.6.4-oe2403sp4', '8.6.5-oe2403sp4']);
    // The record says what was found, exactly as a sweep would write it; the commit says who told us.
    expect(e.artifacts.find((a) => a.id === '8.6.5-oe2403sp4')?.pending?.reason).toBe(
      'upstream 8.6.4 → 8.6.5',
    );
    const log = await store.log(undefined, { since: head! });
    expect(log).toHaveLength(1);
    expect(log[0]!.subject).toContain('github tag v8.6.5 on redis/redis');
    expect(log[0]!.trailers).toMatchObject({ App: 'redis', Stage: 'trigger' });
    expect(log[0]!.trailers['Spool-Batch']).toMatch(/^[0-9a-f]{24}$/);
    expect(await spool.backlog()).toBe(0);

    // The same delivery again: refused as a replay, nothing committed.
    const again = await postRelease(body, 'd-1');
    expect(again.status).toBe(409);
    await spool.settled();
    expect(await store.head()).toBe(log[0]!.sha);
  });

  it('refuses forged, oversized, malformed and unknown requests with the right status', async () => {
    const head = await store.head();
    const body = release('v9.0.0');
    const forged = await postRelease(body, 'd-2', 'not-the-secret');
    expect(forged.status).toBe(401);
    const unsigned = await post('github', body, { 'x-github-event': 'release', 'x-github-delivery': 'd-3' });
    expect(unsigned.status).toBe(401);
    const big = 'x'.repeat(5000);
    expect(
      (await post('github', big, { 'x-github-event': 'push', 'x-hub-signature-256': ghSign(big) })).status,
    ).toBe(413);
    const notJson = '{"ref": ';
    expect(
      (await post('github', notJson, { 'x-github-event': 'push', 'x-hub-signature-256': ghSign(notJson) }))
        .status,
    ).toBe(400);
    const noRepo = JSON.stringify({ ref: 'refs/tags/v1.0.0' });
    expect(
      (await post('github', noRepo, { 'x-github-event': 'push', 'x-hub-signature-256': ghSign(noRepo) }))
        .status,
    ).toBe(400);
    const other = release('v1.0.0', 'someone/else');
    const unknown = await post('github', other, {
      'x-github-event': 'release',
      'x-hub-signature-256': ghSign(other),
    });
    expect(unknown.status).toBe(202);
    expect(await unknown.json()).toEqual({ accepted: true, delivery: expect.any(String), queued: [] });
    expect((await fetch(`${base}/hooks/github`)).status).toBe(405);
    expect((await post('bitbucket', '{}', {})).status).toBe(404);
    await spool.settled();
    expect(await store.head()).toBe(head);
    // Logged, but never with a secret or a presented signature.
    const text = JSON.stringify(logs);
    for (const s of [GH, GE, GL, ghSign(body, 'not-the-secret').slice(7)]) expect(text).not.toContain(s);
    expect(logs.filter((l) => l.status === 401).map((l) => l.reason)).toEqual([
      'signature mismatch',
      'missing X-Hub-Signature-256',
    ]);
  });

  it('Gitee: timestamp signatures (raw or URL-encoded) on a recipe push queue the touched app; stale and replayed ones are refused', async () => {
    const push = JSON.stringify({
      ref: 'refs/heads/master',
      after: 'a'.repeat(40),
      repository: {
        full_name: 'openeuler/openeuler-docker-images',
        html_url: 'https://gitee.com/openeuler/openeuler-docker-images',
      },
      commits: [{ added: [], modified: ['Database/valkey/8.1.0/24.03-lts-sp4/Dockerfile'], removed: [] }],
    });
    const ts = String(Date.now());
    const headers = {
      'x-gitee-event': 'Push Hook',
      'x-gitee-timestamp': ts,
      'x-gitee-token': encodeURIComponent(giteeSignature(GE, ts)),
    };
    const res = await post('gitee', push, headers);
    expect(res.status).toBe(202);
    const out = (await res.json()) as { queued: { app: string }[] };
    expect(out.queued).toEqual([{ app: 'valkey' }]);
    await spool.settled();
    const valkey = (await store.loadApp('valkey'))!;
    expect(valkey.artifacts.filter((a) => a.pending).map((a) => a.id)).toEqual(['8.6.4-oe2403sp4']);
    expect(valkey.artifacts[0]!.pending?.reason).toBe(
      'gitee push to openeuler/openeuler-docker-images@master',
    );
    expect((await post('gitee', push, headers)).status).toBe(409);
    const old = String(Date.now() - 3600_000);
    const stale = await post('gitee', push, {
      ...headers,
      'x-gitee-timestamp': old,
      'x-gitee-token': giteeSignature(GE, old),
    });
    expect(stale.status).toBe(401);
    const ts2 = String(Date.now() + 1);
    const wrong = await post('gitee', push, {
      ...headers,
      'x-gitee-timestamp': ts2,
      'x-gitee-token': giteeSignature('nope', ts2),
    });
    expect(wrong.status).toBe(401);
    // Password mode: the token is the secret in clear.
    const pw = { mode: 'password' as const, toleranceSeconds: 300 };
    expect(verifyGitee({ 'x-gitee-token': GE }, GE, pw).ok).toBe(true);
    expect(verifyGitee({ 'x-gitee-token': 'guess' }, GE, pw).ok).toBe(false);
  });

  it('GitLab: a tag push with the right token records the version; a wrong token is refused', async () => {
    const body = JSON.stringify({
      ref: 'refs/tags/v8.1.1',
      after: 'b'.repeat(40),
      project: { path_with_namespace: 'valkey-io/valkey', web_url: 'https://gitlab.com/valkey-io/valkey' },
    });
    // valkey's upstream is on GitHub: a GitLab repository with the same name is not it.
    const res = await post('gitlab', body, { 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-token': GL });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: true, delivery: expect.any(String), queued: [] });
    const bad = await post('gitlab', body, { 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-token': 'guess' });
    expect(bad.status).toBe(401);
    const gh = JSON.stringify({
      ref: 'refs/tags/v9.0.0',
      repository: { full_name: 'valkey-io/valkey', html_url: 'https://github.com/valkey-io/valkey' },
    });
    const ok = await post('github', gh, { 'x-github-event': 'push', 'x-hub-signature-256': ghSign(gh) });
    expect(((await ok.json()) as { queued: { version: string }[] }).queued[0]!.version).toBe('9.0.0');
    await spool.settled();
    expect((await store.loadApp('valkey'))!.upstream?.latest).toBe('9.0.0');
  });

  it('wharf trigger does the same from a CI job', async () => {
    const cli = (...args: string[]) =>
      execa('node', ['scripts/wharf.mjs', ...args, '--catalog', store.dir], { reject: false });
    const r = await cli('trigger', 'redis', '--version', 'v8.7.0', '--json');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ app: 'redis', version: '8.7.0', newVersion: true });
    const again = await cli('trigger', 'redis');
    expect(again.exitCode).toBe(0);
    // Its newest artifact is already pending: nothing more to queue, and no empty commit.
    expect(again.stdout).toContain('already pending');
    expect((await cli('trigger', 'redis', '--version', 'not a version')).exitCode).toBe(1);
    expect((await cli('trigger', 'nosuchapp')).exitCode).toBe(2);
    const text = await readFile(join(store.dir, 'apps/redis/upstream.json'), 'utf8');
    expect(JSON.parse(text).latest).toBe('8.7.0');
  });
});
