// The composition root of the stages: `openStageContext(store, options)` builds, once per run, what every
// stage runs with — the catalog configuration, the blob store `blobs:` in wharf.yml names (local disk or
// S3), the container engine, the signer, the scanner settings and the registry-client factory. The CLI
// (wharf pipeline|build|smoke|scan|sign|publish), the daemon's jobs, the benchmarks and the tests all
// open their context here, so a setting is honoured the same way everywhere.
import { isAbsolute, relative, resolve } from 'node:path';
import type Docker from 'dockerode';
import { defaultBlobStore, type BlobStore } from '../catalog/blobs.ts';
import { newRunId } from '../catalog/run-id.ts';
import type { CatalogConfig } from '../catalog/schema.ts';
import type { CatalogStore } from '../catalog/store.ts';
import { connectEngine } from './engine/index.ts';
import { RegistryClient } from './registry/client.ts';
import { credentialsFor } from './registry/credentials.ts';
import { splitTargetRepository } from './registry/ref.ts';
import { trivyOptionsFromEnv, type TrivyOptions } from './scan/trivy.ts';
import { KEY_ENV, KEY_FILE_ENV, loadSigningKey, type SigningKey } from './sign/keys.ts';
import type { RegistryClientHooks, StageContext, StageLogger } from './stage.ts';

type RegistryTarget = CatalogConfig['registries'][number];

export interface StageContextOptions {
  /** The catalog configuration (default: the store's wharf.yml). */
  config?: CatalogConfig;
  runId?: string;
  /** Work directory (default: $WHARF_WORK_DIR, else .wharf/work), resolved to an absolute path. */
  workDir?: string;
  /**
   * The container engine: a Docker client, an address (unix://, tcp://, a socket path), or null for
   * none. Default: $DOCKER_HOST, else the usual sockets (creating the client never connects).
   */
  engine?: Docker | string | null;
  /** Override the blob store (default: the one `blobs:` in wharf.yml names). */
  blobs?: BlobStore;
  /** Where secrets and tool settings are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  log?: StageLogger;
  /** Overrides of the Trivy settings read from the environment (bin, cacheDir, timeoutMs, offline). */
  trivy?: Partial<TrivyOptions>;
}

const silent: StageLogger = { info() {}, warn() {} };

/** Registry credentials from the environment variables a target names (one definition: registry/credentials.ts). */
export { credentialsFor };

/**
 * The environment the signer reads: `env` itself, or, when it names no key ($WHARF_SIGNING_KEY,
 * $WHARF_SIGNING_KEY_FILE) and wharf.yml `signing.keyFile` does, `env` with $WHARF_SIGNING_KEY_FILE set
 * to that file (relative to the catalog). A key file inside the catalog is refused: the catalog is
 * public, the private key never is.
 */
export function signerEnv(
  catalogDir: string,
  config: CatalogConfig,
  env: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv {
  const file = config.signing?.keyFile;
  if (!file || env[KEY_ENV]?.trim() || env[KEY_FILE_ENV]?.trim()) return env;
  const path = resolve(catalogDir, file);
  const rel = relative(resolve(catalogDir), path);
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)))
    throw new Error(
      `wharf.yml: signing.keyFile ${file} lies inside the catalog; keep the private key outside it`,
    );
  return { ...env, [KEY_FILE_ENV]: path };
}

/** Build the stage context of one run. Fails (with the wharf.yml field) when `blobs:` is invalid. */
export async function openStageContext(
  store: CatalogStore,
  o: StageContextOptions = {},
): Promise<StageContext> {
  const env = o.env ?? process.env;
  const config = o.config ?? (await store.config());
  // The S3 client (a large SDK) is loaded only when wharf.yml names a blob store: CLI start-up stays quick.
  const blobs =
    o.blobs ??
    (config.blobs
      ? (await import('../catalog/blobs-s3.ts')).openBlobStore(store.dir, config, env)
      : defaultBlobStore(store.dir));
  const engine =
    o.engine === null
      ? undefined
      : typeof o.engine === 'object'
        ? o.engine
        : connectEngine(o.engine, env).engine;
  let key: Promise<SigningKey | null> | undefined;
  let scanner: TrivyOptions | undefined;
  return {
    store,
    config,
    runId: o.runId ?? newRunId(),
    blobs,
    workDir: resolve(o.workDir ?? env.WHARF_WORK_DIR ?? '.wharf/work'),
    log: o.log ?? silent,
    ...(engine ? { engine } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    env,
    signer: () => (key ??= Promise.resolve().then(() => loadSigningKey(signerEnv(store.dir, config, env)))),
    // Read lazily: a bad WHARF_TRIVY_TIMEOUT fails the scans, not every other stage.
    scanner: () =>
      (scanner ??= {
        ...trivyOptionsFromEnv(env),
        ...o.trivy,
        ...(o.signal ? { signal: o.signal } : {}),
      }),
    registry: (target: RegistryTarget, hooks: RegistryClientHooks = {}) =>
      new RegistryClient({
        registry: splitTargetRepository(target.repository).registry,
        insecure: target.insecure,
        credentials: credentialsFor(target, env),
        ...(hooks.retry ? { retry: hooks.retry } : {}),
        ...(hooks.onRetry ? { onRetry: hooks.onRetry } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      }),
  };
}
