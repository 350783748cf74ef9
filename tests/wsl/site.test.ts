// The WSL section of the app page: site/src/lib/wsl.ts turns publish/sign records into downloads (per
// arch, first target, mirrors, install command), and a real `wharf site build` renders them on the app
// page (both languages) with the size, SHA-256, checksum and bundle links, signature and scan state.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { StageRecords } from '../../catalog/schema.ts';
import { openBlobStore } from '../../catalog/blobs-s3.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { formatSize, installCommand, wslImages } from '../../site/src/lib/wsl.ts';
import { ROOT } from '../helpers/wharf.ts';
import { tempDir } from '../rootfs/fixtures.ts';

const sha = (c: string) => c.repeat(64);
const obj = (target: string, arch: 'amd64' | 'arm64', base: string) => ({
  url: `${base}/myos/1.0-wsl/myos-1.0-${arch}.wsl`,
  sha256: sha(arch === 'amd64' ? 'a' : 'b'),
  size: arch === 'amd64' ? 12_345_678 : 11_000_000,
  target,
  arch,
  bucket: 'wsl',
  key: `myos/1.0-wsl/myos-1.0-${arch}.wsl`,
  checksumUrl: `${base}/myos/1.0-wsl/myos-1.0-${arch}.wsl.sha256`,
  signatureUrl: `${base}/myos/1.0-wsl/myos-1.0-${arch}.wsl.sigstore.json`,
});
const records: StageRecords = {
  scan: {
    runId: '20261201T000000Z-abcdef',
    at: '2026-12-01T00:00:00Z',
    status: 'ok',
    summary: {
      total: { CRITICAL: 0, HIGH: 2, MEDIUM: 0, LOW: 0, UNKNOWN: 0 },
      fixable: { CRITICAL: 0, HIGH: 2, MEDIUM: 0, LOW: 0, UNKNOWN: 0 },
    },
  },
  sign: {
    runId: '20261201T000000Z-abcdef',
    at: '2026-12-01T00:00:00Z',
    status: 'signed',
    keyId: 'k'.repeat(64),
    signatures: [],
    bundles: (['amd64', 'arm64'] as const).map((arch) => ({
      arch,
      file: `myos-1.0-${arch}.wsl`,
      sha256: sha(arch === 'amd64' ? 'a' : 'b'),
      bundle: { sha256: sha('c'), size: 100, mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' },
      mode: 'key' as const,
    })),
  },
  publish: {
    runId: '20261201T000000Z-abcdef',
    at: '2026-12-01T00:00:00Z',
    status: 'ok',
    targets: [],
    objects: [
      obj('obs', 'amd64', 'https://wsl.obs.example.org'),
      obj('obs', 'arm64', 'https://wsl.obs.example.org'),
      obj('cos', 'amd64', 'https://wsl.cos.example.org'),
    ],
  },
};

describe('the WSL section', () => {
  it('lists a download per arch from the first target, with mirrors and the install command', () => {
    const [w, ...rest] = wslImages([
      { kind: 'container', id: '1.0', osVersion: '24.03-lts-sp4', version: '1.0', records: {} },
      { kind: 'wsl', id: '1.0-wsl', osVersion: '24.03-lts-sp4', version: '1.0', records },
      { kind: 'wsl', id: 'unpublished-wsl', osVersion: '24.03-lts-sp4', version: '1.0', records: {} },
    ]);
    expect(rest).toEqual([]);
    expect(w!.signature).toEqual({ mode: 'key', keyId: 'k'.repeat(64) });
    expect(w!.downloads.map((d) => [d.arch, d.target, d.file, d.mirrors.map((m) => m.target)])).toEqual([
      ['amd64', 'obs', 'myos-1.0-amd64.wsl', ['cos']],
      ['arm64', 'obs', 'myos-1.0-arm64.wsl', []],
    ]);
    expect(w!.downloads[0]!.install).toBe('wsl --install --from-file myos-1.0-amd64.wsl');
    expect(installCommand("it's.wsl")).toBe("wsl --install --from-file 'it''s.wsl'");
    expect(formatSize(12_345_678)).toBe('11.8 MiB');
  });

  it('renders on the app page of a built site', async () => {
    const dir = await tempDir('wharf-wsl-site-');
    const store = await CatalogStore.init(join(dir, 'catalog'));
    // The scan as the file-kind scan stage records it: coverage per arch and an SBOM in the blob store.
    const sbomText = JSON.stringify({
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      components: [{ type: 'library', name: 'golang', purl: 'pkg:rpm/openeuler/golang@1.17.3-31.oe2403sp4' }],
    });
    const { uri: _uri, ...sbom } = await openBlobStore(store.dir, (await store.load()).config).put(
      sbomText,
      'application/vnd.cyclonedx+json',
    );
    const scanned: StageRecords = {
      ...records,
      scan: {
        ...records.scan!,
        coverage: {
          os: { by: 'wharf-cvrf', release: '24.03-LTS-SP4' },
          language: { by: 'none', reason: 'trivy did not run' },
          summary: 'OS packages: wharf-cvrf (openEuler 24.03-LTS-SP4); language packages not scanned',
          arches: (['amd64', 'arm64'] as const).map((arch) => ({
            arch,
            packages: 1,
            rpmdb: 'var/lib/rpm/rpmdb.sqlite',
            findings: 1,
          })),
        },
        sbom,
      },
    };
    await store.commit({ subject: 'test: a published wsl image' }, async (tx) => {
      tx.putApp({
        id: 'myos',
        name: 'myos',
        title: { en: 'My OS', zh: '我的系统' },
        category: 'os',
        recipes: {
          wsl: [{ kind: 'wsl', id: '1.0-wsl', source: '1.0', version: '1.0', osVersion: '24.03-lts-sp4' }],
        },
      });
      tx.putArtifact({
        app: 'myos',
        kind: 'wsl',
        id: '1.0-wsl',
        version: '1.0',
        osVersion: '24.03-lts-sp4',
        arches: ['amd64', 'arm64'],
        records: scanned,
      });
    });
    const out = join(dir, 'site');
    const r = await execa(
      join(ROOT, 'node_modules/.bin/node'),
      [join(ROOT, 'scripts/wharf.mjs'), 'site', 'build', '--catalog', store.dir, '--out', out, '--json'],
      { cwd: ROOT, reject: false },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const en = await readFile(join(out, 'en/apps/myos/index.html'), 'utf8');
    expect(en).toContain('id="wsl"');
    expect(en).toContain('WSL images');
    expect(en).toContain('href="https://wsl.obs.example.org/myos/1.0-wsl/myos-1.0-amd64.wsl"');
    expect(en).toContain('href="https://wsl.obs.example.org/myos/1.0-wsl/myos-1.0-arm64.wsl.sha256"');
    expect(en).toContain('href="https://wsl.obs.example.org/myos/1.0-wsl/myos-1.0-amd64.wsl.sigstore.json"');
    expect(en).toContain('11.8 MiB');
    expect(en).toContain(`title="${sha('a')}"`);
    expect(en).toContain('wsl --install --from-file myos-1.0-arm64.wsl');
    expect(en).toContain('signed with the catalog key');
    expect(en).toContain('href="https://wsl.cos.example.org/myos/1.0-wsl/myos-1.0-amd64.wsl"');
    // The tag page shows the coverage and links the SBOM, which the site serves beside it.
    const tag = await readFile(join(out, 'en/apps/myos/wsl/1.0-wsl/index.html'), 'utf8');
    const security = tag.slice(tag.indexOf('id="security"'));
    expect(security).toContain('data-os-coverage="wharf-cvrf"');
    expect(security).toContain('wharf-cvrf (openEuler 24.03-LTS-SP4)');
    expect(security).toContain('href="/apps/myos/wsl/1.0-wsl/sbom.cdx.json"');
    expect(await readFile(join(out, 'apps/myos/wsl/1.0-wsl/sbom.cdx.json'), 'utf8')).toBe(sbomText);
    const zh = await readFile(join(out, 'apps/myos/index.html'), 'utf8');
    expect(zh).toContain('WSL 镜像');
    expect(zh).toContain('wsl --install --from-file myos-1.0-amd64.wsl');
  }, 300_000);
});
