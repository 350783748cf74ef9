// git (a real local repository with tags, through git ls-remote) and OCI registries (a real
// docker-registry, plus a loopback registry that demands the bearer-token handshake).
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { check, makeApp, sendWithEtag, testConfig, useServer, versionsOf } from './helpers.ts';

let dir: string;
let registry: TestRegistry;
const srv = useServer();

async function pushTag(name: string, tag: string): Promise<void> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const digest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  const start = await fetch(`${registry.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  const loc = new URL(start.headers.get('location')!, registry.url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, {
    method: 'PUT',
    body: config,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (put.status !== 201) throw new Error(`blob upload: ${put.status}`);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: config.length },
    layers: [],
  };
  const m = await fetch(`${registry.url}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    body: JSON.stringify(manifest),
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (m.status !== 201) throw new Error(`manifest ${tag}: ${m.status} ${await m.text()}`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wharf-watch-git-'));
  const g = (...args: string[]) => execa('git', ['-C', join(dir, 'repo'), ...args]);
  await execa('git', ['init', '-q', '-b', 'main', join(dir, 'repo')]);
  await g(
    '-c',
    'user.name=t',
    '-c',
    'user.email=t@example.org',
    'commit',
    '-q',
    '--allow-empty',
    '-m',
    'init',
  );
  for (const t of ['v1.0.0', 'v1.1.0', 'v2.0.0-rc1', 'v1.10.2', 'nightly', 'app-0.9.0']) await g('tag', t);
  await g('tag', '-a', '-m', 'annotated', 'v1.2.0');
  registry = await startRegistry();
  for (const t of ['8.6.4-oe2403sp4', '8.6.5-oe2403sp4', '7.4.1-oe2203sp4', 'latest'])
    await pushTag('openeuler/redis', t);
});

afterAll(async () => {
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('git', () => {
  it('lists tags of a local repository by path and by file:// URL', async () => {
    for (const repo of [join(dir, 'repo'), `file://${join(dir, 'repo')}`]) {
      const app = makeApp({ id: 'app', upstream: { backend: 'git', repo, scheme: 'semver' } });
      expect(versionsOf((await check(app)).outcome)).toEqual(['1.10.2', '1.2.0', '1.1.0', '1.0.0', '0.9.0']);
    }
  });

  it('refuses option-like remotes and reports a missing repository', async () => {
    const opt = makeApp({
      id: 'x',
      upstream: { backend: 'git', repo: '--upload-pack=touch /tmp/pwned', scheme: 'semver' },
    });
    expect((await check(opt)).outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/refusing git remote/),
    });
    const missing = makeApp({
      id: 'y',
      upstream: { backend: 'git', repo: join(dir, 'nope'), scheme: 'semver' },
    });
    expect((await check(missing)).outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/git ls-remote failed/),
    });
  });
});

describe('oci', () => {
  it('lists tags from a real docker-registry', async () => {
    const cfg = testConfig({ registries: { [registry.host]: registry.url } });
    const app = makeApp({
      id: 'redis',
      upstream: {
        backend: 'oci',
        repo: `${registry.host}/openeuler/redis`,
        scheme: 'rpm',
        regex: '^(.+)-oe2403sp4$',
      },
    });
    expect(versionsOf((await check(app, undefined, cfg)).outcome)).toEqual(['8.6.5', '8.6.4']);
  });

  it('performs the bearer-token handshake (WWW-Authenticate → token endpoint)', async () => {
    let tokenCalls = 0;
    srv.route('/token', (_req, res, url) => {
      tokenCalls++;
      expect(url.searchParams.get('service')).toBe('registry.test');
      expect(url.searchParams.get('scope')).toBe('repository:library/nginx:pull');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ token: 'tok-abc', expires_in: 300 }));
    });
    srv.route('/v2/library/nginx/tags/list', (req, res, url) => {
      if (req.headers.authorization !== 'Bearer tok-abc') {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="${srv.url}/token",service="registry.test",scope="repository:library/nginx:pull"`,
            'content-type': 'application/json',
          })
          .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      if (url.searchParams.get('last') === '1.27.3')
        return sendWithEtag(
          req,
          res,
          JSON.stringify({ name: 'library/nginx', tags: ['1.29.0', 'mainline'] }),
        );
      sendWithEtag(req, res, JSON.stringify({ name: 'library/nginx', tags: ['1.27.2', '1.27.3'] }), {
        link: '</v2/library/nginx/tags/list?n=2&last=1.27.3>; rel="next"',
      });
    });
    const cfg = testConfig({ registries: { 'docker.io': srv.url } });
    const app = makeApp({ id: 'nginx', upstream: { backend: 'oci', repo: 'nginx', scheme: 'semver' } });
    expect(versionsOf((await check(app, undefined, cfg)).outcome)).toEqual(['1.29.0', '1.27.3', '1.27.2']);
    expect(tokenCalls).toBe(1);
    const unauth = srv.log.filter((l) => l.path.startsWith('/v2/') && !l.headers.authorization);
    expect(unauth).toHaveLength(1);
  });
});
