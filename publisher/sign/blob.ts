// Signing files (a `.wsl`, next cloud images) as blobs: a Sigstore bundle (message signature over the
// file's bytes, media type application/vnd.dev.sigstore.bundle.v0.3+json) made by @sigstore/sign with
// the configured key (publisher/sign/keys.ts: $WHARF_SIGNING_KEY / $WHARF_SIGNING_KEY_FILE), with no
// transparency log or timestamp witnesses, and verified by @sigstore/verify against that public key.
// Keyless (Fulcio + Rekor with an OIDC token) is not wired yet.
import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { bundleFromJSON, bundleToJSON, type Bundle } from '@sigstore/bundle';
import { MessageSignatureBundleBuilder, type Signer } from '@sigstore/sign';
import { Verifier, toSignedEntity, type TrustMaterial } from '@sigstore/verify';
import { keyIdOf, type SigningKey } from './keys.ts';

export const BUNDLE_SUFFIX = '.sigstore.json';

export class BlobSignatureError extends Error {
  override name = 'BlobSignatureError';
}

/** A Sigstore bundle (JSON) signing `data` with `key`; the key hint is Wharf's key id. */
export async function signBlob(data: Buffer, key: SigningKey): Promise<unknown> {
  const signer: Signer = {
    sign: async (payload: Buffer) => ({
      signature: cryptoSign('sha256', payload, key.privateKey),
      key: {
        $case: 'publicKey',
        publicKey: key.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        hint: key.keyId,
      },
    }),
  };
  const bundle = await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({ data });
  return bundleToJSON(bundle);
}

export async function signFile(path: string, key: SigningKey): Promise<unknown> {
  return signBlob(await readFile(path), key);
}

/**
 * Check a bundle over `data` with a public key: the message digest matches and the signature
 * verifies. Returns the key id. Throws BlobSignatureError otherwise.
 */
export function verifyBlob(data: Buffer, bundleJson: unknown, publicKey: KeyObject): string {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(bundleJson);
  } catch (e) {
    throw new BlobSignatureError(`not a Sigstore bundle: ${(e as Error).message}`);
  }
  const keyId = keyIdOf(publicKey);
  const trust: TrustMaterial = {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: (hint: string) => {
      if (hint !== keyId) throw new BlobSignatureError(`the bundle was signed by key ${hint}, not ${keyId}`);
      return { publicKey, validFor: () => true };
    },
  };
  try {
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(
      toSignedEntity(bundle, data),
    );
  } catch (e) {
    if (e instanceof BlobSignatureError) throw e;
    throw new BlobSignatureError(`signature does not verify: ${(e as Error).message}`);
  }
  return keyId;
}
