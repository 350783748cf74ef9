// Deterministic serialisation and located parsing of catalog files.
// Output is byte-stable for equal data (sorted JSON keys, fixed YAML options, trailing newline), so a
// diff between two commits shows only what really changed.
import { LineCounter, parseDocument, stringify, isMap, isSeq, type Node } from 'yaml';
import { assertBoundedTree, loadYaml, nodeBudget, YAML_MAX_ALIASES, YamlLimitError } from './yaml.ts';
import type { z } from 'zod';

export interface Problem {
  file: string;
  line: number;
  field: string;
  message: string;
}

export class CatalogFileError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'CatalogFileError';
    this.problems = problems;
  }
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

/** Machine-written records: JSON, keys sorted, two-space indent, trailing newline. */
export function toStableJson(v: unknown): string {
  return JSON.stringify(sortKeys(v), null, 2) + '\n';
}

/** Human-authored files: YAML in schema key order (callers pass zod-parsed data), no line folding. */
export function toStableYaml(v: unknown): string {
  const s = stringify(v, { lineWidth: 0, indent: 2, sortMapEntries: false, aliasDuplicateObjects: false });
  return s.endsWith('\n') ? s : s + '\n';
}

/** Line (1-based) of the node at `path` in a YAML/JSON text, or of the nearest existing parent. */
export function lineOf(text: string, path: readonly (string | number)[]): number {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, keepSourceTokens: false, uniqueKeys: false });
  let node: unknown = doc.contents;
  let best = node as Node | null;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => {
        const k = p.key as { value?: unknown } | null;
        return k && String(k.value) === String(key);
      });
      if (!pair) break;
      node = pair.value ?? pair.key;
      best = (pair.value ?? pair.key) as Node;
      if (!pair.value && pair.key) break;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      if (!node) break;
      best = node as Node;
    } else break;
  }
  const offset = best?.range?.[0] ?? 0;
  return lc.linePos(offset).line;
}

/** Turn zod issues into located problems. */
export function problemsFromZod(file: string, text: string, issues: readonly z.core.$ZodIssue[]): Problem[] {
  return issues.map((i) => {
    const path = i.path.filter((p): p is string | number => typeof p !== 'symbol');
    return {
      file,
      line: lineOf(text, path),
      field: path.join('.'),
      message: i.message,
    };
  });
}

/**
 * Parse and validate a catalog file. JSON records take the fast path (JSON.parse); YAML and any
 * failure go through the YAML parser so problems carry line numbers.
 */
export function parseCatalogFile<S extends z.ZodType>(
  file: string,
  text: string,
  schema: S,
): { ok: true; value: z.infer<S> } | { ok: false; problems: Problem[] } {
  let data: unknown;
  if (file.endsWith('.json')) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      const m = /position (\d+)/.exec(String(e));
      const line = m ? text.slice(0, Number(m[1])).split('\n').length : 1;
      return {
        ok: false,
        problems: [{ file, line, field: '', message: `invalid JSON: ${(e as Error).message}` }],
      };
    }
  } else {
    // Fast path: js-yaml (about 10x faster than building a located document) with the YAML 1.2 core
    // schema, the same scalars the `yaml` writer produces, bounded against alias bombs and deep
    // nesting (catalog/yaml.ts). A limit is reported at once; any syntax error or schema problem
    // falls through to the located parse below, so problems still carry line numbers.
    try {
      const fast = loadYaml(text);
      const r = schema.safeParse(fast);
      if (r.success) return { ok: true, value: r.data };
    } catch (e) {
      if (e instanceof YamlLimitError)
        return { ok: false, problems: [{ file, line: 1, field: '', message: e.message }] };
      /* report with lines below */
    }
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
    if (doc.errors.length > 0) {
      return {
        ok: false,
        problems: doc.errors.map((err) => ({
          file,
          line: err.linePos?.[0]?.line ?? lc.linePos(err.pos[0]).line,
          field: '',
          message: `invalid YAML: ${err.message.split('\n')[0]}`,
        })),
      };
    }
    try {
      data = doc.toJS({ maxAliasCount: YAML_MAX_ALIASES });
      assertBoundedTree(data, nodeBudget(text));
    } catch (e) {
      return {
        ok: false,
        problems: [{ file, line: 1, field: '', message: `refused: ${(e as Error).message}` }],
      };
    }
  }
  const r = schema.safeParse(data);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, problems: problemsFromZod(file, text, r.error.issues) };
}
