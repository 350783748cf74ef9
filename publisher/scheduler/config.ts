// The daemon's configuration: wharf.yml `daemon:`. Schedules are node-cron expressions (5 fields, or 6
// with seconds first — tests use seconds). A job can be switched off with `enabled: false`. The schema
// is part of the catalog's (catalog/config.ts), so `wharf catalog validate` checks what the daemon reads.
import {
  DEFAULT_SCHEDULES,
  JOB_NAMES,
  zDaemonConfig,
  type DaemonConfig,
  type JobName,
} from '../../catalog/config.ts';

export { DEFAULT_SCHEDULES, JOB_NAMES, zDaemonConfig, type DaemonConfig, type JobName };

export function parseDaemonConfig(raw: unknown): DaemonConfig {
  const r = zDaemonConfig.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new Error(
    r.error.issues.map((i) => `wharf.yml: daemon.${i.path.join('.')}: ${i.message}`).join('; '),
  );
}
