// Issue 11 item 10 (part): a Content-Encoded body used to reach http-regex as compressed bytes and give
// 0 versions without an error. The network layer now undoes gzip, deflate (zlib and raw) and br, caps the
// decoded size, and fails clearly on an encoding it cannot undo or a page that is still compressed.
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { check, makeApp, testConfig, useServer, versionsOf } from './helpers.ts';

const srv = useServer();

const page = '<a href="tool-1.4.2.tar.gz">tool-1.4.2</a> <a href="tool-1.5.0.tar.gz">tool-1.5.0</a>';
const regexApp = (id: string, path: string) =>
  makeApp({
    id,
    upstream: {
      backend: 'http-regex',
      url: `${srv.url}${path}`,
      regex: 'tool-([0-9.]+)\\.tar\\.gz',
      scheme: 'semver',
    },
  });

describe('Content-Encoding', () => {
  const encoders: [string, (b: Buffer) => Buffer][] = [
    ['gzip', gzipSync],
    ['x-gzip', gzipSync],
    ['deflate', deflateSync],
    ['deflate', deflateRawSync],
    ['br', brotliCompressSync],
    ['gzip, br', (b) => brotliCompressSync(gzipSync(b))],
  ];
  for (const [i, [coding, enc]] of encoders.entries()) {
    it(`decodes a ${coding} body (${i}) for http-regex`, async () => {
      srv.route(`/enc${i}`, (req, res) => {
        expect(req.headers['accept-encoding']).toBe('gzip, deflate, br');
        res
          .writeHead(200, { 'content-type': 'text/html', 'content-encoding': coding })
          .end(enc(Buffer.from(page)));
      });
      expect(versionsOf((await check(regexApp(`enc${i}`, `/enc${i}`))).outcome)).toEqual(['1.5.0', '1.4.2']);
    });
  }

  it('fails clearly on an encoding it cannot undo, a corrupt body, or a page still compressed', async () => {
    srv.route(
      '/compress',
      (_req, res) =>
        void res.writeHead(200, { 'content-encoding': 'compress' }).end(Buffer.from([0x1f, 0x9d, 0x90])),
    );
    srv.route(
      '/corrupt',
      (_req, res) =>
        void res.writeHead(200, { 'content-encoding': 'gzip' }).end(Buffer.from('not gzip at all')),
    );
    srv.route(
      '/raw.gz',
      (_req, res) => void res.writeHead(200, { 'content-type': 'application/gzip' }).end(gzipSync(page)),
    );
    expect((await check(regexApp('c1', '/compress'))).outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/unsupported Content-Encoding "compress"/),
    });
    expect((await check(regexApp('c2', '/corrupt'))).outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/cannot decode gzip body/),
    });
    expect((await check(regexApp('c3', '/raw.gz'))).outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/gzip-compressed data without Content-Encoding/),
    });
  });

  it('caps the decoded size, not only the bytes on the wire', async () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x61)); // ~8 KiB on the wire, 8 MiB decoded
    expect(bomb.length).toBeLessThan(64 * 1024);
    srv.route('/bomb', (_req, res) => void res.writeHead(200, { 'content-encoding': 'gzip' }).end(bomb));
    const r = await check(regexApp('bomb', '/bomb'), undefined, testConfig({ maxBodyBytes: 1024 * 1024 }));
    expect(r.outcome).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/response decoded exceeds the 1048576-byte cap/),
    });
  });

  it('rpm: a primary.xml.gz labelled Content-Encoding: gzip (Apache AddEncoding) is read once decoded', async () => {
    const primary = `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" packages="1">
<package type="rpm"><name>tool</name><version epoch="0" ver="3.1" rel="2"/></package>
</metadata>`;
    srv.route(
      '/rpm/repodata/repomd.xml',
      (_req, res) =>
        void res
          .writeHead(200)
          .end('<repomd><data type="primary"><location href="repodata/x-primary.xml.gz"/></data></repomd>'),
    );
    srv.route(
      '/rpm/repodata/x-primary.xml.gz',
      (_req, res) =>
        void res
          .writeHead(200, { 'content-type': 'application/x-gzip', 'content-encoding': 'gzip' })
          .end(gzipSync(primary)),
    );
    const app = makeApp({
      id: 'tool',
      upstream: { backend: 'rpm', url: `${srv.url}/rpm`, package: 'tool', scheme: 'rpm' },
    });
    expect(versionsOf((await check(app)).outcome)).toEqual(['3.1-2']);
  });
});
