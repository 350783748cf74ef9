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
  arch: string;
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
 * The advisories of one OS release. Matching scans the advisories' fixed-package lists once per package
 * set, keeping only the names the set has (its packages and their source RPMs): with 20,000 advisories
 * of ~30 fixed RPMs each, nothing is built for the 99% of entries no installed package can match.
 */
export class ReleaseMatcher {
  readonly release: string;
  /** Advisories with at least one fixed package for the release. */
  readonly advisories: number;
  private readonly list: Advisory[];

  constructor(advisories: Iterable<Advisory>, release: string) {
    const rel = normalizeRelease(release);
    if (!rel) throw new Error(`${JSON.stringify(release)} is not an openEuler release (e.g. 22.03-LTS-SP2)`);
    this.release = rel;
    this.list = [];
    for (const a of advisories)
      if (a.releases.includes(rel) && a.fixed.some(([r]) => r === rel)) this.list.push(a);
    this.advisories = this.list.length;
  }

  /** name → fixed entries of the release, for the wanted names only (one pass, no per-advisory sets). */
  private index(wanted: Set<string>): Map<string, Entry[]> {
    const rel = this.release;
    const byName = new Map<string, Entry[]>();
    for (const a of this.list)
      for (const f of a.fixed) {
        if (f[0] !== rel || !wanted.has(f[2])) continue;
        let entries = byName.get(f[2]);
        if (!entries) byName.set(f[2], (entries = []));
        entries.push({ advisory: a, arch: f[1], evr: splitEvr(f[3]) });
      }
    return byName;
  }

  /** The binary names and arches an advisory lists for the release (only needed for source matches). */
  private listedOf(a: Advisory, cache: Map<string, { names: Set<string>; arches: Set<string> }>) {
    let l = cache.get(a.id);
    if (!l) {
      l = { names: new Set(), arches: new Set() };
      for (const [r, arch, name] of a.fixed)
        if (r === this.release && arch !== 'src') {
          l.names.add(name);
          l.arches.add(arch);
        }
      cache.set(a.id, l);
    }
    return l;
  }

  match(packages: readonly InstalledPackage[]): AdvisoryFinding[] {
    const wanted = new Set<string>();
    for (const p of packages) {
      wanted.add(p.name);
      const src = sourceName(p.sourceRpm);
      if (src) wanted.add(src);
    }
    const byName = this.index(wanted);
    const listed = new Map<string, { names: Set<string>; arches: Set<string> }>();
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
      const own = byName.get(p.name) ?? [];
      for (const e of own) if (e.arch === p.arch) add(p, e, 'binary');
      const src = sourceName(p.sourceRpm);
      if (!src) continue;
      for (const e of byName.get(src) ?? []) {
        if (e.arch !== 'src') continue;
        // The advisory lists this binary by name (some arch): its own entries decide, not the source.
        if (own.some((o) => o.advisory === e.advisory && o.arch !== 'src')) continue;
        const l = this.listedOf(e.advisory, listed);
        if (l.names.has(p.name) || !l.arches.has(p.arch)) continue;
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
  const fixed = new Map<string, Evr>();
  const evr = (f: T) => {
    let e = fixed.get(f.fixed);
    if (!e) fixed.set(f.fixed, (e = splitEvr(f.fixed)));
    return e;
  };
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return list.sort(
    (a, b) =>
      cmp(a.package, b.package) ||
      severityRank(b.severity) - severityRank(a.severity) ||
      compareEvr(evr(a), evr(b)) ||
      cmp(a.advisory, b.advisory) ||
      cmp(a.arch, b.arch),
  );
}

export const displayFixed = (f: Pick<AdvisoryFinding, 'fixed'>): string => displayVr(splitEvr(f.fixed));
export function displayInstalled(f: Pick<AdvisoryFinding, 'installed'>): string {
  const s = f.installed.replace(/^\d+:/, '');
  return displayVr(splitEvr(s));
}
