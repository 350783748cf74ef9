// `wharf site build` as a library: render the site with Astro (static output), index the app pages
// with Pagefind's Node API, and record what was built in <out>/.wharf-site.json. When the catalog's
// HEAD and the site sources are the same as in that stamp, the build is skipped entirely.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { z } from 'zod';
import { CatalogStore } from '../../catalog/store.ts';
import { withFileLock } from '../../catalog/lock.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_OUT = join(REPO_ROOT, 'site/dist');
export const STAMP_FILE = '.wharf-site.json';

export interface SiteBuildOptions {
  catalog: string;
  out?: string;
  /** Rebuild even when nothing changed. */
  force?: boolean;
  /** Astro's own log level ('silent' for --json). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export interface SiteBuildResult {
  out: string;
  catalogHead: string | null;
  skipped: boolean;
  /** Milliseconds per phase and in total. */
  timings: { astroMs: number; pagefindMs: number; totalMs: number };
  pages: number;
  indexedPages: number;
  pagefindBytes: number;
  languages: string[];
}

const zStamp = z.object({
  catalogHead: z.string().nullable(),
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
  const hash = await sourcesHash();
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

  await rm(join(out, STAMP_FILE), { force: true });
  const ta = performance.now();
  await runAstro(store.dir, out, opts.logLevel ?? 'warn');
  const astroMs = performance.now() - ta;

  const tp = performance.now();
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
    const pagefindMs = performance.now() - tp;
    const entry = JSON.parse(await readFile(join(pfDir, 'pagefind-entry.json'), 'utf8')) as {
      languages?: Record<string, { page_count?: number }>;
    };
    const langs = Object.keys(entry.languages ?? {}).sort();
    const result: SiteBuildResult = {
      out,
      catalogHead,
      skipped: false,
      timings: {
        astroMs: Math.round(astroMs),
        pagefindMs: Math.round(pagefindMs),
        totalMs: Math.round(performance.now() - t0),
      },
      pages: await countHtml(out),
      indexedPages: Object.values(entry.languages ?? {}).reduce((n, l) => n + (l.page_count ?? 0), 0),
      pagefindBytes: await dirSize(pfDir),
      languages: langs,
    };
    await writeFile(
      join(out, STAMP_FILE),
      JSON.stringify({ catalogHead, sourcesHash: hash, builtAt: new Date().toISOString(), result }, null, 2) +
        '\n',
    );
    return result;
  } finally {
    await pagefind.close();
  }
}

export const relativeOut = (out: string) => relative(process.cwd(), out) || '.';
