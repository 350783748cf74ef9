// DistributionInfo.json entries for the published WSL images (Microsoft's manifest behind
// `wsl --install`): `ModernDistributions.<flavor>` arrays of {Name, FriendlyName, Default,
// Amd64Url/Arm64Url: {Url, Sha256}}, read from the catalog's WSL recipes and their publish records
// (objects with an arch). Also the checks Microsoft's validator applies to a manifest entry.
import { z } from 'zod';
import type { App, Artifact, WslRecipe } from '../../catalog/schema.ts';
import type { CatalogSnapshot } from '../../catalog/store.ts';

export const zUrlEntry = z.object({ Url: z.string(), Sha256: z.string() }).strict();
export const zDistributionEntry = z
  .object({
    Name: z.string(),
    FriendlyName: z.string(),
    Default: z.boolean(),
    Amd64Url: zUrlEntry.optional(),
    Arm64Url: zUrlEntry.optional(),
  })
  .strict();
export type DistributionEntry = z.infer<typeof zDistributionEntry>;
export interface DistributionInfo {
  ModernDistributions: Record<string, DistributionEntry[]>;
}

export interface DistributionInfoResult {
  info: DistributionInfo;
  /** Recipes left out, and why. */
  skipped: Array<{ app: string; id: string; reason: string }>;
}

interface Candidate {
  flavor: string;
  entry: DistributionEntry;
  wantsDefault: boolean;
  publishedAt: string;
}

function candidate(app: App, r: WslRecipe, a: Artifact | undefined): Candidate | string {
  const pub = a?.records.publish;
  if (!pub || (pub.status !== 'ok' && pub.status !== 'unchanged')) return 'not published';
  const flavor = r.flavor ?? app.name;
  const name = r.defaultName ?? `${flavor}-${r.id}`;
  if (!name.startsWith(flavor))
    return `name ${name} does not start with the flavor ${flavor} (Microsoft requires it)`;
  const url = (arch: 'amd64' | 'arm64') => {
    const o = (pub.objects ?? []).find((x) => x.arch === arch);
    return o ? { Url: o.url, Sha256: o.sha256 } : undefined;
  };
  const amd = url('amd64');
  const arm = url('arm64');
  if (!amd && !arm) return 'no published amd64 or arm64 object';
  return {
    flavor,
    wantsDefault: r.default === true,
    publishedAt: pub.at,
    entry: {
      Name: name,
      FriendlyName: r.friendlyName ?? `${app.title.en ?? app.title.zh ?? app.name} ${r.osVersion}`,
      Default: false,
      ...(amd ? { Amd64Url: amd } : {}),
      ...(arm ? { Arm64Url: arm } : {}),
    },
  };
}

/** The manifest entries for every published WSL recipe in a catalog snapshot. */
export function distributionInfo(snap: Pick<CatalogSnapshot, 'apps'>): DistributionInfoResult {
  const byFlavor = new Map<string, Candidate[]>();
  const skipped: DistributionInfoResult['skipped'] = [];
  for (const { app, artifacts } of [...snap.apps.values()].sort((x, y) => (x.app.id < y.app.id ? -1 : 1))) {
    for (const r of app.recipes.wsl) {
      const c = candidate(
        app,
        r,
        artifacts.find((a) => a.kind === 'wsl' && a.id === r.id),
      );
      if (typeof c === 'string') {
        skipped.push({ app: app.id, id: r.id, reason: c });
        continue;
      }
      const list = byFlavor.get(c.flavor) ?? [];
      list.push(c);
      byFlavor.set(c.flavor, list);
    }
  }
  const out: Record<string, DistributionEntry[]> = {};
  for (const flavor of [...byFlavor.keys()].sort()) {
    const list = byFlavor.get(flavor)!;
    // Names are unique per flavor: the first app (by id) keeps a name.
    const seen = new Set<string>();
    const uniq = list.filter((c) => {
      if (seen.has(c.entry.Name)) {
        skipped.push({
          app: flavor,
          id: c.entry.Name,
          reason: `duplicate name ${c.entry.Name} in flavor ${flavor}`,
        });
        return false;
      }
      seen.add(c.entry.Name);
      return true;
    });
    // Exactly one default: the one the recipe marks, else the most recently published.
    const marked = uniq.filter((c) => c.wantsDefault);
    const pool = marked.length > 0 ? marked : uniq;
    const def = [...pool].sort((a, b) =>
      a.publishedAt === b.publishedAt
        ? a.entry.Name < b.entry.Name
          ? -1
          : 1
        : a.publishedAt < b.publishedAt
          ? 1
          : -1,
    )[0]!;
    out[flavor] = uniq
      .map((c) => ({ ...c.entry, Default: c === def }))
      .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  }
  return { info: { ModernDistributions: out }, skipped };
}

/** Microsoft's manifest checks (validate-modern.py): names, friendly names, URLs, one default per flavor. */
export function checkDistributionInfo(doc: unknown): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const md = (doc as { ModernDistributions?: unknown })?.ModernDistributions;
  if (!md || typeof md !== 'object') return { errors: ['no ModernDistributions object'], warnings };
  for (const [flavor, versions] of Object.entries(md as Record<string, unknown>)) {
    if (!Array.isArray(versions)) {
      errors.push(`${flavor}: not an array`);
      continue;
    }
    let defaults = 0;
    for (const v of versions) {
      const e = zDistributionEntry.safeParse(v);
      if (!e.success) {
        errors.push(`${flavor}: ${e.error.issues[0]?.path.join('.')}: ${e.error.issues[0]?.message}`);
        continue;
      }
      if (!e.data.Name.startsWith(flavor))
        errors.push(`${flavor}: ${e.data.Name} should start with "${flavor}"`);
      if (!e.data.Amd64Url && !e.data.Arm64Url) errors.push(`${flavor}: ${e.data.Name} has no URL`);
      for (const u of [e.data.Amd64Url, e.data.Arm64Url]) {
        if (!u) continue;
        if (!u.Url.endsWith('.wsl')) warnings.push(`${flavor}: ${u.Url} does not point to a .wsl file`);
        if (!/^(0x)?[0-9a-fA-F]{64}$/.test(u.Sha256))
          errors.push(`${flavor}: ${u.Url}: Sha256 is not a SHA-256`);
      }
      if (e.data.Default) defaults++;
    }
    if (defaults !== 1)
      errors.push(
        `${flavor}: ${defaults === 0 ? 'no default distribution' : 'several default distributions'}`,
      );
  }
  return { errors, warnings };
}
