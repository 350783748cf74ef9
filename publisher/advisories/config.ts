// The `advisories:` section of wharf.yml: where the openEuler advisory feed is mirrored from (an
// internal mirror works the same) and where its local index lives. The schema is part of the catalog's
// (catalog/config.ts), so `wharf catalog validate` checks it.
import { join, resolve } from 'node:path';
import { zAdvisoriesConfig, type AdvisoriesConfig } from '../../catalog/config.ts';

export { zAdvisoriesConfig, type AdvisoriesConfig };

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
