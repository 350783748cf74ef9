// The cloud section's model (site/src/lib/cloud.ts): downloads per format from the publish record,
// the boot test, built files before publishing, and one row per cloud import target from
// records.import.targets (a completed target with its image id, a failed one with its error). And a
// real site build of a catalog holding that record: the app page's rows (Cloud.astro) in both languages,
// and the app's JSON API document carrying the imports, valid against its schema.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import type { ImportRecord, StageRecords } from '../../catalog/schema.ts';
import { CatalogStore } from '../../catalog/store.ts';
import { API_SCHEMAS } from '../../site/src/lib/api-schema.ts';
import { PROVIDER_LABEL, STATE_LABEL, cloudView, formatTime, humanSize } from '../../site/src/lib/cloud.ts';
import { t } from '../../site/src/lib/i18n.ts';
import { buildSite } from '../../site/node/build.ts';

const sha = 'b'.repeat(64);
const at = '2026-12-01T00:00:00Z';
const runId = '20261201T000000Z-abc123';

/** An import record with a completed, a failed and a running target, as the import stage writes it. */
const IMPORTS: ImportRecord = {
  runId,
  at: '2026-12-02T06:21:00Z',
  status: 'partial',
  targets: [
    {
      target: 'aws-use1',
      provider: 'aws',
      region: 'us-east-1',
      arch: 'amd64',
      format: 'vhd',
      bucket: 'wharf-images',
      key: 'demo/disk-1/disk.vhd',
      sha256: sha,
      taskId: 'import-snap-0123',
      snapshotId: 'snap-0abc',
      state: 'completed',
      imageId: 'ami-0def',
      progress: 'registered',
      startedAt: '2026-12-02T06:00:00.000Z',
      updatedAt: '2026-12-02T06:20:00.000Z',
    },
    {
      target: 'hw-cn4',
      provider: 'huawei',
      region: 'cn-north-4',
      arch: 'amd64',
      format: 'vhd',
      state: 'failed',
      // A failed entry may still carry an image id field from the cloud: it is not shown.
      imageId: 'img-stale',
      error: 'IMS CreateImage: HTTP 400 IMS.0125: bad image_url',
      updatedAt: '2026-12-02T06:21:00.000Z',
    },
    {
      target: 'tc-gz',
      provider: 'tencent',
      region: 'ap-guangzhou',
      arch: 'amd64',
      state: 'running',
      taskId: 'tc-task-1',
      startedAt: '2026-12-02T06:00:00.000Z',
    },
  ],
};

describe('site cloud section', () => {
  it('lists downloads per format with checksum and bundle, the boot test, and imports per region', () => {
    const records = {
      build: {
        runId,
        at,
        status: 'ok',
        files: [{ arch: 'amd64', name: 'a-amd64.qcow2', sha256: sha, size: 2048, format: 'qcow2' }],
      },
      verify: {
        runId,
        at,
        status: 'passed',
        checks: [],
        bootTest: {
          booted: true,
          seconds: 17.5,
          marker: 'WHARF-BOOT-OK-x',
          accel: 'tcg',
          file: 'a-amd64.qcow2',
          format: 'qcow2',
        },
      },
      sign: { runId, at, status: 'signed', signatures: [] },
      publish: {
        runId,
        at,
        status: 'ok',
        targets: [],
        objects: [
          {
            url: 'https://o/a-amd64.qcow2',
            sha256: sha,
            size: 2048,
            target: 'obs',
            format: 'qcow2',
            arch: 'amd64',
            checksumUrl: 'https://o/a.sha256',
            signatureUrl: 'https://o/a.sigstore.json',
          },
        ],
      },
      import: IMPORTS,
    } as unknown as StageRecords;
    const v = cloudView(records);
    expect(v.downloads).toEqual([
      {
        format: 'qcow2',
        arch: 'amd64',
        target: 'obs',
        url: 'https://o/a-amd64.qcow2',
        size: 2048,
        sha256: sha,
        checksumUrl: 'https://o/a.sha256',
        signatureUrl: 'https://o/a.sigstore.json',
      },
    ]);
    expect(v.boot).toMatchObject({ booted: true, seconds: 17.5, file: 'a-amd64.qcow2' });
    expect(v.signed).toBe(true);
    expect(v.imports).toEqual([
      {
        target: 'aws-use1',
        provider: 'aws',
        region: 'us-east-1',
        arch: 'amd64',
        state: 'completed',
        imageId: 'ami-0def',
        error: undefined,
        updatedAt: '2026-12-02T06:20:00.000Z',
      },
      {
        target: 'hw-cn4',
        provider: 'huawei',
        region: 'cn-north-4',
        arch: 'amd64',
        state: 'failed',
        imageId: undefined,
        error: 'IMS CreateImage: HTTP 400 IMS.0125: bad image_url',
        updatedAt: '2026-12-02T06:21:00.000Z',
      },
      {
        target: 'tc-gz',
        provider: 'tencent',
        region: 'ap-guangzhou',
        arch: 'amd64',
        state: 'running',
        imageId: undefined,
        error: undefined,
        updatedAt: '2026-12-02T06:00:00.000Z',
      },
    ]);
    // What the page prints for them (site/src/lib/i18n.ts): the cloud's name and the state, per language.
    expect(v.imports.map((i) => t(PROVIDER_LABEL[i.provider], 'en'))).toEqual([
      'AWS',
      'Huawei Cloud',
      'Tencent Cloud',
    ]);
    expect(v.imports.map((i) => t(STATE_LABEL[i.state], 'zh'))).toEqual(['已导入', '失败', '导入中']);
    expect(formatTime(v.imports[0]!.updatedAt)).toBe('2026-12-02 06:20 UTC');
    expect(humanSize(2048)).toBe('2.0 KiB');
  });

  it('shows built files and no downloads while nothing is published', () => {
    const v = cloudView({
      build: {
        runId,
        at,
        status: 'ok',
        files: [{ arch: 'amd64', name: 'a.raw', sha256: sha, size: 1, format: 'raw' }],
      },
    } as StageRecords);
    expect(v.downloads).toEqual([]);
    expect(v.files).toEqual([{ name: 'a.raw', format: 'raw', size: 1, sha256: sha }]);
    expect(v.boot).toBeUndefined();
    expect(v.imports).toEqual([]);
  });

  it("renders each target's row on the app page and puts it in the app's JSON API document (a real site build)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-cloud-api-'));
    try {
      const store = await CatalogStore.init(join(dir, 'catalog'));
      await store.commit({ subject: 'cloud app' }, (tx) => {
        tx.putApp({
          id: 'demo',
          name: 'demo',
          title: { en: 'demo' },
          category: 'tools',
          recipes: {
            cloud: [
              {
                kind: 'cloud',
                id: 'disk-1',
                source: 'demo:1.0',
                formats: ['vhd'],
                version: '1.0',
                osVersion: '24.03-lts-sp4',
                arches: ['amd64'],
              },
            ],
          },
        });
        tx.putArtifact({
          app: 'demo',
          kind: 'cloud',
          id: 'disk-1',
          version: '1.0',
          osVersion: '24.03-lts-sp4',
          arches: ['amd64'],
          records: { import: IMPORTS },
        });
      });
      const out = join(dir, 'out');
      await buildSite({ catalog: store.dir, out, logLevel: 'silent' });
      /** The import table's rows of an app page: each row's cells as text. */
      const rows = async (page: string) => {
        const html = await readFile(join(out, page), 'utf8');
        const table =
          /<table class="small stack cloud-imports"[^>]*>([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
        return [...table.matchAll(/<tr data-import-state="(\w+)">([\s\S]*?)<\/tr>/g)].map((m) => [
          m[1],
          ...[...m[2]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) =>
            c[1]!
              .replace(/<div[^>]*>/g, ' | ')
              .replace(/<[^>]+>/g, '')
              .trim(),
          ),
        ]);
      };
      expect(await rows('en/apps/demo/index.html')).toEqual([
        [
          'completed',
          'AWS',
          'aws-use1',
          'us-east-1',
          'amd64',
          'imported',
          'ami-0def',
          '2026-12-02 06:20 UTC',
        ],
        [
          'failed',
          'Huawei Cloud',
          'hw-cn4',
          'cn-north-4',
          'amd64',
          'failed | IMS CreateImage: HTTP 400 IMS.0125: bad image_url',
          '—',
          '2026-12-02 06:21 UTC',
        ],
        [
          'running',
          'Tencent Cloud',
          'tc-gz',
          'ap-guangzhou',
          'amd64',
          'importing',
          '—',
          '2026-12-02 06:00 UTC',
        ],
      ]);
      expect((await rows('apps/demo/index.html')).map((r) => [r[1], r[5]])).toEqual([
        ['AWS', '已导入'],
        ['华为云', '失败 | IMS CreateImage: HTTP 400 IMS.0125: bad image_url'],
        ['腾讯云', '导入中'],
      ]);
      const doc = JSON.parse(await readFile(join(out, 'api/apps/demo.json'), 'utf8'));
      const tag = doc.tags.find((x: { kind: string }) => x.kind === 'cloud');
      expect(tag.records.import).toEqual({
        status: 'partial',
        at: '2026-12-02T06:21:00Z',
        targets: [
          {
            target: 'aws-use1',
            provider: 'aws',
            region: 'us-east-1',
            arch: 'amd64',
            state: 'completed',
            cloudImageId: 'ami-0def',
            updatedAt: '2026-12-02T06:20:00.000Z',
          },
          {
            target: 'hw-cn4',
            provider: 'huawei',
            region: 'cn-north-4',
            arch: 'amd64',
            state: 'failed',
            error: 'IMS CreateImage: HTTP 400 IMS.0125: bad image_url',
            updatedAt: '2026-12-02T06:21:00.000Z',
          },
          {
            target: 'tc-gz',
            provider: 'tencent',
            region: 'ap-guangzhou',
            arch: 'amd64',
            state: 'running',
            updatedAt: '2026-12-02T06:00:00.000Z',
          },
        ],
      });
      const ajv = new Ajv2020({ strict: true, allErrors: true });
      addFormats.default(ajv);
      ajv.addKeyword('components');
      ajv.addSchema({ $id: 'wharf', components: { schemas: API_SCHEMAS } }, 'wharf');
      const validate = ajv.getSchema('wharf#/components/schemas/AppDocument')!;
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
      // The schema is an allow-list: the task id or the object key would be refused.
      const leaked = structuredClone(doc);
      leaked.tags[0].records.import.targets[0].taskId = 'import-snap-0123';
      expect(validate(leaked)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
