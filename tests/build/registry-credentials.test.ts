// Registry credentials for reads, against a real docker-registry with htpasswd auth on loopback:
// base-image lookups (the base check's registry resolver, checkBases), the build's base pulls through the
// engine (podman) and skopeo fetches succeed with the credentials wharf.yml `registries:` (env var names) or
// a containers auth file give, and fail without them with an error saying how to configure them; skopeo gets a 0600 temp auth file (never the password on its
// command line) that is gone afterwards; the password is in no message, record or commit.
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact, CatalogConfig } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { RegistryClient, sha256Digest } from '../../publisher/registry/client.ts';
import {
  authFilePaths,
  CredentialsError,
  findCredentials,
  type CredentialSource,
} from '../../publisher/registry/credentials.ts';
import { resolveBaseDigest } from '../../publisher/build/base.ts';
import { skopeoFetch } from '../../publisher/registry/skopeo.ts';
import { checkBases, registryResolver } from '../../publisher/watch/bases.ts';
import { startPodman, type TestPodman } from '../helpers/podman.ts';
import { pushOneLayerImage, startRegistry, type TestRegistry } from '../helpers/registry.ts';

const USER = 'wharf-ci';
const PASSWORD = 'pw-3f9c1e7a-not-in-any-log';

let reg: TestRegistry;
let dir: string;
let digest: string;
let layerDigest: string;
let ref: string;

/** A one-file layer tar (a real tar, so skopeo and readers accept the image). */
async function layerTar(): Promise<Buffer> {
  const p = pack();
  p.entry({ name: 'etc/base-release', mode: 0o644, mtime: new Date(0) }, 'private base\n');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Push a one-layer amd64 image as `repo:tag` with `client`; returns its manifest digest. */
async function pushImage(client: RegistryClient, repo: string, tag: string): Promise<string> {
  const layer = await layerTar();
  layerDigest = sha256Digest(layer);
  return pushOneLayerImage(client, repo, tag, layer);
}

const target = (over: Partial<CatalogConfig['registries'][number]> = {}) => ({
  name: 'private',
  repository: `${reg.host}/private`,
  insecure: true,
  usernameEnv: 'PRIV_USER',
  passwordEnv: 'PRIV_PASS',
  ...over,
});
/** An environment with no auth file of the user's: HOME and XDG dirs inside the test's directory. */
const cleanEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: join(dir, 'home'),
  ...extra,
});
const authJson = (key: string, user = USER, password = PASSWORD) =>
  JSON.stringify({ auths: { [key]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } });

beforeAll(async () => {
  reg = await startRegistry({ auth: { username: USER, password: PASSWORD } });
  dir = await mkdtemp(join(tmpdir(), 'wharf-creds-'));
  await mkdir(join(dir, 'home'), { recursive: true });
  const client = new RegistryClient({
    registry: reg.host,
    insecure: true,
    credentials: { username: USER, password: PASSWORD },
  });
  digest = await pushImage(client, 'private/base', '1');
  ref = `${reg.host}/private/base:1`;
}, 60_000);
afterAll(async () => {
  await reg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('finding read credentials', () => {
  it('takes wharf.yml registries entries first (their env vars), then the containers auth files', async () => {
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, authJson(reg.host, 'from-file'), { mode: 0o600 });
    const config = { registries: [target()] };
    const withEnv = await findCredentials(reg.host, 'private/base', {
      config,
      env: cleanEnv({ PRIV_USER: USER, PRIV_PASS: PASSWORD, REGISTRY_AUTH_FILE: authFile }),
    });
    expect(withEnv).toEqual({
      credentials: { username: USER, password: PASSWORD },
      from: 'wharf.yml registries private',
    });
    // The target's variables unset (a job without the publish secrets): the auth file.
    const fromFile = await findCredentials(reg.host, 'private/base', {
      config,
      env: cleanEnv({ REGISTRY_AUTH_FILE: authFile }),
    });
    expect(fromFile).toEqual({ credentials: { username: 'from-file', password: PASSWORD }, from: authFile });
    // Another host: nothing.
    expect(
      await findCredentials('quay.io', 'private/base', {
        config,
        env: cleanEnv({ REGISTRY_AUTH_FILE: authFile }),
      }),
    ).toBeUndefined();
  });

  it('reads the standard auth file locations: XDG_RUNTIME_DIR, ~/.config, ~/.docker (Docker Hub keys too)', async () => {
    const env = cleanEnv({ XDG_RUNTIME_DIR: join(dir, 'run') });
    expect(authFilePaths(env)).toEqual([
      join(dir, 'run', 'containers', 'auth.json'),
      join(dir, 'home', '.config', 'containers', 'auth.json'),
      join(dir, 'home', '.docker', 'config.json'),
    ]);
    expect(authFilePaths({ ...env, REGISTRY_AUTH_FILE: '/x/auth.json' })).toEqual(['/x/auth.json']);
    const docker = join(dir, 'home', '.docker');
    await mkdir(docker, { recursive: true });
    await writeFile(
      join(docker, 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hub:hubpw').toString('base64') },
          [`${reg.host}`]: { auth: Buffer.from('host-wide:pw1').toString('base64') },
          [`${reg.host}/private`]: { auth: Buffer.from('namespace:pw2').toString('base64') },
        },
        credsStore: 'desktop',
      }),
    );
    const src: CredentialSource = { config: { registries: [] }, env };
    expect((await findCredentials('docker.io', 'library/busybox', src))?.credentials).toEqual({
      username: 'hub',
      password: 'hubpw',
    });
    // The most specific key wins; other repositories get the host-wide entry.
    expect((await findCredentials(reg.host, 'private/base', src))?.credentials.username).toBe('namespace');
    expect((await findCredentials(reg.host, 'public/base', src))?.credentials.username).toBe('host-wide');
    await rm(docker, { recursive: true });
  });

  it('a malformed auth file is a clear error that does not quote the file', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(
      bad,
      `{"auths": {"${reg.host}": {"auth": "${Buffer.from(PASSWORD).toString('base64')}"}}}`,
    );
    const err = await findCredentials(reg.host, 'private/base', {
      config: { registries: [] },
      env: cleanEnv({ REGISTRY_AUTH_FILE: bad }),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as Error).message).toBe(
      `${bad}: the auths entry for ${reg.host} is not base64 of user:password`,
    );
    await writeFile(bad, `not json ${PASSWORD}`);
    const err2 = await findCredentials(reg.host, 'private/base', {
      config: { registries: [] },
      env: cleanEnv({ REGISTRY_AUTH_FILE: bad }),
    }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/not a containers auth file/);
    expect((err2 as Error).message).not.toContain(PASSWORD);
  });
});

describe('base-image lookups (registry resolver)', () => {
  it('resolve with wharf.yml or auth-file credentials; fail anonymously, or with a wrong password, clearly', async () => {
    const config = { registries: [target()] };
    const viaConfig = registryResolver({
      credentials: { config, env: cleanEnv({ PRIV_USER: USER, PRIV_PASS: PASSWORD }) },
    });
    expect(await viaConfig(ref, 'amd64')).toBe(digest);

    const authFile = join(dir, 'auth-lookup.json');
    await writeFile(authFile, authJson(reg.host), { mode: 0o600 });
    const viaFile = registryResolver({
      credentials: { config: { registries: [] }, env: cleanEnv({ REGISTRY_AUTH_FILE: authFile }) },
    });
    expect(await viaFile(ref, 'amd64')).toBe(digest);

    const anonymous = registryResolver({ credentials: { config: { registries: [] }, env: cleanEnv() } });
    const e1 = (await anonymous(ref, 'amd64').catch((e: unknown) => e)) as Error;
    expect(e1.message).toMatch(/refused access \(HTTP 401\)/);
    expect(e1.message).toMatch(/REGISTRY_AUTH_FILE/);
    expect(e1.message).toMatch(/usernameEnv\/passwordEnv/);

    const wrong = registryResolver({
      credentials: { config, env: cleanEnv({ PRIV_USER: USER, PRIV_PASS: 'wrong-password' }) },
    });
    const e2 = (await wrong(ref, 'amd64').catch((e: unknown) => e)) as Error;
    expect(e2.message).toMatch(/refused access/);
    expect(e2.message).toMatch(/the credentials from wharf\.yml registries private were refused/);
    for (const m of [e1.message, e2.message]) {
      expect(m).not.toContain(PASSWORD);
      expect(m).not.toContain('wrong-password');
    }
  });

  it('checkBases authenticates with the catalog wharf.yml registries entry; the password is in no record or commit', async () => {
    const store = await CatalogStore.init(join(dir, 'catalog'));
    const artifact: Artifact = {
      app: 'a',
      kind: 'container',
      id: '1.0-oe2403sp4',
      version: '1.0',
      osVersion: '24.03-lts-sp4',
      arches: ['amd64'],
      records: {
        build: {
          runId: '20261201T000000Z-abc123',
          at: '2026-12-01T00:00:00.000Z',
          status: 'ok',
          arches: ['amd64'],
          // An older digest: the base moved, so the check marks the artifact pending.
          bases: [{ ref, digest: `sha256:${createHash('sha256').update('old').digest('hex')}`, stages: [0] }],
        },
      },
    };
    await store.commit({ subject: 'seed' }, async (tx) => {
      tx.putConfig({ ...(await tx.getConfig()), registries: [target()] });
      tx.putApp({ id: 'a', name: 'a', title: { en: 'a' }, category: 'tools', recipes: { container: [] } });
      tx.putArtifact(artifact);
    });
    const anonymous = await checkBases(store, { env: cleanEnv() });
    expect(anonymous.pending).toEqual([]);
    expect(anonymous.problems).toHaveLength(1);
    expect(anonymous.problems[0]!.message).toMatch(/HTTP 401.*usernameEnv\/passwordEnv/);

    const r = await checkBases(store, { env: cleanEnv({ PRIV_USER: USER, PRIV_PASS: PASSWORD }) });
    expect(r.problems).toEqual([]);
    expect(r.pending).toEqual([{ app: 'a', artifact: '1.0-oe2403sp4', reason: `base image ${ref} changed` }]);
    const history = await execa('git', ['-C', store.dir, 'log', '-p', '--all']);
    expect(history.stdout).toContain(`base image ${ref} changed`);
    expect(history.stdout).not.toContain(PASSWORD);
    expect(JSON.stringify([anonymous, r])).not.toContain(PASSWORD);
  });
});

describe('skopeo fetches', () => {
  /** A skopeo wrapper recording its argv and its auth file's mode, then running the real skopeo. */
  async function recordingSkopeo(): Promise<{ bin: string; log: string }> {
    const bin = join(dir, 'skopeo-recorder');
    const log = join(dir, 'skopeo-argv.log');
    await writeFile(
      bin,
      [
        '#!/bin/sh',
        `printf '%s\\n' "$@" > '${log}'`,
        'prev=""',
        'for a in "$@"; do',
        `  if [ "$prev" = "--src-authfile" ]; then stat -c 'mode=%a' "$a" >> '${log}'; echo "authfile=$a" >> '${log}'; fi`,
        '  prev="$a"',
        'done',
        'exec skopeo "$@"',
        '',
      ].join('\n'),
    );
    await chmod(bin, 0o755);
    return { bin, log };
  }

  it('fetch with the found credentials through a 0600 temp auth file, removed after; anonymous fails clearly', async () => {
    const { bin, log } = await recordingSkopeo();
    const out = join(dir, 'layout');
    await skopeoFetch(ref, {
      dir: out,
      arch: 'amd64',
      insecure: true,
      credentials: {
        credentials: { username: USER, password: PASSWORD },
        from: 'wharf.yml registries private',
      },
      bin,
    });
    // skopeo writes its own manifest and layer encoding; the image config (its diff_ids: the
    // uncompressed layer) is the pushed one.
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    const blob = async (d: string) =>
      JSON.parse(await readFile(join(out, 'blobs', 'sha256', d.replace('sha256:', '')), 'utf8')) as {
        config: { digest: string };
        rootfs: { diff_ids: string[] };
      };
    const config = await blob((await blob(index.manifests[0]!.digest)).config.digest);
    expect(config.rootfs.diff_ids).toEqual([layerDigest]);
    const argv = await readFile(log, 'utf8');
    expect(argv).toContain('--src-authfile');
    expect(argv).toContain('mode=600');
    expect(argv).not.toContain(PASSWORD);
    expect(argv).not.toMatch(/--(src-)?creds/);
    const authfile = /authfile=(.+)/.exec(argv)![1]!;
    await expect(readFile(authfile)).rejects.toThrow(/ENOENT/);

    const anon = (await skopeoFetch(ref, {
      dir: join(dir, 'layout-anon'),
      arch: 'amd64',
      insecure: true,
      bin,
    }).catch((e: unknown) => e)) as Error;
    expect(anon.message).toMatch(/skopeo copy .* \(amd64\): .*/);
    expect(anon.message).toMatch(/requires credentials and none are configured \(wharf\.yml registries/);
    expect(await readFile(log, 'utf8')).not.toContain('--src-authfile');

    const wrong = (await skopeoFetch(ref, {
      dir: join(dir, 'layout-wrong'),
      arch: 'amd64',
      insecure: true,
      credentials: { credentials: { username: USER, password: 'wrong-password' }, from: '/some/auth.json' },
      bin,
    }).catch((e: unknown) => e)) as Error;
    expect(wrong.message).toMatch(/refused the credentials from \/some\/auth\.json/);
    expect(wrong.message).not.toContain('wrong-password');
  }, 60_000);
});

describe('base-image pulls through the engine (podman)', () => {
  let podman: TestPodman;
  beforeAll(async () => {
    podman = await startPodman({ insecureRegistries: [reg.host] });
  }, 60_000);
  afterAll(async () => podman?.stop());

  it('pull with the credentials as the registry auth; anonymously the base cannot be resolved', async () => {
    const anon = (await resolveBaseDigest(podman.engine, ref).catch((e: unknown) => e)) as Error;
    expect(anon.message).toMatch(/base image .* cannot be pulled .* and is not present locally/);
    expect(anon.message).toMatch(/no registry credentials are configured for it \(wharf\.yml registries/);
    const from = 'wharf.yml registries private';
    const wrong = (await resolveBaseDigest(podman.engine, ref, undefined, {
      credentials: { username: USER, password: 'wrong-password' },
      from,
    }).catch((e: unknown) => e)) as Error;
    expect(wrong.message).toMatch(
      /cannot be pulled.*the credentials from wharf\.yml registries private were refused/,
    );
    expect(wrong.message).not.toContain('wrong-password');
    const ok = await resolveBaseDigest(podman.engine, ref, undefined, {
      credentials: { username: USER, password: PASSWORD },
      from,
    });
    expect(ok).toEqual({ ref, digest, local: false });
  }, 60_000);
});
