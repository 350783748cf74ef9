// Credentials bound to an origin (scheme, host and port; RFC 6454). A token configured for
// https://api.github.com is attached to requests for that origin only: never to a pagination link, a
// redirect or a metadata href that points somewhere else. This is what curl (since 7.58), Go's
// net/http and browsers do with Authorization on cross-origin redirects; here it holds for every
// request, not only redirects.

export interface BoundCredentials {
  /** The origin the credentials were configured for, e.g. https://api.github.com. */
  origin: string;
  /** Secret headers (Authorization, PRIVATE-TOKEN). */
  headers?: Record<string, string>;
  /** Secret query parameters (Gitee's access_token), added on the wire only. */
  query?: Record<string, string>;
}

/** Header names that carry credentials: they may only be passed as BoundCredentials. */
export const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'private-token',
  'cookie',
]);

export function originOf(url: string | URL): string {
  return new URL(url).origin;
}

export function sameOrigin(a: string | URL, b: string | URL): boolean {
  return originOf(a) === originOf(b);
}

/** Bind credentials to the origin of `base`; undefined when there are none to send. */
export function bindCredentials(
  base: string,
  creds: { headers?: Record<string, string | undefined>; query?: Record<string, string | undefined> },
): BoundCredentials | undefined {
  const clean = (r?: Record<string, string | undefined>) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(r ?? {})) if (v) out[k] = v;
    return Object.keys(out).length ? out : undefined;
  };
  const headers = clean(creds.headers);
  const query = clean(creds.query);
  if (!headers && !query) return undefined;
  return { origin: originOf(base), ...(headers ? { headers } : {}), ...(query ? { query } : {}) };
}

/** The credentials that may go with a request for `url`: all of them on their origin, none elsewhere. */
export function credentialsFor(
  url: string | URL,
  creds: BoundCredentials | undefined,
): BoundCredentials | undefined {
  return creds && originOf(url) === creds.origin ? creds : undefined;
}

/** True for a loopback host (127.0.0.0/8, ::1, localhost): plain http there is a local test registry. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}
