// What the search index knows about an app beyond its page text: its names, its category and
// keywords in both languages, and the aliases of site/src/data/synonyms.yml. The same terms go
// into the zh and the en page, so either language's words find the app on either page; the
// search page gets the groups too, to put the apps a group lists first when the query is one of
// its terms.
import { parse } from 'yaml';
import { z } from 'zod';
import synonymsText from '../data/synonyms.yml?raw';
import { categoryLabel, LANGS } from './i18n.ts';
import type { AppView } from './model.ts';

const zGroups = z.array(
  z
    .object({
      terms: z.array(z.string().min(1)).min(1),
      apps: z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'an app id')).default([]),
    })
    .strict(),
);
export type SynonymGroup = z.infer<typeof zGroups>[number];

/** Parse and check the synonym table; errors name the file and the entry. */
export function parseSynonyms(text: string, file = 'site/src/data/synonyms.yml'): SynonymGroup[] {
  const r = zGroups.safeParse(parse(text));
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${file}: entry ${i.path.join('.')}: ${i.message}`);
  }
  return r.data.map((g) => ({ terms: g.terms.map((t) => t.trim()), apps: g.apps }));
}

let groups: SynonymGroup[] | undefined;
export const synonymGroups = (): SynonymGroup[] => (groups ??= parseSynonyms(synonymsText));

const norm = (s: string) => s.trim().toLowerCase();

/** The app's own words: id, name, titles, category (id and labels), keywords, scene. */
function ownTerms(a: AppView): string[] {
  const { app } = a;
  return [
    a.id,
    app.name,
    app.title.zh ?? '',
    app.title.en ?? '',
    app.category,
    ...LANGS.map((l) => categoryLabel(app.category, l)),
    ...(app.keywords ?? []),
    app.scene ?? '',
  ].filter(Boolean);
}

/** The groups an app belongs to: listed by id or name, or one of its own words is a term. */
export function groupsOf(a: AppView, all = synonymGroups()): SynonymGroup[] {
  const own = new Set(ownTerms(a).map(norm));
  return all.filter(
    (g) =>
      g.apps.includes(a.id) || g.apps.includes(a.app.name) || g.terms.some((t) => own.has(norm(t))),
  );
}

/** The words the search record of an app carries besides its page text (deduplicated). */
export function searchTerms(a: AppView): string[] {
  const out = new Map<string, string>();
  for (const t of [...ownTerms(a), ...groupsOf(a).flatMap((g) => g.terms)]) {
    const k = norm(t);
    if (!out.has(k)) out.set(k, t);
  }
  return [...out.values()];
}

/**
 * The groups for the search page: terms lowercased, and only the listed apps that exist, in order
 * (the apps come first for a query equal to a term).
 */
export function pinnedForSearch(ids: ReadonlySet<string>): { terms: string[]; apps: string[] }[] {
  return synonymGroups()
    .map((g) => ({ terms: g.terms.map(norm), apps: [...new Set(g.apps.filter((x) => ids.has(x)))] }))
    .filter((g) => g.apps.length > 0);
}
