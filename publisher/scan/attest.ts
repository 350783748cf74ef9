// The SBOM attestation the sign stage adds next to the SLSA provenance: an in-toto Statement v1 whose
// predicate is the scan record's CycloneDX SBOM (predicateType https://cyclonedx.org/bom, as
// `cosign attest --type cyclonedx` writes it), signed as a DSSE envelope in the same `.att` manifest.
// Only the SBOM of a scan of this very digest is attested.
import type { Artifact, BlobRef } from '../../catalog/schema.ts';
import type { BlobStore } from '../../catalog/blobs.ts';
import { gitBlobRef } from '../../catalog/findings.ts';
import { IN_TOTO_STATEMENT_V1 } from '../sign/provenance.ts';

export const CYCLONEDX_PREDICATE = 'https://cyclonedx.org/bom';

export interface ScanSbom {
  ref: BlobRef;
  bom: Record<string, unknown>;
  /** The image digest it describes (the scan's target). */
  digest: string;
}

/**
 * The SBOM of the artifact's scan of one of `digests` (what is being signed: the image, or an image
 * index and its arch manifests), read from the blob store; undefined when the scan has none or is for
 * another digest. An SBOM that cannot be read is an error (signing without it would
 * silently drop the attestation).
 */
export async function scanSbomFor(
  blobs: BlobStore,
  art: Artifact,
  digests: readonly string[],
): Promise<ScanSbom | undefined> {
  const scan = art.records.scan;
  if (!scan?.sbom || scan.status !== 'ok' || !scan.target || !digests.includes(scan.target)) return undefined;
  const bytes = await blobs.get(scan.sbom);
  if (!bytes) throw new Error(`the scan's SBOM ${scan.sbom.sha256.slice(0, 12)} is not in the blob store`);
  let bom: unknown;
  try {
    bom = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new Error(`the scan's SBOM ${scan.sbom.sha256.slice(0, 12)} is not JSON`);
  }
  if (typeof bom !== 'object' || bom === null || (bom as { bomFormat?: unknown }).bomFormat !== 'CycloneDX')
    throw new Error(`the scan's SBOM ${scan.sbom.sha256.slice(0, 12)} is not a CycloneDX document`);
  return { ref: gitBlobRef(scan.sbom), bom: bom as Record<string, unknown>, digest: scan.target };
}

/** The in-toto statement attesting the SBOM of `digest` in repository `subjectName`. */
export function sbomStatement(subjectName: string, digest: string, bom: Record<string, unknown>) {
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: subjectName, digest: { sha256: digest.replace(/^sha256:/, '') } }],
    predicateType: CYCLONEDX_PREDICATE,
    predicate: bom,
  };
}
