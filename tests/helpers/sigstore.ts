// A fake Sigstore for tests: @sigstore/mock's Fulcio (an ephemeral CA with a CT log that embeds an SCT in
// every certificate) and Rekor (a transparency log answering with a signed entry timestamp) served by
// node:http on loopback ports of their own, plus the trusted root (trusted_root.json, as Sigstore's TUF
// repository distributes it) that names the mock's CA and logs, and OIDC identity tokens for it.
import { generateKeyPairSync, createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  rekorHandler,
  type HandlerFn,
} from '@sigstore/mock';

export interface MockSigstore {
  fulcioUrl: string;
  rekorUrl: string;
  /** The trusted root (JSON) naming the mock's CA, transparency log and CT log. */
  trustedRoot: unknown;
  /** The OIDC issuer the tokens name (the certificate's issuer extension). */
  issuer: string;
  /**
   * An OIDC identity token for `email` (email_verified: true, as @sigstore/sign requires for an email
   * claim). The mock Fulcio decodes the token without checking a signature, so it is not signed.
   */
  token(email: string): string;
  /** Requests each service answered, by path. */
  requests: { fulcio: string[]; rekor: string[] };
  stop(): Promise<void>;
}

const ecKeyPair = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

/** Serve one mock handler (POST `path`) on 127.0.0.1; everything else is 404. */
async function serve(path: string, fn: HandlerFn, seen: string[]): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      if (req.method !== 'POST' || req.url !== path) {
        res.writeHead(404).end();
        return;
      }
      fn(Buffer.concat(chunks).toString('utf8')).then(
        (r) => {
          res.writeHead(r.statusCode, { 'content-type': r.contentType ?? 'text/plain' });
          res.end(r.response);
        },
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const b64 = (b: Buffer | ArrayBufferView) =>
  Buffer.from(b instanceof Buffer ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).toString(
    'base64',
  );

export async function startMockSigstore(): Promise<MockSigstore> {
  const issuer = 'https://oidc.wharf.test';
  // Valid from a minute ago: certificates and log entries are made "now", after the root.
  const start = new Date(Date.now() - 60_000).toISOString();
  const ctlog = await initializeCTLog(ecKeyPair());
  const ca = await initializeCA(ecKeyPair(), ctlog);
  const requests = { fulcio: [] as string[], rekor: [] as string[] };
  const fulcio = await serve(
    '/api/v2/signingCert',
    fulcioHandler(ca, { subjectClaim: 'email' }).fn,
    requests.fulcio,
  );
  // The log's key is needed twice (the log signs, the trusted root names it): generate it here. The log
  // is made once its URL (port) is known; requests cannot arrive before.
  const rekorKey = ecKeyPair();
  const log: { fn?: HandlerFn } = {};
  const rekor = await serve('/api/v1/log/entries', (body) => log.fn!(body), requests.rekor);
  log.fn = rekorHandler(await initializeTLog(rekor.url, rekorKey)).fn;
  const rekorDer = rekorKey.publicKey.export({ format: 'der', type: 'spki' });
  const key = (der: Buffer) => ({
    rawBytes: b64(der),
    keyDetails: 'PKIX_ECDSA_P256_SHA_256',
    validFor: { start },
  });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: rekor.url,
        hashAlgorithm: 'SHA2_256',
        publicKey: key(rekorDer),
        logId: { keyId: b64(createHash('sha256').update(rekorDer).digest()) },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: fulcio.url,
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: 'https://ctfe.wharf.test',
        hashAlgorithm: 'SHA2_256',
        publicKey: key(ctlog.publicKey),
        logId: { keyId: b64(ctlog.logID) },
      },
    ],
    timestampAuthorities: [],
  };
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return {
    fulcioUrl: fulcio.url,
    rekorUrl: rekor.url,
    trustedRoot,
    issuer,
    requests,
    token: (email) =>
      [
        part({ alg: 'none', typ: 'JWT' }),
        part({
          iss: issuer,
          sub: email,
          aud: 'sigstore',
          email,
          email_verified: true,
          iat: now,
          exp: now + 3600,
        }),
        '',
      ].join('.'),
    async stop() {
      for (const s of [fulcio.server, rekor.server])
        await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
