// Version policy, applied once in the core to every source's raw releases: pick the version out of the
// tag (regex), strip prefixes (configured, openEuler's version_prefix, then `<name>-`, `release-`, `v`),
// include/exclude regexes and openEuler's version_filter substrings, the names.ts safety check, scheme
// validity, pre-releases (skipped unless asked), the ignore list; then order newest first and pick the
// newest version overall and per release line.
import { createHash } from 'node:crypto';
import { isVersion } from '../../catalog/names.ts';
import type { Upstream } from '../../catalog/schema.ts';
import { getScheme, inLine, type VersionScheme } from './versions/index.ts';
import type { RawRelease } from './source.ts';

export interface PolicyResult {
  /** Accepted versions, newest first, without duplicates. */
  versions: string[];
  latest?: string;
  /** Newest version per configured release line (lines with no version are absent). */
  lines: Record<string, string>;
  rejected: { raw: string; reason: string }[];
}

function compileAll(field: string, patterns: string[] | undefined): RegExp[] {
  return (patterns ?? []).map((p) => {
    try {
      return new RegExp(p);
    } catch (e) {
      throw new Error(`upstream.${field}: bad regex ${JSON.stringify(p)}: ${(e as Error).message}`);
    }
  });
}

/** Anitya's semicolon-separated `version_filter` and single `version_prefix` from the imported data. */
function originalStr(entry: Upstream, key: string): string | undefined {
  const v = entry.original?.[key];
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

function stripPrefixes(tag: string, configured: string[], name: string): string {
  let v = tag;
  const own = [...configured].sort((a, b) => b.length - a.length).find((p) => p && v.startsWith(p));
  if (own) v = v.slice(own.length);
  for (const p of [`${name}-`, `${name}_`, 'release-', 'release_', 'rel-', 'version-']) {
    if (v.toLowerCase().startsWith(p.toLowerCase()) && /^[0-9]/.test(v.slice(p.length)))
      v = v.slice(p.length);
  }
  if (/^[vV][0-9]/.test(v)) v = v.slice(1);
  return v;
}

function globToRegExp(g: string): RegExp {
  return new RegExp(`^${g.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

export function sortVersions(scheme: VersionScheme, versions: Iterable<string>): string[] {
  return [...new Set(versions)].sort((a, b) => scheme.compare(b, a) || (a < b ? 1 : a > b ? -1 : 0));
}

export function applyPolicy(entry: Upstream, raws: RawRelease[], appName: string): PolicyResult {
  const scheme = getScheme(entry.scheme);
  const extract =
    entry.regex && entry.backend !== 'http-regex' ? compileAll('regex', [entry.regex])[0] : undefined;
  const include = compileAll('include', entry.include);
  const exclude = compileAll('exclude', entry.exclude);
  const filters = (originalStr(entry, 'version_filter') ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
  const prefixes = [...(entry.prefixes ?? [])];
  const origPrefix = originalStr(entry, 'version_prefix');
  if (origPrefix) prefixes.push(origPrefix);
  const ignore = (entry.ignore ?? []).map(globToRegExp);

  const accepted: string[] = [];
  const rejected: PolicyResult['rejected'] = [];
  for (const raw of raws) {
    const reject = (reason: string) => rejected.push({ raw: raw.version.slice(0, 200), reason });
    let tag = raw.version.trim();
    if (extract) {
      const m = extract.exec(tag);
      if (!m) {
        reject('does not match upstream.regex');
        continue;
      }
      tag = m[1] ?? m[0];
    }
    const v = stripPrefixes(tag, prefixes, appName);
    if (include.length && !include.some((r) => r.test(v))) reject('not included');
    else if (exclude.some((r) => r.test(v))) reject('excluded');
    else if (filters.some((f) => v.includes(f))) reject('matches version_filter');
    else if (!isVersion(v)) reject('not a safe version string');
    else if (!scheme.isValid(v)) reject(`not a ${scheme.name} version`);
    // rpm orders any string (`a+`, `_`), but a tag with no digit at all (stable, latest, master) is a
    // moving pointer, never a release of its own.
    else if (!/[0-9]/.test(v)) reject('no digit: a moving tag, not a release');
    else if (!entry.prerelease && (raw.prerelease || scheme.isPrerelease(v))) reject('pre-release');
    else if (ignore.some((r) => r.test(v))) reject('ignored');
    else accepted.push(v);
  }
  const versions = sortVersions(scheme, accepted);
  const lines: Record<string, string> = {};
  for (const line of entry.lines ?? []) {
    const newest = versions.find((v) => inLine(scheme, v, line));
    if (newest) lines[line] = newest;
  }
  return { versions, latest: versions[0], lines, rejected };
}

/** Fingerprint of everything in the entry that shapes `known`: a change forces unconditional requests. */
export function policyFingerprint(entry: Upstream): string {
  const json = canonicalJson(entry);
  return createHash('sha256').update(json).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted at every level: equal data, equal text. */
export function canonicalJson(v: unknown): string {
  const canon = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(canon)
      : x && typeof x === 'object'
        ? Object.fromEntries(
            Object.entries(x)
              .filter(([, y]) => y !== undefined)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([k, y]) => [k, canon(y)]),
          )
        : x;
  return JSON.stringify(canon(v));
}
