// Per-arch scans of a multi-arch build (written by the multiarch work; the scanning itself is the scan
// stage's): the primary arch goes through the scan stage as it is, every other arch that built is
// scanned on its own OCI layout with the scan stage's scanAndRecord, and each gets an entry in
// records.scan.platforms[] (its digest, summary, findings, policy decision). A required arch blocked
// by the policy blocks the artifact (and so the image index); a recent scan of the same arch digest
// is kept.
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ScanRecord } from '../../catalog/schema.ts';
import { archLayoutDir, isMultiArch, primaryArch, requiredArches } from '../artifact/arches.ts';
import type { StageFn, StageResult } from '../stage.ts';
import { readBuiltPackages } from './packages.ts';
import { scanAndRecord, type ScanRunOptions } from './record.ts';

type ScanPlatform = NonNullable<ScanRecord['platforms']>[number];

function entryOf(arch: ScanPlatform['arch'], r: ScanRecord): ScanPlatform {
  return {
    arch,
    status: r.status,
    at: r.at,
    ...(r.target ? { target: r.target } : {}),
    ...(r.summary ? { summary: r.summary } : {}),
    ...(r.findingsRef ? { findingsRef: r.findingsRef } : {}),
    ...(r.report ? { report: r.report } : {}),
    ...(r.policy ? { policy: { blocked: r.policy.blocked, reasons: r.policy.reasons } } : {}),
    ...(r.error ? { error: r.error } : {}),
    ...(r.coverage ? { coverage: r.coverage } : {}),
  };
}

export function perArchScan(
  inner: StageFn<'scan'>,
  opts: ScanRunOptions & { force?: boolean } = {},
): StageFn<'scan'> {
  return async (ctx, t): Promise<StageResult<'scan'>> => {
    const build = t.artifact?.records.build;
    const res = await inner(ctx, t);
    if (t.kind !== 'container' || !isMultiArch(build)) return res;
    const prev = t.artifact?.records.scan;
    const top = res.write?.record ?? prev;
    if (!top) return res;
    const now = (opts.now ?? (() => new Date()))();
    const primary = primaryArch(build);
    const platforms: ScanPlatform[] = [];
    let changed = !!res.write;
    let pending = res.write?.pending;
    for (const p of build.platforms) {
      if ((p.status !== 'ok' && p.status !== 'unchanged') || !p.manifestDigest) continue;
      if (p.arch === primary) {
        platforms.push(entryOf(p.arch, top));
        continue;
      }
      const old = prev?.platforms?.find((x) => x.arch === p.arch && x.target === p.manifestDigest);
      const ageH = old?.at ? (now.getTime() - Date.parse(old.at)) / 3_600_000 : Infinity;
      if (old && old.status === 'ok' && !opts.force && ageH < ctx.config.scanPolicy.rescanHours) {
        platforms.push(old);
        continue;
      }
      changed = true;
      const dir = resolve(archLayoutDir(ctx, t.app.id, t.artifactId, p.arch));
      const here = await access(join(dir, 'oci-layout')).then(
        () => true,
        () => false,
      );
      if (!here) {
        platforms.push({
          arch: p.arch,
          status: 'not-run',
          at: now.toISOString(),
          target: p.manifestDigest,
          error: { message: `image layout of ${p.arch} is not in this machine's work dir; rebuild needed` },
        });
        continue;
      }
      const r = await scanAndRecord(
        ctx,
        {
          target: t,
          digest: p.manifestDigest,
          source: { kind: 'input', path: dir },
          // This arch's own installed packages, for wharf-cvrf (publisher/scan/packages.ts).
          packages: () => readBuiltPackages([{ dir }]),
        },
        opts,
      );
      pending ??= r.write?.pending;
      platforms.push(
        r.write
          ? entryOf(p.arch, r.write.record)
          : { arch: p.arch, status: 'not-run', at: now.toISOString(), target: p.manifestDigest },
      );
    }
    const required = requiredArches(
      ctx.config,
      build.platforms.map((p) => p.arch),
    );
    const blocked = platforms.filter((p) => p.policy?.blocked && required.includes(p.arch));
    if (!changed) return res;
    const record: ScanRecord = { ...top, runId: ctx.runId, platforms };
    const message = blocked.length
      ? `blocked: ${blocked.map((b) => `${b.arch}: ${b.policy!.reasons.join('; ')}`).join('; ')}`
      : platforms.map((p) => `${p.arch} ${p.status}`).join(', ');
    return {
      stage: 'scan',
      verdict: blocked.length ? 'blocked' : res.verdict === 'blocked' ? 'done' : res.verdict,
      status: blocked.length ? 'blocked' : res.status,
      message,
      write: {
        record,
        subject: `scan: ${t.app.id}:${t.artifactId} ${platforms.map((p) => `${p.arch} ${p.status}`).join(', ')}`,
        ...(pending ? { pending } : {}),
      },
    };
  };
}
