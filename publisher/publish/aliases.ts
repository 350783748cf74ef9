// Alias tags (wharf.yml `aliases[]`): for each rule whose osVersion regex matches an artifact, the newest
// publishable build of the app on that OS line also gets the rule's tags. "Newest" compares the OS
// version first (24.03-lts-sp4 > 24.03-lts-sp1 > 24.03-lts), then the app version.
import { isTag } from '../../catalog/names.ts';
import type { App, Artifact, CatalogConfig, ContainerRecipe } from '../../catalog/schema.ts';
import { imageGate } from '../artifact/gate.ts';

export class AliasRuleError extends Error {
  override name = 'AliasRuleError';
}

function osKey(v: string): number[] {
  const m = /^(\d+)\.(\d+)(-lts(?:-sp(\d+))?)?$/.exec(v);
  if (!m) return [-1];
  return [Number(m[1]), Number(m[2]), m[3] ? 1 : 0, Number(m[4] ?? 0)];
}

function compareKeys(a: Array<number | string>, b: Array<number | string>): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    // 2.0.0.1 > 2.0.0, but 2.0.0 > 2.0.0-rc1: a trailing text part marks a pre-release.
    if (x === undefined) return typeof y === 'string' ? 1 : -1;
    if (y === undefined) return typeof x === 'string' ? -1 : 1;
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) return x - y;
    } else if (typeof x === 'number')
      return 1; // 1.0.1 > 1.0.rc1
    else if (typeof y === 'number') return -1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export const compareOsVersion = (a: string, b: string): number => compareKeys(osKey(a), osKey(b));

/** Loose version order: numeric runs compare as numbers, others as text; a numeric part beats text. */
export function compareAppVersion(a: string, b: string): number {
  const key = (v: string) =>
    (v.replace(/^v/i, '').match(/\d+|[a-z]+/gi) ?? []).map((p) =>
      /^\d+$/.test(p) ? Number(p) : p.toLowerCase(),
    );
  return compareKeys(key(a), key(b));
}

/** The alias tags `self` should carry now, given the app's recipes and artifact records. */
export function aliasTagsFor(
  app: App,
  artifacts: Artifact[],
  self: ContainerRecipe,
  config: CatalogConfig,
): string[] {
  const out: string[] = [];
  for (const [i, rule] of config.aliases.entries()) {
    let re: RegExp;
    try {
      re = new RegExp(rule.osVersion);
    } catch {
      throw new AliasRuleError(`wharf.yml aliases[${i}].osVersion is not a valid regex: ${rule.osVersion}`);
    }
    if (!re.test(self.osVersion)) continue;
    const candidates = app.recipes.container.filter((r) => {
      if (r.problem || !re.test(r.osVersion)) return false;
      if (r.tag === self.tag) return true;
      const art = artifacts.find((a) => a.kind === 'container' && a.id === r.tag);
      return imageGate(art, r, config).ok;
    });
    candidates.sort(
      (a, b) => compareOsVersion(b.osVersion, a.osVersion) || compareAppVersion(b.version, a.version),
    );
    if (candidates[0]?.tag !== self.tag) continue;
    for (const t of rule.tags) {
      if (!isTag(t))
        throw new AliasRuleError(`wharf.yml aliases[${i}].tags: ${JSON.stringify(t)} is not a valid tag`);
      if (t !== self.tag && !out.includes(t)) out.push(t);
    }
  }
  return out;
}
