// Keyless blob signing (the WSL and cloud files' sign stage with $WHARF_OIDC_TOKEN) against a fake Fulcio
// and Rekor (@sigstore/mock) on loopback: the bundle carries the Fulcio certificate for the token's
// identity and the Rekor entry, and @sigstore/verify accepts it against the mock's trusted root — the
// certificate chain, the embedded SCT, the log entry's signed timestamp, the identity and issuer — while a
// tampered file, another identity or another issuer fail.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier, type VerificationPolicy } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FULCIO_URL_ENV,
  REKOR_URL_ENV,
  signFileKeyless,
  verifyBlob,
  BlobSignatureError,
} from '../../publisher/sign/blob.ts';
import { generateSigningKeyPair, parsePublicKey } from '../../publisher/sign/keys.ts';
import { startMockSigstore, type MockSigstore } from '../helpers/sigstore.ts';

const EMAIL = 'release-bot@wharf.test';

let sigstore: MockSigstore;
let dir: string;
let file: string;
const data = Buffer.from('a .wsl file, or a cloud disk image\n'.repeat(1000));
let token: string;
let signed: { bundle: unknown; identity?: string };

/** Verify a bundle over `bytes` as a relying party would: the mock's trusted root, default thresholds. */
function verify(bytes: Buffer, bundle: unknown, policy: VerificationPolicy, root = sigstore.trustedRoot) {
  const trust = toTrustMaterial(TrustedRoot.fromJSON(root));
  return new Verifier(trust).verify(toSignedEntity(bundleFromJSON(bundle), bytes), policy);
}

beforeAll(async () => {
  sigstore = await startMockSigstore();
  dir = await mkdtemp(join(tmpdir(), 'wharf-keyless-'));
  file = join(dir, 'openEuler-24.03-amd64.wsl');
  await writeFile(file, data);
  token = sigstore.token(EMAIL);
  signed = await signFileKeyless(file, {
    token,
    env: { [FULCIO_URL_ENV]: sigstore.fulcioUrl, [REKOR_URL_ENV]: sigstore.rekorUrl },
  });
}, 60_000);
afterAll(async () => {
  await sigstore?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('keyless blob signing (mock Fulcio + Rekor on loopback)', () => {
  it('asks Fulcio for a certificate and Rekor for an entry, and records the identity', () => {
    expect(sigstore.requests.fulcio).toEqual(['POST /api/v2/signingCert']);
    expect(sigstore.requests.rekor).toEqual(['POST /api/v1/log/entries']);
    expect(signed.identity).toBe(EMAIL);
    const b = signed.bundle as {
      mediaType: string;
      verificationMaterial: {
        x509CertificateChain?: { certificates: { rawBytes: string }[] };
        tlogEntries: unknown[];
      };
      messageSignature?: { messageDigest: { algorithm: string } };
    };
    // @sigstore/sign writes message-signature bundles as v0.2: the leaf certificate in a chain.
    expect(b.mediaType).toBe('application/vnd.dev.sigstore.bundle+json;version=0.2');
    expect(b.verificationMaterial.x509CertificateChain?.certificates).toHaveLength(1);
    expect(b.verificationMaterial.x509CertificateChain?.certificates[0]!.rawBytes).toMatch(
      /^[A-Za-z0-9+/]+=*$/,
    );
    expect(b.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(b.messageSignature?.messageDigest.algorithm).toBe('SHA2_256');
    // The identity token is a credential: it is sent to Fulcio only, never stored in the bundle.
    expect(JSON.stringify(signed.bundle)).not.toContain(token.split('.')[1]!);
  });

  it('verifies against the mock trusted root, with the identity and issuer of the token', () => {
    const signer = verify(data, signed.bundle, {
      subjectAlternativeName: EMAIL,
      extensions: { issuer: sigstore.issuer },
    });
    expect(signer.identity?.subjectAlternativeName).toBe(EMAIL);
    expect(signer.identity?.extensions?.issuer).toBe(sigstore.issuer);
  });

  it('rejects a tampered file, another identity and another issuer', () => {
    const tampered = Buffer.from(data);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 2) ^ 1, tampered.length - 2);
    expect(() => verify(tampered, signed.bundle, { subjectAlternativeName: EMAIL })).toThrow(
      /signature|digest/i,
    );
    expect(() => verify(data, signed.bundle, { subjectAlternativeName: 'someone@else.test' })).toThrow(
      /identity|subject/i,
    );
    expect(() =>
      verify(data, signed.bundle, {
        subjectAlternativeName: EMAIL,
        extensions: { issuer: 'https://accounts.example.com' },
      }),
    ).toThrow(/issuer|extension/i);
  });

  it('does not verify against another Sigstore instance (another CA and logs)', async () => {
    const other = await startMockSigstore();
    try {
      expect(() => verify(data, signed.bundle, { subjectAlternativeName: EMAIL }, other.trustedRoot)).toThrow(
        /certificate|chain|tlog|log/i,
      );
    } finally {
      await other.stop();
    }
  });

  it('is not a key-signed bundle: verifying it with a Wharf public key fails', () => {
    const pub = parsePublicKey(generateSigningKeyPair().publicPem, 'test');
    expect(() => verifyBlob(data, signed.bundle, pub)).toThrow(BlobSignatureError);
  });
});
