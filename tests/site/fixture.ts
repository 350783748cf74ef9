// Test catalogs for the site, written through the store API: a small hand-made catalog with every
// record kind, zh/en/fallback texts, a hidden app and a hostile one; and a synthetic catalog of any
// size for the benchmark.
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatalogStore } from '../../catalog/store.ts';
import { defaultBlobStore } from '../../catalog/blobs.ts';
import { putFindings } from '../../catalog/findings.ts';
import { importOpenEuler } from '../../catalog/import/openeuler.ts';
import type { AppInput, Artifact, Finding } from '../../catalog/schema.ts';

const digest = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const runId = (n: number) =>
  `20261120T10${String(n % 60).padStart(2, '0')}00Z-${createHash('sha1').update(String(n)).digest('hex').slice(0, 6)}`;
const at = (day: number, h = 10) =>
  `2026-11-${String(day).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00Z`;

export const REGISTRIES = [
  { name: 'dockerhub', repository: 'docker.io/openeuler', insecure: false },
  { name: 'quay', repository: 'quay.io/openeuler', insecure: false },
];

export const HOSTILE_MD = [
  '# Usage',
  '',
  '<script>window.__pwned = 1</script>',
  '',
  '<img src="x" onerror="window.__pwned = 2">',
  '',
  '[click me](javascript:window.__pwned=3) and <a href="javascript:window.__pwned=4">raw</a>',
  '',
  '<iframe src="https://example.invalid/"></iframe><style>body{display:none}</style>',
  '',
  '<div onclick="window.__pwned=5">div</div>',
  '',
  '```',
  'docker run hostile',
  '```',
].join('\n');

function container(tag: string, version: string, osVersion: string) {
  return {
    kind: 'container' as const,
    tag,
    dockerfile: `${version}/${osVersion}/Dockerfile`,
    version,
    osVersion,
  };
}

const findings: Finding[] = [
  {
    id: 'CVE-2024-0001',
    pkg: 'openssl',
    installed: '3.0.12-1',
    fixed: '3.0.12-5',
    severity: 'CRITICAL',
    status: 'fixed',
  },
  {
    id: 'CVE-2024-0002',
    pkg: 'glibc',
    installed: '2.38-1',
    fixed: '2.38-9',
    severity: 'HIGH',
    status: 'fixed',
  },
  {
    id: 'openEuler-SA-2024-2388',
    pkg: 'zlib',
    installed: '1.2.13-1',
    severity: 'MEDIUM',
    status: 'affected',
  },
  { id: 'CVE-2024-0004', pkg: 'bash', installed: '5.2-1', severity: 'LOW', status: 'will_not_fix' },
];

/** The SBOM redis 8.6.4's scan recorded (CycloneDX, shortened). */
export const SBOM_JSON = JSON.stringify({
  bomFormat: 'CycloneDX',
  specVersion: '1.5',
  components: [{ type: 'library', name: 'openssl', version: '3.0.12-1' }],
});

/** The finding list kept in the blob store for mysql (one fixable HIGH). */
export const BLOB_FINDINGS: Finding[] = [
  {
    id: 'CVE-2025-4242',
    pkg: 'mysql-libs',
    installed: '8.0.36-1',
    fixed: '8.0.36-3',
    severity: 'HIGH',
    status: 'fixed',
  },
];

/** An artifact that went through every stage. */
function fullArtifact(
  app: string,
  tag: string,
  version: string,
  osVersion: string,
  day: number,
  keyId = TEST_KEY_ID,
): Artifact {
  const d = digest(`${app}:${tag}`);
  return {
    app,
    kind: 'container',
    id: tag,
    version,
    osVersion,
    arches: ['amd64', 'arm64'],
    records: {
      build: {
        runId: runId(day),
        at: at(day, 10),
        status: 'ok',
        durationMs: 61_000,
        manifestDigest: d,
        arches: ['amd64', 'arm64'],
        base: { ref: `openeuler/openeuler:${osVersion}` },
      },
      verify: {
        runId: runId(day),
        at: at(day, 11),
        status: 'passed',
        checks: [{ name: 'starts', status: 'passed', durationMs: 900 }],
      },
      scan: {
        runId: runId(day),
        at: at(day, 12),
        status: 'ok',
        scanner: { name: 'trivy', version: '0.58.0' },
        target: d,
        findings,
      },
      sign: {
        runId: runId(day),
        at: at(day, 13),
        status: 'signed',
        keyId,
        signatures: REGISTRIES.map((r) => ({
          target: r.name,
          ref: `${r.repository}/${app}:${tag}`,
          digest: d,
          signatureTag: `sha256-${d.slice(7)}.sig`,
          attestationTag: `sha256-${d.slice(7)}.att`,
        })),
      },
      publish: {
        runId: runId(day),
        at: at(day, 14),
        status: 'ok',
        digest: d,
        targets: REGISTRIES.map((r) => ({
          target: r.name,
          ref: `${r.repository}/${app}:${tag}`,
          status: 'ok' as const,
          digest: d,
        })),
      },
    },
  };
}

/** openeuler-wsl's published WSL image: a .wsl file per arch on two object stores, signed and scanned. */
function wslArtifact(keyId: string): Artifact {
  const id = '24.03-lts-sp4-wsl';
  const file = (arch: 'amd64' | 'arm64') => `openeuler-24.03-lts-sp4-${arch}.wsl`;
  const sha = (arch: string) =>
    createHash('sha256')
      .update(file(arch as 'amd64'))
      .digest('hex');
  const obj = (target: string, host: string, arch: 'amd64' | 'arm64') => ({
    url: `https://${host}/openeuler-wsl/${id}/${file(arch)}`,
    sha256: sha(arch),
    size: arch === 'amd64' ? 312_456_789 : 298_765_432,
    target,
    arch,
    bucket: 'wsl',
    key: `openeuler-wsl/${id}/${file(arch)}`,
    checksumUrl: `https://${host}/openeuler-wsl/${id}/${file(arch)}.sha256`,
    signatureUrl: `https://${host}/openeuler-wsl/${id}/${file(arch)}.sigstore.json`,
  });
  const arches = ['amd64', 'arm64'] as const;
  return {
    app: 'openeuler-wsl',
    kind: 'wsl',
    id,
    version: '24.03',
    osVersion: '24.03-lts-sp4',
    arches: [...arches],
    records: {
      build: {
        runId: runId(7),
        at: at(20, 10),
        status: 'ok',
        durationMs: 184_000,
        arches: [...arches],
        files: arches.map((arch) => ({
          arch,
          name: file(arch),
          sha256: sha(arch),
          size: arch === 'amd64' ? 312_456_789 : 298_765_432,
        })),
      },
      verify: {
        runId: runId(7),
        at: at(20, 11),
        status: 'passed',
        checks: [{ name: 'rootfs has /etc/os-release', status: 'passed', durationMs: 40 }],
      },
      scan: {
        runId: runId(7),
        at: at(20, 12),
        status: 'ok',
        summary: {
          total: { CRITICAL: 0, HIGH: 2, MEDIUM: 3, LOW: 0, UNKNOWN: 0 },
          fixable: { CRITICAL: 0, HIGH: 2, MEDIUM: 1, LOW: 0, UNKNOWN: 0 },
        },
      },
      sign: {
        runId: runId(7),
        at: at(20, 13),
        status: 'signed',
        keyId,
        signatures: [],
        bundles: arches.map((arch) => ({
          arch,
          file: file(arch),
          sha256: sha(arch),
          bundle: {
            sha256: sha(`${arch}.bundle`),
            size: 4_000,
            mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
          },
          mode: 'key' as const,
        })),
      },
      publish: {
        runId: runId(7),
        at: at(20, 14),
        status: 'ok',
        targets: [],
        objects: [
          ...arches.map((a) => obj('obs', 'wsl.obs.example.org', a)),
          obj('cos', 'wsl.cos.example.org', 'amd64'),
        ],
      },
    },
  };
}

/**
 * openeuler-cloud's published cloud image: qcow2 and fixed VHD on object storage, boot-tested, signed,
 * and imported into two clouds (one completed with its image id, one failed with the cloud's reason).
 */
function cloudArtifact(keyId: string): Artifact {
  const id = '24.03-lts-sp4-cloud';
  const formats = ['qcow2', 'vhd'] as const;
  const file = (f: string) => `openeuler-24.03-lts-sp4-amd64.${f}`;
  const sha = (f: string) => createHash('sha256').update(file(f)).digest('hex');
  const size = (f: string) => (f === 'qcow2' ? 612_345_678 : 2 * 1024 ** 3 + 512);
  const host = 'images.obs.example.org';
  return {
    app: 'openeuler-cloud',
    kind: 'cloud',
    id,
    version: '24.03',
    osVersion: '24.03-lts-sp4',
    arches: ['amd64'],
    records: {
      build: {
        runId: runId(8),
        at: at(21, 10),
        status: 'ok',
        durationMs: 96_000,
        arches: ['amd64'],
        files: formats.map((f) => ({
          arch: 'amd64' as const,
          name: file(f),
          sha256: sha(f),
          size: size(f),
          format: f,
          virtualSize: 2 * 1024 ** 3,
        })),
      },
      verify: {
        runId: runId(8),
        at: at(21, 11),
        status: 'passed',
        checks: [{ name: 'boot test (qcow2)', status: 'passed', durationMs: 17_500 }],
        bootTest: {
          booted: true,
          seconds: 17.5,
          marker: 'WHARF-BOOT-OK-0123456789abcdef',
          accel: 'tcg',
          file: file('qcow2'),
          format: 'qcow2',
        },
      },
      sign: {
        runId: runId(8),
        at: at(21, 12),
        status: 'signed',
        keyId,
        signatures: [],
        bundles: formats.map((f) => ({
          arch: 'amd64' as const,
          file: file(f),
          sha256: sha(f),
          bundle: {
            sha256: sha(`${f}.bundle`),
            size: 4_000,
            mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2',
          },
          mode: 'key' as const,
        })),
      },
      publish: {
        runId: runId(8),
        at: at(21, 13),
        status: 'ok',
        targets: [],
        objects: formats.map((f) => ({
          url: `https://${host}/openeuler-cloud/${id}/${file(f)}`,
          sha256: sha(f),
          size: size(f),
          target: 'obs',
          format: f,
          arch: 'amd64' as const,
          bucket: 'images',
          key: `openeuler-cloud/${id}/${file(f)}`,
          checksumUrl: `https://${host}/openeuler-cloud/${id}/${file(f)}.sha256`,
          signatureUrl: `https://${host}/openeuler-cloud/${id}/${file(f)}.sigstore.json`,
        })),
      },
      import: {
        runId: runId(8),
        at: at(21, 14),
        status: 'partial',
        targets: [
          {
            target: 'aws-use1',
            provider: 'aws',
            region: 'us-east-1',
            arch: 'amd64',
            format: 'vhd',
            bucket: 'images',
            key: `openeuler-cloud/${id}/${file('vhd')}`,
            sha256: sha('vhd'),
            taskId: 'import-snap-0123456789abcdef0',
            snapshotId: 'snap-0123456789abcdef0',
            state: 'completed',
            imageId: 'ami-0123456789abcdef0',
            startedAt: at(21, 13),
            updatedAt: at(21, 14),
          },
          {
            target: 'huawei-cn-north-4',
            provider: 'huawei',
            region: 'cn-north-4',
            arch: 'amd64',
            format: 'vhd',
            state: 'failed',
            error: 'IMS CreateImage: HTTP 400 IMS.0125: the OBS object cannot be read by IMS',
            updatedAt: at(21, 14),
          },
        ],
      },
    },
  };
}

interface Spec {
  id: string;
  category: string;
  title: { zh?: string; en?: string };
  summary?: { zh?: string; en?: string };
  description?: { zh?: string; en?: string };
  license?: string;
  hidden?: boolean;
  usage?: { zh?: string; en?: string };
}

const SPECS: Spec[] = [
  {
    id: 'redis',
    category: 'database',
    title: { zh: 'Redis', en: 'Redis' },
    summary: { zh: '基于内存的键值数据库', en: 'In-memory key-value database' },
    description: {
      zh: 'Redis 是一个开源的、基于内存的键值对存储数据库，可用作缓存和消息代理。',
      en: 'Redis is an open source, in-memory key-value data store used as a database, cache and message broker.',
    },
    license: 'BSD-3-Clause',
    usage: {
      zh: '启动容器：\n\n```\ndocker run -d -p 6379:6379 openeuler/redis:{Tag}\n```',
      en: 'Start a container:\n\n```\ndocker run -d -p 6379:6379 openeuler/redis:{Tag}\n```',
    },
  },
  {
    id: 'postgres',
    category: 'database',
    title: { zh: 'PostgreSQL' },
    summary: { zh: '功能强大的开源关系型数据库' },
    description: { zh: 'PostgreSQL 是一个功能强大的开源对象关系型数据库系统。' },
    license: 'PostgreSQL',
  },
  {
    id: 'mysql',
    category: 'database',
    title: { zh: 'MySQL', en: 'MySQL' },
    summary: { zh: '流行的关系型数据库', en: 'Popular relational database' },
    license: 'GPL-2.0-only',
  },
  {
    id: 'nginx',
    category: 'cloud',
    title: { en: 'NGINX' },
    summary: { en: 'High performance web server and reverse proxy' },
    description: { en: 'NGINX is an HTTP web server, reverse proxy, content cache and load balancer.' },
    license: 'BSD-2-Clause',
  },
  {
    id: 'pytorch',
    category: 'ai',
    title: { zh: 'PyTorch', en: 'PyTorch' },
    summary: { zh: '深度学习框架', en: 'Deep learning framework' },
    license: 'BSD-3-Clause',
  },
  {
    id: 'kafka',
    category: 'bigdata',
    title: { zh: 'Kafka', en: 'Kafka' },
    summary: { zh: '分布式流处理平台', en: 'Distributed event streaming platform' },
    license: 'Apache-2.0',
  },
  {
    id: 'hostile',
    category: 'others',
    title: { zh: 'Hostile <b>app</b>', en: 'Hostile <script>window.__pwned=9</script>' },
    summary: { en: '<img src=x onerror="window.__pwned=8">' },
    license: 'MIT',
    usage: { zh: HOSTILE_MD, en: HOSTILE_MD },
  },
  {
    id: 'secret-tool',
    category: 'database',
    title: { zh: 'Zanzibarhidden 数据库', en: 'Zanzibarhidden' },
    summary: { en: 'Hidden app that must never appear' },
    license: 'MIT',
    hidden: true,
  },
];

function appOf(s: Spec, tags: ReturnType<typeof container>[]): AppInput {
  return {
    id: s.id,
    name: s.id,
    title: s.title,
    summary: s.summary ?? {},
    description: s.description ?? {},
    category: s.category,
    homepage: `https://example.org/${s.id}`,
    license: s.license ? { spdx: s.license } : {},
    visibility: s.hidden ? 'hidden' : 'public',
    upstream: { backend: 'github', repo: `example/${s.id}`, scheme: 'semver' },
    recipes: { container: tags, cloud: [], wsl: [] },
    docs: s.usage
      ? { usage: s.usage, download: { zh: '拉取镜像：`docker pull openeuler/' + s.id + ':{Tag}`' } }
      : {},
  };
}

/** The openEuler sample committed with the repository (40 apps in the real layout). */
export const SEED_DIR = join(import.meta.dirname, '../../catalog/seed/openeuler-images');

/**
 * Apps the search tests need that the 40-app sample lacks (the full upstream tree has them, and the
 * sample's image-list.yml files already list them): written into a copy of the sample in the real
 * layout (`<Scene>/<app>/meta.yml`, `doc/image-info.yml`, `<ver>/<os>/Dockerfile`) and imported with
 * it. Their texts avoid the words the tests search for (消息队列, sql, machine learning …): the
 * synonym table has to bring them in.
 */
export const LAYOUT_APPS: {
  scene: string;
  name: string;
  category: string;
  version: string;
  description: string;
  similar?: string[];
  dependency?: string[];
}[] = [
  {
    scene: 'Database',
    name: 'mariadb',
    category: 'database',
    version: '11.4.2',
    description: 'MariaDB Server 是由 MySQL 原班人马开发的开源关系型数据库管理系统，兼容 MySQL 协议。',
    similar: ['MySQL: 流行的开源关系型数据库'],
  },
  {
    scene: 'Database',
    name: 'tidb',
    category: 'database',
    version: '8.1.0',
    description: 'TiDB 是 PingCAP 开发的开源分布式 HTAP 数据库，兼容 MySQL 协议，支持水平扩展。',
  },
  {
    scene: 'Database',
    name: 'oceanbase',
    category: 'database',
    version: '4.3.1',
    description: 'OceanBase 是蚂蚁集团自主研发的原生分布式关系数据库，具备高可用和线性扩展能力。',
  },
  {
    scene: 'Cloud',
    name: 'rabbitmq',
    category: 'cloud',
    version: '3.13.3',
    description: 'RabbitMQ 是一个开源的消息代理软件，实现了 AMQP 协议，支持多种客户端。',
    similar: ['Apache ActiveMQ: 基于 Java 的消息代理', 'Kafka: 分布式事件流平台'],
    dependency: ['erlang'],
  },
  {
    scene: 'Others',
    name: 'activemq',
    category: 'others',
    version: '6.1.2',
    description: 'Apache ActiveMQ 是基于 Java 的开源消息代理，支持 JMS 和多种协议。',
    dependency: ['openjdk'],
  },
  {
    scene: 'Others',
    name: 'tensorflow',
    category: 'ai',
    version: '2.16.1',
    description: 'TensorFlow 是一个端到端的开源平台，提供训练和部署模型的工具与库。',
    dependency: ['python'],
  },
];

/** A copy of the sample with LAYOUT_APPS added in the real layout; the caller removes `dir`. */
export async function seedTreeWithLayoutApps(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-seed-'));
  await cp(SEED_DIR, dir, { recursive: true });
  for (const a of LAYOUT_APPS) {
    const appDir = join(dir, a.scene, a.name);
    const os = '24.03-lts-sp1';
    const tag = `${a.version}-oe2403sp1`;
    await mkdir(join(appDir, a.version, os), { recursive: true });
    await mkdir(join(appDir, 'doc'), { recursive: true });
    await writeFile(
      join(appDir, a.version, os, 'Dockerfile'),
      `ARG BASE=openeuler/openeuler:${os}\nFROM \${BASE}\nARG VERSION=${a.version}\nRUN yum install -y ${a.name} && yum clean all\n`,
    );
    await writeFile(join(appDir, 'meta.yml'), `${tag}:\n  path: ${a.version}/${os}/Dockerfile\n`);
    const list = (k: string, v?: string[]) => (v ? `${k}:\n${v.map((x) => `  - ${x}`).join('\n')}\n` : '');
    await writeFile(
      join(appDir, 'doc', 'image-info.yml'),
      [
        `name: ${a.name}`,
        `category: ${a.category}`,
        `description: ${a.description}`,
        'download: |',
        '  拉取镜像到本地',
        '  ```',
        `  docker pull openeuler/${a.name}:{Tag}`,
        '  ```',
        list('similar_packages', a.similar) + list('dependency', a.dependency),
      ].join('\n'),
    );
  }
  return dir;
}

export interface SiteCatalogOptions {
  /** Import the openEuler seed first (40 apps); the hand-made apps only fill in ids it lacks. */
  seed?: boolean;
  /** Generated apps to add. */
  extra?: number;
  /** The id of the key the signed images are signed with (the site test publishes that key). */
  keyId?: string;
}

/** Key ids as the signer records them: sha256 of the public key's DER (publisher/sign/keys.ts). */
export const TEST_KEY_ID = `sha256:${createHash('sha256').update('wharf test key').digest('hex')}`;
/** The key mysql's image was signed with: not the one the site publishes (a rotated key). */
export const OTHER_KEY_ID = `sha256:${createHash('sha256').update('an older key').digest('hex')}`;

/**
 * The site's test catalog: optionally the imported openEuler seed, then hand-made apps (one hidden,
 * one hostile, zh-only and en-only texts), `extra` generated apps, and stage records for redis
 * and postgres (every record kind, a scan that did not run, a failed build).
 */
export async function makeSiteCatalog(dir: string, o: SiteCatalogOptions = {}): Promise<CatalogStore> {
  const store = await CatalogStore.init(dir, {
    name: 'wharf-test',
    siteUrl: 'https://market.example.org',
    registries: REGISTRIES,
  });
  if (o.seed) {
    const tree = await seedTreeWithLayoutApps();
    try {
      const r = await importOpenEuler(store, tree);
      if (r.apps < 40 + LAYOUT_APPS.length) throw new Error(`seed import gave only ${r.apps} apps`);
    } finally {
      await rm(tree, { recursive: true, force: true });
    }
  }
  await store.commit({ subject: 'apps: add test apps', trailers: { Stage: 'import' } }, async (tx) => {
    const cfg = await tx.getConfig();
    tx.putConfig({
      ...cfg,
      name: 'wharf-test',
      siteUrl: 'https://market.example.org',
      registries: REGISTRIES,
    });
    for (const s of SPECS) {
      if (await tx.getApp(s.id)) continue;
      const tags = [
        container('8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4'),
        container('7.2.4-oe2203sp3', '7.2.4', '22.03-lts-sp3'),
      ];
      if (s.id === 'redis') tags.push(container('6.2.7-oe2203lts', '6.2.7', '22.03-lts'));
      tx.putApp(appOf(s, tags));
      tx.putUpstream(s.id, { latest: '8.6.4', known: ['8.6.4', '7.2.4'], lastChecked: at(21) });
    }
    for (let i = 0; i < (o.extra ?? 0); i++) tx.putApp(syntheticApp(i));
  });
  // redis 8.6.4's scan recorded an SBOM (a blob in the catalog's blob store).
  const sbomRef = await defaultBlobStore(store.dir).put(SBOM_JSON, 'application/vnd.cyclonedx+json');
  const redisFull = fullArtifact('redis', '8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4', 20, o.keyId);
  redisFull.records.scan = { ...redisFull.records.scan!, sbom: { ...sbomRef, uri: undefined } };
  // One commit per stage result, as the pipeline writes them.
  await store.commit(
    {
      subject: 'redis 8.6.4-oe2403sp4: published',
      trailers: {
        App: 'redis',
        Version: '8.6.4',
        Artifact: '8.6.4-oe2403sp4',
        Kind: 'container',
        Stage: 'publish',
      },
    },
    (tx) => {
      tx.putArtifact(redisFull);
      tx.putArtifact(fullArtifact('secret-tool', '8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4', 20));
    },
  );
  await store.commit(
    {
      subject: 'redis 7.2.4-oe2203sp3: built, scanner missing',
      trailers: { App: 'redis', Artifact: '7.2.4-oe2203sp3', Kind: 'container', Stage: 'scan' },
    },
    (tx) => {
      tx.putArtifact({
        app: 'redis',
        kind: 'container',
        id: '7.2.4-oe2203sp3',
        version: '7.2.4',
        osVersion: '22.03-lts-sp3',
        arches: ['amd64'],
        records: {
          build: {
            runId: runId(3),
            at: at(19),
            status: 'ok',
            manifestDigest: digest('redis-7'),
            arches: ['amd64'],
          },
          scan: {
            runId: runId(3),
            at: at(19, 12),
            status: 'not-run',
            error: { message: 'trivy not installed' },
          },
        },
      });
    },
  );
  // Current scan records: the finding list in the catalog's blob store, only its hash in git. mysql's
  // blob is there; kafka's is not (an unreachable store must not fail the build).
  const blobs = defaultBlobStore(store.dir);
  const listRef = await putFindings(blobs, BLOB_FINDINGS);
  const lostRef = { ...listRef, sha256: createHash('sha256').update('lost').digest('hex') };
  for (const [app, ref] of [
    ['mysql', listRef],
    ['kafka', lostRef],
  ] as const) {
    const a = fullArtifact(app, '8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4', 18, OTHER_KEY_ID);
    const { findings: _inline, ...scan } = a.records.scan!;
    if (app === 'kafka') {
      // Not signed, and published to docker.io only (quay failed): one pull command, no verify command.
      a.records.sign = { ...a.records.sign!, status: 'skipped', signatures: [] };
      a.records.publish = {
        ...a.records.publish!,
        status: 'partial',
        targets: a.records.publish!.targets.map((t) =>
          t.target === 'quay' ? { ...t, status: 'failed' as const, error: 'quay.io: 503' } : t,
        ),
      };
    }
    await store.commit(
      {
        subject: `scan: ${app}:8.6.4-oe2403sp4`,
        trailers: { App: app, Artifact: '8.6.4-oe2403sp4', Kind: 'container', Stage: 'scan' },
      },
      (tx) => {
        tx.putArtifact({
          ...a,
          records: {
            ...a.records,
            scan: {
              ...scan,
              summary: {
                total: { CRITICAL: 0, HIGH: 1, MEDIUM: 0, LOW: 0, UNKNOWN: 0 },
                fixable: { CRITICAL: 0, HIGH: 1, MEDIUM: 0, LOW: 0, UNKNOWN: 0 },
              },
              findingsRef: ref,
            },
          },
        });
      },
    );
  }
  // A published WSL image (two arches, signed with the catalog key, scanned): the app page's WSL section.
  await store.commit(
    {
      subject: 'openeuler-wsl 24.03-lts-sp4-wsl: published',
      trailers: { App: 'openeuler-wsl', Artifact: '24.03-lts-sp4-wsl', Kind: 'wsl', Stage: 'publish' },
    },
    (tx) => {
      tx.putApp({
        id: 'openeuler-wsl',
        name: 'openeuler-wsl',
        title: { zh: 'openEuler WSL', en: 'openEuler WSL' },
        summary: {
          zh: '在 Windows 上运行的 openEuler 发行版',
          en: 'openEuler as a WSL distribution on Windows',
        },
        description: {},
        category: 'base',
        homepage: 'https://www.openeuler.org/',
        license: { spdx: 'MulanPSL-2.0' },
        visibility: 'public',
        recipes: {
          container: [],
          cloud: [],
          wsl: [
            {
              kind: 'wsl',
              id: '24.03-lts-sp4-wsl',
              source: '24.03-lts-sp4',
              version: '24.03',
              osVersion: '24.03-lts-sp4',
            },
          ],
        },
        docs: {},
      });
      tx.putArtifact(wslArtifact(o.keyId ?? TEST_KEY_ID));
    },
  );
  // A published cloud image (boot-tested, signed, imported into one cloud, failed in another): the cloud section.
  await store.commit(
    {
      subject: 'openeuler-cloud 24.03-lts-sp4-cloud: imported',
      trailers: { App: 'openeuler-cloud', Artifact: '24.03-lts-sp4-cloud', Kind: 'cloud', Stage: 'import' },
    },
    (tx) => {
      tx.putApp({
        id: 'openeuler-cloud',
        name: 'openeuler-cloud',
        title: { zh: 'openEuler 云镜像', en: 'openEuler cloud image' },
        summary: {
          zh: '可在公有云上启动的 openEuler 磁盘镜像',
          en: 'openEuler disk images that boot on public clouds',
        },
        description: {},
        category: 'base',
        homepage: 'https://www.openeuler.org/',
        license: { spdx: 'MulanPSL-2.0' },
        visibility: 'public',
        recipes: {
          container: [],
          wsl: [],
          cloud: [
            {
              kind: 'cloud',
              id: '24.03-lts-sp4-cloud',
              source: '24.03-lts-sp4',
              formats: ['qcow2', 'vhd'],
              version: '24.03',
              osVersion: '24.03-lts-sp4',
              arches: ['amd64'],
            },
          ],
        },
        docs: {},
      });
      tx.putArtifact(cloudArtifact(o.keyId ?? TEST_KEY_ID));
    },
  );
  await store.commit(
    { subject: 'postgres 8.6.4-oe2403sp4: build failed', trailers: { App: 'postgres', Stage: 'build' } },
    (tx) => {
      tx.putArtifact({
        app: 'postgres',
        kind: 'container',
        id: '8.6.4-oe2403sp4',
        version: '8.6.4',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64', 'arm64'],
        records: {
          build: {
            runId: runId(4),
            at: at(21),
            status: 'failed',
            error: { message: 'RUN make failed', tail: ['make: *** [all] Error 2'] },
          },
        },
      });
    },
  );
  return store;
}

const WORDS = [
  'cache',
  'queue',
  'proxy',
  'stream',
  'graph',
  'search',
  'metrics',
  'vector',
  'ledger',
  'gateway',
];
const CATS = ['database', 'ai', 'bigdata', 'cloud', 'storage', 'hpc', 'security', 'others'];
const CAT_ZH: Record<string, string> = {
  database: '数据库',
  ai: '人工智能',
  bigdata: '大数据',
  cloud: '云原生',
  storage: '存储',
  hpc: '高性能计算',
  security: '安全',
  others: '工具',
};

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ru',
  'te',
  'zan',
  'vo',
  'pri',
  'del',
  'sun',
  'gor',
  'fe',
  'nix',
  'ta',
  'bel',
  'cor',
  'dra',
  'wen',
  'yo',
  'qua',
];

/** A pronounceable name unique per `i` (like a real project name: one app per name). */
export function syntheticName(i: number): string {
  let n = i;
  let name = '';
  for (let k = 0; k < 4; k++) {
    name += SYLLABLES[n % SYLLABLES.length];
    n = Math.floor(n / SYLLABLES.length);
  }
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** A generated app with two tags and zh/en text; deterministic in `i`. */
export function syntheticApp(i: number): AppInput {
  const w = WORDS[i % WORDS.length]!;
  const cat = CATS[i % CATS.length]!;
  const id = `synth-${w}-${i}`;
  const name = syntheticName(i);
  return {
    id,
    name: id,
    title: { zh: name, en: name },
    summary: {
      zh: `${name}：提供 ${w} 服务的${CAT_ZH[cat]}应用`,
      en: `${name}: a ${w} service (synthetic app ${i})`,
    },
    description: {
      zh: `这是一个生成的${CAT_ZH[cat]}镜像，提供 ${w} 服务。`,
      en: `A generated ${cat} image providing a ${w} service.`,
    },
    category: cat,
    license: { spdx: i % 3 ? 'Apache-2.0' : 'MIT' },
    recipes: {
      container: [
        container(`1.${i % 7}.0-oe2403sp4`, `1.${i % 7}.0`, '24.03-lts-sp4'),
        container(`1.${i % 7}.0-oe2203sp3`, `1.${i % 7}.0`, '22.03-lts-sp3'),
      ],
      cloud: [],
      wsl: [],
    },
  };
}

/**
 * A catalog of `n` synthetic apps in one commit (for the benchmark); every second app has its
 * newest tag through the whole pipeline, so half the apps also get image pages.
 */
export async function makeSyntheticCatalog(dir: string, n: number): Promise<CatalogStore> {
  const store = await CatalogStore.init(dir, { name: 'wharf-synthetic', registries: REGISTRIES });
  await store.commit({ subject: `synthetic: ${n} apps`, trailers: { Stage: 'import' } }, (tx) => {
    for (let i = 0; i < n; i++) {
      const app = tx.putApp(syntheticApp(i));
      const r = app.recipes.container[0]!;
      if (i % 2 === 0) tx.putArtifact(fullArtifact(app.id, r.tag, r.version, r.osVersion, 1 + (i % 20)));
    }
  });
  return store;
}
