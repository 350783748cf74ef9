// Signing keys: ECDSA P-256 in PEM, as cosign uses them. The private key comes from
// $WHARF_SIGNING_KEY (PEM text) or $WHARF_SIGNING_KEY_FILE (a path), PKCS#8 (`BEGIN PRIVATE KEY`,
// or `BEGIN ENCRYPTED PRIVATE KEY` with $COSIGN_PASSWORD) or SEC1 (`BEGIN EC PRIVATE KEY`). Key
// material never appears in an error message, a log line or a record: only the key id, the sha256 of
// the public key's DER (SubjectPublicKeyInfo), does.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';

export const KEY_ENV = 'WHARF_SIGNING_KEY';
export const KEY_FILE_ENV = 'WHARF_SIGNING_KEY_FILE';
export const PASSWORD_ENV = 'COSIGN_PASSWORD';

export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** sha256:<hex> of the public key's SubjectPublicKeyInfo DER. */
  keyId: string;
  /** Where the key came from (the variable name or file path), for messages. */
  source: string;
}

export function keyIdOf(pub: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex')}`;
}

function assertP256(k: KeyObject, source: string): void {
  if (k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new SigningKeyError(`the key from ${source} is not an ECDSA P-256 key`);
}

/** Parse a private key PEM; the error names the source, never the content. */
export function parsePrivateKey(pem: string, source: string, password?: string): SigningKey {
  if (!/-----BEGIN (?:ENCRYPTED |EC )?PRIVATE KEY-----/.test(pem))
    throw new SigningKeyError(
      `${source} does not hold a PEM private key (expected PKCS#8 or EC PRIVATE KEY; cosign's own encrypted format must be converted with 'openssl pkcs8')`,
    );
  const encrypted = pem.includes('BEGIN ENCRYPTED PRIVATE KEY');
  if (encrypted && !password)
    throw new SigningKeyError(`the key from ${source} is encrypted: set ${PASSWORD_ENV}`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({
      key: pem,
      format: 'pem',
      ...(encrypted ? { passphrase: password } : {}),
    });
  } catch {
    // Node's own message is about the parse; it never contains key bytes, but we say less anyway.
    throw new SigningKeyError(
      encrypted
        ? `the key from ${source} could not be decrypted (wrong ${PASSWORD_ENV}?)`
        : `the key from ${source} could not be parsed`,
    );
  }
  assertP256(privateKey, source);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), source };
}

/** The configured signing key, or null when none is configured. */
export async function loadSigningKey(env: NodeJS.ProcessEnv = process.env): Promise<SigningKey | null> {
  const password = env[PASSWORD_ENV] || undefined;
  const inline = env[KEY_ENV];
  if (inline && inline.trim()) return parsePrivateKey(inline, `$${KEY_ENV}`, password);
  const file = env[KEY_FILE_ENV];
  if (file && file.trim()) {
    let pem: string;
    try {
      pem = await readFile(file, 'utf8');
    } catch (e) {
      throw new SigningKeyError(
        `cannot read the signing key file named by $${KEY_FILE_ENV} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    return parsePrivateKey(pem, `$${KEY_FILE_ENV}`, password);
  }
  return null;
}

/** Parse a PEM public key (SubjectPublicKeyInfo, as `cosign.pub`) or take the public half of a private key. */
export function parsePublicKey(pem: string, source: string): KeyObject {
  let k: KeyObject;
  try {
    k = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new SigningKeyError(`${source} is not a PEM public key`);
  }
  assertP256(k, source);
  return k;
}

/** A new P-256 key pair as PEM: PKCS#8 private key (encrypted with AES-256-CBC when a password is
 * given) and SubjectPublicKeyInfo public key, which `cosign verify --key` reads. */
export function generateSigningKeyPair(password?: string): {
  privatePem: string;
  publicPem: string;
  keyId: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privatePem = privateKey.export({
    type: 'pkcs8',
    format: 'pem',
    ...(password ? { cipher: 'aes-256-cbc', passphrase: password } : {}),
  }) as string;
  return {
    privatePem,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    keyId: keyIdOf(publicKey),
  };
}
