// GitLab REST API v4: releases (upcoming releases are pre-releases) or, with useTags, tags ordered by
// last update. The project is the URL-encoded path (group/subgroup/name). Pagination by Link header
// (GitLab also sends X-Next-Page). Optional token from GITLAB_TOKEN as PRIVATE-TOKEN, sent only to the
// origin of watch.apis.gitlab.
import { z } from 'zod';
import { bindCredentials, nextLink, type HttpResponse } from '../http.ts';
import { defineSource, fetchPages, repoPath, requiredLine, type Source, upstreamConfig } from '../source.ts';

const zReleases = z.array(z.looseObject({ tag_name: z.string(), upcoming_release: z.boolean().optional() }));
const zTags = z.array(z.looseObject({ name: z.string() }));

function next(res: HttpResponse): string | undefined {
  const link = nextLink(res);
  if (link) return link;
  const page = res.headers['x-next-page'];
  if (!page || !/^\d+$/.test(page)) return undefined;
  const u = new URL(res.url);
  u.searchParams.set('page', page);
  return u.toString();
}

/** The `upstream:` entry this source reads. */
export const config = upstreamConfig('gitlab', {
  repo: requiredLine('group/project'),
  useTags: z.boolean().optional(),
});

const gitlab: Source<z.infer<typeof config>> = async (entry, ctx) => {
  const project = encodeURIComponent(repoPath(entry));
  const base = (entry.url ?? ctx.cfg.apis.gitlab).replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  const credentials = bindCredentials(ctx.cfg.apis.gitlab, {
    headers: { 'private-token': ctx.env.GITLAB_TOKEN },
  });

  if (entry.useTags) {
    const url = `${base}/projects/${project}/repository/tags?per_page=100&order_by=updated&sort=desc`;
    const tags = await fetchPages(ctx, url, zTags, { headers, credentials, newestFirst: true, next });
    return tags.map((t) => ({ version: t.name }));
  }
  const url = `${base}/projects/${project}/releases?per_page=100`;
  const rels = await fetchPages(ctx, url, zReleases, { headers, credentials, newestFirst: true, next });
  return rels.map((r) => ({ version: r.tag_name, prerelease: r.upcoming_release === true }));
};
export default defineSource('gitlab', config, gitlab);
