// The trigger endpoint's configuration: wharf.yml `daemon.triggers` (schema: catalog/config.ts). Secrets are named by environment
// variable; a forge without a configured, set secret is not enabled (its hook answers 404).
import { zTriggersConfig, type TriggersConfig } from '../../catalog/config.ts';

export { zTriggersConfig, type TriggersConfig };

export function parseTriggersConfig(raw: unknown): TriggersConfig {
  const r = zTriggersConfig.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new Error(
    r.error.issues.map((i) => `wharf.yml: daemon.triggers.${i.path.join('.')}: ${i.message}`).join('; '),
  );
}
