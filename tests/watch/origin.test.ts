// Issue 11 item 1: credentials are bound to the origin they were configured for. Two loopback servers on
// different ports are two origins; the second must never see Authorization, PRIVATE-TOKEN or access_token,
// whether it is reached by a Link: rel="next" page, a redirect, an app's upstream.url or an RPM href.
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import * as w from './helpers.ts';

const home = w.useServer(); // the configured API / registry origin
const away = w.useServer(); // another origin (same host, other port)
beforeEach(() => {
  home.log.length = 0;
  away.log.length = 0;
});

const cfg = () =>
  w.testConfig({ apis: { github: home.url, gitlab: `${home.url}/api/v4`, gitee: `${home.url}/api/v5` } });
const env = { GITHUB_TOKEN: 'ghp_bound', GITLAB_TOKEN: 'glpat-bound', GITEE_TOKEN: 'gitee-bound' };

/** No request that reached `away` carried a credential of ours. */
function expectNoCredentials(srv: w.FakeServer): void {
  for (const l of srv.log) {
    expect(l.headers.authorization).toBeUndefined();
    expect(l.headers['private-token']).toBeUndefined();
    expect(l.path).not.toContain('access_token');
    expect(JSON.stringify(l.headers)).not.toMatch(/bound/);
  }
}

describe('credentials bound to their origin', () => {
  it('github: a Link rel="next" page on another origin is fetched without the token', async () => {
    home.route('/repos/o/paged/releases', (req, res) =>
      w.sendWithEtag(req, res, JSON.stringify([{ tag_name: 'v2.0.0' }]), {
        link: `<${away.url}/repos/o/paged/releases?page=2>; rel="next"`,
      }),
    );
    away.route('/repos/o/paged/releases', (req, res) =>
      w.sendWithEtag(req, res, JSON.stringify([{ tag_name: 'v1.0.0' }])),
    );
    const app = w.makeApp({
      id: 'paged',
      upstream: { backend: 'github', repo: 'o/paged', scheme: 'semver' },
    });
    const r = await w.check(app, undefined, cfg(), env);
    expect(w.versionsOf(r.outcome)).toEqual(['2.0.0', '1.0.0']);
    expect(home.log[0]!.headers.authorization).toBe('Bearer ghp_bound');
    expect(away.log).toHaveLength(1);
    expectNoCredentials(away);
  });

  it('github: an app whose upstream.url is another origin gets no token', async () => {
    away.route('/repos/o/elsewhere/releases', (req, res) =>
      w.sendWithEtag(req, res, JSON.stringify([{ tag_name: 'v3.1.0' }])),
    );
    const app = w.makeApp({
      id: 'elsewhere',
      upstream: { backend: 'github', repo: 'o/elsewhere', url: away.url, scheme: 'semver' },
    });
    expect(w.versionsOf((await w.check(app, undefined, cfg(), env)).outcome)).toEqual(['3.1.0']);
    expect(away.log).toHaveLength(1);
    expectNoCredentials(away);
  });

  it('github: a same-origin redirect keeps the token, a cross-origin one is refused unsent', async () => {
    home.route(
      '/repos/o/moved/releases',
      (_req, res) => void res.writeHead(301, { location: '/repos/o/moved2/releases?per_page=100' }).end(),
    );
    home.route('/repos/o/moved2/releases', (req, res) =>
      w.sendWithEtag(req, res, JSON.stringify([{ tag_name: 'v4.0.0' }])),
    );
    home.route(
      '/repos/o/gone/releases',
      (_req, res) => void res.writeHead(302, { location: `${away.url}/repos/o/gone/releases` }).end(),
    );
    const moved = w.makeApp({
      id: 'moved',
      upstream: { backend: 'github', repo: 'o/moved', scheme: 'semver' },
    });
    expect(w.versionsOf((await w.check(moved, undefined, cfg(), env)).outcome)).toEqual(['4.0.0']);
    expect(home.log.map((l) => l.headers.authorization)).toEqual(['Bearer ghp_bound', 'Bearer ghp_bound']);
    const gone = w.makeApp({ id: 'gone', upstream: { backend: 'github', repo: 'o/gone', scheme: 'semver' } });
    expect((await w.check(gone, undefined, cfg(), env)).outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/redirect to another host refused/),
    });
    expect(away.log).toHaveLength(0);
  });

  it('gitlab: a Link rel="next" page on another origin gets no PRIVATE-TOKEN', async () => {
    home.route('/api/v4/projects/g%2Fp/releases', (req, res) =>
      w.sendWithEtag(req, res, JSON.stringify([{ tag_name: 'v1.2.0' }]), {
        link: `<${away.url}/api/v4/projects/g%2Fp/releases?page=2>; rel="next"`,
      }),
    );
    away.route('/api/v4/projects/g%2Fp/releases', (req, res) =>
      w.sendWithEtag(req, res, JSON.stringify([{ tag_name: 'v1.1.0' }])),
    );
    const app = w.makeApp({ id: 'gl', upstream: { backend: 'gitlab', repo: 'g/p', scheme: 'semver' } });
    expect(w.versionsOf((await w.check(app, undefined, cfg(), env)).outcome)).toEqual(['1.2.0', '1.1.0']);
    expect(home.log[0]!.headers['private-token']).toBe('glpat-bound');
    expect(away.log).toHaveLength(1);
    expectNoCredentials(away);
  });

  it('gitee: the access_token query parameter stays on its origin', async () => {
    away.route('/api/v5/repos/o/g/releases', (req, res) =>
      w.sendWithEtag(req, res, JSON.stringify([{ tag_name: 'v0.9.0' }]), { total_page: '1' }),
    );
    const app = w.makeApp({
      id: 'ge',
      upstream: { backend: 'gitee', repo: 'o/g', url: `${away.url}/api/v5`, scheme: 'semver' },
    });
    expect(w.versionsOf((await w.check(app, undefined, cfg(), env)).outcome)).toEqual(['0.9.0']);
    expect(away.log).toHaveLength(1);
    expectNoCredentials(away);
  });

  it('oci: the bearer token is not sent to a tag page on another origin', async () => {
    home.route(
      '/token',
      (_req, res) =>
        void res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"oci-bound"}'),
    );
    home.route('/v2/ns/img/tags/list', (req, res) => {
      if (req.headers.authorization !== 'Bearer oci-bound')
        return void res
          .writeHead(401, { 'www-authenticate': `Bearer realm="${home.url}/token",service="t"` })
          .end();
      w.sendWithEtag(req, res, JSON.stringify({ name: 'ns/img', tags: ['1.0.0'] }), {
        link: `<${away.url}/v2/ns/img/tags/list?last=1.0.0>; rel="next"`,
      });
    });
    away.route('/v2/ns/img/tags/list', (req, res) =>
      w.sendWithEtag(req, res, JSON.stringify({ name: 'ns/img', tags: ['1.1.0'] })),
    );
    const app = w.makeApp({
      id: 'img',
      upstream: { backend: 'oci', repo: `${home.host}/ns/img`, scheme: 'semver' },
    });
    const r = await w.check(app, undefined, w.testConfig({ registries: { [home.host]: home.url } }));
    expect(w.versionsOf(r.outcome)).toEqual(['1.1.0', '1.0.0']);
    expect(away.log).toHaveLength(1);
    expectNoCredentials(away);
  });

  it('rpm: a repomd <location href> on another origin is fetched, without credentials', async () => {
    const primary = `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" packages="1">
<package type="rpm"><name>tool</name><version epoch="0" ver="2.5" rel="1"/></package>
</metadata>`;
    home.route('/repo/repodata/repomd.xml', (req, res) =>
      w.sendWithEtag(
        req,
        res,
        `<?xml version="1.0"?><repomd><data type="primary"><location href="${away.url}/mirror/p-primary.xml.gz"/></data></repomd>`,
      ),
    );
    away.route('/mirror/p-primary.xml.gz', (_req, res) => void res.writeHead(200).end(gzipSync(primary)));
    const app = w.makeApp({
      id: 'tool',
      upstream: { backend: 'rpm', url: `${home.url}/repo`, package: 'tool', scheme: 'rpm' },
    });
    expect(w.versionsOf((await w.check(app, undefined, cfg(), env)).outcome)).toEqual(['2.5-1']);
    expect(away.log).toHaveLength(1);
    expectNoCredentials(away);
  });
});
