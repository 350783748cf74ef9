// WSL recipes the importer derives for the OS base images: with wharf.yml `wsl.baseImages` set, one
// recipe of kind `wsl` per OS version of `baseImages` (or the versions listed), made from that base
// image (`source` = its reference, e.g. openeuler/openeuler:24.03-lts-sp4), on the app `wsl.baseImages.app`
// (created when the import has none). Recipes written by hand on that app (ids the derivation does
// not make) are kept; derived ones are marked `derived` and replaced on every import.
import type { Problem } from '../format.ts';
import { zOsVersion } from '../names.ts';
import type { AppInput, CatalogConfig } from '../schema.ts';
import type { CatalogStore } from '../store.ts';

type WslRecipeInput = NonNullable<NonNullable<AppInput['recipes']>['wsl']>[number];

export const DERIVED_FIELDS = ['source', 'flavor', 'defaultName', 'friendlyName', 'default'];

/** "24.03-lts-sp4" → "24.03 LTS SP4" (how openEuler writes its versions). */
export function displayOsVersion(os: string): string {
  return os
    .split('-')
    .map((p, i) => (i === 0 ? p : p.toUpperCase()))
    .join(' ');
}

/** The derived recipes for a config, newest OS version first (empty without `wsl.baseImages`). */
export function deriveWslRecipes(config: Pick<CatalogConfig, 'baseImages' | 'wsl'>): {
  recipes: WslRecipeInput[];
  problems: string[];
} {
  const cfg = config.wsl?.baseImages;
  if (!cfg) return { recipes: [], problems: [] };
  const problems: string[] = [];
  const versions = cfg.osVersions ?? Object.keys(config.baseImages);
  const ok = versions.filter((v) => {
    if (!zOsVersion.safeParse(v).success) {
      problems.push(`wsl.baseImages.osVersions: ${v} is not an OS version like 24.03-lts-sp4`);
      return false;
    }
    if (!config.baseImages[v]) {
      problems.push(`wsl.baseImages.osVersions: ${v} has no entry in baseImages`);
      return false;
    }
    return true;
  });
  const sorted = [...new Set(ok)].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const recipes = sorted.map((os, i): WslRecipeInput => ({
    kind: 'wsl',
    id: `${os}-wsl`,
    source: config.baseImages[os]!,
    version: os,
    osVersion: os,
    arches: cfg.arches,
    compression: cfg.compression,
    flavor: cfg.flavor,
    defaultName: `${cfg.flavor}-${os}`,
    friendlyName: `${cfg.flavor} ${displayOsVersion(os)}`,
    ...(cfg.defaultNewest && i === 0 ? { default: true } : {}),
    ...(cfg.icon ? { icon: cfg.icon } : {}),
    ...(cfg.terminalProfile ? { terminalProfile: cfg.terminalProfile } : {}),
    derived: DERIVED_FIELDS,
  }));
  return { recipes, problems };
}

/**
 * The plan's apps with the derived WSL recipes put on the base app (replacing earlier derived ones,
 * keeping hand-written ones); the app is created when the plan has none.
 */
export function withWslRecipes(
  apps: AppInput[],
  config: Pick<CatalogConfig, 'baseImages' | 'wsl'>,
  /** The base app as the catalog has it now (its hand-written recipes are kept when the plan has no such app). */
  existing?: AppInput,
): { apps: AppInput[]; problems: string[] } {
  const cfg = config.wsl?.baseImages;
  const { recipes, problems } = deriveWslRecipes(config);
  if (!cfg || recipes.length === 0) return { apps, problems };
  const ids = new Set(recipes.map((r) => r.id));
  const i = apps.findIndex((a) => a.id === cfg.app);
  const base: AppInput =
    i >= 0
      ? {
          ...apps[i]!,
          recipes: { ...apps[i]!.recipes, wsl: existing?.recipes?.wsl ?? apps[i]!.recipes?.wsl ?? [] },
        }
      : (existing ?? {
          id: cfg.app,
          name: cfg.app,
          title: { en: cfg.flavor, zh: cfg.flavor },
          summary: { en: `${cfg.flavor} for WSL`, zh: `适用于 WSL 的 ${cfg.flavor}` },
          category: 'os',
        });
  const kept = (base.recipes?.wsl ?? []).filter((r) => !ids.has(r.id) && !r.derived?.includes('source'));
  const app: AppInput = {
    ...base,
    recipes: {
      container: base.recipes?.container ?? [],
      cloud: base.recipes?.cloud ?? [],
      wsl: [...recipes, ...kept],
    },
  };
  return { apps: i >= 0 ? apps.map((a, j) => (j === i ? app : a)) : [...apps, app], problems };
}

/** An import plan with the derived WSL recipes added (the importer's one call; problems as wharf.yml ones). */
export async function planWithWslRecipes<P extends { apps: AppInput[]; problems: Problem[] }>(
  store: Pick<CatalogStore, 'config' | 'loadApp'>,
  plan: P,
): Promise<P> {
  const config = await store.config();
  if (!config.wsl?.baseImages) return plan;
  const existing = (await store.loadApp(config.wsl.baseImages.app))?.app;
  const r = withWslRecipes(plan.apps, config, existing);
  return {
    ...plan,
    apps: r.apps,
    problems: [
      ...plan.problems,
      ...r.problems.map((m) => {
        const i = m.indexOf(': ');
        return { file: 'wharf.yml', line: 1, field: m.slice(0, i), message: m.slice(i + 2) };
      }),
    ],
  };
}
