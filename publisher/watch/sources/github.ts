// GitHub REST API: releases (drafts skipped, `prerelease` honoured) or, with useTags, tags.
// Pagination by Link header; optional token from GITHUB_TOKEN, sent only to the origin of
// watch.apis.github; base URL from watch.apis.github (or upstream.url) for GitHub Enterprise.
import { z } from 'zod';
import { bindCredentials, nextLink } from '../http.ts';
import {
  defineSource,
  fetchPages,
  type RawRelease,
  repoPath,
  requiredLine,
  type Source,
  upstreamConfig,
} from '../source.ts';

const zReleases = z.array(
  z.looseObject({ tag_name: z.string(), draft: z.boolean().optional(), prerelease: z.boolean().optional() }),
);
const zTags = z.array(z.looseObject({ name: z.string() }));

/** The `upstream:` entry this source reads. */
export const config = upstreamConfig('github', {
  repo: requiredLine('owner/name'),
  useTags: z.boolean().optional(),
});

const github: Source<z.infer<typeof config>> = async (entry, ctx) => {
  const repo = repoPath(entry);
  const base = (entry.url ?? ctx.cfg.apis.github).replace(/\/+$/, '');
  const headers: Record<string, string> = {
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
  };
  const token = ctx.env.GITHUB_TOKEN;
  const credentials = bindCredentials(ctx.cfg.apis.github, {
    headers: { authorization: token && `Bearer ${token}` },
  });
  const next = nextLink;

  if (!entry.useTags) {
    const url = `${base}/repos/${repo}/releases?per_page=100`;
    const rels = await fetchPages(ctx, url, zReleases, { headers, credentials, newestFirst: true, next });
    const out: RawRelease[] = rels
      .filter((r) => !r.draft && r.tag_name)
      .map((r) => ({ version: r.tag_name, prerelease: r.prerelease === true }));
    if (out.length || entry.useTags === false) return out;
    // No releases at all: many projects only tag. Keep no validator for the empty releases page.
    ctx.forget(url);
  }
  const tags = await fetchPages(ctx, `${base}/repos/${repo}/tags?per_page=100`, zTags, {
    headers,
    credentials,
    newestFirst: false,
    next,
  });
  return tags.map((t) => ({ version: t.name }));
};
export default defineSource('github', config, github);
