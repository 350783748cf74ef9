// The multi-arch gate and image index without services: which arches go into the index, which
// required arch holds it back (and why), `arches.required` leaving a failed optional arch out, the
// signature check of the publish gate, and the index document itself (platform from each arch's image
// config, fixed order, the same bytes every time).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  zCatalogConfig,
  type Artifact,
  type BuildRecord,
  type ContainerRecipe,
} from '../../catalog/schema.ts';
import { imageGate, publishGate } from '../../publisher/artifact/gate.ts';
import { makeImageIndex, ImageIndexError } from '../../publisher/registry/image-index.ts';
import { writeLayout } from '../../publisher/registry/layout.ts';
import { OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, OCI_LAYER_GZIP } from '../../publisher/registry/media.ts';
import { sha256Digest } from '../../publisher/registry/client.ts';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const AT = '2026-12-02T01:00:00.000Z';
const RUN = '20261202T010000Z-abcdef';
const recipe: ContainerRecipe = {
  kind: 'container',
  tag: '1.0-oe2403sp4',
  dockerfile: '1.0/24.03-lts-sp4/Dockerfile',
  version: '1.0',
  osVersion: '24.03-lts-sp4',
  arches: ['amd64', 'arm64'],
  smoke: [{ name: 'runs', command: ['/bin/true'], expectExit: 0, timeoutSeconds: 10 }],
};

function artifact(o: { armBuild?: 'ok' | 'failed'; armVerify?: 'passed' | 'failed'; armBlocked?: boolean }) {
  const build: BuildRecord = {
    runId: RUN,
    at: AT,
    status: 'ok',
    manifestDigest: D('a'),
    inputsDigest: D('1'),
    arches: ['amd64', 'arm64'],
    platforms: [
      { arch: 'amd64', status: 'ok', manifestDigest: D('a'), inputsDigest: D('1'), size: 100, durationMs: 1 },
      o.armBuild === 'failed'
        ? { arch: 'arm64', status: 'failed', durationMs: 1, error: { message: 'COPY failed' } }
        : {
            arch: 'arm64',
            status: 'ok',
            manifestDigest: D('b'),
            inputsDigest: D('2'),
            size: 90,
            durationMs: 1,
          },
    ],
  };
  const a: Artifact = {
    app: 'multi',
    kind: 'container',
    id: recipe.tag,
    version: '1.0',
    osVersion: recipe.osVersion,
    arches: ['amd64', 'arm64'],
    records: {
      build,
      verify: {
        runId: RUN,
        at: AT,
        status: 'passed',
        inputsDigest: D('1'),
        checks: [],
        platforms: [
          { arch: 'amd64', status: 'passed', manifestDigest: D('a'), checks: [] },
          ...(o.armBuild === 'failed'
            ? []
            : [
                {
                  arch: 'arm64' as const,
                  status: o.armVerify ?? ('passed' as const),
                  manifestDigest: D('b'),
                  checks: [{ name: 'runs', status: o.armVerify ?? ('passed' as const) }],
                },
              ]),
        ],
      },
      scan: {
        runId: RUN,
        at: AT,
        status: 'ok',
        target: D('a'),
        platforms: [
          { arch: 'amd64', status: 'ok', target: D('a'), policy: { blocked: false, reasons: [] } },
          {
            arch: 'arm64',
            status: 'ok',
            target: D('b'),
            policy: { blocked: !!o.armBlocked, reasons: o.armBlocked ? ['CVE-1 CRITICAL'] : [] },
          },
        ],
      },
    },
  };
  return a;
}
const config = (required?: Array<'amd64' | 'arm64'>) =>
  zCatalogConfig.parse({ arches: { default: ['amd64', 'arm64'], ...(required ? { required } : {}) } });

describe('multi-arch gate', () => {
  it('lets the index through with every arch when all passed, in arch order', () => {
    expect(imageGate(artifact({}), recipe, config())).toEqual({
      ok: true,
      digest: D('a'),
      arches: [
        { arch: 'amd64', digest: D('a'), size: 100 },
        { arch: 'arm64', digest: D('b'), size: 90 },
      ],
    });
  });

  it('names the required arch that held the index back, and the stage', () => {
    expect(imageGate(artifact({ armVerify: 'failed' }), recipe, config())).toMatchObject({
      ok: false,
      blockedBy: 'verify',
      heldBack: [{ arch: 'arm64', stage: 'verify', reason: 'smoke tests failed (runs: failed)' }],
    });
    expect(imageGate(artifact({ armBlocked: true }), recipe, config())).toMatchObject({
      ok: false,
      blockedBy: 'scan',
      heldBack: [{ arch: 'arm64', stage: 'scan', reason: 'scan policy: CVE-1 CRITICAL' }],
    });
    const failedBuild = artifact({ armBuild: 'failed' });
    failedBuild.records.build!.status = 'failed';
    expect(imageGate(failedBuild, recipe, config())).toMatchObject({
      ok: false,
      blockedBy: 'build',
      heldBack: [{ arch: 'arm64', stage: 'build', reason: 'build failed: COPY failed' }],
    });
  });

  it('leaves a failed arch that arches.required does not list out of the index', () => {
    const g = imageGate(artifact({ armVerify: 'failed' }), recipe, config(['amd64']));
    expect(g).toEqual({ ok: true, digest: D('a'), arches: [{ arch: 'amd64', digest: D('a'), size: 100 }] });
  });

  it('publish needs signatures for the index and for each arch manifest in it', () => {
    const a = artifact({});
    const sig = (digest: string, arch?: 'amd64' | 'arm64') => ({
      target: 'local',
      ref: 'r/multi:1.0-oe2403sp4',
      digest,
      ...(arch ? { arch } : {}),
      signatureTag: `${digest.replace(':', '-')}.sig`,
    });
    a.records.sign = {
      runId: RUN,
      at: AT,
      status: 'signed',
      signatures: [sig(D('f')), sig(D('a'), 'amd64')],
    };
    expect(publishGate(a, recipe, config())).toMatchObject({ ok: false, blockedBy: 'sign' });
    a.records.sign.signatures.push(sig(D('b'), 'arm64'));
    expect(publishGate(a, recipe, config())).toMatchObject({ ok: true });
    // A signature of an older arm64 manifest does not count.
    a.records.sign.signatures[2] = sig(D('c'), 'arm64');
    expect(publishGate(a, recipe, config())).toMatchObject({ ok: false, blockedBy: 'sign' });
  });
});

describe('image index', () => {
  let dir: string;
  const layouts: Record<string, { dir: string; digest: string; size: number }> = {};
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-index-'));
    for (const [arch, variant] of [
      ['amd64', undefined],
      ['arm64', 'v8'],
    ] as const) {
      const layer = Buffer.from(`layer of ${arch}`);
      const config = Buffer.from(
        JSON.stringify({ architecture: arch, os: 'linux', ...(variant ? { variant } : {}), rootfs: {} }),
      );
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: OCI_CONFIG, digest: sha256Digest(config), size: config.length },
          layers: [{ mediaType: OCI_LAYER_GZIP, digest: sha256Digest(layer), size: layer.length }],
        }),
      );
      const d = join(dir, arch);
      await writeLayout(d, [{ manifest, mediaType: OCI_MANIFEST, blobs: [config, layer] }]);
      layouts[arch] = { dir: d, digest: sha256Digest(manifest), size: manifest.length };
    }
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists each arch manifest with its exact size and the platform from its config; same bytes every time', async () => {
    const parts = (['amd64', 'arm64'] as const).map((a) => ({
      arch: a,
      layoutDir: layouts[a]!.dir,
      digest: layouts[a]!.digest,
    }));
    const idx = await makeImageIndex(parts);
    const doc = JSON.parse(idx.bytes.toString('utf8')) as unknown;
    expect(doc).toEqual({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          digest: layouts.amd64!.digest,
          size: layouts.amd64!.size,
          platform: { architecture: 'amd64', os: 'linux' },
        },
        {
          mediaType: OCI_MANIFEST,
          digest: layouts.arm64!.digest,
          size: layouts.arm64!.size,
          platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
        },
      ],
    });
    expect(idx.digest).toBe(sha256Digest(idx.bytes));
    expect((await makeImageIndex(parts)).digest).toBe(idx.digest);
  });

  it('refuses a layout whose image is of another arch than the one it is listed for', async () => {
    await expect(
      makeImageIndex([{ arch: 'arm64', layoutDir: layouts.amd64!.dir, digest: layouts.amd64!.digest }]),
    ).rejects.toThrow(ImageIndexError);
    await expect(
      makeImageIndex([{ arch: 'arm64', layoutDir: layouts.amd64!.dir, digest: layouts.amd64!.digest }]),
    ).rejects.toThrow(/config says architecture amd64/);
  });
});
