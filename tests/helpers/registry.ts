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

export async function startRegistry(opts: { port?: number } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-registry-'));
  const port = opts.port ?? (await freePort());
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
  await waitFor(`docker-registry on ${host}`, async () => (await fetch(`${url}/v2/`)).status === 200);
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
