// Image references: parsing `host[:port]/path/name[:tag][@sha256:…]`, Docker Hub's aliases, and the
// base URL of a registry's HTTP API.
import { TAG_RE } from '../../catalog/names.ts';

export interface ImageRef {
  /** Registry host as written (docker.io for Docker Hub). */
  registry: string;
  /** Repository path inside the registry, e.g. openeuler/redis. */
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export class RefError extends Error {
  override name = 'RefError';
}

/** True when the first path component names a registry (has a dot or a port, or is localhost). */
function looksLikeHost(s: string): boolean {
  return s.includes('.') || s.includes(':') || s === 'localhost';
}

/** Parse an image reference. A reference without a registry host is taken to be on Docker Hub. */
export function parseImageRef(input: string): ImageRef {
  if (!input || input.length > 512 || /\s/.test(input))
    throw new RefError(`invalid image reference ${JSON.stringify(input)}`);
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw new RefError(`invalid digest in ${JSON.stringify(input)}`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw new RefError(`invalid tag in ${JSON.stringify(input)}`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  if (parts.length > 1 && looksLikeHost(parts[0]!)) registry = parts.shift()!;
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  if (parts.length === 0 || !parts.every((p) => COMPONENT_RE.test(p)))
    throw new RefError(`invalid repository in ${JSON.stringify(input)}`);
  if (!/^[a-zA-Z0-9.-]+(?::[0-9]{1,5})?$/.test(registry))
    throw new RefError(`invalid registry host in ${JSON.stringify(input)}`);
  return { registry, repository: parts.join('/'), ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export function formatImageRef(r: ImageRef): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** Is this string an image reference with an explicit registry or digest (as opposed to `app[:tag]`)? */
export function isExplicitImageRef(s: string): boolean {
  return s.includes('/') || s.includes('@');
}

/** The HTTP API base of a registry host: http for insecure (e.g. loopback test) registries. */
export function registryBaseUrl(registry: string, insecure: boolean): string {
  const host = registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
  return `${insecure ? 'http' : 'https'}://${host}`;
}

/** Split a catalog registry target's `host[:port]/namespace` into host and namespace. */
export function splitTargetRepository(repository: string): { registry: string; namespace: string } {
  const i = repository.indexOf('/');
  if (i < 0) return { registry: repository, namespace: '' };
  return { registry: repository.slice(0, i), namespace: repository.slice(i + 1) };
}

/** The `sha256-<hex>` tag prefix cosign derives from a digest. */
export function digestTagPrefix(digest: string): string {
  if (!DIGEST_RE.test(digest)) throw new RefError(`invalid digest ${JSON.stringify(digest)}`);
  return digest.replace(':', '-');
}
