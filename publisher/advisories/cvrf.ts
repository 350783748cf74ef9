// One openEuler security advisory (CVRF 1.1 XML) → the compact record the local index keeps.
// Parsing is defensive: the document is size-capped, any DTD (<!DOCTYPE, <!ENTITY) is refused before
// parsing, entities are never expanded (fast-xml-parser with processEntities: false), attributes over
// a length cap and truncated or malformed XML are refused with the line fast-xml-parser reports.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { SEVERITIES, type Severity } from '../../catalog/schema.ts';
import { normalizeRelease, parseRpmFileName } from './release.ts';

/** Larger than any real advisory (the biggest kernel ones are a few hundred KiB). */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;
export const MAX_ATTRIBUTE_CHARS = 4096;
const MAX_TEXT_CHARS = 512;

export class CvrfError extends Error {
  override name = 'CvrfError';
}

export interface CveEntry {
  id: string;
  severity: Severity;
  cvss?: number;
  vector?: string;
}

/** A fixed binary or source RPM: [release, arch, name, epoch:version-release]. */
export type FixedEntry = [release: string, arch: string, name: string, evr: string];

export interface Advisory {
  id: string;
  title: string;
  severity: Severity;
  /** Highest CVSS base score over the advisory's CVEs. */
  cvss?: number;
  cves: CveEntry[];
  /** OS releases the advisory covers ("22.03-LTS-SP2"). */
  releases: string[];
  fixed: FixedEntry[];
  released?: string;
  updated?: string;
}

export interface ParseResult {
  advisory: Advisory;
  warnings: string[];
}

const ARRAYS = new Set([
  'Branch',
  'FullProductName',
  'Vulnerability',
  'Note',
  'ProductID',
  'Status',
  'Threat',
  'ScoreSet',
  'Revision',
  'Reference',
  'URL',
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => ARRAYS.has(name),
});

type Node = Record<string, unknown>;
const asNode = (v: unknown): Node => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** Decode the five predefined XML entities and character references only (never a DTD entity). */
function decode(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (_m, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
  });
}

function text(v: unknown): string {
  if (typeof v === 'string') return decode(v).slice(0, MAX_TEXT_CHARS);
  if (typeof v === 'number') return String(v);
  const t = asNode(v)['#text'];
  return typeof t === 'string' || typeof t === 'number' ? decode(String(t)).slice(0, MAX_TEXT_CHARS) : '';
}

export function normalizeCvrfSeverity(s: string): Severity {
  const up = s.trim().toUpperCase();
  if (up === 'IMPORTANT') return 'HIGH';
  if (up === 'MODERATE') return 'MEDIUM';
  return (SEVERITIES as readonly string[]).includes(up) ? (up as Severity) : 'UNKNOWN';
}

const RANK: Record<Severity, number> = { CRITICAL: 4, HIGH: 3, MEDIUM: 2, LOW: 1, UNKNOWN: 0 };
export const severityRank = (s: Severity): number => RANK[s];

function lineOf(s: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index && i < s.length; i++) if (s.charCodeAt(i) === 10) line++;
  return line;
}

/** Refuse what a CVRF document never needs before any parser sees it. */
function screen(xml: string, source: string): void {
  if (Buffer.byteLength(xml) > MAX_DOCUMENT_BYTES)
    throw new CvrfError(`${source}: document larger than ${MAX_DOCUMENT_BYTES} bytes`);
  const dtd = /<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST)/i.exec(xml);
  if (dtd)
    throw new CvrfError(
      `${source}: line ${lineOf(xml, dtd.index)}: <!${dtd[1]!.toUpperCase()}> refused (CVRF documents have no DTD; entities are never expanded)`,
    );
  const big = new RegExp(`=\\s*("[^"]{${MAX_ATTRIBUTE_CHARS},}|'[^']{${MAX_ATTRIBUTE_CHARS},})`).exec(xml);
  if (big)
    throw new CvrfError(
      `${source}: line ${lineOf(xml, big.index)}: attribute value longer than ${MAX_ATTRIBUTE_CHARS} characters refused`,
    );
  const valid = XMLValidator.validate(xml, { allowBooleanAttributes: false });
  if (valid !== true)
    throw new CvrfError(`${source}: line ${valid.err.line}: malformed XML: ${valid.err.msg}`);
}

const ADVISORY_ID = /^openEuler-[A-Z]{2}-\d{4}-\d{1,6}$/;
const CVE_ID = /^CVE-\d{4}-\d{4,8}$/;

/** Parse one CVRF document; throws CvrfError naming the source and what is wrong. */
export function parseCvrf(xml: string, source = 'advisory'): ParseResult {
  screen(xml, source);
  let root: Node;
  try {
    root = asNode(asNode(parser.parse(xml)).cvrfdoc);
  } catch (e) {
    throw new CvrfError(`${source}: malformed XML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!Object.keys(root).length) throw new CvrfError(`${source}: not a CVRF document (no <cvrfdoc>)`);
  const warnings: string[] = [];
  const tracking = asNode(root.DocumentTracking);
  const id = text(asNode(tracking.Identification).ID);
  if (!ADVISORY_ID.test(id))
    throw new CvrfError(
      `${source}: DocumentTracking/Identification/ID ${JSON.stringify(id)} is not an advisory id (openEuler-SA-YYYY-NNNN)`,
    );
  const notes = asArray(asNode(root.DocumentNotes).Note).map(asNode);
  const note = (title: string) => text(notes.find((n) => n['@_Title'] === title));
  const title = text(root.DocumentTitle) || note('Synopsis') || id;

  // Product tree: OS releases, then per arch branch the fixed RPM files.
  const tree = asNode(root.ProductTree);
  const branches = asArray(tree.Branch).map(asNode);
  const productToRelease = new Map<string, string>();
  for (const b of branches.filter((x) => x['@_Type'] === 'Product Name'))
    for (const p of asArray(b.FullProductName).map(asNode)) {
      const pid = String(p['@_ProductID'] ?? '');
      const rel = normalizeRelease(pid) ?? normalizeRelease(text(p));
      if (rel) productToRelease.set(pid, rel);
      else warnings.push(`${source}: product ${JSON.stringify(pid)} is not an openEuler release; ignored`);
    }
  if (!productToRelease.size) throw new CvrfError(`${source}: ProductTree names no openEuler release`);
  const onlyRelease = productToRelease.size === 1 ? [...productToRelease.values()][0] : undefined;

  // Releases with at least one CVE fixed (a document without ProductStatuses covers all its products).
  const vulns = asArray(root.Vulnerability).map(asNode);
  const fixedReleases = new Set<string>();
  const cves: CveEntry[] = [];
  let anyStatus = false;
  for (const v of vulns) {
    const cve = text(v.CVE);
    for (const st of asArray(asNode(v.ProductStatuses).Status).map(asNode)) {
      anyStatus = true;
      if (st['@_Type'] !== 'Fixed') continue;
      for (const pid of asArray(st.ProductID)) {
        const rel = productToRelease.get(text(pid));
        if (rel) fixedReleases.add(rel);
      }
    }
    if (!CVE_ID.test(cve)) {
      if (cve) warnings.push(`${source}: ${JSON.stringify(cve)} is not a CVE id; ignored`);
      continue;
    }
    const impact = asArray(asNode(v.Threats).Threat)
      .map(asNode)
      .find((t) => t['@_Type'] === 'Impact');
    const score = asArray(asNode(v.CVSSScoreSets).ScoreSet).map(asNode)[0];
    const base = score ? Number(text(score.BaseScore)) : NaN;
    const vector = score ? text(score.Vector) : '';
    cves.push({
      id: cve,
      severity: normalizeCvrfSeverity(impact ? text(impact.Description) : ''),
      ...(Number.isFinite(base) && base >= 0 && base <= 10 ? { cvss: base } : {}),
      ...(vector ? { vector } : {}),
    });
  }
  if (!anyStatus) for (const r of productToRelease.values()) fixedReleases.add(r);

  const fixed: FixedEntry[] = [];
  const seen = new Set<string>();
  for (const b of branches.filter((x) => x['@_Type'] === 'Package Arch')) {
    const branchArch = String(b['@_Name'] ?? '');
    for (const p of asArray(b.FullProductName).map(asNode)) {
      const file = text(p);
      const rpm = parseRpmFileName(file);
      if (!rpm) {
        warnings.push(`${source}: ${JSON.stringify(file)} is not an RPM file name; ignored`);
        continue;
      }
      if (rpm.arch !== branchArch) {
        warnings.push(`${source}: ${file} listed under arch ${JSON.stringify(branchArch)}; ignored`);
        continue;
      }
      const cpe = String(p['@_CPE'] ?? '');
      const release = cpe ? normalizeRelease(cpe.split(':').pop() ?? '') : onlyRelease;
      if (!release) {
        warnings.push(`${source}: ${file}: no OS release (CPE ${JSON.stringify(cpe)}); ignored`);
        continue;
      }
      if (!fixedReleases.has(release)) continue;
      const entry: FixedEntry = [release, rpm.arch, rpm.name, `${rpm.version}-${rpm.release}`];
      const key = entry.join('\u0000');
      if (!seen.has(key)) {
        seen.add(key);
        fixed.push(entry);
      }
    }
  }

  const docSeverity = normalizeCvrfSeverity(note('Severity'));
  const severity =
    docSeverity !== 'UNKNOWN'
      ? docSeverity
      : cves.reduce<Severity>((m, c) => (RANK[c.severity] > RANK[m] ? c.severity : m), 'UNKNOWN');
  const scores = cves.map((c) => c.cvss).filter((x): x is number => x !== undefined);
  const released = text(tracking.InitialReleaseDate);
  const updated = text(tracking.CurrentReleaseDate);
  return {
    advisory: {
      id,
      title,
      severity,
      ...(scores.length ? { cvss: Math.max(...scores) } : {}),
      cves,
      releases: [...fixedReleases].sort(),
      fixed,
      ...(/^\d{4}-\d{2}-\d{2}/.test(released) ? { released: released.slice(0, 10) } : {}),
      ...(/^\d{4}-\d{2}-\d{2}/.test(updated) ? { updated: updated.slice(0, 10) } : {}),
    },
    warnings,
  };
}

/** The bulletin page of an advisory on openeuler.org (the link openEuler's reports use). */
export const bulletinUrl = (id: string): string =>
  `https://www.openeuler.org/zh/security/security-bulletins/detail/?id=${encodeURIComponent(id)}`;
