// The `watch:` section of wharf.yml, validated here (the catalog schema leaves it free-form).
// API base URLs are configuration so GitHub Enterprise, self-hosted GitLab/Gitee and registry
// mirrors work, and so tests can point every source at loopback servers.
import { z } from 'zod';

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

/** Parse the catalog's `watch:` section; errors name the field (`watch.perHost: …`). */
export function parseWatchConfig(raw: unknown): WatchConfig {
  const r = zWatchConfig.safeParse(raw ?? {});
  if (r.success) return r.data;
  const msg = r.error.issues.map((i) => `watch.${i.path.join('.')}: ${i.message}`).join('; ');
  throw new Error(`wharf.yml: ${msg}`);
}
