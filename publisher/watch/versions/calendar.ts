// The calendar scheme (Anitya's "year"/calendar): YYYY.MM[.DD][.N], YY.MM (openEuler's 24.03),
// YYYY-MM-DD, YYYYMMDD, with an optional suffix (rc1, -lts, .post1). Components compare numerically
// from the year down; a release outranks its own pre-release.
import { PRERELEASE_RE, sign, type Cmp, type VersionScheme } from './scheme.ts';

const CAL_RE =
  /^((?:19|20)\d{2}|\d{2})(?:[._-](\d{1,2}))?(?:[._-](\d{1,2}))?((?:[._-]\d+)*)([._~-]?[A-Za-z][A-Za-z0-9._-]*)?$/;
const COMPACT_RE = /^((?:19|20)\d{2})(\d{2})(\d{2})((?:[._-]\d+)*)([._~-]?[A-Za-z][A-Za-z0-9._-]*)?$/;

interface Cal {
  nums: number[];
  suffix: string;
}

function parse(v: string): Cal | null {
  const m = COMPACT_RE.exec(v) ?? CAL_RE.exec(v);
  if (!m) return null;
  let year = Number(m[1]);
  if (m[1]!.length === 2) year += 2000;
  const month = m[2] === undefined ? 0 : Number(m[2]);
  const day = m[3] === undefined ? 0 : Number(m[3]);
  if (month > 12 || day > 31) return null;
  const extra = (m[4] ?? '').split(/[._-]/).filter(Boolean).map(Number);
  return { nums: [year, month, day, ...extra], suffix: (m[5] ?? '').replace(/^[._~-]/, '') };
}

export const calendarScheme: VersionScheme = {
  name: 'calendar',
  isValid: (v) => parse(v) !== null,
  compare(a, b): Cmp {
    const x = parse(a);
    const y = parse(b);
    if (!x || !y) return x ? 1 : y ? -1 : sign(a.localeCompare(b));
    const n = Math.max(x.nums.length, y.nums.length);
    for (let i = 0; i < n; i++) {
      const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
      if (d) return sign(d);
    }
    if (x.suffix === y.suffix) return 0;
    const px = PRERELEASE_RE.test(x.suffix);
    const py = PRERELEASE_RE.test(y.suffix);
    // 24.03 > 24.03-rc1, but 24.03-lts > 24.03 (a non-pre-release suffix is a later variant).
    if (!x.suffix) return py ? 1 : -1;
    if (!y.suffix) return px ? -1 : 1;
    if (px !== py) return px ? -1 : 1;
    return sign(x.suffix.localeCompare(y.suffix, 'en', { numeric: true }));
  },
  isPrerelease: (v) => PRERELEASE_RE.test(parse(v)?.suffix ?? ''),
};
