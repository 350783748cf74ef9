// Prometheus metrics of the daemon (prom-client, text exposition format on /metrics).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly jobRuns = new Counter({
    name: 'wharf_job_runs_total',
    help: 'Job runs by outcome (success, failure, skipped_overlap, skipped_locked)',
    labelNames: ['job', 'outcome'],
    registers: [this.registry],
  });
  readonly jobDuration = new Histogram({
    name: 'wharf_job_duration_seconds',
    help: 'Duration of job runs',
    labelNames: ['job'],
    buckets: [0.05, 0.25, 1, 5, 30, 120, 600, 3600],
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: 'wharf_job_last_success_timestamp_seconds',
    help: 'Unix time of the last successful run of each job',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly running = new Gauge({
    name: 'wharf_job_running',
    help: '1 while a job runs',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly subsystem = new Gauge({
    name: 'wharf_subsystem_loaded',
    help: '1 when the subsystem a job needs loaded, 0 when it failed to load',
    labelNames: ['subsystem'],
    registers: [this.registry],
  });
  readonly eventsDelivered = new Counter({
    name: 'wharf_events_delivered_total',
    help: 'Event deliveries answered with 2xx',
    registers: [this.registry],
  });
  readonly eventsFailed = new Counter({
    name: 'wharf_events_delivery_failures_total',
    help: 'Failed delivery attempts (to be retried)',
    registers: [this.registry],
  });
  readonly eventsPending = new Gauge({
    name: 'wharf_events_pending',
    help: 'Deliveries waiting in the outbox',
    registers: [this.registry],
  });
  readonly eventsDead = new Gauge({
    name: 'wharf_events_dead',
    help: 'Deliveries in the dead-letter list',
    registers: [this.registry],
  });
  readonly triggers = new Counter({
    name: 'wharf_triggers_total',
    help: 'Webhook requests by forge and outcome (accepted, refused, error)',
    labelNames: ['forge', 'outcome'],
    registers: [this.registry],
  });
}
