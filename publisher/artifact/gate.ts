// What must be true before an image may be signed or published: it was built (and exported), its
// smoke tests passed for this very build, and the scan policy did not block it. Publish additionally
// needs sign to have run on the same digest (signed, or skipped because no key is configured).
//
// Multi-arch builds (records.build.platforms[]) are gated per arch: every required arch (wharf.yml
// `arches.required`, default every arch built) must have built, passed its own smoke tests and its own
// scan policy; the arches that did go into the image index, and a required arch that did not holds the
// whole index back (the result says which, and why).
import type { Arch } from '../../catalog/names.ts';
import type { Artifact, CatalogConfig, ContainerRecipe } from '../../catalog/schema.ts';
import { archStates, byArchOrder, isMultiArch, type ArchState } from './arches.ts';

/** One arch that goes into the image index. */
export interface IndexedArch {
  arch: Arch;
  digest: string;
  size?: number;
}

export type GateResult =
  | {
      ok: true;
      /** The single image's manifest digest (multi-arch: the primary arch's; the index is built from `arches`). */
      digest: string;
      /** Multi-arch: the arches the image index lists, in index order. */
      arches?: IndexedArch[];
    }
  | {
      ok: false;
      blockedBy: 'build' | 'verify' | 'scan' | 'sign';
      reason: string;
      /** Multi-arch: the required arches that held the index back. */
      heldBack?: Array<{ arch: Arch; stage: string; reason: string }>;
    };

function multiArchGate(art: Artifact, recipe: ContainerRecipe, config: CatalogConfig): GateResult {
  const build = art.records.build!;
  const states = archStates(art, recipe, config);
  const held = states.filter((s): s is ArchState & { stage: NonNullable<ArchState['stage']> } => {
    return s.required && !s.ok && !!s.stage;
  });
  if (held.length)
    return {
      ok: false,
      blockedBy: held[0]!.stage,
      reason: `required arch ${held.map((h) => `${h.arch}: ${h.reason}`).join('; ')}`,
      heldBack: held.map((h) => ({ arch: h.arch, stage: h.stage, reason: h.reason ?? h.stage })),
    };
  const arches = states
    .filter((s) => s.ok && s.digest)
    .map((s) => ({ arch: s.arch, digest: s.digest!, ...(s.size !== undefined ? { size: s.size } : {}) }))
    .sort((a, b) => byArchOrder(a.arch, b.arch));
  if (!arches.length) return { ok: false, blockedBy: 'build', reason: 'no arch passed' };
  return { ok: true, digest: build.manifestDigest ?? arches[0]!.digest, arches };
}

export function imageGate(
  art: Artifact | undefined,
  recipe: ContainerRecipe,
  config: CatalogConfig,
): GateResult {
  const build = art?.records.build;
  if (art && isMultiArch(build)) {
    if (build.status !== 'ok' && build.status !== 'unchanged') {
      const g = multiArchGate(art, recipe, config);
      if (!g.ok) return g;
      return { ok: false, blockedBy: 'build', reason: `not built (build ${build.status})` };
    }
    return multiArchGate(art, recipe, config);
  }
  if (!build || (build.status !== 'ok' && build.status !== 'unchanged') || !build.manifestDigest)
    return { ok: false, blockedBy: 'build', reason: `not built${build ? ` (build ${build.status})` : ''}` };
  const digest = build.manifestDigest;
  const verify = art.records.verify;
  const noSmoke = !recipe.smoke || recipe.smoke.length === 0;
  if (!verify) return { ok: false, blockedBy: 'verify', reason: 'not verified yet' };
  if (verify.status === 'failed') {
    const failed = verify.checks.filter((c) => c.status !== 'passed').map((c) => `${c.name}: ${c.status}`);
    return {
      ok: false,
      blockedBy: 'verify',
      reason: `smoke tests failed (${failed.join('; ') || 'see record'})`,
    };
  }
  if (verify.status === 'skipped' && !noSmoke)
    return { ok: false, blockedBy: 'verify', reason: 'smoke tests were skipped' };
  if (verify.inputsDigest && build.inputsDigest && verify.inputsDigest !== build.inputsDigest)
    return { ok: false, blockedBy: 'verify', reason: 'verification is for an older build' };
  const scan = art.records.scan;
  if (scan?.policy?.blocked)
    return {
      ok: false,
      blockedBy: 'scan',
      reason: `scan policy: ${scan.policy.reasons.join('; ') || 'blocked'}`,
    };
  if (config.scanPolicy.requireScan) {
    if (!scan || scan.status !== 'ok')
      return {
        ok: false,
        blockedBy: 'scan',
        reason: `scan ${scan ? scan.status : 'not run'} and the policy requires one`,
      };
    if (scan.target?.startsWith('sha256:') && scan.target !== digest)
      return { ok: false, blockedBy: 'scan', reason: 'scan is for another digest' };
    // A scan that matched nothing against the OS packages is no scan of them.
    if (scan.coverage?.os.by === 'none')
      return {
        ok: false,
        blockedBy: 'scan',
        reason: `OS packages not scanned (${scan.coverage.os.reason ?? 'no OS scanner'}) and the policy requires a scan`,
      };
  }
  return { ok: true, digest };
}

/** The publish gate: the image gate plus a signature for the same digest (or no key configured). */
export function publishGate(
  art: Artifact | undefined,
  recipe: ContainerRecipe,
  config: CatalogConfig,
): GateResult {
  const g = imageGate(art, recipe, config);
  if (!g.ok) return g;
  const sign = art!.records.sign;
  if (!sign) return { ok: false, blockedBy: 'sign', reason: 'not signed yet (run wharf sign)' };
  if (sign.status === 'failed')
    return { ok: false, blockedBy: 'sign', reason: `signing failed: ${sign.error?.message ?? 'see record'}` };
  if (sign.status === 'skipped') return g;
  if (g.arches) {
    // Multi-arch: each arch's manifest and the index (entries without an arch) are signed.
    const covered =
      sign.signatures.some((s) => !s.arch) &&
      g.arches.every((a) => sign.signatures.some((s) => s.arch === a.arch && s.digest === a.digest)) &&
      sign.signatures.every(
        (s) => !s.arch || g.arches!.some((a) => a.arch === s.arch && a.digest === s.digest),
      );
    if (!covered)
      return {
        ok: false,
        blockedBy: 'sign',
        reason: 'the signatures are for other arch manifests (run wharf sign again)',
      };
    return g;
  }
  if (sign.signatures.length === 0 || sign.signatures.some((s) => s.digest !== g.digest))
    return {
      ok: false,
      blockedBy: 'sign',
      reason: 'the signature is for another digest (run wharf sign again)',
    };
  return g;
}
