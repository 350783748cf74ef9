// The Wharf event vocabulary: CloudEvents 1.0 envelopes with the openEuler message-center extension
// attributes (user, sourceurl, title, summary, sourcegroup, relatedusers, mailtitle, mailsummary), so its
// collectors can take Wharf's events as they are.
import { z } from 'zod';
import { zEventsConfig, zSubscription, type EventsConfig, type Subscription } from '../../catalog/config.ts';

export const EVENT_PREFIX = 'org.openeuler.wharf.';

export const EVENT_TYPES = [
  'release.detected',
  'image.built',
  'image.build.failed',
  'image.verified',
  'image.verify.failed',
  'image.scanned',
  'image.scan.not-run',
  'image.scan.failed',
  'image.signed',
  'image.sign.failed',
  'image.published',
  'image.publish.partial',
  'image.publish.failed',
  'image.publish.blocked',
  'image.import.started',
  'image.imported',
  'image.import.partial',
  'image.import.failed',
  'app.added',
  'app.updated',
  'app.removed',
  'rebuild.queued',
] as const;
export type EventKind = (typeof EVENT_TYPES)[number];
export const eventType = (k: EventKind): string => EVENT_PREFIX + k;

/** What every event carries in `data` besides its kind-specific summary (used by subscription filters). */
export interface EventData {
  app: string;
  category?: string;
  commit: string;
  [k: string]: unknown;
}

export const zCloudEvent = z
  .object({
    specversion: z.literal('1.0'),
    id: z.string().regex(/^[a-f0-9]{64}$/),
    type: z.string().startsWith(EVENT_PREFIX),
    source: z.string().min(1),
    subject: z.string().min(1),
    time: z.string(),
    datacontenttype: z.literal('application/json'),
    data: z.object({ app: z.string(), commit: z.string() }).passthrough(),
    // openEuler message-center extensions (lowercase alphanumeric names, as CloudEvents requires)
    user: z.string(),
    sourceurl: z.string(),
    title: z.string(),
    summary: z.string(),
    sourcegroup: z.string(),
    relatedusers: z.string(),
    mailtitle: z.string(),
    mailsummary: z.string(),
  })
  .strict();
export type WharfEvent = z.infer<typeof zCloudEvent> & { data: EventData };

// ---------------------------------------------------------------- configuration (wharf.yml `events:`)

export { zEventsConfig, zSubscription, type EventsConfig, type Subscription };

/** Parse the `events:` section, naming the file and field of the first problem. */
export function parseEventsConfig(raw: unknown): EventsConfig {
  const r = zEventsConfig.safeParse(raw ?? {});
  if (r.success) return r.data;
  const msg = r.error.issues.map((i) => `wharf.yml: events.${i.path.join('.')}: ${i.message}`).join('; ');
  throw new Error(msg);
}

/** Glob over dotted names: `*` matches within one segment run (any chars but nothing special), `**`-free. */
export function globMatch(glob: string, value: string): boolean {
  const re = new RegExp('^' + glob.split('*').map(escapeRe).join('.*') + '$');
  return re.test(value);
}
const escapeRe = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

export function matchesSubscription(sub: Subscription, ev: WharfEvent): boolean {
  if (!sub.enabled) return false;
  if (sub.types.length && !sub.types.some((g) => globMatch(g, ev.type))) return false;
  if (sub.apps.length && !sub.apps.some((g) => globMatch(g, ev.data.app))) return false;
  if (sub.categories.length && !sub.categories.includes(ev.data.category ?? '')) return false;
  return true;
}
