// Installed packages from real RPM databases (built here with rpmbuild + rpm, both formats), matched
// against openEuler's real advisories; OCI layouts with whiteouts; coverage; SBOM; openEuler's report.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../catalog/blobs.ts';
import { parseCvrf, type Advisory } from '../../publisher/advisories/cvrf.ts';
import {
  coverageOf,
  cvrfToFinding,
  mergeFindings,
  OS_NOT_SCANNED,
  trivyOsView,
} from '../../publisher/advisories/coverage.ts';
import { syncFeed } from '../../publisher/advisories/feed.ts';
import { ReleaseMatcher, type AdvisoryFinding } from '../../publisher/advisories/match.ts';
import { readPackages, type InstalledPackage } from '../../publisher/advisories/packages.ts';
import { renderOpenEulerReport } from '../../publisher/advisories/report-md.ts';
import { buildSbom, putSbom, rpmPurl } from '../../publisher/advisories/sbom.ts';
import { matchTarget } from '../../publisher/advisories/scan.ts';
import { parseTrivyReport, summarizeReport } from '../../publisher/scan/report.ts';
import {
  bdbRootfs,
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

const ROOT = resolve(import.meta.dirname, '../..');
const K47 = { version: '5.10.0', release: '153.47.0.125.oe2203sp2' };
let rpms: Record<string, string>;
let advisories: Advisory[];
/** The real kernel advisory with its aarch64 branch removed: an x86_64-only kernel fix. */
let kernelX86Only: Advisory;
let indexDir: string;

beforeAll(async () => {
  const top = await tmp('rpms');
  const specs = {
    golang31a: {
      name: 'golang',
      version: '1.17.3',
      release: '31.oe2203sp2',
      arch: 'aarch64',
      license: 'BSD and Public Domain',
    },
    golang32a: { name: 'golang', version: '1.17.3', release: '32.oe2203sp2', arch: 'aarch64' },
    golang31x: { name: 'golang', version: '1.17.3', release: '31.oe2203sp2', arch: 'x86_64' },
    golangHelp31: {
      name: 'golang-help',
      version: '1.17.3',
      release: '31.oe2203sp2',
      arch: 'noarch',
      source: 'golang',
    },
    kernelA: { name: 'kernel', ...K47, arch: 'aarch64' },
    bpftoolA: { name: 'bpftool', ...K47, arch: 'aarch64', source: 'kernel' },
    kernelX: { name: 'kernel', ...K47, arch: 'x86_64' },
    opensslA: { name: 'openssl', version: '1.1.1m', release: '20.oe2203sp2', arch: 'aarch64', epoch: 1 },
  } as const;
  rpms = {};
  for (const [k, s] of Object.entries(specs)) rpms[k] = await buildRpm(top, s);
  const dir = await cvrfDir();
  const docs = [
    '2021/cvrf-openEuler-SA-2021-1033.xml',
    '2022/cvrf-openEuler-SA-2022-1693.xml',
    '2023/cvrf-openEuler-SA-2023-1374.xml',
    '2024/cvrf-openEuler-SA-2024-1349.xml',
    '2024/cvrf-openEuler-SA-2024-1488.xml',
  ];
  advisories = [];
  for (const d of docs) advisories.push(parseCvrf(await readFile(join(dir, d), 'utf8'), d).advisory);
  const kernelXml = await readFile(join(dir, '2024/cvrf-openEuler-SA-2024-1349.xml'), 'utf8');
  const x86 = kernelXml
    .replace(/<Branch Type="Package Arch" Name="aarch64">[\s\S]*?<\/Branch>/, '')
    .replaceAll('openEuler-SA-2024-1349', 'openEuler-SA-2024-8349');
  kernelX86Only = parseCvrf(x86, 'kernel-x86_64-only').advisory;
  expect(kernelX86Only.fixed.some(([, arch]) => arch === 'aarch64')).toBe(false);
  const feed = await serveFeed(dir);
  try {
    indexDir = await tmp('index');
    await syncFeed({ url: feed.url, dir: indexDir });
  } finally {
    await feed.close();
  }
}, 300_000);

const rootfs = async (format: 'sqlite' | 'bdb', keys: string[]) => {
  const root = await tmp(`rootfs-${format}`);
  await (format === 'sqlite' ? sqliteRootfs : bdbRootfs)(
    root,
    keys.map((k) => rpms[k]!),
  );
  return root;
};

describe.each(['sqlite', 'bdb'] as const)('a real %s RPM database', (format) => {
  it('lists name, epoch, version, release, arch, source RPM and license', async () => {
    const root = await rootfs(format, ['golang31a', 'golangHelp31', 'opensslA']);
    const [set] = await readPackages(root);
    expect(set).toMatchObject({
      arch: 'arm64',
      format,
      rpmdb: format === 'sqlite' ? 'var/lib/rpm/rpmdb.sqlite' : 'var/lib/rpm/Packages',
    });
    expect(set!.packages).toEqual([
      {
        name: 'golang',
        epoch: 0,
        version: '1.17.3',
        release: '31.oe2203sp2',
        arch: 'aarch64',
        sourceRpm: 'golang-1.17.3-31.oe2203sp2.src.rpm',
        license: 'BSD and Public Domain',
      },
      {
        name: 'golang-help',
        epoch: 0,
        version: '1.17.3',
        release: '31.oe2203sp2',
        arch: 'noarch',
        sourceRpm: 'golang-1.17.3-31.oe2203sp2.src.rpm',
        license: 'MIT',
      },
      {
        name: 'openssl',
        epoch: 1,
        version: '1.1.1m',
        release: '20.oe2203sp2',
        arch: 'aarch64',
        sourceRpm: 'openssl-1.1.1m-20.oe2203sp2.src.rpm',
        license: 'MIT',
      },
    ]);
  });

  it('golang 1.17.3-31 on 22.03 LTS SP2 is affected by openEuler-SA-2024-1488; 1.17.3-32 is not', async () => {
    const m = new ReleaseMatcher(advisories, '22.03-LTS-SP2');
    const [old] = await readPackages(await rootfs(format, ['golang31a', 'golangHelp31']));
    const findings = m.match(old!.packages);
    expect(findings.map((f) => [f.advisory, f.package, f.arch, f.installed, f.fixed, f.matchedBy])).toEqual([
      ['openEuler-SA-2024-1488', 'golang', 'aarch64', '1.17.3-31.oe2203sp2', '1.17.3-32.oe2203sp2', 'binary'],
      [
        'openEuler-SA-2024-1488',
        'golang-help',
        'noarch',
        '1.17.3-31.oe2203sp2',
        '1.17.3-32.oe2203sp2',
        'binary',
      ],
    ]);
    expect(findings[0]).toMatchObject({
      cves: ['CVE-2023-45288'],
      severity: 'HIGH',
      cvss: 7.5,
      status: 'fixed',
    });
    const [fixed] = await readPackages(await rootfs(format, ['golang32a']));
    expect(m.match(fixed!.packages)).toEqual([]);
  });
});

describe('matching rules', () => {
  const pkg = (p: Partial<InstalledPackage> & Pick<InstalledPackage, 'name' | 'arch'>): InstalledPackage => ({
    epoch: 0,
    version: K47.version,
    release: K47.release,
    sourceRpm: `${p.name}-${K47.version}-${K47.release}.src.rpm`,
    license: 'GPLv2',
    ...p,
  });

  it('a kernel advisory for x86_64 does not match an aarch64 image, and matches an x86_64 one', async () => {
    const m = new ReleaseMatcher([kernelX86Only], '22.03-LTS-SP2');
    const [arm] = await readPackages(await rootfs('sqlite', ['kernelA', 'bpftoolA']));
    expect(arm!.packages.map((p) => `${p.name}.${p.arch}`)).toEqual(['bpftool.aarch64', 'kernel.aarch64']);
    expect(m.match(arm!.packages)).toEqual([]);
    const [x86] = await readPackages(await rootfs('sqlite', ['kernelX']));
    expect(m.match(x86!.packages).map((f) => [f.package, f.arch, f.fixed])).toEqual([
      ['kernel', 'x86_64', '5.10.0-153.48.0.126.oe2203sp2'],
    ]);
  });

  it('the real kernel advisory (aarch64, x86_64, src) matches aarch64 binaries by name and the rest by source RPM', async () => {
    const m = new ReleaseMatcher(advisories, '22.03-LTS-SP2');
    const [arm] = await readPackages(await rootfs('sqlite', ['kernelA', 'bpftoolA']));
    expect(m.match(arm!.packages).map((f) => [f.advisory, f.package, f.matchedBy])).toEqual([
      ['openEuler-SA-2024-1349', 'bpftool', 'source'],
      ['openEuler-SA-2024-1349', 'kernel', 'binary'],
    ]);
    // the same kernel on another release: not this advisory's business
    expect(new ReleaseMatcher(advisories, '22.03-LTS-SP3').match(arm!.packages)).toEqual([]);
  });

  it('rpm ordering: a newer or equal build is not affected; dist tags and the missing feed epoch do not count', () => {
    const m = new ReleaseMatcher(advisories, '22.03-LTS-SP2');
    const v = (release: string, epoch = 0) =>
      m.match([pkg({ name: 'kernel', arch: 'x86_64', release, epoch })]);
    expect(v('153.48.0.126.oe2203sp2')).toEqual([]);
    expect(v('153.48.0.126')).toEqual([]); // no dist tag: same build
    expect(v('153.100.0.1.oe2203sp2')).toEqual([]); // 100 > 48 numerically
    expect(v('153.9.0.1.oe2203sp2')).toHaveLength(1); // 9 < 48 numerically, not as text
    expect(v('153.47.0.125', 2)[0]).toMatchObject({ installed: '2:5.10.0-153.47.0.125' });
  });

  it('package names from the feed never select packages of another name or arch', () => {
    const m = new ReleaseMatcher(advisories, '22.03-LTS-SP2');
    expect(
      m.match([pkg({ name: 'golang', arch: 'riscv64', version: '1.17.3', release: '1', sourceRpm: '' })]),
    ).toEqual([]);
    expect(() => new ReleaseMatcher(advisories, '22.03; rm -rf /')).toThrow(/not an openEuler release/);
  });
});

describe('OCI layouts', () => {
  it('reads the RPM database of every image in the layout, applying whiteouts; a distroless image has none', async () => {
    const bdb = await rootfs('bdb', ['golang31a', 'golangHelp31']);
    const sq32 = await rootfs('sqlite', ['golang32a']);
    const sq31x = await rootfs('sqlite', ['golang31x']);
    const dir = join(await tmp('layout'), 'image');
    await ociLayout(dir, [
      // amd64: a 22.03 image with golang 31
      { arch: 'amd64', layers: [await layer(await dirEntries(join(sq31x, 'var/lib/rpm'), 'var/lib/rpm'))] },
      // arm64: a 20.03-style BerkeleyDB in the base layer, replaced (whiteout) by a sqlite db with golang 32
      {
        arch: 'arm64',
        layers: [
          await layer([
            { path: 'var/lib/rpm' },
            ...(await dirEntries(join(bdb, 'var/lib/rpm'), 'var/lib/rpm')),
          ]),
          await layer([
            { path: 'var/lib/rpm/.wh.Packages', data: Buffer.alloc(0) },
            ...(await dirEntries(join(sq32, 'var/lib/rpm'), 'var/lib/rpm')),
          ]),
        ],
      },
    ]);
    const sets = await readPackages(dir);
    expect(
      sets.map((s) => [s.arch, s.format, s.packages.map((p) => `${p.name}-${p.release}.${p.arch}`)]),
    ).toEqual([
      ['amd64', 'sqlite', ['golang-31.oe2203sp2.x86_64']],
      ['arm64', 'sqlite', ['golang-32.oe2203sp2.aarch64']],
    ]);
    const r = await matchTarget(dir, '22.03-lts-sp2', indexDir);
    expect(r.arches.map((a) => [a.arch, a.findings.map((f) => f.advisory)])).toEqual([
      ['amd64', ['openEuler-SA-2024-1488']],
      ['arm64', []],
    ]);
    expect(r.coverage.os).toMatchObject({ by: 'wharf-cvrf', release: '22.03-LTS-SP2' });

    // a layer that symlinks /var/lib/rpm to /usr/lib/sysimage/rpm (absolute) is followed inside the image
    const linked = join(await tmp('layout'), 'linked');
    await ociLayout(linked, [
      {
        arch: 'arm64',
        layers: [
          await layer([
            { path: 'var/lib/rpm', link: '/usr/lib/sysimage/rpm' },
            ...(await dirEntries(join(sq32, 'var/lib/rpm'), 'usr/lib/sysimage/rpm')),
          ]),
        ],
      },
    ]);
    expect((await readPackages(linked))[0]).toMatchObject({
      rpmdb: 'var/lib/rpm/rpmdb.sqlite',
      format: 'sqlite',
    });

    const distroless = join(await tmp('layout'), 'distroless');
    await ociLayout(distroless, [
      { arch: 'amd64', layers: [await layer([{ path: 'app/server', data: Buffer.from('x') }])] },
    ]);
    const d = await matchTarget(distroless, '24.03-LTS-SP4', indexDir);
    expect(d.arches[0]).toMatchObject({ packages: 0, findings: [] });
    expect(d.arches[0]!.noRpmdb).toMatch(/no RPM database/);
    expect(d.coverage.os.by).toBe('none');
    expect(d.coverage.summary.startsWith(OS_NOT_SCANNED)).toBe(true);
  });

  it('an RPM database that does not open is a clear error', async () => {
    const root = await tmp('broken');
    await mkdir(join(root, 'var/lib/rpm'), { recursive: true });
    await writeFile(join(root, 'var/lib/rpm/rpmdb.sqlite'), 'not a database');
    await expect(readPackages(root)).rejects.toThrow(
      /var\/lib\/rpm\/rpmdb\.sqlite: the RPM database does not open \(sqlite\)/,
    );
  });
});

describe('coverage: never clean when the OS packages were not matched', () => {
  /** What Trivy writes for an OS it does not support (openEuler): no OS detected, no os-pkgs result. */
  const unsupported = async () => {
    const real = JSON.parse(await sharedFile('trivy-reports/centos-7.json'));
    delete real.Metadata.OS;
    real.Results = [];
    return parseTrivyReport(JSON.stringify(real), 'trivy on openEuler');
  };

  it('Trivy reporting an unsupported OS gives "OS packages not scanned", not "no known vulnerabilities"', async () => {
    const report = await unsupported();
    expect(summarizeReport(report).findings).toEqual([]);
    expect(trivyOsView(report).scanned).toBe(false);
    const c = coverageOf({ trivy: { report } });
    expect(c.os.by).toBe('none');
    expect(c.osScanned).toBe(false);
    expect(c.summary).toMatch(/^OS packages not scanned \(.*trivy detected no OS it supports/);
    expect(c.language.by).toBe('trivy');
    // an OS it detects but has no OS-package result for (an unsupported family) reads the same
    const fam = JSON.parse(await sharedFile('trivy-reports/centos-7.json'));
    fam.Metadata.OS = { Family: 'openEuler', Name: '22.03' };
    fam.Results = [];
    expect(coverageOf({ trivy: { report: parseTrivyReport(JSON.stringify(fam)) } }).summary).toMatch(
      /^OS packages not scanned \(.*trivy does not support openEuler 22\.03/,
    );
  });

  it('a real supported-OS Trivy report covers the OS packages; wharf-cvrf covers openEuler with the data age', async () => {
    const centos = parseTrivyReport(await sharedFile('trivy-reports/centos-7.json'));
    expect(coverageOf({ trivy: { report: centos, dbUpdatedAt: '2026-12-01T00:00:00Z' } }).os.by).toBe(
      'trivy',
    );
    const c = coverageOf({
      cvrf: {
        release: '22.03-LTS-SP2',
        syncedAt: '2026-12-01T00:00:00Z',
        advisoriesForRelease: 2,
        rpmdb: true,
      },
      trivy: { report: await unsupported() },
      now: new Date('2026-12-01T06:00:00Z'),
    });
    expect(c.os).toEqual({
      by: 'wharf-cvrf',
      release: '22.03-LTS-SP2',
      data: { at: '2026-12-01T00:00:00Z', ageHours: 6 },
    });
    expect(c.summary).toBe(
      'OS packages: wharf-cvrf (openEuler 22.03-LTS-SP2, data 6 h old); language packages: trivy',
    );
    // a feed that knows nothing of the release is no coverage either
    const none = coverageOf({
      cvrf: {
        release: '24.03-LTS-SP4',
        syncedAt: '2026-12-01T00:00:00Z',
        advisoriesForRelease: 0,
        rpmdb: true,
      },
    });
    expect(none.summary).toMatch(
      /^OS packages not scanned \(the advisory feed has no advisories for openEuler 24\.03-LTS-SP4/,
    );
  });

  it('Trivy and wharf-cvrf findings are merged; a CVE both report for a package is kept once', () => {
    const f: AdvisoryFinding = {
      advisory: 'openEuler-SA-2024-1488',
      cves: ['CVE-2023-45288'],
      severity: 'HIGH',
      package: 'golang',
      arch: 'x86_64',
      installed: '1.17.3-31.oe2203sp2',
      fixed: '1.17.3-32.oe2203sp2',
      status: 'fixed',
      matchedBy: 'binary',
      title: 'golang security update',
    };
    const merged = mergeFindings(
      [cvrfToFinding(f, 'img')],
      [
        { id: 'CVE-2023-45288', pkg: 'golang', installed: '1.17.3-31', severity: 'HIGH' },
        {
          id: 'CVE-2024-0001',
          pkg: 'golang.org/x/net',
          installed: 'v0.1.0',
          severity: 'MEDIUM',
          target: 'app',
        },
      ],
    );
    expect(merged.map((m) => [m.source, m.id, m.pkg])).toEqual([
      ['wharf-cvrf', 'openEuler-SA-2024-1488', 'golang'],
      ['trivy', 'CVE-2024-0001', 'golang.org/x/net'],
    ]);
  });
});

describe("openEuler's report format", () => {
  it('re-renders the community report of nginx 1.27.2-oe2203sp4 byte for byte from its own rows', async () => {
    const sample = await sharedFile(
      'openeuler-docker-images/Security/reports/quay.io/openeuler/nginx/1.27.2-oe2203sp4.md',
    );
    const arches: { arch: string; findings: AdvisoryFinding[] }[] = [];
    for (const line of sample.split('\n')) {
      const a = /^ ### 扫描架构：(\S+) $/.exec(line);
      if (a) arches.push({ arch: a[1]!, findings: [] });
      const row = /^\| \d+ \| (\S+) \| \[(\S+)\]\(\S+\) \| (\w+) \| (\w+) \| (\S+) \| (\S+) \|$/.exec(line);
      if (row)
        arches.at(-1)!.findings.push({
          advisory: row[2]!,
          cves: [],
          severity: row[3] as AdvisoryFinding['severity'],
          package: row[1]!,
          arch: arches.at(-1)!.arch,
          installed: `${row[5]!}.oe2203sp4`,
          fixed: `${row[6]!}.oe2203sp4`,
          status: 'fixed',
          matchedBy: 'binary',
          title: '',
        });
    }
    expect(arches.map((a) => [a.arch, a.findings.length])).toEqual([
      ['amd64', 158],
      ['arm64', 158],
    ]);
    // shuffled input: the order is the report's own (package, severity, fix, advisory)
    for (const a of arches) a.findings.reverse();
    const md = renderOpenEulerReport({ scannedAt: new Date('2026-08-13T15:02:00Z'), arches });
    expect(md).toBe(sample);
  });
});

describe('SBOM', () => {
  it('CycloneDX 1.6 with rpm purls, stored in the blob store', async () => {
    const [set] = await readPackages(await rootfs('sqlite', ['golang31a', 'opensslA']));
    expect(rpmPurl(set!.packages[0]!, '22.03-LTS-SP2')).toBe(
      'pkg:rpm/openeuler/golang@1.17.3-31.oe2203sp2?arch=aarch64&distro=openeuler-22.03-lts-sp2',
    );
    const text = buildSbom({
      packages: set!.packages,
      release: '24.03-lts-sp4',
      subject: 'app:1.0',
      arch: 'arm64',
    });
    const bom = JSON.parse(text);
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6' });
    expect(bom.components.map((c: { purl: string }) => c.purl)).toEqual([
      'pkg:rpm/openeuler/golang@1.17.3-31.oe2203sp2?arch=aarch64&distro=openeuler-24.03-lts-sp4',
      'pkg:rpm/openeuler/openssl@1.1.1m-20.oe2203sp2?arch=aarch64&distro=openeuler-24.03-lts-sp4&epoch=1',
    ]);
    const blobs = new FsBlobStore(await tmp('blobs'));
    const ref = await putSbom(blobs, text);
    expect(ref.mediaType).toBe('application/vnd.cyclonedx+json');
    expect((await blobs.get(ref))?.toString()).toBe(text);
  });
});

describe('wharf scan packages | match (CLI)', { timeout: 240_000 }, () => {
  const wharf = (args: string[]) =>
    execa(process.execPath, ['scripts/wharf.mjs', ...args], {
      cwd: ROOT,
      reject: false,
      env: { WHARF_CATALOG: '' },
    });

  it('packages --json and match --os --advisories --json', async () => {
    const root = await rootfs('sqlite', ['golang31x', 'kernelX']);
    const sbomFile = join(await tmp('sbom'), 'sbom.json');
    const p = await wharf(['scan', 'packages', root, '--sbom', sbomFile, '--os', '22.03-LTS-SP2', '--json']);
    expect(p.exitCode, p.stderr).toBe(0);
    const out = JSON.parse(p.stdout);
    expect(out.sboms).toEqual([{ arch: 'amd64', file: sbomFile }]);
    const sbom = JSON.parse(await readFile(sbomFile, 'utf8'));
    expect(sbom.specVersion).toBe('1.6');
    expect(sbom.components.map((c: { purl: string }) => c.purl)).toContain(
      'pkg:rpm/openeuler/golang@1.17.3-31.oe2203sp2?arch=x86_64&distro=openeuler-22.03-lts-sp2',
    );
    expect(
      out.images[0].packages.map((x: InstalledPackage) => [
        x.name,
        x.epoch,
        x.version,
        x.release,
        x.arch,
        x.sourceRpm,
      ]),
    ).toEqual([
      ['golang', 0, '1.17.3', '31.oe2203sp2', 'x86_64', 'golang-1.17.3-31.oe2203sp2.src.rpm'],
      [
        'kernel',
        0,
        '5.10.0',
        '153.47.0.125.oe2203sp2',
        'x86_64',
        'kernel-5.10.0-153.47.0.125.oe2203sp2.src.rpm',
      ],
    ]);
    const m = await wharf([
      'scan',
      'match',
      root,
      '--os',
      '22.03-LTS-SP2',
      '--advisories',
      indexDir,
      '--json',
    ]);
    expect(m.exitCode, m.stderr).toBe(0);
    const r = JSON.parse(m.stdout);
    expect(r.findings.map((f: AdvisoryFinding) => [f.advisory, f.package, f.installed, f.fixed])).toEqual([
      ['openEuler-SA-2024-1488', 'golang', '1.17.3-31.oe2203sp2', '1.17.3-32.oe2203sp2'],
      ['openEuler-SA-2024-1349', 'kernel', '5.10.0-153.47.0.125.oe2203sp2', '5.10.0-153.48.0.126.oe2203sp2'],
    ]);
    expect(r.findings[1].cves).toHaveLength(9);
    expect(r.coverage.os.by).toBe('wharf-cvrf');
    const bad = await wharf(['scan', 'match', root, '--os', '../../etc', '--advisories', indexDir, '--json']);
    expect(bad.exitCode).toBe(2);
  });
});
