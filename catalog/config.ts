// The sections of wharf.yml that configure Wharf's subsystems — `watch`, `events`, `daemon` (with
// `daemon.triggers`), `blobs`, `advisories`, `objectStorage` and `signing` — as real schemas, part of the catalog's config schema (schema.ts
// zCatalogConfig). So `wharf catalog validate`, the store's config() and every subsystem read wharf.yml
// through one schema, and a problem is reported once, as wharf.yml:line: field: message. The
// subsystems re-export their section (publisher/watch/config.ts, publisher/events/types.ts,
// publisher/scheduler/config.ts, publisher/triggers/config.ts, catalog/blobs-s3.ts) and own its
// meaning; this file only says what is well-formed. Nothing here imports publisher/.
import cron from 'node-cron';
import { z } from 'zod';

const zEnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

/**
 * Where and how to reach an S3-compatible bucket: the fields `blobs: {kind: s3}` and every
 * `objectStorage:` target share (catalog/s3-client.ts makes the client from them).
 */
export const s3ConnectionShape = {
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not a valid bucket name'),
  /** Key prefix, e.g. "wharf/" (a trailing slash is added when missing). */
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9._/-]*$/)
    .default(''),
  /** Custom endpoint for S3-compatible stores; omit for AWS. */
  endpoint: z.string().url().optional(),
  region: z.string().default('us-east-1'),
  forcePathStyle: z.boolean().default(true),
  accessKeyIdEnv: zEnvName.default('WHARF_S3_ACCESS_KEY_ID'),
  secretAccessKeyEnv: zEnvName.default('WHARF_S3_SECRET_ACCESS_KEY'),
  sessionTokenEnv: zEnvName.optional(),
};
export const zS3Connection = z.object(s3ConnectionShape);
export type S3Connection = z.infer<typeof zS3Connection>;

// ---------------------------------------------------------------- watch: (publisher/watch)

const zBaseUrl = z
  .string()
  .url()
  .transform((u) => u.replace(/\/+$/, ''));

export const zWatchConfig = z
  .object({
    /** Requests in flight across all hosts. */
    concurrency: z.number().int().min(1).max(1024).default(64),
    /** Requests in flight per host (the politeness limit). */
    perHost: z.number().int().min(1).max(256).default(8),
    /** Per request, headers and body together. */
    timeoutMs: z.number().int().min(100).max(600_000).default(20_000),
    /** Response bodies larger than this fail the request (the app records an error). */
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(16 * 1024 * 1024),
    /** RPM primary metadata is large: its own cap, compressed and decompressed. */
    maxRpmBytes: z
      .number()
      .int()
      .min(1024)
      .default(256 * 1024 * 1024),
    /**
     * Deadline for one app's whole check (every request, retry wait and metadata scan): past it the app
     * records a "deadline exceeded" error and the sweep goes on without it.
     */
    appTimeoutMs: z.number().int().min(100).max(3_600_000).default(180_000),
    retries: z.number().int().min(0).max(10).default(3),
    retryBaseMs: z.number().int().min(1).default(500),
    /** Longest wait honoured for Retry-After or a rate-limit reset; beyond it the app fails this sweep. */
    maxRetryWaitMs: z.number().int().min(0).default(60_000),
    /** Pages followed for paginated APIs (releases, tags). */
    maxPages: z.number().int().min(1).max(100).default(3),
    /** Versions kept in upstream.json `known`, newest first. */
    knownLimit: z.number().int().min(1).max(10_000).default(200),
    /**
     * An app whose answer did not change gets its upstream.json rewritten (lastChecked) only when the stored
     * lastChecked is older than this, so a quiet sweep does not rewrite thousands of files. 0 = every sweep.
     */
    touchAfterHours: z.number().min(0).default(24),
    userAgent: z.string().default('wharf-watch/0.1 (+https://gitee.com/openeuler)'),
    apis: z
      .object({
        github: zBaseUrl.default('https://api.github.com'),
        gitlab: zBaseUrl.default('https://gitlab.com/api/v4'),
        gitee: zBaseUrl.default('https://gitee.com/api/v5'),
        pypi: zBaseUrl.default('https://pypi.org'),
        npm: zBaseUrl.default('https://registry.npmjs.org'),
      })
      .strict()
      .default({
        github: 'https://api.github.com',
        gitlab: 'https://gitlab.com/api/v4',
        gitee: 'https://gitee.com/api/v5',
        pypi: 'https://pypi.org',
        npm: 'https://registry.npmjs.org',
      }),
    /** OCI registry host → base URL, e.g. {"docker.io": "https://registry-1.docker.io"} or a loopback http URL. */
    registries: z.record(z.string(), zBaseUrl).default({}),
  })
  .strict();

export type WatchConfig = z.infer<typeof zWatchConfig>;

// ---------------------------------------------------------------- events: (publisher/events)

export const zSubscription = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'subscription names are lowercase [a-z0-9-]'),
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'webhook URL must be http(s)'),
    /** Name of the environment variable holding the HMAC secret; never the secret itself. */
    secretEnv: zEnvName.optional(),
    /** Event type globs, e.g. org.openeuler.wharf.image.*; empty = every type. */
    types: z.array(z.string().min(1)).default([]),
    apps: z.array(z.string().min(1)).default([]),
    categories: z.array(z.string().min(1)).default([]),
    maxAttempts: z.number().int().min(1).max(100).optional(),
    timeoutMs: z.number().int().min(100).max(120_000).optional(),
    enabled: z.boolean().default(true),
  })
  .strict();
export type Subscription = z.infer<typeof zSubscription>;

export const zEventsConfig = z
  .object({
    /** CloudEvents `source`; default wharf://<catalog name>, or the site URL when one is set. */
    source: z.string().min(1).optional(),
    /** Where a fresh outbox starts: every commit since the root, or only commits after the current HEAD. */
    startFrom: z.enum(['root', 'head']).default('root'),
    maxAttempts: z.number().int().min(1).max(100).default(8),
    backoff: z
      .object({
        baseMs: z.number().int().min(1).default(1000),
        maxMs: z
          .number()
          .int()
          .min(1)
          .default(10 * 60_000),
      })
      .strict()
      .default({ baseMs: 1000, maxMs: 10 * 60_000 }),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    subscriptions: z.array(zSubscription).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.subscriptions.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({ code: 'custom', path: ['subscriptions', i, 'name'], message: `duplicate ${s.name}` });
      seen.add(s.name);
    });
  });
export type EventsConfig = z.infer<typeof zEventsConfig>;

// ---------------------------------------------------------------- daemon.triggers: (publisher/triggers)

export const zTriggersConfig = z
  .object({
    /** Bodies above this are refused with 413 before they are read. */
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /**
     * Webhook bodies being read at once. A request past the cap is answered 503 (Retry-After) without
     * reading its body, so held connections cannot make the daemon buffer more than cap × maxBodyBytes.
     */
    maxConcurrentBodies: z.number().int().min(1).max(4096).default(32),
    /** A body not received in full within this is refused with 408 (slow senders hold a slot no longer). */
    bodyTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    github: z.object({ secretEnv: zEnvName }).strict().optional(),
    gitee: z
      .object({
        secretEnv: zEnvName,
        /** signature: X-Gitee-Token is the timestamp signature; password: it is the secret in clear. */
        mode: z.enum(['signature', 'password']).default('signature'),
        toleranceSeconds: z.number().int().min(10).max(3600).default(300),
      })
      .strict()
      .optional(),
    gitlab: z.object({ secretEnv: zEnvName }).strict().optional(),
  })
  .strict();
export type TriggersConfig = z.infer<typeof zTriggersConfig>;

// ---------------------------------------------------------------- daemon: (publisher/scheduler)

export const JOB_NAMES = ['watch', 'bases', 'pipeline', 'rescan', 'site', 'events'] as const;
export type JobName = (typeof JOB_NAMES)[number];

const zSchedule = z.string().refine((s) => cron.validate(s), { message: 'not a valid cron expression' });

const zJob = (schedule: string) =>
  z
    .object({ schedule: zSchedule.default(schedule), enabled: z.boolean().default(true) })
    .strict()
    .default({ schedule, enabled: true });

export const DEFAULT_SCHEDULES: Record<JobName, string> = {
  watch: '0 */30 * * * *',
  bases: '0 10 * * * *',
  pipeline: '0 */5 * * * *',
  rescan: '0 15 3 * * *',
  site: '30 */2 * * * *',
  events: '*/10 * * * * *',
};

export const zDaemonConfig = z
  .object({
    /** Loopback by default: /metrics and the hooks are meant to sit behind a reverse proxy. */
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9464),
    /** How long a running job may take to finish after SIGTERM before it is abandoned. */
    graceSeconds: z.number().min(0).max(3600).default(30),
    /** Pipeline: artifacts at the same time; work directory; container engine URL. */
    concurrency: z.number().int().min(1).max(64).default(2),
    workDir: z.string().optional(),
    engine: z.string().optional(),
    /** Longest time one image build may take, in minutes (0 = no limit). */
    buildTimeoutMinutes: z.number().min(0).max(10_080).default(120),
    /** Where `site` builds to (default: the site's own default, site/dist). */
    siteOut: z.string().optional(),
    /** Also serve the built site on this loopback port (the quick start's marketplace). */
    sitePort: z.number().int().min(0).max(65535).optional(),
    jobs: z
      .object({
        watch: zJob(DEFAULT_SCHEDULES.watch),
        bases: zJob(DEFAULT_SCHEDULES.bases),
        pipeline: zJob(DEFAULT_SCHEDULES.pipeline),
        rescan: zJob(DEFAULT_SCHEDULES.rescan),
        site: zJob(DEFAULT_SCHEDULES.site),
        events: zJob(DEFAULT_SCHEDULES.events),
      })
      .strict()
      .default({
        watch: { schedule: DEFAULT_SCHEDULES.watch, enabled: true },
        bases: { schedule: DEFAULT_SCHEDULES.bases, enabled: true },
        pipeline: { schedule: DEFAULT_SCHEDULES.pipeline, enabled: true },
        rescan: { schedule: DEFAULT_SCHEDULES.rescan, enabled: true },
        site: { schedule: DEFAULT_SCHEDULES.site, enabled: true },
        events: { schedule: DEFAULT_SCHEDULES.events, enabled: true },
      }),
    /** The webhook endpoint (publisher/triggers). */
    triggers: zTriggersConfig.optional(),
  })
  .strict();
export type DaemonConfig = z.infer<typeof zDaemonConfig>;

// ---------------------------------------------------------------- blobs: (catalog/blobs-s3.ts)

/** `blobs:` in wharf.yml. */
export const zBlobsConfig = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('fs'),
      /** Directory, relative to the catalog or absolute; default .wharf-blobs (git-ignored). */
      path: z.string().min(1).optional(),
      maxBytes: z.number().int().positive().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('s3'),
      ...s3ConnectionShape,
      maxBytes: z.number().int().positive().optional(),
    })
    .strict(),
]);
export type BlobsConfig = z.infer<typeof zBlobsConfig>;
export type S3BlobsConfig = Extract<BlobsConfig, { kind: 's3' }>;

// ---------------------------------------------------------------- advisories: (publisher/advisories)

/** openEuler's CVRF advisory feed (publisher/advisories/feed.ts uses the same default). */
export const DEFAULT_ADVISORY_FEED_URL = 'https://repo.openeuler.org/security/data/cvrf/';

export const zAdvisoriesConfig = z
  .object({
    /** Feed base URL: the directory holding index.txt. */
    url: z.string().url().default(DEFAULT_ADVISORY_FEED_URL),
    /** Local index directory, relative to the catalog or absolute; default <catalog>/.wharf-advisories. */
    dir: z.string().min(1).optional(),
  })
  .strict();
export type AdvisoriesConfig = z.infer<typeof zAdvisoriesConfig>;

// ---------------------------------------------------------------- objectStorage: (publisher/objects)

/**
 * Which S3-compatible service a target is. Each fills in its endpoint from `region` when `endpoint` is
 * omitted, and its addressing style when `forcePathStyle` is omitted: aws (no endpoint, virtual host),
 * obs (Huawei Cloud: https://obs.<region>.myhuaweicloud.com), cos (Tencent Cloud:
 * https://cos.<region>.myqcloud.com), oss (Alibaba Cloud: https://s3.oss-<region>.aliyuncs.com) are
 * virtual-host addressed; minio and s3 (any other S3 API, s3rver) need `endpoint` and use path style.
 */
export const OBJECT_PROVIDERS = ['s3', 'aws', 'obs', 'cos', 'oss', 'minio'] as const;
export type ObjectProvider = (typeof OBJECT_PROVIDERS)[number];

const PROVIDER_ENDPOINT: Partial<Record<ObjectProvider, (region: string) => string>> = {
  obs: (r) => `https://obs.${r}.myhuaweicloud.com`,
  cos: (r) => `https://cos.${r}.myqcloud.com`,
  oss: (r) => `https://s3.oss-${r}.aliyuncs.com`,
};

/** The artifact kinds a target takes (file artifacts: WSL and cloud disk images). */
export const OBJECT_KINDS = ['wsl', 'cloud'] as const;

/** One object-storage target: `objectStorage: [...]` in wharf.yml, or built by a CLI from flags. */
export const zObjectTarget = z
  .object({
    name: z.string().regex(/^[a-z0-9-]+$/, 'target names are lowercase [a-z0-9-]'),
    /** Default: s3 with an endpoint, aws without. */
    provider: z.enum(OBJECT_PROVIDERS).optional(),
    ...s3ConnectionShape,
    /** Default: path style for s3/minio, virtual host for aws/obs/cos/oss. */
    forcePathStyle: z.boolean().optional(),
    /** Public base URL the objects are downloaded from (CDN, bucket website); default: endpoint/bucket. */
    publicUrl: z.string().url().optional(),
    /** Multipart part size in MiB (≥ 5, S3's minimum). */
    partSizeMiB: z.number().int().min(5).max(5120).default(16),
    queueSize: z.number().int().min(1).max(16).default(2),
    /** Only these artifact kinds are published here (default: every file kind). */
    kinds: z.array(z.enum(OBJECT_KINDS)).min(1).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.endpoint || !t.provider) return;
    if (t.provider === 's3' || t.provider === 'minio')
      ctx.addIssue({
        code: 'custom',
        path: ['endpoint'],
        message: `provider ${t.provider} needs an endpoint`,
      });
    else if (PROVIDER_ENDPOINT[t.provider] && t.region === 'us-east-1')
      ctx.addIssue({
        code: 'custom',
        path: ['region'],
        message: `provider ${t.provider} needs its region (e.g. cn-north-4) or an endpoint`,
      });
  })
  .transform((t) => {
    const provider: ObjectProvider = t.provider ?? (t.endpoint ? 's3' : 'aws');
    const endpoint = t.endpoint ?? PROVIDER_ENDPOINT[provider]?.(t.region);
    return {
      ...t,
      provider,
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: t.forcePathStyle ?? (provider === 's3' || provider === 'minio'),
    };
  });
export type ObjectTarget = z.infer<typeof zObjectTarget>;
export type ObjectTargetInput = z.input<typeof zObjectTarget>;

/** `objectStorage:` in wharf.yml: the targets file artifacts are uploaded to, names unique. */
export const zObjectStorageConfig = z.array(zObjectTarget).superRefine((ts, ctx) => {
  const seen = new Set<string>();
  ts.forEach((t, i) => {
    if (seen.has(t.name))
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate target ${t.name}` });
    seen.add(t.name);
  });
});
export type ObjectStorageConfig = z.infer<typeof zObjectStorageConfig>;

// ---------------------------------------------------------------- signing: (publisher/context.ts, the site)

/**
 * `signing:` in wharf.yml names files, never key material. `publicKey` is the PEM public key the site
 * publishes at /keys/cosign.pub; `keyFile` is the private key used when neither $WHARF_SIGNING_KEY nor
 * $WHARF_SIGNING_KEY_FILE is set (the quick start generates one). Paths are relative to the catalog or
 * absolute; the private key must lie outside the catalog (openStageContext refuses it otherwise).
 */
export const zSigningConfig = z
  .object({
    publicKey: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
  })
  .strict();
export type SigningConfig = z.infer<typeof zSigningConfig>;

// ---------------------------------------------------------------- wsl: (publisher/wsl, catalog/import/wsl.ts)

const zWslFlavor = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-"');

export const zWslConfig = z
  .object({
    /**
     * WSL recipes the importer derives for the OS base images (wharf.yml `baseImages`), one per OS
     * version, on the app `app` (created when the import has none). Absent: none are derived.
     */
    baseImages: z
      .object({
        app: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
          .default('openeuler'),
        /** OS versions (keys of `baseImages`) to derive a recipe for; default: every one. */
        osVersions: z.array(z.string().min(1)).optional(),
        flavor: zWslFlavor.default('openEuler'),
        compression: z.enum(['gzip', 'xz']).default('gzip'),
        arches: z
          .array(z.enum(['amd64', 'arm64']))
          .min(1)
          .default(['amd64', 'arm64']),
        /** The newest OS version's recipe is the flavor's default in DistributionInfo.json. */
        defaultNewest: z.boolean().default(true),
        /** .ico and terminal profile template, relative to the app's directory in the recipe tree. */
        icon: z.string().min(1).optional(),
        terminalProfile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type WslConfig = z.infer<typeof zWslConfig>;

// ---------------------------------------------------------------- clouds: (publisher/cloud/providers)

export const CLOUD_PROVIDERS = ['aws', 'huawei', 'alibaba', 'tencent'] as const;
export type CloudProviderName = (typeof CLOUD_PROVIDERS)[number];

/** Access key id / secret env var names each provider reads by default (never the values). */
const CLOUD_CRED_DEFAULTS: Record<CloudProviderName, { id: string; secret: string }> = {
  aws: { id: 'AWS_ACCESS_KEY_ID', secret: 'AWS_SECRET_ACCESS_KEY' },
  huawei: { id: 'HUAWEICLOUD_SDK_AK', secret: 'HUAWEICLOUD_SDK_SK' },
  alibaba: { id: 'ALIBABA_CLOUD_ACCESS_KEY_ID', secret: 'ALIBABA_CLOUD_ACCESS_KEY_SECRET' },
  tencent: { id: 'TENCENTCLOUD_SECRET_ID', secret: 'TENCENTCLOUD_SECRET_KEY' },
};

/**
 * One cloud an image is imported into (`clouds: [...]` in wharf.yml): the import stage of kind cloud
 * makes an image in `region` from the object the publish stage uploaded to `objectStorage` (a name in
 * `objectStorage:`). Credentials are named by environment variable, never given. `endpoint` overrides
 * the provider's API endpoint (tests, private clouds). `imageName` is a template over {app}, {id},
 * {version}, {arch}.
 */
export const zCloudTarget = z
  .object({
    name: z.string().regex(/^[a-z0-9-]+$/, 'target names are lowercase [a-z0-9-]'),
    provider: z.enum(CLOUD_PROVIDERS),
    region: z.string().regex(/^[a-z0-9-]{2,40}$/, 'a region id like us-east-1 or cn-north-4'),
    objectStorage: z.string().regex(/^[a-z0-9-]+$/),
    endpoint: z.string().url().optional(),
    accessKeyIdEnv: zEnvName.optional(),
    secretAccessKeyEnv: zEnvName.optional(),
    sessionTokenEnv: zEnvName.optional(),
    /** AWS: the service role ImportSnapshot uses to read the bucket (default vmimport). */
    roleName: z
      .string()
      .regex(/^[\w+=,.@-]{1,64}$/)
      .optional(),
    /** Huawei IMS: the project id of the region (the jobs API is per project). */
    projectIdEnv: zEnvName.optional(),
    imageName: z
      .string()
      .regex(
        /^[A-Za-z0-9{}._ -]{1,120}$/,
        'letters, digits, ".", "_", "-", " " and {app} {id} {version} {arch}',
      )
      .default('{app}-{id}-{arch}'),
    /** OS of the image as the cloud names it (Tencent/Alibaba/Huawei ask; default by provider). */
    osType: z.enum(['linux', 'windows']).default('linux'),
    platform: z.string().min(1).max(64).optional(),
  })
  .strict()
  .transform((t) => ({
    ...t,
    accessKeyIdEnv: t.accessKeyIdEnv ?? CLOUD_CRED_DEFAULTS[t.provider].id,
    secretAccessKeyEnv: t.secretAccessKeyEnv ?? CLOUD_CRED_DEFAULTS[t.provider].secret,
  }));
export type CloudTarget = z.infer<typeof zCloudTarget>;
export type CloudTargetInput = z.input<typeof zCloudTarget>;

/** `clouds:` in wharf.yml: names unique. (That each names an objectStorage target is checked in schema.ts.) */
export const zCloudsConfig = z.array(zCloudTarget).superRefine((ts, ctx) => {
  const seen = new Set<string>();
  ts.forEach((t, i) => {
    if (seen.has(t.name))
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate cloud target ${t.name}` });
    seen.add(t.name);
  });
});
export type CloudsConfig = z.infer<typeof zCloudsConfig>;
