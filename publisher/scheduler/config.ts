// The daemon's configuration: wharf.yml `daemon:`. Schedules are node-cron expressions (5 fields, or 6
// with seconds first — tests use seconds). A job can be switched off with `enabled: false`.
import cron from 'node-cron';
import { z } from 'zod';

export const JOB_NAMES = ['watch', 'pipeline', 'rescan', 'site', 'events'] as const;
export type JobName = (typeof JOB_NAMES)[number];

const zSchedule = z.string().refine((s) => cron.validate(s), { message: 'not a valid cron expression' });

const zJob = (schedule: string) =>
  z
    .object({ schedule: zSchedule.default(schedule), enabled: z.boolean().default(true) })
    .strict()
    .default({ schedule, enabled: true });

export const DEFAULT_SCHEDULES: Record<JobName, string> = {
  watch: '0 */30 * * * *',
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
        pipeline: zJob(DEFAULT_SCHEDULES.pipeline),
        rescan: zJob(DEFAULT_SCHEDULES.rescan),
        site: zJob(DEFAULT_SCHEDULES.site),
        events: zJob(DEFAULT_SCHEDULES.events),
      })
      .strict()
      .default({
        watch: { schedule: DEFAULT_SCHEDULES.watch, enabled: true },
        pipeline: { schedule: DEFAULT_SCHEDULES.pipeline, enabled: true },
        rescan: { schedule: DEFAULT_SCHEDULES.rescan, enabled: true },
        site: { schedule: DEFAULT_SCHEDULES.site, enabled: true },
        events: { schedule: DEFAULT_SCHEDULES.events, enabled: true },
      }),
    /** The webhook endpoint (publisher/triggers validates this section). */
    triggers: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type DaemonConfig = z.infer<typeof zDaemonConfig>;

export function parseDaemonConfig(raw: unknown): DaemonConfig {
  const r = zDaemonConfig.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new Error(
    r.error.issues.map((i) => `wharf.yml: daemon.${i.path.join('.')}: ${i.message}`).join('; '),
  );
}
