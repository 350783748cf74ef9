// AWS: ImportSnapshot from the S3 object (DiskContainer Format + UserBucket, the vmimport service role),
// DescribeImportSnapshotTasks until the snapshot is completed, then RegisterImage with that snapshot as
// the EBS root (hvm, UEFI boot, ENA), through the official @aws-sdk/client-ec2.
import {
  DescribeImportSnapshotTasksCommand,
  EC2Client,
  ImportSnapshotCommand,
  RegisterImageCommand,
} from '@aws-sdk/client-ec2';
import type { CloudProvider, Credentials, ImportInput } from './types.ts';

const FORMAT = { vhd: 'VHD', vmdk: 'VMDK', raw: 'RAW' } as const;
const ARCH = { amd64: 'x86_64', arm64: 'arm64' } as const;

function client(input: ImportInput, creds: Credentials): EC2Client {
  return new EC2Client({
    region: input.target.region,
    ...(input.target.endpoint ? { endpoint: input.target.endpoint } : {}),
    credentials: creds,
    maxAttempts: 3,
  });
}

export const awsProvider: CloudProvider = {
  formats: ['vhd', 'vmdk', 'raw'],
  async start(input, creds, signal) {
    const format = FORMAT[input.format as keyof typeof FORMAT];
    if (!format) throw new Error(`AWS ImportSnapshot does not take ${input.format}`);
    const out = await client(input, creds).send(
      new ImportSnapshotCommand({
        Description: input.description,
        DiskContainer: {
          Description: input.imageName,
          Format: format,
          UserBucket: { S3Bucket: input.bucket, S3Key: input.key },
        },
        RoleName: input.target.roleName ?? 'vmimport',
        ClientToken: `${input.imageName}-${input.key}`.slice(0, 64),
      }),
      signal ? { abortSignal: signal } : {},
    );
    if (!out.ImportTaskId) throw new Error('ImportSnapshot returned no ImportTaskId');
    return {
      state: 'running',
      taskId: out.ImportTaskId,
      progress: out.SnapshotTaskDetail?.Status ?? 'active',
    };
  },
  async poll(input, prev, creds, signal) {
    const ec2 = client(input, creds);
    const opts = signal ? { abortSignal: signal } : {};
    let snapshotId = prev.snapshotId;
    if (!snapshotId) {
      const out = await ec2.send(
        new DescribeImportSnapshotTasksCommand({ ImportTaskIds: [prev.taskId!] }),
        opts,
      );
      const task = out.ImportSnapshotTasks?.find((x) => x.ImportTaskId === prev.taskId);
      if (!task) return { state: 'failed', error: `import task ${prev.taskId} not found` };
      const d = task.SnapshotTaskDetail ?? {};
      if (d.Status === 'deleted' || d.Status === 'deleting')
        return {
          state: 'failed',
          error: `snapshot import ${d.Status}: ${d.StatusMessage ?? 'no reason given'}`,
        };
      if (d.Status !== 'completed' || !d.SnapshotId)
        return {
          state: 'running',
          progress: `${d.Status ?? 'active'}${d.Progress ? ` ${d.Progress}%` : ''}`,
        };
      snapshotId = d.SnapshotId;
    }
    const reg = await ec2.send(
      new RegisterImageCommand({
        Name: input.imageName,
        Description: input.description,
        Architecture: ARCH[input.arch as keyof typeof ARCH] ?? 'x86_64',
        RootDeviceName: '/dev/xvda',
        BlockDeviceMappings: [
          {
            DeviceName: '/dev/xvda',
            Ebs: { SnapshotId: snapshotId, DeleteOnTermination: true, VolumeType: 'gp3' },
          },
        ],
        VirtualizationType: 'hvm',
        BootMode: 'uefi',
        EnaSupport: true,
      }),
      opts,
    );
    if (!reg.ImageId) return { state: 'failed', snapshotId, error: 'RegisterImage returned no ImageId' };
    return { state: 'completed', snapshotId, imageId: reg.ImageId, progress: 'registered' };
  },
};
