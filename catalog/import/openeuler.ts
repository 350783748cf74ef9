// Import of the openEuler application-image tree (openeuler-docker-images, or its metadata sample in
// catalog/seed/openeuler-images) into the catalog, as ONE commit.
//
// Sources, by trust: `catalog-index.csv` lists every app (the import fails loudly rather than drop
// one); `<Scene>/<app>/meta.yml` gives the real tag → Dockerfile map; `doc/image-info.yml` gives the
// portal card; `<Scene>/image-list.yml` maps image names to directories; `_files.txt` lists the real
// tree so Dockerfile paths can be checked. The data is messy on purpose: every quirk is kept where it
// can be, repaired where the repair is unambiguous, and reported as {file, line, field, message}.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, parseDocument, type Pair } from 'yaml';
import { z } from 'zod';
import type { CatalogStore } from '../store.ts';
import type { Problem } from '../format.ts';
import { APP_ID_RE, assertRelativePath, isTag, isVersion, toAppId } from '../names.ts';
import { zApp, type AppInput, type ContainerRecipe } from '../schema.ts';
import { newRunId } from '../run-id.ts';
import { parseCsv } from './csv.ts';
import { mapLicense } from './licenses.ts';
import { ociArch, parseTag } from './tags.ts';
import { mapUpstream, type RawUpstream } from './upstream.ts';

export interface ImportResult {
  /** Apps written to the catalog (every app of the index). */
  apps: number;
  hidden: number;
  /** Container recipes in total, and how many of them were derived from the index only. */
  recipes: number;
  derivedRecipes: number;
  /** Recipes that carry a `problem` (the pipeline will skip them with that reason). */
  brokenRecipes: number;
  problems: Problem[];
  /** The catalog commit, or null when the catalog already held exactly this import. */
  commit: string | null;
}

/** Input that cannot be read at all: nothing is committed. */
export class ImportError extends Error {
  readonly problems: Problem[];
  constructor(message: string, problems: Problem[] = []) {
    super(
      problems.length
        ? `${message}\n${problems.map((p) => `${p.file}:${p.line}: ${p.field ? `${p.field}: ` : ''}${p.message}`).join('\n')}`
        : message,
    );
    this.name = 'ImportError';
    this.problems = problems;
  }
}

const INDEX = 'catalog-index.csv';
const ORIGIN = 'openeuler/openeuler-docker-images';
const REQUIRED_COLUMNS = ['scene', 'dir', 'image_name', 'tags'] as const;

export interface ImportPlan {
  apps: AppInput[];
  problems: Problem[];
}

interface Row {
  line: number;
  get(col: string): string;
}

/** Read and map the tree without touching the catalog. Throws ImportError on unreadable input. */
export async function planOpenEulerImport(
  dirArg: string,
  o: { onProgress?: (done: number, total: number) => void } = {},
): Promise<ImportPlan> {
  const dir = resolve(dirArg);
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new ImportError(`${dirArg}: not a directory`);
  const csvText = await readFile(join(dir, INDEX), 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ImportError(`${dirArg}: cannot read ${INDEX} (${e.code ?? e.message})`);
  });
  const problems: Problem[] = [];
  const report = (file: string, line: number, field: string, message: string) =>
    problems.push({ file, line, field, message });

  const csv = parseCsv(csvText);
  const fatal = csv.errors.filter((e) => /unterminated/.test(e.message));
  if (fatal.length)
    throw new ImportError(
      `${INDEX} cannot be read`,
      fatal.map((e) => ({ file: INDEX, line: e.line, field: '', message: e.message })),
    );
  for (const e of csv.errors) report(INDEX, e.line, '', e.message);
  const [header, ...records] = csv.records;
  if (!header) throw new ImportError(`${INDEX} is empty`);
  const cols = header.fields.map((h) => h.trim());
  const missing = REQUIRED_COLUMNS.filter((c) => !cols.includes(c));
  if (missing.length) throw new ImportError(`${INDEX} lacks the columns ${missing.join(', ')}`);
  const rows: Row[] = records.map((r) => {
    if (r.fields.length !== cols.length)
      report(
        INDEX,
        r.line,
        '',
        `row has ${r.fields.length} fields, the header ${cols.length}; fields are read by position`,
      );
    return { line: r.line, get: (c: string) => (r.fields[cols.indexOf(c)] ?? '').trim() };
  });

  const sourceCommit = await readSourceCommit(dir);
  const imageLists = await readImageLists(dir, report);
  const ids = assignIds(rows, report);

  const apps: AppInput[] = [];
  o.onProgress?.(0, rows.length);
  for (const [i, row] of rows.entries()) {
    const app = await mapApp(dir, row, ids[i]!, imageLists, sourceCommit, report);
    const check = zApp.safeParse(app);
    if (!check.success) {
      // Our own mapping produced something the schema refuses: a bug or an input we do not
      // understand. Never drop the app silently; fail the whole import instead.
      throw new ImportError(
        `app ${app.id} (${INDEX}:${row.line}) does not validate`,
        check.error.issues.map((is) => ({
          file: INDEX,
          line: row.line,
          field: is.path.join('.'),
          message: is.message,
        })),
      );
    }
    apps.push(app);
    o.onProgress?.(i + 1, rows.length);
  }
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.field.localeCompare(b.field));
  return { apps, problems };
}

/** Import as one commit (none when the catalog already holds exactly this import). */
export async function importOpenEuler(
  store: CatalogStore,
  dir: string,
  o: { onProgress?: (done: number, total: number) => void } = {},
): Promise<ImportResult> {
  return commitOpenEulerImport(store, await planOpenEulerImport(dir, o));
}

/** Write a plan as one commit. */
export async function commitOpenEulerImport(store: CatalogStore, plan: ImportPlan): Promise<ImportResult> {
  const hidden = plan.apps.filter((a) => a.visibility === 'hidden').length;
  const containers = plan.apps.flatMap((a) => a.recipes?.container ?? []);
  const res = await store.commit(
    {
      subject: `import: ${plan.apps.length} apps from ${ORIGIN}`,
      body: `${plan.problems.length} problems reported by the importer.`,
      trailers: { Stage: 'import', 'Run-Id': newRunId() },
    },
    (tx) => {
      for (const a of plan.apps) tx.putApp(a);
    },
  );
  return {
    apps: plan.apps.length,
    hidden,
    recipes: containers.length,
    derivedRecipes: containers.filter((r) => r.derived?.length).length,
    brokenRecipes: containers.filter((r) => r.problem).length,
    problems: plan.problems,
    commit: res.changed ? res.sha : null,
  };
}

// ------------------------------------------------------------------------------------ helpers

type Report = (file: string, line: number, field: string, message: string) => void;

async function readSourceCommit(dir: string): Promise<string | undefined> {
  const readme = await readFile(join(dir, 'README.md'), 'utf8').catch(() => '');
  return /commit\s+`([0-9a-f]{40})`/.exec(readme)?.[1];
}

/** image name → app directory (repo-relative), from every <Scene>/image-list.yml. */
async function readImageLists(dir: string, report: Report): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const scenes = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  for (const scene of scenes) {
    const file = `${scene}/image-list.yml`;
    const text = await readFile(join(dir, file), 'utf8').catch(() => null);
    if (text === null) continue;
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
    for (const e of doc.errors)
      report(file, e.linePos?.[0]?.line ?? 1, '', `invalid YAML: ${e.message.split('\n')[0]}`);
    const images = doc.get('images', true);
    if (!isMap(images)) {
      report(file, 1, 'images', 'no images map');
      continue;
    }
    for (const pair of images.items as Pair[]) {
      const name = isScalar(pair.key) ? String(pair.key.value) : '';
      const target = isScalar(pair.value) ? String(pair.value.value ?? '') : '';
      const line = lc.linePos((pair.key as { range?: [number] } | null)?.range?.[0] ?? 0).line;
      if (!name || !target) {
        report(file, line, `images.${name}`, 'entry without a name or directory');
        continue;
      }
      const list = out.get(name) ?? [];
      list.push(`${scene}/${target}`);
      out.set(name, list);
    }
  }
  return out;
}

/** One id per row, unique: the image name, else `<scene>-<name>` for the second of a clash. */
function assignIds(rows: Row[], report: Report): string[] {
  const used = new Set<string>();
  return rows.map((row) => {
    const name = row.get('image_name');
    const dirName = row.get('dir').split('/').slice(1).join('-');
    const base = toAppId(name) ?? toAppId(dirName);
    if (!base)
      throw new ImportError(
        `${INDEX}:${row.line}: no usable app id from image_name ${JSON.stringify(name)} or dir ${JSON.stringify(row.get('dir'))}`,
      );
    if (base !== name)
      report(INDEX, row.line, 'image_name', `image name "${name}" is not a valid app id; using "${base}"`);
    let id = base;
    if (used.has(id)) {
      id = toAppId(`${row.get('scene')}-${base}`) ?? `${base}-${row.line}`;
      report(
        INDEX,
        row.line,
        'image_name',
        `image name "${name}" is used by another app too; this one (${row.get('dir')}) gets the id "${id}"`,
      );
    }
    used.add(id);
    return id;
  });
}

async function readOptional(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw new ImportError(`cannot read ${path}: ${e.message}`);
  });
}

const zImageInfo = z
  .object({
    name: z.string().optional(),
    category: z.string().optional(),
    description: z.string().optional(),
    environment: z.string().optional(),
    tags: z.string().optional(),
    download: z.string().optional(),
    usage: z.string().optional(),
    license: z.string().optional(),
    homepage: z.string().nullish(),
    'show-on-appstore': z.union([z.boolean(), z.string()]).optional(),
    similar_packages: z.array(z.unknown()).nullish(),
    dependency: z.array(z.unknown()).nullish(),
    upstream: z.record(z.string(), z.unknown()).nullish(),
  })
  .loose();

interface Located<T> {
  value: T;
  line: (key: string) => number;
  raw: string;
}

function parseYamlFile<T>(
  file: string,
  text: string,
  schema: z.ZodType<T>,
  report: Report,
): Located<T> | null {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
  if (doc.errors.length) {
    for (const e of doc.errors)
      report(file, e.linePos?.[0]?.line ?? 1, '', `invalid YAML: ${e.message.split('\n')[0]}`);
    return null;
  }
  const line = (key: string) => {
    const node = doc.get(key, true) as { range?: [number] } | undefined;
    if (node?.range) return lc.linePos(node.range[0]).line;
    const m = new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`, 'm').exec(text);
    return m ? text.slice(0, m.index).split('\n').length : 1;
  };
  const r = schema.safeParse(doc.toJS());
  if (!r.success) {
    for (const is of r.error.issues)
      report(file, line(String(is.path[0] ?? '')), is.path.join('.'), is.message);
    return null;
  }
  return { value: r.data, line, raw: text };
}

/** Text is English when its prose (code and URLs removed) is almost all ASCII. */
export function isEnglish(s: string): boolean {
  const prose = s
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/`[^`]*`/g, ' ')
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/\s+/g, '');
  if (!prose.length) return true;
  // A few Han characters anywhere (e.g. one intro line above a long ASCII table) make it Chinese.
  if ((prose.match(/\p{Script=Han}/gu) ?? []).length >= 3) return false;
  const nonAscii = [...prose].filter((c) => c.charCodeAt(0) > 0x7f).length;
  return nonAscii / prose.length < 0.02;
}

function i18n(s: string | undefined | null): { zh?: string; en?: string } | undefined {
  const t = (s ?? '').replace(/\s+$/, '');
  if (!t.trim()) return undefined;
  return isEnglish(t) ? { en: t + '\n' } : { zh: t + '\n' };
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** The first sentence (Chinese or Latin punctuation), at most 200 characters. */
function firstSentence(s: string): string {
  const t = oneLine(s);
  const m = /^(.+?[。！？]|.+?[.!?](?=\s|$))/.exec(t);
  const out = m ? m[1]! : t;
  return out.length > 200 ? out.slice(0, 199) + '…' : out;
}

export function prettyTitle(name: string): string {
  return name
    .split(/[-_/]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

const DEFAULT_CATEGORY: Record<string, string> = {
  ai: 'ai',
  base: 'base',
  bigdata: 'bigdata',
  cloud: 'cloud',
  database: 'database',
  distroless: 'distroless',
  hpc: 'hpc',
  others: 'others',
  security: 'security',
  storage: 'storage',
};

function normaliseCategory(raw: string, scene: string, file: string, line: number, report: Report): string {
  const c = raw.trim().toLowerCase();
  const fallback =
    DEFAULT_CATEGORY[scene.toLowerCase()] ?? (toAppId(scene) ?? 'others').replace(/[._]/g, '-');
  if (!c) {
    report(file, line, 'category', `no category; using "${fallback}" from scene ${scene}`);
    return fallback;
  }
  if (c === 'other') {
    report(file, line, 'category', 'category "other" read as "others"');
    return 'others';
  }
  if (!/^[a-z0-9-]+$/.test(c)) {
    report(file, line, 'category', `category "${raw}" is not a slug; using "${fallback}"`);
    return fallback;
  }
  return c;
}

function isHidden(v: string | boolean | undefined): boolean {
  return v === false || (typeof v === 'string' && v.trim().toLowerCase() === 'false');
}

function validUrl(s: string | undefined | null): string | undefined {
  if (!s?.trim()) return undefined;
  return z.string().url().safeParse(s.trim()).success && /^https?:/.test(s.trim()) ? s.trim() : undefined;
}

function listOfStrings(v: unknown[] | null | undefined): string[] | undefined {
  if (!v?.length) return undefined;
  const out = v
    .map((x) => {
      if (typeof x === 'string') return x.trim();
      if (x && typeof x === 'object')
        return Object.entries(x as Record<string, unknown>)
          .map(([k, d]) => (d === null || d === undefined ? k : `${k}: ${String(d)}`))
          .join('; ');
      return x === null || x === undefined ? '' : String(x);
    })
    .filter(Boolean);
  return out.length ? out : undefined;
}

/** Markdown tables whose row ends in a stray backslash (`| … |\`): strip it, report the line. */
function fixTagsTable(text: string, file: string, fileText: string, report: Report): string {
  const lines = fileText.split('\n');
  lines.forEach((l, i) => {
    if (/^\s*\|.*\|\s*\\\s*$/.test(l))
      report(file, i + 1, 'tags', 'stray backslash after a Markdown table row; removed');
  });
  return text.replace(/^(\s*\|.*\|)\s*\\\s*$/gm, '$1');
}

const DEFAULT_ARCHES = ['amd64', 'arm64'] as const;

/** Normalise a meta.yml Dockerfile path to app-relative; returns the path and what was wrong. */
function normalisePath(
  raw: string,
  appDirPath: string,
): { path: string | null; notes: string[]; error?: string } {
  const notes: string[] = [];
  let p = raw.trim();
  if (p.startsWith('/')) {
    p = p.replace(/^\/+/, '');
    notes.push(`path "${raw}" has a leading slash`);
  }
  if (p.startsWith(`${appDirPath}/`)) {
    p = p.slice(appDirPath.length + 1);
    notes.push(`path "${raw}" is repository-relative, not app-relative`);
  }
  try {
    return { path: assertRelativePath('Dockerfile path', p), notes };
  } catch (e) {
    return { path: null, notes, error: (e as Error).message };
  }
}

async function mapApp(
  root: string,
  row: Row,
  id: string,
  imageLists: Map<string, string[]>,
  commit: string | undefined,
  report: Report,
): Promise<AppInput> {
  const scene = row.get('scene');
  const appDirPath = row.get('dir').replace(/^\/+|\/+$/g, '');
  const imageName = row.get('image_name');
  const name = APP_ID_RE.test(imageName) ? imageName : id;

  // The directory must stay inside the tree before we read anything from it.
  let safeDir: string | null = null;
  try {
    safeDir = assertRelativePath('app dir', appDirPath);
    if (!safeDir.startsWith(`${scene}/`))
      report(INDEX, row.line, 'dir', `dir "${appDirPath}" is not under scene ${scene}`);
  } catch (e) {
    report(INDEX, row.line, 'dir', (e as Error).message);
  }

  const listed = imageLists.get(imageName);
  if (imageLists.size && !listed)
    report(INDEX, row.line, 'image_name', `image "${imageName}" is not in any image-list.yml`);
  else if (listed && safeDir && !listed.includes(safeDir))
    report(
      INDEX,
      row.line,
      'image_name',
      `image-list.yml maps "${imageName}" to ${listed.join(', ')}, the index to ${safeDir}`,
    );

  const metaFile = `${safeDir}/meta.yml`;
  const infoFile = `${safeDir}/doc/image-info.yml`;
  const metaText = safeDir ? await readOptional(join(root, metaFile)) : null;
  const infoText = safeDir ? await readOptional(join(root, infoFile)) : null;
  const filesText = safeDir ? await readOptional(join(root, safeDir, '_files.txt')) : null;
  const files =
    filesText === null
      ? null
      : new Set(
          filesText
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean),
        );
  const info = infoText === null ? null : parseYamlFile(infoFile, infoText, zImageInfo, report);

  // ---------------------------------------------------------------- recipes
  let recipes: ContainerRecipe[] | null = null;
  if (metaText !== null) recipes = recipesFromMeta(metaFile, metaText, safeDir!, files, report);
  if (recipes === null) {
    if (metaText !== null) report(metaFile, 1, '', 'meta.yml unusable; recipes derived from the index tags');
    recipes = recipesFromIndex(row, report);
  }
  const tagCount = Number(row.get('tag_count'));
  if (
    row.get('tag_count') &&
    Number.isInteger(tagCount) &&
    tagCount !== row.get('tags').split(/\s+/).filter(Boolean).length
  )
    report(
      INDEX,
      row.line,
      'tag_count',
      `tag_count ${tagCount} differs from the ${row.get('tags').split(/\s+/).filter(Boolean).length} tags listed`,
    );

  // ---------------------------------------------------------------- the card
  const v = info?.value;
  const fromInfo = (key: string) => (v ? info.line(key) : row.line);
  const cardFile = v ? infoFile : INDEX;
  const category = normaliseCategory(
    v?.category ?? row.get('category'),
    scene,
    cardFile,
    v ? info.line('category') : row.line,
    report,
  );

  const hidden = isHidden(v?.['show-on-appstore']) || isHidden(row.get('show_on_appstore'));

  const licenseRaw = v?.license ?? row.get('license');
  const lic = mapLicense(licenseRaw);
  if (lic?.unmapped) report(cardFile, fromInfo('license'), 'license', lic.unmapped);
  const license = lic ? { ...(lic.spdx ? { spdx: lic.spdx } : {}), text: lic.text } : {};

  const homepageRaw = v?.homepage ?? row.get('homepage');
  const homepage = validUrl(homepageRaw);
  if (homepageRaw?.trim() && !homepage)
    report(cardFile, fromInfo('homepage'), 'homepage', `"${homepageRaw}" is not an http(s) URL`);

  const rawUp: RawUpstream = v?.upstream
    ? Object.fromEntries(
        Object.entries(v.upstream).map(([k, x]) => [k, x === null || x === undefined ? '' : String(x)]),
      )
    : {
        backend: row.get('upstream_backend'),
        version_url: row.get('upstream_version_url'),
        version_scheme: row.get('upstream_version_scheme'),
      };
  const up = mapUpstream(rawUp);
  for (const n of up.notes) report(cardFile, fromInfo('upstream'), `upstream.${n.field}`, n.message);

  const title = prettyTitle(v?.name?.trim() || imageName);
  let tagsDoc = v?.tags;
  if (tagsDoc && info) tagsDoc = fixTagsTable(tagsDoc, infoFile, info.raw, report);
  const description = i18n(v?.description);
  const summary = v?.description?.trim() ? i18n(firstSentence(v.description)) : undefined;
  const docs = Object.fromEntries(
    (
      [
        ['environment', i18n(v?.environment)],
        ['download', i18n(v?.download)],
        ['usage', i18n(v?.usage)],
        ['tags', i18n(tagsDoc)],
      ] as const
    ).filter(([, t]) => t),
  );
  if (summary) for (const k of Object.keys(summary) as ('zh' | 'en')[]) summary[k] = summary[k]!.trim();
  if (description)
    for (const k of Object.keys(description) as ('zh' | 'en')[]) description[k] = description[k]!.trim();

  return {
    id,
    name,
    title: { zh: title, en: title },
    summary: summary ?? {},
    description: description ?? {},
    category,
    scene,
    ...(homepage ? { homepage } : {}),
    license,
    visibility: hidden ? 'hidden' : 'public',
    ...(up.upstream ? { upstream: up.upstream } : {}),
    recipes: { container: recipes, cloud: [], wsl: [] },
    docs,
    ...(listOfStrings(v?.similar_packages) ? { similar: listOfStrings(v?.similar_packages) } : {}),
    ...(listOfStrings(v?.dependency) ? { dependencies: listOfStrings(v?.dependency) } : {}),
    source: { origin: ORIGIN, dir: safeDir ?? appDirPath, ...(commit ? { commit } : {}) },
  };
}

function checkTag(tag: string, file: string, line: number, field: string, report: Report) {
  if (!isTag(tag)) {
    report(file, line, field, `tag "${tag}" is not a valid OCI tag; skipped`);
    return null;
  }
  const parsed = parseTag(tag);
  if (!parsed) {
    report(
      file,
      line,
      field,
      `tag "${tag}" does not match <version>-oe<YYMM>(lts|spN) and cannot be read; skipped`,
    );
    return null;
  }
  if (!parsed.strict)
    report(
      file,
      line,
      field,
      `tag "${tag}" does not match <version>-oe<YYMM>(lts|spN); read as ${parsed.version} on ${parsed.osVersion}`,
    );
  if (!isVersion(parsed.version)) {
    report(file, line, field, `version "${parsed.version}" has unsafe characters; skipped`);
    return null;
  }
  return parsed;
}

function recipesFromIndex(row: Row, report: Report): ContainerRecipe[] {
  const archRaw = row.get('arch_restricted');
  const arch = archRaw ? ociArch(archRaw) : null;
  if (archRaw && !arch)
    report(INDEX, row.line, 'arch_restricted', `unknown architecture "${archRaw}"; using the defaults`);
  const unresolved = Number(row.get('meta_paths_unresolved') || 0);
  if (unresolved > 0)
    report(
      INDEX,
      row.line,
      'meta_paths_unresolved',
      `${unresolved} meta.yml path(s) of this app do not resolve upstream; derived Dockerfile paths are unverified`,
    );
  const out: ContainerRecipe[] = [];
  const seen = new Set<string>();
  for (const tag of row.get('tags').split(/\s+/).filter(Boolean)) {
    if (seen.has(tag)) {
      report(INDEX, row.line, 'tags', `tag "${tag}" listed twice`);
      continue;
    }
    seen.add(tag);
    const p = checkTag(tag, INDEX, row.line, 'tags', report);
    if (!p) continue;
    out.push({
      kind: 'container',
      tag,
      dockerfile: `${p.version}/${p.osVersion}/Dockerfile`,
      version: p.version,
      osVersion: p.osVersion,
      arches: arch ? [arch] : [...DEFAULT_ARCHES],
      derived: arch ? ['dockerfile', 'arches'] : ['dockerfile'],
    });
  }
  return out;
}

/** Recipes from meta.yml, or null when the file cannot be used at all. */
function recipesFromMeta(
  file: string,
  text: string,
  appDirPath: string,
  files: Set<string> | null,
  report: Report,
): ContainerRecipe[] | null {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
  if (doc.errors.length) {
    for (const e of doc.errors)
      report(file, e.linePos?.[0]?.line ?? 1, '', `invalid YAML: ${e.message.split('\n')[0]}`);
    return null;
  }
  if (!isMap(doc.contents)) {
    report(file, 1, '', 'meta.yml is not a map of tag → {path, arch}');
    return null;
  }
  const lines = text.split('\n');
  const blank = lines.map((l, i) => (/^\s*$/.test(l) && i < lines.length - 1 ? i + 1 : 0)).filter(Boolean);
  if (blank.length) report(file, blank[0]!, '', `blank line(s) inside meta.yml at line ${blank.join(', ')}`);

  const out: ContainerRecipe[] = [];
  const seen = new Set<string>();
  for (const pair of doc.contents.items as Pair[]) {
    const tag = isScalar(pair.key) ? String(pair.key.value) : '';
    const line = lc.linePos((pair.key as { range?: [number] } | null)?.range?.[0] ?? 0).line;
    if (seen.has(tag)) {
      report(file, line, tag, `tag "${tag}" appears twice; the first entry is kept`);
      continue;
    }
    seen.add(tag);
    const parsed = checkTag(tag, file, line, tag, report);
    if (!parsed) continue;
    const entry = pair.value && isMap(pair.value) ? (pair.value.toJSON() as Record<string, unknown>) : null;
    const derivedPath = `${parsed.version}/${parsed.osVersion}/Dockerfile`;
    const recipe: ContainerRecipe = {
      kind: 'container',
      tag,
      dockerfile: derivedPath,
      version: parsed.version,
      osVersion: parsed.osVersion,
      arches: [...DEFAULT_ARCHES],
    };
    const problems: string[] = [];
    const derived: string[] = [];
    const rawPath = typeof entry?.path === 'string' ? entry.path : '';
    if (!rawPath) {
      report(file, line, `${tag}.path`, 'no path; derived from the tag');
      derived.push('dockerfile');
      problems.push('meta.yml gives no Dockerfile path');
    } else {
      const n = normalisePath(rawPath, appDirPath);
      for (const note of n.notes)
        report(file, line + 1, `${tag}.path`, `${note}; normalised to "${n.path ?? '?'}"`);
      if (!n.path) {
        report(file, line + 1, `${tag}.path`, `${n.error}; recipe marked broken`);
        problems.push(`Dockerfile path "${rawPath}" is not usable: ${n.error}`);
        derived.push('dockerfile');
      } else {
        recipe.dockerfile = n.path;
        const [verDir, osDir] = n.path.split('/');
        if (verDir !== parsed.version) {
          if (verDir!.replace(/\+/g, '_') === parsed.version) {
            // OCI tags cannot hold '+': 23_13 in the tag is version 23+13 (the directory name).
            report(
              file,
              line,
              tag,
              `tag version "${parsed.version}" spells "+" as "_"; version read as "${verDir}"`,
            );
            recipe.version = verDir!;
          } else if (
            parsed.version.endsWith(verDir!) &&
            /^[a-z]+$/i.test(parsed.version.slice(0, -verDir!.length))
          ) {
            // e.g. pytorch2.1.0.a1-… → directory 2.1.0.a1-…: the tag carries the image name as prefix.
            report(
              file,
              line,
              tag,
              `tag version "${parsed.version}" carries a name prefix; version read as "${verDir}"`,
            );
            recipe.version = verDir!;
          } else {
            report(
              file,
              line + 1,
              `${tag}.path`,
              `tag version ${parsed.version} but the Dockerfile is under version dir ${verDir}`,
            );
            problems.push(`tag version ${parsed.version} but Dockerfile ${n.path} is for version ${verDir}`);
          }
        }
        if (osDir && osDir !== parsed.osVersion) {
          report(
            file,
            line + 1,
            `${tag}.path`,
            `tag OS ${parsed.osVersion} but the Dockerfile is under OS dir ${osDir}`,
          );
          problems.push(`tag OS ${parsed.osVersion} but Dockerfile ${n.path} is for ${osDir}`);
        }
        if (files && !files.has(`${appDirPath}/${n.path}`)) {
          report(file, line + 1, `${tag}.path`, `${n.path} does not exist in the recipe tree (_files.txt)`);
          problems.push(`Dockerfile ${n.path} not found in the recipe tree`);
        }
      }
    }
    if (entry && entry.arch !== undefined && entry.arch !== null) {
      const a = ociArch(String(entry.arch));
      if (a) recipe.arches = [a];
      else
        report(file, line, `${tag}.arch`, `unknown architecture "${String(entry.arch)}"; using the defaults`);
    }
    for (const k of Object.keys(entry ?? {}))
      if (k !== 'path' && k !== 'arch') report(file, line, `${tag}.${k}`, `unknown key "${k}" ignored`);
    if (problems.length) recipe.problem = problems.join('; ');
    if (derived.length) recipe.derived = derived;
    out.push(recipe);
  }
  return out;
}
