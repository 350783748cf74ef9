// Forge webhook payloads → one normalised trigger: which repository, and whether it is a tag/release
// (a possible new version) or a branch push (recipes changed). Only the fields Wharf uses are
// validated; everything else in the payload is ignored.
import { z } from 'zod';
import type { Forge, Headers } from './verify.ts';

export interface RepoRef {
  /** owner/name (GitLab: the full namespace path). */
  fullName: string;
  /** Web and clone URLs, as sent. */
  urls: string[];
}

export type TriggerEvent =
  | { kind: 'tag'; forge: Forge; repo: RepoRef; tag: string; prerelease?: boolean }
  | { kind: 'push'; forge: Forge; repo: RepoRef; branch: string; paths: string[] | null }
  | { kind: 'ping'; forge: Forge }
  | { kind: 'ignored'; forge: Forge; reason: string };

export class PayloadError extends Error {
  override name = 'PayloadError';
}

const zUrl = z.string().max(2048).optional().nullable();
const zGithubRepo = z.object({
  full_name: z.string().min(3).max(300),
  html_url: zUrl,
  clone_url: zUrl,
  git_url: zUrl,
  ssh_url: zUrl,
});
const zCommits = z
  .array(
    z.object({
      added: z.array(z.string()).optional(),
      modified: z.array(z.string()).optional(),
      removed: z.array(z.string()).optional(),
    }),
  )
  .optional();
const zGithubPush = z.object({
  ref: z.string().max(500),
  deleted: z.boolean().optional(),
  repository: zGithubRepo,
  commits: zCommits,
});
const zGithubCreate = z.object({ ref: z.string().max(500), ref_type: z.string(), repository: zGithubRepo });
const zGithubRelease = z.object({
  action: z.string(),
  release: z.object({
    tag_name: z.string().max(500),
    prerelease: z.boolean().optional(),
    draft: z.boolean().optional(),
  }),
  repository: zGithubRepo,
});

const zGiteeRepo = z.object({
  full_name: z.string().max(300).optional(),
  path_with_namespace: z.string().max(300).optional(),
  html_url: zUrl,
  url: zUrl,
  git_http_url: zUrl,
  clone_url: zUrl,
});
const zGiteePush = z.object({
  ref: z.string().max(500),
  deleted: z.boolean().optional(),
  after: z.string().optional(),
  repository: zGiteeRepo,
  commits: zCommits.nullable(),
});
const zGiteeRelease = z.object({
  action: z.string().optional(),
  release: z.object({ tag_name: z.string().max(500), prerelease: z.boolean().optional() }),
  repository: zGiteeRepo,
});

const zGitlabProject = z.object({
  path_with_namespace: z.string().min(3).max(300),
  web_url: zUrl,
  git_http_url: zUrl,
  git_ssh_url: zUrl,
  http_url: zUrl,
});
const zGitlabPush = z.object({
  ref: z.string().max(500),
  after: z.string().optional(),
  project: zGitlabProject,
  commits: zCommits,
});
const zGitlabRelease = z.object({
  action: z.string().optional(),
  tag: z.string().max(500),
  project: zGitlabProject,
});

const ZERO = /^0+$/;
const urls = (...u: (string | null | undefined)[]) => u.filter((x): x is string => !!x);

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new PayloadError(`${what}: ${i.path.join('.') || '(root)'}: ${i.message}`);
}

function pushPaths(commits: z.infer<typeof zCommits> | null): string[] | null {
  if (!commits || !commits.length) return null;
  return [
    ...new Set(commits.flatMap((c) => [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])])),
  ];
}

function fromRef(forge: Forge, repo: RepoRef, ref: string, paths: string[] | null): TriggerEvent {
  if (ref.startsWith('refs/tags/')) return { kind: 'tag', forge, repo, tag: ref.slice('refs/tags/'.length) };
  if (ref.startsWith('refs/heads/'))
    return { kind: 'push', forge, repo, branch: ref.slice('refs/heads/'.length), paths };
  return { kind: 'ignored', forge, reason: `unsupported ref ${ref.slice(0, 100)}` };
}

export function header(h: Headers, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Normalise a verified webhook. Throws PayloadError (400) on a payload that does not fit its event. */
export function parseWebhook(forge: Forge, h: Headers, body: unknown): TriggerEvent {
  if (forge === 'github') {
    const ev = header(h, 'x-github-event');
    if (!ev) throw new PayloadError('missing X-GitHub-Event');
    if (ev === 'ping') return { kind: 'ping', forge };
    if (ev === 'push') {
      const p = parse(zGithubPush, body, 'push payload');
      if (p.deleted) return { kind: 'ignored', forge, reason: 'ref deleted' };
      const repo = {
        fullName: p.repository.full_name,
        urls: urls(p.repository.html_url, p.repository.clone_url, p.repository.git_url, p.repository.ssh_url),
      };
      return fromRef(forge, repo, p.ref, pushPaths(p.commits));
    }
    if (ev === 'create') {
      const p = parse(zGithubCreate, body, 'create payload');
      if (p.ref_type !== 'tag') return { kind: 'ignored', forge, reason: `create of a ${p.ref_type}` };
      const repo = {
        fullName: p.repository.full_name,
        urls: urls(p.repository.html_url, p.repository.clone_url),
      };
      return { kind: 'tag', forge, repo, tag: p.ref };
    }
    if (ev === 'release') {
      const p = parse(zGithubRelease, body, 'release payload');
      if (!['published', 'released', 'created'].includes(p.action) || p.release.draft)
        return { kind: 'ignored', forge, reason: `release ${p.action}` };
      const repo = {
        fullName: p.repository.full_name,
        urls: urls(p.repository.html_url, p.repository.clone_url),
      };
      return { kind: 'tag', forge, repo, tag: p.release.tag_name, prerelease: !!p.release.prerelease };
    }
    return { kind: 'ignored', forge, reason: `event ${ev.slice(0, 50)}` };
  }
  if (forge === 'gitee') {
    const ev = header(h, 'x-gitee-event');
    if (!ev) throw new PayloadError('missing X-Gitee-Event');
    const giteeRepo = (r: z.infer<typeof zGiteeRepo>): RepoRef => {
      const fullName = r.full_name ?? r.path_with_namespace;
      if (!fullName) throw new PayloadError('repository.full_name: required');
      return { fullName, urls: urls(r.html_url, r.url, r.git_http_url, r.clone_url) };
    };
    if (ev === 'Push Hook' || ev === 'Tag Push Hook') {
      const p = parse(zGiteePush, body, 'push payload');
      if (p.deleted || (p.after && ZERO.test(p.after)))
        return { kind: 'ignored', forge, reason: 'ref deleted' };
      return fromRef(forge, giteeRepo(p.repository), p.ref, pushPaths(p.commits));
    }
    if (ev === 'Release Hook') {
      const p = parse(zGiteeRelease, body, 'release payload');
      return {
        kind: 'tag',
        forge,
        repo: giteeRepo(p.repository),
        tag: p.release.tag_name,
        prerelease: !!p.release.prerelease,
      };
    }
    return { kind: 'ignored', forge, reason: `event ${ev.slice(0, 50)}` };
  }
  const ev = header(h, 'x-gitlab-event');
  if (!ev) throw new PayloadError('missing X-Gitlab-Event');
  const glRepo = (p: z.infer<typeof zGitlabProject>): RepoRef => ({
    fullName: p.path_with_namespace,
    urls: urls(p.web_url, p.git_http_url, p.git_ssh_url, p.http_url),
  });
  if (ev === 'Push Hook' || ev === 'Tag Push Hook') {
    const p = parse(zGitlabPush, body, 'push payload');
    if (p.after && ZERO.test(p.after)) return { kind: 'ignored', forge, reason: 'ref deleted' };
    return fromRef(forge, glRepo(p.project), p.ref, pushPaths(p.commits));
  }
  if (ev === 'Release Hook') {
    const p = parse(zGitlabRelease, body, 'release payload');
    if (p.action && p.action !== 'create') return { kind: 'ignored', forge, reason: `release ${p.action}` };
    return { kind: 'tag', forge, repo: glRepo(p.project), tag: p.tag };
  }
  return { kind: 'ignored', forge, reason: `event ${ev.slice(0, 50)}` };
}
