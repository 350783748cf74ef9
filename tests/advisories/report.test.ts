// `wharf scan report <app>:<tag> --format openeuler-md|json`: a built image's layout (real RPM databases
// per arch) matched against the mirrored real advisories, with the scan stage's Trivy record merged in.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultBlobStore } from '../../catalog/blobs.ts';
import { putFindings } from '../../catalog/findings.ts';
import { newRunId } from '../../catalog/run-id.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { syncFeed } from '../../publisher/advisories/feed.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import { parseTrivyReport, summarizeReport } from '../../publisher/scan/report.ts';
import {
  buildRpm,
  cvrfDir,
  dirEntries,
  layer,
  ociLayout,
  serveFeed,
  sharedFile,
  sqliteRootfs,
  tmp,
} from './helpers.ts';
import { runWharf } from '../helpers/wharf.ts';

let catalog: string;
let workDir: string;
const APP = 'demo';
const TAG = '1.0-oe2203sp2';
/** `wharf scan report <ref> --format <format>` on the test catalog and work dir. */
const scanReport = (ref: string, format: string, env: Record<string, string> = {}) =>
  runWharf(['scan', 'report', ref, '--format', format, '--catalog', catalog, '--work-dir', workDir], { env });

beforeAll(async () => {
  const base = await tmp('report');
  catalog = join(base, 'catalog');
  workDir = join(base, 'work');
  const store = await CatalogStore.init(catalog);
  const feed = await serveFeed(await cvrfDir());
  try {
    await syncFeed({ url: feed.url, dir: join(catalog, '.wharf-advisories') });
  } finally {
    await feed.close();
  }
  const top = await tmp('rpms');
  const k = { version: '5.10.0', release: '153.47.0.125.oe2203sp2' };
  const amd = await tmp('amd');
  await sqliteRootfs(amd, [
    await buildRpm(top, { name: 'golang', version: '1.17.3', release: '31.oe2203sp2', arch: 'x86_64' }),
    await buildRpm(top, { name: 'kernel-headers', ...k, arch: 'x86_64', source: 'kernel' }),
  ]);
  const arm = await tmp('arm');
  await sqliteRootfs(arm, [
    await buildRpm(top, { name: 'golang', version: '1.17.3', release: '32.oe2203sp2', arch: 'aarch64' }),
    await buildRpm(top, { name: 'kernel-headers', ...k, arch: 'aarch64', source: 'kernel' }),
  ]);
  const layout = imageLayoutDir({ workDir }, APP, TAG);
  await ociLayout(layout, [
    { arch: 'amd64', layers: [await layer(await dirEntries(join(amd, 'var/lib/rpm'), 'var/lib/rpm'))] },
    { arch: 'arm64', layers: [await layer(await dirEntries(join(arm, 'var/lib/rpm'), 'var/lib/rpm'))] },
  ]);
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  const digest: string = index.manifests[0].digest;

  // Trivy on openEuler: no OS detected, only a language-package result (a real finding shape).
  const trivy = JSON.parse(await sharedFile('trivy-reports/centos-7.json'));
  delete trivy.Metadata.OS;
  trivy.Results = [
    {
      Target: 'usr/local/bin/app',
      Class: 'lang-pkgs',
      Type: 'gobinary',
      Vulnerabilities: [
        {
          VulnerabilityID: 'CVE-2023-45288',
          PkgName: 'golang.org/x/net',
          InstalledVersion: 'v0.17.0',
          FixedVersion: '0.23.0',
          Severity: 'MEDIUM',
        },
      ],
    },
  ];
  const raw = JSON.stringify(trivy);
  const summary = summarizeReport(parseTrivyReport(raw));
  const blobs = defaultBlobStore(catalog);
  const reportRef = await blobs.put(raw, 'application/vnd.aquasec.trivy.report.v2+json');
  const findingsRef = await putFindings(blobs, summary.findings);
  await store.commit({ subject: 'test: a built, scanned app' }, async (tx) => {
    tx.putApp({
      id: APP,
      name: APP,
      title: { en: APP },
      category: 'tools',
      recipes: {
        container: [
          {
            kind: 'container',
            tag: TAG,
            dockerfile: '1.0/22.03-lts-sp2/Dockerfile',
            version: '1.0',
            osVersion: '22.03-lts-sp2',
            arches: ['amd64', 'arm64'],
          },
        ],
        cloud: [],
        wsl: [],
      },
    });
    const at = new Date().toISOString();
    tx.putArtifact({
      app: APP,
      kind: 'container',
      id: TAG,
      version: '1.0',
      osVersion: '22.03-lts-sp2',
      arches: ['amd64', 'arm64'],
      records: {
        build: { runId: newRunId(), at, status: 'ok', manifestDigest: digest },
        scan: {
          runId: newRunId(),
          at,
          status: 'ok',
          scanner: { name: 'trivy', version: '0.50.0', dbUpdatedAt: at },
          target: digest,
          summary: summary.summary,
          findingsRef,
          report: { sha256: reportRef.sha256, size: reportRef.size, mediaType: reportRef.mediaType },
          policy: { blocked: false, reasons: [], waived: [] },
        },
      },
    });
  });
}, 300_000);

describe('wharf scan report <app>:<tag>', { timeout: 240_000 }, () => {
  it('--format openeuler-md writes the community report: one table per arch, bulletin links, versions without dist tags', async () => {
    const r = await scanReport(`${APP}:${TAG}`, 'openeuler-md');
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^# 扫描时间：\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(lines.slice(1)).toEqual([
      '',
      '--- ',
      ' ### 扫描架构：amd64 ',
      '|  序号  |  软件包  | 漏洞ID | 严重级别 |  状态  | 安装版本 | 修复版本 |',
      '| :----- | :-----  | :-----  | :----- | :----- | :----- | :----- | ',
      '| 1 | golang | [openEuler-SA-2024-1488](https://www.openeuler.org/zh/security/security-bulletins/detail/?id=openEuler-SA-2024-1488) | HIGH | fixed | 1.17.3-31 | 1.17.3-32 |',
      '| 2 | kernel-headers | [openEuler-SA-2024-1349](https://www.openeuler.org/zh/security/security-bulletins/detail/?id=openEuler-SA-2024-1349) | HIGH | fixed | 5.10.0-153.47.0.125 | 5.10.0-153.48.0.126 |',
      '',
      '--- ',
      ' ### 扫描架构：arm64 ',
      '|  序号  |  软件包  | 漏洞ID | 严重级别 |  状态  | 安装版本 | 修复版本 |',
      '| :----- | :-----  | :-----  | :----- | :----- | :----- | :----- | ',
      '| 1 | kernel-headers | [openEuler-SA-2024-1349](https://www.openeuler.org/zh/security/security-bulletins/detail/?id=openEuler-SA-2024-1349) | HIGH | fixed | 5.10.0-153.47.0.125 | 5.10.0-153.48.0.126 |',
    ]); // (execa drops the final newline)
  });

  it('--format json: coverage (wharf-cvrf for the OS, trivy for languages) and the merged findings', async () => {
    const r = await scanReport(`${APP}:${TAG}`, 'json');
    expect(r.exitCode, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.release).toBe('22.03-LTS-SP2');
    expect(j.coverage.os).toMatchObject({ by: 'wharf-cvrf', release: '22.03-LTS-SP2' });
    expect(j.coverage.language.by).toBe('trivy');
    expect(
      j.findings.map((f: { source: string; id: string; pkg: string }) => [f.source, f.id, f.pkg]),
    ).toEqual([
      ['wharf-cvrf', 'openEuler-SA-2024-1488', 'golang'],
      ['wharf-cvrf', 'openEuler-SA-2024-1349', 'kernel-headers'],
      ['wharf-cvrf', 'openEuler-SA-2024-1349', 'kernel-headers'],
      ['trivy', 'CVE-2023-45288', 'golang.org/x/net'],
    ]);
    expect(j.trivy).toMatchObject({ status: 'ok', scanner: 'trivy 0.50.0', findings: 1 });
  });

  it('without the advisory index the OS packages are "not scanned", never clean (Trivy does not support the OS)', async () => {
    const env = await scanReport(`${APP}:${TAG}`, 'json', {
      WHARF_ADVISORIES_DIR: join(catalog, 'no-such-index'),
    });
    expect(env.exitCode, env.stderr).toBe(0);
    const j = JSON.parse(env.stdout);
    expect(j.coverage.os.by).toBe('none');
    expect(j.coverage.summary).toMatch(
      /^OS packages not scanned \(wharf-cvrf did not run.*trivy detected no OS it supports/,
    );
    expect(env.stderr).toMatch(/warning: demo:1\.0-oe2203sp2: OS packages not scanned/);
  });

  it('a tag that was never built, or a bad name, is a clear error', async () => {
    const r = await scanReport(`${APP}:9.9`, 'json');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/no container recipe with that tag/);
    const bad = await runWharf(['scan', 'report', '../x:1', '--format', 'json', '--catalog', catalog]);
    expect(bad.exitCode).toBe(2);
  });
});
