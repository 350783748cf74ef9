// The semver scheme, on the `semver` package: strict versions first, then loose parsing ("=v1.2.3"),
// then coercion ("1.2" → 1.2.0, "1.2.3.4" → 1.2.3) keeping any pre-release tag.
import semver from 'semver';
import { sign, type Cmp, type VersionScheme } from './scheme.ts';

const cache = new Map<string, semver.SemVer | null>();

export function toSemver(v: string): semver.SemVer | null {
  const hit = cache.get(v);
  if (hit !== undefined) return hit;
  const parsed =
    semver.parse(v, { loose: true }) ?? semver.coerce(v, { loose: true, includePrerelease: true }) ?? null;
  if (cache.size > 50_000) cache.clear();
  cache.set(v, parsed);
  return parsed;
}

export const semverScheme: VersionScheme = {
  name: 'semver',
  isValid: (v) => toSemver(v) !== null,
  compare(a, b): Cmp {
    const x = toSemver(a);
    const y = toSemver(b);
    if (!x || !y) return x ? 1 : y ? -1 : sign(a.localeCompare(b));
    // Coercion can map two strings onto one version (1.2 and 1.2.0): they then compare equal.
    return semver.compare(x, y);
  },
  isPrerelease: (v) => (toSemver(v)?.prerelease.length ?? 0) > 0,
  inLine(v, line) {
    const range = semver.validRange(line, { loose: true });
    const parsed = toSemver(v);
    if (!range || !parsed) return undefined;
    return semver.satisfies(parsed, range, { includePrerelease: true, loose: true });
  },
};
