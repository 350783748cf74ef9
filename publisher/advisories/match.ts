// Matching installed RPM packages against the advisories of their OS release. A package is affected by
// an advisory when the advisory fixes a package of the same name and arch for that release and the
// installed epoch:version-release sorts lower (rpm's rpmvercmp; dist tags such as ".oe2203sp2" ignored).
// noarch packages match the advisory's noarch entries. Source RPMs ("src" in the feed) stand in for a
// binary package built from that source only when the advisory lists no binary of that name at all and
// does list binaries for the package's arch: an advisory published for x86_64 only never matches aarch64.
// The feed gives no epoch: the installed package's epoch is assumed for the fixed one.
import type { Severity } from '../../catalog/schema.ts';
import type { Advisory } from './cvrf.ts';
import { severityRank } from './cvrf.ts';
import type { InstalledPackage } from './packages.ts';
import { compareEvr, displayVr, formatEvr, normalizeRelease, type Evr } from './release.ts';

export interface AdvisoryFinding {
  advisory: string;
  cves: string[];
  severity: Severity;
  cvss?: number;
  package: string;
  arch: string;
  /** epoch:version-release as installed. */
  installed: string;
  /** version-release of the fix (as the feed names it). */
  fixed: string;
  status: 'fixed';
  /** How the package matched: its own name, or the source RPM it was built from. */
  matchedBy: 'binary' | 'source';
  title: string;
}

interface Entry {
  advisory: Advisory;
  evr: Evr;
}

function splitEvr(vr: string): Evr {
  const dash = vr.lastIndexOf('-');
  return { epoch: 0, version: vr.slice(0, dash), release: vr.slice(dash + 1) };
}

/** name of a source RPM file name "golang-1.17.3-31.oe2203sp2.src.rpm" → "golang". */
export function sourceName(sourceRpm: string): string | undefined {
  const m = /^(.+)-[^-]+-[^-]+\.(?:no)?src\.rpm$/.exec(sourceRpm);
  return m?.[1];
}

/**
 * The advisories of one OS release, indexed for lookups by package: build once, match many package sets.
 */
export class ReleaseMatcher {
  readonly release: string;
  readonly advisories: number;
  /** "name\0arch" → entries (arch "src" for source RPMs). */
  private readonly byKey = new Map<string, Entry[]>();
  /** advisory id → binary names listed (any arch), and arches with binaries. */
  private readonly listed = new Map<string, { names: Set<string>; arches: Set<string> }>();

  constructor(advisories: Iterable<Advisory>, release: string) {
    const rel = normalizeRelease(release);
    if (!rel) throw new Error(`${JSON.stringify(release)} is not an openEuler release (e.g. 22.03-LTS-SP2)`);
    this.release = rel;
    let n = 0;
    for (const a of advisories) {
      let used = false;
      for (const [r, arch, name, vr] of a.fixed) {
        if (r !== rel) continue;
        used = true;
        const key = `${name}\u0000${arch}`;
        let list = this.byKey.get(key);
        if (!list) this.byKey.set(key, (list = []));
        list.push({ advisory: a, evr: splitEvr(vr) });
        if (arch !== 'src') {
          let l = this.listed.get(a.id);
          if (!l) this.listed.set(a.id, (l = { names: new Set(), arches: new Set() }));
          l.names.add(name);
          l.arches.add(arch);
        }
      }
      if (used) n++;
    }
    this.advisories = n;
  }

  match(packages: readonly InstalledPackage[]): AdvisoryFinding[] {
    const out = new Map<string, AdvisoryFinding>();
    const add = (p: InstalledPackage, e: Entry, by: AdvisoryFinding['matchedBy']) => {
      const installed: Evr = { epoch: p.epoch, version: p.version, release: p.release };
      const fixed: Evr = { ...e.evr, epoch: p.epoch };
      if (compareEvr(installed, fixed) >= 0) return;
      const key = `${e.advisory.id}\u0000${p.name}\u0000${p.arch}`;
      const prev = out.get(key);
      // The same advisory may list a package twice (e.g. binary and source): keep the higher fix.
      if (prev && compareEvr(splitEvr(prev.fixed), e.evr) >= 0) return;
      out.set(key, {
        advisory: e.advisory.id,
        cves: e.advisory.cves.map((c) => c.id),
        severity: e.advisory.severity,
        ...(e.advisory.cvss !== undefined ? { cvss: e.advisory.cvss } : {}),
        package: p.name,
        arch: p.arch,
        installed: formatEvr(installed),
        fixed: `${e.evr.version}-${e.evr.release}`,
        status: 'fixed',
        matchedBy: by,
        title: e.advisory.title,
      });
    };
    for (const p of packages) {
      for (const e of this.byKey.get(`${p.name}\u0000${p.arch}`) ?? []) add(p, e, 'binary');
      const src = sourceName(p.sourceRpm);
      if (!src) continue;
      for (const e of this.byKey.get(`${src}\u0000src`) ?? []) {
        const l = this.listed.get(e.advisory.id);
        if (l && (l.names.has(p.name) || !l.arches.has(p.arch))) continue;
        add(p, e, 'source');
      }
    }
    return sortFindings([...out.values()]);
  }
}

/** openEuler's report order: package, then severity (highest first), then the fix, then the advisory. */
export function sortFindings<
  T extends Pick<AdvisoryFinding, 'package' | 'severity' | 'fixed' | 'advisory' | 'arch'>,
>(list: T[]): T[] {
  return list.sort(
    (a, b) =>
      (a.package < b.package ? -1 : a.package > b.package ? 1 : 0) ||
      severityRank(b.severity) - severityRank(a.severity) ||
      compareEvr(splitEvr(a.fixed), splitEvr(b.fixed)) ||
      (a.advisory < b.advisory ? -1 : a.advisory > b.advisory ? 1 : 0) ||
      (a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0),
  );
}

export const displayFixed = (f: Pick<AdvisoryFinding, 'fixed'>): string => displayVr(splitEvr(f.fixed));
export function displayInstalled(f: Pick<AdvisoryFinding, 'installed'>): string {
  const s = f.installed.replace(/^\d+:/, '');
  return displayVr(splitEvr(s));
}
