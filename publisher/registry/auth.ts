// The registry auth handshake (distribution "token authentication"): a 401 carries
// `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; we ask the realm for a token (with Basic
// credentials when we have some) and retry with `Authorization: Bearer <token>`. Registries that answer
// `Basic realm=…` get the credentials directly. Credentials and tokens are never put in messages.
// This is the one handshake: the registry client and the watcher's `oci` source both use it (the
// watcher passes its own transport so the token request runs under its limits).
import { z } from 'zod';
import { bindCredentials, isLoopbackHost, send, type BoundCredentials } from '../net/index.ts';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** Parse one WWW-Authenticate header (we only act on the first challenge). */
export function parseChallenge(header: string | undefined): Challenge | null {
  if (!header) return null;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return null;
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (let p = re.exec(m[2] ?? ''); p; p = re.exec(m[2] ?? '')) {
    params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme, params };
}

export const basicHeader = (c: Credentials): string =>
  `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

const zTokenResponse = z
  .object({
    token: z.string().optional(),
    access_token: z.string().optional(),
    expires_in: z.number().optional(),
  })
  .passthrough();

export class AuthError extends Error {
  override name = 'AuthError';
}

/**
 * May a token realm be plain http? Only when the registry itself is plain http and was configured as
 * such (an `insecure` publish target, an http URL in watch.registries) or is on loopback: an https
 * registry never sends credentials or asks for tokens over http.
 */
export function httpRealmAllowed(registryBase: string, configuredHttp: boolean): boolean {
  const u = new URL(registryBase);
  return u.protocol === 'http:' && (configuredHttp || isLoopbackHost(u.hostname));
}

/** How the token request is made: a GET of `url` with `credentials` bound to the realm's origin. */
export type TokenTransport = (
  url: URL,
  headers: Record<string, string>,
  credentials: BoundCredentials | undefined,
) => Promise<{ status: number; body: Buffer }>;

/** Token documents are small; a realm answering more is not a token service. */
const MAX_TOKEN_BYTES = 1024 * 1024;

/**
 * Ask a token realm for a bearer token covering `scopes`. The realm must be https unless `allowHttp`
 * (the registry itself is a configured insecure or loopback http registry).
 */
export async function fetchToken(
  challenge: Challenge,
  scopes: string[],
  creds: Credentials | undefined,
  opts: { timeoutMs: number; allowHttp: boolean; transport?: TokenTransport },
): Promise<{ token: string; expiresAt: number }> {
  const realm = challenge.params.realm;
  if (!realm) throw new AuthError('registry sent a Bearer challenge without a realm');
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new AuthError(`registry sent an invalid token realm ${JSON.stringify(realm)}`);
  }
  if (url.protocol !== 'https:' && !(opts.allowHttp && url.protocol === 'http:'))
    throw new AuthError(`refusing token realm over ${url.protocol} (${url.host})`);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  for (const s of scopes) url.searchParams.append('scope', s);
  const credentials =
    creds && bindCredentials(url.toString(), { headers: { authorization: basicHeader(creds) } });
  const transport: TokenTransport =
    opts.transport ??
    ((u, headers, c) =>
      send(u, { headers, credentials: c, timeoutMs: opts.timeoutMs, maxBytes: MAX_TOKEN_BYTES }));
  const res = await transport(url, { accept: 'application/json' }, credentials);
  const text = res.body.toString('utf8');
  if (res.status === 401 || res.status === 403)
    throw new AuthError(
      `token service ${url.host} refused ${creds ? 'the credentials' : 'anonymous access'} (HTTP ${res.status})`,
    );
  if (res.status !== 200) throw new AuthError(`token service ${url.host} answered HTTP ${res.status}`);
  let parsed: z.infer<typeof zTokenResponse>;
  try {
    parsed = zTokenResponse.parse(JSON.parse(text));
  } catch {
    throw new AuthError(`token service ${url.host} answered something that is not a token document`);
  }
  const token = parsed.token ?? parsed.access_token;
  if (!token) throw new AuthError(`token service ${url.host} answered without a token`);
  // Refresh a little early; the spec's default lifetime is 60 s.
  const ttl = Math.max(10, (parsed.expires_in ?? 60) - 5);
  return { token, expiresAt: Date.now() + ttl * 1000 };
}
