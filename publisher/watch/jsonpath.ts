// A small JSONPath subset for http-json upstreams: $ root, .name, ['name'], [n], [*], .* and ..name
// (recursive descent). Enough for "$.releases[*].tag_name" or "$..version"; no filters, no scripts.
type Step =
  | { kind: 'key'; key: string }
  | { kind: 'index'; index: number }
  | { kind: 'all' }
  | { kind: 'deep'; key: string };

export function parseJsonPath(path: string): Step[] {
  if (!path.startsWith('$')) throw new Error(`JSON path must start with $: ${path}`);
  const steps: Step[] = [];
  let i = 1;
  while (i < path.length) {
    const rest = path.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^\.\.([A-Za-z_$][\w$-]*)/.exec(rest))) steps.push({ kind: 'deep', key: m[1]! });
    else if ((m = /^(?:\.\*|\[\*\])/.exec(rest))) steps.push({ kind: 'all' });
    else if ((m = /^\.([A-Za-z_$][\w$-]*)/.exec(rest))) steps.push({ kind: 'key', key: m[1]! });
    else if ((m = /^\[(\d+)\]/.exec(rest))) steps.push({ kind: 'index', index: Number(m[1]) });
    else if ((m = /^\[(?:'([^']*)'|"([^"]*)")\]/.exec(rest))) steps.push({ kind: 'key', key: m[1] ?? m[2]! });
    else
      throw new Error(
        `unsupported JSON path at ${JSON.stringify(rest)} (supported: .a ['a'] [0] [*] .* ..a)`,
      );
    i += m[0].length;
  }
  return steps;
}

function deep(v: unknown, key: string, out: unknown[]): void {
  if (Array.isArray(v)) for (const x of v) deep(x, key, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === key) out.push(x);
      deep(x, key, out);
    }
  }
}

export function evalJsonPath(doc: unknown, path: string): unknown[] {
  let cur: unknown[] = [doc];
  for (const s of parseJsonPath(path)) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (s.kind === 'deep') deep(v, s.key, next);
      else if (s.kind === 'all') {
        if (Array.isArray(v)) next.push(...v);
        else if (v && typeof v === 'object') next.push(...Object.values(v));
      } else if (s.kind === 'index') {
        if (Array.isArray(v) && s.index < v.length) next.push(v[s.index]);
      } else if (v && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, s.key)) {
        next.push((v as Record<string, unknown>)[s.key]);
      }
    }
    cur = next;
  }
  return cur;
}
