// The shared HTTP client's politeness and robustness, through the http-regex and http-json sources.
import { describe, expect, it } from 'vitest';
import { evalJsonPath } from '../../publisher/watch/jsonpath.ts';
import { check, makeApp, sendWithEtag, testConfig, useServer, versionsOf } from './helpers.ts';

const srv = useServer();
const other = useServer();

const regexApp = (id: string, path: string, regex = 'app-([0-9][^"<]*)\\.tar\\.gz') =>
  makeApp({ id, upstream: { backend: 'http-regex', url: `${srv.url}${path}`, regex, scheme: 'loose' } });

describe('http client', () => {
  it('retries 503 honouring Retry-After, then succeeds', async () => {
    let n = 0;
    srv.route('/flaky', (_req, res) => {
      if (++n === 1) return void res.writeHead(503, { 'retry-after': '1' }).end('busy');
      res.writeHead(200).end('<a href="app-1.2.3.tar.gz">');
    });
    const t0 = Date.now();
    const r = await check(regexApp('flaky', '/flaky'));
    expect(versionsOf(r.outcome)).toEqual(['1.2.3']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(r.http.stats.retries).toBe(1);
  });

  it('retries 429 with backoff and fails after the configured retries', async () => {
    srv.route('/always429', (_req, res) => void res.writeHead(429).end());
    const r = await check(regexApp('busy', '/always429'));
    expect(r.outcome).toMatchObject({ kind: 'error', message: expect.stringMatching(/HTTP 429/) });
    expect(r.http.stats.requests).toBe(3);
  });

  it('follows same-host redirects and refuses redirects to other hosts', async () => {
    srv.route('/moved', (_req, res) => void res.writeHead(301, { location: '/flaky' }).end());
    srv.route('/away', (_req, res) => void res.writeHead(302, { location: `${other.url}/x` }).end());
    expect(versionsOf((await check(regexApp('moved', '/moved'))).outcome)).toEqual(['1.2.3']);
    const away = await check(regexApp('away', '/away'));
    expect(away.outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/redirect to another host refused/),
    });
    expect(other.log).toHaveLength(0);
  });

  it('caps response bodies, declared or streamed', async () => {
    const big = 'x'.repeat(64 * 1024);
    srv.route('/huge', (_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end(big));
    srv.route('/huge-chunked', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let i = 0; i < 64; i++) res.write('y'.repeat(1024));
      res.end();
    });
    const cfg = testConfig({ maxBodyBytes: 16 * 1024 });
    for (const p of ['/huge', '/huge-chunked']) {
      const r = await check(regexApp(`big${p.length}`, p), undefined, cfg);
      expect(r.outcome).toMatchObject({ kind: 'error', message: expect.stringMatching(/16384-byte cap/) });
    }
  });

  it('times out a server that never answers', async () => {
    srv.route('/hang', () => {
      /* never respond */
    });
    const r = await check(regexApp('hang', '/hang'), undefined, testConfig({ timeoutMs: 300, retries: 0 }));
    expect(r.outcome).toMatchObject({ kind: 'error' });
  });

  it('answers 304 to If-Modified-Since when only Last-Modified is given', async () => {
    const lm = new Date(Date.UTC(2025, 0, 1)).toUTCString();
    srv.route('/lm', (req, res) => {
      if (req.headers['if-modified-since'] === lm) return void res.writeHead(304).end();
      res.writeHead(200, { 'last-modified': lm }).end('app-3.0.tar.gz');
    });
    const app = regexApp('lm', '/lm');
    const first = await check(app);
    if (first.outcome.kind !== 'ok') throw new Error('expected ok');
    expect(Object.values(first.outcome.validators)).toEqual([{ lastModified: lm }]);
    const { policyFingerprint } = await import('../../publisher/watch/policy.ts');
    const second = await check(app, {
      known: ['3.0'],
      validators: first.outcome.validators,
      policy: policyFingerprint(app.upstream!),
    });
    expect(second.outcome.kind).toBe('notModified');
    // A changed version policy invalidates the validators: the next check is a full fetch.
    const third = await check(app, { known: ['3.0'], validators: first.outcome.validators, policy: 'other' });
    expect(third.outcome.kind).toBe('ok');
  });
});

describe('http-regex and http-json sources', () => {
  it('drops tags that are not versions and versions with shell metacharacters', async () => {
    srv.route('/downloads', (req, res) =>
      sendWithEtag(
        req,
        res,
        [
          'app-2.4.1.tar.gz',
          'app-2.5.0;rm -rf ~.tar.gz',
          'app-2.6.0$(id).tar.gz',
          'app-latest.tar.gz',
          'app-2.5.0rc1.tar.gz',
        ].join('\n'),
      ),
    );
    const r = await check(regexApp('dl', '/downloads', 'app-([^\\n]*?)\\.tar\\.gz'));
    if (r.outcome.kind !== 'ok') throw new Error(JSON.stringify(r.outcome));
    expect(r.outcome.policy.versions).toEqual(['2.4.1']);
    const reasons = Object.fromEntries(r.outcome.policy.rejected.map((x) => [x.raw, x.reason]));
    expect(reasons['2.5.0;rm -rf ~']).toBe('not a safe version string');
    expect(reasons['2.6.0$(id)']).toBe('not a safe version string');
    expect(reasons.latest).toBe('not a loose version');
    expect(reasons['2.5.0rc1']).toBe('pre-release');
  });

  it('selects versions with a JSON path and reports malformed JSON', async () => {
    srv.route('/api.json', (req, res) =>
      sendWithEtag(
        req,
        res,
        JSON.stringify({ releases: [{ tag_name: 'v1.0.0' }, { tag_name: 'v1.1.0' }, { other: 1 }] }),
      ),
    );
    srv.route(
      '/bad.json',
      (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"releases": [1,'),
    );
    srv.route(
      '/page.json',
      (_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><p>login'),
    );
    const mk = (id: string, p: string) =>
      makeApp({
        id,
        upstream: {
          backend: 'http-json',
          url: `${srv.url}${p}`,
          jsonPath: '$.releases[*].tag_name',
          scheme: 'semver',
        },
      });
    expect(versionsOf((await check(mk('j1', '/api.json'))).outcome)).toEqual(['1.1.0', '1.0.0']);
    expect((await check(mk('j2', '/bad.json'))).outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/malformed JSON/),
    });
    expect((await check(mk('j3', '/page.json'))).outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/expected JSON, got an HTML page/),
    });
  });

  it('evaluates the supported JSON path subset', () => {
    const doc = { a: { b: [{ v: '1' }, { v: '2' }], 'x-y': ['3'] }, c: [{ d: { v: '4' } }] };
    expect(evalJsonPath(doc, '$.a.b[*].v')).toEqual(['1', '2']);
    expect(evalJsonPath(doc, '$.a.b[1].v')).toEqual(['2']);
    expect(evalJsonPath(doc, "$.a['x-y'][0]")).toEqual(['3']);
    expect(evalJsonPath(doc, '$..v')).toEqual(['1', '2', '4']);
    expect(evalJsonPath(doc, '$.c.*.d.v')).toEqual(['4']);
    expect(evalJsonPath(doc, '$.missing[0]')).toEqual([]);
    expect(() => evalJsonPath(doc, '$.a[?(@.v)]')).toThrow(/unsupported JSON path/);
  });
});
