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

  /** name\0arch → entries, and per advisory the binary names and arches it lists, for the wanted names. */
  private index(wanted: Set<string>): {
    byKey: Map<string, Entry[]>;
    listed: Map<string, { names: Set<string>; arches: Set<string> }>;
  } {
    const rel = this.release;
    const byKey = new Map<string, Entry[]>();
    const listed = new Map<string, { names: Set<string>; arches: Set<string> }>();
    for (const a of this.list) {
      let hit = false;
      for (const f of a.fixed) if (f[0] === rel && wanted.has(f[2])) hit = true;
      if (!hit) continue;
      const l = { names: new Set<string>(), arches: new Set<string>() };
      listed.set(a.id, l);
      for (const [r, arch, name, vr] of a.fixed) {
        if (r !== rel) continue;
        if (arch !== 'src') {
          l.names.add(name);
          l.arches.add(arch);
        }
        if (!wanted.has(name)) continue;
        const key = `${name}\u0000${arch}`;
        let entries = byKey.get(key);
        if (!entries) byKey.set(key, (entries = []));
        entries.push({ advisory: a, evr: splitEvr(vr) });
      }
    }
    return { byKey, listed };
  }

  match(packages: readonly InstalledPackage[]): AdvisoryFinding[] {
    const wanted = new Set<string>();
    for (const p of packages) {
      wanted.add(p.name);
      const src = sourceName(p.sourceRpm);
      if (src) wanted.add(src);
    }
    const { byKey, listed } = this.index(wanted);
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
      for (const e of byKey.get(`${p.name}\u0000${p.arch}`) ?? []) add(p, e, 'binary');
      const src = sourceName(p.sourceRpm);
      if (!src) continue;
      for (const e of byKey.get(`${src}\u0000src`) ?? []) {
        const l = listed.get(e.advisory.id);
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
