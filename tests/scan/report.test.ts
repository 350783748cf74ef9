import { describe, expect, it } from 'vitest';
import {
  checkCycloneDx,
  isFixable,
  parseTrivyReport,
  summarizeReport,
  TrivyReportError,
} from '../../publisher/scan/report.ts';
import { readFixture, REPORTS } from './helpers.ts';

type RawVuln = {
  VulnerabilityID: string;
  PkgName: string;
  InstalledVersion: string;
  Severity: string;
  FixedVersion?: string;
  Status?: string;
};

/** Independent reduction over the raw JSON (like `jq '[.Results[].Vulnerabilities[]] | unique_by(…) | group_by(.Severity)'`). */
function independentCounts(raw: string) {
  const doc = JSON.parse(raw) as { Results?: { Vulnerabilities?: RawVuln[] | null }[] };
  const uniq = new Map<string, RawVuln>();
  for (const r of doc.Results ?? [])
    for (const v of r.Vulnerabilities ?? [])
      uniq.set([v.VulnerabilityID, v.PkgName, v.InstalledVersion].join('|'), v);
  const total: Record<string, number> = {};
  const fixable: Record<string, number> = {};
  for (const v of uniq.values()) {
    total[v.Severity] = (total[v.Severity] ?? 0) + 1;
    if (v.FixedVersion || v.Status === 'fixed') fixable[v.Severity] = (fixable[v.Severity] ?? 0) + 1;
  }
  return { total, fixable, n: uniq.size };
}

describe('Trivy report parser', () => {
  for (const name of REPORTS) {
    it(`summarises ${name} exactly as an independent count of the raw JSON`, async () => {
      const raw = await readFixture(name);
      const s = summarizeReport(parseTrivyReport(raw, name));
      const want = independentCounts(raw);
      expect(want.n).toBeGreaterThan(0);
      expect(s.findings).toHaveLength(want.n);
      for (const sev of ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const) {
        expect(s.summary.total[sev], `${name} total ${sev}`).toBe(want.total[sev] ?? 0);
        expect(s.summary.fixable[sev], `${name} fixable ${sev}`).toBe(want.fixable[sev] ?? 0);
      }
      const doc = JSON.parse(raw);
      expect(s.os).toEqual({ family: doc.Metadata.OS.Family, name: doc.Metadata.OS.Name });
      expect(s.artifactName).toBe(doc.ArtifactName);
    });
  }

  it('keeps the details of a finding (centos-7: bash CVE-2019-18276 will_not_fix is not fixable)', async () => {
    const s = summarizeReport(parseTrivyReport(await readFixture('centos-7')));
    const bash = s.findings.find((f) => f.id === 'CVE-2019-18276')!;
    expect(bash).toMatchObject({
      pkg: 'bash',
      installed: '4.2.46-31.el7',
      severity: 'LOW',
      status: 'will_not_fix',
    });
    expect(bash.fixed).toBeUndefined();
    expect(isFixable(bash)).toBe(false);
    const ssl = s.findings.find((f) => f.id === 'CVE-2019-1559')!;
    expect(ssl.fixed).toBe('1:1.0.2k-19.el7');
    expect(ssl.url).toMatch(/^https:\/\//);
    expect(ssl.target).toContain('centos');
  });

  it('deduplicates the same CVE/package/version reported by two targets, keeping the worse severity', async () => {
    const doc = JSON.parse(await readFixture('alpine-310'));
    const first = doc.Results[0].Vulnerabilities[0];
    doc.Results.push({
      Target: 'usr/lib/app/package-lock.json',
      Class: 'lang-pkgs',
      Type: 'npm',
      Vulnerabilities: [{ ...first, Severity: 'HIGH' }],
    });
    const s = summarizeReport(parseTrivyReport(JSON.stringify(doc)));
    expect(s.findings).toHaveLength(independentCounts(await readFixture('alpine-310')).n);
    expect(s.findings.find((f) => f.id === first.VulnerabilityID && f.pkg === first.PkgName)!.severity).toBe(
      'HIGH',
    );
    expect(s.summary.total.HIGH).toBe(1);
  });

  it('tolerates unknown fields, field order, null Vulnerabilities and a missing OS (scratch images)', async () => {
    const doc = JSON.parse(await readFixture('rockylinux-8'));
    const reordered = Object.fromEntries(Object.entries(doc).reverse());
    (reordered as Record<string, unknown>).SomethingNew = { x: 1 };
    delete (reordered.Metadata as Record<string, unknown>).OS;
    (reordered.Results as unknown[]).push({ Target: 'empty', Class: 'lang-pkgs', Vulnerabilities: null });
    const s = summarizeReport(parseTrivyReport(JSON.stringify(reordered)));
    expect(s.os).toBeUndefined();
    expect(s.summary.total.MEDIUM).toBe(1);
  });

  it('rejects other SchemaVersions, the old bare-array format, garbage and broken fields clearly', async () => {
    const doc = JSON.parse(await readFixture('centos-7'));
    expect(() => parseTrivyReport(JSON.stringify({ ...doc, SchemaVersion: 1 }), 'r.json')).toThrow(
      /r\.json: unsupported SchemaVersion 1 \(Wharf reads SchemaVersion 2\)/,
    );
    expect(() => parseTrivyReport(JSON.stringify(doc.Results))).toThrow(/bare array.*SchemaVersion 2/);
    expect(() => parseTrivyReport('INFO Need to update DB\n{"Sche')).toThrow(TrivyReportError);
    expect(() => parseTrivyReport('')).toThrow(/not valid JSON.*empty/);
    const broken = structuredClone(doc);
    delete broken.Results[0].Vulnerabilities[1].PkgName;
    expect(() => parseTrivyReport(JSON.stringify(broken))).toThrow(/Results\.0\.Vulnerabilities\.1\.PkgName/);
  });

  it('checks that the SBOM fixture is CycloneDX and that a report is not', async () => {
    expect(checkCycloneDx(await readFixture('centos-7-sbom.cyclonedx')).components).toBeGreaterThan(0);
    expect(() => checkCycloneDx(JSON.stringify({ SchemaVersion: 2 }))).toThrow(/CycloneDX/);
  });
});
