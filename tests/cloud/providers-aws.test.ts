// Contract test of the AWS import adapter against a loopback server speaking EC2's query protocol: it
// recomputes each request's SigV4 signature with the test's credentials (@smithy/signature-v4 over the
// received method, path, signed headers and body) and refuses a wrong one, and checks the request
// shapes (ImportSnapshot's DiskContainer and RoleName, RegisterImage's EBS root, UEFI, ENA). Not a real
// cloud. The import stage runs through the runner on a real git catalog: the task id is committed at
// start, the next run polls it (never a second ImportSnapshot), and no secret appears in any output.
import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudImportStage } from '../../publisher/cloud/providers/index.ts';
import { runStage } from '../../publisher/pipeline/index.ts';
import type { StageContext } from '../../publisher/stage.ts';
import { fakePublish, openImportCatalog, TAG, type ImportCatalog } from './import-catalog.ts';

const ID = 'AKIDTESTEXAMPLE';
const SECRET = 'wJalrXUtnFEMI-test-secret-K7MDENG';

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

interface Seen {
  action: string;
  params: URLSearchParams;
}
const seen: Seen[] = [];
let refused = 0;
let polls = 0;
let server: Server;
let endpoint: string;

async function signatureOk(req: import('node:http').IncomingMessage, body: string): Promise<boolean> {
  const auth = req.headers.authorization ?? '';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([a-f0-9]{64})$/.exec(
      auth,
    );
  if (!m || m[1] !== ID) return false;
  const signed = m[5]!.split(';');
  const headers: Record<string, string> = {};
  for (const h of signed) headers[h] = String(req.headers[h] ?? '');
  const amzDate = String(req.headers['x-amz-date']);
  const date = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const signer = new SignatureV4({
    credentials: { accessKeyId: ID, secretAccessKey: SECRET },
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

beforeAll(async () => {
  server = createServer((req, res) => {
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
              '<importTaskId>import-snap-0123</importTaskId><snapshotTaskDetail><status>active</status></snapshotTaskDetail>',
            ),
          );
        else if (action === 'DescribeImportSnapshotTasks') {
          polls++;
          res.end(
            xml(
              action,
              polls < 2
                ? '<importSnapshotTaskSet><item><importTaskId>import-snap-0123</importTaskId><snapshotTaskDetail><status>active</status><progress>40</progress></snapshotTaskDetail></item></importSnapshotTaskSet>'
                : '<importSnapshotTaskSet><item><importTaskId>import-snap-0123</importTaskId><snapshotTaskDetail><status>completed</status><snapshotId>snap-0abc</snapshotId></snapshotTaskDetail></item></importSnapshotTaskSet>',
            ),
          );
        } else if (action === 'RegisterImage') res.end(xml(action, '<imageId>ami-0def</imageId>'));
        else res.end(xml(action, ''));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('AWS import adapter (loopback EC2 contract server)', () => {
  let cat: ImportCatalog;
  let ctx: StageContext;
  beforeAll(async () => {
    cat = await openImportCatalog(
      [
        {
          name: 'aws-use1',
          provider: 'aws',
          region: 'us-east-1',
          objectStorage: 'images',
          endpoint,
          imageName: '{app}-{id}-{arch}',
        },
      ],
      { AWS_ACCESS_KEY_ID: ID, AWS_SECRET_ACCESS_KEY: SECRET },
    );
    ctx = cat.ctx;
  });
  afterAll(async () => {
    await cat.close();
  });
  const target = () => cat.target();

  it('refuses a request signed with a wrong secret', async () => {
    const before = refused;
    const r = await cloudImportStage(
      { ...ctx, env: { AWS_ACCESS_KEY_ID: ID, AWS_SECRET_ACCESS_KEY: 'wrong-secret-value' } },
      await cat.published(),
    );
    expect(refused).toBeGreaterThan(before);
    expect(r.verdict).toBe('failed');
    expect(r.write?.record.targets[0]).toMatchObject({ target: 'aws-use1', state: 'failed' });
    expect(JSON.stringify(r)).not.toContain('wrong-secret-value');
    expect(seen).toHaveLength(0);
  });

  it('starts ImportSnapshot once, commits the task id, polls on later runs, then registers a UEFI ENA image', async () => {
    await runStage(ctx, 'publish', fakePublish, await target());
    const o1 = await runStage(ctx, 'import', cloudImportStage, await target());
    expect(o1).toMatchObject({ verdict: 'done', status: 'running' });
    expect(o1.commit).toMatch(/^[a-f0-9]{40}$/);
    let a = (await target()).artifact!;
    expect(a.records.import?.targets[0]).toMatchObject({
      target: 'aws-use1',
      provider: 'aws',
      region: 'us-east-1',
      taskId: 'import-snap-0123',
      state: 'running',
      format: 'vhd',
    });
    expect(a.pending?.reason).toBe('import running');
    const imp = seen.find((s) => s.action === 'ImportSnapshot')!.params;
    expect(imp.get('DiskContainer.Format')).toBe('VHD');
    expect(imp.get('DiskContainer.UserBucket.S3Bucket')).toBe('wharf-images');
    expect(imp.get('DiskContainer.UserBucket.S3Key')).toBe(`demo/${TAG}/disk.vhd`);
    expect(imp.get('RoleName')).toBe('vmimport');

    // "restart": a new run reads the task id from the record and polls (still active)
    const o2 = await runStage(
      { ...ctx, runId: '20261202T040000Z-abcdef' },
      'import',
      cloudImportStage,
      await target(),
    );
    expect(o2.status).toBe('running');
    const o3 = await runStage(ctx, 'import', cloudImportStage, await target());
    expect(o3).toMatchObject({ verdict: 'done', status: 'ok' });
    expect(seen.filter((s) => s.action === 'ImportSnapshot')).toHaveLength(1);
    expect(
      seen
        .filter((s) => s.action === 'DescribeImportSnapshotTasks')
        .map((s) => s.params.get('ImportTaskId.1')),
    ).toEqual(['import-snap-0123', 'import-snap-0123']);
    const reg = seen.find((s) => s.action === 'RegisterImage')!.params;
    expect(reg.get('Name')).toBe(`demo-${TAG}-amd64`);
    expect(reg.get('BootMode')).toBe('uefi');
    expect(reg.get('EnaSupport')).toBe('true');
    expect(reg.get('Architecture')).toBe('x86_64');
    expect(reg.get('BlockDeviceMapping.1.Ebs.SnapshotId')).toBe('snap-0abc');
    a = (await target()).artifact!;
    expect(a.records.import?.targets[0]).toMatchObject({
      state: 'completed',
      imageId: 'ami-0def',
      snapshotId: 'snap-0abc',
      taskId: 'import-snap-0123',
    });
    expect(a.pending).toBeUndefined();

    // completed: nothing more is sent
    const n = seen.length;
    const o4 = await runStage(ctx, 'import', cloudImportStage, await target());
    expect(o4).toMatchObject({ status: 'unchanged', commit: null });
    expect(seen).toHaveLength(n);

    // the secret is in no record, commit, or log line
    const file = await cat.artifactFile();
    const history = await cat.history();
    for (const text of [file, history, cat.logs.join('\n')]) expect(text).not.toContain(SECRET);
  });
});
