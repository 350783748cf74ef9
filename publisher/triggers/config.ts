// The trigger endpoint's configuration: wharf.yml `daemon.triggers`. Secrets are named by environment
// variable; a forge without a configured, set secret is not enabled (its hook answers 404).
import { z } from 'zod';

const zEnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

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

export function parseTriggersConfig(raw: unknown): TriggersConfig {
  const r = zTriggersConfig.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new Error(
    r.error.issues.map((i) => `wharf.yml: daemon.triggers.${i.path.join('.')}: ${i.message}`).join('; '),
  );
}
