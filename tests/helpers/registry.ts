// A real OCI registry (Debian's docker-registry, distribution 2.8) on a loopback port, for tests.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { sha256Digest, type RegistryClient } from '../../publisher/registry/client.ts';
import { freePort, waitFor } from './ports.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** Push a one-layer linux/amd64 OCI image of `layer` as `repo:tag` with `client`; returns the manifest digest. */
export async function pushOneLayerImage(
  client: RegistryClient,
  repo: string,
  tag: string,
  layer: Buffer,
): Promise<string> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] },
    }),
  );
  for (const b of [layer, config]) await client.uploadBlob(repo, sha256Digest(b), b.length, { bytes: b });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256Digest(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: sha256Digest(layer),
          size: layer.length,
        },
      ],
    }),
  );
  return client.putManifest(repo, tag, manifest, OCI_MANIFEST);
}

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
