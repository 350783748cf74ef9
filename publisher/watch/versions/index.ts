// Registry of version schemes by name (the catalog's upstream.scheme).
import { calendarScheme } from './calendar.ts';
import { looseScheme } from './loose.ts';
import { pep440Scheme } from './pep440.ts';
import { rpmScheme } from './rpm.ts';
import { semverScheme } from './semver.ts';
import type { VersionScheme } from './scheme.ts';

export type { Cmp, VersionScheme } from './scheme.ts';

export const SCHEMES: Record<string, VersionScheme> = {
  semver: semverScheme,
  rpm: rpmScheme,
  pep440: pep440Scheme,
  calendar: calendarScheme,
  loose: looseScheme,
};

export function getScheme(name: string): VersionScheme {
  const s = SCHEMES[name];
  if (!s)
    throw new Error(
      `unknown version scheme ${JSON.stringify(name)} (one of ${Object.keys(SCHEMES).join(', ')})`,
    );
  return s;
}

/** Whether `v` belongs to release line `line` ("1.x", "2.4.*", a semver range, or a /regex/). */
export function inLine(scheme: VersionScheme, v: string, line: string): boolean {
  const byScheme = scheme.inLine?.(v, line);
  if (byScheme !== undefined) return byScheme;
  const wildcard = /^([0-9A-Za-z._-]*?)[.]?(?:x|X|\*)$/.exec(line);
  if (wildcard) return wildcard[1] === '' || v === wildcard[1] || v.startsWith(`${wildcard[1]}.`);
  try {
    return new RegExp(line).test(v);
  } catch {
    return false;
  }
}
