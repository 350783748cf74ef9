// Which catalog apps a webhook's repository stands for. A tag or release on an app's upstream repository
// (app.upstream: forge + owner/name, or a git URL) is a possible new version; a branch push on the recipe
// repository an app came from (app.source.origin) means its recipes changed — narrowed to the apps whose
// recipe directory the pushed commits touched, when the payload lists files.
import type { App } from '../../catalog/schema.ts';
import type { RepoRef } from './payload.ts';
import type { Forge } from './verify.ts';

/** host/path of a web or clone URL (https, ssh, scp-like), lowercased, without .git or trailing slash. */
export function normalizeRepoUrl(u: string): string | null {
  const scp = /^[\w.-]+@([\w.-]+):(.+)$/.exec(u);
  let host: string;
  let path: string;
  if (scp) {
    host = scp[1]!;
    path = scp[2]!;
  } else {
    try {
      const url = new URL(u);
      host = url.host;
      path = url.pathname;
    } catch {
      return null;
    }
  }
  path = path.replace(/\.git$/i, '').replace(/^\/+|\/+$/g, '');
  return path ? `${host}/${path}`.toLowerCase() : null;
}

const OWNER_NAME = /^[\w.-]+(?:\/[\w.-]+)+$/;

export function payloadKeys(forge: Forge, repo: RepoRef): Set<string> {
  const name = repo.fullName.toLowerCase().replace(/\.git$/, '');
  const keys = new Set([`${forge}:${name}`, `*:${name}`]);
  for (const u of repo.urls) {
    const n = normalizeRepoUrl(u);
    if (n) keys.add(n);
  }
  return keys;
}

export function upstreamKeys(app: App): string[] {
  const u = app.upstream;
  if (!u) return [];
  const out: string[] = [];
  if ((u.backend === 'github' || u.backend === 'gitee' || u.backend === 'gitlab') && u.repo)
    out.push(`${u.backend}:${u.repo.toLowerCase().replace(/\.git$/, '')}`);
  for (const x of [u.backend === 'git' ? u.repo : undefined, u.backend !== 'oci' ? u.url : undefined]) {
    const n = x ? normalizeRepoUrl(x) : null;
    if (n) out.push(n);
  }
  return out;
}

export function sourceKeys(app: App): string[] {
  const origin = app.source?.origin;
  if (!origin) return [];
  if (OWNER_NAME.test(origin) && !origin.includes(':')) return [`*:${origin.toLowerCase()}`];
  const n = normalizeRepoUrl(origin);
  return n ? [n] : [];
}

/** Apps whose upstream is this repository. */
export function appsForUpstream(apps: Iterable<App>, forge: Forge, repo: RepoRef): App[] {
  const keys = payloadKeys(forge, repo);
  return [...apps].filter((a) => upstreamKeys(a).some((k) => keys.has(k)));
}

/** Apps built from recipes in this repository (and, when `paths` is known, whose directory was touched). */
export function appsForSource(
  apps: Iterable<App>,
  forge: Forge,
  repo: RepoRef,
  paths: string[] | null,
): App[] {
  const keys = payloadKeys(forge, repo);
  return [...apps].filter((a) => {
    if (!sourceKeys(a).some((k) => keys.has(k))) return false;
    if (!paths) return true;
    const dir = a.source!.dir.replace(/\/+$/, '') + '/';
    return paths.some((p) => p.startsWith(dir));
  });
}
