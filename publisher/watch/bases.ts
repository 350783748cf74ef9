// The base-image check: an artifact already built is rebuilt when an EXTERNAL base of any of its
// stages moved upstream (issue 12 item 4). For every built container artifact, each recorded base
// (records.build.bases, and records.build.platforms[].bases per arch) is resolved to its current
// digest through the registry (no pull, as publisher/build/base.ts resolves a multi-arch base: the
// arch's own manifest in an index, else the manifest's digest). Bases with `app`/`tag` are Wharf-built
// parents: markChildrenPending handles those. A moved digest marks the artifact pending with the build
// stage's reason (publisher/artifact/reasons.ts: `base image <used ?? ref> changed`), all in one commit for the whole check. A base
// that cannot be resolved is a problem of that artifact; the check goes on. Lookups authenticate with the
// credentials wharf.yml `registries:` or the containers auth file give (publisher/registry/credentials.ts).
import type { Artifact, BuildBase } from '../../catalog/schema.ts';
import { newRunId } from '../../catalog/run-id.ts';
import { baseChangedReason } from '../artifact/reasons.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import { AuthError } from '../registry/auth.ts';
import { RegistryClient } from '../registry/client.ts';
import { CREDENTIALS_HINT, findCredentials, type CredentialSource } from '../registry/credentials.ts';
import { isIndexType, manifestMediaType, zImageIndex } from '../registry/media.ts';
import { parseImageRef } from '../registry/ref.ts';

export interface BaseProblem {
  app: string;
  artifact: string;
  base: string;
  message: string;
}

export interface BaseCheckResult {
  /** Artifacts whose bases were checked. */
  checked: number;
  /** Bases resolved (per arch). */
  bases: number;
  pending: { app: string; artifact: string; reason: string }[];
  problems: BaseProblem[];
  commit: string | null;
}

/** A function from (ref, arch) to the digest that ref currently has for that arch. */
export type BaseResolver = (ref: string, arch: string) => Promise<string>;

/**
 * Resolve through the registry client: the arch's manifest of an index, else the manifest digest. With
 * `credentials` (wharf.yml `registries:` and the containers auth file, publisher/registry/credentials.ts)
 * each lookup authenticates with what they find for its repository; without, anonymously.
 */
export function registryResolver(
  opts: { timeoutMs?: number; credentials?: CredentialSource } = {},
): BaseResolver {
  const clients = new Map<string, RegistryClient>();
  return async (ref, arch) => {
    const r = parseImageRef(ref);
    const found = opts.credentials
      ? await findCredentials(r.registry, r.repository, opts.credentials)
      : undefined;
    // One client per registry and credentials source (its token cache is per client).
    const key = `${r.registry}\0${found?.from ?? ''}`;
    let client = clients.get(key);
    if (!client) {
      const host = r.registry.replace(/:[0-9]+$/, '');
      client = new RegistryClient({
        registry: r.registry,
        insecure: host === 'localhost' || /^127\./.test(host),
        retry: { retries: 1 },
        timeoutMs: opts.timeoutMs ?? 15_000,
        ...(found ? { credentials: found.credentials } : {}),
      });
      clients.set(key, client);
    }
    const m = await client.getManifest(r.repository, r.digest ?? r.tag ?? 'latest').catch((e: unknown) => {
      if (!(e instanceof AuthError)) throw e;
      throw new AuthError(
        found
          ? `${e.message}; the credentials from ${found.from} were refused`
          : `${e.message} (${CREDENTIALS_HINT})`,
      );
    });
    if (!m) throw new Error(`${ref}: no such manifest in ${r.registry}`);
    const doc = JSON.parse(m.bytes.toString('utf8')) as unknown;
    if (!isIndexType(manifestMediaType(doc))) return m.digest;
    const idx = zImageIndex.parse(doc);
    const own = idx.manifests.find((d) => d.platform?.os === 'linux' && d.platform?.architecture === arch);
    if (!own) throw new Error(`${ref}: the image index has no linux/${arch} manifest`);
    return own.digest;
  };
}

const external = (b: BuildBase): boolean => !b.app && !b.tag && !!b.digest && (b.used ?? b.ref) !== 'scratch';

/** The (base, arch) pairs of an artifact's build record to check. */
function basesOf(a: Artifact): { base: BuildBase; arch: string }[] {
  const build = a.records.build;
  if (!build) return [];
  const out: { base: BuildBase; arch: string }[] = [];
  if (build.platforms?.some((p) => p.bases?.length)) {
    for (const p of build.platforms)
      for (const b of p.bases ?? []) if (external(b)) out.push({ base: b, arch: p.arch });
  } else {
    const arch = build.arches?.[0] ?? a.arches?.[0] ?? 'amd64';
    for (const b of build.bases ?? []) if (external(b)) out.push({ base: b, arch });
  }
  return out;
}

/** Check every built, not-yet-pending container artifact's external bases; mark moved ones pending. */
export async function checkBases(
  store: CatalogStore,
  opts: { resolve?: BaseResolver; runId?: string; now?: () => Date; env?: NodeJS.ProcessEnv } = {},
): Promise<BaseCheckResult> {
  const at = opts.now?.() ?? new Date();
  const since = at.toISOString();
  const runId = opts.runId ?? newRunId(at);
  const snap = await store.load();
  const resolve =
    opts.resolve ?? registryResolver({ credentials: { config: snap.config, env: opts.env ?? process.env } });
  const cache = new Map<string, Promise<string>>();
  const res: BaseCheckResult = { checked: 0, bases: 0, pending: [], problems: [], commit: null };
  const marked: Artifact[] = [];
  for (const { artifacts } of snap.apps.values()) {
    for (const a of artifacts) {
      if (a.kind !== 'container' || a.pending || !a.records.build) continue;
      const pairs = basesOf(a);
      if (!pairs.length) continue;
      res.checked++;
      let reason: string | undefined;
      for (const { base, arch } of pairs) {
        const ref = base.used ?? base.ref;
        const key = `${ref}\n${arch}`;
        let p = cache.get(key);
        if (!p) cache.set(key, (p = resolve(ref, arch)));
        try {
          const now = await p;
          res.bases++;
          if (now !== base.digest && !reason) reason = baseChangedReason(base);
        } catch (e) {
          res.problems.push({ app: a.app, artifact: a.id, base: ref, message: (e as Error).message });
        }
      }
      if (reason) {
        marked.push({ ...a, pending: { reason, since, runId } });
        res.pending.push({ app: a.app, artifact: a.id, reason });
      }
    }
  }
  if (marked.length) {
    const r = await store.commit(
      {
        subject: `bases: ${marked.length} artifact(s) pending on a moved base image`,
        trailers: { Stage: 'bases', 'Run-Id': runId },
      },
      async (tx) => {
        // Re-read inside the transaction: a record written since the load (a build) is not overwritten.
        for (const a of marked) {
          const cur = await tx.getArtifact(a.app, 'container', a.id);
          if (cur && !cur.pending && cur.records.build?.at === a.records.build?.at)
            tx.putArtifact({ ...cur, pending: a.pending! });
        }
      },
    );
    res.commit = r.sha;
  }
  return res;
}
