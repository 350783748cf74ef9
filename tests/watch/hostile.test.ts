// Hostile upstreams (issue 11 items 3 and 4), on loopback: an upstream body with NUL and control
// bytes that end up in an error message must not make git refuse the sweep's commit (the other apps'
// results are kept); a ~256 KB gzip holding one 64 MB <package> element is scanned in one linear pass
// or cut off by the per-app deadline with a clear error. Outcomes are asserted; times are logged.
import { gzipSync } from 'node:zlib';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { commitMessage, parseTrailers } from '../../catalog/git.ts';
import { escapeLogValue } from '../../catalog/text.ts';
import { scanPrimary } from '../../publisher/watch/primary-scan.ts';
import { runSweep } from '../../publisher/watch/sweep.ts';
import { check, makeApp, startServer, testConfig, type FakeServer } from './helpers.ts';

let tmp: string;
let server: FakeServer;

const MB = 1024 * 1024;

/** primary.xml with one `size`-byte <package> of hello 2.0 (its bulk made of `filler`) and a small hello 1.0. */
function hugePrimary(size: number, filler: string): Buffer {
  const head =
    '<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" packages="2">\n' +
    '<package type="rpm"><name>hello</name><arch>x86_64</arch><version epoch="0" ver="2.0" rel="1.oe2403"/><description>';
  const tail =
    '</description></package>\n' +
    '<package type="rpm"><name>hello</name><arch>x86_64</arch><version epoch="1" ver="1.0" rel="3"/></package>\n' +
    '<package type="rpm"><name>other</name><version epoch="0" ver="9.9" rel="1"/></package>\n</metadata>\n';
  const block = Buffer.from(filler.repeat(Math.ceil(MB / filler.length)).slice(0, MB));
  const parts = [Buffer.from(head)];
  for (let n = 0; n < size / MB; n++) parts.push(block);
  parts.push(Buffer.from(tail));
  return gzipSync(Buffer.concat(parts), { level: 9 });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wharf-watch-hostile-'));
  server = await startServer();
});
afterAll(async () => {
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

function serveRepo(prefix: string, gz: Buffer) {
  server.route(`${prefix}/repodata/repomd.xml`, (_req, res) => {
    res
      .writeHead(200, { 'content-type': 'application/xml' })
      .end(
        '<?xml version="1.0"?><repomd><data type="primary"><location href="repodata/primary.xml.gz"/></data></repomd>',
      );
  });
  server.route(`${prefix}/repodata/primary.xml.gz`, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/gzip' }).end(gz);
  });
}

describe('RPM primary metadata with one 64 MB <package> element', () => {
  // Text is the cheap case, a run of tiny elements the expensive one (one tag per 4 bytes).
  for (const [label, filler] of [
    ['text', 'lorem ipsum &amp; dolor sit amet '],
    ['16 million empty elements', '<x/>'],
  ] as const) {
    it(`is scanned in one pass or cut off by the deadline (${label})`, async () => {
      const gz = hugePrimary(64 * MB, filler);
      console.log(`${label}: gzip ${Math.round(gz.length / 1024)} KB for a 64 MB <package>`);
      expect(gz.length).toBeLessThan(1024 * 1024);
      const prefix = `/rpm-${label.length}`;
      serveRepo(prefix, gz);
      const app = makeApp({
        id: 'hello',
        upstream: { backend: 'rpm', url: `${server.url}${prefix}/`, package: 'hello' },
      });
      const t0 = performance.now();
      const { outcome: out } = await check(app, undefined, testConfig({ appTimeoutMs: 60_000 }));
      const ms = Math.round(performance.now() - t0);
      console.log(`${label}: check of the 64 MB <package> took ${ms} ms (goal < 2000 ms) → ${out.kind}`);
      if (out.kind === 'error') expect(out.message).toMatch(/deadline exceeded/);
      else {
        expect(out.kind).toBe('ok');
        if (out.kind === 'ok') expect(out.policy.versions.sort()).toEqual(['1:1.0-3', '2.0-1.oe2403']);
      }
    }, 120_000);
  }

  // The bound, enforced by the deadline itself rather than by timing the test: with
  // watch.appTimeoutMs at 2 s the check either finishes the scan inside it (ok, both versions read) or
  // is cut off by it with the deadline error; it can neither run on nor fail any other way.
  it('with a 2 s per-app deadline: scanned within it, or cut off by it with a clear error', async () => {
    const gz = hugePrimary(64 * MB, '<x/>');
    serveRepo('/rpm-2s', gz);
    const app = makeApp({
      id: 'hello',
      upstream: { backend: 'rpm', url: `${server.url}/rpm-2s/`, package: 'hello' },
    });
    const t0 = performance.now();
    const { outcome: out } = await check(app, undefined, testConfig({ appTimeoutMs: 2000 }));
    console.log(`2 s deadline: ${Math.round(performance.now() - t0)} ms → ${out.kind}`);
    if (out.kind === 'error')
      expect(out.message).toMatch(/deadline exceeded: the check took longer than 2000 ms/);
    else {
      expect(out.kind).toBe('ok');
      if (out.kind === 'ok') expect(out.policy.versions.sort()).toEqual(['1:1.0-3', '2.0-1.oe2403']);
    }
  }, 60_000);

  it('a check past watch.appTimeoutMs ends with a clear deadline error while the upstream stalls', async () => {
    // The repomd answer never ends: the deadline (300 ms) ends the check long before the request's
    // own timeout (5 s) would.
    server.route('/stall/repodata/repomd.xml', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.write('<?xml version="1.0"?>');
    });
    const app = makeApp({
      id: 'stall',
      upstream: { backend: 'rpm', url: `${server.url}/stall/`, package: 'hello' },
    });
    const { outcome: out } = await check(
      app,
      undefined,
      testConfig({ appTimeoutMs: 300, timeoutMs: 5_000, retries: 0 }),
    );
    expect(out).toEqual({
      kind: 'error',
      message: expect.stringMatching(/deadline exceeded: the check took longer than 300 ms/),
    });
  }, 60_000);

  it('an aborted signal stops the scan between chunks', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop here'));
    async function* chunks() {
      yield '<?xml version="1.0"?><metadata><package><name>hello</name>';
      yield '<version ver="1"/></package></metadata>';
    }
    await expect(scanPrimary(chunks(), 'hello', { maxBytes: MB, signal: ac.signal })).rejects.toThrow(
      'stop here',
    );
  });

  it('reads what the old scan did, across any chunk boundaries, comments, CDATA and quoted ">"', async () => {
    const xml =
      '<?xml version="1.0"?>\n<!-- </package> in a comment --><metadata>' +
      '<package type="rpm"><name>hello</name><version epoch="0" ver="1.2" rel="1"/>' +
      '<description><![CDATA[ </package><name>evil</name> ]]></description><x a="a>b" b=\'</package>\'/></package>' +
      '<package type="rpm"><name>hello-devel</name><version epoch="0" ver="9" rel="1"/></package>' +
      '<package type="rpm"><name>hello</name><version epoch="2" ver="1.3" rel="2&amp;x"/></package></metadata>';
    for (const size of [1, 2, 3, 7, 64, xml.length]) {
      async function* chunks() {
        for (let i = 0; i < xml.length; i += size) yield Buffer.from(xml.slice(i, i + size));
      }
      expect((await scanPrimary(chunks(), 'hello', { maxBytes: MB })).sort()).toEqual(['1.2-1', '2:1.3-2&x']);
    }
    async function* html() {
      yield '<!doctype html><html><body>not found</body></html>';
    }
    await expect(scanPrimary(html(), 'hello', { maxBytes: MB })).rejects.toThrow(/not XML metadata|DOCTYPE/);
    async function* doctype() {
      yield '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><metadata/>';
    }
    await expect(scanPrimary(doctype(), 'hello', { maxBytes: MB })).rejects.toThrow(/DOCTYPE/);
  });
});

describe('control bytes from an upstream body', () => {
  it('never make git refuse the sweep commit; every other app keeps its result', async () => {
    server.route('/nul', (_req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(Buffer.from('\u0000\u0001\u001b[31m{"v": \n'));
    });
    server.route('/fine', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"versions":["3.1"]}');
    });
    const store = await CatalogStore.init(join(tmp, 'catalog'));
    await store.commit({ subject: 'apps' }, (tx) => {
      tx.putApp(
        makeApp({ id: 'nul', upstream: { backend: 'http-json', url: `${server.url}/nul`, jsonPath: '$.v' } }),
      );
      tx.putApp(
        makeApp({
          id: 'fine',
          upstream: { backend: 'http-json', url: `${server.url}/fine`, jsonPath: '$.versions[*]' },
        }),
      );
    });
    const r = await runSweep(store, { config: testConfig({ retries: 0 }), env: {} });
    expect(r.errors).toBe(1);
    expect(r.commit).toMatch(/^[0-9a-f]{40}$/);
    const snap = await store.load();
    expect(snap.apps.get('fine')!.upstream!.latest).toBe('3.1');
    const lastError = snap.apps.get('nul')!.upstream!.lastError!;
    expect(lastError.message).toMatch(/malformed JSON/);
    // eslint-disable-next-line no-control-regex
    expect(lastError.message).not.toMatch(/[\u0000-\u001f\u007f]/);
    const msg = (await execa('git', ['log', '-1', '--format=%B'], { cwd: store.dir })).stdout;
    expect(msg).toMatch(/failed nul/);
    // eslint-disable-next-line no-control-regex
    expect(msg).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  }, 60_000);

  it('commitMessage drops control bytes and cannot be made to forge a trailer', () => {
    const m = commitMessage(
      'watch: x\u0000y\nApp: forged',
      { App: 'real\nStage: forged', Stage: 'watch' },
      'body\u0000\nStage: forged\n',
    );
    // eslint-disable-next-line no-control-regex
    expect(m).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(m.split('\n')[0]).toBe('watch: xy App: forged');
    expect(parseTrailers(m)).toEqual({ App: 'real Stage: forged', Stage: 'watch' });
    expect(() => commitMessage('s', { 'Bad Key': 'v' })).toThrow(/trailer key/);
  });

  it('escapeLogValue keeps one value on one line, visibly', () => {
    expect(escapeLogValue('a/b\nlevel=error msg="forged"')).toBe('a/b\\nlevel=error msg="forged"');
    expect(escapeLogValue('\u0000\u001b[31m\\')).toBe('\\x00\\x1b[31m\\\\');
    expect(escapeLogValue('x'.repeat(10_000)).length).toBeLessThanOrEqual(4096);
  });
});
