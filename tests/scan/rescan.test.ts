// Rescans of published digests: new and fixed CVEs since the last scan, queued rebuilds, credentials
// only in the environment, and the `wharf scan` CLI over the same catalog.
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { git } from '../../catalog/git.ts';
import { newRunId } from '../../catalog/run-id.ts';
import type { Artifact } from '../../catalog/schema.ts';
import { rescanPublished } from '../../publisher/pipeline/rescan.ts';
import { CHECKED_FILE } from '../../publisher/scan/checked.ts';
import { planRescans } from '../../publisher/scan/rescan.ts';

import {
  editedReport,
  FAKE_TRIVY,
  runScan,
  scanFixture,
  trivyArgsLog,
  trivyCalls,
  type ScanFixture,
} from './helpers.ts';

const PASSWORD = 's3cret-Registry-Pa55';
const REGISTRY = {
  name: 'local',
  repository: '127.0.0.1:5999/openeuler',
  insecure: true,
  usernameEnv: 'REG_USER',
  passwordEnv: 'REG_PASS',
};
let fx: ScanFixture;
const argsLog = () => trivyArgsLog(fx);
const calls = () => trivyCalls(fx);
const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

/** Mark an artifact published to the local target, with a scan of the given age. */
async function publish(app: string, tag: string, digest: string, scannedHoursAgo: number) {
  await fx.store.commit({ subject: `test: publish ${app}` }, async (tx) => {
    await tx.updateArtifact(app, 'container', tag, (a) => {
      const prev = a!.records.scan!;
      return {
        ...a!,
        records: {
          ...a!.records,
          scan: { ...prev, at: hoursAgo(scannedHoursAgo) },
          publish: {
            runId: newRunId(),
            at: hoursAgo(scannedHoursAgo),
            status: 'ok',
            digest,
            targets: [{ target: 'local', ref: `${REGISTRY.repository}/${app}:${tag}`, status: 'ok', digest }],
          },
        },
      } satisfies Artifact;
    });
  });
}

beforeAll(async () => {
  fx = await scanFixture({ registries: [REGISTRY] });
  process.env.FAKE_TRIVY_ARGS_LOG = argsLog();
  // Two published images, first scanned with the real centos-7 report.
  process.env.FAKE_TRIVY_REPORT = 'centos-7';
  for (const app of ['httpd', 'memcached']) {
    const digest = await fx.addBuiltApp(app, '2.4-oe2403sp4');
    expect((await runScan(await fx.ctx(), await fx.target(app, '2.4-oe2403sp4'))).status).toBe('ok');
    await publish(app, '2.4-oe2403sp4', digest, app === 'httpd' ? 30 : 1);
  }
});
afterAll(async () => {
  await rm(fx.root, { recursive: true, force: true });
});
beforeEach(() => {
  delete process.env.FAKE_TRIVY_MODE;
});

describe('rescan of published digests', () => {
  it('rescans only what is due, records new/fixed CVEs and queues a rebuild for a new fixable HIGH', async () => {
    // The DB learned a new fixable HIGH in openssl-libs, and bash's CVE no longer applies.
    process.env.FAKE_TRIVY_REPORT = await editedReport(
      'centos-7',
      (vs) => [
        ...vs.filter((v) => v.VulnerabilityID !== 'CVE-2019-18276'),
        {
          ...vs[1]!,
          VulnerabilityID: 'CVE-2026-0001',
          Severity: 'HIGH',
          FixedVersion: '1:1.0.2k-26.el7',
          Status: 'fixed',
        },
      ],
      fx.root,
      'centos-7-later',
    );
    await rm(argsLog(), { force: true });
    const before = (await fx.store.head())!;
    const ctx = await fx.ctx({ env: { WHARF_TRIVY: FAKE_TRIVY, REG_USER: 'robot', REG_PASS: PASSWORD } });
    const r = await rescanPublished(ctx);

    expect(r.outcomes.map((o) => `${o.app}:${o.status}`)).toEqual(['httpd:ok']);
    expect(r.skipped).toEqual([{ app: 'memcached', artifactId: '2.4-oe2403sp4', reason: 'scanned 1 h ago' }]);
    const a = await fx.artifact('httpd', '2.4-oe2403sp4');
    const rec = a.records.scan!;
    const digest = a.records.publish!.digest!;
    expect(rec).toMatchObject({
      status: 'ok',
      rescan: true,
      ref: `127.0.0.1:5999/openeuler/httpd@${digest}`,
      target: digest,
      newSinceLast: ['CVE-2026-0001 openssl-libs'],
      fixedSinceLast: ['CVE-2019-18276 bash'],
      policy: { blocked: false, rebuildQueued: true },
    });
    expect(a.pending).toMatchObject({
      reason: 'rescan: fixable CVE-2026-0001 in openssl-libs',
      runId: ctx.runId,
    });
    expect(r.outcomes[0]!.message).toContain('rebuild queued');

    // One commit for the one artifact, with stage trailers.
    const log = await fx.store.log(undefined, { since: before });
    expect(log.map((l) => l.trailers.Artifact)).toEqual(['2.4-oe2403sp4']);
    expect(log[0]!.trailers).toMatchObject({ App: 'httpd', Stage: 'scan' });

    // Trivy scanned the registry reference by digest, insecure, with credentials only in its environment.
    const c = await calls();
    const scanCall = c.find((x) => x.argv.includes('json') && x.argv[0] === 'image')!;
    expect(scanCall.argv).toEqual(
      expect.arrayContaining(['--insecure', `127.0.0.1:5999/openeuler/httpd@${digest}`]),
    );
    expect(scanCall.argv).not.toContain('--input');
    expect(scanCall).toMatchObject({ username: 'robot', password: 'set' });
    for (const x of c) expect(JSON.stringify(x.argv)).not.toContain(PASSWORD);
  });

  it('--force rescans fresh ones too; an unchanged finding list and policy make no commit', async () => {
    process.env.FAKE_TRIVY_REPORT = 'centos-7';
    const head = await fx.store.head();
    const before = await fx.artifact('memcached', '2.4-oe2403sp4');
    const ctx = await fx.ctx({ env: { WHARF_TRIVY: FAKE_TRIVY } });
    const r = await rescanPublished(ctx, { force: true, select: [{ app: 'memcached' }] });
    expect(r.outcomes.map((o) => `${o.app}:${o.status}:${o.commit}`)).toEqual(['memcached:unchanged:null']);
    expect(await fx.store.head()).toBe(head);
    const a = await fx.artifact('memcached', '2.4-oe2403sp4');
    expect(a.records.scan).toEqual(before.records.scan);
    expect(a.pending).toBeUndefined();
  });

  it('an unchanged rescan moves the due time outside git, and rewrites a record older than rewriteAfterDays', async () => {
    process.env.FAKE_TRIVY_REPORT = 'centos-7';
    await publish(
      'memcached',
      '2.4-oe2403sp4',
      (await fx.artifact('memcached', '2.4-oe2403sp4')).records.publish!.digest!,
      30,
    );
    await rm(join(fx.store.dir, CHECKED_FILE), { force: true }); // the forced rescan above was recorded
    const head = await fx.store.head();
    const ctx = await fx.ctx({ env: { WHARF_TRIVY: FAKE_TRIVY } });
    const sel = { select: [{ app: 'memcached' }] };
    // Due (30 h > rescanHours), scanned, nothing changed: no commit, the record keeps its old `at`.
    const r = await rescanPublished(ctx, sel);
    expect(r.outcomes.map((o) => `${o.app}:${o.status}`)).toEqual(['memcached:unchanged']);
    expect(await fx.store.head()).toBe(head);
    const stale = (await fx.artifact('memcached', '2.4-oe2403sp4')).records.scan!;
    expect(Date.now() - Date.parse(stale.at)).toBeGreaterThan(29 * 3_600_000);
    // The next sweep does not scan the same digest again: the check state says it was just scanned.
    const plan = await planRescans(ctx, sel);
    expect(plan.due).toEqual([]);
    expect(plan.skipped).toEqual([
      { app: 'memcached', artifactId: '2.4-oe2403sp4', reason: 'scanned 0 h ago' },
    ]);
    // A lost check state only means one more scan, never a missed one.
    await rm(join(fx.store.dir, CHECKED_FILE));
    expect((await planRescans(ctx, sel)).due.map((d) => d.target.app.id)).toEqual(['memcached']);
    // Past rewriteAfterDays the unchanged result is written after all, so `at` in git stays recent.
    ctx.config = { ...ctx.config, scanPolicy: { ...ctx.config.scanPolicy, rewriteAfterDays: 1 } };
    const w = await rescanPublished(ctx, sel);
    expect(w.outcomes[0]).toMatchObject({ status: 'ok', commit: expect.stringMatching(/^[a-f0-9]{40}$/) });
    const fresh = (await fx.artifact('memcached', '2.4-oe2403sp4')).records.scan!;
    expect(Date.now() - Date.parse(fresh.at)).toBeLessThan(3_600_000);
    expect(fresh).toMatchObject({ rescan: true, newSinceLast: [], fixedSinceLast: [] });
    expect(fresh.findingsRef!.sha256).toBe(stale.findingsRef!.sha256);
  });

  it('never lets a registry password reach the catalog, its history or logs, even when trivy echoes it', async () => {
    process.env.FAKE_TRIVY_MODE = 'leak';
    const ctx = await fx.ctx({ env: { WHARF_TRIVY: FAKE_TRIVY, REG_USER: 'robot', REG_PASS: PASSWORD } });
    const r = await rescanPublished(ctx, { force: true, select: [{ app: 'httpd', tag: '2.4-oe2403sp4' }] });
    expect(r.outcomes[0]!.status).toBe('not-run');
    const rec = (await fx.artifact('httpd', '2.4-oe2403sp4')).records.scan!;
    expect(rec.status).toBe('not-run');
    expect(rec.error!.message).toContain('UNAUTHORIZED');
    expect(rec.error!.message).toContain('***');
    const files = await readdir(join(fx.store.dir, 'apps'), { recursive: true });
    for (const f of files) {
      const p = join(fx.store.dir, 'apps', f);
      if (f.endsWith('.json') || f.endsWith('.yml'))
        expect(await readFile(p, 'utf8')).not.toContain(PASSWORD);
    }
    expect(await git(fx.store.dir, ['log', '-p', '--all'])).not.toContain(PASSWORD);
    expect(JSON.stringify(r)).not.toContain(PASSWORD);
    expect(fx.logs.join('\n')).not.toContain(PASSWORD);
  });

  it('wharf scan --rescan --json and wharf scan report work from the command line', async () => {
    process.env.FAKE_TRIVY_MODE = 'fail';
    const cli = (args: string[]) =>
      execa('node', ['scripts/wharf.mjs', ...args], {
        reject: false,
        env: { WHARF_TRIVY: FAKE_TRIVY, FAKE_TRIVY_MODE: 'fail' },
      });
    const r = await cli(['scan', '--rescan', '--force', 'memcached', '--catalog', fx.store.dir, '--json']);
    expect(r.exitCode).toBe(1); // a scan that did not run needs attention
    const doc = JSON.parse(String(r.stdout));
    expect(doc.outcomes).toEqual([expect.objectContaining({ app: 'memcached', status: 'not-run' })]);

    const bad = await cli(['scan', 'Not_An_App', '--catalog', fx.store.dir]);
    expect(bad.exitCode).toBe(2);

    const rep = await cli(['scan', 'report', 'tests/fixtures/trivy-reports/almalinux-8.json', '--json']);
    expect(rep.exitCode).toBe(0);
    expect(JSON.parse(String(rep.stdout)).summary.total.MEDIUM).toBe(1);
    const notReport = await cli([
      'scan',
      'report',
      'tests/fixtures/trivy-reports/centos-7-sbom.cyclonedx.json',
    ]);
    expect(notReport.exitCode).toBe(1);
    expect(String(notReport.stderr)).toMatch(/unsupported SchemaVersion/);
  });
});
