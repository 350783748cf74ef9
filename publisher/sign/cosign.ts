// cosign's storage format (sigstore/cosign specs/SIGNATURE_SPEC.md and pkg/oci): a signature is an OCI
// image manifest tagged `sha256-<hex>.sig` in the image's repository, whose one layer is the
// "simple signing" payload (mediaType application/vnd.dev.cosign.simplesigning.v1+json) annotated with
// `dev.cosignproject.cosign/signature` = Base64(DER ECDSA-P256-SHA256 signature of the payload bytes).
// Attestations are tagged `sha256-<hex>.att`: one layer per DSSE envelope
// (application/vnd.dsse.envelope.v1+json) annotated with `predicateType`, signed over the DSSE PAE.
import { createHash, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { OCI_CONFIG, OCI_MANIFEST } from '../registry/media.ts';
import { digestTagPrefix } from '../registry/ref.ts';

export const SIMPLE_SIGNING_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const PREDICATE_TYPE_ANNOTATION = 'predicateType';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

export const signatureTag = (digest: string) => `${digestTagPrefix(digest)}.sig`;
export const attestationTag = (digest: string) => `${digestTagPrefix(digest)}.att`;

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The simple-signing payload, serialised like cosign does (compact JSON, fixed key order). */
export function simpleSigningPayload(
  dockerReference: string,
  digest: string,
  optional: Record<string, string> | null = null,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': digest },
        type: COSIGN_SIGNATURE_TYPE,
      },
      optional,
    }),
  );
}

export const zSimpleSigning = z.object({
  critical: z.object({
    identity: z.object({ 'docker-reference': z.string() }).passthrough(),
    image: z.object({ 'docker-manifest-digest': z.string() }).passthrough(),
    type: z.string(),
  }),
  optional: z.record(z.string(), z.unknown()).nullable().optional(),
});

/** ECDSA P-256 over SHA-256, DER-encoded, Base64 — what cosign puts in the annotation. */
export function signBase64(key: KeyObject, data: Buffer): string {
  return cryptoSign('sha256', data, { key, dsaEncoding: 'der' }).toString('base64');
}

export function verifyBase64(pub: KeyObject, data: Buffer, sigB64: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(sigB64)) return false;
  try {
    return cryptoVerify('sha256', data, { key: pub, dsaEncoding: 'der' }, Buffer.from(sigB64, 'base64'));
  } catch {
    return false;
  }
}

/** DSSE pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
export function pae(payloadType: string, body: Buffer): Buffer {
  const t = Buffer.from(payloadType);
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${body.length} `), body]);
}

export const zDsseEnvelope = z.object({
  payloadType: z.string(),
  payload: z.string(),
  signatures: z.array(z.object({ keyid: z.string().optional(), sig: z.string() })).min(1),
});
export type DsseEnvelope = z.infer<typeof zDsseEnvelope>;

export function dsseSign(key: KeyObject, payloadType: string, body: Buffer): Buffer {
  const env: DsseEnvelope = {
    payloadType,
    payload: body.toString('base64'),
    signatures: [{ keyid: '', sig: signBase64(key, pae(payloadType, body)) }],
  };
  return Buffer.from(JSON.stringify(env));
}

/** Verify a DSSE envelope; returns the payload when one signature verifies, else null. */
export function dsseVerify(pub: KeyObject, env: DsseEnvelope): Buffer | null {
  const body = Buffer.from(env.payload, 'base64');
  return env.signatures.some((s) => verifyBase64(pub, pae(env.payloadType, body), s.sig)) ? body : null;
}

/** The config blob go-containerregistry derives for a signature image (one diff_id per layer). */
function signatureConfig(layers: Buffer[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map(sha) },
      config: {},
    }),
  );
}

export interface ArtifactManifest {
  manifest: Buffer;
  digest: string;
  /** config blob, then the layer blobs. */
  blobs: Buffer[];
}

function manifestOf(
  layers: Array<{ bytes: Buffer; mediaType: string; annotations: Record<string, string> }>,
): ArtifactManifest {
  const config = signatureConfig(layers.map((l) => l.bytes));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, size: config.length, digest: sha(config) },
      layers: layers.map((l) => ({
        mediaType: l.mediaType,
        size: l.bytes.length,
        digest: sha(l.bytes),
        annotations: l.annotations,
      })),
    }),
  );
  return { manifest, digest: sha(manifest), blobs: [config, ...layers.map((l) => l.bytes)] };
}

/** The `.sig` manifest for one signed payload. */
export function signatureManifest(payload: Buffer, signatureB64: string): ArtifactManifest {
  return manifestOf([
    { bytes: payload, mediaType: SIMPLE_SIGNING_TYPE, annotations: { [SIGNATURE_ANNOTATION]: signatureB64 } },
  ]);
}

/** The `.att` manifest for one DSSE envelope (and any more, one layer each, e.g. the SBOM). cosign
 * leaves the signature annotation empty here: the signature is inside the envelope. */
export function attestationManifest(
  envelope: Buffer,
  predicateType: string,
  more: { envelope: Buffer; predicateType: string }[] = [],
): ArtifactManifest {
  return manifestOf(
    [{ envelope, predicateType }, ...more].map((a) => ({
      bytes: a.envelope,
      mediaType: DSSE_TYPE,
      annotations: { [SIGNATURE_ANNOTATION]: '', [PREDICATE_TYPE_ANNOTATION]: a.predicateType },
    })),
  );
}
