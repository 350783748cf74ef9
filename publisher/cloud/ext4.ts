// The ext4 root filesystem, without mounting anything:
// - mkfsExt4: `mkfs.ext4 -d <dir>` from a Rootfs staged in a directory, with a fixed UUID and hash seed
//   and E2FSPROGS_FAKE_TIME/SOURCE_DATE_EPOCH; then one `debugfs -w` pass sets what a staged copy
//   cannot carry exactly (owners when not run as root, modes with setuid bits, device nodes, xattrs)
//   and every inode's times to the epoch, since mkfs copies the staging files' atime/ctime. Same
//   Rootfs and epoch, same bytes.
// - Ext4Editor: reads files (`debugfs -R cat`, `ls -p`) and writes them (`debugfs -w -f <script>`)
//   in an ext4 image or in a partition of a raw disk (`image?offset=<bytes>`): how a base disk
//   image is customised in place, with no loop device and no root.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { writeRootfsDir, type Rootfs, type RootfsNode } from '../rootfs/index.ts';
import { reproducibleEnv, tool, toolBytes } from './run.ts';

const TYPE_BITS: Record<RootfsNode['type'], number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
  fifo: 0o010000,
};

/** A path debugfs's command parser takes inside double quotes. */
export function debugfsPath(p: string): string {
  const abs = p === '' ? '/' : p.startsWith('/') ? p : `/${p}`;
  // eslint-disable-next-line no-control-regex
  if (/["\\\u0000-\u001f\u007f]/.test(abs))
    throw new Error(`path ${JSON.stringify(p)} has characters debugfs cannot quote`);
  return `"${abs}"`;
}

const hex = (n: number) => `0x${Math.max(0, Math.floor(n)).toString(16)}`;

export interface Ext4Options {
  /** Filesystem size in bytes (a multiple of 4096). */
  size: number;
  uuid: string;
  hashSeed: string;
  label?: string;
  epoch: number;
  env?: NodeJS.ProcessEnv;
}

/** Times, owners and modes of one inode, as debugfs commands. */
function inodeFixup(p: string, n: RootfsNode, epoch: number): string[] {
  const q = debugfsPath(p);
  const t = hex(Math.min(n.mtime, epoch));
  return [
    `sif ${q} mode 0${(TYPE_BITS[n.type] | (n.mode & 0o7777)).toString(8)}`,
    `sif ${q} uid ${n.uid}`,
    `sif ${q} gid ${n.gid}`,
    `sif ${q} mtime ${t}`,
    `sif ${q} atime ${t}`,
    `sif ${q} ctime ${t}`,
    `sif ${q} crtime ${hex(epoch)}`,
  ];
}

/** Make `out` an ext4 filesystem holding `fs`. */
export async function mkfsExt4(fs: Rootfs, out: string, o: Ext4Options): Promise<{ inodes: number }> {
  if (o.size % 4096 !== 0) throw new Error(`ext4 size ${o.size} is not a multiple of 4096`);
  const env = reproducibleEnv(o.epoch, o.env);
  const work = await mkdtemp(join(tmpdir(), 'wharf-ext4-'));
  const stage = join(work, 'root');
  const script: string[] = [];
  try {
    await mkdir(stage);
    const xattrFiles: string[] = [];
    const paths = fs.sortedPaths();
    await writeRootfsDir(fs, stage, (p, n) => {
      // Device nodes and fifos cannot be made without privileges: debugfs makes them.
      const kind = n.type === 'fifo' ? 'p' : `${n.type === 'char' ? 'c' : 'b'} ${n.devmajor} ${n.devminor}`;
      // debugfs's mknod links the node only by a plain name in the current directory.
      const slash = p.lastIndexOf('/');
      script.push(
        `cd ${debugfsPath(slash === -1 ? '' : p.slice(0, slash))}`,
        `mknod ${debugfsPath(p.slice(slash + 1)).replace('"/', '"')} ${kind}`,
        'cd /',
      );
    });
    script.push(...inodeFixup('', { ...rootDirNode(), mtime: o.epoch }, o.epoch));
    for (const p of paths) {
      const n = fs.nodes.get(p)!;
      script.push(...inodeFixup(p, n, o.epoch));
      for (const [name, value] of [...n.xattrs].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const f = join(work, `xattr-${xattrFiles.length}`);
        await writeFile(f, value);
        xattrFiles.push(f);
        script.push(`ea_set -f ${f} ${debugfsPath(p)} ${name}`);
      }
    }
    await rm(out, { force: true });
    await tool(
      'mkfs.ext4',
      [
        '-q',
        '-F',
        '-t',
        'ext4',
        '-b',
        '4096',
        '-I',
        '256',
        '-L',
        o.label ?? 'root',
        '-U',
        o.uuid,
        '-E',
        `hash_seed=${o.hashSeed},root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0`,
        '-d',
        stage,
        out,
        `${o.size / 1024}k`,
      ],
      { env },
    );
    const scriptFile = join(work, 'fixup.debugfs');
    await writeFile(scriptFile, script.join('\n') + '\n');
    const r = await tool('debugfs', ['-w', '-f', scriptFile, out], { env });
    const errs = debugfsErrors(r.stderr);
    if (errs.length) throw new Error(`debugfs on ${out}: ${errs.slice(0, 5).join('; ')}`);
    return { inodes: paths.length + 1 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function rootDirNode(): RootfsNode {
  return {
    type: 'dir',
    mode: 0o755,
    uid: 0,
    gid: 0,
    mtime: 0,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    data: Buffer.alloc(0),
    size: 0,
  };
}

/** debugfs prints the command it runs as "debugfs: <cmd>" on stdout and errors on stderr. */
function debugfsErrors(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^debugfs [0-9.]+ \(/.test(l));
}

/** The device spec debugfs opens: the file, at a byte offset when the filesystem is a partition. */
const deviceSpec = (image: string, offset: number) => {
  if (image.includes('?')) throw new Error(`${image}: the image path must not contain "?"`);
  return offset ? `${image}?offset=${offset}` : image;
};

interface QueuedWrite {
  path: string;
  data: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

/**
 * Reads and edits of an ext4 filesystem through debugfs. Reads go to the image (or to what was queued
 * for that path); writes are queued and made by commit() in one `debugfs -w` run, then read back.
 */
export class Ext4Editor {
  private readonly queue: string[] = [];
  private readonly writes = new Map<string, QueuedWrite>();
  private readonly removed = new Set<string>();
  private readonly env: NodeJS.ProcessEnv;
  readonly image: string;
  readonly offset: number;
  readonly epoch: number;

  constructor(image: string, offset = 0, epoch = 0, env: NodeJS.ProcessEnv = process.env) {
    this.image = image;
    this.offset = offset;
    this.epoch = epoch;
    this.env = reproducibleEnv(epoch, env);
  }

  private get spec() {
    return deviceSpec(this.image, this.offset);
  }

  /** Kind of the inode at path (following no links), or null. */
  async type(path: string): Promise<'file' | 'dir' | 'symlink' | 'other' | null> {
    const p = posix.normalize(`/${path}`);
    if (this.writes.has(p)) return 'file';
    if (this.removed.has(p)) return null;
    const r = await tool('debugfs', ['-R', `stat ${debugfsPath(p)}`, this.spec], { env: this.env });
    const m = /Type: (\w+)/.exec(r.stdout);
    if (!m) return null;
    return m[1] === 'regular'
      ? 'file'
      : m[1] === 'directory'
        ? 'dir'
        : m[1] === 'symlink'
          ? 'symlink'
          : 'other';
  }

  /** A regular file's bytes, or null when there is no regular file at path. */
  async read(path: string): Promise<Buffer | null> {
    const p = posix.normalize(`/${path}`);
    const w = this.writes.get(p);
    if (w) return w.data;
    if (this.removed.has(p)) return null;
    if ((await this.type(p)) !== 'file') return null;
    return (await toolBytes('debugfs', ['-R', `cat ${debugfsPath(p)}`, this.spec])).stdout;
  }

  /**
   * The whole filesystem copied into the (empty) host directory `dest` (debugfs `rdump /`): files,
   * directories and symlinks; device nodes are left out. Owners are kept only when run as root.
   */
  async dump(dest: string): Promise<void> {
    const r = await tool('debugfs', ['-R', `rdump / ${debugfsPath(dest)}`, this.spec], { env: this.env });
    // Not being allowed to chown (unprivileged) is expected; any other complaint is an error.
    const errs = debugfsErrors(r.stderr).filter(
      (l) => !/while changing ownership|Operation not permitted/.test(l),
    );
    if (errs.length) throw new Error(`debugfs rdump of ${this.image}: ${errs.slice(0, 5).join('; ')}`);
  }

  /** Names in a directory (without . and ..); [] when it is not there. */
  async list(dir: string): Promise<string[]> {
    const p = posix.normalize(`/${dir}`);
    const r = await tool('debugfs', ['-R', `ls -p ${debugfsPath(p)}`, this.spec], { env: this.env });
    const names = r.stdout
      .split('\n')
      .map((l) => l.split('/'))
      .filter((f) => f.length >= 7 && f[0] === '')
      .map((f) => f[5]!)
      .filter((n) => n !== '.' && n !== '..' && !this.removed.has(posix.join(p, n)));
    for (const w of this.writes.keys()) if (posix.dirname(w) === p) names.push(posix.basename(w));
    return [...new Set(names)].sort();
  }

  mkdir(path: string, mode = 0o755): void {
    const p = posix.normalize(`/${path}`);
    const q = debugfsPath(p);
    // debugfs reports an existing directory as an error and goes on: harmless here.
    this.queue.push(`mkdir ${q}`, `sif ${q} mode 0${(0o040000 | mode).toString(8)}`);
    this.queue.push(`sif ${q} uid 0`, `sif ${q} gid 0`);
  }

  mkdirp(path: string, mode = 0o755): void {
    const parts = posix.normalize(`/${path}`).split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) this.mkdir(`/${parts.slice(0, i).join('/')}`, mode);
  }

  write(path: string, data: Buffer | string, o: { mode?: number; uid?: number; gid?: number } = {}): void {
    const p = posix.normalize(`/${path}`);
    this.removed.delete(p);
    this.writes.set(p, {
      path: p,
      data: typeof data === 'string' ? Buffer.from(data) : data,
      mode: o.mode ?? 0o644,
      uid: o.uid ?? 0,
      gid: o.gid ?? 0,
    });
    this.queue.push(`write-placeholder ${p}`);
  }

  remove(path: string): void {
    const p = posix.normalize(`/${path}`);
    this.writes.delete(p);
    this.removed.add(p);
    this.queue.push(`rm ${debugfsPath(p)}`);
  }

  symlink(path: string, target: string): void {
    const p = posix.normalize(`/${path}`);
    // eslint-disable-next-line no-control-regex
    if (/["\\\u0000-\u001f\u007f]/.test(target))
      throw new Error(`symlink target ${JSON.stringify(target)} cannot be quoted`);
    this.queue.push(`rm ${debugfsPath(p)}`, `symlink ${debugfsPath(p)} "${target}"`);
  }

  /** Make the queued changes (one debugfs run) and check every written file reads back the same. */
  async commit(): Promise<{ commands: number }> {
    if (this.queue.length === 0) return { commands: 0 };
    const work = await mkdtemp(join(tmpdir(), 'wharf-debugfs-'));
    try {
      const lines: string[] = [];
      let i = 0;
      const t = hex(this.epoch);
      for (const c of this.queue) {
        if (!c.startsWith('write-placeholder ')) {
          lines.push(c);
          continue;
        }
        const w = this.writes.get(c.slice('write-placeholder '.length));
        if (!w) continue;
        const src = join(work, `f${i++}`);
        await writeFile(src, w.data);
        const q = debugfsPath(w.path);
        lines.push(`rm ${q}`, `write ${src} ${q}`);
        lines.push(
          `sif ${q} mode 0${(0o100000 | w.mode).toString(8)}`,
          `sif ${q} uid ${w.uid}`,
          `sif ${q} gid ${w.gid}`,
        );
        for (const f of ['mtime', 'atime', 'ctime', 'crtime']) lines.push(`sif ${q} ${f} ${t}`);
      }
      const file = join(work, 'edit.debugfs');
      await writeFile(file, lines.join('\n') + '\n');
      await tool('debugfs', ['-w', '-f', file, this.spec], { env: this.env });
      const written = [...this.writes.values()];
      this.queue.length = 0;
      this.writes.clear();
      this.removed.clear();
      for (const w of written) {
        const back = await this.read(w.path);
        if (!back || !back.equals(w.data))
          throw new Error(`${this.image}: ${w.path} did not read back as written`);
      }
      return { commands: lines.length };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
