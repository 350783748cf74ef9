// A loopback HTTP server speaking EC2's query protocol (XML) for the AWS import tests
// (providers-aws.test.ts, cli-import.test.ts). It recomputes each request's SigV4 signature with the
// test's credentials (@smithy/signature-v4 over the received method, path, signed headers and body)
// and refuses a wrong one with AuthFailure; it records every accepted request, answers ImportSnapshot
// with one task id, DescribeImportSnapshotTasks with `active` until `snapshotReady` says the snapshot
// is there, and RegisterImage with one image id. Not a real cloud.
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';

export const EC2_ID = 'AKIDTESTEXAMPLE';
export const EC2_SECRET = 'wJalrXUtnFEMI-test-secret-K7MDENG';
export const TASK_ID = 'import-snap-0123';
export const SNAPSHOT_ID = 'snap-0abc';
export const IMAGE_ID = 'ami-0def';

class Sha256 {
  private h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key = secret instanceof ArrayBuffer ? new Uint8Array(secret) : secret;
    this.h = key ? createHmac('sha256', key as string | Uint8Array) : createHash('sha256');
  }
  update(d: string | ArrayBuffer | ArrayBufferView) {
    this.h.update(d instanceof ArrayBuffer ? new Uint8Array(d) : (d as string | Uint8Array));
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

export interface Seen {
  action: string;
  params: URLSearchParams;
}

async function signatureOk(req: IncomingMessage, body: string): Promise<boolean> {
  const auth = req.headers.authorization ?? '';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([a-f0-9]{64})$/.exec(
      auth,
    );
  if (!m || m[1] !== EC2_ID) return false;
  const signed = m[5]!.split(';');
  const headers: Record<string, string> = {};
  for (const h of signed) headers[h] = String(req.headers[h] ?? '');
  const amzDate = String(req.headers['x-amz-date']);
  const date = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const signer = new SignatureV4({
    credentials: { accessKeyId: EC2_ID, secretAccessKey: EC2_SECRET },
    region: m[3]!,
    service: m[4]!,
    sha256: Sha256,
  });
  const url = new URL(req.url!, 'http://x');
  const out = await signer.sign(
    {
      method: req.method!,
      protocol: 'http:',
      hostname: headers.host!.split(':')[0]!,
      path: url.pathname,
      query: {},
      headers,
      body,
    },
    { signingDate: date },
  );
  return out.headers.authorization === auth;
}

const xml = (action: string, inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId>${inner}</${action}Response>`;

export interface Ec2Server {
  endpoint: string;
  /** Every request with a valid signature, in order. */
  seen: Seen[];
  /** Requests refused for a bad signature. */
  refused(): number;
  /** DescribeImportSnapshotTasks calls so far. */
  polls(): number;
  close(): Promise<void>;
}

/** Start the server; `snapshotReady(n)` says whether the n-th DescribeImportSnapshotTasks (from 1) finds it done. */
export async function startEc2Server(snapshotReady: (poll: number) => boolean): Promise<Ec2Server> {
  const seen: Seen[] = [];
  let refused = 0;
  let polls = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      void signatureOk(req, body).then((ok) => {
        if (!ok) {
          refused++;
          res.writeHead(401, { 'content-type': 'text/xml' });
          res.end(
            '<?xml version="1.0"?><Response><Errors><Error><Code>AuthFailure</Code><Message>signature does not match</Message></Error></Errors><RequestID>r</RequestID></Response>',
          );
          return;
        }
        const params = new URLSearchParams(body);
        const action = params.get('Action') ?? '';
        seen.push({ action, params });
        res.writeHead(200, { 'content-type': 'text/xml' });
        if (action === 'ImportSnapshot')
          res.end(
            xml(
              action,
              `<importTaskId>${TASK_ID}</importTaskId><snapshotTaskDetail><status>active</status></snapshotTaskDetail>`,
            ),
          );
        else if (action === 'DescribeImportSnapshotTasks') {
          polls++;
          res.end(
            xml(
              action,
              snapshotReady(polls)
                ? `<importSnapshotTaskSet><item><importTaskId>${TASK_ID}</importTaskId><snapshotTaskDetail><status>completed</status><snapshotId>${SNAPSHOT_ID}</snapshotId></snapshotTaskDetail></item></importSnapshotTaskSet>`
                : `<importSnapshotTaskSet><item><importTaskId>${TASK_ID}</importTaskId><snapshotTaskDetail><status>active</status><progress>40</progress></snapshotTaskDetail></item></importSnapshotTaskSet>`,
            ),
          );
        } else if (action === 'RegisterImage') res.end(xml(action, `<imageId>${IMAGE_ID}</imageId>`));
        else res.end(xml(action, ''));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    refused: () => refused,
    polls: () => polls,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
