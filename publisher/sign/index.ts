// The sign stage: for an image that was built, verified and not blocked by the scan policy, produce
// cosign-format signatures and a signed SLSA provenance attestation, one pair per registry target
// (the payload names that target's repository), written as a small OCI layout in the work dir for
// publish to push next to the image (see docs/signing.md). Runs before publish; re-running it on an
// unchanged digest with the same key records "unchanged" and keeps the existing signatures.
import type { Arch } from '../../catalog/names.ts';
import type { BuildRecord, ContainerRecipe, SignRecord } from '../../catalog/schema.ts';
import { artifactImageIndex } from '../artifact/arches.ts';
import { OciLayout } from '../registry/layout.ts';
import { writeLayout, type LayoutEntry } from '../registry/layout.ts';
import { OCI_MANIFEST } from '../registry/media.ts';
import { errorMessage, imageGate, loadArtifact } from '../artifact/index.ts';
import {
  imageLayoutDir,
  type StageContext,
  type StageFn,
  type StageResult,
  type StageTarget,
  type Verdict,
} from '../stage.ts';
import {
  IN_TOTO_PAYLOAD_TYPE,
  attestationManifest,
  attestationTag,
  dsseSign,
  signBase64,
  signatureManifest,
  signatureTag,
  simpleSigningPayload,
} from './cosign.ts';
import {
  KIND_ANNOTATION,
  REF_NAME,
  SUBJECT_ANNOTATION,
  TARGET_ANNOTATION,
  readSignatureLayout,
  signatureLayoutDir,
} from '../artifact/signatures.ts';
import { KEY_ENV, KEY_FILE_ENV, type SigningKey } from './keys.ts';
import { SLSA_PROVENANCE_V1, defaultBuilderId, slsaProvenance } from './provenance.ts';
import { CYCLONEDX_PREDICATE, sbomStatement, scanSbomFor, type ScanSbom } from '../scan/attest.ts';

export { signatureLayoutDir } from '../artifact/signatures.ts';

const VERDICT: Record<SignRecord['status'], Verdict> = {
  signed: 'done',
  unchanged: 'done',
  // Signing is optional: without a key (or targets) the image goes on unsigned and publish decides.
  skipped: 'done',
  failed: 'failed',
};

export const signStage: StageFn<'sign'> = async (ctx, t) => {
  const started = Date.now();
  const finish = (
    record: SignRecord,
    message?: string,
    verdict: Verdict = VERDICT[record.status],
  ): StageResult<'sign'> => ({
    stage: 'sign',
    verdict,
    status: record.status,
    ...(message ? { message } : {}),
    ...(record.status === 'unchanged' ? { unchanged: true } : {}),
    write: { record },
  });
  const label = `${t.app.id}:${t.artifactId}`;
  const base = () => ({ runId: ctx.runId, at: new Date().toISOString(), durationMs: Date.now() - started });
  if (t.kind !== 'container' || t.recipe.kind !== 'container')
    return finish(
      {
        ...base(),
        status: 'skipped',
        signatures: [],
        error: { message: 'only container images are signed' },
      },
      'only container images are signed',
      'skipped',
    );
  const recipe = t.recipe;

  const art = await loadArtifact(ctx, t);
  if (!art) return { stage: 'sign', verdict: 'skipped', status: 'skipped', message: 'not built yet' };
  const gate = imageGate(art, recipe, ctx.config);
  if (!gate.ok) {
    // Recorded as skipped (nothing was signed); the gate stops the artifact here.
    const message = `not signed: ${gate.blockedBy}: ${gate.reason}`;
    return finish({ ...base(), status: 'skipped', signatures: [], error: { message } }, message, 'blocked');
  }
  const digest = gate.digest;
  const targets = ctx.config.registries;
  if (targets.length === 0) {
    const message = 'no registry targets configured (wharf.yml registries[])';
    return finish({ ...base(), status: 'skipped', signatures: [], error: { message } }, message);
  }

  let key: SigningKey | null;
  try {
    key = await ctx.signer();
  } catch (e) {
    const message = errorMessage(e);
    ctx.log.warn(`${label}: ${message}`);
    return finish({ ...base(), status: 'failed', signatures: [], error: { message } }, message);
  }
  if (!key) {
    const message = `no signing key configured ($${KEY_ENV} or $${KEY_FILE_ENV}); published unsigned`;
    return finish({ ...base(), status: 'skipped', signatures: [], error: { message } }, message);
  }

  const dir = signatureLayoutDir(ctx.workDir, t.app.id, t.artifactId);
  const build = art!.records.build!;
  // What is signed: the image, or for a multi-arch build the image index and each arch's manifest.
  let subjects: Subject[];
  try {
    if (gate.arches) {
      const index = await artifactImageIndex(ctx, t.app.id, t.artifactId, build, gate.arches);
      subjects = [
        { digest: index.digest, build: { ...build, arches: gate.arches.map((a) => a.arch) } },
        ...gate.arches.map((a) => ({ digest: a.digest, arch: a.arch, build: archBuild(build, a.arch) })),
      ];
    } else {
      // The image layout must be the one that was built: refuse to sign a digest we cannot push.
      const layout = await OciLayout.open(imageLayoutDir(ctx, t.app.id, t.artifactId));
      await layout.root({ digest });
      subjects = [{ digest, build }];
    }
  } catch (e) {
    const message = errorMessage(e);
    return finish(
      { ...base(), status: 'failed', keyId: key.keyId, signatures: [], error: { message } },
      message,
    );
  }
  const prev = art!.records.sign;
  // The scan's SBOM of this digest is attested next to the provenance (publisher/scan/attest.ts).
  let sbom: ScanSbom | undefined;
  try {
    sbom = await scanSbomFor(
      ctx.blobs,
      art,
      subjects.map((x) => x.digest),
    );
  } catch (e) {
    const message = `SBOM attestation: ${errorMessage(e)}`;
    return finish({ ...base(), status: 'failed', signatures: [], error: { message } }, message);
  }
  if (
    prev &&
    (prev.status === 'signed' || prev.status === 'unchanged') &&
    prev.keyId === key.keyId &&
    prev.sbom?.sha256 === sbom?.ref.sha256
  ) {
    if (
      await stillValid(
        dir,
        prev,
        subjects,
        targets.map((x) => x.name),
      )
    ) {
      return finish({ ...prev, ...base(), status: 'unchanged', signatures: prev.signatures });
    }
  }

  try {
    const { entries, signatures } = signForTargets(ctx, t, recipe, subjects, key, sbom);
    const written = await writeLayout(dir, entries);
    for (const s of signatures) {
      s.signatureDigest = written.find(
        (d) =>
          d.annotations?.[REF_NAME] === s.signatureTag && d.annotations?.[TARGET_ANNOTATION] === s.target,
      )?.digest;
      s.attestationDigest = written.find(
        (d) =>
          d.annotations?.[REF_NAME] === s.attestationTag && d.annotations?.[TARGET_ANNOTATION] === s.target,
      )?.digest;
    }
    ctx.log.info(
      `${label}: signed ${subjects[0]!.digest}${subjects.length > 1 ? ` and ${subjects.length - 1} arch manifest(s)` : ''} for ${targets.length} target(s) with key ${key.keyId.slice(0, 19)}`,
    );
    return finish({
      ...base(),
      status: 'signed',
      keyId: key.keyId,
      signatures,
      ...(sbom ? { sbom: sbom.ref } : {}),
    });
  } catch (e) {
    const message = errorMessage(e);
    return finish(
      { ...base(), status: 'failed', keyId: key.keyId, signatures: [], error: { message } },
      message,
    );
  }
};

/** One digest to sign: the image (or image index), or one arch's manifest with that arch's build facts. */
interface Subject {
  digest: string;
  arch?: Arch;
  build: BuildRecord;
}

/** The build record as seen by one arch: its own inputs digest, manifest digest and arch. */
function archBuild(build: BuildRecord, arch: Arch): BuildRecord {
  const p = build.platforms?.find((x) => x.arch === arch);
  const { platforms: _p, ...rest } = build;
  return {
    ...rest,
    arches: [arch],
    ...(p?.inputsDigest ? { inputsDigest: p.inputsDigest } : {}),
    ...(p?.manifestDigest ? { manifestDigest: p.manifestDigest } : {}),
    ...(p?.imageId ? { imageId: p.imageId } : {}),
  };
}

function signForTargets(
  ctx: StageContext,
  t: StageTarget,
  recipe: ContainerRecipe,
  subjects: Subject[],
  key: SigningKey,
  sbom?: ScanSbom,
): { entries: LayoutEntry[]; signatures: SignRecord['signatures'] } {
  const entries: LayoutEntry[] = [];
  const signatures: SignRecord['signatures'] = [];
  const builderId = defaultBuilderId(ctx.config, ctx.env ?? process.env);
  for (const target of ctx.config.registries) {
    const repo = `${target.repository}/${t.app.name}`;
    for (const { digest, arch, build } of subjects) {
      const payload = simpleSigningPayload(repo, digest, {
        creator: 'wharf',
        'dev.wharf.app': t.app.id,
        'dev.wharf.tag': recipe.tag,
        ...(arch ? { 'dev.wharf.arch': arch } : {}),
      });
      const sig = signatureManifest(payload, signBase64(key.privateKey, payload));
      const statement = slsaProvenance({
        subjectName: repo,
        digest,
        app: t.app,
        recipe,
        build,
        config: ctx.config,
        builderId,
      });
      const sign = (st: unknown) =>
        dsseSign(key.privateKey, IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(st)));
      // The scanned image's SBOM goes into the same `.att` manifest, next to its provenance.
      const att = attestationManifest(
        sign(statement),
        SLSA_PROVENANCE_V1,
        sbom?.digest === digest
          ? [{ envelope: sign(sbomStatement(repo, digest, sbom.bom)), predicateType: CYCLONEDX_PREDICATE }]
          : [],
      );
      const common = { [TARGET_ANNOTATION]: target.name, [SUBJECT_ANNOTATION]: digest };
      entries.push(
        {
          manifest: sig.manifest,
          mediaType: OCI_MANIFEST,
          blobs: sig.blobs,
          annotations: { [REF_NAME]: signatureTag(digest), [KIND_ANNOTATION]: 'signature', ...common },
        },
        {
          manifest: att.manifest,
          mediaType: OCI_MANIFEST,
          blobs: att.blobs,
          annotations: { [REF_NAME]: attestationTag(digest), [KIND_ANNOTATION]: 'attestation', ...common },
        },
      );
      signatures.push({
        target: target.name,
        ref: `${repo}:${recipe.tag}`,
        digest,
        ...(arch ? { arch } : {}),
        signatureTag: signatureTag(digest),
        signatureDigest: sig.digest,
        attestationTag: attestationTag(digest),
        attestationDigest: att.digest,
      });
    }
  }
  return { entries, signatures };
}

/** The previous signatures cover this digest and these targets, and their layout is still on disk. */
async function stillValid(
  dir: string,
  prev: SignRecord,
  subjects: Subject[],
  targets: string[],
): Promise<boolean> {
  if (prev.signatures.length !== targets.length * subjects.length) return false;
  if (
    !targets.every((n) =>
      subjects.every((sub) =>
        prev.signatures.some((s) => s.target === n && s.digest === sub.digest && s.arch === sub.arch),
      ),
    )
  )
    return false;
  try {
    const got = await readSignatureLayout(dir);
    if (!got) return false;
    const has = (
      target: string,
      subject: string,
      kind: 'signature' | 'attestation',
      manifest: string | undefined,
    ) =>
      got.entries.some(
        (e) =>
          e.target === target && e.kind === kind && e.subject === subject && e.descriptor.digest === manifest,
      );
    return prev.signatures.every(
      (s) =>
        has(s.target, s.digest, 'signature', s.signatureDigest) &&
        has(s.target, s.digest, 'attestation', s.attestationDigest),
    );
  } catch {
    return false;
  }
}
