import { describe, expect, it } from 'vitest';
import { zCatalogConfig, type Finding } from '../../catalog/schema.ts';
import {
  evaluatePolicy,
  expiredWaivers,
  notRunPolicy,
  rebuildCandidates,
  waiverExpired,
} from '../../publisher/scan/policy.ts';

const policyOf = (p: Record<string, unknown> = {}) => zCatalogConfig.parse({ scanPolicy: p }).scanPolicy;
const f = (id: string, severity: Finding['severity'], fixed?: string, pkg = 'openssl'): Finding => ({
  id,
  pkg,
  installed: '1.0',
  severity,
  ...(fixed ? { fixed, status: 'fixed' } : { status: 'affected' }),
});
const day = (s: string) => new Date(`${s}T12:00:00Z`);

describe('scan policy', () => {
  const findings = [
    f('CVE-1', 'CRITICAL', '1.1'),
    f('CVE-2', 'CRITICAL'),
    f('CVE-3', 'HIGH', '1.2'),
    f('CVE-4', 'LOW', '1.3'),
  ];

  it('defaults: fixable CRITICAL blocks, unfixable CRITICAL and HIGH do not; requireScan is false', () => {
    const p = policyOf();
    expect(p.requireScan).toBe(false);
    const r = evaluatePolicy(p, 'redis', findings, day('2026-01-01'));
    expect(r.blocked).toBe(true);
    expect(r.reasons).toEqual(['CRITICAL CVE-1 in openssl 1.0 (fixed in 1.1)']);
    expect(
      evaluatePolicy(p, 'redis', [f('CVE-2', 'CRITICAL'), f('CVE-3', 'HIGH', '1.2')], day('2026-01-01'))
        .blocked,
    ).toBe(false);
  });

  it('fixableOnly false and more severities block more', () => {
    const r = evaluatePolicy(
      policyOf({ block: ['CRITICAL', 'HIGH'], fixableOnly: false }),
      'redis',
      findings,
      day('2026-01-01'),
    );
    expect(r.reasons.map((x) => x.split(' ')[1])).toEqual(['CVE-1', 'CVE-2', 'CVE-3']);
    expect(r.reasons[1]).toContain('(no fix yet)');
  });

  it('waivers apply per CVE, optionally per app, through their expiry day, and are reported once expired', () => {
    const p = policyOf({
      waivers: [
        { id: 'CVE-1', expires: '2026-03-31', reason: 'not reachable in this image' },
        { id: 'CVE-3', app: 'nginx', expires: '2027-01-01', reason: 'nginx only' },
      ],
      block: ['CRITICAL', 'HIGH'],
    });
    const before = evaluatePolicy(p, 'redis', findings, day('2026-03-31'));
    expect(before.waived).toEqual(['CVE-1']);
    expect(before.reasons).toEqual(['HIGH CVE-3 in openssl 1.0 (fixed in 1.2)']); // the nginx waiver is not redis's
    expect(before.expiredWaivers).toBeUndefined();
    expect(evaluatePolicy(p, 'nginx', findings, day('2026-03-31'))).toMatchObject({
      blocked: false,
      waived: ['CVE-1', 'CVE-3'],
    });

    const after = evaluatePolicy(p, 'redis', findings, day('2026-04-01'));
    expect(after.blocked).toBe(true);
    expect(after.waived).toEqual([]);
    expect(after.reasons[0]).toContain('CVE-1');
    expect(after.expiredWaivers).toEqual(['CVE-1 (expired 2026-03-31)']);
    expect(waiverExpired(p.waivers[0]!, new Date('2026-03-31T23:59:59Z'))).toBe(false);
    expect(waiverExpired(p.waivers[0]!, new Date('2026-04-01T00:00:00Z'))).toBe(true);
    expect(expiredWaivers(p, day('2026-04-01')).map((w) => w.id)).toEqual(['CVE-1']);
  });

  it('a scan that did not run blocks only with requireScan, and says why', () => {
    expect(notRunPolicy(policyOf(), 'trivy not found')).toEqual({ blocked: false, reasons: [], waived: [] });
    const r = notRunPolicy(policyOf({ requireScan: true }), 'trivy not found');
    expect(r.blocked).toBe(true);
    expect(r.reasons[0]).toMatch(/not scanned.*trivy not found/);
  });

  it('rebuild candidates: fixable, in rebuildOnFixable, not waived', () => {
    const p = policyOf({ waivers: [{ id: 'CVE-3', expires: '2099-01-01', reason: 'x' }] });
    expect(rebuildCandidates(p, 'redis', findings, day('2026-01-01')).map((x) => x.id)).toEqual(['CVE-1']);
    expect(rebuildCandidates(policyOf(), 'redis', findings, day('2026-01-01')).map((x) => x.id)).toEqual([
      'CVE-1',
      'CVE-3',
    ]);
    expect(
      rebuildCandidates(policyOf({ rebuildOnFixable: [] }), 'redis', findings, day('2026-01-01')),
    ).toEqual([]);
  });

  it('old wharf.yml without requireScan still parses (backward compatible)', () => {
    const cfg = zCatalogConfig.parse({
      scanPolicy: {
        block: ['HIGH'],
        fixableOnly: false,
        waivers: [],
        rescanHours: 12,
        rebuildOnFixable: ['CRITICAL'],
      },
    });
    expect(cfg.scanPolicy.requireScan).toBe(false);
  });
});
