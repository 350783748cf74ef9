// The quick start's embedded defaults in the catalog's wharf.yml, idempotently (one commit, or none when
// nothing changes): the local registry as the registry target `local` (insecure, loopback), the site URL
// when it is unset or a loopback URL, and the local publisher's signing key files (`signing:`, paths
// outside the catalog). Run by scripts/setup/start.sh:
//
//   node scripts/setup/local-defaults.ts --catalog DIR --registry 127.0.0.1:5000 --site-url URL \
//        [--key-file PATH --public-key PATH]
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { CatalogStore } from '../../catalog/store.ts';
import type { CatalogConfig } from '../../catalog/schema.ts';

export interface LocalDefaults {
  /** host:port of the local registry. */
  registry: string;
  siteUrl: string;
  keyFile?: string;
  publicKey?: string;
}

export const LOCAL_TARGET = 'local';
const LOOPBACK_URL = /^http:\/\/(?:127(?:\.[0-9]{1,3}){3}|localhost)(?::[0-9]+)?\/?$/;

/** wharf.yml with the local defaults applied; other targets and sections are kept as they are. */
export function withLocalDefaults(cfg: CatalogConfig, d: LocalDefaults): CatalogConfig {
  const repository = `${d.registry}/wharf`;
  const target = { name: LOCAL_TARGET, repository, insecure: true };
  const others = cfg.registries.filter((r) => r.name !== LOCAL_TARGET);
  const registries = [...others, target];
  const siteUrl = !cfg.siteUrl || LOOPBACK_URL.test(cfg.siteUrl) ? d.siteUrl : cfg.siteUrl;
  const signing =
    d.keyFile || d.publicKey
      ? {
          ...cfg.signing,
          ...(d.keyFile ? { keyFile: resolve(d.keyFile) } : {}),
          ...(d.publicKey ? { publicKey: resolve(d.publicKey) } : {}),
        }
      : cfg.signing;
  return { ...cfg, registries, siteUrl, ...(signing ? { signing } : {}) };
}

export async function applyLocalDefaults(dir: string, d: LocalDefaults): Promise<{ changed: boolean }> {
  const store = await CatalogStore.open(dir);
  const r = await store.commit(
    { subject: 'config: quick start defaults (local registry, site URL, signing key)' },
    async (tx) => {
      tx.putConfig(withLocalDefaults(await tx.getConfig(), d));
    },
  );
  return { changed: r.changed };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      catalog: { type: 'string' },
      registry: { type: 'string' },
      'site-url': { type: 'string' },
      'key-file': { type: 'string' },
      'public-key': { type: 'string' },
    },
  });
  if (!values.catalog || !values.registry || !values['site-url']) {
    console.error(
      'usage: local-defaults.ts --catalog DIR --registry HOST:PORT --site-url URL [--key-file F --public-key F]',
    );
    process.exit(2);
  }
  const r = await applyLocalDefaults(values.catalog, {
    registry: values.registry,
    siteUrl: values['site-url'],
    ...(values['key-file'] ? { keyFile: values['key-file'] } : {}),
    ...(values['public-key'] ? { publicKey: values['public-key'] } : {}),
  });
  console.log(
    `wharf.yml: registry target ${LOCAL_TARGET} = ${values.registry}/wharf, site ${values['site-url']}${values['public-key'] ? `, signing key ${values['public-key']}` : ''}${r.changed ? '' : ' (unchanged)'}`,
  );
}
