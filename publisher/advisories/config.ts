// The `advisories:` section of wharf.yml: where the openEuler advisory feed is mirrored from (an
// internal mirror works the same) and where its local index lives.
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_FEED_URL } from './feed.ts';

export const zAdvisoriesConfig = z
  .object({
    /** Feed base URL: the directory holding index.txt. */
    url: z.string().url().default(DEFAULT_FEED_URL),
    /** Local index directory, relative to the catalog or absolute; default <catalog>/.wharf-advisories. */
    dir: z.string().min(1).optional(),
  })
  .strict();
export type AdvisoriesConfig = z.infer<typeof zAdvisoriesConfig>;

export function parseAdvisoriesConfig(raw: unknown): AdvisoriesConfig {
  const r = zAdvisoriesConfig.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new Error(
    `wharf.yml: ${r.error.issues.map((i) => `advisories.${i.path.join('.')}: ${i.message}`).join('; ')}`,
  );
}

/** The advisory index directory of a catalog (git-ignored by its own .gitignore). */
export function advisoriesDir(catalogDir: string, cfg?: AdvisoriesConfig): string {
  return cfg?.dir ? resolve(catalogDir, cfg.dir) : join(catalogDir, '.wharf-advisories');
}
