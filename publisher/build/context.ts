// The build context: the files under the context directory minus what .dockerignore excludes, in a
// stable order. From that list we derive both the inputs digest (paths, modes and contents) and the
// tar stream sent to the engine; file contents are streamed, never held in memory as a whole.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type { Ignore } from '@balena/dockerignore';
import { pack } from 'tar-stream';

// A CommonJS module whose typings claim an ES default export: load it as what it is.
const dockerignore = createRequire(import.meta.url)('@balena/dockerignore') as (o?: {
  ignorecase?: boolean;
}) => Ignore;

export interface ContextEntry {
  /** Path relative to the context, '/'-separated. */
  rel: string;
  abs: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  linkname?: string;
}

/** Name under which a Dockerfile that lies outside the context is added to the tar. */
export const OUTSIDE_DOCKERFILE = '.wharf.Dockerfile';

/** Walk the context, honouring .dockerignore; Dockerfile and .dockerignore are always kept (as Docker does). */
export async function listContext(contextDir: string, keep: string[] = []): Promise<ContextEntry[]> {
  let ignore: ((p: string) => boolean) | null = null;
  try {
    const patterns = (await readFile(join(contextDir, '.dockerignore'), 'utf8')).split('\n');
    const ig = dockerignore({ ignorecase: false }).add(patterns);
    ignore = (p) => ig.ignores(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const always = new Set(['.dockerignore', ...keep]);
  const out: ContextEntry[] = [];
  const walk = async (dirRel: string): Promise<void> => {
    const names = (await readdir(dirRel ? join(contextDir, dirRel) : contextDir)).sort();
    for (const name of names) {
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const abs = join(contextDir, rel);
      const st = await lstat(abs);
      const ignored = ignore !== null && !always.has(rel) && ignore(st.isDirectory() ? `${rel}/` : rel);
      if (st.isDirectory()) {
        // An ignored directory may still contain re-included files (!pattern), so descend anyway.
        const before = out.length;
        await walk(rel);
        if (!ignored || out.length > before)
          out.splice(before, 0, { rel, abs, type: 'directory', mode: st.mode & 0o7777, size: 0 });
      } else if (ignored) {
        continue;
      } else if (st.isFile()) {
        out.push({ rel, abs, type: 'file', mode: st.mode & 0o7777, size: st.size });
      } else if (st.isSymbolicLink()) {
        // Sent as a link, never followed: the engine resolves it inside the context or not at all.
        out.push({ rel, abs, type: 'symlink', mode: 0o777, size: 0, linkname: await readlink(abs) });
      }
      // Sockets, FIFOs and devices are not part of a build context.
    }
  };
  await walk('');
  return out;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/** sha256 per entry (content for files, target for links) in the entries' order. */
export async function hashContext(entries: ContextEntry[]): Promise<Array<[string, string, number, string]>> {
  const out: Array<[string, string, number, string]> = [];
  for (const e of entries) {
    const h = e.type === 'file' ? await sha256File(e.abs) : e.type === 'symlink' ? `link:${e.linkname}` : '';
    out.push([e.rel, e.type, e.mode, h]);
  }
  return out;
}

const FIXED_MTIME = new Date('2000-01-01T00:00:00Z');

/**
 * A tar stream of the context. Entries are added one at a time and each file is piped in, so memory
 * stays flat however large the context is. `extra` adds in-memory files (the out-of-context Dockerfile).
 */
export function contextTar(
  entries: ContextEntry[],
  extra: Array<{ name: string; data: Buffer }> = [],
): Readable {
  const p = pack();
  const header = (e: ContextEntry) => ({
    name: e.rel,
    mode: e.mode,
    mtime: FIXED_MTIME,
    uid: 0,
    gid: 0,
  });
  void (async () => {
    try {
      for (const e of entries) {
        if (e.type === 'directory') {
          p.entry({ ...header(e), type: 'directory' });
        } else if (e.type === 'symlink') {
          p.entry({ ...header(e), type: 'symlink', linkname: e.linkname });
        } else {
          await new Promise<void>((resolve, reject) => {
            const sink = p.entry({ ...header(e), type: 'file', size: e.size }, (err) =>
              err ? reject(err) : resolve(),
            );
            const src = createReadStream(e.abs);
            src.on('error', (err) => {
              sink.destroy(err);
              reject(err);
            });
            src.pipe(sink);
          });
        }
      }
      for (const x of extra) p.entry({ name: x.name, mode: 0o644, mtime: FIXED_MTIME }, x.data);
      p.finalize();
    } catch (err) {
      p.destroy(err as Error);
    }
  })();
  return p as unknown as Readable;
}
