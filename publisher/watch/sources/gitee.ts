// Gitee API v5 (openEuler's home): releases (`prerelease` honoured) or, with useTags, tags.
// Pagination by `page` with the `total_page` response header. The optional GITEE_TOKEN travels as the
// documented access_token query parameter, added on the wire only (so it never lands in the catalog)
// and only for the origin of watch.apis.gitee.
import { z } from 'zod';
import { bindCredentials, type HttpResponse } from '../http.ts';
import { defineSource, fetchPages, repoPath, requiredLine, type Source, upstreamConfig } from '../source.ts';

const zReleases = z.array(z.looseObject({ tag_name: z.string(), prerelease: z.boolean().optional() }));
const zTags = z.array(z.looseObject({ name: z.string() }));

function next(res: HttpResponse, page: number): string | undefined {
  const total = Number(res.headers.total_page ?? res.headers['total-page']);
  if (!Number.isFinite(total) || page >= total) return undefined;
  const u = new URL(res.url);
  u.searchParams.set('page', String(page + 1));
  return u.toString();
}

/** The `upstream:` entry this source reads. */
export const config = upstreamConfig('gitee', {
  repo: requiredLine('owner/name'),
  useTags: z.boolean().optional(),
});

const gitee: Source<z.infer<typeof config>> = async (entry, ctx) => {
  const repo = repoPath(entry);
  const base = (entry.url ?? ctx.cfg.apis.gitee).replace(/\/+$/, '');
  const common = {
    headers: { accept: 'application/json' },
    credentials: bindCredentials(ctx.cfg.apis.gitee, { query: { access_token: ctx.env.GITEE_TOKEN } }),
    next,
  };
  if (entry.useTags) {
    const tags = await fetchPages(ctx, `${base}/repos/${repo}/tags?page=1&per_page=100`, zTags, {
      ...common,
      newestFirst: false,
    });
    return tags.map((t) => ({ version: t.name }));
  }
  // Gitee lists releases oldest first unless asked; direction=desc keeps page 1 the newest.
  const url = `${base}/repos/${repo}/releases?page=1&per_page=100&direction=desc`;
  const rels = await fetchPages(ctx, url, zReleases, { ...common, newestFirst: true });
  return rels.map((r) => ({ version: r.tag_name, prerelease: r.prerelease === true }));
};
export default defineSource('gitee', config, gitee);
