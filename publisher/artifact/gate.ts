// What must be true before an image may be signed or published: it was built (and exported), its
// smoke tests passed for this very build, and the scan policy did not block it. Publish additionally
// needs sign to have run on the same digest (signed, or skipped because no key is configured).
import type { Artifact, CatalogConfig, ContainerRecipe } from '../../catalog/schema.ts';

export type GateResult =
  | { ok: true; digest: string }
  | { ok: false; blockedBy: 'build' | 'verify' | 'scan' | 'sign'; reason: string };

export function imageGate(
  art: Artifact | undefined,
  recipe: ContainerRecipe,
  config: CatalogConfig,
): GateResult {
  const build = art?.records.build;
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
  if (sign.signatures.length === 0 || sign.signatures.some((s) => s.digest !== g.digest))
    return {
      ok: false,
      blockedBy: 'sign',
      reason: 'the signature is for another digest (run wharf sign again)',
    };
  return g;
}
