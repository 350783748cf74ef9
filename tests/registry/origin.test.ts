// Issue 11 item 1 for the registry client: its credentials belong to the registry's origin. A storage
// redirect (307 from GET blob) and a Link rel="next" tag page on another origin (another loopback port)
// are followed without Authorization.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, sha256Digest } from '../../publisher/registry/client.ts';
import { startServer, type FakeServer } from '../watch/helpers.ts';

const creds = { username: 'robot', password: 'origin-Pa55' };
const basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
const blob = Buffer.from('a small config blob\n');
const digest = sha256Digest(blob);

let reg: FakeServer;
let storage: FakeServer;
beforeAll(async () => {
  reg = await startServer();
  storage = await startServer();
  const guarded =
    (h: (res: import('node:http').ServerResponse) => void) =>
    (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      if (req.headers.authorization !== basic)
        return void res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
      h(res);
    };
  reg.route(
    `/v2/app/blobs/${digest}`,
    guarded((res) => void res.writeHead(307, { location: `${storage.url}/bucket/${digest}` }).end()),
  );
  reg.route(
    '/v2/app/tags/list',
    guarded(
      (res) =>
        void res
          .writeHead(200, {
            'content-type': 'application/json',
            link: `<${storage.url}/v2/app/tags/list?last=1.0>; rel="next"`,
          })
          .end(JSON.stringify({ name: 'app', tags: ['1.0'] })),
    ),
  );
  storage.route(`/bucket/${digest}`, (_req, res) => void res.writeHead(200).end(blob));
  storage.route(
    '/v2/app/tags/list',
    (_req, res) =>
      void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tags: ['1.1'] })),
  );
});
afterAll(async () => {
  await reg.close();
  await storage.close();
});

describe('registry credentials bound to the registry origin', () => {
  it('follows a storage redirect and a cross-origin tag page without Authorization', async () => {
    const c = new RegistryClient({ registry: reg.host, insecure: true, credentials: creds });
    expect(await c.getBlob('app', digest)).toEqual(blob);
    expect(await c.listTags('app')).toEqual(['1.0', '1.1']);
    expect(reg.log.some((l) => l.headers.authorization === basic)).toBe(true);
    expect(storage.log.map((l) => l.path)).toEqual([`/bucket/${digest}`, '/v2/app/tags/list?last=1.0']);
    for (const l of storage.log) expect(l.headers.authorization).toBeUndefined();
  });
});
