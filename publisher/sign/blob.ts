// Signing files (a `.wsl`, a cloud image) as blobs: a Sigstore bundle (message signature over the file's
// bytes; @sigstore/sign 5 writes it as application/vnd.dev.sigstore.bundle+json;version=0.2) made with
// the configured key (publisher/sign/keys.ts: $WHARF_SIGNING_KEY / $WHARF_SIGNING_KEY_FILE), with no
// transparency log or timestamp witnesses, and verified by @sigstore/verify against that public key.
// Keyless: with an OIDC identity token, an ephemeral key certified by Fulcio ($WHARF_FULCIO_URL, default
// Sigstore's public instance) and the signature logged in Rekor ($WHARF_REKOR_URL); the bundle then
// carries the certificate and the log entry (verify it with `cosign verify-blob --bundle` or sigstore-js;
// tests/sign/blob-keyless.test.ts does, against @sigstore/mock's Fulcio and Rekor on loopback).
import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { bundleFromJSON, bundleToJSON, type Bundle } from '@sigstore/bundle';
import {
  DEFAULT_FULCIO_URL,
  DEFAULT_REKOR_URL,
  FulcioSigner,
  MessageSignatureBundleBuilder,
  RekorWitness,
  type Signer,
} from '@sigstore/sign';
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

export const FULCIO_URL_ENV = 'WHARF_FULCIO_URL';
export const REKOR_URL_ENV = 'WHARF_REKOR_URL';

/** The identity an OIDC token names (email, else subject), read from its payload for the record only. */
export function tokenIdentity(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      email?: unknown;
      sub?: unknown;
    };
    const id = typeof payload.email === 'string' ? payload.email : payload.sub;
    return typeof id === 'string' && id.length <= 256 ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Keyless: a bundle with a Fulcio certificate for the token's identity and a Rekor entry. */
export async function signFileKeyless(
  path: string,
  opts: { token: string; env?: NodeJS.ProcessEnv },
): Promise<{ bundle: unknown; identity?: string }> {
  const env = opts.env ?? process.env;
  const signer = new FulcioSigner({
    fulcioBaseURL: env[FULCIO_URL_ENV] || DEFAULT_FULCIO_URL,
    identityProvider: { getToken: () => Promise.resolve(opts.token) },
  });
  const rekor = new RekorWitness({ rekorBaseURL: env[REKOR_URL_ENV] || DEFAULT_REKOR_URL });
  const bundle = await new MessageSignatureBundleBuilder({ signer, witnesses: [rekor] }).create({
    data: await readFile(path),
  });
  const identity = tokenIdentity(opts.token);
  return { bundle: bundleToJSON(bundle), ...(identity ? { identity } : {}) };
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
