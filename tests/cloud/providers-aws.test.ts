// Contract test of the AWS import adapter against a loopback server speaking EC2's query protocol: it
// recomputes each request's SigV4 signature with the test's credentials (@smithy/signature-v4 over the
// received method, path, signed headers and body) and refuses a wrong one, and checks the request
// shapes (ImportSnapshot's DiskContainer and RoleName, RegisterImage's EBS root, UEFI, ENA). Not a real
// cloud. The import stage runs through the runner on a real git catalog: the task id is committed at
// start, the next run polls it (never a second ImportSnapshot), and no secret appears in any output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloudImportStage } from '../../publisher/cloud/providers/index.ts';
import { runStage } from '../../publisher/pipeline/index.ts';
import type { StageContext } from '../../publisher/stage.ts';
import { EC2_ID as ID, EC2_SECRET as SECRET, startEc2Server, type Ec2Server } from './ec2-server.ts';
import { fakePublish, openImportCatalog, TAG, type ImportCatalog } from './import-catalog.ts';

let ec2: Ec2Server;
let seen: Ec2Server['seen'];
let endpoint: string;

// The snapshot is there from the second DescribeImportSnapshotTasks on.
beforeAll(async () => {
  ec2 = await startEc2Server((poll) => poll >= 2);
  seen = ec2.seen;
  endpoint = ec2.endpoint;
});
afterAll(async () => {
  await ec2.close();
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
    const before = ec2.refused();
    const r = await cloudImportStage(
      { ...ctx, env: { AWS_ACCESS_KEY_ID: ID, AWS_SECRET_ACCESS_KEY: 'wrong-secret-value' } },
      await cat.published(),
    );
    expect(ec2.refused()).toBeGreaterThan(before);
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
