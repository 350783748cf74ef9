// Bounded YAML loading for catalog files. A YAML alias bomb (a few hundred bytes of anchors that
// refer to each other) stays small in js-yaml's result — aliases are shared references — and only
// explodes later, when something serialises, clones or walks the tree (4 GB and out of memory in the
// watcher). So the loaded tree is measured as if every alias were expanded, against a budget that
// grows with the text (a file without aliases always fits), and refused when it does not fit.
import jsYaml from 'js-yaml';

/** Largest YAML text read (characters): catalog files are kilobytes; this is far above any real one. */
export const YAML_MAX_CHARS = 4 * 1024 * 1024;
/** Deepest nesting accepted (maps and lists). */
export const YAML_MAX_DEPTH = 64;
/** Aliases the `yaml` package may resolve in one document (its own bomb guard; default 100). */
export const YAML_MAX_ALIASES = 100;

/** Nodes the expanded tree of `text` may have: every node of a plain file costs at least one character. */
export function nodeBudget(text: string): number {
  return 10_000 + text.length;
}

export class YamlLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'YamlLimitError';
  }
}

/**
 * Throw YamlLimitError when `value`, with shared references (YAML aliases) counted every time they
 * appear, has more than `budget` nodes or is nested deeper than YAML_MAX_DEPTH. Iterative and stops
 * at the first excess, so a bomb costs at most `budget` steps.
 */
export function assertBoundedTree(value: unknown, budget: number): void {
  const stack: [unknown, number][] = [[value, 0]];
  let nodes = 0;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (++nodes > budget)
      throw new YamlLimitError(
        `expands to more than ${budget} nodes (YAML aliases used as a bomb?); refusing to load it`,
      );
    if (v === null || typeof v !== 'object') continue;
    if (depth >= YAML_MAX_DEPTH) throw new YamlLimitError(`nested deeper than ${YAML_MAX_DEPTH} levels`);
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    for (const c of children) stack.push([c, depth + 1]);
  }
}

/**
 * Parse YAML text (YAML 1.2 core schema) into plain data, refusing oversized text, alias bombs and
 * excessive nesting with a YamlLimitError. Syntax errors are js-yaml's YAMLException (with a mark).
 */
export function loadYaml(text: string): unknown {
  if (text.length > YAML_MAX_CHARS)
    throw new YamlLimitError(`larger than ${YAML_MAX_CHARS} characters; refusing to parse it`);
  let data: unknown;
  try {
    data = jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA, json: false });
  } catch (e) {
    // Deep nesting: js-yaml's own depth guard, or its recursive descent overflowing.
    if (e instanceof RangeError || (e instanceof jsYaml.YAMLException && /maxDepth/.test(e.reason)))
      throw new YamlLimitError(`nested deeper than ${YAML_MAX_DEPTH} levels`);
    throw e;
  }
  assertBoundedTree(data, nodeBudget(text));
  return data;
}
