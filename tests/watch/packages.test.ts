// PyPI, npm and RPM-repository sources against loopback servers in each format.
import { execa } from 'execa';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { check, makeApp, sendWithEtag, testConfig, useServer, versionsOf } from './helpers.ts';

const srv = useServer();
const cfg = () => testConfig({ apis: { pypi: srv.url, npm: `${srv.url}/npm` } });

describe('pypi', () => {
  it('lists releases that have files not all yanked', async () => {
    srv.route('/pypi/mlflow/json', (req, res) =>
      sendWithEtag(
        req,
        res,
        JSON.stringify({
          info: { name: 'mlflow', version: '2.19.0' },
          releases: {
            '2.18.0': [{ filename: 'a.whl', yanked: false }],
            '2.19.0': [{ filename: 'b.whl', yanked: false }],
            '2.19.1': [{ filename: 'c.whl', yanked: true }],
            '2.20.0rc0': [{ filename: 'd.whl', yanked: false }],
            '3.0.0': [],
          },
        }),
      ),
    );
    const app = makeApp({ id: 'mlflow', upstream: { backend: 'pypi', package: 'mlflow', scheme: 'loose' } });
    expect(versionsOf((await check(app, undefined, cfg())).outcome)).toEqual(['2.19.0', '2.18.0']);
    const pre = makeApp({
      id: 'mlflow',
      upstream: { backend: 'pypi', package: 'mlflow', scheme: 'loose', prerelease: true },
    });
    expect(versionsOf((await check(pre, undefined, cfg())).outcome)[0]).toBe('2.20.0rc0');
  });

  it('reports a missing project as an error', async () => {
    const app = makeApp({
      id: 'nope',
      upstream: { backend: 'pypi', package: 'no-such-project', scheme: 'loose' },
    });
    expect((await check(app, undefined, cfg())).outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/HTTP 404/),
    });
  });
});

describe('npm', () => {
  it('reads the abbreviated packument (scoped names), skipping deprecated versions', async () => {
    srv.route('/npm/@scope%2fwidget', (req, res) => {
      expect(req.headers.accept).toContain('application/vnd.npm.install-v1+json');
      sendWithEtag(
        req,
        res,
        JSON.stringify({
          name: '@scope/widget',
          'dist-tags': { latest: '1.3.0' },
          versions: {
            '1.2.0': { name: '@scope/widget', version: '1.2.0' },
            '1.3.0': { name: '@scope/widget', version: '1.3.0' },
            '1.4.0': { name: '@scope/widget', version: '1.4.0', deprecated: 'broken, use 1.3.0' },
            '2.0.0-next.1': { name: '@scope/widget', version: '2.0.0-next.1' },
          },
        }),
        { 'content-type': 'application/vnd.npm.install-v1+json' },
      );
    });
    const app = makeApp({
      id: 'widget',
      upstream: { backend: 'npm', package: '@scope/widget', scheme: 'semver' },
    });
    expect(versionsOf((await check(app, undefined, cfg())).outcome)).toEqual(['1.3.0', '1.2.0']);
  });
});

function primaryXml(pkgs: { name: string; arch: string; epoch: string; ver: string; rel: string }[]): string {
  const body = pkgs
    .map(
      (p) => `<package type="rpm">
  <name>${p.name}</name>
  <arch>${p.arch}</arch>
  <version epoch="${p.epoch}" ver="${p.ver}" rel="${p.rel}"/>
  <checksum type="sha256" pkgid="YES">00</checksum>
  <summary>${p.name} &amp; friends</summary>
  <format><rpm:license>BSD</rpm:license><rpm:requires><rpm:entry name="libc.so.6"/></rpm:requires></format>
</package>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${pkgs.length}">
${body}
</metadata>
`;
}

function repomd(href: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
  <data type="filelists"><location href="repodata/abc-filelists.xml.gz"/></data>
  <data type="primary">
    <checksum type="sha256">abc</checksum>
    <location href="${href}"/>
    <timestamp>1700000000</timestamp>
  </data>
</repomd>
`;
}

describe('rpm repository', () => {
  const pkgs = [
    { name: 'redis', arch: 'x86_64', epoch: '0', ver: '7.2.4', rel: '1.oe2403' },
    { name: 'redis', arch: 'x86_64', epoch: '0', ver: '7.2.10', rel: '2.oe2403' },
    { name: 'redis', arch: 'src', epoch: '0', ver: '7.2.10', rel: '2.oe2403' },
    { name: 'redis-devel', arch: 'x86_64', epoch: '0', ver: '9.9.9', rel: '1' },
    { name: 'openssl', arch: 'x86_64', epoch: '1', ver: '3.0.12', rel: '5.oe2403' },
    ...Array.from({ length: 2000 }, (_, i) => ({
      name: `filler${i}`,
      arch: 'noarch',
      epoch: '0',
      ver: '1.0',
      rel: '1',
    })),
  ];

  it('finds the newest version of a package through repomd.xml → primary.xml.gz, then revalidates', async () => {
    let primaryFetches = 0;
    srv.route('/oe/everything/x86_64/repodata/repomd.xml', (req, res) =>
      sendWithEtag(req, res, repomd('repodata/0123-primary.xml.gz'), { 'content-type': 'text/xml' }),
    );
    srv.route('/oe/everything/x86_64/repodata/0123-primary.xml.gz', (_req, res) => {
      primaryFetches++;
      res.writeHead(200, { 'content-type': 'application/gzip' }).end(gzipSync(primaryXml(pkgs)));
    });
    const app = makeApp({
      id: 'redis',
      upstream: { backend: 'rpm', url: `${srv.url}/oe/everything/x86_64`, package: 'redis', scheme: 'rpm' },
    });
    const r = await check(app, undefined, cfg());
    expect(versionsOf(r.outcome)).toEqual(['7.2.10-2.oe2403', '7.2.4-1.oe2403']);
    // With `regex`, only the upstream version part is kept.
    const verOnly = makeApp({ id: 'redis', upstream: { ...app.upstream!, regex: '^([^-]+)-' } });
    expect(versionsOf((await check(verOnly, undefined, cfg())).outcome)).toEqual(['7.2.10', '7.2.4']);
    if (r.outcome.kind !== 'ok') throw new Error('not ok');
    const { policyFingerprint } = await import('../../publisher/watch/policy.ts');
    const again = await check(
      app,
      { known: [], validators: r.outcome.validators, policy: policyFingerprint(app.upstream!) },
      cfg(),
    );
    expect(again.outcome.kind).toBe('notModified');
    expect(primaryFetches).toBe(2);
  });

  it('reads zstd primary metadata and keeps epochs', async () => {
    srv.route('/zst/repodata/repomd.xml', (req, res) =>
      sendWithEtag(req, res, repomd('repodata/p-primary.xml.zst')),
    );
    srv.route(
      '/zst/repodata/p-primary.xml.zst',
      (_req, res) => void res.writeHead(200).end(zstdCompressSync(primaryXml(pkgs))),
    );
    const app = makeApp({
      id: 'openssl',
      upstream: { backend: 'rpm', url: `${srv.url}/zst/`, package: 'openssl', scheme: 'rpm' },
    });
    expect(versionsOf((await check(app, undefined, cfg())).outcome)).toEqual(['1:3.0.12-5.oe2403']);
  });

  it('reads xz and bzip2 primary metadata (by their bytes, whatever the name says)', async () => {
    const xml = primaryXml(pkgs);
    const packed = {
      xz: Buffer.from((await execa('xz', ['-c'], { input: xml, encoding: 'buffer' })).stdout),
      bz2: Buffer.from((await execa('bzip2', ['-c'], { input: xml, encoding: 'buffer' })).stdout),
      gz: gzipSync(xml),
    };
    // xz and bz2 named as such; a gzip file whose name carries no extension at all.
    const cases = [
      ['xz', 'repodata/p-primary.xml.xz', packed.xz],
      ['bz2', 'repodata/p-primary.xml.bz2', packed.bz2],
      ['noext', 'repodata/p-primary', packed.gz],
    ] as const;
    for (const [dir, href, body] of cases) {
      srv.route(`/${dir}/repodata/repomd.xml`, (req, res) => sendWithEtag(req, res, repomd(href)));
      srv.route(`/${dir}/${href}`, (_req, res) => void res.writeHead(200).end(body));
      const app = makeApp({
        id: 'openssl',
        upstream: { backend: 'rpm', url: `${srv.url}/${dir}/`, package: 'openssl', scheme: 'rpm' },
      });
      expect([dir, versionsOf((await check(app, undefined, cfg())).outcome)]).toEqual([
        dir,
        ['1:3.0.12-5.oe2403'],
      ]);
    }
  });

  it('fails clearly on a corrupt primary file, whatever its compression', async () => {
    const xml = Buffer.from(primaryXml(pkgs));
    const truncatedXz = Buffer.from((await execa('xz', ['-c'], { input: xml, encoding: 'buffer' })).stdout);
    const cases = [
      ['gz-text', 'repodata/x-primary.xml.gz', Buffer.from('not gzip at all'), /is not gzip data/],
      ['xz-short', 'repodata/x-primary.xml.xz', Buffer.from('xz'), /is not xz data/],
      ['xz-cut', 'repodata/x-primary.xml.xz', truncatedXz.subarray(0, 200), /xz -dc failed/],
      ['html', 'repodata/x-primary.xml', Buffer.from('<!doctype html><p>502 Bad Gateway</p>'), /not XML/],
    ] as const;
    for (const [dir, href, body, why] of cases) {
      srv.route(`/${dir}/repodata/repomd.xml`, (req, res) => sendWithEtag(req, res, repomd(href)));
      srv.route(`/${dir}/${href}`, (_req, res) => void res.writeHead(200).end(body));
      const app = makeApp({
        id: 'redis',
        upstream: { backend: 'rpm', url: `${srv.url}/${dir}`, package: 'redis', scheme: 'rpm' },
      });
      const { outcome } = await check(app, undefined, cfg());
      expect([dir, outcome.kind]).toEqual([dir, 'error']);
      expect(outcome).toMatchObject({ message: expect.stringMatching(/cannot read primary metadata/) });
      expect(outcome).toMatchObject({ message: expect.stringMatching(why) });
    }
  });
});
