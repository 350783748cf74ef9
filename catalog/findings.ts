// Finding lists live in the blob store, not in git: a scan record keeps the summary counts, the policy
// result, newSinceLast/fixedSinceLast and `findingsRef` (the hash of a compact JSON list). Older records
// carry the list inline (`findings`); every reader goes through readFindings() so both keep working.
// The blob is content-addressed, so an unchanged finding list has an unchanged findingsRef: that is what
// lets a rescan that found nothing new skip its commit (publisher/scan/findings.ts unchangedScan).
import { z } from 'zod';
import { createHash } from 'node:crypto';
import type { BlobStore } from './blobs.ts';
import { zFinding, type BlobRef, type Finding, type ScanRecord } from './schema.ts';

export const FINDINGS_MEDIA_TYPE = 'application/vnd.wharf.findings.v1+json';

const FIELDS = [
  'id',
  'pkg',
  'installed',
  'fixed',
  'severity',
  'status',
  'target',
  'title',
  'url',
  'source',
] as const;
const zFindingsDoc = z.object({ findings: z.array(zFinding) }).strict();

/** Compact, byte-stable JSON of a finding list (fixed key order, list order as given). */
export function encodeFindings(findings: readonly Finding[]): string {
  const ordered = findings.map((f) => {
    const o: Record<string, string | string[]> = {};
    for (const k of FIELDS) if (f[k] !== undefined) o[k] = f[k];
    if (f.cves) o.cves = f.cves;
    return o;
  });
  return JSON.stringify({ findings: ordered }) + '\n';
}

/** A BlobRef as git records it: hash, size, media type; the location follows from the blob store config. */
export function gitBlobRef(ref: BlobRef): BlobRef {
  const { uri: _uri, ...rest } = ref;
  return rest;
}

/** Store a finding list in the blob store; returns the ref for `findingsRef`. */
export async function putFindings(blobs: BlobStore, findings: readonly Finding[]): Promise<BlobRef> {
  return gitBlobRef(await blobs.put(encodeFindings(findings), FINDINGS_MEDIA_TYPE));
}

export type FindingsRead =
  { ok: true; findings: Finding[]; source: 'inline' | 'blob' } | { ok: false; reason: string };

/** The finding list of a scan record: inline (older records) or from the blob store. */
export async function readFindings(
  blobs: BlobStore,
  rec: Pick<ScanRecord, 'findings' | 'findingsRef'>,
): Promise<FindingsRead> {
  if (rec.findings) return { ok: true, findings: rec.findings, source: 'inline' };
  const ref = rec.findingsRef;
  if (!ref) return { ok: true, findings: [], source: 'inline' };
  let bytes: Buffer | null;
  try {
    bytes = await blobs.get(ref);
  } catch (e) {
    return { ok: false, reason: `finding list ${ref.sha256.slice(0, 12)}: ${(e as Error).message}` };
  }
  if (!bytes)
    return { ok: false, reason: `finding list ${ref.sha256.slice(0, 12)} is not in the blob store` };
  if (createHash('sha256').update(bytes).digest('hex') !== ref.sha256)
    return { ok: false, reason: `finding list ${ref.sha256.slice(0, 12)}: content does not match its hash` };
  try {
    return {
      ok: true,
      findings: zFindingsDoc.parse(JSON.parse(bytes.toString('utf8'))).findings,
      source: 'blob',
    };
  } catch (e) {
    return {
      ok: false,
      reason: `finding list ${ref.sha256.slice(0, 12)}: not a valid list (${(e as Error).message.split('\n')[0]})`,
    };
  }
}

/** sha256 of the encoded list: equal for equal lists whether the record holds them inline or by ref. */
export function findingsHash(rec: Pick<ScanRecord, 'findings' | 'findingsRef'>): string | undefined {
  if (rec.findingsRef) return rec.findingsRef.sha256;
  if (rec.findings) return createHash('sha256').update(encodeFindings(rec.findings)).digest('hex');
  return undefined;
}
