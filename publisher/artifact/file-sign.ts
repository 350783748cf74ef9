// The sign stage of a file kind (wsl, cloud): each file signed as a blob (publisher/sign/blob.ts), a
// Sigstore bundle with the configured key, or keyless (Fulcio + Rekor) when $WHARF_OIDC_TOKEN is set;
// the bundle goes to the blob store and next to the file (`<file>.sigstore.json`). No key and no token:
// skipped, published unsigned (as containers). Refused (blocked) unless the files passed verify and the
// scan does not block. The same files signed the same way: unchanged.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SignRecord } from '../../catalog/schema.ts';
import { sha256File } from '../objects/s3.ts';
import { targetLabel, type StageFn, type StageResult } from '../stage.ts';
import {
  fileGate,
  isKind,
  keyOfBundle,
  keyOfFile,
  notThisKind,
  OIDC_TOKEN_ENV,
  type FileKind,
} from './files.ts';
import { errorMessage } from './index.ts';

export function fileSignStage(k: FileKind): StageFn<'sign'> {
  return async (ctx, t) => {
    const started = Date.now();
    if (!isKind(k, t)) return notThisKind('sign', k, t);
    const label = targetLabel(t);
    const base = () => ({ runId: ctx.runId, at: new Date().toISOString(), durationMs: Date.now() - started });
    const finish = (
      record: SignRecord,
      verdict: 'done' | 'failed' | 'blocked',
      message?: string,
    ): StageResult<'sign'> => ({
      stage: 'sign',
      verdict,
      status: record.status,
      ...(message ? { message } : {}),
      write: { record },
    });
    const notSigned = (
      status: 'skipped' | 'failed',
      verdict: 'done' | 'failed' | 'blocked',
      message: string,
    ) => finish({ ...base(), status, signatures: [], error: { message } }, verdict, message);
    const g = fileGate(ctx, k, t);
    if (!g.ok) return notSigned('skipped', 'blocked', `not signed: ${g.blockedBy}: ${g.reason}`);
    const env = ctx.env ?? process.env;
    const { signFile, signFileKeyless } = await import('../sign/blob.ts');
    const { bundleMediaType } = await import('../objects/publish.ts');
    const token = env[OIDC_TOKEN_ENV];
    let key;
    try {
      key = token ? null : await ctx.signer();
    } catch (e) {
      return notSigned('failed', 'failed', errorMessage(e));
    }
    if (!token && !key)
      return notSigned(
        'skipped',
        'done',
        `no signing key ($WHARF_SIGNING_KEY or $WHARF_SIGNING_KEY_FILE) and no $${OIDC_TOKEN_ENV}; published unsigned`,
      );
    const prev = t.artifact?.records.sign;
    const mode = token ? 'keyless' : 'key';
    if (
      prev &&
      (prev.status === 'signed' || prev.status === 'unchanged') &&
      (mode === 'keyless' || prev.keyId === key!.keyId) &&
      prev.bundles?.length === g.files.length &&
      g.files.every((f) =>
        prev.bundles!.some(
          (b) => keyOfBundle(k, b) === keyOfFile(k, f) && b.sha256 === f.sha256 && b.mode === mode,
        ),
      )
    )
      return { stage: 'sign', verdict: 'done', status: 'unchanged', unchanged: true };
    try {
      const bundles: NonNullable<SignRecord['bundles']> = [];
      let identity: string | undefined;
      for (const f of g.files) {
        const path = join(k.dir(ctx, t), f.name);
        if ((await sha256File(path)).sha256 !== f.sha256)
          throw new Error(`${f.name} is not the file that was ${k.checkedAs} (rebuild it)`);
        const signed = token
          ? await signFileKeyless(path, { token, env })
          : { bundle: await signFile(path, key!), identity: undefined };
        identity = signed.identity ?? identity;
        const json = JSON.stringify(signed.bundle);
        await writeFile(`${path}.sigstore.json`, json);
        const { uri: _uri, ...bundle } = await ctx.blobs.put(json, bundleMediaType(json));
        bundles.push({
          arch: f.arch,
          file: f.name,
          sha256: f.sha256,
          bundle,
          mode,
          ...(signed.identity ? { identity: signed.identity } : {}),
        });
      }
      const record: SignRecord = {
        ...base(),
        status: 'signed',
        ...(key ? { keyId: key.keyId } : {}),
        signatures: [],
        bundles,
      };
      const message = `${label}: signed ${bundles.map((b) => b.file).join(', ')} (${key ? `key ${key.keyId.slice(0, 16)}` : `keyless, ${identity ?? 'OIDC identity'}`})`;
      ctx.log.info(message);
      return finish(record, 'done', message);
    } catch (e) {
      const message = `sign ${label} failed: ${errorMessage(e)}`;
      ctx.log.warn(message);
      return notSigned('failed', 'failed', message);
    }
  };
}
