// Compact per-app summaries shared by `wharf catalog list`, the site's JSON API and events.
import type { AppEntry } from './store.ts';

export interface AppSummary {
  id: string;
  name: string;
  title: string;
  category: string;
  visibility: 'public' | 'hidden';
  license?: string;
  latest?: string;
  tags: number;
  osVersions: string[];
  arches: string[];
  published: number;
}

export function summarizeApp(e: AppEntry): AppSummary {
  const a = e.app;
  const recipes = [...a.recipes.container, ...a.recipes.cloud, ...a.recipes.wsl];
  return {
    id: a.id,
    name: a.name,
    title: a.title.en ?? a.title.zh ?? a.id,
    category: a.category,
    visibility: a.visibility,
    ...(a.license.spdx ? { license: a.license.spdx } : {}),
    ...(e.upstream?.latest ? { latest: e.upstream.latest } : {}),
    tags: a.recipes.container.length,
    osVersions: [...new Set(recipes.map((r) => r.osVersion))].sort(),
    arches: [...new Set(recipes.flatMap((r) => r.arches))].sort(),
    published: e.artifacts.filter(
      (x) => x.records.publish && ['ok', 'partial', 'unchanged'].includes(x.records.publish.status),
    ).length,
  };
}
