// OCI registry tags through the Distribution API (`GET /v2/<name>/tags/list`, Link pagination). The
// reference is parsed and the bearer-token handshake done by the registry client's own code
// (../../registry/ref.ts, ../../registry/auth.ts), with the token request made through the sweep's
// client; tokens are cached for the sweep (in memory only) and sent only to the registry's origin.
// A token realm must be https unless the registry itself is plain http on loopback or configured
// with an http URL in watch.registries. Registry base URLs: watch.registries[host], else upstream.url,
// else https.
import { z } from 'zod';
import {
  AuthError,
  fetchToken,
  httpRealmAllowed,
  parseChallenge,
  type Challenge,
} from '../../registry/auth.ts';
import { parseImageRef, registryBaseUrl, RefError } from '../../registry/ref.ts';
import { bindCredentials, HttpError, nextLink, type BoundCredentials } from '../http.ts';
import {
  defineSource,
  EntryError,
  expectShape,
  requiredLine,
  type Source,
  type SourceContext,
  upstreamConfig,
} from '../source.ts';

const zTags = z.looseObject({ tags: z.array(z.string()).nullable().optional() });

function repository(repo: string): { host: string; name: string } {
  try {
    const ref = parseImageRef(repo);
    if (ref.tag || ref.digest) throw new RefError('names a tag or digest; give the repository only');
    return { host: ref.registry, name: ref.repository };
  } catch (e) {
    if (!(e instanceof RefError)) throw e;
    throw new EntryError('repo', `${JSON.stringify(repo)} is not an OCI repository name: ${e.message}`);
  }
}

async function bearer(ctx: SourceContext, ch: Challenge, scope: string, allowHttp: boolean): Promise<string> {
  const scopes = [...new Set([scope, ...(ch.params.scope?.split(' ').filter(Boolean) ?? [])])];
  const key = `oci-token ${ch.params.realm} ${ch.params.service ?? ''} ${scopes.join(' ')}`;
  return ctx.memo(key, async () => {
    try {
      const t = await fetchToken(ch, scopes, undefined, {
        timeoutMs: ctx.cfg.timeoutMs,
        allowHttp,
        transport: (url, headers, credentials) =>
          ctx.get(url.toString(), { headers, credentials, allowStatus: [401, 403] }),
      });
      return t.token;
    } catch (e) {
      if (e instanceof AuthError) throw new HttpError(ch.params.realm ?? '', e.message);
      throw e;
    }
  });
}

/** The `upstream:` entry this source reads. */
export const config = upstreamConfig('oci', { repo: requiredLine('registry/namespace/name') });

const oci: Source<z.infer<typeof config>> = async (entry, ctx) => {
  if (!entry.repo) throw new EntryError('repo', 'required (registry/namespace/name)');
  const { host, name } = repository(entry.repo);
  const configured = ctx.cfg.registries[host];
  const base = (configured ?? entry.url ?? registryBaseUrl(host, false)).replace(/\/+$/, '');
  const allowHttp = httpRealmAllowed(base, configured !== undefined);
  const headers: Record<string, string> = { accept: 'application/json' };
  let credentials: BoundCredentials | undefined;
  const tags: string[] = [];
  let url: string | undefined = `${base}/v2/${name}/tags/list?n=1000`;
  for (let page = 1; url && page <= ctx.cfg.maxPages; page++) {
    let res = await ctx.get(url, { headers, credentials, allowStatus: [401], conditional: page === 1 });
    if (res.status === 401) {
      const ch = parseChallenge(res.headers['www-authenticate']);
      if (ch?.scheme !== 'bearer') throw new HttpError(url, 'HTTP 401 without a Bearer challenge', 401);
      const token = await bearer(ctx, ch, `repository:${name}:pull`, allowHttp);
      credentials = bindCredentials(base, { headers: { authorization: `Bearer ${token}` } });
      res = await ctx.get(url, { headers, credentials, conditional: page === 1 });
    }
    tags.push(...(expectShape(zTags, res).tags ?? []));
    const next = nextLink(res);
    // Tag lists are sorted by name, not time: only a complete single page is worth a validator.
    if (page === 1 && next) ctx.forget(url);
    url = next;
  }
  return tags.map((t) => ({ version: t }));
};
export default defineSource('oci', config, oci);
