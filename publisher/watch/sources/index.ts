// The watch sources' registry: the ONLY list of backends. Each source declares, in its own file, the
// backend name it answers to, the schema of the upstream entry it reads, and how it reads upstream.
// Adding a source is adding one file and one line here. The catalog checks only the shape of
// `upstream.backend`; `checkUpstream` checks the entry against its source (wharf catalog validate, the
// sweep before asking upstream).
import { lineOf, type Problem } from '../../../catalog/format.ts';
import type { Upstream } from '../../../catalog/schema.ts';
import type { WatchSource } from '../source.ts';
import git from './git.ts';
import gitee from './gitee.ts';
import github from './github.ts';
import gitlab from './gitlab.ts';
import httpJson from './http-json.ts';
import httpRegex from './http-regex.ts';
import npm from './npm.ts';
import oci from './oci.ts';
import pypi from './pypi.ts';
import rpm from './rpm.ts';

const ALL: WatchSource[] = [github, gitlab, gitee, git, oci, pypi, npm, rpm, httpRegex, httpJson];

export const SOURCES: ReadonlyMap<string, WatchSource> = new Map(ALL.map((s) => [s.backend, s]));
/** Every backend name, in the registry's order. */
export const BACKENDS: readonly string[] = [...SOURCES.keys()];

export type UpstreamCheck =
  | { ok: true; source: WatchSource; entry: Upstream }
  | { ok: false; issues: { path: (string | number)[]; message: string }[] };

/** An app's upstream entry checked against its source's schema (paths relative to `upstream`). */
export function checkUpstream(entry: Upstream): UpstreamCheck {
  const source = SOURCES.get(entry.backend);
  if (!source)
    return {
      ok: false,
      issues: [
        { path: ['backend'], message: `unknown backend "${entry.backend}"; one of ${BACKENDS.join(', ')}` },
      ],
    };
  const r = source.config.safeParse(entry);
  if (r.success) return { ok: true, source, entry: r.data as Upstream };
  return {
    ok: false,
    issues: r.error.issues.map((i) => ({
      path: i.path.map((k) => (typeof k === 'symbol' ? String(k) : k)),
      message: i.message,
    })),
  };
}

/** One line per issue, as the sweep records it: `upstream.jsonPath: required (…)`. */
export function upstreamIssueText(issues: { path: (string | number)[]; message: string }[]): string {
  return issues.map((i) => `upstream${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`).join('; ');
}

/**
 * Problems (file, line, field) of every app whose upstream entry its source refuses. `text` reads an
 * app's app.yml (for line numbers) and is only called for apps with a problem.
 */
export async function upstreamProblems(
  apps: Iterable<{ id: string; upstream?: Upstream }>,
  text: (id: string) => Promise<string | null>,
): Promise<Problem[]> {
  const out: Problem[] = [];
  for (const app of apps) {
    if (!app.upstream) continue;
    const c = checkUpstream(app.upstream);
    if (c.ok) continue;
    const t = await text(app.id);
    for (const i of c.issues)
      out.push({
        file: `apps/${app.id}/app.yml`,
        line: t ? lineOf(t, ['upstream', ...i.path]) : 1,
        field: ['upstream', ...i.path].join('.'),
        message: i.message,
      });
  }
  return out;
}
