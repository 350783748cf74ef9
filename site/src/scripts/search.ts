// Browser side of the search page: Pagefind's JS API (loaded from /pagefind/ at run time), a query
// box with instant results, sort, checkbox filters with counts that stay right when filters combine,
// and result cards with the signature and scan state. No framework: the whole script is a few KB.
interface PagefindResultData {
  url: string;
  excerpt: string;
  meta: Record<string, string>;
  filters: Record<string, string[]>;
}
interface PagefindResult {
  id: string;
  data: () => Promise<PagefindResultData>;
}
interface PagefindResponse {
  results: PagefindResult[];
  filters: Record<string, Record<string, number>>;
  totalFilters?: Record<string, Record<string, number>>;
  unfilteredResultCount: number;
}
type Filters = Record<string, { any: string[] }>;
type Sort = Record<string, 'asc' | 'desc'>;
interface Pagefind {
  options: (o: Record<string, unknown>) => Promise<void>;
  init: () => Promise<void>;
  preload: (q: string) => Promise<void>;
  search: (q: string | null, o?: { filters?: Filters; sort?: Sort }) => Promise<PagefindResponse | null>;
  filters: () => Promise<Record<string, Record<string, number>>>;
}

const root = document.getElementById('search')!;
const labels = JSON.parse(root.dataset.labels ?? '{}') as Record<string, string>;
const valueLabels = JSON.parse(root.dataset.values ?? '{}') as Record<string, Record<string, string>>;
const pinnedGroups = JSON.parse(root.dataset.pinned ?? '[]') as { terms: string[]; apps: string[] }[];
const allFilters = JSON.parse(root.dataset.filters ?? '{}') as Record<string, Record<string, number>>;
const form = document.getElementById('search-form') as HTMLFormElement;
const input = document.getElementById('q') as HTMLInputElement;
const sortSelect = document.getElementById('sort') as HTMLSelectElement;
const filtersBox = document.getElementById('filters')!;
const filtersDetails = document.getElementById('filters-box') as HTMLDetailsElement;
const statusLine = document.getElementById('status')!;
const resultsBox = document.getElementById('results')!;
const GROUPS = ['category', 'arch', 'os', 'license'];
const SORTS: Record<string, Sort> = { name: { name: 'asc' }, updated: { updated: 'desc' } };
const selected: Record<string, Set<string>> = Object.fromEntries(GROUPS.map((g) => [g, new Set<string>()]));
/** Results whose data is loaded and ranked (exact names and pinned apps first) before the rest. */
const WINDOW = 20;
const PAGE = 10;

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const params = new URLSearchParams(location.search);
input.value = params.get('q') ?? '';
sortSelect.value = SORTS[params.get('sort') ?? ''] ? params.get('sort')! : '';
for (const g of GROUPS) for (const v of params.getAll(g)) selected[g]!.add(v);
// Phones: the filters start folded so the results are on the first screen (open when some are set).
if (matchMedia('(max-width: 860px)').matches && !GROUPS.some((g) => selected[g]!.size))
  filtersDetails.open = false;

const langSwitch = document.querySelector<HTMLAnchorElement>('[data-lang-switch]');
const switchBase = langSwitch?.getAttribute('href') ?? '';
let pf: Pagefind;
/**
 * Pagefind counts only the filter groups whose data it has loaded. Loading all of them
 * (pagefind.filters()) makes every later search count every group, which costs on broad queries of
 * a large catalog, so it happens once the first filter is ticked: from then on every group's counts
 * are live.
 */
let filtersLoaded: Promise<unknown> | undefined;

const label = (g: string, v: string) => valueLabels[g]?.[v] ?? v;

function renderFilters(counts: Record<string, Record<string, number>> | undefined) {
  filtersBox.replaceChildren();
  for (const g of GROUPS) {
    const values = Object.keys(allFilters[g] ?? {}).sort((a, b) => label(g, a).localeCompare(label(g, b)));
    if (!values.length) continue;
    const box = el('fieldset', 'filter');
    box.append(el('legend', '', labels[g] ?? g));
    for (const v of values) {
      const lab = el('label');
      const cb = el('input');
      cb.type = 'checkbox';
      cb.name = g;
      cb.value = v;
      cb.checked = selected[g]!.has(v);
      cb.addEventListener('change', () => {
        if (cb.checked) selected[g]!.add(v);
        else selected[g]!.delete(v);
        void run();
      });
      const n = counts ? (counts[g]?.[v] ?? 0) : undefined;
      if (n === 0 && !cb.checked) lab.className = 'zero';
      lab.append(cb, ` ${label(g, v)} `);
      if (n !== undefined) lab.append(el('span', 'muted small count', String(n)));
      box.append(lab);
    }
    filtersBox.append(box);
  }
}

const currentFilters = (without?: string): Filters => {
  const f: Filters = {};
  for (const g of GROUPS) if (g !== without && selected[g]!.size) f[g] = { any: [...selected[g]!] };
  return f;
};

/**
 * Counts per filter value that match the query and the other groups' selections: a group's own
 * selection does not narrow its counts (ticking arm64 must not turn amd64 into 0). Groups with a
 * selection need a search without it; the others read the main search's counts.
 */
async function facetCounts(
  term: string | null,
  main: PagefindResponse,
): Promise<Record<string, Record<string, number>> | undefined> {
  const active = GROUPS.filter((g) => selected[g]!.size);
  if (!active.length) {
    if (!term) return allFilters;
    // Pagefind counts filters once its filter data is loaded (after the first ticked filter).
    return Object.keys(main.filters ?? {}).length ? main.filters : undefined;
  }
  const out: Record<string, Record<string, number>> = { ...main.filters };
  await Promise.all(
    active.map(async (g) => {
      const rest = currentFilters(g);
      if (!term && !Object.keys(rest).length) {
        out[g] = allFilters[g] ?? {};
        return;
      }
      const r = await pf.search(term, { filters: rest });
      out[g] = r?.filters?.[g] ?? {};
    }),
  );
  return out;
}

const norm = (s: string) => s.trim().toLowerCase();

/** Exact names first, then the apps a synonym group pins for this query (in order), then names starting with it. */
async function ranked(q: string, results: PagefindResult[]): Promise<PagefindResultData[]> {
  const data = await Promise.all(results.slice(0, WINDOW).map((r) => r.data()));
  const nq = norm(q);
  const pins = pinnedGroups.find((g) => g.terms.includes(nq))?.apps ?? [];
  const found = new Map(data.map((d) => [d.meta.id ?? d.url, d]));
  // A pinned app beyond the window: its own name finds it.
  const missing = pins.filter((id) => !found.has(id));
  const extra = await Promise.all(
    missing.map(async (id) => {
      const r = await pf.search(id, { filters: currentFilters() });
      const ds = await Promise.all((r?.results ?? []).slice(0, 5).map((x) => x.data()));
      return ds.find((d) => d.meta.id === id);
    }),
  );
  for (const d of extra) if (d) found.set(d.meta.id!, d);
  const rank = (d: PagefindResultData, i: number): [number, number] => {
    const title = norm(d.meta.title ?? '');
    const id = d.meta.id ?? '';
    if (title === nq || id === nq) return [0, i];
    const p = pins.indexOf(id);
    if (p >= 0) return [1, p];
    if (title.startsWith(nq) || id.startsWith(nq)) return [2, i];
    return [3, i];
  };
  const all = [...data, ...extra.filter((d): d is PagefindResultData => !!d)];
  return all
    .map((d, i) => ({ d, k: rank(d, i) }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1])
    .map((x) => x.d);
}

let seq = 0;
async function run(): Promise<void> {
  const my = ++seq;
  const q = input.value.trim();
  const sortKey = sortSelect.value;
  const filters = currentFilters();
  const url = new URL(location.href);
  url.search = '';
  if (q) url.searchParams.set('q', q);
  if (sortKey) url.searchParams.set('sort', sortKey);
  for (const g of GROUPS) for (const v of selected[g]!) url.searchParams.append(g, v);
  history.replaceState(null, '', url);
  if (langSwitch) langSwitch.href = switchBase + url.search;
  const t0 = performance.now();
  if (Object.keys(filters).length) await (filtersLoaded ??= pf.filters());
  if (my !== seq) return;
  const term = q || null;
  // An empty query browses every app (by name unless another order is chosen).
  const sort = SORTS[sortKey] ?? (term ? undefined : SORTS.name);
  const res = await pf.search(term, { filters, ...(sort ? { sort } : {}) });
  if (!res || my !== seq) return;
  // Relevance order: the first WINDOW results are loaded and re-ranked; the rest load on "more".
  const first =
    term && !sort ? await ranked(q, res.results) : await Promise.all(res.results.slice(0, PAGE).map((r) => r.data()));
  const counts = await facetCounts(term, res);
  if (my !== seq) return;
  const ms = performance.now() - t0;
  root.dataset.ms = ms.toFixed(1);
  const total = Math.max(res.results.length, first.length);
  statusLine.textContent = total
    ? `${term ? '' : `${labels.all} · `}${total} ${labels.results} · ${ms.toFixed(0)} ms`
    : (labels.none ?? '');
  const shownUrls = new Set<string>();
  const cards = first.slice(0, PAGE).map((d) => {
    shownUrls.add(d.url);
    return resultCard(d);
  });
  resultsBox.replaceChildren(...cards);
  const queue: (PagefindResultData | PagefindResult)[] = [
    ...first.slice(PAGE),
    ...res.results.slice(term && !sort ? WINDOW : PAGE),
  ];
  addMoreButton(queue, shownUrls, total - cards.length, my);
  renderFilters(counts);
  root.dataset.done = String(my);
  root.dataset.q = q;
}

function statusChips(d: PagefindResultData): HTMLElement {
  const box = el('div', 'status-chips small');
  const images = Number(d.meta.images ?? 0);
  if (!images) return box;
  const signed = Number(d.meta.signed ?? 0);
  box.append(
    signed
      ? el('span', 'badge b-ok', `✓ ${labels.signed} ${signed}/${images}`)
      : el('span', 'badge b-none', labels.notSigned),
  );
  const vulns = (d.meta.vulns ?? '').split(' ').filter(Boolean).map(Number);
  if (!Number(d.meta.scanned ?? 0)) box.append(el('span', 'badge b-none', labels.notScanned));
  else if (vulns.every((n) => n === 0)) box.append(el('span', 'badge b-ok', labels.noVulns));
  else {
    const row = el('span', 'sev-row');
    ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'].forEach((s, i) => {
      if (vulns[i]) row.append(el('span', `sev sev-${s.toLowerCase()}`, `${s.slice(0, 1)} ${vulns[i]}`));
    });
    box.append(row);
  }
  if (d.meta.arches) box.append(el('span', 'badge', d.meta.arches.split(' ').join(' · ')));
  return box;
}

function resultCard(d: PagefindResultData): HTMLElement {
  const a = el('a', 'result');
  a.href = d.url;
  if (d.meta.id) a.dataset.id = d.meta.id;
  a.append(el('h3', '', d.meta.title ?? d.url));
  const p = el('p', 'small');
  // Pagefind excerpts are escaped page text with <mark> around matches. An excerpt taken from the
  // page's search terms (names and aliases joined by " · ") says nothing: the app's summary instead.
  if ((d.excerpt.match(/ · /g) ?? []).length >= 2) p.textContent = d.meta.summary ?? '';
  else p.innerHTML = d.excerpt;
  const chips = el('div', 'chips');
  for (const v of d.filters.category ?? []) chips.append(el('span', 'chip chip-soft', label('category', v)));
  a.append(p, chips, statusChips(d));
  return a;
}

function addMoreButton(
  queue: (PagefindResultData | PagefindResult)[],
  shown: Set<string>,
  left: number,
  my: number,
): void {
  if (!queue.length || left <= 0) return;
  const more = el('button', 'more', `${labels.more ?? 'More'} (${left})`);
  more.type = 'button';
  more.addEventListener('click', () => {
    void (async () => {
      const next: PagefindResultData[] = [];
      while (queue.length && next.length < PAGE) {
        const batch = queue.splice(0, PAGE - next.length);
        const ds = await Promise.all(batch.map((x) => ('data' in x ? x.data() : x)));
        for (const d of ds)
          if (!shown.has(d.url)) {
            shown.add(d.url);
            next.push(d);
          }
      }
      if (my !== seq) return;
      more.replaceWith(...next.map(resultCard));
      addMoreButton(queue, shown, left - next.length, my);
    })();
  });
  resultsBox.append(more);
}

async function main(): Promise<void> {
  const pagefindUrl = new URL('/pagefind/pagefind.js', location.href).href;
  pf = (await import(/* @vite-ignore */ pagefindUrl)) as Pagefind;
  await pf.options({ excerptLength: 20 });
  await pf.init();
  renderFilters(allFilters);
  let timer: ReturnType<typeof setTimeout> | undefined;
  input.addEventListener('input', () => {
    // Fetch the index chunks for what is typed now, while the debounce waits (as Pagefind's own UI does).
    const q = input.value.trim();
    if (q) void pf.preload(q).catch(() => undefined);
    clearTimeout(timer);
    timer = setTimeout(() => void run(), 60);
  });
  sortSelect.addEventListener('change', () => void run());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  root.dataset.ready = '1';
  await run();
}
void main();
