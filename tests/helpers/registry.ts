// A real OCI registry (Debian's docker-registry, distribution 2.8) on a loopback port, for tests.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { freePort, waitFor } from './ports.ts';

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:41234 */
  host: string;
  url: string;
  stop(): Promise<void>;
}

/**
 * `auth`: the registry asks for these credentials (distribution's htpasswd auth, HTTP Basic; the bcrypt
 * entry is made by `htpasswd -B` from apache2-utils, the password given on its stdin).
 */
export async function startRegistry(
  opts: { port?: number; auth?: { username: string; password: string } } = {},
): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-registry-'));
  const port = opts.port ?? (await freePort());
  if (opts.auth) {
    const h = await execa('htpasswd', ['-niB', '-C', '4', opts.auth.username], { input: opts.auth.password });
    await writeFile(join(dir, 'htpasswd'), `${h.stdout.trim()}\n`);
  }
  const cfg = [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ...(opts.auth
      ? ['auth:', '  htpasswd:', '    realm: wharf-test', `    path: ${join(dir, 'htpasswd')}`]
      : []),
    '',
  ].join('\n');
  await writeFile(join(dir, 'config.yml'), cfg);
  const proc: ResultPromise = execa('docker-registry', ['serve', join(dir, 'config.yml')], {
    reject: false,
    stdio: 'ignore',
    cleanup: true,
  });
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  // With auth, an anonymous /v2/ is answered 401: the registry is up.
  const up = opts.auth ? 401 : 200;
  await waitFor(`docker-registry on ${host}`, async () => (await fetch(`${url}/v2/`)).status === up);
  return {
    host,
    url,
    async stop() {
      proc.kill('SIGTERM');
      await proc;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
