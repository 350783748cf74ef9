// The cloud section's model (site/src/lib/cloud.ts): downloads per format from the publish record,
// the boot test, built files before publishing, and image ids per cloud and region from import records.
import { describe, expect, it } from 'vitest';
import type { StageRecords } from '../../catalog/schema.ts';
import { cloudView, humanSize } from '../../site/src/lib/cloud.ts';

const sha = 'b'.repeat(64);
const at = '2026-12-01T00:00:00Z';
const runId = '20261201T000000Z-abc123';

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
      import: {
        images: [
          { cloud: 'huawei', region: 'cn-north-4', imageId: 'img-1', state: 'available' },
          { cloud: 'aws' },
        ],
      },
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
      { cloud: 'huawei', region: 'cn-north-4', imageId: 'img-1', state: 'available' },
    ]);
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
});
