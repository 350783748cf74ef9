// A root filesystem held as a path → node map, built by applying image layers in order as the OCI
// image spec's "Applying Changesets" says: whiteout files `.wh.<name>` delete <name> (and everything
// under it) from the layers below, an opaque marker `.wh..wh..opq` hides everything the layers below
// had in its directory, a non-directory replaces a directory with its whole subtree, hard links share
// one node (so they stay linked, and a later layer replacing one path breaks only that path's link).
// Ownership, modes, mtimes, device numbers and xattrs are kept exactly as the layers have them.
import { TarError, encodeHeader, normalizeName, padding, END_OF_ARCHIVE, type TarEntry } from './tar.ts';
import type { EntryType } from './tar.ts';

export type NodeType = Exclude<EntryType, 'link'>;

export interface RootfsNode {
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  /** Symlink target, as stored. */
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
  /** File content (empty for other types; may be truncated when a reader asked to keep less). */
  data: Buffer;
  /** The file's real size (data.length unless truncated). */
  size: number;
}

export class RootfsError extends Error {
  override name = 'RootfsError';
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

const parentOf = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i === -1 ? '' : p.slice(0, i);
};
const baseOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

export interface ApplyOptions {
  /** Interpret `.wh.` whiteouts (true for image layers; false for a plain rootfs or .wsl tar). */
  whiteouts?: boolean;
  /** Keep at most this many bytes of a file's data (validators need only heads of most files). */
  keepBytes?: (path: string, size: number) => number;
  label?: string;
}

export class Rootfs {
  /** path ("" is the root, never stored) → node; hard-linked paths share one node object. */
  readonly nodes = new Map<string, RootfsNode>();
  /** Directory path → its direct children's paths. */
  private readonly children = new Map<string, Set<string>>();

  get(path: string): RootfsNode | undefined {
    return this.nodes.get(normalizeName(path));
  }

  get size(): number {
    return this.nodes.size;
  }

  private link(path: string): void {
    const parent = parentOf(path);
    let set = this.children.get(parent);
    if (!set) this.children.set(parent, (set = new Set()));
    set.add(path);
  }

  /** Put a node at `path`, creating missing parent directories (0755, root, mtime 0). */
  set(path: string, node: RootfsNode): void {
    if (path === '') return; // the root directory itself is not an entry
    const existing = this.nodes.get(path);
    if (existing && (existing.type === 'dir') !== (node.type === 'dir')) this.remove(path);
    const parent = parentOf(path);
    if (parent !== '') {
      const p = this.nodes.get(parent);
      if (!p || p.type !== 'dir') {
        if (p) this.remove(parent);
        this.set(parent, dirNode());
      }
    }
    this.nodes.set(path, node);
    this.link(path);
  }

  /** Remove a path and everything under it. */
  remove(path: string): void {
    for (const c of [...(this.children.get(path) ?? [])]) this.remove(c);
    this.children.delete(path);
    if (this.nodes.delete(path)) this.children.get(parentOf(path))?.delete(path);
  }

  /** Paths of a directory's direct children (unsorted); [] when it has none. */
  list(dir: string): string[] {
    return [...(this.children.get(normalizeName(dir)) ?? [])];
  }

  /** Remove everything under a directory, keeping the directory. */
  removeChildren(path: string): void {
    for (const c of [...(this.children.get(path) ?? [])]) this.remove(c);
  }

  /** Apply one layer (or a whole rootfs tar) on top of what is there. */
  async apply(entries: AsyncIterable<TarEntry>, opts: ApplyOptions = {}): Promise<void> {
    const whiteouts = opts.whiteouts ?? true;
    const label = opts.label ?? 'layer';
    const adds: TarEntry[] = [];
    // Whiteouts only hide what the layers below have, so they are applied before this layer's entries.
    for await (const e of entries) {
      const base = baseOf(e.header.name);
      if (whiteouts && base.startsWith(WH)) {
        const dir = parentOf(e.header.name);
        if (base === OPAQUE) this.removeChildren(dir);
        else if (!base.startsWith(`${WH}${WH}`))
          this.remove(dir === '' ? base.slice(WH.length) : `${dir}/${base.slice(WH.length)}`);
        continue;
      }
      if (opts.keepBytes && e.data.length > 0) {
        const keep = opts.keepBytes(e.header.name, e.header.size);
        if (keep < e.data.length) e.data = Buffer.from(e.data.subarray(0, keep));
      }
      adds.push(e);
    }
    for (const { header: h, data } of adds) {
      if (h.name === '') continue;
      if (h.type === 'link') {
        const target = this.nodes.get(h.linkname);
        if (!target) throw new RootfsError(`${label}: hard link ${h.name} → ${h.linkname}: no such file`);
        if (target.type === 'dir') throw new RootfsError(`${label}: hard link ${h.name} to a directory`);
        this.set(h.name, target);
        continue;
      }
      this.set(h.name, {
        type: h.type,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        mtime: h.mtime,
        linkname: h.type === 'symlink' ? h.linkname : '',
        devmajor: h.devmajor,
        devminor: h.devminor,
        xattrs: h.xattrs,
        data,
        size: h.type === 'file' ? h.size : 0,
      });
    }
  }

  /**
   * Resolve a path inside the tree, following symlinks in every component (absolute targets are
   * relative to this root, never the host's), and in the last one too when `follow` is set.
   */
  resolve(path: string, follow = true): { path: string; node: RootfsNode | undefined } | null {
    let todo = path.split('/').filter((c) => c !== '' && c !== '.');
    const out: string[] = [];
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.shift()!;
      if (c === '..') {
        out.pop();
        continue;
      }
      const cand = [...out, c].join('/');
      const node = this.nodes.get(cand);
      if (node?.type === 'symlink' && (todo.length > 0 || follow)) {
        if (++hops > 40) return null;
        const parts = node.linkname.split('/').filter((x) => x !== '' && x !== '.');
        if (node.linkname.startsWith('/')) out.length = 0;
        todo = [...parts, ...todo];
        continue;
      }
      out.push(c);
    }
    const p = out.join('/');
    return { path: p, node: this.nodes.get(p) };
  }

  /** All paths in byte order (parents sort before their children). */
  sortedPaths(): string[] {
    return [...this.nodes.keys()].sort(byteOrder);
  }
}

export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A root-owned node with the given type, mode and content, zero times and no xattrs. */
function baseNode(type: RootfsNode['type'], mode: number, data: Buffer): RootfsNode {
  return {
    type,
    mode,
    uid: 0,
    gid: 0,
    mtime: 0,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    data,
    size: data.length,
  };
}

export function dirNode(over: Partial<RootfsNode> = {}): RootfsNode {
  return { ...baseNode('dir', 0o755, Buffer.alloc(0)), ...over };
}

export function fileNode(data: Buffer | string, over: Partial<RootfsNode> = {}): RootfsNode {
  return { ...baseNode('file', 0o644, typeof data === 'string' ? Buffer.from(data) : data), ...over };
}

export interface TarOutputOptions {
  /** Clamp every mtime to at most this (seconds): SOURCE_DATE_EPOCH. */
  sourceDateEpoch?: number;
}

/**
 * The tree as a tar stream: entries in byte order of their paths, numeric owners, mtimes clamped,
 * no atime/ctime, the first path of a hard-linked group carrying the data and the others linking to
 * it. Same tree, same bytes.
 */
export async function* rootfsTar(fs: Rootfs, opts: TarOutputOptions = {}): AsyncGenerator<Buffer> {
  const emitted = new Map<RootfsNode, string>();
  const clamp = (t: number) => (opts.sourceDateEpoch !== undefined ? Math.min(t, opts.sourceDateEpoch) : t);
  for (const path of fs.sortedPaths()) {
    const n = fs.nodes.get(path)!;
    if (n.type === 'file' && n.data.length !== n.size)
      throw new TarError(`${path}: content was truncated when read; cannot write it`);
    const first = emitted.get(n);
    if (n.type === 'file' && first !== undefined) {
      yield encodeHeader({
        name: path,
        type: 'link',
        mode: n.mode,
        uid: n.uid,
        gid: n.gid,
        mtime: clamp(n.mtime),
        size: 0,
        linkname: first,
        devmajor: 0,
        devminor: 0,
        xattrs: new Map(),
      });
      continue;
    }
    emitted.set(n, path);
    yield encodeHeader({
      name: path,
      type: n.type,
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      mtime: clamp(n.mtime),
      size: n.type === 'file' ? n.data.length : 0,
      linkname: n.linkname,
      devmajor: n.devmajor,
      devminor: n.devminor,
      xattrs: n.xattrs,
    });
    if (n.type === 'file' && n.data.length > 0) {
      yield n.data;
      yield padding(n.data.length);
    }
  }
  yield END_OF_ARCHIVE;
}
