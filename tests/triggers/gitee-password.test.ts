// Gitee password mode (issue 11 item 10): the token is the secret in clear and X-Gitee-Timestamp is not
// authenticated, so a captured delivery replayed with a fresh timestamp must still be refused (409):
// replays are keyed on the body's SHA-256, never on the timestamp. A different delivery is accepted.
import { createServer, type Server } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogStore } from '../../catalog/store.ts';
import { createHookHandler, parseTriggersConfig } from '../../publisher/triggers/index.ts';

const SECRET = 'gitee-password-secret-9';
let server: Server;
let base: string;

beforeAll(async () => {
  const store = await CatalogStore.init(join(await mkdtemp(join(tmpdir(), 'wharf-gitee-pw-')), 'catalog'));
  const handler = createHookHandler({
    store,
    env: { WHARF_GE: SECRET },
    config: parseTriggersConfig({ gitee: { secretEnv: 'WHARF_GE', mode: 'password' } }),
  });
  server = createServer((req, res) => void handler(req, res, 'gitee'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/gitee`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const push = (after: string) =>
  JSON.stringify({
    ref: 'refs/heads/master',
    after,
    repository: { full_name: 'nobody/none', html_url: 'https://gitee.com/nobody/none' },
    commits: [],
  });
const send = (body: string, ts: string, token = SECRET) =>
  fetch(base, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-gitee-event': 'Push Hook',
      'x-gitee-token': token,
      'x-gitee-timestamp': ts,
    },
  });

describe('Gitee password-mode replays', () => {
  it('a replay with a new timestamp is refused; a new delivery is accepted; a wrong token is 401', async () => {
    const body = push('a'.repeat(40));
    expect((await send(body, String(Date.now()))).status).toBe(202);
    expect((await send(body, String(Date.now() + 1000))).status).toBe(409);
    expect((await send(body, '')).status).toBe(409);
    expect((await send(push('b'.repeat(40)), String(Date.now()))).status).toBe(202);
    expect((await send(push('c'.repeat(40)), String(Date.now()), 'wrong')).status).toBe(401);
  });
});
