// Registry credentials for READING images (base-image digests, skopeo fetches), found the way users
// expect, in this order:
// 1. wharf.yml `registries:` — the publish targets' own entries: a target on the image's registry host that
//    names `usernameEnv`/`passwordEnv`, both set (the longest `repository` namespace the image lies under
//    wins): the same configuration the publish side authenticates with (credentialsFor, below);
// 2. the containers auth file (containers-auth.json(5)): $REGISTRY_AUTH_FILE when set (alone), else
//    ${XDG_RUNTIME_DIR}/containers/auth.json, ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json and
//    ${DOCKER_CONFIG:-~/.docker}/config.json, the first file with an entry for the image; `auths` entries
//    are `{auth: base64(user:pass)}` keyed by host (or host/namespace, the most specific first; Docker's
//    "https://index.docker.io/v1/" is docker.io). Credential helpers (credHelpers, credsStore) are not run.
// No source: anonymous. The values are never logged, recorded or put on a command line: callers get
// them as an object (registry client, engine pull) or as a 0600 temp auth file (publisher/registry/skopeo.ts);
// `from` names where they came from (an env var name or a file path) for messages.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { CatalogConfig } from '../../catalog/schema.ts';
import type { Credentials } from './auth.ts';
import { parseImageRef, RefError, splitTargetRepository, type ImageRef } from './ref.ts';

type RegistryTarget = CatalogConfig['registries'][number];

/** Registry credentials from the environment variables a target names (never stored anywhere). */
export function credentialsFor(target: RegistryTarget, env: NodeJS.ProcessEnv): Credentials | undefined {
  if (!target.usernameEnv && !target.passwordEnv) return undefined;
  const username = target.usernameEnv ? env[target.usernameEnv] : undefined;
  const password = target.passwordEnv ? env[target.passwordEnv] : undefined;
  if (!username || !password)
    throw new Error(
      `credentials for ${target.name} are not set: ${[target.usernameEnv, target.passwordEnv]
        .filter(Boolean)
        .map((v) => `$${v}`)
        .join(' and ')} must both be set`,
    );
  return { username, password };
}

export interface FoundCredentials {
  credentials: Credentials;
  /** Where they came from: `wharf.yml registries <name>` or an auth file's path. */
  from: string;
}

/** Where read credentials are looked up: wharf.yml's registries and the environment. */
export interface CredentialSource {
  config: Pick<CatalogConfig, 'registries'>;
  env: NodeJS.ProcessEnv;
}

/** What a failed anonymous read should suggest. */
export const CREDENTIALS_HINT =
  'wharf.yml registries usernameEnv/passwordEnv, or an auths entry in $REGISTRY_AUTH_FILE, ' +
  '${XDG_RUNTIME_DIR}/containers/auth.json or ~/.docker/config.json';

const zAuthFile = z
  .object({
    auths: z
      .record(z.string(), z.object({ auth: z.string().optional(), username: z.string().optional() }).loose())
      .optional(),
  })
  .loose();

export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** An auths key as host[/path]: no scheme, no Docker's legacy `/v1/` suffix, Docker Hub as docker.io. */
function normalizeKey(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  k = k.replace(/\/v[12]$/, '');
  const slash = k.indexOf('/');
  const host = slash < 0 ? k : k.slice(0, slash);
  return DOCKER_HUB.has(host) ? `docker.io${slash < 0 ? '' : k.slice(slash)}` : k;
}

/** The auth files to read, in order (containers-auth.json(5), then Docker's config). */
export function authFilePaths(env: NodeJS.ProcessEnv): string[] {
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const home = env.HOME || homedir();
  return [
    ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json')] : []),
    join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'auth.json'),
    join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json'),
  ];
}

/** The credentials an auth file holds for `registry/repository`, the most specific key first. */
async function fromAuthFile(
  path: string,
  registry: string,
  repository: string,
): Promise<Credentials | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CredentialsError(`${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: z.infer<typeof zAuthFile>;
  try {
    parsed = zAuthFile.parse(JSON.parse(text));
  } catch {
    // Never quote the file: it holds secrets.
    throw new CredentialsError(`${path}: not a containers auth file (JSON with an "auths" object)`);
  }
  const host = DOCKER_HUB.has(registry) ? 'docker.io' : registry;
  const wanted = `${host}/${repository}`;
  const entries = Object.entries(parsed.auths ?? {})
    .map(([k, v]) => ({ key: normalizeKey(k), entry: v }))
    .filter(({ key }) => key === host || wanted === key || wanted.startsWith(`${key}/`))
    .sort((a, b) => b.key.length - a.key.length);
  for (const { key, entry } of entries) {
    if (!entry.auth) continue;
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i <= 0 || i === decoded.length - 1)
      throw new CredentialsError(`${path}: the auths entry for ${key} is not base64 of user:password`);
    return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  return undefined;
}

/** The wharf.yml target on `registry` with credentials whose namespace `repository` lies under, longest first. */
function configTarget(
  config: Pick<CatalogConfig, 'registries'>,
  registry: string,
  repository: string,
): RegistryTarget | undefined {
  const host = DOCKER_HUB.has(registry) ? 'docker.io' : registry;
  const onHost = config.registries
    .map((t) => ({ t, ...splitTargetRepository(t.repository) }))
    .filter(
      (x) =>
        (DOCKER_HUB.has(x.registry) ? 'docker.io' : x.registry) === host &&
        (x.t.usernameEnv || x.t.passwordEnv),
    );
  const under = onHost
    .filter((x) => !x.namespace || repository === x.namespace || repository.startsWith(`${x.namespace}/`))
    .sort((a, b) => b.namespace.length - a.namespace.length);
  return (under[0] ?? onHost[0])?.t;
}

/** Credentials for reading `registry/repository`, or undefined (anonymous). */
export async function findCredentials(
  registry: string,
  repository: string,
  src: CredentialSource,
): Promise<FoundCredentials | undefined> {
  const target = configTarget(src.config, registry, repository);
  // A target whose variables are not set here (a build job without the publish secrets) is passed over:
  // reads fall back to the auth file, then to anonymous, as before credentials were looked up.
  const username = target?.usernameEnv ? src.env[target.usernameEnv] : undefined;
  const password = target?.passwordEnv ? src.env[target.passwordEnv] : undefined;
  if (target && username && password)
    return { credentials: { username, password }, from: `wharf.yml registries ${target.name}` };
  for (const path of authFilePaths(src.env)) {
    const credentials = await fromAuthFile(path, registry, repository);
    if (credentials) return { credentials, from: path };
  }
  return undefined;
}

/** Credentials for reading an image reference (see findCredentials); none for what is not a reference. */
export function credentialsForRef(ref: string, src: CredentialSource): Promise<FoundCredentials | undefined> {
  let r: ImageRef;
  try {
    r = parseImageRef(ref);
  } catch (e) {
    if (e instanceof RefError) return Promise.resolve(undefined);
    throw e;
  }
  return findCredentials(r.registry, r.repository, src);
}
