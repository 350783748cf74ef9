// The Wharf daemon: scheduled jobs over the catalog, one HTTP server for health, metrics and webhooks.
export { Daemon, type DaemonOptions, type DaemonLog } from './daemon.ts';
export {
  parseDaemonConfig,
  zDaemonConfig,
  JOB_NAMES,
  DEFAULT_SCHEDULES,
  type DaemonConfig,
  type JobName,
} from './config.ts';
export type { JobRun, JobContext, JobSummary } from './jobs.ts';
