// The catalog schema: the single contract between the watcher, the pipeline stages, the site and the
// daemon. Human-authored files are YAML (wharf.yml, apps/<id>/app.yml); machine-written records are
// JSON with stable key order (apps/<id>/upstream.json, apps/<id>/artifacts/<kind>/<artifact>.json).
// Large blobs (raw scan reports, SBOMs, build logs) never enter git: records hold a BlobRef
// (sha256, size, media type) and the bytes live in the blob store (catalog/blobs.ts).
import { z } from 'zod';
import { zAppId, zArch, zOsVersion, zRelPath, zRepoName, zTag, zVersion, TAG_RE } from './names.ts';
import {
  zAdvisoriesConfig,
  zBlobsConfig,
  zCloudsConfig,
  zDaemonConfig,
  zEventsConfig,
  zObjectStorageConfig,
  zSigningConfig,
  zWatchConfig,
  zWslConfig,
} from './config.ts';

export const IMAGE_KINDS = ['container', 'cloud', 'wsl'] as const;
export type ImageKind = (typeof IMAGE_KINDS)[number];
export const zImageKind = z.enum(IMAGE_KINDS);

/** `import` runs for cloud images only: publisher/cloud/providers (the published disk into each cloud). */
export const STAGES = ['build', 'verify', 'scan', 'sign', 'publish', 'import'] as const;
export type Stage = (typeof STAGES)[number];
export const zStage = z.enum(STAGES);
/** The stages an artifact of this kind goes through: only cloud images are imported into clouds. */
export function stagesOfKind(kind: ImageKind): readonly Stage[] {
  return kind === 'cloud' ? STAGES : STAGES.filter((s) => s !== 'import');
}

const zIsoTime = z.iso.datetime({ offset: true });
/** sha256:<64 hex> */
export const zDigest = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'digest must be sha256:<64 hex>');
/** Run ids look like 20261122T101500Z-3f9a1c: sortable, unique enough per machine, safe in paths. */
export const zRunId = z
  .string()
  .regex(/^[0-9]{8}T[0-9]{6}Z-[a-z0-9]{6,12}$/, 'run id must look like 20261122T101500Z-3f9a1c');

// ---------------------------------------------------------------- text and URL building blocks
// Every string field has a size cap and refuses control characters (NUL, escapes), so a hostile
// catalog file cannot make a multi-gigabyte site build or a commit git refuses. Caps are in characters.

export const TEXT_CAPS = {
  /** Identifiers, labels, short names. */
  short: 256,
  /** One-line text: titles, summaries, reasons, messages. */
  line: 2_000,
  /** Markdown: descriptions and portal docs, per language. */
  doc: 64 * 1024,
  /** Items in a list of short strings (keywords, prefixes, filters). */
  list: 256,
} as const;

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const LINE_CONTROL_RE = /[\u0000-\u001f\u007f]/;

/** Text of at most `max` characters, tabs and newlines allowed, no other control characters. */
export const zText = (max: number) =>
  z
    .string()
    .max(max, `longer than ${max} characters`)
    .refine((v) => !CONTROL_RE.test(v), 'contains a control character');
/** One line of at most `max` characters: no newline or other control character. */
export const zLine = (max: number = TEXT_CAPS.short) =>
  z
    .string()
    .max(max, `longer than ${max} characters`)
    .refine((v) => !LINE_CONTROL_RE.test(v), 'contains a newline or control character');
/** A list of short one-line strings. */
export const zLineList = (max: number = TEXT_CAPS.list, itemMax: number = TEXT_CAPS.short) =>
  z.array(zLine(itemMax)).max(max, `more than ${max} items`);

/** An absolute http(s) URL: javascript:, data:, file: and other schemes are refused. */
export const zHttpUrl = z
  .string()
  .max(2048, 'longer than 2048 characters')
  .url()
  .refine((u) => {
    try {
      const p = new URL(u).protocol;
      return p === 'https:' || p === 'http:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');

/** Text in both portal languages; either may be missing (the site falls back and marks it). */
export const zI18nText = z
  .object({ zh: zText(TEXT_CAPS.line).optional(), en: zText(TEXT_CAPS.line).optional() })
  .strict();
export type I18nText = z.infer<typeof zI18nText>;
/** Portal Markdown in both languages (descriptions, docs sections). */
export const zI18nDoc = z
  .object({ zh: zText(TEXT_CAPS.doc).optional(), en: zText(TEXT_CAPS.doc).optional() })
  .strict();

export const zLicense = z
  .object({
    /** SPDX identifier (or expression) when the original text maps onto one. */
    spdx: z
      .string()
      .max(TEXT_CAPS.short)
      .regex(/^[A-Za-z0-9.+\-() ]+$/)
      .optional(),
    /** The original free text, kept verbatim. */
    text: zText(TEXT_CAPS.doc).optional(),
  })
  .strict();

// ---------------------------------------------------------------- upstream and version policy

/**
 * A watch backend's name. The backends themselves — and each one's own fields and requirements — are
 * the watch sources' registry (publisher/watch/sources/); the catalog cannot import it, so it checks
 * the name's shape here, and `wharf catalog validate` and the sweep check the entry against its source.
 */
export const zUpstreamBackend = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'a backend name: lowercase [a-z0-9-], at most 32 characters');
export const VERSION_SCHEMES = ['semver', 'rpm', 'pep440', 'calendar', 'loose'] as const;
export const zVersionScheme = z.enum(VERSION_SCHEMES);

/** The part of an app's `upstream:` entry every backend shares (the version policy, where it is). */
export const zUpstreamCommon = z
  .object({
    backend: zUpstreamBackend,
    /** owner/name for forges, a git URL for 'git', registry/repo for 'oci', package name for pypi/npm/rpm. */
    repo: zLine(1024).min(1).optional(),
    /** URL for http-*, base URL of an RPM repository, or an API base override (http or https only). */
    url: zHttpUrl.optional(),
    /** RPM package name (backend rpm). */
    package: zLine().optional(),
    /** Regex with one capture group (http-regex, or to pick versions out of tags). */
    regex: zLine(1024).optional(),
    scheme: zVersionScheme.default('loose'),
    /** Prefixes stripped from tags before parsing, e.g. ["v", "release-", "nginx-"]. */
    prefixes: zLineList().optional(),
    include: zLineList().optional(),
    exclude: zLineList().optional(),
    prerelease: z.boolean().optional(),
    /** Release lines tracked independently, as semver ranges or regexes, e.g. ["1.x", "2.x"]. */
    lines: zLineList(64).optional(),
    ignore: zLineList().optional(),
    /**
     * The original openEuler fields (meta.yml `upstream:` strings), kept for round-tripping and review:
     * flat string → string, never a nested tree.
     */
    original: z
      .record(
        z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'key must be [A-Za-z0-9_.-], 1-64 characters'),
        zLine(TEXT_CAPS.line),
      )
      .refine((o) => Object.keys(o).length <= 64, 'more than 64 fields')
      .optional(),
  })
  .strict();
export type UpstreamCommon = z.infer<typeof zUpstreamCommon>;

/** A backend's own setting (`useTags`, `jsonPath`, …): a short scalar or list; its source validates it. */
const zBackendSetting = z.union([z.boolean(), z.number(), zLine(1024), zLineList(64)]);
const BACKEND_SETTING_RE = /^[A-Za-z][A-Za-z0-9]{0,31}$/;

/** An app's `upstream:` entry: the common part, plus at most 16 settings of its backend's own. */
export const zUpstream = zUpstreamCommon.loose().superRefine((u, ctx) => {
  const own = Object.keys(u).filter((k) => !(k in zUpstreamCommon.shape));
  if (own.length > 16) ctx.addIssue({ code: 'custom', path: [], message: 'more than 16 backend settings' });
  for (const k of own.slice(0, 16)) {
    if (!BACKEND_SETTING_RE.test(k)) {
      ctx.addIssue({ code: 'custom', path: [k], message: 'not a setting name ([A-Za-z][A-Za-z0-9]*)' });
      continue;
    }
    const r = zBackendSetting.safeParse((u as Record<string, unknown>)[k]);
    if (!r.success)
      ctx.addIssue({
        code: 'custom',
        path: [k],
        message: 'a backend setting is a short string, number, boolean or list',
      });
  }
});
export type Upstream = z.infer<typeof zUpstream>;

// ---------------------------------------------------------------- recipes per image kind

export const zSmokeTest = z
  .object({
    name: zLine().min(1),
    /** argv run inside the container; never passed through a shell by Wharf. */
    command: z.array(zText(TEXT_CAPS.line)).min(1).max(TEXT_CAPS.list),
    expectExit: z.number().int().default(0),
    /** Regex the combined output must match. */
    expectOutput: zLine(TEXT_CAPS.line).optional(),
    /** A TCP port that must accept connections while the container runs. */
    port: z.number().int().min(1).max(65535).optional(),
    timeoutSeconds: z.number().positive().max(3600).default(60),
  })
  .strict();
export type SmokeTest = z.infer<typeof zSmokeTest>;

const zRecipeBase = {
  /** App version this artifact packages (upstream version). */
  version: zVersion,
  osVersion: zOsVersion,
  arches: z.array(zArch).min(1).default(['amd64', 'arm64']),
  smoke: z.array(zSmokeTest).max(64).optional(),
  /** Set by the importer when the recipe could not be resolved; the pipeline skips it with a reason. */
  problem: zText(TEXT_CAPS.line).optional(),
  /** Fields the importer derived (guessed from a naming convention) instead of reading them from the source. */
  derived: zLineList(64).optional(),
};

/** What the importer read from the recipe file (catalog/dockerfile): the build graph's raw facts. */
export const zRecipeAnalysis = z
  .object({
    /** `dockerfile`, or `distrofile` for Distroless YAML specs (not buildable by Wharf). */
    builder: z.enum(['dockerfile', 'distrofile']),
    /** Whether the recipe file exists in the recipe tree (inside it: symlinks leaving it count as absent). */
    exists: z.boolean(),
    /** Every stage: the FROM image as written and as resolved with no build args (FROM <stage> followed). */
    stages: z
      .array(
        z
          .object({
            from: zLine(TEXT_CAPS.line),
            resolved: zLine(TEXT_CAPS.line).nullable(),
            name: zLine().optional(),
            /** Index of the earlier stage this one is built FROM. */
            stage: z.number().int().min(0).optional(),
            line: z.number().int().min(1),
          })
          .strict(),
      )
      .default([]),
    /** The final stage's resolved image. */
    base: zLine(TEXT_CAPS.line).nullable(),
    /** Every external image the build reads (all stages and COPY --from); `app` when Wharf builds it. */
    bases: z
      .array(z.object({ ref: zLine(TEXT_CAPS.line), app: zAppId.optional(), tag: zTag.optional() }).strict())
      .default([]),
    /** Declared ARGs → default as written, or null. */
    args: z
      .record(zLine(), zLine(TEXT_CAPS.line).nullable())
      .refine((o) => Object.keys(o).length <= 256, 'more than 256 ARGs')
      .default({}),
    usesTargetArch: z.boolean().optional(),
    usesTargetPlatform: z.boolean().optional(),
    /** Everything wrong with this recipe, each as `file:line: message` (repository-relative file). */
    problems: z.array(zLine(TEXT_CAPS.line)).max(256).default([]),
  })
  .strict();
export type RecipeAnalysis = z.infer<typeof zRecipeAnalysis>;

export const zContainerRecipe = z
  .object({
    kind: z.literal('container'),
    tag: zTag,
    /** Dockerfile path relative to the app directory in the recipe tree. */
    dockerfile: zRelPath,
    /** Build context relative to the app directory; defaults to the Dockerfile's directory. */
    context: zRelPath.optional(),
    buildArgs: z
      .record(
        z
          .string()
          .max(TEXT_CAPS.short)
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
        zLine(TEXT_CAPS.line),
      )
      .refine((o) => Object.keys(o).length <= 64, 'more than 64 build args')
      .optional(),
    /** Recipe-repository commit this recipe was last imported (changed) at: builds check out exactly it. */
    commit: z
      .string()
      .regex(/^[a-f0-9]{40}$/)
      .optional(),
    /** sha256 over the recipe's directory (files and contents) at import: what "changed" means. */
    treeDigest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/)
      .optional(),
    analysis: zRecipeAnalysis.optional(),
    ...zRecipeBase,
  })
  .strict();

export const zCloudRecipe = z
  .object({
    kind: z.literal('cloud'),
    /** Artifact id, e.g. 24.03-lts-sp4-qcow2. */
    id: zTag,
    /** One output format (older recipes); `formats` lists several. At least one of the two. */
    format: z.enum(['qcow2', 'raw', 'vhd', 'vmdk']).optional(),
    formats: z
      .array(z.enum(['qcow2', 'raw', 'vhd', 'vmdk']))
      .min(1)
      .max(4)
      .optional(),
    /**
     * The source: a container artifact built by Wharf whose rootfs carries a kernel, an initramfs and
     * systemd-boot ("app:tag" or a tag of the same app), or a base disk image by https URL (qcow2, raw,
     * optionally .xz) with its `sha256`.
     */
    source: zLine(2048).min(1),
    /** SHA-256 of a base disk image fetched from `source` (required for a URL source). */
    sha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/)
      .optional(),
    sizeGiB: z.number().positive().max(2048).optional(),
    cloudInit: z.boolean().optional(),
    /** cloud-init datasources, in the order tried (default NoCloud, ConfigDrive, OpenStack, Ec2, None). */
    datasources: z
      .array(z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,31}$/))
      .max(16)
      .optional(),
    ...zRecipeBase,
  })
  .strict();

export const zWslRecipe = z
  .object({
    kind: z.literal('wsl'),
    id: zTag,
    /** Rootfs tarball or container image the .wsl file is made from. */
    source: zLine(2048).min(1),
    compression: z.enum(['gzip', 'xz']).default('gzip'),
    defaultUid: z.number().int().default(1000),
    defaultName: zLine().optional(),
    /** DistributionInfo.json flavor (`wsl --install <flavor>`); default: the app's name. */
    flavor: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)
      .optional(),
    friendlyName: zLine().min(1).optional(),
    /** The flavor's default entry in DistributionInfo.json (default: the newest published). */
    default: z.boolean().optional(),
    /** .ico (≤ 1 MiB) and Windows Terminal profile template, relative to the recipe tree. */
    icon: zRelPath.optional(),
    terminalProfile: zRelPath.optional(),
    ...zRecipeBase,
  })
  .strict();

export const zRecipe = z.discriminatedUnion('kind', [zContainerRecipe, zCloudRecipe, zWslRecipe]);
export type ContainerRecipe = z.infer<typeof zContainerRecipe>;
export type CloudRecipe = z.infer<typeof zCloudRecipe>;
export type WslRecipe = z.infer<typeof zWslRecipe>;
export type Recipe = z.infer<typeof zRecipe>;

/** The artifact id of a recipe: the tag for containers, the id for cloud and WSL images. */
export function artifactIdOf(r: Recipe): string {
  return r.kind === 'container' ? r.tag : r.id;
}

// ---------------------------------------------------------------- the app (apps/<id>/app.yml)

export const zApp = z
  .object({
    id: zAppId,
    /** Image repository name (openEuler: image-list.yml key), e.g. redis or kserve-controller. */
    name: zRepoName,
    title: zI18nText,
    summary: zI18nText.default({}),
    description: zI18nDoc.default({}),
    category: z
      .string()
      .max(64)
      .regex(/^[a-z0-9-]+$/),
    /** Scene directory in the openEuler layout (AI, Base, Cloud, …). */
    scene: zLine().optional(),
    /** http or https only: the site links it and the JSON API serves it. */
    homepage: zHttpUrl.optional(),
    license: zLicense.default({}),
    visibility: z.enum(['public', 'hidden']).default('public'),
    upstream: zUpstream.optional(),
    recipes: z
      .object({
        container: z.array(zContainerRecipe).max(1024).default([]),
        cloud: z.array(zCloudRecipe).max(1024).default([]),
        wsl: z.array(zWslRecipe).max(1024).default([]),
      })
      .strict()
      .default({ container: [], cloud: [], wsl: [] }),
    /** Portal Markdown, per language. */
    docs: z
      .object({
        environment: zI18nDoc.optional(),
        download: zI18nDoc.optional(),
        usage: zI18nDoc.optional(),
        tags: zI18nDoc.optional(),
      })
      .strict()
      .default({}),
    similar: zLineList().optional(),
    dependencies: zLineList().optional(),
    keywords: zLineList().optional(),
    /** Where the app came from: recipe tree directory and commit, and the repository (git URL) when known. */
    source: z
      .object({
        origin: zLine(2048),
        dir: zLine(1024),
        commit: zLine(128).optional(),
        repo: zLine(2048).optional(),
        /**
         * A directory import that is not a clean git work tree: the absolute directory builds read the
         * recipe from (its files must still match the recipe's treeDigest).
         */
        path: zLine(4096).optional(),
        /** README and logo files, relative to the app directory. */
        readme: zRelPath.optional(),
        logo: zRelPath.optional(),
      })
      .strict()
      .optional(),
    /** Set by the importer when the app's directory disappeared upstream: kept, never built again. */
    retired: z
      .object({ at: zIsoTime, commit: zLine(128).optional(), reason: zLine(TEXT_CAPS.line) })
      .strict()
      .optional(),
  })
  .strict();
export type App = z.infer<typeof zApp>;
export type AppInput = z.input<typeof zApp>;

// ---------------------------------------------------------------- upstream state (apps/<id>/upstream.json)

export const zUpstreamState = z
  .object({
    latest: zVersion.optional(),
    /** Newest version per tracked release line. */
    lines: z.record(z.string(), zVersion).optional(),
    known: z.array(zVersion).default([]),
    lastChecked: zIsoTime.optional(),
    lastChanged: zIsoTime.optional(),
    lastError: z
      .object({ message: z.string(), at: zIsoTime, count: z.number().int().min(1) })
      .strict()
      .optional(),
    /** Fingerprint of the upstream entry `known` was computed with; a policy edit forces a full re-fetch. */
    policy: z.string().optional(),
    /** Conditional-request validators per URL. */
    validators: z
      .record(
        z.string(),
        z.object({ etag: z.string().optional(), lastModified: z.string().optional() }).strict(),
      )
      .optional(),
  })
  .strict();
export type UpstreamState = z.infer<typeof zUpstreamState>;

// ---------------------------------------------------------------- stage records

export const zBlobRef = z
  .object({
    sha256: z.string().regex(/^[a-f0-9]{64}$/),
    size: z.number().int().min(0),
    mediaType: z.string(),
    /** Where it can be fetched: file: or s3: URI of the blob store. */
    uri: z.string().optional(),
    truncated: z.boolean().optional(),
  })
  .strict();
export type BlobRef = z.infer<typeof zBlobRef>;

export const zStageError = z
  .object({
    message: z.string(),
    /** The last lines of a log or output, already scrubbed of secrets. */
    tail: z.array(z.string()).optional(),
  })
  .strict();

const zRecordBase = {
  runId: zRunId,
  at: zIsoTime,
  durationMs: z.number().int().min(0).optional(),
  error: zStageError.optional(),
};

export const zBuildBase = z
  .object({
    /** The image as the Dockerfile names it (with its defaults). */
    ref: z.string(),
    /** The reference the engine built FROM, when it differs from `ref`. */
    used: z.string().optional(),
    digest: zDigest.optional(),
    /** Stage indexes built FROM it; absent for an image read only by COPY --from. */
    stages: z.array(z.number().int().min(0)).optional(),
    /** The Wharf app (and tag) that builds this image. */
    app: zAppId.optional(),
    tag: zTag.optional(),
  })
  .strict();
export type BuildBase = z.infer<typeof zBuildBase>;

export const zBuildRecord = z
  .object({
    ...zRecordBase,
    status: z.enum(['ok', 'failed', 'unchanged', 'skipped']),
    /** sha256 over context files, Dockerfile, build args and the resolved base digest. */
    inputsDigest: zDigest.optional(),
    recipeCommit: z
      .string()
      .regex(/^[a-f0-9]{7,64}$/)
      .optional(),
    base: z.object({ ref: z.string(), digest: zDigest.optional() }).strict().optional(),
    /**
     * The image of every stage and COPY --from, as the engine used it (publisher/build/args.ts): the
     * reference the Dockerfile names, the reference passed to the engine (pinned, a mirror, or the
     * Wharf-built parent), its digest, the stages that use it, and the app when Wharf builds it.
     */
    bases: z.array(zBuildBase).max(64).optional(),
    /** The build args passed to the engine (only ARGs the Dockerfile declares). */
    buildArgs: z.record(z.string(), z.string()).optional(),
    /** Local image id and, per arch, what was built. */
    imageId: z.string().optional(),
    /** Digest of the OCI manifest exported for scan/sign/publish (identical on every registry target). */
    manifestDigest: zDigest.optional(),
    arches: z.array(zArch).optional(),
    /**
     * Multi-arch builds: one entry per arch built (or refused) in this run, each with its own inputs
     * digest, manifest digest, compressed size, duration and log. The top-level fields are the primary
     * arch's (the engine's when it is in the list, else the first).
     */
    platforms: z
      .array(
        z
          .object({
            arch: zArch,
            status: z.enum(['ok', 'failed', 'unchanged']),
            inputsDigest: zDigest.optional(),
            manifestDigest: zDigest.optional(),
            imageId: z.string().optional(),
            /** Compressed bytes: the manifest's config and layer sizes. */
            size: z.number().int().min(0).optional(),
            durationMs: z.number().int().min(0),
            /** Built natively or under qemu-user-static emulation. */
            emulated: z.boolean().optional(),
            /** This arch's stage bases and digests (the engine resolves each base per platform). */
            bases: z.array(zBuildBase).max(64).optional(),
            log: zBlobRef.optional(),
            error: zStageError.optional(),
          })
          .strict(),
      )
      .optional(),
    labels: z.record(z.string(), z.string()).optional(),
    log: zBlobRef.optional(),
    /** For cloud/WSL: the produced file (the first arch's when there are several). */
    file: z.object({ name: z.string(), sha256: z.string(), size: z.number().int() }).strict().optional(),
    /** For cloud/WSL: one produced file per arch built. */
    files: z
      .array(
        z
          .object({
            arch: zArch,
            name: z.string(),
            sha256: z.string(),
            size: z.number().int(),
            /** Cloud images: the disk format of this file. */
            format: z.enum(['qcow2', 'raw', 'vhd', 'vmdk']).optional(),
            /**
             * Cloud images: the disk's virtual size in bytes (what a VM sees; a qcow2 or streamOptimized
             * VMDK file is smaller). Absent in records written before Wharf recorded it.
             */
            virtualSize: z.number().int().min(0).optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

export const zCheckResult = z
  .object({
    name: z.string(),
    status: z.enum(['passed', 'failed', 'timeout', 'error']),
    exitCode: z.number().int().optional(),
    output: z.array(z.string()).optional(),
    durationMs: z.number().int().min(0).optional(),
  })
  .strict();

export const zVerifyRecord = z
  .object({
    ...zRecordBase,
    status: z.enum(['passed', 'failed', 'skipped']),
    inputsDigest: zDigest.optional(),
    checks: z.array(zCheckResult).default([]),
    /**
     * Multi-arch builds: the smoke tests of each arch's own image (emulated arches under qemu-user-static
     * with a longer timeout). The top-level checks are the primary arch's.
     */
    platforms: z
      .array(
        z
          .object({
            arch: zArch,
            status: z.enum(['passed', 'failed']),
            manifestDigest: zDigest.optional(),
            inputsDigest: zDigest.optional(),
            emulated: z.boolean().optional(),
            checks: z.array(zCheckResult).default([]),
            durationMs: z.number().int().min(0).optional(),
            error: zStageError.optional(),
          })
          .strict(),
      )
      .optional(),
    /** Cloud images: the boot test (publisher/cloud/boot-test.ts) and its serial console log. */
    bootTest: z
      .object({
        booted: z.boolean(),
        seconds: z.number().min(0),
        marker: z.string().nullable(),
        accel: z.enum(['kvm', 'tcg']),
        file: z.string(),
        format: z.string(),
        reason: z.string().optional(),
        consoleLog: zBlobRef.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
export const zSeverity = z.enum(SEVERITIES);
export type Severity = (typeof SEVERITIES)[number];
const zSeverityCounts = z
  .object({
    CRITICAL: z.number().int(),
    HIGH: z.number().int(),
    MEDIUM: z.number().int(),
    LOW: z.number().int(),
    UNKNOWN: z.number().int(),
  })
  .strict();

export const zFinding = z
  .object({
    id: z.string(),
    pkg: z.string(),
    installed: z.string(),
    fixed: z.string().optional(),
    severity: zSeverity,
    status: z.string().optional(),
    target: z.string().optional(),
    title: z.string().optional(),
    url: z.string().optional(),
    /** Who reported it: Wharf's matcher over the vendor's advisories, or Trivy (absent: older records, Trivy). */
    source: z.enum(['wharf-cvrf', 'trivy']).optional(),
    /** wharf-cvrf findings (id = the advisory, e.g. openEuler-SA-2024-1488): the CVEs it fixes. */
    cves: z.array(z.string()).optional(),
  })
  .strict();
export type Finding = z.infer<typeof zFinding>;

const zDataAge = z.object({ at: z.string(), ageHours: z.number() }).strict();

/**
 * What a scan covered (publisher/advisories/coverage.ts). os.by `none` means the OS packages were not
 * matched by anything: such a scan is "OS packages not scanned", never clean, whatever its counts say.
 */
export const zScanCoverage = z
  .object({
    os: z
      .object({
        by: z.enum(['wharf-cvrf', 'trivy', 'none']),
        release: z.string().optional(),
        data: zDataAge.optional(),
        reason: z.string().optional(),
      })
      .strict(),
    language: z
      .object({
        by: z.enum(['trivy', 'none']),
        data: zDataAge.optional(),
        reason: z.string().optional(),
      })
      .strict(),
    summary: z.string(),
    /** Per image arch: installed packages found, where the RPM database was, wharf-cvrf findings. */
    arches: z
      .array(
        z
          .object({
            arch: z.string(),
            manifest: z.string().optional(),
            packages: z.number().int().min(0),
            rpmdb: z.string().optional(),
            noRpmdb: z.string().optional(),
            findings: z.number().int().min(0),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();
export type ScanCoverage = z.infer<typeof zScanCoverage>;
/** One arch of a multi-arch scan: the scan of that arch's own image (records.scan.platforms[]). */
export const zScanPlatform = z
  .object({
    arch: zArch,
    status: z.enum(['ok', 'not-run', 'failed']),
    at: zIsoTime.optional(),
    /** The arch's manifest digest that was scanned. */
    target: z.string().optional(),
    summary: z.object({ total: zSeverityCounts, fixable: zSeverityCounts }).strict().optional(),
    findingsRef: zBlobRef.optional(),
    report: zBlobRef.optional(),
    policy: z
      .object({ blocked: z.boolean(), reasons: z.array(z.string()).default([]) })
      .strict()
      .optional(),
    error: zStageError.optional(),
    /** What this arch's scan covered ("OS packages not scanned" when os.by is none). */
    coverage: zScanCoverage.optional(),
  })
  .strict();

export const zScanRecord = z
  .object({
    ...zRecordBase,
    /** not-run: the scanner was missing or failed; never to be read as clean. */
    status: z.enum(['ok', 'not-run', 'failed']),
    scanner: z
      .object({ name: z.string(), version: z.string().optional(), dbUpdatedAt: z.string().optional() })
      .strict()
      .optional(),
    /** Image digest (or file sha256) that was scanned. */
    target: z.string().optional(),
    /** Set on rescans of published images: the registry reference that was scanned (never credentials). */
    rescan: z.boolean().optional(),
    ref: z.string().optional(),
    os: z.object({ family: z.string(), name: z.string() }).strict().optional(),
    summary: z.object({ total: zSeverityCounts, fixable: zSeverityCounts }).strict().optional(),
    /** Older records: the finding list inline. New records keep it in the blob store (findingsRef). */
    findings: z.array(zFinding).optional(),
    /** The full finding list as a compact JSON blob (publisher/scan/findings.ts); git keeps only its hash. */
    findingsRef: zBlobRef.optional(),
    newSinceLast: z.array(z.string()).optional(),
    fixedSinceLast: z.array(z.string()).optional(),
    policy: z
      .object({
        blocked: z.boolean(),
        reasons: z.array(z.string()).default([]),
        waived: z.array(z.string()).default([]),
        /** Waivers that matched a finding but have expired (so no longer apply): "<id> (expired <date>)". */
        expiredWaivers: z.array(z.string()).optional(),
        rebuildQueued: z.boolean().optional(),
        /** Set when nothing matched the OS packages: "OS packages not scanned (<why>)". */
        osNotScanned: z.string().optional(),
      })
      .strict()
      .optional(),
    report: zBlobRef.optional(),
    /** CycloneDX SBOM: Wharf's own (the image's RPMs, with purls) when it has an RPM database, else Trivy's. */
    sbom: zBlobRef.optional(),
    coverage: zScanCoverage.optional(),
    /** The installed packages per arch (publisher/scan/packages.ts): rescans re-match them without pulling. */
    packagesRef: zBlobRef.optional(),
    /** Multi-arch builds: each arch scanned on its own; the top-level fields are the primary arch's. */
    platforms: z.array(zScanPlatform).optional(),
  })
  .strict();
export type ScanRecord = z.infer<typeof zScanRecord>;

export const zSignRecord = z
  .object({
    ...zRecordBase,
    status: z.enum(['signed', 'failed', 'skipped', 'unchanged']),
    /** Fingerprint (sha256 of the public key's DER), never the key. */
    keyId: z.string().optional(),
    signatures: z
      .array(
        z
          .object({
            target: z.string(),
            ref: z.string(),
            digest: zDigest,
            /** Multi-arch: the arch whose manifest this signs; absent for the image index (or single image). */
            arch: zArch.optional(),
            signatureTag: z.string(),
            signatureDigest: zDigest.optional(),
            attestationTag: z.string().optional(),
            attestationDigest: zDigest.optional(),
          })
          .strict(),
      )
      .default([]),
    /** Cloud and WSL files: one Sigstore bundle per file (kept in the blob store). */
    bundles: z
      .array(
        z
          .object({
            arch: zArch,
            file: z.string(),
            sha256: z.string(),
            bundle: zBlobRef,
            /** key: the configured key (keyId); keyless: a Fulcio certificate for `identity`. */
            mode: z.enum(['key', 'keyless']),
            identity: z.string().optional(),
          })
          .strict(),
      )
      .optional(),
    /** The scan record's SBOM, attested (signed, in the `.att` manifest) next to the provenance. */
    sbom: zBlobRef.optional(),
  })
  .strict();

export const zPublishTarget = z
  .object({
    target: z.string(),
    ref: z.string(),
    status: z.enum(['ok', 'failed', 'unchanged']),
    digest: zDigest.optional(),
    aliases: z.array(z.string()).optional(),
    error: z.string().optional(),
    /** The media type this registry refused (e.g. an OCI image index); the other targets go on. */
    refusedMediaType: z.string().optional(),
    attempts: z.number().int().min(1).optional(),
  })
  .strict();

export const zPublishRecord = z
  .object({
    ...zRecordBase,
    status: z.enum(['ok', 'partial', 'failed', 'blocked', 'unchanged']),
    inputsDigest: zDigest.optional(),
    /** Manifest (list) digest common to all registry targets. */
    digest: zDigest.optional(),
    targets: z.array(zPublishTarget).default([]),
    /** Cloud and WSL artifacts: uploaded objects. */
    objects: z
      .array(
        z
          .object({
            url: z.string(),
            sha256: z.string(),
            size: z.number().int(),
            /** The object-storage target and the architecture of the file (WSL: Amd64Url/Arm64Url). */
            target: z.string().optional(),
            arch: zArch.optional(),
            /** Cloud images: the disk format (the import stage picks the one each cloud takes). */
            format: z.enum(['qcow2', 'raw', 'vhd', 'vmdk']).optional(),
            /** Where in the target (publisher/objects/publish.ts), and the files published next to it. */
            bucket: z.string().optional(),
            key: z.string().optional(),
            checksumUrl: z.string().optional(),
            signatureUrl: z.string().optional(),
          })
          .strict(),
      )
      .optional(),
    blockedBy: z.string().optional(),
    /** Media type of what `digest` names: an OCI image index for multi-arch images. */
    mediaType: z.string().optional(),
    /** Multi-arch: the per-arch manifests the index lists (digest, compressed size). */
    platforms: z
      .array(z.object({ arch: zArch, digest: zDigest, size: z.number().int().min(0).optional() }).strict())
      .optional(),
    /** Multi-arch: the required arches that kept the index from being published, and why. */
    heldBack: z.array(z.object({ arch: zArch, stage: z.string(), reason: z.string() }).strict()).optional(),
  })
  .strict();

/** Cloud images: one entry per `clouds:` target (publisher/cloud/providers). */
export const IMPORT_STATES = ['running', 'completed', 'failed'] as const;
export const zImportTarget = z
  .object({
    target: z.string(),
    provider: z.enum(['aws', 'huawei', 'alibaba', 'tencent']),
    region: z.string(),
    arch: zArch.optional(),
    /** The published object imported (objectStorage target, format, key, sha256). */
    format: z.enum(['qcow2', 'raw', 'vhd', 'vmdk']).optional(),
    bucket: z.string().optional(),
    key: z.string().optional(),
    sha256: z.string().optional(),
    /** The cloud's task/job id: a later run polls it instead of starting again. */
    taskId: z.string().max(256).optional(),
    /** AWS: the snapshot ImportSnapshot made (RegisterImage's root device). */
    snapshotId: z.string().max(256).optional(),
    /** Alibaba: the image id ImportImage reserves at start, polled until Available (then `imageId`). */
    pendingImageId: z.string().max(256).optional(),
    state: z.enum(IMPORT_STATES),
    imageId: z.string().max(256).optional(),
    imageName: z.string().max(256).optional(),
    /** The cloud's own progress word (e.g. active, 45%). */
    progress: z.string().max(256).optional(),
    error: z.string().max(4096).optional(),
    startedAt: zIsoTime.optional(),
    updatedAt: zIsoTime.optional(),
  })
  .strict();
export type ImportTarget = z.infer<typeof zImportTarget>;

export const zImportRecord = z
  .object({
    ...zRecordBase,
    /** running: some imports still in progress (the next run polls); ok: all completed. */
    status: z.enum(['ok', 'running', 'partial', 'failed', 'blocked', 'unchanged']),
    targets: z.array(zImportTarget).default([]),
    blockedBy: z.string().optional(),
  })
  .strict();

export type BuildRecord = z.infer<typeof zBuildRecord>;
export type ImportRecord = z.infer<typeof zImportRecord>;
export type VerifyRecord = z.infer<typeof zVerifyRecord>;
export type SignRecord = z.infer<typeof zSignRecord>;
export type PublishRecord = z.infer<typeof zPublishRecord>;

export const zStageRecords = z
  .object({
    build: zBuildRecord.optional(),
    verify: zVerifyRecord.optional(),
    scan: zScanRecord.optional(),
    sign: zSignRecord.optional(),
    publish: zPublishRecord.optional(),
    import: zImportRecord.optional(),
  })
  .strict();
export type StageRecords = z.infer<typeof zStageRecords>;

// ---------------------------------------------------------------- artifacts (apps/<id>/artifacts/<kind>/<id>.json)

export const zArtifact = z
  .object({
    app: zAppId,
    kind: zImageKind,
    id: z.string().regex(TAG_RE),
    version: zVersion,
    osVersion: zOsVersion,
    arches: z.array(zArch),
    /** Work waiting for the pipeline: set by watch/trigger/rescan, cleared when publish succeeds. */
    pending: z.object({ reason: z.string(), since: zIsoTime, runId: zRunId.optional() }).strict().optional(),
    records: zStageRecords.default({}),
  })
  .strict();
export type Artifact = z.infer<typeof zArtifact>;

// ---------------------------------------------------------------- catalog configuration (wharf.yml)

export const zRegistryTarget = z
  .object({
    name: z.string().regex(/^[a-z0-9-]+$/),
    /** host[:port]/namespace, e.g. docker.io/openeuler or 127.0.0.1:5000/openeuler */
    repository: z.string().regex(/^[a-z0-9.-]+(?::[0-9]+)?(?:\/[a-z0-9._-]+)*$/),
    insecure: z.boolean().default(false),
    /** Names of environment variables holding credentials: never the credentials themselves. */
    usernameEnv: z.string().optional(),
    passwordEnv: z.string().optional(),
  })
  .strict();

export const zWaiver = z
  .object({
    id: z.string().min(1),
    app: zAppId.optional(),
    expires: z.iso.date(),
    reason: z.string().min(1),
  })
  .strict();

export const zCatalogConfig = z
  .object({
    name: z.string().default('wharf'),
    /** Public URL of the marketplace, used in feeds and events. */
    siteUrl: z.string().url().optional(),
    /** OS version → base image reference. */
    baseImages: z.record(z.string(), z.string()).default({}),
    /** Recipe tree: a git URL or local path, and the ref to build. */
    recipes: z
      .object({ url: z.string(), ref: z.string().default('HEAD') })
      .strict()
      .optional(),
    registries: z.array(zRegistryTarget).default([]),
    /**
     * Multi-arch: `default` is what a build makes when no --arch is given (restricted by each recipe's
     * arches; absent: the engine's arch only); `required` are the arches that must pass before a tag is
     * published (absent: every arch built).
     */
    arches: z
      .object({ default: z.array(zArch).min(1).optional(), required: z.array(zArch).optional() })
      .strict()
      .optional(),
    /** Alias tag rules: the newest build for an OS line also gets these tags. */
    aliases: z
      .array(
        z
          .object({
            /** Regex over osVersion, e.g. ^24\.03-lts-sp[0-9]+$ */
            osVersion: z.string(),
            tags: z.array(z.string()),
          })
          .strict(),
      )
      .default([]),
    scanPolicy: z
      .object({
        block: z.array(zSeverity).default(['CRITICAL']),
        fixableOnly: z.boolean().default(true),
        waivers: z.array(zWaiver).default([]),
        rescanHours: z.number().positive().default(24),
        rebuildOnFixable: z.array(zSeverity).default(['CRITICAL', 'HIGH']),
        /** Block publishing when the scan could not run (scanner missing or failing); default: show only. */
        requireScan: z.boolean().default(false),
        /** A rescan that changes nothing rewrites the record only when it is older than this (days). */
        rewriteAfterDays: z.number().positive().default(7),
      })
      .strict()
      .default({
        block: ['CRITICAL'],
        fixableOnly: true,
        waivers: [],
        rescanHours: 24,
        rebuildOnFixable: ['CRITICAL', 'HIGH'],
        requireScan: false,
        rewriteAfterDays: 7,
      }),
    /** The subsystems' sections, each a real schema (catalog/config.ts). */
    watch: zWatchConfig.optional(),
    events: zEventsConfig.optional(),
    daemon: zDaemonConfig.optional(),
    blobs: zBlobsConfig.optional(),
    advisories: zAdvisoriesConfig.optional(),
    /** Object-storage targets for file artifacts (WSL, cloud images): publisher/objects. */
    objectStorage: zObjectStorageConfig.optional(),
    signing: zSigningConfig.optional(),
    /** WSL images: the recipes the importer derives for the OS base images (catalog/import/wsl.ts). */
    wsl: zWslConfig.optional(),
    /** Clouds cloud images are imported into, from an objectStorage target (publisher/cloud/providers). */
    clouds: zCloudsConfig.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const stores = new Set((c.objectStorage ?? []).map((o) => o.name));
    (c.clouds ?? []).forEach((t, i) => {
      if (!stores.has(t.objectStorage))
        ctx.addIssue({
          code: 'custom',
          path: ['clouds', i, 'objectStorage'],
          message: `cloud target ${t.name}: no objectStorage target named ${t.objectStorage}`,
        });
    });
  });
export type CatalogConfig = z.infer<typeof zCatalogConfig>;
