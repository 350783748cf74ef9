// What a scan covered, said plainly. OS packages are covered by Wharf's own matcher over openEuler's
// advisories (`wharf-cvrf`), by Trivy when it recognised the OS and scanned its packages, or by nothing;
// language packages by Trivy or nothing. A scan whose OS packages nobody matched is never "clean": its
// summary is "OS packages not scanned", whatever the finding count. Trivy and wharf-cvrf findings are
// merged; a CVE both report for the same package is kept once, from the vendor's advisory.
import type { Finding, Severity } from '../../catalog/schema.ts';
import type { TrivyReport } from '../scan/report.ts';
import { normalizeSeverity } from '../scan/report.ts';
import type { AdvisoryFinding } from './match.ts';
import { bulletinUrl } from './cvrf.ts';

export const OS_NOT_SCANNED = 'OS packages not scanned';

export interface DataAge {
  /** When the data was last refreshed (feed sync, Trivy DB update). */
  at: string;
  ageHours: number;
}

export interface Coverage {
  os: { by: 'wharf-cvrf' | 'trivy' | 'none'; release?: string; data?: DataAge; reason?: string };
  language: { by: 'trivy' | 'none'; data?: DataAge; reason?: string };
  /** One line: "OS packages: wharf-cvrf (22.03-LTS-SP2, data 3.2 h old); language packages: trivy" or OS_NOT_SCANNED first. */
  summary: string;
  osScanned: boolean;
}

export interface TrivyOsView {
  /** Trivy found and matched the OS packages (an os-pkgs result for a detected OS). */
  scanned: boolean;
  family?: string;
  name?: string;
  eosl?: boolean;
  reason?: string;
}

/**
 * Did Trivy scan the OS packages? Only when it detected the OS and produced an `os-pkgs` result:
 * on an OS it does not support (openEuler today) it detects no OS or skips the OS packages silently,
 * and a report with zero OS findings must not read as clean.
 */
export function trivyOsView(report: TrivyReport): TrivyOsView {
  const os = report.Metadata?.OS as { Family?: string; Name?: string; EOSL?: boolean } | undefined;
  const osResult = report.Results.some((r) => r.Class === 'os-pkgs');
  const label = os?.Family ? `${os.Family}${os.Name ? ` ${os.Name}` : ''}` : undefined;
  if (!os?.Family)
    return { scanned: false, reason: 'trivy detected no OS it supports (no OS in the report)' };
  if (!osResult)
    return {
      scanned: false,
      family: os.Family,
      ...(os.Name ? { name: os.Name } : {}),
      reason: `trivy does not support ${label}: no OS package result`,
    };
  return {
    scanned: true,
    family: os.Family,
    ...(os.Name ? { name: os.Name } : {}),
    ...(os.EOSL ? { eosl: true } : {}),
  };
}

const age = (at: string | undefined, now: Date): DataAge | undefined =>
  at && Number.isFinite(Date.parse(at))
    ? { at, ageHours: Math.round(((now.getTime() - Date.parse(at)) / 3_600_000) * 10) / 10 }
    : undefined;

export interface CoverageInput {
  /** Wharf's matcher ran: the release matched, the feed's sync time, and whether the image has an RPM db. */
  cvrf?: {
    release: string;
    syncedAt: string;
    advisoriesForRelease: number;
    rpmdb: boolean;
    noRpmdb?: string;
  };
  /** Trivy's report (OS view and language results) and its DB's UpdatedAt. */
  trivy?: { report: TrivyReport; dbUpdatedAt?: string };
  /** Why Trivy did not run, when it did not. */
  trivyNotRun?: string;
  /** Why wharf-cvrf did not run, when it did not (no advisory index, not an openEuler release, …). */
  cvrfNotRun?: string;
  now?: Date;
}

export function coverageOf(input: CoverageInput): Coverage {
  const now = input.now ?? new Date();
  const reasons: string[] = [];
  let os: Coverage['os'] = { by: 'none' };
  const c = input.cvrf;
  if (c) {
    if (!c.rpmdb) reasons.push(c.noRpmdb ?? 'no RPM database');
    else if (!c.advisoriesForRelease)
      reasons.push(`the advisory feed has no advisories for openEuler ${c.release}`);
    else {
      const data = age(c.syncedAt, now);
      os = { by: 'wharf-cvrf', release: c.release, ...(data ? { data } : {}) };
    }
  } else reasons.push(input.cvrfNotRun ?? 'wharf-cvrf did not run (no advisory index or OS release)');
  const tv = input.trivy ? trivyOsView(input.trivy.report) : undefined;
  if (os.by === 'none') {
    if (tv?.scanned) {
      const data = age(input.trivy!.dbUpdatedAt, now);
      os = { by: 'trivy', ...(data ? { data } : {}) };
    } else {
      if (tv?.reason) reasons.push(tv.reason);
      else if (input.trivyNotRun) reasons.push(`trivy did not run: ${input.trivyNotRun}`);
      os = { by: 'none', reason: reasons.join('; ') };
    }
  }
  const language: Coverage['language'] = input.trivy
    ? (() => {
        const data = age(input.trivy.dbUpdatedAt, now);
        return { by: 'trivy' as const, ...(data ? { data } : {}) };
      })()
    : {
        by: 'none',
        reason: input.trivyNotRun ? `trivy did not run: ${input.trivyNotRun}` : 'trivy did not run',
      };
  const ageText = (d?: DataAge) => (d ? `, data ${d.ageHours} h old` : '');
  const osText =
    os.by === 'none'
      ? `${OS_NOT_SCANNED} (${os.reason})`
      : `OS packages: ${os.by}${os.release ? ` (openEuler ${os.release}${ageText(os.data)})` : ageText(os.data)}`;
  const langText =
    language.by === 'none'
      ? `language packages not scanned (${language.reason})`
      : `language packages: trivy${ageText(language.data)}`;
  return { os, language, summary: `${osText}; ${langText}`, osScanned: os.by !== 'none' };
}

export interface MergedFinding extends Finding {
  source: 'wharf-cvrf' | 'trivy';
  cves?: string[];
  advisory?: string;
}

/** A merged finding in the catalog's (strict) finding shape: Trivy's keep their original fields. */
export function catalogFinding(f: MergedFinding): Finding {
  const { source, advisory: _advisory, cves, ...rest } = f;
  return source === 'wharf-cvrf' ? { ...rest, source, ...(cves?.length ? { cves } : {}) } : rest;
}

/** A wharf-cvrf finding in the catalog's finding shape (id = advisory id, the CVEs alongside). */
export function cvrfToFinding(f: AdvisoryFinding, target: string): MergedFinding {
  return {
    id: f.advisory,
    pkg: f.package,
    installed: f.installed,
    fixed: f.fixed,
    severity: f.severity,
    status: 'fixed',
    target,
    title: f.title,
    url: bulletinUrl(f.advisory),
    source: 'wharf-cvrf',
    advisory: f.advisory,
    cves: f.cves,
  };
}

/**
 * Merge Trivy's findings with wharf-cvrf's: a Trivy finding whose CVE (or advisory id) a wharf-cvrf
 * finding already reports for the same package is dropped. When wharf-cvrf covers the OS packages,
 * Trivy's OS-package findings are kept only where they add a CVE.
 */
export function mergeFindings(cvrf: MergedFinding[], trivy: readonly Finding[]): MergedFinding[] {
  const covered = new Set<string>();
  for (const f of cvrf) {
    covered.add(`${f.pkg}\u0000${f.id}`);
    for (const c of f.cves ?? []) covered.add(`${f.pkg}\u0000${c}`);
  }
  const out: MergedFinding[] = [...cvrf];
  const seen = new Set<string>();
  for (const t of trivy) {
    const k = `${t.pkg}\u0000${t.id}`;
    if (covered.has(k) || seen.has(`${k}\u0000${t.installed}`)) continue;
    seen.add(`${k}\u0000${t.installed}`);
    out.push({ ...t, severity: normalizeSeverity(t.severity) as Severity, source: 'trivy' });
  }
  return out;
}
