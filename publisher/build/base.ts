// Resolve a base image reference to a content digest, through the engine: pull it (so a new base
// release is noticed), then read the digest from RepoDigests. When the registry cannot be reached the
// local copy's digest is used; when there is neither, the build cannot be described and fails.
import type Docker from 'dockerode';
import { followStream } from '../engine/index.ts';

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

/** `platform` (linux/<arch>) pulls that platform's image of a multi-arch base. */
export async function resolveBaseDigest(
  engine: Docker,
  ref: string,
  platform?: string,
): Promise<ResolvedBase> {
  let pullError: string | undefined;
  try {
    const s = (await engine.pull(ref, platform ? { platform } : {})) as NodeJS.ReadableStream;
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
    throw new Error(
      `base image ${ref} cannot be pulled (${pullError ?? (e as Error).message}) and is not present locally`,
    );
  }
  const repo = repositoryOf(ref);
  const fromRepo = (info.RepoDigests ?? []).find((d) => d.startsWith(`${repo}@sha256:`));
  const digest = fromRepo ? fromRepo.slice(repo.length + 1) : undefined;
  if (digest) return { ref, digest, local: pullError !== undefined };
  // A local-only image (never pulled or pushed): its image id is still a content digest.
  const id = info.Id.startsWith('sha256:') ? info.Id : `sha256:${info.Id}`;
  return { ref, digest: id, local: true };
}
