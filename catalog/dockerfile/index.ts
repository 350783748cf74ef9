// What a recipe file says, read with a real Dockerfile parser (dockerfile-ast), never with regexes:
// its stages, each FROM with the global ARGs (those before the first FROM) substituted from their
// defaults the way Docker does it, `FROM <stage>` followed to that stage's image, `COPY --from`, the
// declared ARGs with their defaults, and whether TARGETARCH/TARGETPLATFORM are used. Distroless's
// `Distrofile` (a YAML spec, not a Dockerfile) is recognised and reported as not buildable by Wharf.
//
// Pure: text in, facts out. The importer records the facts in the catalog; the build stage calls the
// same functions (with `buildArgs`, e.g. a pinned BASE) to know what the engine will use.
import { DockerfileParser, ModifiableInstruction, type Instruction } from 'dockerfile-ast';
import { parseDocument } from 'yaml';

export type Builder = 'dockerfile' | 'distrofile';

export interface StageFacts {
  /** The image argument of the FROM line as written (without `AS name` and flags). */
  from: string;
  /**
   * The image this stage starts from, after substitution; `FROM <stage>` is followed to that stage's
   * image. Null when it cannot be resolved (a problem says why).
   */
  resolved: string | null;
  /** `AS <name>`, lowercased as Docker compares it, or null. */
  name: string | null;
  /** Index of the earlier stage this one is built FROM, or null for an image. */
  parentStage: number | null;
  /** 1-based line of the FROM instruction. */
  line: number;
  /** The --platform flag as written, when present. */
  platform?: string;
}

export interface CopyFromFacts {
  /** Stage index the COPY is in. */
  stage: number;
  line: number;
  /** The --from value as written. */
  from: string;
  /** The stage it names (by name or index), or null when it names an image. */
  fromStage: number | null;
  /** The image it names, after substitution (null when it names a stage or cannot be resolved). */
  image: string | null;
}

export interface RecipeProblem {
  /** 1-based line in the recipe file. */
  line: number;
  message: string;
}

export interface RecipeFacts {
  builder: Builder;
  stages: StageFacts[];
  /** The final stage's resolved image (FROM <stage> followed), or null. */
  base: string | null;
  /** Every external image the build reads: all stage bases and COPY --from images, deduplicated, in order. */
  bases: string[];
  /** Declared ARGs (global and per stage) → their default as written, or null when declared without one. */
  args: Record<string, string | null>;
  /** The global ARGs (before the first FROM) → default or null. */
  globalArgs: Record<string, string | null>;
  copyFrom: CopyFromFacts[];
  usesTargetArch: boolean;
  usesTargetPlatform: boolean;
  problems: RecipeProblem[];
}

export interface AnalyseOptions {
  /** Build args as `--build-arg` would pass them: they override declared defaults (only declared ARGs). */
  buildArgs?: Record<string, string>;
  /** Target platform for the automatic platform ARGs (TARGETARCH etc.) in FROM lines, e.g. linux/arm64. */
  platform?: string;
}

/** Which builder a recipe file is for, from its file name. */
export function builderOf(path: string): Builder {
  const base = path.split('/').pop() ?? path;
  return /^distrofile$/i.test(base) ? 'distrofile' : 'dockerfile';
}

/** Analyse a recipe file by its builder (chosen from the file name). */
export function analyseRecipeFile(path: string, text: string, o: AnalyseOptions = {}): RecipeFacts {
  return builderOf(path) === 'distrofile' ? analyseDistrofile(text) : analyseDockerfile(text, o);
}

const KEYWORDS = new Set([
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);
/** Docker's rule for `AS <name>` (dockerfile/instructions/parse.go). */
const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/;
const PLATFORM_ARGS = ['TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT'];

function emptyFacts(builder: Builder): RecipeFacts {
  return {
    builder,
    stages: [],
    base: null,
    bases: [],
    args: {},
    globalArgs: {},
    copyFrom: [],
    usesTargetArch: false,
    usesTargetPlatform: false,
    problems: [],
  };
}

/** Analyse Dockerfile text. Never throws: what cannot be understood is a problem with its line. */
export function analyseDockerfile(text: string, o: AnalyseOptions = {}): RecipeFacts {
  const out = emptyFacts('dockerfile');
  const problem = (line: number, message: string) => out.problems.push({ line, message });
  if (text.includes('\0')) {
    problem(lineOfIndex(text, text.indexOf('\0')), 'not a text file (contains NUL bytes)');
    return out;
  }
  const df = DockerfileParser.parse(text);
  const instructions = df.getInstructions();
  if (!instructions.length) {
    problem(1, 'no instructions (empty Dockerfile)');
    return out;
  }
  const lineOf = (i: Instruction) => i.getRange().start.line + 1;
  const platformVars = platformArgs(o.platform);

  // Global scope: ARGs before the first FROM, with build args overriding declared defaults.
  const globalScope = new Map<string, string | undefined>();
  let seenFrom = false;
  let stageScope = new Map<string, string | undefined>();
  const stageNames = new Map<string, number>();

  for (const ins of instructions) {
    const kw = ins.getKeyword().toUpperCase();
    const line = lineOf(ins);
    // getVariables() re-tokenises the instruction: only ask when the text can name one.
    if (/TARGET(?:ARCH|PLATFORM)/.test(ins.getTextContent()))
      for (const v of ins.getVariables()) {
        if (v.getName() === 'TARGETARCH') out.usesTargetArch = true;
        if (v.getName() === 'TARGETPLATFORM') out.usesTargetPlatform = true;
      }
    if (!KEYWORDS.has(kw)) {
      problem(line, `unknown instruction ${JSON.stringify(ins.getInstruction())}`);
      continue;
    }
    if (kw === 'ARG') {
      const args = ins.getArguments();
      if (!args.length) {
        problem(line, 'ARG without a name');
        continue;
      }
      // `ARG A=1 B=2` declares several; dockerfile-ast gives the first as the property.
      for (const a of args) {
        const raw = a.getValue();
        const eq = raw.indexOf('=');
        const name = eq < 0 ? raw : raw.slice(0, eq);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
          problem(line, `ARG name ${JSON.stringify(name)} is not a valid variable name`);
          continue;
        }
        const declared = eq < 0 ? null : unquote(raw.slice(eq + 1));
        if (name === 'TARGETARCH') out.usesTargetArch = true;
        if (name === 'TARGETPLATFORM') out.usesTargetPlatform = true;
        if (!(name in out.args) || (out.args[name] === null && declared !== null)) out.args[name] = declared;
        const scope = seenFrom ? stageScope : globalScope;
        if (!seenFrom) out.globalArgs[name] = declared;
        let value: string | undefined;
        if (o.buildArgs && Object.hasOwn(o.buildArgs, name)) value = o.buildArgs[name];
        else if (declared !== null) {
          const sub = substitute(declared, (n) => lookup(scope, n));
          value = sub.value ?? declared;
        } else if (seenFrom && globalScope.has(name))
          value = globalScope.get(name); // re-declared global
        else if (PLATFORM_ARGS.includes(name)) value = platformVars.get(name);
        scope.set(name, value);
      }
      continue;
    }
    if (kw === 'FROM') {
      seenFrom = true;
      stageScope = new Map();
      const index = out.stages.length;
      const rest = ins.getArguments().map((a) => a.getValue());
      let platform: string | undefined;
      for (const f of flagsOf(ins))
        if (f.name === 'platform') platform = f.value ?? '';
        else problem(line, `FROM flag --${f.name} is not known to Docker`);
      const image = rest[0];
      if (!image) {
        problem(line, 'FROM without an image');
        out.stages.push({ from: '', resolved: null, name: null, parentStage: null, line });
        continue;
      }
      let name: string | null = null;
      if (rest.length >= 2) {
        if (rest[1]!.toLowerCase() !== 'as' || rest.length !== 3)
          problem(line, `FROM takes "<image> [AS <name>]", got ${JSON.stringify(rest.join(' '))}`);
        else {
          name = rest[2]!.toLowerCase();
          if (!STAGE_NAME_RE.test(name)) problem(line, `invalid stage name ${JSON.stringify(rest[2])}`);
          else if (stageNames.has(name)) problem(line, `duplicate stage name ${JSON.stringify(rest[2])}`);
          else stageNames.set(name, index);
        }
      }
      const stage: StageFacts = { from: image, resolved: null, name, parentStage: null, line };
      if (platform) stage.platform = platform;
      // FROM sees the global ARGs and the automatic platform ARGs only.
      const sub = substitute(image, (n) =>
        globalScope.has(n) ? globalScope.get(n) : platformVars.has(n) ? platformVars.get(n) : undefined,
      );
      if (sub.error) problem(line, `FROM ${image}: ${sub.error}`);
      else if (sub.unset.length)
        problem(
          line,
          `FROM ${image}: ${sub.unset.map((v) => `variable ${v}`).join(', ')} ${
            sub.unset.length > 1 ? 'have' : 'has'
          } no value (declare a default with ARG before the first FROM)`,
        );
      else if (!sub.value) problem(line, `FROM ${image}: resolves to an empty image name`);
      else {
        const parent = stageNames.get(sub.value.toLowerCase());
        if (parent !== undefined && parent < index) {
          stage.parentStage = parent;
          stage.resolved = out.stages[parent]!.resolved;
        } else if (/\s/.test(sub.value) || !IMAGE_REF_RE.test(sub.value))
          problem(line, `FROM ${image}: ${JSON.stringify(sub.value)} is not an image reference`);
        else stage.resolved = sub.value;
      }
      out.stages.push(stage);
      continue;
    }
    if (!seenFrom) {
      problem(line, `${kw} before the first FROM (only ARG may come before it)`);
      continue;
    }
    if (kw === 'COPY' || kw === 'ADD') {
      const flag = flagsOf(ins).find((f) => f.name === 'from');
      if (!flag) continue;
      const from = flag.value ?? '';
      const stage = out.stages.length - 1;
      const cf: CopyFromFacts = { stage, line, from, fromStage: null, image: null };
      const sub = substitute(from, (n) => lookup(stageScope, n));
      const v = sub.value;
      if (sub.error || sub.unset.length || !v)
        problem(line, `${kw} --from=${from}: ${sub.error ?? 'unresolved variable'}`);
      else if (/^[0-9]+$/.test(v)) {
        const n = Number(v);
        if (n >= stage) problem(line, `${kw} --from=${from}: stage ${n} is not an earlier stage`);
        else cf.fromStage = n;
      } else if (stageNames.has(v.toLowerCase()) && stageNames.get(v.toLowerCase())! < stage)
        cf.fromStage = stageNames.get(v.toLowerCase())!;
      else if (!IMAGE_REF_RE.test(v))
        problem(line, `${kw} --from=${from}: ${JSON.stringify(v)} is neither an earlier stage nor an image`);
      else cf.image = v;
      out.copyFrom.push(cf);
    }
  }
  if (!out.stages.length) problem(1, 'no FROM instruction');
  const last = out.stages.at(-1);
  out.base = last?.resolved ?? null;
  const bases = new Set<string>();
  for (const s of out.stages) if (s.parentStage === null && s.resolved) bases.add(s.resolved);
  for (const c of out.copyFrom) if (c.image) bases.add(c.image);
  out.bases = [...bases];
  return out;
}

/** A Distroless Distrofile: YAML naming a base and package parts. Not buildable by Wharf. */
export function analyseDistrofile(text: string): RecipeFacts {
  const out = emptyFacts('distrofile');
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length) {
    for (const e of doc.errors)
      out.problems.push({
        line: e.linePos?.[0]?.line ?? 1,
        message: `invalid YAML: ${e.message.split('\n')[0]}`,
      });
    return out;
  }
  const js = doc.toJS() as unknown;
  const base =
    js && typeof js === 'object' && typeof (js as Record<string, unknown>).base === 'string'
      ? ((js as Record<string, unknown>).base as string).trim()
      : null;
  const baseLine = base ? lineOfIndex(text, Math.max(0, text.search(/^base\s*:/m))) : 1;
  if (base) {
    out.stages.push({ from: base, resolved: base, name: null, parentStage: null, line: baseLine });
    out.base = base;
    if (base !== 'scratch') out.bases = [base];
  }
  out.problems.push({
    line: 1,
    message: 'a Distroless Distrofile (YAML spec), not a Dockerfile: not buildable by Wharf',
  });
  return out;
}

// ------------------------------------------------------------------------------------ helpers

/** An image reference as Docker accepts it in FROM: [registry/]path[:tag][@digest], or scratch. */
const IMAGE_REF_RE =
  /^(?:[A-Za-z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

function flagsOf(ins: Instruction): { name: string; value: string | null }[] {
  return ins instanceof ModifiableInstruction
    ? ins.getFlags().map((f) => ({ name: f.getName().toLowerCase(), value: f.getValue() }))
    : [];
}

function lineOfIndex(text: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

function unquote(s: string): string {
  if (s.length >= 2 && ((s[0] === '"' && s.at(-1) === '"') || (s[0] === "'" && s.at(-1) === "'")))
    return s.slice(1, -1);
  return s;
}

/** Inside a stage only its own ARGs are visible (a global ARG must be re-declared to be seen). */
function lookup(scope: Map<string, string | undefined>, name: string): string | undefined {
  return scope.get(name);
}

function platformArgs(platform: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (!platform) return m;
  const [os, arch, variant] = platform.split('/');
  if (!os || !arch) return m;
  m.set('TARGETPLATFORM', platform);
  m.set('TARGETOS', os);
  m.set('TARGETARCH', arch);
  if (variant) m.set('TARGETVARIANT', variant);
  return m;
}

export interface Substitution {
  /** The substituted text (unset variables become empty, as in Docker), or null on a syntax error. */
  value: string | null;
  /** Variables that were referenced without a value and without a default. */
  unset: string[];
  error?: string;
}

/**
 * Docker's variable substitution (buildkit's shell lexer, the forms Dockerfiles use): `$VAR`,
 * `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`, `\$` escapes.
 * `get` returns a variable's value, or undefined when it is not set.
 */
export function substitute(text: string, get: (name: string) => string | undefined): Substitution {
  const unset: string[] = [];
  let out = '';
  let i = 0;
  const word = (s: string): string | null => {
    const r = substitute(s, get);
    unset.push(...r.unset);
    return r.value;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && text[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    if (text[i + 1] === '{') {
      const close = matchingBrace(text, i + 1);
      if (close < 0) return { value: null, unset, error: `unterminated "\${" in ${JSON.stringify(text)}` };
      const body = text.slice(i + 2, close);
      i = close + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([\s\S]*))?$/.exec(body);
      if (!m) return { value: null, unset, error: `unsupported substitution "\${${body}}"` };
      const [, name, op, arg] = m as unknown as [string, string, string | undefined, string | undefined];
      const v = get(name);
      const empty = v === undefined || (op?.startsWith(':') && v === '');
      if (!op) {
        if (v === undefined) unset.push(name);
        out += v ?? '';
      } else if (op.endsWith('-')) {
        if (empty) {
          const w = word(arg ?? '');
          if (w === null) return { value: null, unset, error: `bad default in "\${${body}}"` };
          out += w;
        } else out += v;
      } else if (op.endsWith('+')) {
        if (!empty) {
          const w = word(arg ?? '');
          if (w === null) return { value: null, unset, error: `bad alternative in "\${${body}}"` };
          out += w;
        }
      } else if (empty) return { value: null, unset, error: `${name}: ${arg || 'parameter not set'}` };
      else out += v;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
    if (!m) {
      out += '$';
      i++;
      continue;
    }
    const v = get(m[0]);
    if (v === undefined) unset.push(m[0]);
    out += v ?? '';
    i += 1 + m[0].length;
  }
  return { value: out, unset: [...new Set(unset)] };
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let j = open; j < text.length; j++) {
    if (text[j] === '{') depth++;
    else if (text[j] === '}' && --depth === 0) return j;
  }
  return -1;
}
