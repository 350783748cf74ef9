// The loose scheme: anything with a digit. Versions are split into numeric and alphabetic runs and
// compared run by run (numbers numerically); a pre-release word (rc, beta, …) sorts before the end of
// the version, other words after it, so 1.0rc1 < 1.0 < 1.0a < 1.0.1. Upstreams with odd tag formats
// pick the version out of the tag with the entry's `regex` before this scheme sees it.
import { PRERELEASE_RE, sign, type Cmp, type VersionScheme } from './scheme.ts';

const PRE_WORD = /^(?:alpha|beta|rc|pre|preview|dev|snapshot|nightly|canary)$/i;
/** Single letters mean a pre-release only when a number follows (1.0a1, 2.0b3); 1.0.2a is a patch. */
const PRE_LETTER = /^[abcm]$/i;

type Token = number | { word: string; pre: boolean };

function tokens(v: string): Token[] {
  const raw = v.match(/\d+|[A-Za-z]+/g) ?? [];
  return raw.map((t, i) =>
    /^\d/.test(t)
      ? Number(t)
      : {
          word: t.toLowerCase(),
          pre: PRE_WORD.test(t) || (PRE_LETTER.test(t) && /^\d/.test(raw[i + 1] ?? '')),
        },
  );
}

export const looseScheme: VersionScheme = {
  name: 'loose',
  isValid: (v) => /\d/.test(v),
  compare(a, b): Cmp {
    const x = tokens(a);
    const y = tokens(b);
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      const p = x[i];
      const q = y[i];
      if (p === undefined) return typeof q === 'object' && q.pre ? 1 : -1;
      if (q === undefined) return typeof p === 'object' && p.pre ? -1 : 1;
      if (typeof p === 'number' && typeof q === 'number') {
        if (p !== q) return sign(p - q);
        continue;
      }
      if (typeof p === 'number') return 1;
      if (typeof q === 'number') return -1;
      if (p.word === q.word) continue;
      if (p.pre !== q.pre) return p.pre ? -1 : 1;
      return sign(p.word.localeCompare(q.word));
    }
    return 0;
  },
  isPrerelease: (v) => PRERELEASE_RE.test(v),
};
