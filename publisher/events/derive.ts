// Catalog commits → CloudEvents. The catalog is the source of truth: every event is a pure function of
// one commit and its parent (the diff of the changed records), so events can be re-derived at any time
// and always get the same ids. Unknown or unparseable files are skipped with a warning, never fatal.
import { createHash } from 'node:crypto';
import { loadYaml } from '../../catalog/yaml.ts';
import {
  zApp,
  zArtifact,
  zUpstreamState,
  STAGES,
  type App,
  type Artifact,
  type Stage,
} from '../../catalog/schema.ts';
import { readBlobs, readCommits, type CatalogCommit } from '../../catalog/store/history.ts';
import { eventType, type EventKind, type WharfEvent } from './types.ts';

export interface DeriveContext {
  /** CloudEvents source, e.g. wharf://openeuler */
  source: string;
  /** Catalog name, used as the message-center sourcegroup prefix. */
  catalogName: string;
  siteUrl?: string;
  warn?: (msg: string) => void;
}

const APP_RE = /^apps\/([^/]+)\/app\.yml$/;
const UPSTREAM_RE = /^apps\/([^/]+)\/upstream\.json$/;
const ARTIFACT_RE = /^apps\/([^/]+)\/artifacts\/(container|cloud|wsl)\/([^/]+)\.json$/;

/** Stable id: the same commit, path and type always give the same id, so consumers can drop duplicates. */
export function eventId(sha: string, path: string, type: string): string {
  return createHash('sha256').update(`${sha}\0${path}\0${type}`).digest('hex');
}

/** The marketplace page of an app, when the site URL is known. */
export function appUrl(siteUrl: string | undefined, app: string): string {
  return siteUrl ? `${siteUrl.replace(/\/+$/, '')}/apps/${app}/` : '';
}

/** Derive the events of the given commits (oldest first), in commit order. */
export async function deriveEvents(dir: string, shas: string[], ctx: DeriveContext): Promise<WharfEvent[]> {
  const commits = await readCommits(dir, shas);
  const specs: string[] = [];
  for (const c of commits) {
    for (const ch of c.changes) {
      if (!relevant(ch.path)) continue;
      specs.push(`${c.sha}:${ch.path}`, `${c.sha}^:${ch.path}`);
      const app = ch.path.split('/')[1]!;
      specs.push(`${c.sha}:apps/${app}/app.yml`, `${c.sha}^:apps/${app}/app.yml`);
    }
  }
  const blobs = await readBlobs(dir, specs);
  const out: WharfEvent[] = [];
  for (const c of commits) out.push(...eventsOfCommit(c, (spec) => blobs.get(spec) ?? null, ctx));
  return out;
}

const relevant = (p: string) => APP_RE.test(p) || UPSTREAM_RE.test(p) || ARTIFACT_RE.test(p);

interface Draft {
  kind: EventKind;
  path: string;
  app: string;
  subject: string;
  title: string;
  summary: string;
  data: Record<string, unknown>;
}

/** The events of one commit; `read(spec)` returns a file at `<sha>:<path>` or `<sha>^:<path>`. */
export function eventsOfCommit(
  c: CatalogCommit,
  read: (spec: string) => string | null,
  ctx: DeriveContext,
): WharfEvent[] {
  const warn = ctx.warn ?? (() => {});
  const parseApp = (spec: string): App | undefined => {
    const t = read(spec);
    if (t === null) return undefined;
    try {
      const r = zApp.safeParse(loadYaml(t));
      return r.success ? r.data : undefined;
    } catch {
      return undefined;
    }
  };
  const parseJson = <T>(spec: string, schema: { safeParse(v: unknown): { success: boolean; data?: T } }) => {
    const t = read(spec);
    if (t === null) return undefined;
    try {
      const r = schema.safeParse(JSON.parse(t));
      if (!r.success) warn(`${spec}: not a valid record; no event derived from it`);
      return r.success ? r.data : undefined;
    } catch {
      warn(`${spec}: not JSON; no event derived from it`);
      return undefined;
    }
  };
  const appAt = (app: string) =>
    parseApp(`${c.sha}:apps/${app}/app.yml`) ?? parseApp(`${c.sha}^:apps/${app}/app.yml`);

  const drafts: Draft[] = [];
  // Within a commit: the app first, then its upstream news, then artifact results.
  const rank = (p: string) => (APP_RE.test(p) ? 0 : UPSTREAM_RE.test(p) ? 1 : 2);
  const changes = [...c.changes].sort((a, b) => rank(a.path) - rank(b.path) || a.path.localeCompare(b.path));
  for (const ch of changes) {
    let m: RegExpExecArray | null;
    if ((m = APP_RE.exec(ch.path))) {
      const id = m[1]!;
      const now = parseApp(`${c.sha}:${ch.path}`);
      const before = parseApp(`${c.sha}^:${ch.path}`);
      const a = now ?? before;
      if (!a) {
        warn(`${c.sha.slice(0, 12)}:${ch.path}: unreadable app; skipped`);
        continue;
      }
      const kind: EventKind = !before ? 'app.added' : !now ? 'app.removed' : 'app.updated';
      if (kind === 'app.added' && !now) continue;
      const verb = { 'app.added': 'added to', 'app.removed': 'removed from', 'app.updated': 'updated in' }[
        kind
      ];
      drafts.push({
        kind,
        path: ch.path,
        app: id,
        subject: id,
        title: `${titleOf(a)} ${verb.split(' ')[0]}`,
        summary: `${titleOf(a)} (${a.category}) was ${verb} the ${ctx.catalogName} catalog.`,
        data: {
          name: a.name,
          title: titleOf(a),
          visibility: a.visibility,
          recipes: a.recipes.container.length + a.recipes.cloud.length + a.recipes.wsl.length,
        },
      });
    } else if ((m = UPSTREAM_RE.exec(ch.path))) {
      const id = m[1]!;
      const now = parseJson(`${c.sha}:${ch.path}`, zUpstreamState);
      const before =
        read(`${c.sha}^:${ch.path}`) === null ? undefined : parseJson(`${c.sha}^:${ch.path}`, zUpstreamState);
      if (!now?.latest || now.latest === before?.latest) continue;
      drafts.push({
        kind: 'release.detected',
        path: ch.path,
        app: id,
        subject: id,
        title: `${id} ${now.latest} released upstream`,
        summary:
          `Upstream released ${id} ${now.latest}` + (before?.latest ? ` (was ${before.latest}).` : '.'),
        data: {
          version: now.latest,
          ...(before?.latest ? { previous: before.latest } : {}),
          ...(now.lines ? { lines: now.lines } : {}),
        },
      });
    } else if (ARTIFACT_RE.test(ch.path)) {
      if (ch.status === 'D') continue;
      const now = parseJson<Artifact>(`${c.sha}:${ch.path}`, zArtifact);
      if (!now) continue;
      const before =
        read(`${c.sha}^:${ch.path}`) === null
          ? undefined
          : parseJson<Artifact>(`${c.sha}^:${ch.path}`, zArtifact);
      drafts.push(...artifactDrafts(ch.path, now, before));
    }
  }

  const appCache = new Map<string, App | undefined>();
  return drafts.map((d) => {
    if (!appCache.has(d.app)) appCache.set(d.app, appAt(d.app));
    const a = appCache.get(d.app);
    const type = eventType(d.kind);
    const sourceurl = appUrl(ctx.siteUrl, d.app);
    return {
      specversion: '1.0',
      id: eventId(c.sha, d.path, type),
      type,
      source: ctx.source,
      subject: d.subject,
      time: c.time,
      datacontenttype: 'application/json',
      data: { app: d.app, ...(a ? { category: a.category } : {}), commit: c.sha, ...d.data },
      user: c.author,
      sourceurl,
      title: d.title,
      summary: d.summary,
      sourcegroup: `${ctx.catalogName}/${d.app}`,
      relatedusers: '',
      mailtitle: `[${ctx.catalogName}] ${d.title}`,
      mailsummary: d.summary + (sourceurl ? ` ${sourceurl}` : ''),
    } satisfies WharfEvent;
  });
}

const titleOf = (a: App) => a.title.en ?? a.title.zh ?? a.id;

/** Stage status → event kind; statuses that report no news (unchanged, skipped) give none. */
const STAGE_EVENTS: Record<Stage, Record<string, EventKind>> = {
  build: { ok: 'image.built', failed: 'image.build.failed' },
  verify: { passed: 'image.verified', failed: 'image.verify.failed' },
  scan: { ok: 'image.scanned', 'not-run': 'image.scan.not-run', failed: 'image.scan.failed' },
  sign: { signed: 'image.signed', failed: 'image.sign.failed' },
  publish: {
    ok: 'image.published',
    partial: 'image.publish.partial',
    failed: 'image.publish.failed',
    blocked: 'image.publish.blocked',
  },
  /** Cloud imports: only when a record brings news (importNews), never once per poll. */
  import: { ok: 'image.imported', partial: 'image.import.partial', failed: 'image.import.failed' },
};

type ImportEntry = NonNullable<Artifact['records']['import']>['targets'][number];

/**
 * What a cloud import record newly says compared with the one before: the targets whose task started
 * (a task id that was not there), that completed (an image id that was not there) or that failed (a
 * target that was not failed). A poll that only moves a task's progress says nothing new.
 */
function importNews(now: Artifact, before: Artifact | undefined) {
  const prev = before?.records.import?.targets ?? [];
  const cur = now.records.import?.targets ?? [];
  const had = (e: ImportEntry, f: (p: ImportEntry) => boolean) =>
    prev.some((p) => p.target === e.target && p.region === e.region && f(p));
  return {
    started: cur.filter((e) => e.taskId && !had(e, (p) => p.taskId === e.taskId)),
    completed: cur.filter(
      (e) => e.state === 'completed' && !had(e, (p) => p.state === 'completed' && p.imageId === e.imageId),
    ),
    failed: cur.filter((e) => e.state === 'failed' && !had(e, (p) => p.state === 'failed')),
  };
}

/** The import event kinds a changed import record gives (started, then the status event, each at most once). */
function importKinds(now: Artifact, before: Artifact | undefined): EventKind[] {
  const rec = now.records.import!;
  const n = importNews(now, before);
  const out: EventKind[] = [];
  if (n.started.length) out.push('image.import.started');
  const status = STAGE_EVENTS.import[rec.status];
  const news =
    rec.status === 'ok'
      ? n.completed.length > 0 || before?.records.import?.status !== 'ok'
      : rec.status === 'failed'
        ? n.failed.length > 0
        : n.failed.length > 0 || n.completed.length > 0;
  if (status && news) out.push(status);
  return out;
}

function artifactDrafts(path: string, now: Artifact, before: Artifact | undefined): Draft[] {
  const out: Draft[] = [];
  const name = `${now.app}/${now.id}`;
  const base = {
    kind: now.kind,
    artifact: now.id,
    version: now.version,
    osVersion: now.osVersion,
    arches: now.arches,
  };
  for (const stage of STAGES) {
    const rec = now.records[stage];
    if (!rec || JSON.stringify(rec) === JSON.stringify(before?.records[stage])) continue;
    const kinds =
      stage === 'import' ? importKinds(now, before) : [STAGE_EVENTS[stage][rec.status]].filter((k) => !!k);
    for (const kind of kinds) {
      const words = kind.replace(/^image\./, '').replace(/\./g, ' ');
      out.push({
        kind,
        path,
        app: now.app,
        subject: name,
        title: `${name} ${words}`,
        summary:
          kind === 'image.import.started' ? importStartedSummary(now, before) : stageSummary(now, stage),
        data: {
          ...base,
          stage,
          status: rec.status,
          runId: rec.runId,
          at: rec.at,
          ...(rec.durationMs !== undefined ? { durationMs: rec.durationMs } : {}),
          ...(rec.error ? { error: rec.error.message } : {}),
          ...stageData(now, stage, before),
        },
      });
    }
  }
  const p = now.pending;
  if (p && (p.since !== before?.pending?.since || p.reason !== before?.pending?.reason)) {
    out.push({
      kind: 'rebuild.queued',
      path,
      app: now.app,
      subject: name,
      title: `${name} queued for rebuild`,
      summary: `${name} (${now.kind}, openEuler ${now.osVersion}) was queued for rebuild: ${p.reason}.`,
      data: { ...base, reason: p.reason, since: p.since, ...(p.runId ? { runId: p.runId } : {}) },
    });
  }
  return out;
}

function stageSummary(a: Artifact, stage: Stage): string {
  const r = a.records;
  const what = `${a.app}:${a.id} (${a.kind}, openEuler ${a.osVersion})`;
  switch (stage) {
    case 'build':
      return r.build?.status === 'ok'
        ? `${what} was built.`
        : `Building ${what} failed: ${r.build?.error?.message ?? 'see the build log'}.`;
    case 'verify': {
      const checks = r.verify?.checks ?? [];
      const failed = checks.filter((c) => c.status !== 'passed').map((c) => c.name);
      return failed.length
        ? `${what} failed verification: ${failed.join(', ')}.`
        : `${what} passed ${checks.length} verification checks.`;
    }
    case 'scan': {
      const s = r.scan!;
      if (s.status !== 'ok')
        return `${what} was not scanned (${s.status}): ${s.error?.message ?? 'scanner unavailable'}. This is not a clean result.`;
      const t = s.summary?.total;
      const counts = t
        ? `${t.CRITICAL} critical, ${t.HIGH} high, ${t.MEDIUM} medium, ${t.LOW} low`
        : 'no summary';
      const fresh = s.newSinceLast?.length ? `; ${s.newSinceLast.length} new since the last scan` : '';
      // Nothing matched the OS packages: the counts are of the other packages only, never "clean".
      if (s.coverage?.os.by === 'none')
        return `${what}: OS packages not scanned (${s.coverage.os.reason ?? 'no OS scanner'}); other packages: ${counts}${fresh}. This is not a clean result.`;
      return `${what} was scanned: ${counts}${fresh}.`;
    }
    case 'sign':
      return r.sign?.status === 'signed'
        ? `${what} was signed (${r.sign.signatures.length} signatures).`
        : `Signing ${what} failed: ${r.sign?.error?.message ?? 'unknown error'}.`;
    case 'publish': {
      const p = r.publish!;
      const ok = p.targets.filter((t) => t.status !== 'failed').map((t) => t.target);
      const bad = p.targets.filter((t) => t.status === 'failed').map((t) => t.target);
      if (p.status === 'blocked') return `${what} was not published: blocked by ${p.blockedBy ?? 'policy'}.`;
      if (p.status === 'failed')
        return `Publishing ${what} failed${bad.length ? ` on ${bad.join(', ')}` : ''}.`;
      if (p.status === 'partial')
        return `${what} was published to ${ok.join(', ')} but failed on ${bad.join(', ')}.`;
      return `${what} was published${ok.length ? ` to ${ok.join(', ')}` : ''}.`;
    }
    case 'import': {
      const ts = r.import?.targets ?? [];
      const list = (f: (t: ImportEntry) => boolean) =>
        ts
          .filter(f)
          .map((t) => `${t.target} (${t.region})${t.imageId ? ` ${t.imageId}` : ''}`)
          .join(', ');
      const done = list((t) => t.state === 'completed');
      const bad = list((t) => t.state === 'failed');
      const running = list((t) => t.state === 'running');
      if (r.import?.status === 'ok') return `${what} was imported into ${done || 'no cloud'}.`;
      if (r.import?.status === 'failed') return `Importing ${what} failed on ${bad || 'every cloud'}.`;
      return `${what} imports: ${[
        done && `imported into ${done}`,
        bad && `failed on ${bad}`,
        running && `still running on ${running}`,
      ]
        .filter(Boolean)
        .join('; ')}.`;
    }
  }
}

function importStartedSummary(a: Artifact, before: Artifact | undefined): string {
  const started = importNews(a, before).started.map((t) => `${t.target} (${t.region})`);
  return `Importing ${a.app}:${a.id} (${a.kind}, openEuler ${a.osVersion}) started on ${started.join(', ')}.`;
}

/** The record summary an event carries: what consumers need, never logs, findings lists or secrets. */
function stageData(a: Artifact, stage: Stage, before?: Artifact): Record<string, unknown> {
  const r = a.records;
  switch (stage) {
    case 'build':
      return pick({
        manifestDigest: r.build?.manifestDigest,
        builtArches: r.build?.arches,
        inputsDigest: r.build?.inputsDigest,
      });
    case 'verify':
      return { checks: (r.verify?.checks ?? []).map((c) => ({ name: c.name, status: c.status })) };
    case 'scan': {
      const s = r.scan!;
      return pick({
        scanner: s.scanner,
        target: s.target,
        summary: s.summary,
        newSinceLast: s.newSinceLast ?? [],
        fixedSinceLast: s.fixedSinceLast,
        blocked: s.policy?.blocked,
        coverage: s.coverage && {
          os: s.coverage.os.by,
          language: s.coverage.language.by,
          summary: s.coverage.summary,
          ...(s.coverage.os.by === 'none' ? { osNotScanned: true } : {}),
        },
      });
    }
    case 'sign':
      return pick({
        keyId: r.sign?.keyId,
        signatures: r.sign?.signatures.map((s) => ({
          ref: s.ref,
          digest: s.digest,
          signatureTag: s.signatureTag,
        })),
      });
    case 'publish': {
      const p = r.publish!;
      return pick({
        digest: p.digest,
        targets: p.targets.map((t) =>
          pick({ target: t.target, ref: t.ref, status: t.status, digest: t.digest, aliases: t.aliases }),
        ),
        objects: p.objects?.map((o) => ({ url: o.url, sha256: o.sha256, size: o.size })),
        blockedBy: p.blockedBy,
      });
    }
    case 'import': {
      // Every target's image id and region (the record holds no credentials), and what is new.
      const n = importNews(a, before);
      const names = (l: ImportEntry[]) => l.map((t) => t.target);
      return {
        targets: (a.records.import?.targets ?? []).map((t) =>
          pick({
            target: t.target,
            provider: t.provider,
            region: t.region,
            arch: t.arch,
            format: t.format,
            state: t.state,
            taskId: t.taskId,
            imageId: t.imageId,
            imageName: t.imageName,
            error: t.error,
          }),
        ),
        started: names(n.started),
        completed: names(n.completed),
        failed: names(n.failed),
        ...(a.records.import?.blockedBy ? { blockedBy: a.records.import.blockedBy } : {}),
      };
    }
  }
}

const pick = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export type { CatalogCommit };
