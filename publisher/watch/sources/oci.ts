// OCI registry tags through the Distribution API (`GET /v2/<name>/tags/list`, Link pagination), with
// the bearer-token handshake: a 401 carries `WWW-Authenticate: Bearer realm=…,service=…,scope=…`, the
// realm answers {token | access_token}, and the request is repeated with it. Tokens are cached for the
// sweep (in memory only). Registry base URLs: watch.registries[host], else upstream.url, else https.
import { z } from 'zod';
import { HttpError, nextLink } from '../http.ts';
import { EntryError, expectShape, type SourceContext, type Source } from '../source.ts';

const zTags = z.looseObject({ tags: z.array(z.string()).nullable().optional() });
const zToken = z.looseObject({ token: z.string().optional(), access_token: z.string().optional() });

function splitRef(repo: string): { host: string; name: string } {
  const parts = repo.split('/');
  const first = parts[0]!;
  const hasHost = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const host = hasHost ? first : 'docker.io';
  let name = hasHost ? parts.slice(1).join('/') : repo;
  if (host === 'docker.io' && !name.includes('/')) name = `library/${name}`;
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(name))
    throw new EntryError('repo', `${JSON.stringify(repo)} is not an OCI repository name`);
  return { host, name };
}

/** Parse `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(h: string): Record<string, string> | undefined {
  const m = /^\s*Bearer\s+(.*)$/i.exec(h);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const p of m[1]!.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) out[p[1]!.toLowerCase()] = p[2]!;
  return out.realm ? out : undefined;
}

async function bearer(ctx: SourceContext, challenge: Record<string, string>): Promise<string> {
  const u = new URL(challenge.realm!);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('token realm must be http(s)');
  if (challenge.service) u.searchParams.set('service', challenge.service);
  if (challenge.scope) u.searchParams.set('scope', challenge.scope);
  return ctx.memo(`oci-token ${u}`, async () => {
    const t = expectShape(zToken, await ctx.get(u.toString()));
    const tok = t.token ?? t.access_token;
    if (!tok) throw new HttpError(u.toString(), 'token endpoint returned no token');
    return tok;
  });
}

const oci: Source = async (entry, ctx) => {
  if (!entry.repo) throw new EntryError('repo', 'required (registry/namespace/name)');
  const { host, name } = splitRef(entry.repo);
  const base = (
    ctx.cfg.registries[host] ??
    entry.url ??
    (host === 'docker.io' ? 'https://registry-1.docker.io' : `https://${host}`)
  ).replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  const tags: string[] = [];
  let url: string | undefined = `${base}/v2/${name}/tags/list?n=1000`;
  for (let page = 1; url && page <= ctx.cfg.maxPages; page++) {
    let res = await ctx.get(url, { headers, allowStatus: [401], conditional: page === 1 });
    if (res.status === 401) {
      const ch = parseChallenge(res.headers['www-authenticate'] ?? '');
      if (!ch) throw new HttpError(url, 'HTTP 401 without a Bearer challenge', 401);
      headers.authorization = `Bearer ${await bearer(ctx, ch)}`;
      res = await ctx.get(url, { headers, conditional: page === 1 });
    }
    tags.push(...(expectShape(zTags, res).tags ?? []));
    const next = nextLink(res);
    // Tag lists are sorted by name, not time: only a complete single page is worth a validator.
    if (page === 1 && next) ctx.forget(url);
    url = next;
  }
  return tags.map((t) => ({ version: t }));
};
export default oci;
