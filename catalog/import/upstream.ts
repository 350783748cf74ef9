// openEuler's Anitya-style upstream fields (backend, version_url, version_scheme, version_prefix,
// version_filter) → Wharf's upstream policy. Spelling variants are folded (GitHub/Github/github,
// semantic/Semantic/semver); what cannot be mapped is reported and the original fields are kept.
import type { Upstream } from '../schema.ts';

export interface RawUpstream {
  backend?: string;
  version_url?: string;
  version_scheme?: string;
  version_prefix?: string;
  version_filter?: string;
}

export interface UpstreamMapping {
  upstream?: Upstream;
  /** Notes on what had to be folded or guessed, one per quirk (field → message). */
  notes: { field: string; message: string }[];
}

const SCHEMES: Record<string, Upstream['scheme']> = {
  rpm: 'rpm',
  pep440: 'pep440',
  semantic: 'semver',
  semver: 'semver',
  calendar: 'calendar',
  year: 'calendar',
  custom: 'loose',
  loose: 'loose',
};

// Anitya's own spellings: folded silently. Other spellings (Github, github, semver, year…) are reported.
const ANITYA_BACKENDS = ['GitHub', 'GitLab', 'Gitee'];
const ANITYA_SCHEMES = ['RPM', 'Semantic', 'Calendar', 'PEP440'];

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const FORGE_URL =
  /^https?:\/\/(github\.com|gitlab\.com|gitee\.com)\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?(?:\/.*)?$/;
const OWNER_REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

function isUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

export function mapUpstream(raw: RawUpstream): UpstreamMapping {
  const notes: UpstreamMapping['notes'] = [];
  const original: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string' && v.trim()) original[k] = v.trim();
  const backendRaw = original.backend ?? '';
  const url = original.version_url ?? '';
  if (!backendRaw && !url) return { notes };

  const schemeRaw = original.version_scheme ?? '';
  let scheme: Upstream['scheme'] = 'loose';
  if (schemeRaw) {
    const s = SCHEMES[schemeRaw.toLowerCase()];
    if (s) {
      scheme = s;
      if (!ANITYA_SCHEMES.includes(schemeRaw))
        notes.push({ field: 'version_scheme', message: `version_scheme "${schemeRaw}" read as ${s}` });
    } else
      notes.push({ field: 'version_scheme', message: `unknown version_scheme "${schemeRaw}"; using loose` });
  }
  const prefixes = original.version_prefix ? [original.version_prefix] : undefined;
  const exclude = original.version_filter
    ? original.version_filter
        .split(';')
        .map((s) => s.trim())
        .filter(Boolean)
        .map(escapeRegex)
    : undefined;
  const policy = {
    scheme,
    ...(prefixes ? { prefixes } : {}),
    ...(exclude?.length ? { exclude } : {}),
    original,
  };

  const b = backendRaw.toLowerCase();
  const forge = FORGE_URL.exec(url);
  if (b === 'github' || b === 'gitlab' || b === 'gitee') {
    if (!ANITYA_BACKENDS.includes(backendRaw))
      notes.push({ field: 'backend', message: `backend "${backendRaw}" read as ${b}` });
    const repo = forge ? `${forge[2]}/${forge[3]}` : url;
    if (!OWNER_REPO.test(repo)) {
      notes.push({ field: 'version_url', message: `"${url}" is not an owner/name for ${b}` });
      return { notes };
    }
    return { upstream: { backend: b, repo, ...policy }, notes };
  }
  // Anitya "custom" (and named projects such as "GNU project"): a page to scrape. Forge URLs are
  // recognised as the forge; raw JSON files become http-json; anything else needs a regex later.
  if (forge && forge[1] !== 'raw.githubusercontent.com') {
    const fb = forge[1]!.split('.')[0] as 'github' | 'gitlab' | 'gitee';
    notes.push({ field: 'backend', message: `backend "${backendRaw}" with a ${fb} URL read as ${fb}` });
    return { upstream: { backend: fb, repo: `${forge[2]}/${forge[3]}`, ...policy }, notes };
  }
  if (!isUrl(url)) {
    notes.push({ field: 'backend', message: `backend "${backendRaw}" without a usable version_url` });
    return { notes };
  }
  if (/\.json(?:$|\?)/.test(url)) {
    notes.push({ field: 'backend', message: `backend "${backendRaw}" read as http-json ($.version)` });
    return { upstream: { backend: 'http-json', url, jsonPath: '$.version', ...policy }, notes };
  }
  notes.push({
    field: 'backend',
    message: `backend "${backendRaw}" read as http-regex; it needs a version regex before it can be watched`,
  });
  return { upstream: { backend: 'http-regex', url, ...policy }, notes };
}
