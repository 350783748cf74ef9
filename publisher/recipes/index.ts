// Recipe sources: a git repository in the openEuler layout (`<Scene>/<app>/meta.yml`,
// `<appver>/<osver>/Dockerfile` with `ARG BASE` / `FROM ${BASE}`). We fetch the source into a bare
// mirror under the work dir and materialise each commit once as a read-only tree, so every build uses
// exactly the recorded commit (never uncommitted edits). Paths from app.yml are checked twice: by name
// (names.ts) and by realpath, so neither `..` nor a symlink can lead a build outside the tree.
import { createHash } from 'node:crypto';
import { mkdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { execa } from 'execa';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { git } from '../../catalog/git.ts';
import { pathExists } from '../../catalog/store/layout.ts';
import { assertRelativePath, NameError, OS_VERSION_RE, TAG_RE } from '../../catalog/names.ts';
import type { App, CatalogConfig } from '../../catalog/schema.ts';

/** A recipe problem that belongs in the artifact's record (not a crash). */
export class RecipeError extends Error {
  override name = 'RecipeError';
}

/** A recipe tree to build from: a git checkout, or a plain directory (publisher/build/source.ts). */
export interface RecipeTree {
  /** The source as configured (path or URL). */
  source: string;
  /** Full commit sha the tree was taken from; absent for a plain directory. */
  commit?: string;
  /** Absolute path of the tree (realpath). */
  dir: string;
}

export interface RecipeCheckout extends RecipeTree {
  /** Full commit sha the tree was taken from. */
  commit: string;
}

const SHA_RE = /^[a-f0-9]{40}([a-f0-9]{24})?$/;

/**
 * Fetch `ref` of a recipe repository (local path or git URL) and materialise it under
 * `<workDir>/recipes/<source-key>/trees/<commit>`. Idempotent and cheap when nothing changed.
 */
export async function checkoutRecipes(source: string, ref: string, workDir: string): Promise<RecipeCheckout> {
  if (ref.startsWith('-') || /[\s\0]/.test(ref))
    throw new RecipeError(`invalid recipe ref ${JSON.stringify(ref)}`);
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const base = join(workDir, 'recipes', key);
  const mirror = join(base, 'mirror.git');
  await mkdir(base, { recursive: true });
  if (!(await pathExists(join(mirror, 'HEAD')))) await git(base, ['init', '-q', '--bare', mirror]);
  let commit: string;
  if (SHA_RE.test(ref) && (await hasCommit(mirror, ref))) {
    commit = ref;
  } else {
    try {
      await git(mirror, [
        'fetch',
        '-q',
        '--no-tags',
        '--force',
        '--',
        source,
        '+HEAD:refs/wharf/head',
        '+refs/heads/*:refs/heads/*',
        '+refs/tags/*:refs/tags/*',
      ]);
    } catch (e) {
      throw new RecipeError(`cannot fetch recipe source ${source}: ${(e as Error).message}`);
    }
    const want = ref === 'HEAD' ? 'refs/wharf/head' : ref;
    try {
      commit = await git(mirror, ['rev-parse', '--verify', '-q', '--end-of-options', `${want}^{commit}`]);
    } catch {
      throw new RecipeError(`recipe ref ${ref} not found in ${source}`);
    }
  }
  const tree = join(base, 'trees', commit);
  if (!(await pathExists(tree))) {
    const tmp = `${tree}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await mkdir(tmp, { recursive: true });
    try {
      await execa('git', ['--git-dir', mirror, 'archive', '--format=tar', commit]).pipe('tar', [
        '-x',
        '-C',
        tmp,
      ]);
      await rename(tmp, tree).catch(async (e: NodeJS.ErrnoException) => {
        // Another process materialised the same commit first: theirs is identical.
        if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
        await rm(tmp, { recursive: true, force: true });
      });
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  return { source, commit, dir: await realpath(tree) };
}

async function hasCommit(mirror: string, sha: string): Promise<boolean> {
  try {
    await git(mirror, ['cat-file', '-e', `${sha}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

export interface ResolvedRecipe {
  /** Absolute app directory in the tree. */
  appDir: string;
  /** Absolute build context directory. */
  contextDir: string;
  /** Absolute Dockerfile path. */
  dockerfile: string;
  /** Dockerfile path relative to the context, or null when it lies outside the context. */
  dockerfileInContext: string | null;
  /** Dockerfile path relative to the tree root, for messages. */
  dockerfileRel: string;
}

/** Resolve a container recipe of `app` inside `checkout`, refusing anything outside the tree. */
export async function resolveRecipe(
  checkout: RecipeTree,
  app: App,
  recipe: { dockerfile: string; context?: string | undefined },
): Promise<ResolvedRecipe> {
  const appRel = app.source?.dir;
  if (!appRel) throw new RecipeError(`app ${app.id} has no source.dir (its directory in the recipe tree)`);
  const root = checkout.dir;
  const check = (kind: string, p: string) => {
    try {
      return assertRelativePath(kind, p);
    } catch (e) {
      throw new RecipeError(e instanceof NameError ? e.message : String(e));
    }
  };
  check('app directory', appRel);
  check('Dockerfile path', recipe.dockerfile);
  if (recipe.context !== undefined) check('build context', recipe.context);
  const appDir = await insideTree(root, join(root, appRel), `app directory ${appRel}`);
  const dfRel = `${appRel}/${recipe.dockerfile}`;
  const dockerfile = await insideTree(root, join(appDir, recipe.dockerfile), `Dockerfile ${dfRel}`);
  if (!(await stat(dockerfile)).isFile()) throw new RecipeError(`Dockerfile ${dfRel} is not a file`);
  const ctxRel = recipe.context ?? dirname(recipe.dockerfile);
  const contextDir = await insideTree(
    root,
    ctxRel === '.' ? appDir : join(appDir, ctxRel),
    `build context ${appRel}/${ctxRel}`,
  );
  const inCtx = relative(contextDir, dockerfile);
  return {
    appDir,
    contextDir,
    dockerfile,
    dockerfileInContext: inCtx.startsWith('..') ? null : inCtx.split(sep).join('/'),
    dockerfileRel: dfRel,
  };
}

/** realpath(p) must exist and lie inside root (symlinks resolved). */
async function insideTree(root: string, p: string, what: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(p);
  } catch {
    throw new RecipeError(`${what} not found in the recipe tree`);
  }
  if (real !== root && !real.startsWith(root + sep))
    throw new RecipeError(`${what} resolves outside the recipe tree (symlink?)`);
  return real;
}

/** The base image reference for an OS version, from wharf.yml `baseImages`. */
export function baseImageFor(config: Pick<CatalogConfig, 'baseImages'>, osVersion: string): string {
  const ref = config.baseImages[osVersion];
  if (!ref)
    throw new RecipeError(`no base image configured for OS version ${osVersion} (wharf.yml baseImages)`);
  if (
    !/^[a-z0-9.-]+(?::[0-9]+)?(?:\/[a-z0-9._-]+)+(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/.test(
      ref,
    )
  )
    throw new RecipeError(
      `base image reference ${JSON.stringify(ref)} for ${osVersion} is not a valid image reference`,
    );
  return ref;
}

// ------------------------------------------------------------------ meta.yml (openEuler layout)

const zMeta = z.record(
  z.string().regex(TAG_RE),
  z.object({ path: z.string().min(1), arch: z.string().optional() }).loose(),
);

export interface MetaRecipe {
  tag: string;
  /** Dockerfile path relative to the app dir. */
  dockerfile: string;
  version: string;
  osVersion: string;
}

/**
 * Read `<appDir>/meta.yml` (tag → {path}) and derive version and OS version from the
 * `<appver>/<osver>/Dockerfile` path. Entries whose path does not follow the layout are returned in
 * `problems`, never silently dropped.
 */
export async function readMeta(
  treeDir: string,
  appRel: string,
): Promise<{ recipes: MetaRecipe[]; problems: string[] }> {
  assertRelativePath('app directory', appRel);
  const file = join(treeDir, appRel, 'meta.yml');
  const parsed = zMeta.safeParse(parseYaml(await readFile(file, 'utf8')) ?? {});
  if (!parsed.success)
    return {
      recipes: [],
      problems: parsed.error.issues.map((i) => `${appRel}/meta.yml ${i.path.join('.')}: ${i.message}`),
    };
  const recipes: MetaRecipe[] = [];
  const problems: string[] = [];
  for (const [tag, e] of Object.entries(parsed.data)) {
    const parts = e.path.split('/');
    const [version, osVersion, name] = parts;
    if (
      parts.length !== 3 ||
      name !== 'Dockerfile' ||
      !version ||
      !osVersion ||
      !OS_VERSION_RE.test(osVersion)
    ) {
      problems.push(`${appRel}/meta.yml ${tag}: path ${e.path} is not <appver>/<osver>/Dockerfile`);
      continue;
    }
    recipes.push({ tag, dockerfile: e.path, version, osVersion });
  }
  return { recipes, problems };
}
