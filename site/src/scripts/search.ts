// Browser side of the search page: Pagefind's JS API (loaded from /pagefind/ at run time), a query
// box with instant results and checkbox filters. No framework: the whole script is a few KB.
interface PagefindResultData {
  url: string;
  excerpt: string;
  meta: Record<string, string>;
  filters: Record<string, string[]>;
}
interface PagefindResponse {
  results: { id: string; data: () => Promise<PagefindResultData> }[];
  filters: Record<string, Record<string, number>>;
  unfilteredResultCount: number;
}
interface Pagefind {
  options: (o: Record<string, unknown>) => Promise<void>;
  init: () => Promise<void>;
  filters: () => Promise<Record<string, Record<string, number>>>;
  preload: (q: string) => Promise<void>;
  search: (
    q: string | null,
    o?: { filters?: Record<string, { any: string[] }> },
  ) => Promise<PagefindResponse | null>;
}

const root = document.getElementById('search')!;
const labels = JSON.parse(root.dataset.labels ?? '{}') as Record<string, string>;
const form = document.getElementById('search-form') as HTMLFormElement;
const input = document.getElementById('q') as HTMLInputElement;
const filtersBox = document.getElementById('filters')!;
const statusLine = document.getElementById('status')!;
const resultsBox = document.getElementById('results')!;
const GROUPS = ['category', 'arch', 'os', 'license'];
const selected: Record<string, Set<string>> = Object.fromEntries(GROUPS.map((g) => [g, new Set<string>()]));

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const params = new URLSearchParams(location.search);
input.value = params.get('q') ?? '';
for (const g of GROUPS) for (const v of params.getAll(g)) selected[g]!.add(v);

const langSwitch = document.querySelector<HTMLAnchorElement>('[data-lang-switch]');
const switchBase = langSwitch?.getAttribute('href') ?? '';
let pf: Pagefind;
const allFilters = JSON.parse(root.dataset.filters ?? '{}') as Record<string, Record<string, number>>;

function renderFilters(
  all: Record<string, Record<string, number>>,
  current?: Record<string, Record<string, number>>,
) {
  // Live counts exist once Pagefind has loaded its filters (after the first filtered search);
  // before that a search shows no counts rather than totals that do not match the results.
  const counts = current ? (Object.keys(current).length ? current : undefined) : all;
  filtersBox.replaceChildren();
  for (const g of GROUPS) {
    const values = Object.keys(all[g] ?? {}).sort();
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
      lab.append(cb, ` ${v} `);
      if (n !== undefined) lab.append(el('span', 'muted small', String(n)));
      box.append(lab);
    }
    filtersBox.append(box);
  }
}

let seq = 0;
async function run(): Promise<void> {
  const my = ++seq;
  const q = input.value.trim();
  const filters: Record<string, { any: string[] }> = {};
  for (const g of GROUPS) if (selected[g]!.size) filters[g] = { any: [...selected[g]!] };
  const url = new URL(location.href);
  url.search = '';
  if (q) url.searchParams.set('q', q);
  for (const g of GROUPS) for (const v of selected[g]!) url.searchParams.append(g, v);
  history.replaceState(null, '', url);
  if (langSwitch) langSwitch.href = switchBase + url.search;
  if (!q && !Object.keys(filters).length) {
    statusLine.textContent = '';
    resultsBox.replaceChildren();
    renderFilters(allFilters);
    return;
  }
  const t0 = performance.now();
  const res = await pf.search(q || null, { filters });
  if (!res || my !== seq) return;
  // Only the first page of results loads its data; "more" loads the next (Pagefind fetches one
  // fragment per result, so loading all of a broad query's results would be slow).
  const data = await Promise.all(res.results.slice(0, PAGE).map((r) => r.data()));
  if (my !== seq) return;
  const ms = performance.now() - t0;
  root.dataset.ms = ms.toFixed(1);
  statusLine.textContent = res.results.length
    ? `${res.results.length} ${labels.results} · ${ms.toFixed(0)} ms`
    : (labels.none ?? '');
  resultsBox.replaceChildren(...data.map(resultCard));
  addMoreButton(res.results, PAGE, my);
  renderFilters(allFilters, res.filters);
  root.dataset.done = String(my);
  root.dataset.q = q;
}

const PAGE = 10;

function resultCard(d: PagefindResultData): HTMLElement {
  const a = el('a', 'result');
  a.href = d.url;
  a.append(el('h3', '', d.meta.title ?? d.url));
  const p = el('p', 'small');
  // Pagefind excerpts are escaped page text with <mark> around matches.
  p.innerHTML = d.excerpt;
  const chips = el('div', 'chips');
  for (const v of [...(d.filters.category ?? []), ...(d.filters.arch ?? [])])
    chips.append(el('span', 'chip chip-soft', v));
  a.append(p, chips);
  return a;
}

function addMoreButton(results: PagefindResponse['results'], shown: number, my: number): void {
  if (results.length <= shown) return;
  const more = el('button', 'more', `${labels.more ?? 'More'} (${results.length - shown})`);
  more.type = 'button';
  more.addEventListener('click', () => {
    void (async () => {
      const next = await Promise.all(results.slice(shown, shown + PAGE).map((r) => r.data()));
      if (my !== seq) return;
      more.replaceWith(...next.map(resultCard));
      addMoreButton(results, shown + PAGE, my);
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
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  root.dataset.ready = '1';
  await run();
}
void main();
