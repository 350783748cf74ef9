// The scan policy (wharf.yml `scanPolicy`): which findings block publishing, which waivers still apply,
// and which newly found findings are worth an automatic rebuild. Pure functions of the findings, the
// policy and the date, so a policy change can be re-applied to stored findings without rescanning.
import type { CatalogConfig, Finding, ScanCoverage, ScanRecord } from '../../catalog/schema.ts';
import { isFixable } from './report.ts';

export type ScanPolicy = CatalogConfig['scanPolicy'];
export type Waiver = ScanPolicy['waivers'][number];
export type PolicyResult = NonNullable<ScanRecord['policy']>;

/** YYYY-MM-DD of a date in UTC (waiver expiry dates are calendar days in UTC). */
export const utcDay = (d: Date): string => d.toISOString().slice(0, 10);

/** A waiver is valid through the whole of its expiry day (UTC). */
export const waiverExpired = (w: Waiver, now: Date): boolean => utcDay(now) > w.expires;

function waiversFor(policy: ScanPolicy, app: string, id: string): Waiver[] {
  return policy.waivers.filter((w) => w.id === id && (w.app === undefined || w.app === app));
}

/** Would this finding block publishing if nothing waived it? */
export function wouldBlock(policy: ScanPolicy, f: Finding): boolean {
  return policy.block.includes(f.severity) && (!policy.fixableOnly || isFixable(f));
}

function describe(f: Finding): string {
  return `${f.severity} ${f.id} in ${f.pkg} ${f.installed}${f.fixed ? ` (fixed in ${f.fixed})` : isFixable(f) ? ' (fixed)' : ' (no fix yet)'}`;
}

/**
 * Decide for a completed scan. blocked: some finding is in a blocking severity (and fixable, with
 * fixableOnly) without a valid waiver. waived: ids a valid waiver let through. expiredWaivers: waivers
 * that would have let a finding through but have expired. osNotScanned: the coverage says nothing
 * matched the OS packages ("OS packages not scanned (why)"); with requireScan that blocks, like a scan
 * that did not run.
 */
export function evaluatePolicy(
  policy: ScanPolicy,
  app: string,
  findings: Finding[],
  now: Date,
  coverage?: Pick<ScanCoverage, 'os'>,
): PolicyResult {
  const reasons: string[] = [];
  const waived = new Set<string>();
  const expired = new Set<string>();
  for (const f of findings) {
    if (!wouldBlock(policy, f)) continue;
    const ws = waiversFor(policy, app, f.id);
    if (ws.some((w) => !waiverExpired(w, now))) {
      waived.add(f.id);
      continue;
    }
    for (const w of ws) expired.add(`${w.id} (expired ${w.expires})`);
    reasons.push(describe(f));
  }
  const osNotScanned =
    coverage?.os.by === 'none'
      ? `OS packages not scanned (${coverage.os.reason ?? 'no OS scanner'})`
      : undefined;
  if (osNotScanned && policy.requireScan) reasons.push(`${osNotScanned} and scanPolicy.requireScan is set`);
  return {
    blocked: reasons.length > 0,
    reasons,
    waived: [...waived].sort(),
    ...(expired.size ? { expiredWaivers: [...expired].sort() } : {}),
    ...(osNotScanned ? { osNotScanned } : {}),
  };
}

/** Policy for a scan that did not run: blocks only with requireScan, and then says why. */
export function notRunPolicy(policy: ScanPolicy, reason: string): PolicyResult {
  return policy.requireScan
    ? { blocked: true, reasons: [`not scanned (scanPolicy.requireScan): ${reason}`], waived: [] }
    : { blocked: false, reasons: [], waived: [] };
}

/**
 * Findings that justify a rebuild: in a rebuildOnFixable severity, fixable (a rebuild can pick up the
 * fix), and not waived. Callers pass only the newly found ones.
 */
export function rebuildCandidates(
  policy: ScanPolicy,
  app: string,
  findings: Finding[],
  now: Date,
): Finding[] {
  return findings.filter(
    (f) =>
      policy.rebuildOnFixable.includes(f.severity) &&
      isFixable(f) &&
      !waiversFor(policy, app, f.id).some((w) => !waiverExpired(w, now)),
  );
}

/** Waivers in the configuration that have expired (for `wharf scan` to remind people to clean up). */
export function expiredWaivers(policy: ScanPolicy, now: Date): Waiver[] {
  return policy.waivers.filter((w) => waiverExpired(w, now));
}

/** Two policy results mean the same thing (used to skip a no-op commit). */
export function samePolicy(a: PolicyResult | undefined, b: PolicyResult): boolean {
  if (!a) return false;
  const key = (p: PolicyResult) =>
    JSON.stringify([
      p.blocked,
      p.reasons,
      p.waived,
      p.expiredWaivers ?? [],
      p.rebuildQueued ?? false,
      p.osNotScanned ?? '',
    ]);
  return key(a) === key(b);
}
