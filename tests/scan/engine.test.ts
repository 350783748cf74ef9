// The scan stage in the real pipeline: podman builds an image whose rootfs holds a real RPM database
// (golang 1.17.3-31 on openEuler 22.03 LTS SP2, installed by rpm into a sqlite rpmdb), the pipeline
// builds, verifies, scans, signs and publishes it to a real docker-registry, and the catalog's local
// advisory index comes from the real openEuler advisories served on loopback. Trivy (the stand-in)
// reports the OS as unsupported, as real Trivy does for openEuler; wharf-cvrf covers the OS packages.
// One built image is shared by every check in this file.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../catalog/schema.ts';
import { advisoriesDir } from '../../publisher/advisories/config.ts';
import { syncFeed } from '../../publisher/advisories/feed.ts';
import { CYCLONEDX_PREDICATE } from '../../publisher/scan/attest.ts';
import { runPipeline, selectTargets, parseSelection } from '../../publisher/pipeline/index.ts';
import { readPackagesRef } from '../../publisher/scan/packages.ts';
import { SLSA_PROVENANCE_V1 } from '../../publisher/sign/provenance.ts';
import { verifyImage } from '../../publisher/sign/verify.ts';
import { openBlobStore } from '../../catalog/blobs-s3.ts';
import { buildSite } from '../../site/node/build.ts';
import { startPipelineFixture, type PipelineFixture } from '../pipeline/fixture.ts';
import { buildRpm, cvrfDir, serveFeed, sqliteRootfs, tmp, type FeedServer } from '../advisories/helpers.ts';
import { FIXTURES } from './helpers.ts';

const OS = '22.03-lts-sp2';
const TAG = '1.17.3-oe2203sp2';
const APP_DIR = 'Others/golang';
let f: PipelineFixture;
let feed: FeedServer;
let env: NodeJS.ProcessEnv;
let publicKey: KeyObject;
let art: Artifact;
const saved = process.env.FAKE_TRIVY_REPORT;

beforeAll(async () => {
  f = await startPipelineFixture({ apps: false });
  feed = await serveFeed(await cvrfDir());
  await syncFeed({ url: feed.url, dir: advisoriesDir(f.store.dir) });

  // The recipe: the busybox base plus a real rpmdb listing golang 1.17.3-31 (x86_64).
  const rpm = await buildRpm(await tmp('rpms'), {
    name: 'golang',
    version: '1.17.3',
    release: '31.oe2203sp2',
    arch: 'x86_64',
    license: 'BSD and Public Domain',
  });
  const db = await sqliteRootfs(await tmp('root'), [rpm]);
  const dir = join(f.recipesDir, APP_DIR, '1.17.3', OS);
  await mkdir(dir, { recursive: true });
  await copyFile(join(db, 'rpmdb.sqlite'), join(dir, 'rpmdb.sqlite'));
  await writeFile(
    join(dir, 'Dockerfile'),
    [
      `ARG BASE=openeuler/openeuler:${OS}`,
      'FROM ${BASE}',
      'COPY rpmdb.sqlite /var/lib/rpm/rpmdb.sqlite',
      'CMD ["cat", "/etc/base-release"]',
      '',
    ].join('\n'),
  );
  await f.commitRecipes('golang on 22.03 LTS SP2');
  await f.store.commit({ subject: 'test: golang app' }, async (tx) => {
    const cfg = await tx.getConfig();
    tx.putConfig({ ...cfg, baseImages: { ...cfg.baseImages, [OS]: f.baseRef } });
    tx.putApp({
      id: 'golang',
      name: 'golang',
      title: { en: 'golang' },
      category: 'others',
      license: { spdx: 'BSD-3-Clause' },
      source: { origin: 'fixture', dir: APP_DIR },
      recipes: {
        container: [
          {
            kind: 'container',
            tag: TAG,
            dockerfile: `1.17.3/${OS}/Dockerfile`,
            version: '1.17.3',
            osVersion: OS,
            arches: ['amd64'],
          },
        ],
        cloud: [],
        wsl: [],
      },
    });
  });

  // What real Trivy reports for openEuler: the OS detected, no OS-package result.
  const report = JSON.parse(await readFile(join(FIXTURES, 'centos-7.json'), 'utf8'));
  report.Metadata.OS = { Family: 'openEuler', Name: '22.03' };
  report.Results = [];
  const reportPath = join(f.dir, 'trivy-openeuler.json');
  await writeFile(reportPath, JSON.stringify(report));
  process.env.FAKE_TRIVY_REPORT = reportPath;
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  publicKey = keys.publicKey;
  env = {
    WHARF_SIGNING_KEY: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    WHARF_TRIVY: resolve('tests/fixtures/bin/trivy'),
    WHARF_TRIVY_TIMEOUT: '30',
  };

  const ctx = await f.ctx({ env });
  const snap = await f.store.load();
  expect(snap.problems).toEqual([]);
  const { targets } = selectTargets(snap, parseSelection(['golang']));
  const r = await runPipeline(ctx, targets, { verify: { defaultGraceSeconds: 2, networkMode: 'host' } });
  expect(r.counts.published, JSON.stringify(r.artifacts, null, 1)).toBe(1);
  art = (await f.store.loadApp('golang'))!.artifacts.find((a) => a.id === TAG)!;
}, 300_000);
afterAll(async () => {
  process.env.FAKE_TRIVY_REPORT = saved;
  await feed?.close();
  await f?.stop();
});

describe('scan stage on an image built by podman', () => {
  it('records the installed packages, the wharf-cvrf finding, the coverage and the SBOM', async () => {
    const scan = art.records.scan!;
    expect(scan.status).toBe('ok');
    expect(scan.target).toBe(art.records.build!.manifestDigest);
    expect(scan.coverage!.os).toMatchObject({ by: 'wharf-cvrf', release: '22.03-LTS-SP2' });
    expect(scan.coverage!.language.by).toBe('trivy');
    expect(scan.coverage!.arches).toEqual([
      expect.objectContaining({ arch: 'amd64', packages: 1, rpmdb: 'var/lib/rpm/rpmdb.sqlite', findings: 1 }),
    ]);
    expect(scan.summary!.total.HIGH).toBe(1);
    const blobs = openBlobStore(f.store.dir, (await f.store.load()).config);
    const findings = JSON.parse((await blobs.get(scan.findingsRef!))!.toString('utf8')).findings;
    expect(findings).toEqual([
      expect.objectContaining({
        id: 'openEuler-SA-2024-1488',
        pkg: 'golang',
        installed: '1.17.3-31.oe2203sp2',
        severity: 'HIGH',
        source: 'wharf-cvrf',
      }),
    ]);
    const pk = await readPackagesRef(blobs, scan.packagesRef!);
    expect(pk.ok && pk.sets.map((s) => [s.arch, s.packages.map((p) => p.name)])).toEqual([
      ['amd64', ['golang']],
    ]);
    const bom = JSON.parse((await blobs.get(scan.sbom!))!.toString('utf8'));
    expect(bom.bomFormat).toBe('CycloneDX');
    expect(bom.specVersion).toBe('1.6');
    expect(bom.components).toEqual([
      expect.objectContaining({
        name: 'golang',
        version: '1.17.3-31.oe2203sp2',
        purl: 'pkg:rpm/openeuler/golang@1.17.3-31.oe2203sp2?arch=x86_64&distro=openeuler-22.03-lts-sp2',
      }),
    ]);
  });

  it('attests the SBOM next to the provenance in the pushed .att manifest; both verify', async () => {
    const sign = art.records.sign!;
    expect(sign.status).toBe('signed');
    expect(sign.sbom?.sha256).toBe(art.records.scan!.sbom!.sha256);
    const v = await verifyImage(`${f.registry.host}/wharf/golang:${TAG}`, publicKey, {
      requireAttestation: true,
    });
    expect(v.reasons).toEqual([]);
    expect(v.valid).toBe(true);
    expect(v.attestations.map((a) => a.predicateType).sort()).toEqual(
      [CYCLONEDX_PREDICATE, SLSA_PROVENANCE_V1].sort(),
    );
    const att = v.attestations.find((a) => a.predicateType === CYCLONEDX_PREDICATE)!;
    const st = att.statement as { predicate: { components: { name: string }[] } };
    expect(st.predicate.components.map((c) => c.name)).toEqual(['golang']);
  });

  it("the site's tag page shows the finding, the coverage and the SBOM download", async () => {
    const out = join(f.dir, 'site');
    await buildSite({ catalog: f.store.dir, out, logLevel: 'silent' });
    const page = await readFile(join(out, 'en/apps/golang/container', TAG, 'index.html'), 'utf8');
    const security = page.slice(page.indexOf('id="security"'));
    expect(security).toContain('openEuler-SA-2024-1488');
    expect(security).toContain('data-os-coverage="wharf-cvrf"');
    expect(security).toContain('wharf-cvrf (openEuler 22.03-LTS-SP2');
    expect(security).not.toContain('OS packages not scanned');
    expect(security).toContain(`href="/apps/golang/container/${TAG}/sbom.cdx.json"`);
    expect(security).toContain('attached to the image as a signed attestation');
    const sbom = await readFile(join(out, 'apps/golang/container', TAG, 'sbom.cdx.json'), 'utf8');
    expect(JSON.parse(sbom).components[0].purl).toMatch(/^pkg:rpm\/openeuler\/golang@1\.17\.3-31/);
    const api = JSON.parse(await readFile(join(out, 'api/apps/golang.json'), 'utf8'));
    expect(api.tags[0].scan).toMatchObject({
      state: 'ok',
      osPackages: 'wharf-cvrf',
      languagePackages: 'trivy',
    });
  }, 180_000);
});
