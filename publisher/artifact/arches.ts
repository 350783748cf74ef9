// Multi-arch artifacts: where each arch's OCI layout lives, which arches must pass before the image
// index of a tag may be published (wharf.yml `arches.required`), and, per arch, whether it passed
// build, verify and scan. Shared by verify, scan, sign and publish (no stage folder imports another).
import { ARCHES, assertAppId, assertTag, type Arch } from '../../catalog/names.ts';
import type { Artifact, BuildRecord, CatalogConfig, ContainerRecipe } from '../../catalog/schema.ts';
import { makeImageIndex, type ImageIndexDoc } from '../registry/image-index.ts';
import { imageLayoutDir, type StageContext } from '../stage.ts';

export type BuildPlatform = NonNullable<BuildRecord['platforms']>[number];

/** Is this build a multi-arch one (one `platforms[]` entry per arch, published as an image index)? */
export const isMultiArch = (b: BuildRecord | undefined): b is BuildRecord & { platforms: BuildPlatform[] } =>
  !!b?.platforms?.length;

/** The primary arch of a multi-arch build: its layout is the artifact's own layout dir. */
export const primaryArch = (b: BuildRecord): Arch | undefined => b.platforms?.[0]?.arch;

/** Where a non-primary arch's OCI layout lives: next to the primary's (`<tag>@<arch>`). */
export const archLayoutDir = (ctx: Pick<StageContext, 'workDir'>, app: string, tag: string, arch: Arch) =>
  `${imageLayoutDir(ctx, app, tag)}@${arch}`;

/** The layout dir of `arch` of this build (the primary arch uses the artifact's own dir). */
export function platformLayoutDir(
  ctx: Pick<StageContext, 'workDir'>,
  app: string,
  tag: string,
  build: BuildRecord,
  arch: Arch,
): string {
  return arch === primaryArch(build) ? imageLayoutDir(ctx, app, tag) : archLayoutDir(ctx, app, tag, arch);
}

/** The engine-local image name of one arch of a multi-arch build. */
export const platformImageRef = (app: string, tag: string, arch: Arch) =>
  `localhost/wharf/${assertAppId(app)}:${assertTag(tag)}-${arch}`;

/** The arches that must pass before the index is published: wharf.yml `arches.required` (restricted
 * to the arches built), else every arch built. */
export function requiredArches(config: Pick<CatalogConfig, 'arches'>, built: readonly Arch[]): Arch[] {
  const req = config.arches?.required;
  return req ? built.filter((a) => req.includes(a)) : [...built];
}

export type ArchStage = 'build' | 'verify' | 'scan';

export interface ArchState {
  arch: Arch;
  digest?: string;
  size?: number;
  required: boolean;
  ok: boolean;
  /** The first stage this arch did not pass, and why. */
  stage?: ArchStage;
  reason?: string;
}

/** Arch order in an image index: the catalog's canonical order, so every run lists them alike. */
export const byArchOrder = (a: Arch, b: Arch) => ARCHES.indexOf(a) - ARCHES.indexOf(b);

/** Per arch: did it pass build, verify (for this very manifest) and the scan policy? */
export function archStates(art: Artifact, recipe: ContainerRecipe, config: CatalogConfig): ArchState[] {
  const build = art.records.build!;
  const platforms = build.platforms ?? [];
  const required = requiredArches(
    config,
    platforms.map((p) => p.arch),
  );
  const verify = art.records.verify;
  const scan = art.records.scan;
  const noSmoke = !recipe.smoke || recipe.smoke.length === 0;
  return platforms.map((p): ArchState => {
    const s = { arch: p.arch, required: required.includes(p.arch) };
    const no = (stage: ArchStage, reason: string): ArchState => ({ ...s, ok: false, stage, reason });
    if (p.status === 'failed' || !p.manifestDigest)
      return no('build', `build failed${p.error ? `: ${p.error.message}` : ''}`);
    const d = { ...s, digest: p.manifestDigest, ...(p.size !== undefined ? { size: p.size } : {}) };
    const v = verify?.platforms?.find((x) => x.arch === p.arch);
    if (!v) {
      if (!(noSmoke && verify?.status === 'skipped')) return { ...no('verify', 'not verified yet'), ...d };
    } else {
      if (v.manifestDigest && v.manifestDigest !== p.manifestDigest)
        return { ...no('verify', 'verification is for an older build'), ...d };
      if (v.status !== 'passed') {
        const failed = v.checks.filter((c) => c.status !== 'passed').map((c) => `${c.name}: ${c.status}`);
        return {
          ...no('verify', `smoke tests failed (${failed.join('; ') || v.error?.message || 'see record'})`),
          ...d,
        };
      }
    }
    const sc = scan?.platforms?.find((x) => x.arch === p.arch);
    if (sc?.policy?.blocked)
      return { ...no('scan', `scan policy: ${sc.policy.reasons.join('; ') || 'blocked'}`), ...d };
    if (config.scanPolicy.requireScan) {
      if (!sc || sc.status !== 'ok')
        return { ...no('scan', `scan ${sc ? sc.status : 'not run'} and the policy requires one`), ...d };
      if (sc.target?.startsWith('sha256:') && sc.target !== p.manifestDigest)
        return { ...no('scan', 'scan is for another digest'), ...d };
    }
    return { ...d, ok: true };
  });
}

/** The image index of an artifact over the arches the gate let through (sign and publish build the same). */
export function artifactImageIndex(
  ctx: Pick<StageContext, 'workDir'>,
  app: string,
  tag: string,
  build: BuildRecord,
  arches: ReadonlyArray<{ arch: Arch; digest: string }>,
): Promise<ImageIndexDoc> {
  return makeImageIndex(
    arches.map((a) => ({
      arch: a.arch,
      digest: a.digest,
      layoutDir: platformLayoutDir(ctx, app, tag, build, a.arch),
    })),
  );
}
