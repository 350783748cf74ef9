// Verifying an image in a registry the way `cosign verify --key` does: resolve the reference to its
// manifest digest, fetch the `sha256-<hex>.sig` manifest, and accept when one simple-signing layer's
// payload names that digest and its signature verifies with the public key. The `.att` provenance,
// when present, is checked too (DSSE signature, subject digest, predicate type). Every reason for
// rejecting is reported.
import type { KeyObject } from 'node:crypto';
import { RegistryClient, type RegistryClientOptions } from '../registry/client.ts';
import { isIndexType, manifestMediaType, zImageIndex, zImageManifest } from '../registry/media.ts';
import { parseImageRef, type ImageRef } from '../registry/ref.ts';
import {
  COSIGN_SIGNATURE_TYPE,
  DSSE_TYPE,
  PREDICATE_TYPE_ANNOTATION,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_TYPE,
  attestationTag,
  dsseVerify,
  signatureTag,
  verifyBase64,
  zDsseEnvelope,
  zSimpleSigning,
} from './cosign.ts';

export interface SignatureCheck {
  layer: string;
  valid: boolean;
  reason?: string;
  dockerReference?: string;
}

export interface AttestationCheck {
  layer: string;
  valid: boolean;
  predicateType?: string;
  reason?: string;
  /** The verified in-toto statement (valid ones only). */
  statement?: unknown;
}

export interface VerifyResult {
  ref: string;
  digest?: string;
  valid: boolean;
  /** Why the image is not valid (empty when valid). */
  reasons: string[];
  signatures: SignatureCheck[];
  attestations: AttestationCheck[];
  /** Media type of the verified manifest (an OCI image index for multi-arch images). */
  mediaType?: string;
  /** An image index: each manifest it lists, verified on its own (signature and provenance). */
  manifests?: Array<VerifyResult & { platform?: Record<string, unknown> }>;
}

export interface VerifyOptions {
  insecure?: boolean;
  client?: Partial<RegistryClientOptions>;
  /** Also require a valid provenance attestation. */
  requireAttestation?: boolean;
  /** Do not descend into the manifests of an image index (used for the index's own children). */
  noChildren?: boolean;
}

/** Loopback registries speak http by default, like docker's "localhost is insecure" rule. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '');
  return host === 'localhost' || /^127\./.test(host) || host === '[::1]';
}

export async function verifyImage(
  refText: string,
  pub: KeyObject,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const ref: ImageRef = parseImageRef(refText);
  const client = new RegistryClient({
    registry: ref.registry,
    insecure: opts.insecure ?? isLoopbackRegistry(ref.registry),
    retry: { retries: 2 },
    ...opts.client,
  });
  const out: VerifyResult = { ref: refText, valid: false, reasons: [], signatures: [], attestations: [] };
  const image = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
  if (!image) {
    out.reasons.push(`image ${refText} not found`);
    return out;
  }
  const digest = image.digest;
  out.digest = digest;
  let doc: unknown;
  try {
    doc = JSON.parse(image.bytes.toString('utf8'));
  } catch {
    doc = {};
  }
  out.mediaType = manifestMediaType(doc);

  const sigManifest = await client.getManifest(ref.repository, signatureTag(digest));
  if (!sigManifest)
    out.reasons.push(`no signature: ${ref.repository}:${signatureTag(digest)} does not exist`);
  else {
    const m = zImageManifest.safeParse(JSON.parse(sigManifest.bytes.toString('utf8')));
    if (!m.success) out.reasons.push('the signature manifest is not an image manifest');
    else
      for (const layer of m.data.layers.filter((l) => l.mediaType === SIMPLE_SIGNING_TYPE)) {
        out.signatures.push(await checkSignature(client, ref.repository, layer, digest, pub));
      }
    if (m.success && out.signatures.length === 0)
      out.reasons.push('the signature manifest has no simple-signing layer');
  }
  const sigOk = out.signatures.some((s) => s.valid);
  if (!sigOk)
    for (const s of out.signatures) out.reasons.push(`signature ${s.layer.slice(0, 19)}: ${s.reason}`);

  const attManifest = await client.getManifest(ref.repository, attestationTag(digest));
  if (attManifest) {
    const m = zImageManifest.safeParse(JSON.parse(attManifest.bytes.toString('utf8')));
    if (m.success)
      for (const layer of m.data.layers.filter((l) => l.mediaType === DSSE_TYPE)) {
        out.attestations.push(await checkAttestation(client, ref.repository, layer, digest, pub));
      }
    for (const a of out.attestations.filter((x) => !x.valid))
      out.reasons.push(`attestation ${a.layer.slice(0, 19)}: ${a.reason}`);
  } else if (opts.requireAttestation) out.reasons.push('no provenance attestation');

  out.valid =
    sigOk &&
    out.attestations.every((a) => a.valid) &&
    !(opts.requireAttestation && out.attestations.length === 0);
  if (out.valid) out.reasons = [];

  // An image index is valid only when every manifest it lists is signed (and attested) too.
  if (isIndexType(out.mediaType) && !opts.noChildren) {
    const idx = zImageIndex.safeParse(doc);
    if (!idx.success) {
      out.valid = false;
      out.reasons.push('the image index is not a valid OCI image index');
      return out;
    }
    out.manifests = [];
    for (const d of idx.data.manifests) {
      const childRef = `${ref.registry}/${ref.repository}@${d.digest}`;
      const child = await verifyImage(childRef, pub, { ...opts, noChildren: true });
      out.manifests.push({ ...child, ...(d.platform ? { platform: d.platform } : {}) });
      if (!child.valid) {
        out.valid = false;
        const arch = typeof d.platform?.architecture === 'string' ? d.platform.architecture : d.digest;
        for (const why of child.reasons) out.reasons.push(`${arch} manifest ${d.digest}: ${why}`);
      }
    }
    if (!out.manifests.length) {
      out.valid = false;
      out.reasons.push('the image index lists no manifest');
    }
  }
  return out;
}

async function checkSignature(
  client: RegistryClient,
  repo: string,
  layer: { digest: string; annotations?: Record<string, string> },
  digest: string,
  pub: KeyObject,
): Promise<SignatureCheck> {
  const res: SignatureCheck = { layer: layer.digest, valid: false };
  let payload: Buffer;
  try {
    payload = await client.getBlob(repo, layer.digest);
  } catch (e) {
    return { ...res, reason: `payload unreadable: ${(e as Error).message}` };
  }
  const sig = layer.annotations?.[SIGNATURE_ANNOTATION];
  if (!sig) return { ...res, reason: `no ${SIGNATURE_ANNOTATION} annotation` };
  if (!verifyBase64(pub, payload, sig)) return { ...res, reason: 'signature does not verify with this key' };
  let doc;
  try {
    doc = zSimpleSigning.parse(JSON.parse(payload.toString('utf8')));
  } catch {
    return { ...res, reason: 'payload is not a simple-signing document' };
  }
  res.dockerReference = doc.critical.identity['docker-reference'];
  if (doc.critical.type !== COSIGN_SIGNATURE_TYPE)
    return { ...res, reason: `payload type is ${JSON.stringify(doc.critical.type)}` };
  const signed = doc.critical.image['docker-manifest-digest'];
  if (signed !== digest) return { ...res, reason: `payload signs ${signed}, not the image digest ${digest}` };
  return { ...res, valid: true };
}

async function checkAttestation(
  client: RegistryClient,
  repo: string,
  layer: { digest: string; annotations?: Record<string, string> },
  digest: string,
  pub: KeyObject,
): Promise<AttestationCheck> {
  const res: AttestationCheck = {
    layer: layer.digest,
    valid: false,
    predicateType: layer.annotations?.[PREDICATE_TYPE_ANNOTATION],
  };
  let env;
  try {
    env = zDsseEnvelope.parse(JSON.parse((await client.getBlob(repo, layer.digest)).toString('utf8')));
  } catch (e) {
    return { ...res, reason: `envelope unreadable: ${(e as Error).message}` };
  }
  const body = dsseVerify(pub, env);
  if (!body) return { ...res, reason: 'DSSE signature does not verify with this key' };
  let st: { subject?: Array<{ digest?: { sha256?: string } }>; predicateType?: string };
  try {
    st = JSON.parse(body.toString('utf8')) as typeof st;
  } catch {
    return { ...res, reason: 'statement is not JSON' };
  }
  const hex = digest.replace(/^sha256:/, '');
  if (!st.subject?.some((s) => s.digest?.sha256 === hex))
    return { ...res, reason: `statement subject is not ${digest}` };
  if (res.predicateType && st.predicateType !== res.predicateType)
    return { ...res, reason: 'predicateType annotation does not match the statement' };
  return { ...res, predicateType: st.predicateType, valid: true, statement: st };
}
