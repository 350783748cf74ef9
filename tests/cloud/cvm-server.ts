// A loopback HTTP server speaking Tencent Cloud API 3.0 for the CVM import tests
// (providers-tencent.test.ts, pipeline.test.ts): POST / with a JSON body and X-TC-* headers; answers
// {Response: {…, RequestId}}, failures as {Response: {Error: {Code, Message}, RequestId}}. It recomputes
// every request's TC3-HMAC-SHA256 signature with node:crypto from the published algorithm (canonical
// request, string to sign, the TC3 key chain) and the test's secret, and refuses a wrong one with
// AuthFailure.SignatureFailure; it checks the request shapes (X-TC-Action/Version/Region, ImportImage's
// fields against the OS list it serves) and keeps an image table DescribeImages reports from: an
// import runs for one poll, then ends (failed for images named "broken", else NORMAL). Not a real cloud.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export const CVM_ID = 'AKIDtencentLoopbackTestId';
export const CVM_SECRET = 'tc-loopback-secret-Q9xV2mK7';
export const CVM_REGION = 'ap-guangzhou';
const ID = CVM_ID;
const SECRET = CVM_SECRET;
const REGION = CVM_REGION;
export interface Call {
  action: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}
export interface FakeImage {
  ImageId: string;
  ImageName: string;
  ImageState: string;
  CreatedTime: string;
  Architecture: string;
  polls: number;
}

/** The OS list DescribeImportImageOs serves (test data in Tencent's shape, not Tencent's real list). */
export const OS_LIST = {
  ImportImageOsListSupported: {
    Linux: ['CentOS', 'Ubuntu', 'Debian', 'OpenEuler', 'Other Linux'],
    Windows: ['Windows Server 2019'],
  },
  ImportImageOsVersionSet: [
    { OsName: 'CentOS', OsVersions: ['7', '8'], Architecture: ['x86_64'] },
    { OsName: 'OpenEuler', OsVersions: ['22.03', '24.03'], Architecture: ['x86_64', 'arm_64'] },
    { OsName: 'Other Linux', OsVersions: ['-'], Architecture: ['x86_64', 'arm_64'] },
  ],
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const hmac = (key: string | Buffer, s: string) => createHmac('sha256', key).update(s).digest();

/** Tencent's TC3-HMAC-SHA256 check, recomputed here; the error code Tencent answers, or undefined. */
function signatureError(req: IncomingMessage, body: string): string | undefined {
  const m =
    /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([a-z0-9]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([a-f0-9]{64})$/.exec(
      String(req.headers.authorization ?? ''),
    );
  if (!m) return 'AuthFailure.InvalidAuthorization';
  const [, id, date, service, signedHeaders, signature] = m as unknown as string[];
  if (id !== ID) return 'AuthFailure.SecretIdNotFound';
  const ts = Number(req.headers['x-tc-timestamp']);
  if (!Number.isInteger(ts) || Math.abs(Date.now() / 1000 - ts) > 300) return 'AuthFailure.SignatureExpire';
  if (new Date(ts * 1000).toISOString().slice(0, 10) !== date) return 'AuthFailure.InvalidAuthorization';
  // The signed host is the endpoint's host name (the SDK signs it without the port), and the SDK names
  // the service by its first label (cvm.tencentcloudapi.com → cvm; this loopback endpoint's is 127).
  const host = new URL(`http://${req.headers.host}`).hostname;
  if (service !== host.split('.')[0]) return 'AuthFailure.InvalidAuthorization';
  const names = signedHeaders!.split(';');
  if (!names.includes('content-type') || !names.includes('host')) return 'AuthFailure.InvalidAuthorization';
  const value = (n: string) => (n === 'host' ? host : String(req.headers[n] ?? ''));
  const url = new URL(req.url!, 'http://x');
  const canonicalRequest = [
    req.method,
    url.pathname,
    url.search.slice(1),
    names.map((n) => `${n}:${value(n).trim().toLowerCase()}\n`).join(''),
    signedHeaders,
    sha256(body),
  ].join('\n');
  const scope = `${date}/${service}/tc3_request`;
  const stringToSign = `TC3-HMAC-SHA256\n${ts}\n${scope}\n${sha256(canonicalRequest)}`;
  const kDate = hmac(`TC3${SECRET}`, date!);
  const kService = hmac(kDate, service!);
  const kSigning = hmac(kService, 'tc3_request');
  const expected = createHmac('sha256', kSigning).update(stringToSign).digest();
  const got = Buffer.from(signature!, 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected)
    ? undefined
    : 'AuthFailure.SignatureFailure';
}

const MESSAGES: Record<string, string> = {
  'AuthFailure.SignatureFailure':
    'The provided credentials could not be validated. Please check your signature is correct.',
  'AuthFailure.SecretIdNotFound': 'The SecretId is not found, please ensure that your SecretId is correct.',
  'AuthFailure.SignatureExpire':
    'Signature expired. Timestamp and server time cannot differ by more than five minutes.',
  'AuthFailure.InvalidAuthorization': 'Authorization in the request header is invalid.',
};

export interface CvmServer {
  endpoint: string;
  /** Every request that passed the signature check, in order. */
  calls: Call[];
  /** The image table: one entry per accepted ImportImage. */
  images: FakeImage[];
  /** The error code of every request refused for its signature. */
  refused: string[];
  /** Whether ImportImage answers with the new image's id (older API versions did not). */
  answerImageId: boolean;
  /** Requests received, signed or not. */
  requests(): number;
  close(): Promise<void>;
}

/** What the API answers for one authenticated request: the Response's fields, or an error [code, message]. */
function answer(
  state: Pick<CvmServer, 'images' | 'answerImageId'>,
  action: string,
  b: Record<string, unknown>,
): Record<string, unknown> | [string, string] {
  const { images } = state;
  switch (action) {
    case 'DescribeImportImageOs':
      return OS_LIST;
    case 'ImportImage': {
      const missing = ['Architecture', 'OsType', 'OsVersion', 'ImageUrl', 'ImageName'].filter(
        (k) => typeof b[k] !== 'string' || !b[k],
      );
      if (missing.length)
        return ['MissingParameter', `The request is missing a required parameter ${missing[0]}.`];
      if (!['x86_64', 'i386', 'arm_64'].includes(b.Architecture as string))
        return ['InvalidParameterValue', `Architecture ${String(b.Architecture)} is not supported.`];
      const os = OS_LIST.ImportImageOsVersionSet.find((o) => o.OsName === b.OsType);
      if (!os || !os.OsVersions.includes(b.OsVersion as string))
        return [
          'InvalidParameterValue',
          `OsType ${String(b.OsType)} ${String(b.OsVersion)} is not supported.`,
        ];
      if (!os.Architecture.includes(b.Architecture as string))
        return ['InvalidParameterValue', `${os.OsName} does not support ${String(b.Architecture)}.`];
      if ((b.ImageName as string).length > 60)
        return ['InvalidParameterValue', 'ImageName is longer than 60 characters.'];
      if (b.BootMode !== undefined && !['Legacy BIOS', 'UEFI'].includes(b.BootMode as string))
        return ['InvalidParameterValue', `BootMode ${String(b.BootMode)} is not supported.`];
      if (!/^https?:\/\//.test(b.ImageUrl as string) || (b.ImageUrl as string).includes('unreadable'))
        return ['InvalidParameterValue', `The image file at ImageUrl ${String(b.ImageUrl)} cannot be read.`];
      const img: FakeImage = {
        ImageId: `img-${String(images.length + 1).padStart(8, '0')}`,
        ImageName: b.ImageName as string,
        ImageState: 'IMPORTING',
        CreatedTime: new Date(Date.now() + images.length * 1000).toISOString().slice(0, 19) + 'Z',
        Architecture: b.Architecture === 'arm_64' ? 'arm' : (b.Architecture as string),
        polls: 0,
      };
      images.push(img);
      return state.answerImageId ? { ImageId: img.ImageId } : {};
    }
    case 'DescribeImages': {
      const ids = b.ImageIds as string[] | undefined;
      const filters = (b.Filters as { Name: string; Values: string[] }[] | undefined) ?? [];
      if (ids && filters.length)
        return ['InvalidParameterValue', 'ImageIds and Filters cannot be specified at the same time.'];
      let set: FakeImage[];
      if (ids) {
        const unknown = ids.filter((i) => !images.some((x) => x.ImageId === i));
        if (unknown.length) return ['InvalidImageId.NotFound', `The image ${unknown[0]} does not exist.`];
        set = images.filter((x) => ids.includes(x.ImageId));
      } else {
        set = images.filter((x) =>
          filters.every((f) =>
            f.Name === 'image-name'
              ? f.Values.some((v) => x.ImageName.includes(v)) // fuzzy, as Tencent documents
              : f.Name === 'image-type'
                ? f.Values.includes('PRIVATE_IMAGE')
                : false,
          ),
        );
      }
      // An import runs for one poll, then ends: failed for images named "broken", else NORMAL.
      for (const x of set) {
        x.polls++;
        if (x.polls >= 2 && x.ImageState === 'IMPORTING')
          x.ImageState = x.ImageName.includes('broken') ? 'IMPORTFAILED' : 'NORMAL';
      }
      return {
        TotalCount: set.length,
        ImageSet: set.map(({ polls: _polls, ...x }) => ({
          ...x,
          ImageType: 'PRIVATE_IMAGE',
          ImageSource: 'EXTERNAL_IMPORT',
        })),
      };
    }
    default:
      return ['InvalidAction', `The action ${action} does not exist.`];
  }
}

/** Start the server on a loopback port of its own. */
export async function startCvmServer(): Promise<CvmServer> {
  let requests = 0;
  const state = { images: [] as FakeImage[], answerImageId: true };
  const calls: Call[] = [];
  const refused: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const requestId = `req-${++requests}`;
      const send = (response: Record<string, unknown>) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Response: { ...response, RequestId: requestId } }));
      };
      const fail = (code: string, message: string) => send({ Error: { Code: code, Message: message } });
      const authError = signatureError(req, body);
      if (authError) {
        refused.push(authError);
        return fail(authError, MESSAGES[authError]!);
      }
      const action = String(req.headers['x-tc-action'] ?? '');
      if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/json'))
        return fail('InvalidParameter', 'Expected a POST with a JSON body.');
      if (req.headers['x-tc-version'] !== '2017-03-12')
        return fail('InvalidParameter', `Version ${String(req.headers['x-tc-version'])} is not supported.`);
      if (req.headers['x-tc-region'] !== REGION)
        return fail('UnsupportedRegion', `Region ${String(req.headers['x-tc-region'])} is not supported.`);
      const parsed = JSON.parse(body || '{}') as Record<string, unknown>;
      calls.push({ action, headers: req.headers, body: parsed });
      const out = answer(state, action, parsed);
      if (Array.isArray(out)) fail(out[0], out[1]);
      else send(out);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const s: CvmServer = {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    get images() {
      return state.images;
    },
    refused,
    requests: () => requests,
    get answerImageId() {
      return state.answerImageId;
    },
    set answerImageId(v: boolean) {
      state.answerImageId = v;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  return s;
}
