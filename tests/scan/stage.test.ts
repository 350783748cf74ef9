// The scan stage end to end: a real git catalog, a real blob store, a real OCI layout, the stand-in trivy.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FINDINGS_MEDIA_TYPE,
  createScanRunner,
  parseTrivyReport,
  readFindings,
  summarizeReport,
} from '../../publisher/scan/index.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import {
  editedReport,
  readFixture,
  runScan,
  SCAN_ENV,
  scanFixture,
  scanWith,
  sha256,
  trivyArgsLog,
  trivyCalls,
  type ScanFixture,
} from './helpers.ts';

// The scan stage returns its record; the runner commits it (what the pipeline and `wharf scan` do).

let fx: ScanFixture;
const argsLog = () => trivyArgsLog(fx);
const calls = () => trivyCalls(fx);

beforeAll(async () => {
  fx = await scanFixture();
});
afterAll(async () => {
  await rm(fx.root, { recursive: true, force: true });
});
beforeEach(() => {
  for (const k of ['FAKE_TRIVY_REPORT', 'FAKE_TRIVY_MODE', 'FAKE_TRIVY_SBOM']) delete process.env[k];
  process.env.FAKE_TRIVY_ARGS_LOG = argsLog();
});

describe('scan stage', () => {
  it('scans the OCI layout the build left and records summary, findings, report and SBOM blobs in one commit', async () => {
    const digest = await fx.addBuiltApp('redis', '7.2-oe2403sp4');
    process.env.FAKE_TRIVY_REPORT = 'centos-7';
    const ctx = await fx.ctx();
    const before = await fx.store.head();
    const out = await runScan(ctx, await fx.target('redis', '7.2-oe2403sp4'));
    expect(out).toMatchObject({ stage: 'scan', app: 'redis', artifactId: '7.2-oe2403sp4', status: 'ok' });
    expect(out.commit).toMatch(/^[a-f0-9]{40}$/);

    const rec = (await fx.artifact('redis', '7.2-oe2403sp4')).records.scan!;
    expect(rec).toMatchObject({
      status: 'ok',
      target: digest,
      runId: ctx.runId,
      scanner: { name: 'trivy', version: '0.58.1', dbUpdatedAt: '2026-11-22T06:00:00.000000000Z' },
      os: { family: 'centos', name: '7.6.1810' },
      summary: {
        total: { CRITICAL: 0, HIGH: 0, MEDIUM: 1, LOW: 2, UNKNOWN: 0 },
        fixable: { MEDIUM: 1, LOW: 1 },
      },
      policy: { blocked: false, reasons: [], waived: [] },
    });
    // The finding list is in the blob store (compact JSON), git keeps only its hash and no store URI.
    expect(rec.findings).toBeUndefined();
    expect(rec.findingsRef).toMatchObject({ mediaType: FINDINGS_MEDIA_TYPE });
    for (const ref of [rec.findingsRef!, rec.report!, rec.sbom!]) expect(ref.uri).toBeUndefined();
    const list = await readFindings(fx.blobs, rec);
    expect(list).toMatchObject({ ok: true, source: 'blob' });
    const expected = summarizeReport(parseTrivyReport(await readFixture('centos-7'))).findings;
    expect(expected).toHaveLength(3);
    expect(list.ok && list.findings).toEqual(expected);
    const text = (await fx.blobs.get(rec.findingsRef!))!.toString();
    expect(text).not.toContain('\n  ');
    // The raw report is stored byte for byte (gzip'd) under the recorded hash.
    const raw = await readFixture('centos-7');
    expect(rec.report!.sha256).toBe(sha256(raw));
    expect((await fx.blobs.get(rec.report!))!.toString()).toBe(raw);
    const sbom = (await fx.blobs.get(rec.sbom!))!.toString();
    expect(JSON.parse(sbom).bomFormat).toBe('CycloneDX');
    expect(rec.sbom!.mediaType).toBe('application/vnd.cyclonedx+json');

    // Exactly one commit, with the stage trailers.
    const log = await fx.store.log('redis', { since: before! });
    expect(log).toHaveLength(1);
    expect(log[0]!.trailers).toMatchObject({
      App: 'redis',
      Artifact: '7.2-oe2403sp4',
      Stage: 'scan',
      'Run-Id': ctx.runId,
    });

    // Trivy got the layout directory, JSON with vuln scanner only, and a CycloneDX run.
    const layout = imageLayoutDir(fx, 'redis', '7.2-oe2403sp4');
    const argv = (await calls()).map((c) => c.argv);
    expect(argv[0]).toEqual(['--version', '--format', 'json']);
    expect(argv[1]).toEqual(
      expect.arrayContaining([
        'image',
        '--format',
        'json',
        '--scanners',
        'vuln',
        '--quiet',
        '--input',
        layout,
      ]),
    );
    expect(argv[2]).toEqual(expect.arrayContaining(['image', '--format', 'cyclonedx', '--input', layout]));
  });

  it('a second run on the same digest is "unchanged" without a commit or a Trivy call', async () => {
    const head = await fx.store.head();
    await rm(argsLog(), { force: true });
    const out = await runScan(await fx.ctx(), await fx.target('redis', '7.2-oe2403sp4'));
    expect(out).toMatchObject({ status: 'unchanged', commit: null });
    expect(await fx.store.head()).toBe(head);
    expect(await calls()).toEqual([]);
  });

  it('re-applies an edited policy (a new waiver) to stored findings without rescanning', async () => {
    const ctx = await fx.ctx();
    ctx.config = { ...ctx.config, scanPolicy: { ...ctx.config.scanPolicy, block: ['MEDIUM'] } };
    await rm(argsLog(), { force: true });
    const out = await runScan(ctx, await fx.target('redis', '7.2-oe2403sp4'));
    expect(out.status).toBe('blocked');
    expect(out.commit).not.toBeNull();
    expect((await fx.artifact('redis', '7.2-oe2403sp4')).records.scan!.policy!.reasons[0]).toContain(
      'CVE-2019-1559',
    );
    expect(await calls()).toEqual([]);
  });

  it('older records with the finding list inline still get the policy re-applied', async () => {
    const digest = await fx.addBuiltApp('etcd', '3.5-oe2403sp4');
    const list = summarizeReport(parseTrivyReport(await readFixture('centos-7'))).findings;
    await fx.store.commit({ subject: 'test: an old-format scan record' }, async (tx) => {
      await tx.updateArtifact('etcd', 'container', '3.5-oe2403sp4', (a) => ({
        ...a!,
        records: {
          ...a!.records,
          scan: {
            runId: a!.records.build!.runId,
            at: new Date().toISOString(),
            status: 'ok',
            target: digest,
            findings: list,
            policy: { blocked: false, reasons: [], waived: [] },
          },
        },
      }));
    });
    const ctx = await fx.ctx();
    ctx.config = { ...ctx.config, scanPolicy: { ...ctx.config.scanPolicy, block: ['MEDIUM'] } };
    await rm(argsLog(), { force: true });
    const out = await runScan(ctx, await fx.target('etcd', '3.5-oe2403sp4'));
    expect(out.status).toBe('blocked');
    const rec = (await fx.artifact('etcd', '3.5-oe2403sp4')).records.scan!;
    expect(rec.findings).toEqual(list);
    expect(rec.policy!.reasons[0]).toContain('CVE-2019-1559');
    expect(await calls()).toEqual([]);
  });

  it('a finding list missing from the blob store means scanning again, not guessing', async () => {
    const rec = (await fx.artifact('redis', '7.2-oe2403sp4')).records.scan!;
    const sha = rec.findingsRef!.sha256;
    await rm(join(fx.blobs.root, 'sha256', sha.slice(0, 2), `${sha}.gz`));
    expect(await readFindings(fx.blobs, rec)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not in the blob store/),
    });
    process.env.FAKE_TRIVY_REPORT = 'centos-7';
    await rm(argsLog(), { force: true });
    const ctx = await fx.ctx();
    const out = await runScan(ctx, await fx.target('redis', '7.2-oe2403sp4'));
    expect((await calls()).some((c) => c.argv.includes('--input'))).toBe(true);
    expect(fx.logs.join('\n')).toMatch(/not in the blob store; scanning again/);
    // Same list again: the blob is back under the same hash.
    expect(out.status).not.toBe('not-run');
    expect(
      await readFindings(fx.blobs, (await fx.artifact('redis', '7.2-oe2403sp4')).records.scan!),
    ).toMatchObject({ ok: true });
  });

  it('blocks publishing on a fixable CRITICAL unless waived; expired waivers are reported', async () => {
    const digest = await fx.addBuiltApp('nginx', '1.27-oe2403sp4');
    process.env.FAKE_TRIVY_REPORT = await editedReport(
      'alpine-310',
      (vs) => vs.map((v, i) => (i === 0 ? { ...v, Severity: 'CRITICAL' } : v)),
      fx.root,
      'alpine-critical',
    );
    const target = await fx.target('nginx', '1.27-oe2403sp4');
    const out = await runScan(await fx.ctx(), target);
    expect(out.status).toBe('blocked');
    const rec = (await fx.artifact('nginx', '1.27-oe2403sp4')).records.scan!;
    expect(rec.target).toBe(digest);
    expect(rec.summary!.total.CRITICAL).toBe(1);
    expect(rec.policy).toMatchObject({ blocked: true });
    expect(rec.policy!.reasons[0]).toMatch(/^CRITICAL CVE-2019-1549 in libcrypto1\.1 .*fixed in 1\.1\.1d-r0/);

    const ctx = await fx.ctx();
    const waived = (expires: string) => ({
      ...ctx,
      config: {
        ...ctx.config,
        scanPolicy: {
          ...ctx.config.scanPolicy,
          waivers: [{ id: 'CVE-2019-1549', app: 'nginx', expires, reason: 'TLS not used' }],
        },
      },
    });
    const force = scanWith(createScanRunner({ force: true }));
    expect((await force(waived('2099-12-31'), target)).status).toBe('ok');
    expect((await fx.artifact('nginx', '1.27-oe2403sp4')).records.scan!.policy).toMatchObject({
      blocked: false,
      waived: ['CVE-2019-1549'],
    });
    expect((await force(waived('2020-01-01'), target)).status).toBe('blocked');
    expect((await fx.artifact('nginx', '1.27-oe2403sp4')).records.scan!.policy!.expiredWaivers).toEqual([
      'CVE-2019-1549 (expired 2020-01-01)',
    ]);
  });

  const failures: [string, Record<string, string>, RegExp][] = [
    [
      'trivy is missing',
      { WHARF_TRIVY: '/nonexistent/bin/trivy' },
      /trivy not found \(\/nonexistent\/bin\/trivy\)/,
    ],
    ['trivy exits non-zero', { FAKE_TRIVY_MODE: 'fail' }, /trivy image exited with code 1: .*DB error/],
    ['trivy prints garbage', { FAKE_TRIVY_MODE: 'garbage' }, /not valid JSON.*Need to update DB/],
    ['trivy --version fails', { FAKE_TRIVY_MODE: 'version-fail' }, /trivy --version exited with code 1/],
    [
      'trivy hangs',
      { FAKE_TRIVY_MODE: 'hang', WHARF_TRIVY_TIMEOUT: '1.5' },
      /trivy image timed out after 2 s/,
    ],
  ];
  for (const [what, env, reason] of failures) {
    it(`records not-run (never clean) when ${what}`, async () => {
      await fx.addBuiltApp('busybox', 'fail-case');
      const target = await fx.target('busybox', 'fail-case');
      for (const [k, v] of Object.entries(env)) if (k.startsWith('FAKE_')) process.env[k] = v;
      const ctx = await fx.ctx({
        env: {
          ...SCAN_ENV,
          ...Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('WHARF_'))),
        },
      });
      const started = Date.now();
      const out = await scanWith(createScanRunner({ force: true }))(ctx, target);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(out.status).toBe('not-run');
      expect(out.message).toMatch(reason);
      const rec = (await fx.artifact('busybox', 'fail-case')).records.scan!;
      expect(rec.status).toBe('not-run');
      expect(rec.error!.message).toMatch(reason);
      expect(rec.summary).toBeUndefined();
      expect(rec.findings).toBeUndefined();
      expect(rec.findingsRef).toBeUndefined();
      expect(rec.policy).toEqual({ blocked: false, reasons: [], waived: [] });
    });
  }

  it('with requireScan a scan that did not run blocks publishing', async () => {
    const ctx = await fx.ctx({ env: { ...SCAN_ENV, WHARF_TRIVY: '/nonexistent/bin/trivy' } });
    ctx.config = { ...ctx.config, scanPolicy: { ...ctx.config.scanPolicy, requireScan: true } };
    await runScan(ctx, await fx.target('busybox', 'fail-case'));
    const rec = (await fx.artifact('busybox', 'fail-case')).records.scan!;
    expect(rec.status).toBe('not-run');
    expect(rec.policy!.blocked).toBe(true);
    expect(rec.policy!.reasons[0]).toMatch(/not scanned \(scanPolicy.requireScan\): trivy not found/);
  });

  it('an SBOM failure keeps the vulnerability scan and leaves the SBOM out', async () => {
    process.env.FAKE_TRIVY_MODE = 'sbom-fail';
    const out = await scanWith(createScanRunner({ force: true }))(
      await fx.ctx(),
      await fx.target('busybox', 'fail-case'),
    );
    expect(out.status).toBe('ok');
    const rec = (await fx.artifact('busybox', 'fail-case')).records.scan!;
    expect(rec.report).toBeDefined();
    expect(rec.sbom).toBeUndefined();
    expect(fx.logs.some((l) => /SBOM not produced/.test(l))).toBe(true);
  });

  it('a missing image layout is not-run and asks for a rebuild', async () => {
    await fx.addBuiltApp('etcd', '3.5-oe2403sp4', { layout: false });
    const out = await runScan(await fx.ctx(), await fx.target('etcd', '3.5-oe2403sp4'));
    expect(out.status).toBe('not-run');
    const a = await fx.artifact('etcd', '3.5-oe2403sp4');
    expect(a.records.scan!.error!.message).toMatch(/image layout .* rebuild needed/);
    expect(a.pending!.reason).toBe('scan: image layout missing; rebuild needed');
  });
});
