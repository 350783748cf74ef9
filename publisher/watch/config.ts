// The `watch:` section of wharf.yml (its schema is part of the catalog's: catalog/config.ts).
// API base URLs are configuration so GitHub Enterprise, self-hosted GitLab/Gitee and registry
// mirrors work, and so tests can point every source at loopback servers.
import { zWatchConfig, type WatchConfig } from '../../catalog/config.ts';

export { zWatchConfig, type WatchConfig };

/** Parse the catalog's `watch:` section; errors name the field (`watch.perHost: …`). */
export function parseWatchConfig(raw: unknown): WatchConfig {
  const r = zWatchConfig.safeParse(raw ?? {});
  if (r.success) return r.data;
  const msg = r.error.issues.map((i) => `watch.${i.path.join('.')}: ${i.message}`).join('; ');
  throw new Error(`wharf.yml: ${msg}`);
}
