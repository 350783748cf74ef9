// The publish stage of a file kind (wsl, cloud): every file, its `.sha256` and its bundle (restored from
// the blob store when not next to the file) to every wharf.yml `objectStorage:` target taking the kind,
// under `<prefix><app>/<id>/<file>` (publisher/objects/publish.ts). The record lists one object per file
// and target; a failed target is a `targets` entry and the status `partial` (some) or `failed` (all), and
// the artifact stays pending. No targets: skipped. Same files, bundles and targets as the last ok
// record: unchanged.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertAppId, assertTag } from '../../catalog/names.ts';
import type { PublishRecord } from '../../catalog/schema.ts';
import { targetLabel, type StageFn, type StageResult } from '../stage.ts';
import { fileGate, isKind, keyOfBundle, keyOfFile, notThisKind, skipStage, type FileKind } from './files.ts';
import { errorMessage } from './index.ts';

export function filePublishStage(k: FileKind): StageFn<'publish'> {
  return async (ctx, t) => {
    const started = Date.now();
    const at = new Date(started).toISOString();
    if (!isKind(k, t)) return notThisKind('publish', k, t);
    const label = targetLabel(t);
    const r = t.artifact?.records;
    const record = (
      p: Omit<PublishRecord, 'runId' | 'at' | 'durationMs' | 'targets'> & {
        targets?: PublishRecord['targets'];
      },
    ): PublishRecord => ({
      runId: ctx.runId,
      at,
      durationMs: Date.now() - started,
      targets: [],
      ...p,
    });
    const blocked = (blockedBy: string, message: string): StageResult<'publish'> => ({
      stage: 'publish',
      verdict: 'blocked',
      status: 'blocked',
      message,
      write: { record: record({ status: 'blocked', blockedBy, error: { message } }) },
    });
    const g = fileGate(ctx, k, t);
    if (!g.ok) return blocked(g.blockedBy, `${g.blockedBy}: ${g.reason}`);
    const sign = r?.sign;
    if (sign?.status === 'failed')
      return blocked('sign', `sign: signing failed: ${sign.error?.message ?? 'see record'}`);
    const bundles =
      sign && (sign.status === 'signed' || sign.status === 'unchanged') ? (sign.bundles ?? []) : [];
    const { publishFile, targetsFor } = await import('../objects/publish.ts');
    const targets = targetsFor(ctx.config.objectStorage, k.kind);
    if (targets.length === 0)
      return skipStage('publish', `${label}: no objectStorage targets for kind ${k.kind} in wharf.yml`);
    const inputsDigest = `sha256:${createHash('sha256')
      .update(
        JSON.stringify({
          files: g.files.map((f) => [keyOfFile(k, f), f.sha256]),
          bundles: bundles.map((b) => [keyOfBundle(k, b), b.bundle.sha256]),
          targets: targets.map((x) => [x.name, x.bucket, x.prefix, x.endpoint ?? null, x.publicUrl ?? null]),
        }),
      )
      .digest('hex')}`;
    const prev = r?.publish;
    if ((prev?.status === 'ok' || prev?.status === 'unchanged') && prev.inputsDigest === inputsDigest)
      return { stage: 'publish', verdict: 'done', status: 'unchanged', unchanged: true, complete: true };

    const fail = (message: string): StageResult<'publish'> => {
      ctx.log.warn(message);
      return {
        stage: 'publish',
        verdict: 'failed',
        status: 'failed',
        message,
        write: { record: record({ status: 'failed', inputsDigest, error: { message } }) },
      };
    };
    const objects: NonNullable<PublishRecord['objects']> = [];
    const failures: PublishRecord['targets'] = [];
    for (const f of g.files) {
      const path = join(k.dir(ctx, t), f.name);
      let bundlePath: string | undefined;
      const b = bundles.find((x) => keyOfBundle(k, x) === keyOfFile(k, f) && x.sha256 === f.sha256);
      if (b) {
        bundlePath = `${path}.sigstore.json`;
        const here = await readFile(bundlePath).catch(() => null);
        if (!here || createHash('sha256').update(here).digest('hex') !== b.bundle.sha256) {
          const bytes = await ctx.blobs.get(b.bundle).catch(() => null);
          if (!bytes)
            return fail(
              `the bundle of ${f.name} is neither next to it nor in the blob store (run wharf sign again)`,
            );
          await writeFile(bundlePath, bytes);
        }
      }
      const name = `${assertAppId(t.app.id)}/${assertTag(t.artifactId)}/${f.name}`;
      const contentType = k.contentType?.(f);
      let res;
      try {
        res = await publishFile(
          targets,
          {
            file: path,
            name,
            sha256: f.sha256,
            ...(contentType ? { contentType } : {}),
            ...(bundlePath ? { bundle: bundlePath } : {}),
          },
          {
            env: ctx.env ?? process.env,
            ...(ctx.signal ? { signal: ctx.signal } : {}),
            log: (m) => ctx.log.progress?.(m),
          },
        );
      } catch (e) {
        return fail(`publish ${label} failed: ${errorMessage(e)}`);
      }
      for (const o of res.objects)
        objects.push({
          url: o.url,
          sha256: o.sha256,
          size: o.size,
          target: o.target,
          arch: f.arch,
          ...k.objectExtra?.(f),
          bucket: o.bucket,
          key: o.key,
          checksumUrl: o.checksumUrl,
          ...(o.signatureUrl ? { signatureUrl: o.signatureUrl } : {}),
        });
      for (const x of res.failed)
        failures.push({ target: x.target, ref: name, status: 'failed', error: x.error });
    }
    const status: PublishRecord['status'] =
      failures.length === 0 ? 'ok' : objects.length === 0 ? 'failed' : 'partial';
    const message =
      status === 'ok'
        ? `${label}: ${objects.length} object(s) on ${targets.map((x) => x.name).join(', ')}`
        : `publish ${label} ${status}: ${failures.map((x) => `${x.target}: ${x.error}`).join('; ')}`;
    if (status === 'ok') ctx.log.info(message);
    else ctx.log.warn(message);
    return {
      stage: 'publish',
      verdict: status === 'ok' ? 'done' : 'failed',
      status,
      message,
      ...(status === 'ok' ? { complete: true } : {}),
      write: {
        record: record({
          status,
          inputsDigest,
          targets: failures,
          objects,
          ...(status !== 'ok' ? { error: { message } } : {}),
        }),
        // Not on every target: the artifact stays (or becomes) pending, so the next run tries again.
        pending: status === 'ok' ? ('clear' as const) : { set: `publish ${status}`, since: at },
      },
    };
  };
}
