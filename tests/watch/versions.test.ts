import { resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { compareEvr, rpmvercmp } from '../../publisher/watch/versions/rpm.ts';
import { getScheme, inLine } from '../../publisher/watch/versions/index.ts';

// rpm's own test table (tests/rpmvercmp.at, RPMVERCMP(a, b, expected)), covering numeric/alpha
// segments, separators, leading zeros, tilde (pre-release) and caret (post-release snapshot).
const RPMVERCMP: [string, string, number][] = [
  ['1.0', '1.0', 0],
  ['1.0', '2.0', -1],
  ['2.0', '1.0', 1],
  ['2.0.1', '2.0.1', 0],
  ['2.0', '2.0.1', -1],
  ['2.0.1', '2.0', 1],
  ['2.0.1a', '2.0.1a', 0],
  ['2.0.1a', '2.0.1', 1],
  ['2.0.1', '2.0.1a', -1],
  ['5.5p1', '5.5p1', 0],
  ['5.5p1', '5.5p2', -1],
  ['5.5p2', '5.5p1', 1],
  ['5.5p10', '5.5p10', 0],
  ['5.5p1', '5.5p10', -1],
  ['5.5p10', '5.5p1', 1],
  ['10xyz', '10.1xyz', -1],
  ['10.1xyz', '10xyz', 1],
  ['xyz10', 'xyz10', 0],
  ['xyz10', 'xyz10.1', -1],
  ['xyz10.1', 'xyz10', 1],
  ['xyz.4', 'xyz.4', 0],
  ['xyz.4', '8', -1],
  ['8', 'xyz.4', 1],
  ['xyz.4', '2', -1],
  ['2', 'xyz.4', 1],
  ['5.5p2', '5.6p1', -1],
  ['5.6p1', '5.5p2', 1],
  ['5.6p1', '6.5p1', -1],
  ['6.5p1', '5.6p1', 1],
  ['6.0.rc1', '6.0', 1],
  ['6.0', '6.0.rc1', -1],
  ['10b2', '10a1', 1],
  ['10a2', '10b2', -1],
  ['1.0aa', '1.0aa', 0],
  ['1.0a', '1.0aa', -1],
  ['1.0aa', '1.0a', 1],
  ['10.0001', '10.0001', 0],
  ['10.0001', '10.1', 0],
  ['10.1', '10.0001', 0],
  ['10.0001', '10.0039', -1],
  ['10.0039', '10.0001', 1],
  ['4.999.9', '5.0', -1],
  ['5.0', '4.999.9', 1],
  ['20101121', '20101121', 0],
  ['20101121', '20101122', -1],
  ['20101122', '20101121', 1],
  ['2_0', '2_0', 0],
  ['2.0', '2_0', 0],
  ['2_0', '2.0', 0],
  ['a', 'a', 0],
  ['a+', 'a+', 0],
  ['a+', 'a_', 0],
  ['a_', 'a+', 0],
  ['+a', '+a', 0],
  ['+a', '_a', 0],
  ['_a', '+a', 0],
  ['+_', '+_', 0],
  ['_+', '+_', 0],
  ['_+', '_', 0],
  ['+', '_', 0],
  ['_', '+', 0],
  ['1.0~rc1', '1.0~rc1', 0],
  ['1.0~rc1', '1.0', -1],
  ['1.0', '1.0~rc1', 1],
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~rc2', '1.0~rc1', 1],
  ['1.0~rc1~git123', '1.0~rc1~git123', 0],
  ['1.0~rc1~git123', '1.0~rc1', -1],
  ['1.0~rc1', '1.0~rc1~git123', 1],
  ['1.0^', '1.0^', 0],
  ['1.0^', '1.0', 1],
  ['1.0', '1.0^', -1],
  ['1.0^git1', '1.0^git1', 0],
  ['1.0^git1', '1.0', 1],
  ['1.0', '1.0^git1', -1],
  ['1.0^git1', '1.0^git2', -1],
  ['1.0^git2', '1.0^git1', 1],
  ['1.0^git1', '1.01', -1],
  ['1.01', '1.0^git1', 1],
  ['1.0^20160101', '1.0^20160101', 0],
  ['1.0^20160101', '1.0.1', -1],
  ['1.0.1', '1.0^20160101', 1],
  ['1.0^20160101^git1', '1.0^20160101^git1', 0],
  ['1.0^20160102', '1.0^20160101^git1', 1],
  ['1.0^20160101^git1', '1.0^20160102', -1],
  ['1.0~rc1^git1', '1.0~rc1^git1', 0],
  ['1.0~rc1^git1', '1.0~rc1', 1],
  ['1.0~rc1', '1.0~rc1^git1', -1],
  ['1.0^git1~pre', '1.0^git1~pre', 0],
  ['1.0^git1', '1.0^git1~pre', 1],
  ['1.0^git1~pre', '1.0^git1', -1],
  // The Fedora/openEuler dist-tag oddities rpm documents: a letter right after the version.
  ['1b.fc17', '1b.fc17', 0],
  ['1b.fc17', '1.fc17', -1],
  ['1.fc17', '1b.fc17', 1],
  ['1g.fc17', '1g.fc17', 0],
  ['1g.fc17', '1.fc17', 1],
  ['1.fc17', '1g.fc17', -1],
];

// Full EVR ordering (epoch first, then version, then release; a missing release matches any).
const EVR: [string, string, number][] = [
  ['1:1.0', '2.0', 1],
  ['2.0', '1:1.0', -1],
  ['0:1.0', '1.0', 0],
  ['1:1.0', '1:1.0', 0],
  ['2:0.1', '1:9.9', 1],
  ['1.0-1', '1.0-2', -1],
  ['1.0-2.oe2403', '1.0-10.oe2403', -1],
  ['1.0-1', '1.0', 0],
  ['7.2.4-1.oe2403sp1', '7.2.4-1.oe2403', 1],
  ['8.0.2-1', '7.4.1-9', 1],
  ['1:8.0~rc1-1', '1:8.0-1', -1],
  ['1.0^git1-1', '1.0-5', 1],
];

describe('rpm scheme', () => {
  it(`rpmvercmp matches rpm's documented table (${RPMVERCMP.length} pairs)`, () => {
    expect(RPMVERCMP.length).toBeGreaterThanOrEqual(30);
    for (const [a, b, want] of RPMVERCMP) expect([a, b, rpmvercmp(a, b)]).toEqual([a, b, want]);
  });
  it('orders epoch:version-release', () => {
    for (const [a, b, want] of EVR) expect([a, b, compareEvr(a, b)]).toEqual([a, b, want]);
  });
  it('treats tilde versions as pre-releases', () => {
    const s = getScheme('rpm');
    expect(s.isPrerelease('1.0~rc1')).toBe(true);
    expect(s.isPrerelease('1.0^git1')).toBe(false);
    expect(s.isPrerelease('8.6.4')).toBe(false);
    expect(s.isValid('8.6.4')).toBe(true);
  });
  it("accepts every string rpmvercmp orders, digit-free ones included (rpm's own table)", () => {
    const s = getScheme('rpm');
    for (const [a, b] of RPMVERCMP) expect([a, s.isValid(a), b, s.isValid(b)]).toEqual([a, true, b, true]);
    for (const v of ['a+', '_', '+a', 'nodigits', '1:1.0-1', '1.0^git1~pre'])
      expect([v, s.isValid(v)]).toEqual([v, true]);
    expect(s.compare('a+', 'a_')).toBe(0);
    expect(s.compare('_', '+')).toBe(0);
    for (const v of ['', ' ', '1.0 2', '1.0\n', '1.0-', '1:', 'a\0b'])
      expect([v, s.isValid(v)]).toEqual([v, false]);
  });
});

describe('pep440 scheme', () => {
  const s = getScheme('pep440');
  it('accepts PEP 440 versions and refuses others', () => {
    for (const v of ['1.0', '1.0rc1', '1!2.0', '2.0.post1', '1.0.dev3', '1.0+cpu', 'v1.2', '1.0RC1'])
      expect([v, s.isValid(v)]).toEqual([v, true]);
    for (const v of ['', 'latest', '1.0-beta-final-x', 'a+']) expect([v, s.isValid(v)]).toEqual([v, false]);
  });
  it('orders dev < pre < release < post, epochs first, normalised spellings equal', () => {
    const order = ['1.0.dev1', '1.0a1', '1.0b2', '1.0rc1', '1.0', '1.0+local', '1.0.post1', '1.1', '1!0.1'];
    for (let i = 1; i < order.length; i++)
      expect([order[i - 1], order[i], s.compare(order[i - 1]!, order[i]!)]).toEqual([
        order[i - 1],
        order[i],
        -1,
      ]);
    expect(s.compare('1.0RC1', '1.0rc1')).toBe(0);
    expect(s.compare('2.0', '2.0.0')).toBe(0);
    expect(s.isPrerelease('2.0rc1')).toBe(true);
    expect(s.isPrerelease('2.0.dev1')).toBe(true);
    expect(s.isPrerelease('2.0.post1')).toBe(false);
  });
  it('matches release lines as PEP 440 specifiers, else falls back', () => {
    expect(inLine(s, '2.4.1', '>=2.0,<3')).toBe(true);
    expect(inLine(s, '3.0', '>=2.0,<3')).toBe(false);
    expect(inLine(s, '1.4.5', '~=1.4')).toBe(true);
    expect(inLine(s, '2.4.1', '2.x')).toBe(true);
  });
});

describe('semver scheme', () => {
  const s = getScheme('semver');
  it('parses strict, loose and coerced versions', () => {
    expect(s.isValid('1.2.3')).toBe(true);
    expect(s.isValid('=v1.2.3')).toBe(true);
    expect(s.isValid('1.2')).toBe(true);
    expect(s.isValid('7.4.1.2')).toBe(true);
    expect(s.isValid('banana')).toBe(false);
  });
  it('orders with pre-releases before releases', () => {
    const cases: [string, string, number][] = [
      ['1.2.3', '1.2.4', -1],
      ['1.10.0', '1.9.9', 1],
      ['2.0.0-rc.1', '2.0.0', -1],
      ['2.0.0-alpha', '2.0.0-beta', -1],
      ['1.2', '1.2.0', 0],
      ['1.0.0+build5', '1.0.0', 0],
    ];
    for (const [a, b, want] of cases) expect([a, b, s.compare(a, b)]).toEqual([a, b, want]);
    expect(s.isPrerelease('2.0.0-rc.1')).toBe(true);
    expect(s.isPrerelease('2.0.0-rc1')).toBe(true);
    expect(s.isPrerelease('2.0.0')).toBe(false);
  });
  it('matches release lines as semver ranges', () => {
    expect(inLine(s, '1.4.2', '1.x')).toBe(true);
    expect(inLine(s, '2.0.1', '1.x')).toBe(false);
    expect(inLine(s, '2.4.7', '~2.4')).toBe(true);
  });
});

describe('calendar scheme', () => {
  const s = getScheme('calendar');
  it('accepts calendar forms and rejects others', () => {
    for (const v of ['2024.01', '24.03', '2024.10.15', '2024-05-01', '20240101', '2023.12.1.3', '24.03-rc1'])
      expect([v, s.isValid(v)]).toEqual([v, true]);
    for (const v of ['1.2.3.x!', 'v2024', '2024.13', 'latest']) expect([v, s.isValid(v)]).toEqual([v, false]);
  });
  it('orders by year, month, day, then extra fields', () => {
    const cases: [string, string, number][] = [
      ['2024.01', '2023.12', 1],
      ['24.03', '23.09', 1],
      ['24.03', '2024.03', 0],
      ['2024.10.15', '2024.9.30', 1],
      ['20240101', '2023.12.31', 1],
      ['2023.12.1.3', '2023.12.1.10', -1],
      ['24.03-rc1', '24.03', -1],
      ['24.03', '24.03-rc1', 1],
    ];
    for (const [a, b, want] of cases) expect([a, b, s.compare(a, b)]).toEqual([a, b, want]);
    expect(s.isPrerelease('24.03-rc1')).toBe(true);
  });
});

describe('loose scheme', () => {
  const s = getScheme('loose');
  it('orders mixed versions naturally', () => {
    const cases: [string, string, number][] = [
      ['1.10', '1.9', 1],
      ['1.0rc1', '1.0', -1],
      ['1.0', '1.0a', -1],
      ['1.0.1', '1.0a', 1],
      ['2.0-beta2', '2.0-beta10', -1],
      ['R2024b', 'R2024a', 1],
      ['1_2_3', '1.2.3', 0],
    ];
    for (const [a, b, want] of cases) expect([a, b, s.compare(a, b)]).toEqual([a, b, want]);
    expect(s.isValid('no-digits')).toBe(false);
    expect(s.isPrerelease('3.0.0-beta1')).toBe(true);
  });
  it('uses wildcard and regex lines for schemes without ranges', () => {
    expect(inLine(s, '1.4.2', '1.x')).toBe(true);
    expect(inLine(s, '10.4.2', '1.x')).toBe(false);
    expect(inLine(s, '2.4.1', '2.4.*')).toBe(true);
    expect(inLine(s, '3.1', '^3\\.')).toBe(true);
  });
});

describe('wharf version compare', () => {
  const ROOT = resolve(import.meta.dirname, '../..');
  const compare = (a: string, b: string, scheme: string) =>
    execa('node', ['scripts/wharf.mjs', 'version', 'compare', a, b, '--scheme', scheme], {
      cwd: ROOT,
      reject: false,
    });
  it('compares with --scheme pep440, and rpm on digit-free strings', async () => {
    const runs = await Promise.all([
      compare('1.0rc1', '1.0', 'pep440'),
      compare('1!0.1', '2.0.post1', 'pep440'),
      compare('a+', 'a_', 'rpm'),
      compare('_', '+', 'rpm'),
      compare('latest', '1.0', 'pep440'),
    ]);
    expect(runs.map((r) => [r.exitCode, r.stdout.trim()])).toEqual([
      [0, '-1'],
      [0, '1'],
      [0, '0'],
      [0, '0'],
      [2, ''],
    ]);
    expect(runs[4]!.stderr).toMatch(/"latest" is not a pep440 version/);
  });
});
