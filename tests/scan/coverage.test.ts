// The scan stage's OS-package coverage on real inputs: an OCI layout whose layer holds a real RPM
// database (golang 1.17.3-31 on openEuler 22.03 LTS SP2, installed by rpm itself), the real openEuler
// advisories served by a loopback feed server, and the stand-in Trivy printing what real Trivy prints
// for an OS it does not support (openEuler: the OS detected, no OS-package result). Shows: without an
// advisory index the scan is "OS packages not scanned" — in the record, the policy, the requireScan
// gate, the events and the site — never clean; with it wharf-cvrf finds openEuler-SA-2024-1488; the
// daily rescan re-matches the stored package list against a newer feed (the image layout deleted, no
// Trivy pull needed for it) and queues the rebuild.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../../catalog/git.ts';
import { newRunId } from '../../catalog/run-id.ts';
import type { Artifact, ContainerRecipe } from '../../catalog/schema.ts';
import { syncFeed } from '../../publisher/advisories/feed.ts';
import { advisoriesDir } from '../../publisher/advisories/config.ts';
import { imageGate } from '../../publisher/artifact/gate.ts';
import { deriveEvents } from '../../publisher/events/derive.ts';
import { rescanPublished } from '../../publisher/pipeline/rescan.ts';
import { readPackagesRef } from '../../publisher/scan/packages.ts';
import { summaryText } from '../../publisher/scan/record.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import { buildSite } from '../../site/node/build.ts';
import {
  buildRpm,
  cvrfDir,
  dirEntries,
  layer,
  ociLayout,
  serveFeed,
  sqliteRootfs,
  tmp,
  type FeedServer,
} from '../advisories/helpers.ts';
import { createScanRunner } from '../../publisher/scan/index.ts';
import { FIXTURES, runScan, scanFixture, scanWith, type ScanFixture } from './helpers.ts';

const OS = '22.03-lts-sp2';
const TAG = '1.17.3-oe2203sp2';
const REPO = '127.0.0.1:5999/openeuler';
let fx: ScanFixture;
let feed: FeedServer;
let golangLayout: Buffer;
let unsupportedReport: string;
const saved = { report: process.env.FAKE_TRIVY_REPORT, sbom: process.env.FAKE_TRIVY_SBOM };

/** Write the layout of `app` and an artifact with a build record for its digest. */
async function addApp(app: string, layers: Buffer[]): Promise<string> {
  const dir = imageLayoutDir({ workDir: fx.workDir }, app, TAG);
  await ociLayout(dir, [{ arch: 'amd64', layers }]);
  const digest = (
    JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }
  ).manifests[0]!.digest;
  const recipe: ContainerRecipe = {
    kind: 'container',
    tag: TAG,
    dockerfile: `1.17.3/${OS}/Dockerfile`,
    version: '1.17.3',
    osVersion: OS,
    arches: ['amd64'],
  };
  await fx.store.commit({ subject: `test: add ${app}` }, (tx) => {
    tx.putApp({
      id: app,
      name: app,
      title: { en: app },
      category: 'tools',
      recipes: { container: [recipe], cloud: [], wsl: [] },
    });
    tx.putArtifact({
      app,
      kind: 'container',
      id: TAG,
      version: '1.17.3',
      osVersion: OS,
      arches: ['amd64'],
      records: {
        build: { runId: newRunId(), at: '2026-11-30T00:00:00.000Z', status: 'ok', manifestDigest: digest },
      },
    });
  });
  return digest;
}

beforeAll(async () => {
  fx = await scanFixture({ registries: [{ name: 'local', repository: REPO, insecure: true }] });
  // The site reads finding lists and SBOMs from the blob store wharf.yml names: the fixture's.
  await fx.store.commit({ subject: 'test: blob store' }, async (tx) => {
    tx.putConfig({ ...(await tx.getConfig()), blobs: { kind: 'fs', path: join(fx.root, 'blobs') } });
  });
  feed = await serveFeed(await cvrfDir());
  // The first feed the catalog sees has no SA-2024-1488 yet (it is "published" later, for the rescan).
  const index = await readFile(join(feed.root, 'index.txt'), 'utf8');
  await writeFile(join(feed.root, 'index.txt'), index.replace('2024/cvrf-openEuler-SA-2024-1488.xml', '\n'));
  const top = await tmp('rpms');
  const rpm = await buildRpm(top, {
    name: 'golang',
    version: '1.17.3',
    release: '31.oe2203sp2',
    arch: 'x86_64',
  });
  const root = await tmp('root');
  const db = await sqliteRootfs(root, [rpm]);
  golangLayout = await layer([{ path: 'var/lib/rpm' }, ...(await dirEntries(db, 'var/lib/rpm'))]);
  // What Trivy reports for openEuler: the OS detected, no os-pkgs result (unsupported), nothing found.
  const r = JSON.parse(await readFile(join(FIXTURES, 'centos-7.json'), 'utf8'));
  r.Metadata.OS = { Family: 'openEuler', Name: '22.03' };
  r.Results = [];
  unsupportedReport = join(fx.root, 'trivy-openeuler.json');
  await writeFile(unsupportedReport, JSON.stringify(r));
  process.env.FAKE_TRIVY_REPORT = unsupportedReport;
}, 120_000);
afterAll(async () => {
  process.env.FAKE_TRIVY_REPORT = saved.report;
  if (saved.sbom === undefined) delete process.env.FAKE_TRIVY_SBOM;
  await feed?.close();
});

describe('scan stage coverage', () => {
  it('Trivy on an unsupported OS and no advisory index: "OS packages not scanned" in record, policy, gate and events — never clean', async () => {
    const digest = await addApp('golang', [golangLayout]);
    const ctx = await fx.ctx();
    const t = await fx.target('golang', TAG);
    const before = (await git(fx.store.dir, ['rev-parse', 'HEAD'])).trim();
    const out = await runScan(ctx, t);
    expect(out.status).toBe('ok');
    const scan = (await fx.artifact('golang', TAG)).records.scan!;
    expect(scan.status).toBe('ok');
    expect(scan.target).toBe(digest);
    expect(scan.summary!.total).toEqual({ CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 });
    expect(scan.coverage!.os.by).toBe('none');
    expect(scan.coverage!.os.reason).toMatch(/no advisory index in the catalog/);
    expect(scan.coverage!.os.reason).toMatch(/trivy does not support openEuler 22\.03/);
    expect(scan.coverage!.language.by).toBe('trivy');
    expect(scan.coverage!.arches).toEqual([
      { arch: 'amd64', manifest: digest, packages: 1, rpmdb: 'var/lib/rpm/rpmdb.sqlite', findings: 0 },
    ]);
    const text = summaryText(scan);
    expect(text).toMatch(/^OS packages not scanned \(/);
    expect(text).not.toMatch(/no known vulnerabilities/);
    expect(scan.policy!.osNotScanned).toMatch(/^OS packages not scanned/);
    expect(scan.policy!.blocked).toBe(false);

    // The package list is stored for rescans; the SBOM is Wharf's own, with rpm purls.
    const pk = await readPackagesRef(fx.blobs, scan.packagesRef!);
    expect(pk.ok && pk.sets[0]!.packages.map((p) => `${p.name}-${p.version}-${p.release}.${p.arch}`)).toEqual(
      ['golang-1.17.3-31.oe2203sp2.x86_64'],
    );
    const bom = JSON.parse((await fx.blobs.get(scan.sbom!))!.toString('utf8'));
    expect(bom.specVersion).toBe('1.6');
    expect(bom.components.map((c: { purl: string }) => c.purl)).toEqual([
      'pkg:rpm/openeuler/golang@1.17.3-31.oe2203sp2?arch=x86_64&distro=openeuler-22.03-lts-sp2',
    ]);

    // The gate: with requireScan, a scan that matched nothing against the OS packages blocks.
    const art = await fx.artifact('golang', TAG);
    const recipe = (await fx.target('golang', TAG)).recipe as ContainerRecipe;
    const passedVerify: Artifact = {
      ...art,
      records: { ...art.records, verify: { runId: newRunId(), at: scan.at, status: 'passed', checks: [] } },
    };
    const snap = await fx.store.load();
    const strict = { ...snap.config, scanPolicy: { ...snap.config.scanPolicy, requireScan: true } };
    const gate = imageGate(passedVerify, recipe, strict);
    expect(gate.ok).toBe(false);
    expect(!gate.ok && gate.reason).toMatch(/^OS packages not scanned \(/);
    expect(imageGate(passedVerify, recipe, snap.config).ok).toBe(true);

    // The event of that commit says so too.
    const head = (await git(fx.store.dir, ['rev-parse', 'HEAD'])).trim();
    const shas = (await git(fx.store.dir, ['rev-list', `${before}..${head}`])).trim().split('\n');
    const events = await deriveEvents(fx.store.dir, shas, { source: 'wharf://test', catalogName: 'test' });
    const scanned = events.find((e) => e.type.endsWith('image.scanned'))!;
    expect(scanned.summary).toMatch(/OS packages not scanned/);
    expect(scanned.summary).toMatch(/This is not a clean result/);
    expect(scanned.summary).not.toMatch(/was scanned: 0 critical/);
    expect((scanned.data as unknown as { coverage: { osNotScanned: boolean } }).coverage.osNotScanned).toBe(
      true,
    );
  }, 120_000);

  it('with the advisory index wharf-cvrf covers the OS packages: golang 1.17.3-31 has openEuler-SA-2024-1488 after the feed publishes it; the rescan re-matches the stored list and queues the rebuild', async () => {
    const dir = advisoriesDir(fx.store.dir);
    await syncFeed({ url: feed.url, dir });
    const ctx = await fx.ctx();
    await scanWith(createScanRunner({ force: true }))(ctx, await fx.target('golang', TAG));
    let scan = (await fx.artifact('golang', TAG)).records.scan!;
    expect(scan.coverage!.os).toMatchObject({ by: 'wharf-cvrf', release: '22.03-LTS-SP2' });
    expect(scan.coverage!.os.data!.ageHours).toBeGreaterThanOrEqual(0);
    expect(scan.policy!.osNotScanned).toBeUndefined();
    expect(summaryText(scan)).toBe('no known vulnerabilities');

    // Published; then openEuler publishes SA-2024-1488 and the feed is synced again.
    const digest = scan.target!;
    await fx.store.commit({ subject: 'test: publish golang' }, async (tx) => {
      await tx.updateArtifact('golang', 'container', TAG, (a) => ({
        ...a!,
        records: {
          ...a!.records,
          publish: {
            runId: newRunId(),
            at: scan.at,
            status: 'ok',
            digest,
            targets: [{ target: 'local', ref: `${REPO}/golang:${TAG}`, status: 'ok', digest }],
          },
        },
      }));
    });
    await writeFile(join(feed.root, 'index.txt'), await readFile(join(await cvrfDir(), 'index.txt')));
    // Nothing to read the packages from but the stored list: the layout is gone.
    await rm(imageLayoutDir({ workDir: fx.workDir }, 'golang', TAG), { recursive: true, force: true });
    // The daily rescan syncs the feed first (only SA-2024-1488 is fetched), then re-matches.
    const requests = feed.log.length;
    const res = await rescanPublished(ctx, { force: true, syncAdvisories: true });
    expect(
      feed.log
        .slice(requests)
        .filter((l) => l.status === 200)
        .map((l) => l.path),
    ).toEqual(['index.txt', '2024/cvrf-openEuler-SA-2024-1488.xml']);
    expect(res.outcomes.map((o) => [o.app, o.status])).toEqual([['golang', 'ok']]);
    const a = await fx.artifact('golang', TAG);
    scan = a.records.scan!;
    expect(scan.rescan).toBe(true);
    expect(scan.coverage!.os.by).toBe('wharf-cvrf');
    expect(scan.newSinceLast).toEqual(['openEuler-SA-2024-1488 golang']);
    expect(scan.policy!.rebuildQueued).toBe(true);
    expect(a.pending?.reason).toBe('rescan: fixable openEuler-SA-2024-1488 in golang');
    const list = JSON.parse((await fx.blobs.get(scan.findingsRef!))!.toString('utf8')).findings;
    expect(list).toEqual([
      expect.objectContaining({
        id: 'openEuler-SA-2024-1488',
        pkg: 'golang',
        installed: '1.17.3-31.oe2203sp2',
        fixed: '1.17.3-32.oe2203sp2',
        source: 'wharf-cvrf',
        cves: expect.arrayContaining([expect.stringMatching(/^CVE-/)]),
      }),
    ]);
  }, 120_000);

  it('the site shows the coverage: "OS packages not scanned" for a distroless image, never "no known vulnerabilities"; the API says so', async () => {
    await addApp('static', [await layer([{ path: 'app/server', data: Buffer.from('x') }])]);
    await runScan(await fx.ctx(), await fx.target('static', TAG));
    const scan = (await fx.artifact('static', TAG)).records.scan!;
    expect(scan.coverage!.os.by).toBe('none');
    expect(scan.coverage!.os.reason).toMatch(/no RPM database/);

    const out = join(fx.root, 'site');
    await buildSite({ catalog: fx.store.dir, out, logLevel: 'silent' });
    const page = await readFile(join(out, 'en/apps/static/container', TAG, 'index.html'), 'utf8');
    const security = page.slice(page.indexOf('id="security"'));
    expect(security).toContain('OS packages not scanned');
    expect(security).not.toContain('no known vulnerabilities');
    expect(security).toContain('data-os-coverage="none"');
    const zh = await readFile(join(out, 'apps/static/container', TAG, 'index.html'), 'utf8');
    expect(zh).toContain('未扫描操作系统软件包');
    const api = JSON.parse(await readFile(join(out, 'api/apps/static.json'), 'utf8'));
    expect(api.tags[0].scan).toMatchObject({ state: 'ok', osPackages: 'none', osNotScanned: true });
    // The golang image (covered by wharf-cvrf) lists its advisory and offers its SBOM.
    const golang = await readFile(join(out, 'en/apps/golang/container', TAG, 'index.html'), 'utf8');
    expect(golang).toContain('openEuler-SA-2024-1488');
    expect(golang).toContain('data-os-coverage="wharf-cvrf"');
    expect(golang).not.toContain('OS packages not scanned');
    expect(golang).toContain(`href="/apps/golang/container/${TAG}/sbom.cdx.json"`);
    const sbom = JSON.parse(await readFile(join(out, 'apps/golang/container', TAG, 'sbom.cdx.json'), 'utf8'));
    expect(sbom.bomFormat).toBe('CycloneDX');
  }, 240_000);
});
