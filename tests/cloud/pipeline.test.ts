// The cloud kind through runPipeline and the runner's commits, on the bootable test rootfs exported as a
// container image's OCI layout (with an RPM database holding a vulnerable golang package) and real
// services (QEMU, s3rver, a loopback CVRF feed): build (qcow2 + raw) → verify (the qcow2 booted, its
// console log in the blob store) → scan (the disk's own RPM database read with debugfs, matched against
// openEuler's advisories) → sign (a Sigstore bundle per file) → publish (every file to the
// objectStorage target: one {target, format, bucket, key, url, size, sha256} per format); a second run
// is unchanged. An image that does not boot within its timeout fails verify and is not published.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogStore } from '../../catalog/store.ts';
import { zCatalogConfig } from '../../catalog/schema.ts';
import { syncFeed } from '../../publisher/advisories/feed.ts';
import { openStageContext } from '../../publisher/context.ts';
import { runPipeline } from '../../publisher/pipeline/index.ts';
import { fileNode, rootfsTar } from '../../publisher/rootfs/index.ts';
import { readFindings } from '../../publisher/scan/findings.ts';
import { readPackagesRef } from '../../publisher/scan/packages.ts';
import { selectTargets } from '../../publisher/select.ts';
import { verifyBlob } from '../../publisher/sign/blob.ts';
import { parsePrivateKey } from '../../publisher/sign/keys.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import { cloudView } from '../../site/src/lib/cloud.ts';
import { buildRpm, cvrfDir, dirEntries, serveFeed, sqliteRootfs, tmp } from '../advisories/helpers.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';
import { tempDir, writeOciLayout } from '../rootfs/fixtures.ts';
import { bootableRootfs, EPOCH } from './fixture.ts';
import { CVM_ID, CVM_REGION, CVM_SECRET, startCvmServer } from './cvm-server.ts';
import { EC2_ID, EC2_SECRET, IMAGE_ID, startEc2Server } from './ec2-server.ts';
import { ECS_ID, ECS_SECRET, startEcsServer } from './ecs-server.ts';
import { IMS_AK, IMS_PROJECT, IMS_SK, startImsServer } from './ims-server.ts';

let s3: TestS3;
let feedDir: string;
let layer: Buffer;

beforeAll(async () => {
  s3 = await startS3({ bucket: 'images' });
  const top = await tmp('rpms');
  const rpm = await buildRpm(top, {
    name: 'golang',
    version: '1.17.3',
    release: '31.oe2203sp2',
    arch: 'x86_64',
  });
  const root = await tmp('root');
  await sqliteRootfs(root, [rpm]);
  const { rootfs } = await bootableRootfs();
  for (const f of await dirEntries(join(root, 'var/lib/rpm'), 'var/lib/rpm'))
    rootfs.set(f.path, fileNode(f.data, { mtime: EPOCH }));
  const chunks: Buffer[] = [];
  for await (const c of rootfsTar(rootfs)) chunks.push(c);
  layer = Buffer.concat(chunks);
  const feed = await serveFeed(await cvrfDir());
  try {
    feedDir = await tmp('index');
    await syncFeed({ url: feed.url, dir: feedDir });
  } finally {
    await feed.close();
  }
}, 300_000);

afterAll(async () => {
  await s3?.stop();
});

async function setup(env: Record<string, string> = {}) {
  const dir = await tempDir('wharf-cloud-stage-');
  const store = await CatalogStore.init(join(dir, 'catalog'));
  await store.commit({ subject: 'test: app with a cloud recipe' }, async (tx) => {
    tx.putConfig(
      zCatalogConfig.parse({
        objectStorage: [
          { name: 'local', provider: 'minio', endpoint: s3.endpoint, bucket: s3.bucket, prefix: 'cloud' },
        ],
        advisories: { dir: feedDir },
      }),
    );
    tx.putApp({
      id: 'myos',
      name: 'myos',
      title: { en: 'My OS' },
      category: 'os',
      recipes: {
        cloud: [
          {
            kind: 'cloud',
            id: '1.0-cloud',
            source: '1.0',
            formats: ['qcow2', 'raw'],
            sizeGiB: 0.15625,
            version: '1.0',
            osVersion: '22.03-lts-sp2',
            arches: ['amd64'],
          },
        ],
      },
    });
  });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const ctx = await openStageContext(store, {
    workDir: join(dir, 'work'),
    engine: null,
    env: {
      SOURCE_DATE_EPOCH: String(EPOCH),
      WHARF_SIGNING_KEY: pem,
      WHARF_S3_ACCESS_KEY_ID: s3.accessKeyId,
      WHARF_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      WHARF_CLOUD_BOOT_TIMEOUT: '300',
      ...env,
    },
  });
  await writeOciLayout(imageLayoutDir(ctx, 'myos', '1.0'), [{ arch: 'amd64', layers: [layer] }]);
  return { store, ctx, key: parsePrivateKey(pem, 'test') };
}

type Setup = Awaited<ReturnType<typeof setup>>;
/** The setup whose image the publish test left published (the import test imports it). */
let published: Setup | undefined;
async function run(s: Setup) {
  const { targets } = selectTargets(await s.store.load(), [], { kinds: ['cloud'] });
  expect(targets.map((t) => `${t.app.id}:${t.artifactId}:${t.kind}:${t.arch}`)).toEqual([
    'myos:1.0-cloud:cloud:amd64',
  ]);
  return runPipeline(s.ctx, targets);
}
const artifact = async (s: Setup) =>
  (await s.store.load()).apps.get('myos')!.artifacts.find((a) => a.kind === 'cloud')!;
const stages = (r: Awaited<ReturnType<typeof run>>) =>
  r.artifacts[0]!.stages.map((o) => `${o.stage}:${o.status}`);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('pipeline: kind cloud', () => {
  it('builds, boots, scans, signs and publishes each format, then finds everything unchanged', async () => {
    const s = await setup();
    const first = await run(s);
    expect(stages(first)).toEqual(['build:ok', 'verify:passed', 'scan:ok', 'sign:signed', 'publish:ok']);
    const art = await artifact(s);
    const files = art.records.build!.files!;
    expect(files.map((f) => `${f.name} ${f.format}`)).toEqual([
      'myos-1.0-cloud-amd64.qcow2 qcow2',
      'myos-1.0-cloud-amd64.raw raw',
    ]);
    expect(files[1]!.size).toBe(160 * 1024 * 1024);

    const verify = art.records.verify!;
    expect(verify.bootTest).toMatchObject({
      booted: true,
      file: 'myos-1.0-cloud-amd64.qcow2',
      format: 'qcow2',
    });
    expect(verify.bootTest!.marker).toMatch(/^WHARF-BOOT-OK-/);
    const log = (await s.ctx.blobs.get(verify.bootTest!.consoleLog!))?.toString();
    expect(log).toContain(verify.bootTest!.marker!);
    expect(verify.checks.map((c) => `${c.name}:${c.status}`)).toEqual([
      'format:myos-1.0-cloud-amd64.qcow2:passed',
      'format:myos-1.0-cloud-amd64.raw:passed',
      'boot:myos-1.0-cloud-amd64.qcow2:passed',
    ]);

    const scan = art.records.scan!;
    expect(scan).toMatchObject({
      status: 'ok',
      scanner: { name: 'wharf-cvrf' },
      os: { name: '22.03-LTS-SP2' },
    });
    const findings = await readFindings(s.ctx.blobs, scan);
    expect(findings.ok && findings.findings.map((f) => `${f.id} ${f.pkg}`)).toEqual([
      'openEuler-SA-2024-1488 golang',
    ]);
    // As for containers: the coverage, the package list (packagesRef) and Wharf's SBOM of the RPMs,
    // all read from the root filesystem copied out of the disk itself.
    expect(scan.coverage?.os).toMatchObject({ by: 'wharf-cvrf', release: '22.03-LTS-SP2' });
    expect(scan.coverage?.arches?.map((a) => `${a.arch} ${a.packages} ${a.rpmdb} ${a.findings}`)).toEqual([
      'amd64 1 var/lib/rpm/rpmdb.sqlite 1',
    ]);
    const pk = await readPackagesRef(s.ctx.blobs, scan.packagesRef!);
    expect(pk.ok && pk.sets.map((x) => `${x.arch} ${x.packages.map((p) => `${p.name}.${p.arch}`)}`)).toEqual([
      'amd64 golang.x86_64',
    ]);
    const bom = JSON.parse((await s.ctx.blobs.get(scan.sbom!))!.toString('utf8'));
    expect(bom.components.map((c: { purl: string }) => c.purl)).toEqual([
      'pkg:rpm/openeuler/golang@1.17.3-31.oe2203sp2?arch=x86_64&distro=openeuler-22.03-lts-sp2',
    ]);

    const sign = art.records.sign!;
    expect(sign).toMatchObject({ status: 'signed', keyId: s.key.keyId });
    expect(sign.bundles!.map((b) => b.file)).toEqual(files.map((f) => f.name));

    const pub = art.records.publish!;
    expect(pub.status).toBe('ok');
    expect(pub.objects!.map((o) => `${o.target} ${o.format} ${o.bucket} ${o.key}`)).toEqual([
      'local qcow2 images cloud/myos/1.0-cloud/myos-1.0-cloud-amd64.qcow2',
      'local raw images cloud/myos/1.0-cloud/myos-1.0-cloud-amd64.raw',
    ]);
    const q = pub.objects![0]!;
    expect(q).toMatchObject({ sha256: files[0]!.sha256, size: files[0]!.size });
    const bytes = Buffer.from(await (await fetch(q.url)).arrayBuffer());
    expect(sha(bytes)).toBe(files[0]!.sha256);
    const bundle: unknown = await (await fetch(q.signatureUrl!)).json();
    expect(verifyBlob(bytes, bundle, s.key.publicKey)).toBe(s.key.keyId);
    expect(art.pending).toBeUndefined();

    const second = await run(s);
    expect(second.artifacts[0]!.status).toBe('unchanged');
    expect(second.artifacts[0]!.stages.every((o) => o.commit === null)).toBe(true);
    published = s; // the image the import test below takes into four clouds
  }, 600_000);

  it('imports the published image into AWS, Tencent, Huawei and Alibaba at once, polling until all complete', async () => {
    const s = published;
    if (!s) throw new Error('the publish test above did not finish: there is no published image to import');
    const ec2 = await startEc2Server(() => true);
    const cvm = await startCvmServer();
    const ims = await startImsServer();
    const ecs = await startEcsServer({
      'myos-1.0-cloud-amd64': [
        { status: 'Creating', progress: '40%' },
        { status: 'Available', progress: '100%' },
      ],
    });
    ims.plannedJobs.push({
      id: 'ff8080814dbd65d7014dbe0d84db00e2',
      answers: [
        { status: 'RUNNING' },
        { status: 'SUCCESS', imageId: 'f3a1c2d4-0e2e-4e2e-8e2e-e2e0e2e0e2e0' },
      ],
    });
    try {
      const clouds = [
        {
          name: 'aws-use1',
          provider: 'aws',
          region: 'us-east-1',
          objectStorage: 'local',
          endpoint: ec2.endpoint,
        },
        {
          name: 'tencent-gz',
          provider: 'tencent',
          region: CVM_REGION,
          objectStorage: 'local',
          endpoint: cvm.endpoint,
        },
        {
          name: 'hw-cn4',
          provider: 'huawei',
          region: 'cn-north-4',
          objectStorage: 'local',
          endpoint: ims.endpoint,
          projectIdEnv: 'WHARF_TEST_HW_PROJECT',
        },
        {
          name: 'ali-hz',
          provider: 'alibaba',
          region: 'cn-hangzhou',
          objectStorage: 'local',
          endpoint: ecs.endpoint,
        },
      ];
      const config = await s.store.config();
      await s.store.commit({ subject: 'test: four clouds' }, async (tx) => {
        tx.putConfig(zCatalogConfig.parse({ ...config, clouds }));
      });
      const secrets = [EC2_SECRET, CVM_SECRET, IMS_SK, ECS_SECRET];
      const ctx = await openStageContext(s.store, {
        workDir: s.ctx.workDir,
        engine: null,
        env: {
          ...s.ctx.env,
          AWS_ACCESS_KEY_ID: EC2_ID,
          AWS_SECRET_ACCESS_KEY: EC2_SECRET,
          TENCENTCLOUD_SECRET_ID: CVM_ID,
          TENCENTCLOUD_SECRET_KEY: CVM_SECRET,
          HUAWEICLOUD_SDK_AK: IMS_AK,
          HUAWEICLOUD_SDK_SK: IMS_SK,
          WHARF_TEST_HW_PROJECT: IMS_PROJECT,
          ALIBABA_CLOUD_ACCESS_KEY_ID: ECS_ID,
          ALIBABA_CLOUD_ACCESS_KEY_SECRET: ECS_SECRET,
        },
      });
      const withClouds = { ...s, ctx };

      // The first run: nothing before import is redone; the four imports start, their task ids committed.
      const first = await run(withClouds);
      expect(stages(first)).toEqual([
        'build:unchanged',
        'verify:passed', // the files already passed: not booted again
        'scan:unchanged',
        'sign:unchanged',
        'publish:unchanged',
        'import:running',
      ]);
      const started = first.artifacts[0]!.stages.find((o) => o.stage === 'import')!;
      expect(started.commit).toMatch(/^[a-f0-9]{40}$/);
      const committed = (await artifact(s)).records.import!.targets;
      expect(committed.map((t) => [t.target, t.state])).toEqual([
        ['aws-use1', 'running'],
        ['tencent-gz', 'running'],
        ['hw-cn4', 'running'],
        ['ali-hz', 'running'],
      ]);
      const taskIds = committed.map((t) => t.taskId);
      expect(taskIds.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
      expect(new Set(taskIds).size).toBe(4);

      // Later runs poll the committed tasks until every import is done (each cloud takes two polls at most).
      let polls = 0;
      while ((await artifact(s)).records.import!.targets.some((t) => t.state === 'running')) {
        if (++polls > 4) throw new Error('the imports did not complete within 4 polling runs');
        await run(withClouds);
      }
      const art = await artifact(s);
      const imp = art.records.import!;
      expect(imp.status).toBe('ok');
      expect(imp.targets.map((t) => [t.target, t.provider, t.region, t.state, t.imageId])).toEqual([
        ['aws-use1', 'aws', 'us-east-1', 'completed', IMAGE_ID],
        ['tencent-gz', 'tencent', CVM_REGION, 'completed', 'img-00000001'],
        ['hw-cn4', 'huawei', 'cn-north-4', 'completed', 'f3a1c2d4-0e2e-4e2e-8e2e-e2e0e2e0e2e0'],
        ['ali-hz', 'alibaba', 'cn-hangzhou', 'completed', 'm-bp1imp1test'],
      ]);
      // the task ids are the ones committed by the first run, and each cloud got exactly one import
      expect(imp.targets.map((t) => t.taskId)).toEqual(taskIds);
      expect(ec2.seen.filter((x) => x.action === 'ImportSnapshot')).toHaveLength(1);
      expect(cvm.calls.filter((x) => x.action === 'ImportImage')).toHaveLength(1);
      expect(ims.created).toHaveLength(1);
      expect(ecs.seen.filter((x) => x.action === 'ImportImage')).toHaveLength(1);
      expect(ec2.refused() + cvm.refused.length + ims.refused.length + ecs.refused()).toBe(0);
      expect(art.pending).toBeUndefined();
      // each cloud took the format it prefers of the two published, its object from the publish record
      expect(imp.targets.map((t) => `${t.format} ${t.key}`)).toEqual([
        'raw cloud/myos/1.0-cloud/myos-1.0-cloud-amd64.raw',
        'qcow2 cloud/myos/1.0-cloud/myos-1.0-cloud-amd64.qcow2',
        'qcow2 cloud/myos/1.0-cloud/myos-1.0-cloud-amd64.qcow2',
        'qcow2 cloud/myos/1.0-cloud/myos-1.0-cloud-amd64.qcow2',
      ]);
      // the disk sizes Huawei and Alibaba were given are the build record's virtual size (160 MiB → 1 GiB)
      expect(art.records.build!.files!.map((f) => f.virtualSize)).toEqual([160 * 1024 ** 2, 160 * 1024 ** 2]);
      expect(ims.created[0]!.body.min_disk).toBe(1);
      expect(
        ecs.seen.find((x) => x.action === 'ImportImage')!.params.get('DiskDeviceMapping.1.DiskImageSize'),
      ).toBe('1');

      // no secret anywhere in the catalog's git history (every commit's message and content)
      const history = await execa('git', ['-C', s.store.dir, 'log', '-p', '--all', '--format=%H%n%B'], {
        maxBuffer: 256 * 1024 * 1024,
      });
      expect(history.stdout).toContain(taskIds[0]!);
      for (const secret of secrets) expect(history.stdout).not.toContain(secret);

      // the site's cloud section (site/src/lib/cloud.ts, rendered by Cloud.astro) lists the four image ids
      expect(
        cloudView(art.records).imports.map((i) => [i.target, i.provider, i.region, i.state, i.imageId]),
      ).toEqual([
        ['aws-use1', 'aws', 'us-east-1', 'completed', IMAGE_ID],
        ['tencent-gz', 'tencent', CVM_REGION, 'completed', 'img-00000001'],
        ['hw-cn4', 'huawei', 'cn-north-4', 'completed', 'f3a1c2d4-0e2e-4e2e-8e2e-e2e0e2e0e2e0'],
        ['ali-hz', 'alibaba', 'cn-hangzhou', 'completed', 'm-bp1imp1test'],
      ]);
    } finally {
      await Promise.all([ec2.close(), cvm.close(), ims.close(), ecs.close()]);
    }
  }, 120_000);

  it('does not publish an image that did not boot in time', async () => {
    const s = await setup({ WHARF_CLOUD_BOOT_TIMEOUT: '1' });
    const r = await run(s);
    expect(stages(r)).toEqual(['build:ok', 'verify:failed']);
    const art = await artifact(s);
    expect(art.records.verify!.bootTest).toMatchObject({ booted: false });
    expect(art.records.verify!.bootTest!.reason).toMatch(/no boot marker within 1 s/);
    expect(art.records.publish).toBeUndefined();
  }, 300_000);
});
