// The rpm scheme: [epoch:]version[-release], ordered like rpm's rpmvercmp (lib/rpmvercmp.c):
// alternating numeric and alphabetic segments, separators ignored, numeric beats alphabetic,
// leading zeros ignored, '~' sorts before anything (pre-release), '^' after the base but before
// anything else appended (post-release snapshot).
import { PRERELEASE_RE, type Cmp, type VersionScheme } from './scheme.ts';

const isDigit = (c: string) => c >= '0' && c <= '9';
const isAlpha = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isAlnum = (c: string) => isDigit(c) || isAlpha(c);

/** rpmvercmp on one field (version or release). */
export function rpmvercmp(a: string, b: string): Cmp {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a[i]!) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !isAlnum(b[j]!) && b[j] !== '~' && b[j] !== '^') j++;
    const ca = a[i] ?? '';
    const cb = b[j] ?? '';
    // Tilde: sorts before everything, even the end of the string.
    if (ca === '~' || cb === '~') {
      if (ca !== '~') return 1;
      if (cb !== '~') return -1;
      i++;
      j++;
      continue;
    }
    // Caret: like tilde, but the end of the string sorts before it.
    if (ca === '^' || cb === '^') {
      if (ca === '') return -1;
      if (cb === '') return 1;
      if (ca !== '^') return 1;
      if (cb !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === '' || cb === '') break;
    const si = i;
    const sj = j;
    const numeric = isDigit(ca);
    const take = numeric ? isDigit : isAlpha;
    while (i < a.length && take(a[i]!)) i++;
    while (j < b.length && take(b[j]!)) j++;
    // The other side has a segment of the other type: numeric is newer than alphabetic.
    if (j === sj) return numeric ? 1 : -1;
    let sa = a.slice(si, i);
    let sb = b.slice(sj, j);
    if (numeric) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i < a.length ? 1 : -1;
}

export interface Evr {
  epoch: number;
  version: string;
  release?: string;
}

export function parseEvr(s: string): Evr {
  let rest = s;
  let epoch = 0;
  const m = /^(\d+):/.exec(rest);
  if (m) {
    epoch = Number(m[1]);
    rest = rest.slice(m[0].length);
  }
  const dash = rest.lastIndexOf('-');
  return dash > 0
    ? { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) }
    : { epoch, version: rest };
}

/** Compare epoch, then version, then release; a missing release matches any (rpm's dependency rule). */
export function compareEvr(a: string, b: string): Cmp {
  const x = parseEvr(a);
  const y = parseEvr(b);
  if (x.epoch !== y.epoch) return x.epoch < y.epoch ? -1 : 1;
  const v = rpmvercmp(x.version, y.version);
  if (v !== 0 || x.release === undefined || y.release === undefined) return v;
  return rpmvercmp(x.release, y.release);
}

function isEvrShape(e: Evr, raw: string): boolean {
  if (!e.version) return false;
  if (e.release === '' || (e.release === undefined && raw.endsWith('-'))) return false;
  return !/^\d*:$/.test(raw);
}

export const rpmScheme: VersionScheme = {
  name: 'rpm',
  // rpmvercmp orders any string (rpm's own table compares "a+", "_" and "+a"): only what cannot be an
  // EVR at all is refused (empty, whitespace or control characters, an empty version or release).
  isValid: (v) => v.length > 0 && v.length <= 256 && !/[\s\p{Cc}]/u.test(v) && isEvrShape(parseEvr(v), v),
  compare: compareEvr,
  isPrerelease: (v) => parseEvr(v).version.includes('~') || PRERELEASE_RE.test(parseEvr(v).version),
};
