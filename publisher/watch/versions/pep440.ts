// The pep440 scheme for PyPI upstreams, on Renovate's `@renovatebot/pep440`: epochs, pre-, post- and
// dev-releases, local versions (1.0+cpu) and normalisation (1.0RC1 == 1.0rc1) as PEP 440 defines
// them; release lines may be PEP 440 specifiers (">=2.0,<3", "~=1.4").
import { compare, explain, satisfies, valid, validRange } from '@renovatebot/pep440';
import { sign, type Cmp, type VersionScheme } from './scheme.ts';

export const pep440Scheme: VersionScheme = {
  name: 'pep440',
  isValid: (v) => valid(v) !== null,
  compare: (a, b): Cmp => sign(compare(a, b)),
  isPrerelease: (v) => explain(v)?.is_prerelease ?? false,
  inLine(v, line) {
    if (!validRange(line) || valid(v) === null) return undefined;
    return satisfies(v, line, { prereleases: true });
  },
};
