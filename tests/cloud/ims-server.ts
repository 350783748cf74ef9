// A loopback HTTP server speaking Huawei IMS's REST API (JSON) for the Huawei import tests
// (providers-huawei.test.ts, pipeline.test.ts). It recomputes each request's SDK-HMAC-SHA256 signature
// on its own, with node:crypto, from Huawei's published API Gateway signing algorithm (canonical
// request: method, URI-encoded path with a trailing slash, sorted query, the lower-cased signed headers
// with x-sdk-date and host, hex SHA-256 of the body; string to sign "SDK-HMAC-SHA256\n<x-sdk-date>\n<hex
// SHA-256 of the canonical request>"), checks the X-Project-Id header and the {project_id} of the path,
// and refuses a wrong one as API Gateway does (401, error_code APIGW.0301). It checks the shape of
// CreateImage's body and answers ShowJob from a script the test plans (INIT, RUNNING, SUCCESS with
// entities.image_id, FAIL with fail_reason). Not a real cloud.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

export const IMS_AK = 'HPUATESTEXAMPLEAK01';
export const IMS_SK = 'hw-Test-Secret-7fQ2mZx91LkR0pDe';
export const IMS_PROJECT = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const AK = IMS_AK;
const SK = IMS_SK;
const PROJECT = IMS_PROJECT;

/** RFC 3986 percent-encoding, as API Gateway's canonical request uses it (unreserved: A-Z a-z 0-9 - _ . ~). */
const uriEncode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256Hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** Why API Gateway would refuse the request's signature, or null when it verifies with AK/SK. */
function signatureProblem(req: IncomingMessage, body: Buffer): string | null {
  const m = /^SDK-HMAC-SHA256 Access=([^,]+), SignedHeaders=([^,]+), Signature=([a-f0-9]{64})$/.exec(
    req.headers.authorization ?? '',
  );
  if (!m) return 'no SDK-HMAC-SHA256 Authorization header';
  if (m[1] !== AK) return 'unknown access key';
  const signed = m[2]!.split(';');
  if (signed.join(';') !== [...signed].sort().join(';') || signed.some((h) => h !== h.toLowerCase()))
    return 'signed headers not sorted lower-case';
  if (!signed.includes('host') || !signed.includes('x-sdk-date')) return 'host and x-sdk-date must be signed';
  const date = String(req.headers['x-sdk-date'] ?? '');
  const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  if (!d) return 'bad x-sdk-date';
  const at = Date.UTC(+d[1]!, +d[2]! - 1, +d[3]!, +d[4]!, +d[5]!, +d[6]!);
  if (Math.abs(Date.now() - at) > 15 * 60_000) return 'x-sdk-date too far from now';
  const url = new URL(req.url!, 'http://ims.local');
  const path = url.pathname
    .split('/')
    .map((seg) => uriEncode(decodeURIComponent(seg)))
    .join('/');
  const query = [...url.searchParams.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
    .join('&');
  const headers = signed.map((h) => `${h}:${String(req.headers[h] ?? '').trim()}\n`).join('');
  const canonical = [
    req.method,
    path.endsWith('/') ? path : `${path}/`,
    query,
    headers,
    signed.join(';'),
    sha256Hex(body),
  ].join('\n');
  const toSign = `SDK-HMAC-SHA256\n${date}\n${sha256Hex(canonical)}`;
  const want = Buffer.from(createHmac('sha256', SK).update(toSign).digest('hex'));
  const got = Buffer.from(m[3]!);
  return timingSafeEqual(want, got) ? null : 'signature does not match';
}

/** CreateImage's body for a system disk image from an external file in OBS, as IMS documents it. */
const zCreateFromFile = z
  .object({
    name: z.string().min(1).max(128),
    description: z
      .string()
      .max(1024)
      .regex(/^[^\r\n<>]*$/)
      .optional(),
    image_url: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]:.+$/, '<bucket>:<object key>'),
    os_version: z.string().min(1),
    min_disk: z.number().int().min(1).max(1024),
    architecture: z.enum(['x86', 'arm']),
    type: z.enum(['ECS', 'BMS', 'FusionCompute', 'Ironic']),
    is_config: z.boolean(),
  })
  .strict();
export type CreateBody = z.infer<typeof zCreateFromFile>;

export interface JobAnswer {
  status: 'INIT' | 'RUNNING' | 'SUCCESS' | 'FAIL';
  imageId?: string;
  errorCode?: string;
  failReason?: string;
}

export interface ImsServer {
  endpoint: string;
  /** Every accepted CreateImage: its body and X-Project-Id. */
  created: { body: CreateBody; projectHeader: string }[];
  /** The job id of every ShowJob answered. */
  shown: string[];
  /** Job ids CreateImage hands out, in order, each with the ShowJob answers it gives (the last one repeats). */
  plannedJobs: { id: string; answers: JobAnswer[] }[];
  /** Why each refused request was refused (signature, project id). */
  refused: string[];
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req-0001' });
  res.end(JSON.stringify(body));
}
const apigRefuse = (s: ImsServer, res: ServerResponse, why: string) => {
  s.refused.push(why);
  send(res, 401, {
    error_code: 'APIGW.0301',
    error_msg: `Incorrect IAM authentication information: ${why}`,
    request_id: 'req-0001',
  });
};

function ims(
  s: ImsServer,
  jobs: Map<string, JobAnswer[]>,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
) {
  const problem = signatureProblem(req, body);
  if (problem) return apigRefuse(s, res, problem);
  const project = String(req.headers['x-project-id'] ?? '');
  if (project !== PROJECT) return apigRefuse(s, res, 'project id does not match the token');
  const path = new URL(req.url!, 'http://ims.local').pathname;
  if (req.method === 'POST' && path === '/v2/cloudimages/action') {
    const parsed = zCreateFromFile.safeParse(JSON.parse(body.toString() || '{}'));
    if (!parsed.success)
      return send(res, 400, { error: { code: 'IMG.0001', message: parsed.error.issues[0]!.message } });
    s.created.push({ body: parsed.data, projectHeader: project });
    const job = s.plannedJobs.shift();
    if (!job) return send(res, 500, { error: { code: 'IMG.0500', message: 'no job planned by the test' } });
    jobs.set(job.id, job.answers);
    return send(res, 200, { job_id: job.id });
  }
  const jm = /^\/v1\/([^/]+)\/jobs\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && jm) {
    if (jm[1] !== PROJECT) return apigRefuse(s, res, 'project id in the path does not match');
    if (body.length) return send(res, 400, { error: { code: 'IMG.0001', message: 'GET has no body' } });
    const answers = jobs.get(jm[2]!);
    if (!answers) return send(res, 404, { error: { code: 'IMG.0011', message: 'job not found' } });
    s.shown.push(jm[2]!);
    const a = answers.length > 1 ? answers.shift()! : answers[0]!;
    return send(res, 200, {
      status: a.status,
      entities: a.imageId ? { image_id: a.imageId } : {},
      job_id: jm[2],
      job_type: 'imsImportImageJob',
      begin_time: '02-Dec-2026 05:40:00:000',
      end_time: a.status === 'SUCCESS' || a.status === 'FAIL' ? '02-Dec-2026 05:52:00:000' : '',
      error_code: a.errorCode ?? null,
      fail_reason: a.failReason ?? null,
    });
  }
  send(res, 404, { error: { code: 'IMG.0404', message: `no route ${req.method} ${path}` } });
}

/** Start the server on a loopback port of its own. */
export async function startImsServer(): Promise<ImsServer> {
  const jobs = new Map<string, JobAnswer[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => ims(s, jobs, req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const s: ImsServer = {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    created: [],
    shown: [],
    plannedJobs: [],
    refused: [],
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  return s;
}
