// GitHub, GitLab and Gitee sources against loopback servers answering in each API's documented format.
import { describe, expect, it } from 'vitest';
import type { UpstreamState } from '../../catalog/schema.ts';
import { check, makeApp, sendWithEtag, testConfig, useServer, versionsOf } from './helpers.ts';

const srv = useServer();

const cfg = () =>
  testConfig({ apis: { github: srv.url, gitlab: `${srv.url}/api/v4`, gitee: `${srv.url}/api/v5` } });

describe('github', () => {
  it('reads releases across Link pages, skips drafts, honours prerelease, and revalidates with ETag', async () => {
    const page1 = JSON.stringify([
      { tag_name: 'v8.6.5', draft: false, prerelease: false },
      { tag_name: 'v9.0.0-rc1', draft: false, prerelease: true },
      { tag_name: 'v9.9.9', draft: true, prerelease: false },
    ]);
    const page2 = JSON.stringify([{ tag_name: 'v8.6.4' }, { tag_name: '7.4.1' }]);
    srv.route('/repos/redis/redis/releases', (req, res, url) => {
      if (url.searchParams.get('page') === '2') return sendWithEtag(req, res, page2);
      sendWithEtag(req, res, page1, {
        link: `<${srv.url}/repos/redis/redis/releases?per_page=100&page=2>; rel="next", <${srv.url}/repos/redis/redis/releases?per_page=100&page=2>; rel="last"`,
        'x-ratelimit-remaining': '59',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      });
    });
    const app = makeApp({
      id: 'redis',
      upstream: { backend: 'github', repo: 'redis/redis', scheme: 'semver' },
    });
    const first = await check(app, undefined, cfg(), { GITHUB_TOKEN: 'ghp_secret123' });
    expect(versionsOf(first.outcome)).toEqual(['8.6.5', '8.6.4', '7.4.1']);
    const auth = srv.log.find((l) => l.path.startsWith('/repos/redis/redis/releases'))!.headers.authorization;
    expect(auth).toBe('Bearer ghp_secret123');
    if (first.outcome.kind !== 'ok') throw new Error('not ok');
    const validators = first.outcome.validators;
    expect(Object.keys(validators)).toEqual([`${srv.url}/repos/redis/redis/releases?per_page=100`]);
    expect(JSON.stringify(validators)).not.toContain('ghp_secret123');

    const prev: UpstreamState = {
      known: ['8.6.5'],
      latest: '8.6.5',
      validators,
      policy: (await import('../../publisher/watch/policy.ts')).policyFingerprint(app.upstream!),
    };
    const second = await check(app, prev, cfg());
    expect(second.outcome.kind).toBe('notModified');
    expect(second.http.stats).toMatchObject({ requests: 1, notModified: 1 });
  });

  it('falls back to tags when a repository has no releases, without caching the empty page', async () => {
    srv.route('/repos/nginx/nginx/releases', (req, res) => sendWithEtag(req, res, '[]'));
    srv.route('/repos/nginx/nginx/tags', (req, res) =>
      sendWithEtag(
        req,
        res,
        JSON.stringify([{ name: 'release-1.27.3' }, { name: 'release-1.29.0' }, { name: 'stable' }]),
      ),
    );
    const app = makeApp({
      id: 'nginx',
      upstream: {
        backend: 'github',
        repo: 'nginx/nginx',
        scheme: 'rpm',
        original: { version_prefix: 'release-' },
      },
    });
    const r = await check(app, undefined, cfg());
    expect(versionsOf(r.outcome)).toEqual(['1.29.0', '1.27.3']);
    if (r.outcome.kind === 'ok')
      expect(Object.keys(r.outcome.validators)).toEqual([`${srv.url}/repos/nginx/nginx/tags?per_page=100`]);
  });

  it('waits for X-RateLimit-Reset when the limit is used up, then succeeds', async () => {
    let calls = 0;
    srv.route('/repos/limited/app/releases', (req, res) => {
      calls++;
      if (calls === 1) {
        res
          .writeHead(403, {
            'content-type': 'application/json',
            'x-ratelimit-remaining': '0',
            'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 1),
          })
          .end('{"message":"API rate limit exceeded"}');
        return;
      }
      sendWithEtag(req, res, JSON.stringify([{ tag_name: '2.0.0' }]));
    });
    const app = makeApp({
      id: 'limited',
      upstream: { backend: 'github', repo: 'limited/app', scheme: 'semver' },
    });
    const t0 = Date.now();
    const r = await check(app, undefined, cfg());
    expect(versionsOf(r.outcome)).toEqual(['2.0.0']);
    expect(calls).toBe(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
  });

  it('gives up with a clear error when the reset is further away than maxRetryWaitMs', async () => {
    srv.route('/repos/limited/far/releases', (_req, res) => {
      res
        .writeHead(403, {
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
        })
        .end('{}');
    });
    const app = makeApp({
      id: 'far',
      upstream: { backend: 'github', repo: 'limited/far', scheme: 'semver' },
    });
    const r = await check(app, undefined, cfg());
    expect(r.outcome).toMatchObject({ kind: 'error' });
    if (r.outcome.kind === 'error') expect(r.outcome.message).toMatch(/rate limited/);
  });
});

describe('gitlab', () => {
  it('follows Link pagination over releases and treats upcoming releases as pre-releases', async () => {
    srv.route('/api/v4/projects/group%2Fsub%2Fproj/releases', (req, res, url) => {
      if (url.searchParams.get('page') === '2')
        return sendWithEtag(req, res, JSON.stringify([{ tag_name: 'v1.0.0' }]));
      sendWithEtag(
        req,
        res,
        JSON.stringify([{ tag_name: 'v1.2.0', upcoming_release: true }, { tag_name: 'v1.1.0' }]),
        {
          link: `<${srv.url}/api/v4/projects/group%2Fsub%2Fproj/releases?page=2&per_page=100>; rel="next"`,
          'x-next-page': '2',
          'x-total-pages': '2',
        },
      );
    });
    const app = makeApp({
      id: 'proj',
      upstream: { backend: 'gitlab', repo: 'group/sub/proj', scheme: 'semver' },
    });
    const r = await check(app, undefined, cfg(), { GITLAB_TOKEN: 'glpat-xyz' });
    expect(versionsOf(r.outcome)).toEqual(['1.1.0', '1.0.0']);
    expect(srv.log.find((l) => l.path.includes('group%2Fsub%2Fproj'))!.headers['private-token']).toBe(
      'glpat-xyz',
    );
  });

  it('reads tags ordered by update with X-Next-Page pagination', async () => {
    srv.route('/api/v4/projects/g%2Ftagged/repository/tags', (req, res, url) => {
      if (url.searchParams.get('page') === '2')
        return sendWithEtag(req, res, JSON.stringify([{ name: 'v0.9' }]));
      sendWithEtag(req, res, JSON.stringify([{ name: 'v1.0' }, { name: 'nightly' }]), { 'x-next-page': '2' });
    });
    const app = makeApp({
      id: 'tagged',
      upstream: { backend: 'gitlab', repo: 'g/tagged', useTags: true, scheme: 'loose' },
    });
    const r = await check(app, undefined, cfg());
    expect(versionsOf(r.outcome)).toEqual(['1.0', '0.9']);
  });
});

describe('gitee', () => {
  it('pages with total_page and sends GITEE_TOKEN as access_token without storing it', async () => {
    srv.route('/api/v5/repos/openeuler/kunpeng/releases', (req, res, url) => {
      const page = url.searchParams.get('page');
      const body =
        page === '1'
          ? [
              { tag_name: 'v2.1.0', prerelease: false },
              { tag_name: 'v2.2.0-beta', prerelease: true },
            ]
          : [{ tag_name: 'v2.0.0', prerelease: false }];
      sendWithEtag(req, res, JSON.stringify(body), { total_page: '2', total_count: '3' });
    });
    const app = makeApp({
      id: 'kunpeng',
      upstream: { backend: 'gitee', repo: 'openeuler/kunpeng', scheme: 'semver' },
    });
    const r = await check(app, undefined, cfg(), { GITEE_TOKEN: 'gitee-tok-42' });
    expect(versionsOf(r.outcome)).toEqual(['2.1.0', '2.0.0']);
    const hits = srv.log.filter((l) => l.path.startsWith('/api/v5/repos/openeuler/kunpeng/releases'));
    expect(hits).toHaveLength(2);
    expect(hits[0]!.path).toContain('access_token=gitee-tok-42');
    expect(JSON.stringify(r.outcome)).not.toContain('gitee-tok-42');
  });

  it('reports an HTML error page as a per-app error', async () => {
    srv.route('/api/v5/repos/openeuler/broken/releases', (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>');
    });
    const app = makeApp({
      id: 'broken',
      upstream: { backend: 'gitee', repo: 'openeuler/broken', scheme: 'semver' },
    });
    const r = await check(app, undefined, cfg());
    expect(r.outcome).toMatchObject({ kind: 'error' });
    if (r.outcome.kind === 'error') expect(r.outcome.message).toMatch(/HTTP 502 \(HTML error page\)/);
    expect(r.http.stats.retries).toBe(2);
  });

  it('refuses a repo value that would escape the API path', async () => {
    const app = makeApp({
      id: 'evil',
      upstream: { backend: 'gitee', repo: '../../admin', scheme: 'semver' },
    });
    const r = await check(app, undefined, cfg());
    expect(r.outcome).toMatchObject({ kind: 'error' });
    if (r.outcome.kind === 'error') expect(r.outcome.message).toMatch(/upstream\.repo/);
  });
});
