// Import of openEuler's application-image repository (openeuler-docker-images) as it is upstream, from
// its own layout, into the catalog as ONE commit. No derived index: the apps are the directories the
// walk finds (`<Scene>/<app>[/<sub>]/meta.yml`), named by `<Scene>/image-list.yml`; `meta.yml` maps
// tag → Dockerfile path (and optional arch); `doc/image-info.yml` is the portal card; every recipe file
// is read from the real tree and understood with catalog/dockerfile (stages, resolved bases, ARGs).
// The data is messy on purpose: every quirk is kept where it can be, repaired where the repair is
// unambiguous, and reported as {file, line, field, message}. A recipe whose Dockerfile is missing,
// unreadable, outside the tree or not understood is kept as broken (`problem`), never built.
// Re-importing keeps each recipe's commit unless its directory changed, and marks apps whose
// directory disappeared upstream as retired instead of deleting them.
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { join, posix, resolve, sep } from 'node:path';
import pLimit from 'p-limit';
import { LineCounter, isMap, isScalar, parseDocument, type Pair } from 'yaml';
import { z } from 'zod';
import type { CatalogStore } from '../store.ts';
import { toStableJson, type Problem } from '../format.ts';
import { planWithWslRecipes } from './wsl.ts';
import { REPO_NAME_MAX, assertRelativePath, isAppId, isTag, isVersion, toAppId } from '../names.ts';
import { zApp, type App, type AppInput, type ContainerRecipe, type RecipeAnalysis } from '../schema.ts';
import { newRunId } from '../run-id.ts';
import { escapeLogValue } from '../text.ts';
import { analyseRecipeFile, builderOf } from '../dockerfile/index.ts';
import { mapLicense } from './licenses.ts';
import { ociArch, parseTag } from './tags.ts';
import { mapUpstream, type RawUpstream } from './upstream.ts';

export interface ImportResult {
  /** Apps in the imported tree (all written to the catalog). */
  apps: number;
  hidden: number;
  /** Apps of an earlier import whose directory is gone: marked retired, kept. */
  retired: number;
  /** Container recipes in total. */
  recipes: number;
  /** Recipes that carry a `problem` (the pipeline will skip them with that reason). */
  brokenRecipes: number;
  problems: Problem[];
  /** The recipe repository commit, when known. */
  sourceCommit: string | null;
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

export const ORIGIN = 'openeuler/openeuler-docker-images';
/** Namespace openEuler publishes its application images under (docker.io, quay.io, hub.oepkgs.net). */
const IMAGE_NAMESPACE = 'openeuler';
const IMAGE_HOSTS = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'quay.io',
  'hub.oepkgs.net',
]);
const SHA_RE = /^[a-f0-9]{40}$/;
/** How deep below a scene an app directory may be (AI/opea/chatqna is 2). */
const MAX_APP_DEPTH = 3;

export interface ImportPlan {
  apps: AppInput[];
  problems: Problem[];
  /** Recipe repository and commit the plan was read from. */
  repo?: string;
  commit?: string;
}

export interface PlanOptions {
  /** The repository the tree came from (a git URL), recorded per app. */
  repo?: string;
  /** The tree's commit; default: HEAD when the directory is a git work tree, else the README's `commit`. */
  commit?: string;
  onProgress?: (done: number, total: number) => void;
}

type Report = (file: string, line: number, field: string, message: string) => void;

// ------------------------------------------------------------------------------------ the tree

type Read = { kind: 'ok'; text: string } | { kind: 'missing' } | { kind: 'outside'; why: string };

/** Reads inside the repository only: symlinks are resolved and must stay in the tree. */
class Tree {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  private async inside(rel: string): Promise<{ ok: true; real: string } | { ok: false; read: Read }> {
    const abs = join(this.root, rel);
    let real: string;
    try {
      real = await realpath(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        // A dangling symlink is "missing" only when it points inside the tree.
        const l = await lstat(abs).catch(() => null);
        if (l?.isSymbolicLink()) {
          const target = await readlink(abs);
          const to = resolve(join(this.root, posix.dirname(rel)), target);
          if (to !== this.root && !to.startsWith(this.root + sep))
            return {
              ok: false,
              read: { kind: 'outside', why: `is a symlink to ${target}, outside the tree` },
            };
        }
        return { ok: false, read: { kind: 'missing' } };
      }
      return { ok: false, read: { kind: 'outside', why: `cannot be read (${code ?? String(e)})` } };
    }
    if (real !== this.root && !real.startsWith(this.root + sep))
      return { ok: false, read: { kind: 'outside', why: 'resolves outside the tree (symlink)' } };
    return { ok: true, real };
  }

  async read(rel: string): Promise<Read> {
    const r = await this.inside(rel);
    if (!r.ok) return r.read;
    try {
      const st = await stat(r.real);
      if (!st.isFile()) return { kind: 'missing' };
      return { kind: 'ok', text: await readFile(r.real, 'utf8') };
    } catch (e) {
      return { kind: 'outside', why: `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
    }
  }

  async isDir(rel: string): Promise<boolean> {
    const r = await this.inside(rel);
    return r.ok && (await stat(r.real).catch(() => null))?.isDirectory() === true;
  }

  /** Directory entries without following symlinks (null when absent). */
  async entries(rel: string) {
    return readdir(join(this.root, rel), { withFileTypes: true }).catch(() => null);
  }

  /** sha256 over every file below `rel` (paths, sizes, contents; symlinks by target), sorted. */
  digest(rel: string): Promise<string> {
    return directoryDigest(this.root, rel);
  }
}

/**
 * sha256 over every file below `rel` of `root` (paths, sizes, contents; symlinks by target), sorted:
 * a recipe's treeDigest. The build stage recomputes it for recipes read from a plain directory.
 */
export async function directoryDigest(root: string, rel: string): Promise<string> {
  const entries = (d: string) => readdir(join(root, d), { withFileTypes: true }).catch(() => null);
  const h = createHash('sha256');
  const walk = async (dir: string) => {
    const ents = (await entries(dir)) ?? [];
    ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of ents) {
      const p = `${dir}/${e.name}`;
      if (e.isSymbolicLink()) h.update(`L ${p}\0${await readlink(join(root, p))}\0`);
      else if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const bytes = await readFile(join(root, p));
        h.update(`F ${p}\0${bytes.length}\0`).update(bytes);
      }
    }
  };
  await walk(rel);
  return `sha256:${h.digest('hex')}`;
}

// ------------------------------------------------------------------------------------ the plan

interface ImageListEntry {
  name: string;
  /** Repository-relative app directory. */
  dir: string;
  file: string;
  line: number;
}

interface AppDir {
  scene: string;
  /** Repository-relative directory, e.g. AI/opea/chatqna. */
  dir: string;
  hasMeta: boolean;
}

/** Read and map the tree without touching the catalog. Throws ImportError on unreadable input. */
export async function planOpenEulerImport(dirArg: string, o: PlanOptions = {}): Promise<ImportPlan> {
  const dir = resolve(dirArg);
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new ImportError(`${dirArg}: not a directory`);
  const tree = new Tree(await realpath(dir));
  const problems: Problem[] = [];
  const report: Report = (file, line, field, message) => problems.push({ file, line, field, message });

  const commit = o.commit ?? (await readmeCommit(tree));
  const scenes = ((await tree.entries('.')) ?? [])
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const lists = await readImageLists(tree, scenes, report);
  const appDirs = await findAppDirs(tree, scenes, lists, report);
  if (!appDirs.length)
    throw new ImportError(
      `${dirArg}: no app directories found (expected <Scene>/<app>/meta.yml, as in openeuler-docker-images)`,
    );
  const idents = assignIdentities(appDirs, lists, report);

  const limit = pLimit(16);
  let done = 0;
  o.onProgress?.(0, appDirs.length);
  const apps = await Promise.all(
    appDirs.map((a, i) =>
      limit(async () => {
        const app = await mapApp(
          tree,
          a,
          idents[i]!,
          { commit, repo: o.repo, ...(o.repo ? {} : { path: tree.root }) },
          report,
        );
        o.onProgress?.(++done, appDirs.length);
        return app;
      }),
    ),
  );
  markWharfBuiltBases(apps);
  for (const [i, app] of apps.entries()) {
    const check = zApp.safeParse(app);
    if (!check.success) {
      // Our own mapping produced something the schema refuses: a bug or an input we do not
      // understand. Never drop the app silently; fail the whole import instead.
      throw new ImportError(
        `app ${app.id} (${appDirs[i]!.dir}) does not validate`,
        check.error.issues.map((is) => ({
          file: `${appDirs[i]!.dir}/meta.yml`,
          line: 1,
          field: is.path.join('.'),
          message: is.message,
        })),
      );
    }
  }
  problems.sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.field.localeCompare(b.field) ||
      a.message.localeCompare(b.message),
  );
  return { apps, problems, ...(o.repo ? { repo: o.repo } : {}), ...(commit ? { commit } : {}) };
}

/** The sample's README names the upstream commit it was taken from. */
async function readmeCommit(tree: Tree): Promise<string | undefined> {
  const r = await tree.read('README.md');
  return r.kind === 'ok' ? /commit\s+`([0-9a-f]{40})`/.exec(r.text)?.[1] : undefined;
}

/** Every `<Scene>/image-list.yml` entry: image name → directory, with its line. */
async function readImageLists(tree: Tree, scenes: string[], report: Report): Promise<ImageListEntry[]> {
  const out: ImageListEntry[] = [];
  for (const scene of scenes) {
    const file = `${scene}/image-list.yml`;
    const r = await tree.read(file);
    if (r.kind === 'outside') report(file, 1, '', `${file} ${r.why}; ignored`);
    if (r.kind !== 'ok') continue;
    const lc = new LineCounter();
    const doc = parseDocument(r.text, { lineCounter: lc, uniqueKeys: false });
    for (const e of doc.errors)
      report(file, e.linePos?.[0]?.line ?? 1, '', `invalid YAML: ${e.message.split('\n')[0]}`);
    const images = doc.get('images', true);
    if (!isMap(images)) {
      report(file, 1, 'images', 'no images map');
      continue;
    }
    for (const pair of images.items as Pair[]) {
      const name = isScalar(pair.key) ? String(pair.key.value).trim() : '';
      const target = isScalar(pair.value) ? String(pair.value.value ?? '').trim() : '';
      const line = lc.linePos((pair.key as { range?: [number] } | null)?.range?.[0] ?? 0).line;
      if (!name || !target) {
        report(file, line, `images.${name}`, 'entry without a name or directory');
        continue;
      }
      let rel: string;
      try {
        rel = assertRelativePath('image-list directory', target.replace(/\/+$/, ''));
      } catch (e) {
        report(file, line, `images.${name}`, `${(e as Error).message}; ignored`);
        continue;
      }
      out.push({ name, dir: `${scene}/${rel}`, file, line });
    }
  }
  return out;
}

/**
 * App directories: every directory with a meta.yml below a scene (depth ≤ 3; symlinked directories are
 * not followed), and every image-list.yml directory that exists even without one.
 */
async function findAppDirs(
  tree: Tree,
  scenes: string[],
  lists: ImageListEntry[],
  report: Report,
): Promise<AppDir[]> {
  const found = new Map<string, AppDir>();
  const walk = async (scene: string, rel: string, depth: number) => {
    const ents = await tree.entries(rel);
    if (!ents) return;
    if (depth > 0 && ents.some((e) => e.name === 'meta.yml' && (e.isFile() || e.isSymbolicLink()))) {
      found.set(rel, { scene, dir: rel, hasMeta: true });
      return;
    }
    if (depth >= MAX_APP_DEPTH) return;
    for (const e of ents) {
      const p = `${rel}/${e.name}`;
      if (e.isSymbolicLink()) {
        const real = await realpath(join(tree.root, p)).catch(() => null);
        if (real && real !== tree.root && !real.startsWith(tree.root + sep))
          report(p, 1, '', `symlink to ${await readlink(join(tree.root, p))} leaves the tree; not followed`);
        continue;
      }
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'doc') await walk(scene, p, depth + 1);
    }
  };
  for (const scene of scenes) await walk(scene, scene, 0);

  const missing = new Map<string, ImageListEntry[]>();
  for (const l of lists) {
    if (found.has(l.dir)) continue;
    if (await tree.isDir(l.dir)) {
      found.set(l.dir, { scene: l.dir.split('/')[0]!, dir: l.dir, hasMeta: false });
      continue;
    }
    const list = missing.get(l.file) ?? [];
    list.push(l);
    missing.set(l.file, list);
  }
  // The sample (and forks) carry the full image lists for fewer app directories: one problem per file.
  for (const [file, ls] of missing)
    report(
      file,
      ls[0]!.line,
      'images',
      `${ls.length} image(s) name directories that are not in this tree (first: ${ls
        .slice(0, 5)
        .map((l) => `${l.name} → ${l.dir}`)
        .join(', ')}${ls.length > 5 ? ', …' : ''})`,
    );
  return [...found.values()].sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0));
}

interface Identity {
  id: string;
  /** Publish repository. */
  name: string;
  /** The image name upstream (image-list.yml key, or the directory). */
  imageName: string;
  /** Title suffix that tells apart two apps of the same image name. */
  titleSuffix?: string;
}

/**
 * One id and one publish repository per app directory, unique across the catalog. The image name of
 * image-list.yml is both when it is free; a second directory with the same image name (AI/tensorrt
 * and HPC/tensorrt) gets `<scene>-<name>` for both, is titled "<Name> (<Scene>)" and is reported.
 */
function assignIdentities(appDirs: AppDir[], lists: ImageListEntry[], report: Report): Identity[] {
  const namesOf = new Map<string, ImageListEntry[]>();
  for (const l of lists) namesOf.set(l.dir, [...(namesOf.get(l.dir) ?? []), l]);
  const used = new Set<string>();
  return appDirs.map((a) => {
    const listed = namesOf.get(a.dir) ?? [];
    const rest = a.dir.split('/').slice(1).join('-');
    if (!listed.length)
      report(
        `${a.scene}/image-list.yml`,
        1,
        'images',
        `directory ${a.dir} is not listed; image name "${rest}" from the directory`,
      );
    for (const extra of listed.slice(1))
      report(
        extra.file,
        extra.line,
        `images.${extra.name}`,
        `${a.dir} is also listed as "${listed[0]!.name}"; this name is ignored`,
      );
    const imageName = listed[0]?.name ?? rest;
    const where = listed[0]
      ? ([listed[0].file, listed[0].line] as const)
      : ([`${a.dir}/meta.yml`, 1] as const);
    let id = toAppId(imageName) ?? toAppId(rest) ?? toAppId(a.dir);
    if (!id)
      throw new ImportError(
        `${where[0]}:${where[1]}: no usable app id from image name ${JSON.stringify(imageName)}`,
      );
    if (id !== imageName)
      report(where[0], where[1], 'images', `image name "${imageName}" is not a valid app id; using "${id}"`);
    let titleSuffix: string | undefined;
    if (used.has(id)) {
      const scoped = toAppId(`${a.scene}-${id}`);
      const next = scoped && !used.has(scoped) ? scoped : `${id}-${used.size}`;
      report(
        where[0],
        where[1],
        'images',
        `image name "${imageName}" is used by another app too; this one (${a.dir}) gets the id and publish repository "${next}"`,
      );
      id = next;
      titleSuffix = a.scene;
    }
    if (id.length > REPO_NAME_MAX || !isAppId(id))
      throw new ImportError(
        `${where[0]}:${where[1]}: app id "${id}" is longer than ${REPO_NAME_MAX} characters`,
      );
    used.add(id);
    return { id, name: id, imageName, ...(titleSuffix ? { titleSuffix } : {}) };
  });
}
// ------------------------------------------------------------------------------------ one app

const LOGO_RE = /^logo\.(?:png|jpe?g|svg|webp|gif)$/i;

async function mapApp(
  tree: Tree,
  a: AppDir,
  ident: Identity,
  src: { commit: string | undefined; repo: string | undefined; path?: string },
  report: Report,
): Promise<AppInput> {
  const { scene, dir } = a;
  const metaFile = `${dir}/meta.yml`;
  const infoFile = `${dir}/doc/image-info.yml`;
  const readReported = async (file: string) => {
    const r = await tree.read(file);
    if (r.kind === 'outside') report(file, 1, '', `${file} ${r.why}; ignored`);
    return r.kind === 'ok' ? r.text : null;
  };
  const metaText = a.hasMeta ? await readReported(metaFile) : null;
  const infoText = await readReported(infoFile);
  const info = infoText === null ? null : parseYamlFile(infoFile, infoText, zImageInfo, report);
  const appEntries = (await tree.entries(dir)) ?? [];
  const readme = appEntries.find((e) => /^readme(?:\.md)?$/i.test(e.name) && e.isFile())?.name;
  const logo = ((await tree.entries(`${dir}/doc/picture`)) ?? []).find(
    (e) => e.isFile() && LOGO_RE.test(e.name),
  )?.name;

  // ---------------------------------------------------------------- recipes
  let recipes: ContainerRecipe[] = [];
  if (!a.hasMeta)
    report(metaFile, 1, '', `${dir} is listed in image-list.yml but has no meta.yml; the app has no recipes`);
  else if (metaText !== null)
    recipes = (await recipesFromMeta(tree, metaFile, metaText, dir, src.commit, report)) ?? [];
  else report(metaFile, 1, '', 'meta.yml cannot be read; the app has no recipes');

  // ---------------------------------------------------------------- the card
  const v = info?.value;
  const fromInfo = (key: string) => (v ? info.line(key) : 1);
  const cardFile = v ? infoFile : metaFile;
  if (!v && infoText === null) report(infoFile, 1, '', 'no doc/image-info.yml; the portal card is minimal');
  const category = normaliseCategory(v?.category ?? '', scene, cardFile, fromInfo('category'), report);
  const hidden = isHidden(v?.['show-on-appstore']);

  const lic = mapLicense(v?.license ?? '');
  if (lic?.unmapped) report(cardFile, fromInfo('license'), 'license', lic.unmapped);
  const license = lic ? { ...(lic.spdx ? { spdx: lic.spdx } : {}), text: lic.text } : {};

  const homepageRaw = v?.homepage;
  const homepage = validUrl(homepageRaw);
  if (homepageRaw?.trim() && !homepage)
    report(cardFile, fromInfo('homepage'), 'homepage', `"${homepageRaw}" is not an http(s) URL`);

  const rawUp: RawUpstream = v?.upstream
    ? Object.fromEntries(
        Object.entries(v.upstream).map(([k, x]) => [k, x === null || x === undefined ? '' : String(x)]),
      )
    : {};
  const up = mapUpstream(rawUp);
  for (const n of up.notes) report(cardFile, fromInfo('upstream'), `upstream.${n.field}`, n.message);

  let tagsDoc = v?.tags;
  if (tagsDoc && info) tagsDoc = fixTagsTable(tagsDoc, infoFile, info.raw, report);
  const readmeText = readme ? await readReported(`${dir}/${readme}`) : null;
  // The name as the app's own texts spell it (MySQL, PostgreSQL, vLLM CPU), else as image-info.yml
  // writes it; never a capitalisation made up here.
  const baseTitle = nameFromData(v?.name?.trim() || ident.imageName, [
    v?.description ?? '',
    (readmeText ?? '').slice(0, 8000),
    tagsDoc ?? '',
  ]);
  const title = ident.titleSuffix ? `${baseTitle} (${ident.titleSuffix})` : baseTitle;
  const descText = v?.description ?? (readmeText ? readmeIntro(readmeText) : undefined);
  const description = i18n(descText);
  const summary = descText?.trim() ? i18n(firstSentence(descText)) : undefined;
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
    id: ident.id,
    name: ident.name,
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
    source: {
      origin: ORIGIN,
      dir,
      ...(src.commit ? { commit: src.commit } : {}),
      ...(src.repo ? { repo: src.repo } : {}),
      ...(src.path ? { path: src.path } : {}),
      ...(readme ? { readme } : {}),
      ...(logo ? { logo: `doc/picture/${logo}` } : {}),
    },
  };
}

/** Text from a recipe file kept on one line for the catalog: control characters escaped, capped. */
function oneLineText(s: string, max = 2000): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(s) || s.length > max ? escapeLogValue(s, max) : s;
}

/** The README's first prose paragraph (headings, badges and code skipped), for apps without a card. */
function readmeIntro(text: string): string | undefined {
  const paras = text
    .replace(/```[\s\S]*?```/g, '')
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(
      (p) => p && !p.startsWith('#') && !p.startsWith('[!') && !p.startsWith('![') && !p.startsWith('|'),
    );
  return paras[0];
}

/** Recipes from meta.yml, or null when the file cannot be used at all. */
async function recipesFromMeta(
  tree: Tree,
  file: string,
  text: string,
  appDirPath: string,
  commit: string | undefined,
  report: Report,
): Promise<ContainerRecipe[] | null> {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
  if (doc.errors.length) {
    for (const e of doc.errors)
      report(
        file,
        e.linePos?.[0]?.line ?? 1,
        '',
        `invalid YAML: ${e.message.split('\n')[0]}; the app has no recipes`,
      );
    return null;
  }
  if (!isMap(doc.contents)) {
    report(file, 1, '', 'meta.yml is not a map of tag → {path, arch}; the app has no recipes');
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
    const pathLine =
      entry && isMap(pair.value)
        ? lc.linePos((pair.value.get('path', true) as { range?: [number] } | undefined)?.range?.[0] ?? 0).line
        : line;
    const recipe: ContainerRecipe = {
      kind: 'container',
      tag,
      dockerfile: `${parsed.version}/${parsed.osVersion}/Dockerfile`,
      version: parsed.version,
      osVersion: parsed.osVersion,
      arches: [...DEFAULT_ARCHES],
      ...(commit && SHA_RE.test(commit) ? { commit } : {}),
    };
    /** Problems of this recipe as `file:line: message`, also reported with the import. */
    const problems: string[] = [];
    const fail = (f: string, l: number, field: string, message: string) => {
      report(f, l, field, message);
      if (problems.length < 256) problems.push(oneLineText(`${f}:${l}: ${message}`));
    };
    const rawPath = typeof entry?.path === 'string' ? entry.path : '';
    let usable = false;
    if (!rawPath) {
      fail(file, line, `${tag}.path`, 'no Dockerfile path; recipe marked broken');
      recipe.derived = ['dockerfile'];
    } else {
      const n = normalisePath(rawPath, appDirPath);
      for (const note of n.notes)
        report(file, pathLine, `${tag}.path`, `${note}; normalised to "${n.path ?? '?'}"`);
      if (!n.path) {
        fail(
          file,
          pathLine,
          `${tag}.path`,
          `Dockerfile path "${rawPath}" is not usable: ${n.error}; recipe marked broken`,
        );
        recipe.derived = ['dockerfile'];
      } else {
        usable = true;
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
          } else
            fail(
              file,
              pathLine,
              `${tag}.path`,
              `tag version ${parsed.version} but the Dockerfile is under version dir ${verDir}`,
            );
        }
        if (osDir && osDir !== parsed.osVersion && n.path.split('/').length > 2)
          fail(
            file,
            pathLine,
            `${tag}.path`,
            `tag OS ${parsed.osVersion} but the Dockerfile is under OS dir ${osDir}`,
          );
      }
    }
    if (entry && entry.arch !== undefined && entry.arch !== null) {
      const arch = ociArch(String(entry.arch));
      if (arch) recipe.arches = [arch];
      else
        report(file, line, `${tag}.arch`, `unknown architecture "${String(entry.arch)}"; using the defaults`);
    }
    for (const k of Object.keys(entry ?? {}))
      if (k !== 'path' && k !== 'arch') report(file, line, `${tag}.${k}`, `unknown key "${k}" ignored`);

    // ------------------------------------------------ the recipe file itself
    const dfRel = `${appDirPath}/${recipe.dockerfile}`;
    const analysis: RecipeAnalysis = {
      builder: builderOf(recipe.dockerfile),
      exists: false,
      stages: [],
      base: null,
      bases: [],
      args: {},
      problems: [],
    };
    if (usable) {
      const r = await tree.read(dfRel);
      if (r.kind === 'missing')
        fail(file, pathLine, `${tag}.path`, `${dfRel} does not exist; recipe kept as broken`);
      else if (r.kind === 'outside')
        fail(file, pathLine, `${tag}.path`, `${dfRel} ${r.why}; recipe kept as broken`);
      else {
        analysis.exists = true;
        const facts = analyseRecipeFile(dfRel, r.text);
        analysis.builder = facts.builder;
        analysis.stages = facts.stages.map((s) => ({
          from: oneLineText(s.from),
          resolved: s.resolved === null ? null : oneLineText(s.resolved),
          ...(s.name ? { name: oneLineText(s.name, 256) } : {}),
          ...(s.parentStage !== null ? { stage: s.parentStage } : {}),
          line: s.line,
        }));
        analysis.base = facts.base === null ? null : oneLineText(facts.base);
        analysis.bases = facts.bases.map((ref) => ({ ref: oneLineText(ref) }));
        analysis.args = Object.fromEntries(
          Object.entries(facts.args)
            .slice(0, 256)
            .map(([k, v]) => [k, v === null ? null : oneLineText(v)]),
        );
        if (facts.usesTargetArch) analysis.usesTargetArch = true;
        if (facts.usesTargetPlatform) analysis.usesTargetPlatform = true;
        for (const p of facts.problems) fail(dfRel, p.line, facts.builder, p.message);
        const ctx = posix.dirname(dfRel);
        recipe.treeDigest = await tree.digest(ctx);
      }
    }
    // A recipe without a readable file has nothing to hash but its (broken) path: still comparable.
    recipe.treeDigest ??= `sha256:${createHash('sha256').update(`absent\0${dfRel}\0${rawPath}`).digest('hex')}`;
    analysis.problems = problems;
    recipe.analysis = analysis;
    if (problems.length) recipe.problem = problems.join('; ');
    out.push(recipe);
  }
  return out;
}

/**
 * Mark the bases that Wharf builds itself: `[host/]openeuler/<name>[:tag]` where <name> is an app's
 * publish repository (and the tag one of its recipes, when it is).
 */
function markWharfBuiltBases(apps: AppInput[]): void {
  const byName = new Map<string, { id: string; tags: Set<string> }>();
  for (const a of apps)
    byName.set(a.name, { id: a.id, tags: new Set((a.recipes?.container ?? []).map((r) => r.tag)) });
  for (const a of apps)
    for (const r of a.recipes?.container ?? [])
      for (const b of r.analysis?.bases ?? []) {
        const ref = splitImageRef(b.ref);
        if (!ref || ref.namespace !== IMAGE_NAMESPACE) continue;
        const app = byName.get(ref.name);
        if (!app) continue;
        b.app = app.id;
        if (ref.tag && app.tags.has(ref.tag)) b.tag = ref.tag;
      }
}

/** `[host/]namespace/name[:tag][@digest]` for Docker Hub, quay.io and hub.oepkgs.net references. */
export function splitImageRef(ref: string): { namespace: string; name: string; tag?: string } | null {
  const noDigest = ref.split('@')[0]!;
  const parts = noDigest.split('/');
  if (parts.length === 3 && IMAGE_HOSTS.has(parts[0]!)) parts.shift();
  if (parts.length !== 2) return null;
  const [ns, nameTag] = parts as [string, string];
  const colon = nameTag.indexOf(':');
  const name = colon < 0 ? nameTag : nameTag.slice(0, colon);
  const tag = colon < 0 ? undefined : nameTag.slice(colon + 1);
  return { namespace: ns, name, ...(tag ? { tag } : {}) };
}

// ------------------------------------------------------------------------------------ the commit

/** Import as one commit (none when the catalog already holds exactly this import). */
export async function importOpenEuler(
  store: CatalogStore,
  dir: string,
  o: PlanOptions = {},
): Promise<ImportResult> {
  return commitOpenEulerImport(store, await planOpenEulerImport(dir, o));
}

/**
 * Write a plan as one commit. What did not change keeps its recorded commit (a recipe whose directory
 * digest is the same, an app whose record is the same), so a re-import of a newer repository commit
 * changes only what changed there; apps of this origin that the plan no longer has are retired.
 */
export async function commitOpenEulerImport(
  store: CatalogStore,
  imported: ImportPlan,
): Promise<ImportResult> {
  // wharf.yml `wsl.baseImages`: the WSL recipes of the OS base images (catalog/import/wsl.ts).
  const plan = await planWithWslRecipes(store, imported);
  const hidden = plan.apps.filter((a) => a.visibility === 'hidden').length;
  const containers = plan.apps.flatMap((a) => a.recipes?.container ?? []);
  const planned = new Set(plan.apps.map((a) => a.id));
  const existingIds = await store.appIds();
  let retired = 0;
  const res = await store.commit(
    {
      subject: `import: ${plan.apps.length} apps from ${ORIGIN}${plan.commit ? ` at ${plan.commit.slice(0, 12)}` : ''}`,
      body: `${plan.problems.length} problems reported by the importer.`,
      trailers: {
        Stage: 'import',
        'Run-Id': newRunId(),
        ...(plan.commit ? { 'Recipe-Commit': plan.commit } : {}),
      },
    },
    async (tx) => {
      retired = 0;
      for (const a of plan.apps) {
        const old = existingIds.includes(a.id) ? await tx.getApp(a.id) : undefined;
        tx.putApp(old ? keepUnchanged(old, zApp.parse(a)) : a);
      }
      for (const id of existingIds) {
        if (planned.has(id)) continue;
        const old = await tx.getApp(id);
        if (!old || old.source?.origin !== ORIGIN) continue;
        retired++;
        if (old.retired) continue;
        const reason = `directory ${old.source.dir} is gone from the recipe repository${plan.commit ? ` at ${plan.commit.slice(0, 12)}` : ''}`;
        tx.putApp({
          ...old,
          retired: { at: new Date().toISOString(), ...(plan.commit ? { commit: plan.commit } : {}), reason },
          recipes: {
            ...old.recipes,
            container: old.recipes.container.map((r) => ({
              ...r,
              problem: r.problem?.startsWith('retired: ')
                ? r.problem
                : `retired: ${reason}${r.problem ? `; ${r.problem}` : ''}`,
            })),
          },
        });
      }
    },
  );
  return {
    apps: plan.apps.length,
    hidden,
    retired,
    recipes: containers.length,
    brokenRecipes: containers.filter((r) => r.problem).length,
    problems: plan.problems,
    sourceCommit: plan.commit ?? null,
    commit: res.changed ? res.sha : null,
  };
}

/** The new record, with the old commits wherever the content they describe did not change. */
function keepUnchanged(old: App, next: App): App {
  const oldRecipes = new Map(old.recipes.container.map((r) => [r.tag, r]));
  const container = next.recipes.container.map((r) => {
    const o = oldRecipes.get(r.tag);
    if (
      o?.commit &&
      r.commit &&
      o.commit !== r.commit &&
      o.treeDigest &&
      o.treeDigest === r.treeDigest &&
      o.dockerfile === r.dockerfile
    )
      return { ...r, commit: o.commit };
    return r;
  });
  const merged: App = { ...next, recipes: { ...next.recipes, container } };
  if (old.source && merged.source && old.source.commit !== merged.source.commit) {
    const same = {
      ...merged,
      source: { ...merged.source, ...(old.source.commit ? { commit: old.source.commit } : {}) },
    };
    if (!old.source.commit) delete same.source.commit;
    if (toStableJson(same) === toStableJson(old)) return old;
  }
  return merged;
}

// ------------------------------------------------------------------------------------ helpers

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

/**
 * An app's display name from its data: `name` (image-info.yml, else the image name) spelled as the
 * app's own texts spell it. The whole name is looked up first (a word equal to it ignoring case, or
 * extending it by capitals: postgres → PostgreSQL), then each of its words (vllm-cpu → vLLM CPU);
 * the longest, then the most frequent spelling with a capital wins. A word the texts never spell stays as written.
 */
export function nameFromData(name: string, texts: readonly string[]): string {
  const words = [...texts.join('\n').matchAll(/[A-Za-z][A-Za-z0-9]*/g)].map((m) => m[0]);
  const spell = (w: string, extend: boolean): string | undefined => {
    const lw = w.toLowerCase();
    const counts = new Map<string, number>();
    for (const x of words) {
      const lx = x.toLowerCase();
      const ok = lx === lw || (extend && lx.startsWith(lw) && /^[A-Z]+$/.test(x.slice(w.length)));
      if (ok && /[A-Z]/.test(x)) counts.set(x, (counts.get(x) ?? 0) + 1);
    }
    return [...counts.entries()].sort((a, b) => b[0].length - a[0].length || b[1] - a[1])[0]?.[0];
  };
  const parts = name.split(/[-_/ ]+/).filter(Boolean);
  const whole = parts.length === 1 ? spell(parts[0]!, true) : spell(parts.join(''), false);
  if (whole) return whole;
  return parts.map((p) => spell(p, false) ?? p).join(' ');
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
