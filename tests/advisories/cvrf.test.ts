// The CVRF parser on openEuler's real advisories, and on hostile or broken documents; index.txt lines.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CvrfError, parseCvrf } from '../../publisher/advisories/cvrf.ts';
import { feedBase, parseIndexTxt } from '../../publisher/advisories/feed.ts';
import { cvrfDir } from './helpers.ts';

let dir: string;
const doc = (p: string) => readFile(join(dir, p), 'utf8');
beforeAll(async () => {
  dir = await cvrfDir();
});

describe('parseCvrf on the real advisories', () => {
  it('golang (SA-2024-1488): six releases, fixed RPMs per arch including noarch and src', async () => {
    const { advisory: a, warnings } = parseCvrf(await doc('2024/cvrf-openEuler-SA-2024-1488.xml'));
    expect(warnings).toEqual([]);
    expect(a.id).toBe('openEuler-SA-2024-1488');
    expect(a.severity).toBe('HIGH');
    expect(a.cvss).toBe(7.5);
    expect(a.cves).toEqual([
      { id: 'CVE-2023-45288', severity: 'HIGH', cvss: 7.5, vector: 'AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' },
    ]);
    expect(a.releases).toEqual([
      '20.03-LTS-SP1',
      '20.03-LTS-SP4',
      '22.03-LTS',
      '22.03-LTS-SP1',
      '22.03-LTS-SP2',
      '22.03-LTS-SP3',
    ]);
    const sp2 = a.fixed.filter(([r]) => r === '22.03-LTS-SP2');
    expect(sp2).toEqual(
      expect.arrayContaining([
        ['22.03-LTS-SP2', 'aarch64', 'golang', '1.17.3-32.oe2203sp2'],
        ['22.03-LTS-SP2', 'x86_64', 'golang', '1.17.3-32.oe2203sp2'],
        ['22.03-LTS-SP2', 'noarch', 'golang-devel', '1.17.3-32.oe2203sp2'],
        ['22.03-LTS-SP2', 'src', 'golang', '1.17.3-32.oe2203sp2'],
      ]),
    );
    expect(sp2).toHaveLength(5);
    expect(a.released).toBe('2024-04-19');
  });

  it('kernel (SA-2024-1349): nine CVEs, arch branches aarch64, x86_64 and src', async () => {
    const { advisory: a } = parseCvrf(await doc('2024/cvrf-openEuler-SA-2024-1349.xml'));
    expect(a.cves).toHaveLength(9);
    expect(a.severity).toBe('HIGH');
    expect(new Set(a.fixed.map(([, arch]) => arch))).toEqual(new Set(['aarch64', 'x86_64', 'src']));
    expect(a.fixed).toContainEqual(['22.03-LTS-SP2', 'x86_64', 'kernel', '5.10.0-153.48.0.126.oe2203sp2']);
  });

  it('the other three parse, including the one written with line breaks inside tags (SA-2022-1693)', async () => {
    const ws = parseCvrf(await doc('2023/cvrf-openEuler-SA-2023-1374.xml')).advisory;
    expect(ws.cves.map((c) => c.id)).toHaveLength(2);
    expect(ws.severity).toBe('CRITICAL');
    const xs = parseCvrf(await doc('2022/cvrf-openEuler-SA-2022-1693.xml')).advisory;
    expect(xs.releases).toEqual(['20.03-LTS-SP3']);
    expect(xs.fixed).toContainEqual([
      '20.03-LTS-SP3',
      'noarch',
      'python3-XStatic-jquery-ui',
      '1.12.1.1-2.oe1',
    ]);
    const sane = parseCvrf(await doc('2021/cvrf-openEuler-SA-2021-1033.xml')).advisory;
    expect(sane.releases).toEqual(['20.03-LTS', '20.03-LTS-SP1']);
  });
});

describe('parseCvrf refuses hostile and broken documents', () => {
  it('an internal entity (billion laughs) is refused before parsing, never expanded', async () => {
    const real = await doc('2024/cvrf-openEuler-SA-2024-1488.xml');
    const evil = real
      .replace(
        '<cvrfdoc',
        '<!DOCTYPE cvrfdoc [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<cvrfdoc',
      )
      .replace('golang security update</Note>', '&b;</Note>');
    expect(() => parseCvrf(evil, 'evil.xml')).toThrow(CvrfError);
    expect(() => parseCvrf(evil, 'evil.xml')).toThrow(/evil\.xml: line 2: <!DOCTYPE> refused/);
  });

  it('an external entity (XXE) is refused', () => {
    const xxe = `<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<cvrfdoc>&x;</cvrfdoc>`;
    expect(() => parseCvrf(xxe, 'xxe.xml')).toThrow(/<!DOCTYPE> refused/);
  });

  it('an entity reference without a DTD stays text and is not an advisory', () => {
    expect(() => parseCvrf('<cvrfdoc><DocumentTitle>&x;</DocumentTitle></cvrfdoc>', 'x.xml')).toThrow(
      /is not an advisory id/,
    );
  });

  it('a huge attribute is refused', async () => {
    const real = await doc('2024/cvrf-openEuler-SA-2024-1488.xml');
    const big = real.replace('Name="openEuler"', `Name="${'A'.repeat(100_000)}"`);
    expect(() => parseCvrf(big, 'big.xml')).toThrow(/big\.xml: line \d+: attribute value longer than 4096/);
  });

  it('a truncated document is refused with the line', async () => {
    const real = await doc('2024/cvrf-openEuler-SA-2024-1488.xml');
    expect(() => parseCvrf(real.slice(0, 4000), 'cut.xml')).toThrow(/cut\.xml: line \d+: malformed XML/);
  });

  it('a document that is not CVRF, or has no advisory id, is refused', () => {
    expect(() => parseCvrf('<html><body/></html>', 'h.xml')).toThrow(/not a CVRF document/);
    expect(() =>
      parseCvrf(
        '<cvrfdoc><DocumentTracking><Identification><ID>../../x</ID></Identification></DocumentTracking></cvrfdoc>',
        'i.xml',
      ),
    ).toThrow(/is not an advisory id/);
  });
});

describe('index.txt', () => {
  const base = feedBase('https://repo.example/security/data/cvrf');

  it('reads one path a line; two paths run together on one line (the sample index) are split', async () => {
    const { entries, problems } = parseIndexTxt(await doc('index.txt'), base);
    expect(entries.map((e) => e.path).sort()).toEqual([
      '2021/cvrf-openEuler-SA-2021-1033.xml',
      '2022/cvrf-openEuler-SA-2022-1693.xml',
      '2023/cvrf-openEuler-SA-2023-1374.xml',
      '2024/cvrf-openEuler-SA-2024-1349.xml',
      '2024/cvrf-openEuler-SA-2024-1488.xml',
    ]);
    expect(problems.join('\n')).toMatch(/line 4: two paths without a newline/);
  });

  it('refuses lines pointing outside the feed', () => {
    const { entries, problems } = parseIndexTxt(
      [
        '../../../etc/passwd',
        '2024/../../secret.xml',
        'https://evil.example/cvrf/2024/x.xml',
        'http://repo.example/security/data/cvrf/2024/cvrf-openEuler-SA-2024-1.xml',
        '/security/other/2024/x.xml',
        'https://repo.example/security/data/cvrf/2024/cvrf-openEuler-SA-2024-2.xml',
        '2024/cvrf-openEuler-SA-2024-3.xml',
      ].join('\n'),
      base,
    );
    expect(entries.map((e) => e.path)).toEqual([
      '2024/cvrf-openEuler-SA-2024-2.xml',
      '2024/cvrf-openEuler-SA-2024-3.xml',
    ]);
    expect(problems).toHaveLength(5);
    expect(problems[2]).toMatch(/line 3: .*evil\.example.* points outside the feed; refused/);
    expect(problems[3]).toMatch(/line 4: .* points outside the feed/); // http:// is another origin than https://
  });
});
