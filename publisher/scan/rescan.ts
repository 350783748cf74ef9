// Rescans of already published images: new CVEs appear in the vulnerability DB and new advisories in
// openEuler's feed without any rebuild, so every published digest is scanned again when its last scan is older than scanPolicy.rescanHours
// (openEuler: 24 h). Here: which digests are due (planRescans) and the stage function that scans one
// registry copy by digest with Trivy and re-matches the stored package lists against the newest local
// advisory index (rescanStage); its result records what is new and what disappeared since the
// previous scan, and may queue a rebuild (see record.ts). publisher/pipeline/rescan.ts runs them through
// the runner, which commits each result.
import type { App, Artifact, CatalogConfig } from '../../catalog/schema.ts';
import { hostArch, targetOf, type Selection } from '../select.ts';
import type { StageContext, StageFn, StageTarget } from '../stage.ts';
import { checkKey, laterOf, ScanChecks } from './checked.ts';
import { loadArtifact } from '../artifact/index.ts';
import { builtLayouts, readBuiltPackages, readPackagesRef } from './packages.ts';
import { scanAndRecord, type ScanRunOptions } from './record.ts';

export interface RescanPlanOptions {
  /** Only these apps / app:tags (default: everything published). */
  select?: readonly Selection[];
  /** Rescan regardless of the last scan's age. */
  force?: boolean;
  now?: () => Date;
  checks?: ScanChecks;
}

export interface RescanPlanItem {
  target: StageTarget;
  digest: string;
  /** host/namespace/name@sha256:… */
  ref: string;
  registry?: CatalogConfig['registries'][number];
}

export type RescanSkip = { app: string; artifactId: string; reason: string };

const PUBLISHED = new Set(['ok', 'partial', 'unchanged']);
const REPO_RE = /^[a-z0-9.-]+(?::[0-9]+)?(?:\/[a-z0-9._-]+)+$/;

/** The repository part of a pushed reference: drop @digest, then a :tag after the last slash. */
export function repositoryOf(ref: string): string | undefined {
  let r = ref.split('@')[0]!;
  const slash = r.lastIndexOf('/');
  const colon = r.lastIndexOf(':');
  if (colon > slash) r = r.slice(0, colon);
  return REPO_RE.test(r) ? r : undefined;
}

function selected(sel: readonly Selection[] | undefined, app: string, tag: string): boolean {
  return !sel?.length || sel.some((s) => s.app === app && (s.tag === undefined || s.tag === tag));
}

/** Where a published artifact can be scanned from, or why it cannot. */
export function rescanSource(
  config: CatalogConfig,
  app: App,
  a: Artifact,
): { digest: string; ref: string; registry?: CatalogConfig['registries'][number] } | { reason: string } {
  const pub = a.records.publish;
  if (!pub || !PUBLISHED.has(pub.status)) return { reason: 'not published' };
  const targets = pub.targets.filter((t) => t.status === 'ok' || t.status === 'unchanged');
  // Prefer a target still in the configuration (it names insecure/credentials).
  const ordered = [
    ...targets.filter((t) => config.registries.some((r) => r.name === t.target)),
    ...targets.filter((t) => !config.registries.some((r) => r.name === t.target)),
  ];
  for (const t of ordered) {
    const digest = t.digest ?? pub.digest;
    if (!digest) continue;
    const registry = config.registries.find((r) => r.name === t.target);
    const repo = repositoryOf(t.ref) ?? (registry ? `${registry.repository}/${app.name}` : undefined);
    if (!repo) continue;
    return { digest, ref: `${repo}@${digest}`, ...(registry ? { registry } : {}) };
  }
  return { reason: 'no registry target with a digest to scan' };
}

/** Which published artifacts are due for a rescan. */
export async function planRescans(
  ctx: StageContext,
  opts: RescanPlanOptions = {},
): Promise<{ due: RescanPlanItem[]; skipped: RescanSkip[] }> {
  const now = (opts.now ?? (() => new Date()))();
  const snap = await ctx.store.load();
  const checks = opts.checks ?? (await ScanChecks.open(ctx.store.dir));
  const due: RescanPlanItem[] = [];
  const skipped: RescanSkip[] = [];
  const maxAgeMs = ctx.config.scanPolicy.rescanHours * 3_600_000;
  const host = hostArch();
  for (const sel of opts.select ?? [])
    if (!snap.apps.has(sel.app))
      skipped.push({ app: sel.app, artifactId: sel.tag ?? '*', reason: 'no such app' });
  for (const { app, artifacts } of snap.apps.values()) {
    for (const a of artifacts) {
      if (a.kind !== 'container' || !selected(opts.select, app.id, a.id)) continue;
      if (!a.records.publish || !PUBLISHED.has(a.records.publish.status)) continue;
      const recipe = app.recipes.container.find((r) => r.tag === a.id);
      const src = rescanSource(ctx.config, app, a);
      if ('reason' in src || !recipe) {
        skipped.push({
          app: app.id,
          artifactId: a.id,
          reason: 'reason' in src ? src.reason : 'recipe removed',
        });
        continue;
      }
      // Last scan of this digest: the record's `at`, or later when rescans since then changed nothing
      // (they make no commit, see findings.ts) and only the local check state moved.
      const last = a.records.scan;
      const recorded = last?.status === 'ok' && last.target === src.digest ? last.at : undefined;
      const lastAt = laterOf(recorded, checks.lastScanned(checkKey(app.id, a.kind, a.id), src.digest));
      const age = lastAt ? now.getTime() - Date.parse(lastAt) : Infinity;
      if (!opts.force && lastAt && age < maxAgeMs) {
        skipped.push({
          app: app.id,
          artifactId: a.id,
          reason: `scanned ${Math.round(age / 3_600_000)} h ago`,
        });
        continue;
      }
      due.push({ target: { ...targetOf({ app, artifacts: [a] }, recipe, host), artifact: a }, ...src });
    }
  }
  return { due, skipped };
}

/** The stage function that scans one due item's registry copy by digest. */
export function rescanStage(item: RescanPlanItem, opts: ScanRunOptions = {}): StageFn<'scan'> {
  return async (ctx, target) => {
    const env = ctx.env ?? process.env;
    const reg = item.registry;
    const username = reg?.usernameEnv ? env[reg.usernameEnv] : undefined;
    const password = reg?.passwordEnv ? env[reg.passwordEnv] : undefined;
    if (reg?.passwordEnv && !password)
      ctx.log.warn(`${reg.name}: ${reg.passwordEnv} is not set; scanning ${item.ref} anonymously`);
    return scanAndRecord(
      ctx,
      {
        target,
        digest: item.digest,
        rescanRef: item.ref,
        packages: () => storedPackages(ctx, target, item.digest),
        source: {
          kind: 'ref',
          ref: item.ref,
          ...(reg?.insecure ? { insecure: true } : {}),
          ...(username ? { username } : {}),
          ...(password ? { password } : {}),
        },
      },
      opts,
    );
  };
}

/**
 * The package lists a rescan re-matches: the ones the last scan of this digest stored, else the image
 * layout still in this machine's work dir; nothing is pulled and nothing rebuilt.
 */
async function storedPackages(ctx: StageContext, t: StageTarget, digest: string) {
  const art = await loadArtifact(ctx, t);
  const prev = art?.records.scan;
  if (prev?.packagesRef && prev.target === digest) {
    const r = await readPackagesRef(ctx.blobs, prev.packagesRef);
    if (r.ok) return { sets: r.sets };
    ctx.log.warn(`${t.app.id}:${t.artifactId}: ${r.reason}`);
  }
  const build = art?.records.build;
  if (build?.manifestDigest === digest) {
    const r = await readBuiltPackages(builtLayouts(ctx, t, build));
    if ('sets' in r) return r;
  }
  return {
    reason: `no stored package list for ${digest.slice(0, 19)} (scanned before wharf-cvrf, or the list is gone) and its image layout is not on this machine`,
  };
}
