// The Wharf event vocabulary: CloudEvents 1.0 envelopes with the openEuler message-center extension
// attributes (user, sourceurl, title, summary, sourcegroup, relatedusers, mailtitle, mailsummary), so its
// collectors can take Wharf's events as they are.
import { z } from 'zod';

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

const zEnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

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
