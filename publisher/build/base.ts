// Resolve a base image reference to a content digest, through the engine: pull it (so a new base
// release is noticed), then read the digest from RepoDigests. When the registry cannot be reached the
// local copy's digest is used; when there is neither, the build cannot be described and fails.
import type Docker from 'dockerode';
import { followStream } from '../engine/index.ts';
import type { Credentials } from '../registry/auth.ts';
import { CREDENTIALS_HINT, type FoundCredentials } from '../registry/credentials.ts';
import { RegistryClient } from '../registry/client.ts';
import { isIndexType, manifestMediaType, zImageIndex } from '../registry/media.ts';
import { parseImageRef } from '../registry/ref.ts';

export interface ResolvedBase {
  ref: string;
  digest: string;
  /** True when the registry could not be asked and the local image's digest was used. */
  local: boolean;
}

/** `host/repo:tag@sha256:…` → `host/repo` (a colon before the last '/' is a port). */
export function repositoryOf(ref: string): string {
  const noDigest = ref.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/**
 * `platform` (linux/<arch>) pulls that platform's image of a multi-arch base. `credentials` (found by
 * publisher/registry/credentials.ts) go to the engine as the pull's registry auth (X-Registry-Auth, over
 * its socket) and to the registry client that reads the index.
 */
export async function resolveBaseDigest(
  engine: Docker,
  ref: string,
  platform?: string,
  found?: FoundCredentials,
): Promise<ResolvedBase> {
  const credentials = found?.credentials;
  let pullError: string | undefined;
  try {
    const authconfig = credentials
      ? { ...credentials, serveraddress: parseImageRef(ref).registry }
      : undefined;
    const s = (await engine.pull(ref, {
      ...(platform ? { platform } : {}),
      ...(authconfig ? { authconfig } : {}),
    })) as NodeJS.ReadableStream;
    const events = await followStream<{ error?: string }>(engine, s);
    const failed = events.find((e) => e.error);
    if (failed) pullError = failed.error;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // An engine that cannot be reached at all is not a "registry down" case: report it as it is.
    if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT' || err.code === 'EACCES') throw e;
    pullError = err.message;
  }
  let info: Docker.ImageInspectInfo;
  try {
    info = await engine.getImage(ref).inspect();
  } catch (e) {
    const why = pullError ?? (e as Error).message;
    const refused = /unauthorized|authentication required|denied|\b401\b|\b403\b/i.test(why);
    const hint = !refused
      ? ''
      : found
        ? `; the credentials from ${found.from} were refused`
        : `; no registry credentials are configured for it (${CREDENTIALS_HINT})`;
    throw new Error(`base image ${ref} cannot be pulled (${why}) and is not present locally${hint}`);
  }
  // A multi-arch base: the engine lists the index digest and the arch's own manifest digest in
  // RepoDigests, in no fixed order; the arch's own digest (from the index) is what changes with it alone.
  if (platform && pullError === undefined) {
    const own = await platformManifestDigest(ref, platform, credentials);
    if (own) return { ref, digest: own, local: false };
  }
  const repo = repositoryOf(ref);
  const fromRepo = (info.RepoDigests ?? []).find((d) => d.startsWith(`${repo}@sha256:`));
  const digest = fromRepo ? fromRepo.slice(repo.length + 1) : undefined;
  if (digest) return { ref, digest, local: pullError !== undefined };
  // A local-only image (never pulled or pushed): its image id is still a content digest.
  const id = info.Id.startsWith('sha256:') ? info.Id : `sha256:${info.Id}`;
  return { ref, digest: id, local: true };
}

/**
 * The digest of `platform`'s manifest (linux/<arch>[/<variant>]) when the registry serves `ref` as an
 * image index; undefined when it is a single image or the registry cannot be asked.
 */
async function platformManifestDigest(
  ref: string,
  platform: string,
  credentials: Credentials | undefined,
): Promise<string | undefined> {
  try {
    const r = parseImageRef(ref);
    const host = r.registry.replace(/:[0-9]+$/, '');
    const client = new RegistryClient({
      registry: r.registry,
      insecure: host === 'localhost' || /^127\./.test(host),
      retry: { retries: 1 },
      timeoutMs: 15_000,
      ...(credentials ? { credentials } : {}),
    });
    const m = await client.getManifest(r.repository, r.digest ?? r.tag ?? 'latest');
    if (!m) return undefined;
    const doc = JSON.parse(m.bytes.toString('utf8')) as unknown;
    if (!isIndexType(manifestMediaType(doc))) return undefined;
    const idx = zImageIndex.parse(doc);
    const [os, arch, variant] = platform.split('/');
    return idx.manifests.find(
      (d) =>
        d.platform?.os === os &&
        d.platform?.architecture === arch &&
        (!variant || d.platform?.variant === variant),
    )?.digest;
  } catch {
    return undefined;
  }
}
