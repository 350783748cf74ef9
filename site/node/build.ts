// `wharf site build` as a library: render the site with Astro (static output), index the app pages
// with Pagefind's Node API, and record what was built in <out>/.wharf-site.json. When the catalog's
// HEAD and the site sources are the same as in that stamp, the build is skipped entirely; when only
// some apps changed since the stamp's HEAD, only their pages are rendered again (see partialPlan).
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { z } from 'zod';
import { CatalogStore, CONFIG_FILE } from '../../catalog/store.ts';
import { git } from '../../catalog/git.ts';
import { withFileLock } from '../../catalog/lock.ts';
import { keyIdOf, loadSigningKey, parsePublicKey } from '../../publisher/sign/keys.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_OUT = join(REPO_ROOT, 'site/dist');
export const STAMP_FILE = '.wharf-site.json';
export const PUBLIC_KEY_ENV = 'WHARF_SIGNING_PUBLIC_KEY_FILE';
export const PUBLIC_KEY_PATH = 'keys/cosign.pub';

/**
 * The public key to publish (PEM and key id), or null when none is configured: `file` (--public-key),
 * else $WHARF_SIGNING_PUBLIC_KEY_FILE, else wharf.yml `signing.publicKey` (relative to the catalog),
 * else the public half of the key in $WHARF_SIGNING_KEY / $WHARF_SIGNING_KEY_FILE. Errors name the source.
 */
export async function sitePublicKey(
  file: string | undefined,
  catalog?: { dir: string; publicKey?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ pem: string; keyId: string } | null> {
  const configured = catalog?.publicKey ? resolve(catalog.dir, catalog.publicKey) : undefined;
  const path = file ?? (env[PUBLIC_KEY_ENV]?.trim() || configured);
  if (path) {
    let pem: string;
    try {
      pem = await readFile(path, 'utf8');
    } catch (e) {
      throw new Error(`cannot read the signing public key ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const key = parsePublicKey(pem, path);
    return { pem: key.export({ type: 'spki', format: 'pem' }).toString(), keyId: keyIdOf(key) };
  }
  const signing = await loadSigningKey(env);
  if (!signing) return null;
  return {
    pem: signing.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: signing.keyId,
  };
}

export interface SiteBuildOptions {
  catalog: string;
  out?: string;
  /** Rebuild even when nothing changed. */
  force?: boolean;
  /**
   * The signing public key (PEM file) published at /keys/cosign.pub. Default: $WHARF_SIGNING_PUBLIC_KEY_FILE,
   * else wharf.yml `signing.publicKey`, else the public half of the key in $WHARF_SIGNING_KEY /
   * $WHARF_SIGNING_KEY_FILE; none configured: the site says so on the tag pages.
   */
  publicKeyFile?: string;
  /** Astro's own log level ('silent' for --json). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export interface SiteBuildResult {
  out: string;
  catalogHead: string | null;
  skipped: boolean;
  /**
   * Partial build: the apps changed since the last build, whose pages were rendered again (or
   * removed, for an app deleted or hidden); the other app pages were kept. Absent for a full build.
   */
  renderedApps?: string[];
  /** Milliseconds per phase and in total. */
  timings: { astroMs: number; pagefindMs: number; totalMs: number };
  pages: number;
  indexedPages: number;
  pagefindBytes: number;
  languages: string[];
}

const zStamp = z.object({
  catalogHead: z.string().nullable(),
  catalogDir: z.string().optional(),
  sourcesHash: z.string(),
  builtAt: z.string(),
  result: z.unknown().optional(),
});

/** Files whose change requires a rebuild: site sources, the Astro config and the catalog library. */
async function sourcesHash(): Promise<string> {
  const h = createHash('sha256');
  const roots = ['site/src', 'site/public', 'catalog', 'astro.config.mjs', 'package-lock.json'];
  const files: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const abs = join(REPO_ROOT, p);
    let st;
    try {
      st = await stat(abs);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const e of (await readdir(abs)).sort())
        if (e !== 'node_modules' && e !== 'seed') await walk(`${p}/${e}`);
    } else files.push(p);
  };
  for (const r of roots) await walk(r);
  for (const f of files.sort()) {
    h.update(f + '\0');
    h.update(await readFile(join(REPO_ROOT, f)));
  }
  return h.digest('hex');
}

async function readStamp(out: string): Promise<z.infer<typeof zStamp> | undefined> {
  try {
    const r = zStamp.safeParse(JSON.parse(await readFile(join(out, STAMP_FILE), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

async function countHtml(dir: string): Promise<number> {
  return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.html')).length;
}

/**
 * `astro build` in a child process. Astro reuses modules between builds in one process, so a
 * long-lived caller (the daemon) would get the first catalog's pages again; a process per build
 * also returns Astro's memory. Astro reads the catalog through the library (site/src/lib/model.ts)
 * from $WHARF_CATALOG and writes to $WHARF_SITE_OUT (see astro.config.mjs).
 */
async function runAstro(
  catalogDir: string,
  out: string,
  logLevel: SiteBuildOptions['logLevel'],
  keyId: string | undefined,
  onlyFile?: string,
): Promise<void> {
  const astroBin = join(REPO_ROOT, 'node_modules/astro/bin/astro.mjs');
  const args = [astroBin, 'build', '--root', REPO_ROOT];
  if (logLevel === 'debug') args.push('--verbose');
  // Inside the repository (git-ignored .astro/), so the staged chunks resolve node_modules.
  await mkdir(join(REPO_ROOT, '.astro/builds'), { recursive: true });
  const cacheDir = await mkdtemp(join(REPO_ROOT, '.astro/builds/b-'));
  // Astro stages its server build in <cwd>/.astro when the output directory lies outside the
  // working directory: running it from a fresh directory keeps concurrent builds apart.
  const child = execa(process.execPath, args, {
    cwd: cacheDir,
    env: {
      WHARF_CATALOG: catalogDir,
      WHARF_SITE_OUT: out,
      WHARF_SITE_CACHE: cacheDir,
      WHARF_SITE_BUILD: randomUUID(),
      ...(onlyFile ? { WHARF_SITE_ONLY: onlyFile } : {}),
      ...(keyId ? { WHARF_SITE_KEY_ID: keyId } : {}),
      ASTRO_TELEMETRY_DISABLED: '1',
    },
    reject: false,
    all: true,
  });
  // Astro's output is kept for the error message; with info/debug it is also shown, on stderr
  // (stdout stays clean for --json).
  if (logLevel === 'info' || logLevel === 'debug')
    child.all?.on('data', (d: Buffer) => process.stderr.write(d));
  const r = await child.finally(() => rm(cacheDir, { recursive: true, force: true }));
  if (r.exitCode !== 0) {
    const tail = String(r.all ?? '')
      .trim()
      .split('\n')
      .slice(-15)
      .join('\n');
    throw new Error(`astro build failed (exit ${r.exitCode}):\n${tail}`);
  }
}

/** The app ids a catalog change touches, or 'all' when the site as a whole depends on it. */
export async function siteChanges(dir: string, from: string, to: string): Promise<Set<string> | 'all'> {
  let out: string;
  try {
    out = await git(dir, ['diff', '--name-only', '-z', '--no-renames', from, to, '--']);
  } catch {
    return 'all'; // `from` is gone (history rewritten, another catalog): render everything
  }
  const ids = new Set<string>();
  for (const p of out.split('\0').filter(Boolean)) {
    const m = /^apps\/([^/.][^/]*)\//.exec(p);
    if (m) ids.add(m[1]!);
    // wharf.yml holds the registries every pull command names and the site's name.
    else if (p === CONFIG_FILE) return 'all';
    // Anything else (the sweep summary, notes) is not on the site.
  }
  return ids;
}

/**
 * Decide between a full and a partial build. Partial when the last build (its stamp) was made from
 * this catalog with the same site sources, and the apps changed since its HEAD are few: their own
 * pages (app, tags, /api/apps/<id>.json) are rendered again, and so are the pages over all apps
 * (home, categories, search, feed, /api/apps.json), which are few. Astro still loads the whole
 * catalog, which those pages need.
 */
async function partialPlan(
  opts: SiteBuildOptions & { out: string },
  dir: string,
  head: string | null,
  hash: string,
  stamp: z.infer<typeof zStamp> | undefined,
): Promise<Set<string> | null> {
  if (opts.force || !stamp || !head || !stamp.catalogHead) return null;
  if (stamp.catalogDir !== dir || stamp.sourcesHash !== hash) return null;
  const prev = stamp.result as SiteBuildResult | undefined;
  if (!prev?.pages || !(await exists(join(opts.out, 'index.html')))) return null;
  const changes = await siteChanges(dir, stamp.catalogHead, head);
  if (changes === 'all') return null;
  // An app has at least two pages (zh, en): past a quarter of the pages, render everything.
  if (changes.size * 2 * 4 > prev.pages) return null;
  return changes;
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** Paths under the output that belong to one app's own pages. */
const appOutputs = (out: string, id: string) => [
  join(out, 'apps', id),
  join(out, 'en', 'apps', id),
  join(out, 'api', 'apps', `${id}.json`),
];

/** Move every file of `from` into `to` (same file system), replacing what is there. */
async function moveTree(from: string, to: string): Promise<void> {
  for (const e of await readdir(from, { withFileTypes: true })) {
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory()) {
      await mkdir(dst, { recursive: true });
      await moveTree(src, dst);
    } else await rename(src, dst);
  }
}

/** Build the site (one build per output directory at a time). Throws on a failed Astro build or Pagefind errors. */
export async function buildSite(opts: SiteBuildOptions): Promise<SiteBuildResult> {
  const out = resolve(opts.out ?? DEFAULT_OUT);
  const lock = join(
    tmpdir(),
    `wharf-site-${createHash('sha256').update(out).digest('hex').slice(0, 16)}.lock`,
  );
  return withFileLock(lock, () => buildSiteLocked({ ...opts, out }), { timeoutMs: 30 * 60_000 });
}

async function buildSiteLocked(opts: SiteBuildOptions & { out: string }): Promise<SiteBuildResult> {
  const t0 = performance.now();
  const out = opts.out;
  const store = await CatalogStore.open(opts.catalog);
  const catalogHead = await store.head();
  const publicKey = await sitePublicKey(opts.publicKeyFile, {
    dir: store.dir,
    publicKey: (await store.config()).signing?.publicKey,
  });
  // The key is on every tag page: another key is another site.
  const hash = createHash('sha256')
    .update(await sourcesHash())
    .update(publicKey?.keyId ?? 'no key')
    .digest('hex');
  const stamp = await readStamp(out);
  if (!opts.force && stamp && stamp.catalogHead === catalogHead && stamp.sourcesHash === hash) {
    const prev = stamp.result as SiteBuildResult | undefined;
    return {
      ...(prev ?? { pages: 0, indexedPages: 0, pagefindBytes: 0, languages: [] }),
      out,
      catalogHead,
      skipped: true,
      timings: { astroMs: 0, pagefindMs: 0, totalMs: Math.round(performance.now() - t0) },
    };
  }

  const only = await partialPlan(opts, store.dir, catalogHead, hash, stamp);
  // Without the stamp a failed or interrupted build is never taken for a good one: the next is full.
  await rm(join(out, STAMP_FILE), { force: true });
  const ta = performance.now();
  if (only) {
    // Render into a directory beside the output, then swap the changed apps' pages in: an app that
    // is gone (deleted, hidden) loses its pages, a tag that is gone its tag page.
    const stage = await mkdtemp(join(dirname(out), '.wharf-site-partial-'));
    try {
      const onlyFile = join(stage, 'only.json');
      await writeFile(onlyFile, JSON.stringify([...only]));
      const render = join(stage, 'out');
      await runAstro(store.dir, render, opts.logLevel ?? 'warn', publicKey?.keyId, onlyFile);
      // Category pages are rendered whole; one left empty by the change must go too.
      const stale = [...only].flatMap((id) => appOutputs(out, id));
      stale.push(join(out, 'category'), join(out, 'en', 'category'));
      for (const p of stale) await rm(p, { recursive: true, force: true });
      await moveTree(render, out);
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  } else await runAstro(store.dir, out, opts.logLevel ?? 'warn', publicKey?.keyId);
  const astroMs = performance.now() - ta;
  const keyFile = join(out, PUBLIC_KEY_PATH);
  if (publicKey) {
    await mkdir(dirname(keyFile), { recursive: true });
    await writeFile(keyFile, publicKey.pem);
  } else await rm(keyFile, { force: true });

  const tp = performance.now();
  // Only app pages are indexed: when none changed, the index in the output is still right.
  const prev = stamp?.result as SiteBuildResult | undefined;
  const search = only?.size === 0 && prev ? prev : await indexPages(out);
  const result: SiteBuildResult = {
    out,
    catalogHead,
    skipped: false,
    ...(only ? { renderedApps: [...only].sort() } : {}),
    timings: {
      astroMs: Math.round(astroMs),
      pagefindMs: Math.round(performance.now() - tp),
      totalMs: Math.round(performance.now() - t0),
    },
    pages: await countHtml(out),
    indexedPages: search.indexedPages,
    pagefindBytes: search.pagefindBytes,
    languages: search.languages,
  };
  await writeFile(
    join(out, STAMP_FILE),
    JSON.stringify(
      { catalogHead, catalogDir: store.dir, sourcesHash: hash, builtAt: new Date().toISOString(), result },
      null,
      2,
    ) + '\n',
  );
  return result;
}

/** Index every page of the output with Pagefind (it has no incremental index) into <out>/pagefind. */
async function indexPages(
  out: string,
): Promise<Pick<SiteBuildResult, 'indexedPages' | 'pagefindBytes' | 'languages'>> {
  const pagefind = await import('pagefind');
  const { index, errors } = await pagefind.createIndex({});
  if (!index) throw new Error(`pagefind: ${errors.join('; ')}`);
  try {
    const added = await index.addDirectory({ path: out });
    if (added.errors.length) throw new Error(`pagefind: ${added.errors.join('; ')}`);
    const pfDir = join(out, 'pagefind');
    await rm(pfDir, { recursive: true, force: true });
    const written = await index.writeFiles({ outputPath: pfDir });
    if (written.errors.length) throw new Error(`pagefind: ${written.errors.join('; ')}`);
    const entry = JSON.parse(await readFile(join(pfDir, 'pagefind-entry.json'), 'utf8')) as {
      languages?: Record<string, { page_count?: number }>;
    };
    return {
      indexedPages: Object.values(entry.languages ?? {}).reduce((n, l) => n + (l.page_count ?? 0), 0),
      pagefindBytes: await dirSize(pfDir),
      languages: Object.keys(entry.languages ?? {}).sort(),
    };
  } finally {
    await pagefind.close();
  }
}

export const relativeOut = (out: string) => relative(process.cwd(), out) || '.';
