// Real inputs for the advisory tests: tiny RPMs built with rpmbuild, RPM databases written by rpm
// itself (sqlite) or, for openEuler 20.03's BerkeleyDB format that Debian's rpm can only read, the same
// header blobs loaded into a BDB hash file with db5.3_load; OCI layouts with those files in layers;
// and a loopback HTTP server serving a CVRF feed with ETag / Last-Modified and 304 answers.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DatabaseSync } from 'node:sqlite';
import { execa } from 'execa';
import { pack } from 'tar-stream';
import { writeLayout } from '../../publisher/registry/layout.ts';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../publisher/registry/media.ts';

/** The project's shared data (beside the checkout in /work/main; absolute for other worktrees). */
const SHARED = [join(import.meta.dirname, '../../../shared/data'), '/work/shared/data'];

export async function sharedPath(rel: string): Promise<string> {
  for (const d of SHARED) {
    try {
      await stat(join(d, rel));
      return join(d, rel);
    } catch {
      /* next */
    }
  }
  throw new Error(`shared/data/${rel} not found`);
}

export const sharedFile = async (rel: string) => readFile(await sharedPath(rel), 'utf8');
export const cvrfDir = () => sharedPath('openeuler-security/cvrf');

export const tmp = (prefix: string) => mkdtemp(join(tmpdir(), `wharf-adv-${prefix}-`));

export interface RpmSpec {
  name: string;
  version: string;
  release: string;
  arch: string;
  epoch?: number;
  license?: string;
  /** Source package name (default: name). */
  source?: string;
}

/** Build one tiny binary RPM (no files) with rpmbuild; returns its path. */
export async function buildRpm(top: string, s: RpmSpec): Promise<string> {
  const specDir = join(top, 'SPECS');
  await mkdir(specDir, { recursive: true });
  const spec = join(specDir, `${s.name}-${s.version}-${s.release}.${s.arch}.spec`);
  const src = s.source ?? s.name;
  // A package built from another source: the subpackage of a source package of that name.
  const body = src === s.name ? `Name: ${s.name}\n` : `Name: ${src}\n`;
  const sub =
    src === s.name
      ? ''
      : `%package -n ${s.name}\nSummary: t\n%description -n ${s.name}\nt\n%files -n ${s.name}\n`;
  await writeFile(
    spec,
    `${body}Version: ${s.version}\nRelease: ${s.release}\n${s.epoch ? `Epoch: ${s.epoch}\n` : ''}Summary: test package\nLicense: ${s.license ?? 'MIT'}\n${s.arch === 'noarch' ? 'BuildArch: noarch\n' : ''}%description\nt\n${src === s.name ? '%files\n' : ''}${sub}`,
  );
  await execa(
    'rpmbuild',
    [
      '--quiet',
      '--define',
      `_topdir ${top}`,
      '--define',
      '_build_id_links none',
      ...(s.arch === 'noarch' ? [] : ['--target', `${s.arch}-linux`]),
      '-bb',
      spec,
    ],
    { env: { LC_ALL: 'C' } },
  );
  return join(top, 'RPMS', s.arch, `${s.name}-${s.version}-${s.release}.${s.arch}.rpm`);
}

/** Install RPMs into root's database only (--justdb), sqlite backend, at var/lib/rpm. */
export async function sqliteRootfs(root: string, rpms: string[]): Promise<string> {
  const args = ['--root', root, '--dbpath', '/var/lib/rpm', '--define', '_db_backend sqlite'];
  await execa('rpm', [...args, '--initdb']);
  if (rpms.length)
    await execa('rpm', [...args, '-i', '--nodeps', '--justdb', '--ignorearch', '--ignoreos', ...rpms]);
  return join(root, 'var/lib/rpm');
}

/**
 * openEuler 20.03's format: a BerkeleyDB hash `Packages` file, key = package number (native endian),
 * value = the header blob (key 0: the last header number). Written with db5.3_load from the headers rpm stored in a sqlite db.
 */
export async function bdbRootfs(root: string, rpms: string[]): Promise<string> {
  const staging = await tmp('bdb-stage');
  try {
    const dbDir = await sqliteRootfs(staging, rpms);
    const db = new DatabaseSync(join(dbDir, 'rpmdb.sqlite'), { readOnly: true });
    const rows = db.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum').all() as {
      hnum: number;
      blob: Uint8Array;
    }[];
    db.close();
    const key = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b.toString('hex');
    };
    // Key 0 holds the last header number rpm allocated, as in rpm's own BerkeleyDB Packages files.
    const last = Math.max(0, ...rows.map((r) => r.hnum));
    const dump =
      'VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n' +
      ` ${key(0)}\n ${key(last)}\n` +
      rows.map((r) => ` ${key(r.hnum)}\n ${Buffer.from(r.blob).toString('hex')}\n`).join('') +
      'DATA=END\n';
    const out = join(root, 'var/lib/rpm');
    await mkdir(out, { recursive: true });
    await execa('db5.3_load', ['-c', 'db_pagesize=4096', join(out, 'Packages')], { input: dump });
    return out;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** A gzip layer with the given files (path → bytes) and symlinks/whiteouts. */
export async function layer(entries: { path: string; data?: Buffer; link?: string }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    if (e.link) p.entry({ name: e.path, type: 'symlink', linkname: e.link });
    else if (e.data) p.entry({ name: e.path, size: e.data.length }, e.data);
    else p.entry({ name: e.path, type: 'directory' });
  }
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** Every file of a directory as layer entries under prefix. */
export async function dirEntries(dir: string, prefix: string): Promise<{ path: string; data: Buffer }[]> {
  const { readdir } = await import('node:fs/promises');
  const out: { path: string; data: Buffer }[] = [];
  for (const f of await readdir(dir)) {
    if (f.startsWith('.')) continue;
    out.push({ path: `${prefix}/${f}`, data: await readFile(join(dir, f)) });
  }
  return out;
}

/** An OCI layout with one image per arch, each made of the given layers. */
export async function ociLayout(dir: string, images: { arch: string; layers: Buffer[] }[]): Promise<void> {
  await writeLayout(
    dir,
    images.map((img) => {
      const diffIds = img.layers.map(() => `sha256:${'0'.repeat(64)}`);
      const config = Buffer.from(
        JSON.stringify({
          architecture: img.arch,
          os: 'linux',
          rootfs: { type: 'layers', diff_ids: diffIds },
        }),
      );
      const d = (b: Buffer, mediaType: string) => ({
        mediaType,
        digest: `sha256:${createHash('sha256').update(b).digest('hex')}`,
        size: b.length,
      });
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: d(config, OCI_CONFIG),
          layers: img.layers.map((l) => d(l, OCI_LAYER_GZIP)),
        }),
      );
      return { manifest, mediaType: OCI_MANIFEST, blobs: [config, ...img.layers] };
    }),
  );
}

export interface FeedServer {
  url: string;
  root: string;
  /** Every request: path and status answered. */
  log: { path: string; status: number }[];
  close(): Promise<void>;
}

/** Serve a directory in the feed layout on loopback, with ETag / Last-Modified and 304 answers. */
export async function serveFeed(src: string): Promise<FeedServer> {
  const root = await tmp('feed');
  await cp(src, root, { recursive: true });
  const log: FeedServer['log'] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/cvrf\//, '');
      const answer = (status: number, body?: Buffer, headers: Record<string, string> = {}) => {
        log.push({ path, status });
        res.writeHead(status, headers);
        res.end(body);
      };
      if (!req.url?.startsWith('/cvrf/') || path.includes('..')) return answer(404);
      let body: Buffer;
      let mtime: Date;
      try {
        body = await readFile(join(root, path));
        mtime = (await stat(join(root, path))).mtime;
      } catch {
        return answer(404);
      }
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
      const lastModified = new Date(Math.floor(mtime.getTime() / 1000) * 1000).toUTCString();
      if (req.headers['if-none-match'] === etag) return answer(304, undefined, { etag });
      answer(200, body, { etag, 'last-modified': lastModified, 'content-type': 'application/xml' });
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/cvrf/`,
    root,
    log,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
