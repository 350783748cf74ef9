// A loopback HTTP server speaking Alibaba ECS's RPC API as its SDK (signature method V3) sends it, for
// the Alibaba import tests (providers-alibaba.test.ts, pipeline.test.ts): the action and version in
// x-acs-action/x-acs-version, the parameters in the query. It recomputes each request's
// ACS3-HMAC-SHA256 signature itself with node:crypto from Alibaba's published algorithm (canonical
// request over method, path, sorted RFC 3986-encoded query, the signed x-acs-*/host headers and the
// body's SHA-256; HMAC-SHA256 with the secret) and refuses a wrong one as ECS does (HTTP 400, Code
// SignatureDoesNotMatch, RequestId, and a message that goes on with the server's string to sign),
// refuses a replayed nonce, and checks the request shapes (ImportImage's DiskDeviceMapping;
// DescribeImages' Status list). DescribeImages answers each image from the script the test gives per
// image name. Not a real cloud.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const ECS_ID = 'LTAI5tTestAccessKeyId';
export const ECS_SECRET = 'alibaba-test-secret-9f3KxQ2vLm';
const ID = ECS_ID;
const SECRET = ECS_SECRET;

/** Per image name: the states successive DescribeImages calls see (the last one repeats). */
export type EcsScript = Record<string, { status: string; progress: string }[]>;

export interface Seen {
  action: string;
  params: URLSearchParams;
  headers: IncomingMessage['headers'];
}

export interface EcsServer {
  endpoint: string;
  /** Every request that passed the signature check, in order. */
  seen: Seen[];
  /** Requests refused for their signature so far. */
  refused(): number;
  close(): Promise<void>;
}

interface State {
  script: EcsScript;
  seen: Seen[];
  nonces: Set<string>;
  refused: number;
  images: Map<string, Image>;
}

interface Image {
  id: string;
  taskId: string;
  name: string;
  polls: number;
}

// RFC 3986 percent-encoding as the V3 canonical query string wants it (space as %20, ~ kept).
const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** Why the request's V3 signature is not the one the secret makes, or undefined when it is. */
function signatureProblem(
  nonces: Set<string>,
  req: IncomingMessage,
  body: Buffer,
): { code: string; message: string } | undefined {
  const m = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([a-f0-9]{64})$/.exec(
    req.headers.authorization ?? '',
  );
  if (!m) return { code: 'IncompleteSignature', message: 'The request signature is incomplete.' };
  if (m[1] !== ID)
    return { code: 'InvalidAccessKeyId.NotFound', message: 'Specified access key is not found.' };
  const signed = m[2]!.split(';');
  // Alibaba: every x-acs-* header and host must be signed, names lowercase and sorted.
  const mustSign = Object.keys(req.headers).filter((h) => h === 'host' || h.startsWith('x-acs-'));
  if (mustSign.some((h) => !signed.includes(h)) || signed.join(';') !== [...signed].sort().join(';'))
    return { code: 'IncompleteSignature', message: 'Some x-acs-* headers are not signed.' };
  if (req.headers['x-acs-content-sha256'] !== sha256hex(body))
    return { code: 'InvalidParameter', message: 'x-acs-content-sha256 is not the body hash.' };
  const date = Date.parse(String(req.headers['x-acs-date']));
  if (!(Math.abs(Date.now() - date) < 15 * 60_000))
    return { code: 'InvalidTimeStamp.Expired', message: 'The x-acs-date is outside 15 minutes.' };
  const url = new URL(req.url!, 'http://x');
  const query = [...url.searchParams]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headers = signed.map((h) => `${h}:${String(req.headers[h] ?? '').trim()}\n`).join('');
  const canonical = [
    req.method,
    url.pathname,
    query,
    headers,
    signed.join(';'),
    req.headers['x-acs-content-sha256'],
  ].join('\n');
  const toSign = `ACS3-HMAC-SHA256\n${sha256hex(canonical)}`;
  const expected = createHmac('sha256', SECRET).update(toSign).digest('hex');
  if (expected !== m[3])
    return {
      code: 'SignatureDoesNotMatch',
      // As ECS answers: the message carries the server's string to sign (the adapter must cut it).
      message: `The request signature does not conform to Aliyun standards. server string to sign is:${toSign}`,
    };
  const nonce = String(req.headers['x-acs-signature-nonce'] ?? '');
  if (!nonce || nonces.has(nonce))
    return { code: 'SignatureNonceUsed', message: 'The request signature nonce has been used.' };
  nonces.add(nonce);
  return undefined;
}

function answer(res: ServerResponse, status: number, body: object) {
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' });
  res.end(JSON.stringify({ RequestId: randomUUID().toUpperCase(), ...body }));
}
const fail = (res: ServerResponse, status: number, code: string, message: string) =>
  answer(res, status, {
    HostId: 'ecs.cn-hangzhou.aliyuncs.com',
    Code: code,
    Message: message,
    Recommend: `https://api.aliyun.com/troubleshoot?q=${code}`,
  });

function handle(s: State, req: IncomingMessage, res: ServerResponse, body: Buffer) {
  const { images, script: SCRIPT } = s;
  const problem = signatureProblem(s.nonces, req, body);
  if (problem) {
    s.refused++;
    return fail(
      res,
      problem.code === 'InvalidAccessKeyId.NotFound' ? 404 : 400,
      problem.code,
      problem.message,
    );
  }
  const action = String(req.headers['x-acs-action'] ?? '');
  const params = new URL(req.url!, 'http://x').searchParams;
  s.seen.push({ action, params, headers: req.headers });
  if (req.method !== 'POST' || req.headers['x-acs-version'] !== '2014-05-26')
    return fail(res, 400, 'InvalidVersion', 'Specified parameter Version is not valid.');
  const region = params.get('RegionId');
  if (region !== 'cn-hangzhou') return fail(res, 400, 'MissingRegionId', 'RegionId is mandatory.');
  if (action === 'ImportImage') {
    const name = params.get('ImageName') ?? '';
    for (const p of ['OSSBucket', 'OSSObject', 'Format', 'DiskImageSize'])
      if (!params.get(`DiskDeviceMapping.1.${p}`))
        return fail(res, 400, `MissingDiskDeviceMapping.${p}`, `DiskDeviceMapping.1.${p} is mandatory.`);
    if (!SCRIPT[name]) return fail(res, 400, 'InvalidImageName.Malformed', 'unknown test image name');
    const n = images.size + 1;
    const img: Image = { id: `m-bp1imp${n}test`, taskId: `t-bp1imp${n}task`, name, polls: 0 };
    images.set(img.id, img);
    return answer(res, 200, { ImageId: img.id, TaskId: img.taskId, RegionId: region });
  }
  if (action === 'DescribeImages') {
    const img = images.get(params.get('ImageId') ?? '');
    const script = img ? SCRIPT[img.name]! : [];
    const state = img ? script[Math.min(img.polls++, script.length - 1)]! : undefined;
    // As ECS does: without Status only Available images are listed.
    const wanted = (params.get('Status') ?? 'Available').split(',');
    const list =
      img && state && wanted.includes(state.status)
        ? [{ ImageId: img.id, ImageName: img.name, Status: state.status, Progress: state.progress }]
        : [];
    return answer(res, 200, {
      RegionId: region,
      TotalCount: list.length,
      PageNumber: 1,
      PageSize: 10,
      Images: { Image: list },
    });
  }
  if (action === 'DescribeTaskAttribute') {
    const img = [...images.values()].find((i) => i.taskId === params.get('TaskId'));
    if (!img) return fail(res, 404, 'InvalidTaskId.NotFound', 'The specified task is not found.');
    const broken = img.name.startsWith('broken');
    return answer(res, 200, {
      RegionId: region,
      TaskId: img.taskId,
      TaskAction: 'ImportImage',
      TaskStatus: broken ? 'Failed' : 'Processing',
      TaskProcess: broken ? '12%' : '50%',
      SupportCancel: 'false',
      TotalCount: 1,
      SuccessCount: 0,
      FailedCount: broken ? 1 : 0,
      OperationProgressSet: {
        OperationProgress: [
          {
            OperationStatus: broken ? 'Failed' : 'Processing',
            ...(broken
              ? { ErrorCode: 'ImageCheck.Failed', ErrorMsg: 'The image file has no valid partition table.' }
              : {}),
            RelatedItemSet: { RelatedItem: [{ Name: 'ImageId', Value: img.id }] },
          },
        ],
      },
    });
  }
  return fail(res, 400, 'InvalidAction.NotFound', `Specified api ${action} is not found.`);
}

/** Start the server on a loopback port of its own; ImportImage takes only the image names in `script`. */
export async function startEcsServer(script: EcsScript): Promise<EcsServer> {
  const s: State = { script, seen: [], nonces: new Set(), refused: 0, images: new Map() };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(s, req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen: s.seen,
    refused: () => s.refused,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
