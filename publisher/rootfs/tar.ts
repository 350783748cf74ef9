// A small tar codec (POSIX ustar + pax, reading GNU long names too), written here rather than taken from
// tar-stream because layer tars carry extended attributes as pax records with binary values
// (`SCHILY.xattr.security.capability`), which tar-stream decodes and encodes as UTF-8 text and so
// corrupts. Reading yields one entry at a time with its data; writing encodes one entry's header
// blocks (pax header first when needed) with nothing taken from the clock or the environment.

export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarHeader {
  /** Path as stored, without a leading "./" or "/" and without a trailing "/". */
  name: string;
  type: EntryType;
  /** Permission bits and setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (fractions dropped). */
  mtime: number;
  size: number;
  /** Target of a symlink, or the path a hard link points at. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes (pax SCHILY.xattr.* / LIBARCHIVE.xattr.*), raw bytes. */
  xattrs: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  data: Buffer;
}

export class TarError extends Error {
  override name = 'TarError';
}

const BLOCK = 512;

/** Strip "./" and "/" prefixes and trailing slashes; "" is the archive root. */
export function normalizeName(n: string): string {
  let s = n;
  while (s.startsWith('./') || s.startsWith('/')) s = s.startsWith('./') ? s.slice(2) : s.slice(1);
  if (s === '.') s = '';
  while (s.endsWith('/')) s = s.slice(0, -1);
  // Collapse "a//b" and "a/./b"; refuse "..", which could escape the root.
  const parts = s.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new TarError(`tar entry ${JSON.stringify(n)} has a ".." component`);
  return parts.join('/');
}

function cstr(buf: Buffer, off: number, len: number): Buffer {
  const end = buf.indexOf(0, off);
  return buf.subarray(off, end === -1 || end > off + len ? off + len : end);
}

function num(buf: Buffer, off: number, len: number, what: string): number {
  const first = buf[off]!;
  if (first & 0x80) {
    // GNU base-256: big-endian, the top bit of the first byte is the marker (negative values refused).
    if (first & 0x40) throw new TarError(`negative base-256 ${what}`);
    let v = first & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + buf[off + i]!;
    return v;
  }
  const s = cstr(buf, off, len).toString('latin1').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(`invalid octal ${what} ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

function parsePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let i = 0;
  while (i < buf.length) {
    if (buf[i] === 0) break;
    const sp = buf.indexOf(0x20, i);
    if (sp === -1) throw new TarError('malformed pax record (no length)');
    const len = Number(buf.subarray(i, sp).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || i + len > buf.length)
      throw new TarError('malformed pax record length');
    const rec = buf.subarray(sp + 1, i + len - 1); // drop the trailing "\n"
    const eq = rec.indexOf(0x3d);
    if (eq === -1) throw new TarError('malformed pax record (no "=")');
    out.set(rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1)));
    i += len;
  }
  return out;
}

/** Chunked byte reader over an async iterable of buffers. */
class ByteReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;
  private done = false;
  constructor(src: AsyncIterable<Buffer | Uint8Array | string>) {
    this.it = src[Symbol.asyncIterator]();
  }
  /** Exactly n bytes, or fewer only at the end of input. */
  async read(n: number): Promise<Buffer> {
    while (this.have < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else {
        const b = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value);
        if (b.length) {
          this.chunks.push(b);
          this.have += b.length;
        }
      }
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const take = Math.min(n, all.length);
    const out = all.subarray(0, take);
    const rest = all.subarray(take);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }
  /** Read and drop everything left, so a source that checks itself at its end (digests) gets to. */
  async drain(): Promise<void> {
    while ((await this.read(1 << 20)).length > 0);
  }
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const b = await this.read(Math.min(left, 1 << 20));
      if (b.length === 0) throw new TarError('truncated tar');
      left -= b.length;
    }
  }
}

const pad = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

/**
 * Read a tar stream entry by entry. `wantData(header)` decides whether an entry's bytes are kept
 * (default: all); skipped entries yield an empty buffer.
 */
export async function* readTar(
  src: AsyncIterable<Buffer | Uint8Array | string>,
  opts: { wantData?: (h: TarHeader) => boolean; label?: string } = {},
): AsyncGenerator<TarEntry> {
  const r = new ByteReader(src);
  const label = opts.label ?? 'tar';
  let global = new Map<string, Buffer>();
  let pax: Map<string, Buffer> | null = null;
  let longName: string | null = null;
  let longLink: string | null = null;
  for (;;) {
    const block = await r.read(BLOCK);
    if (block.length === 0) return; // some writers omit the end-of-archive blocks
    if (block.length < BLOCK) throw new TarError(`${label}: truncated header`);
    if (block.every((b) => b === 0)) {
      await r.drain();
      return;
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    const stored = num(block, 148, 8, 'checksum');
    if (stored !== sum) throw new TarError(`${label}: header checksum mismatch (not a tar stream?)`);
    const flag = String.fromCharCode(block[156]!);
    let size = num(block, 124, 12, 'size');
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      const body = await r.read(size);
      if (body.length < size) throw new TarError(`${label}: truncated extended header`);
      await r.skip(pad(size));
      if (flag === 'x') pax = parsePax(body);
      else if (flag === 'g') global = new Map([...global, ...parsePax(body)]);
      else if (flag === 'L') longName = cstr(body, 0, body.length).toString('utf8');
      else longLink = cstr(body, 0, body.length).toString('utf8');
      continue;
    }
    const type = TYPES[flag];
    const ustar = block.subarray(257, 263).toString('latin1') === 'ustar\0';
    let name = cstr(block, 0, 100).toString('utf8');
    if (ustar) {
      const prefix = cstr(block, 345, 155).toString('utf8');
      if (prefix) name = `${prefix}/${name}`;
    }
    let linkname = cstr(block, 157, 100).toString('utf8');
    let uid = num(block, 108, 8, 'uid');
    let gid = num(block, 116, 8, 'gid');
    let mtime = num(block, 136, 12, 'mtime');
    const recs = new Map([...global, ...(pax ?? [])]);
    if (longName !== null) name = longName;
    if (longLink !== null) linkname = longLink;
    const text = (k: string) => recs.get(k)?.toString('utf8');
    if (text('path') !== undefined) name = text('path')!;
    if (text('linkpath') !== undefined) linkname = text('linkpath')!;
    if (text('size') !== undefined) size = Number(text('size'));
    if (text('uid') !== undefined) uid = Number(text('uid'));
    if (text('gid') !== undefined) gid = Number(text('gid'));
    if (text('mtime') !== undefined) mtime = Math.floor(Number(text('mtime')));
    const xattrs = new Map<string, Buffer>();
    for (const [k, v] of recs) {
      if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
      else if (k.startsWith('LIBARCHIVE.xattr.'))
        xattrs.set(
          decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length)),
          Buffer.from(v.toString('latin1'), 'base64'),
        );
    }
    pax = null;
    longName = null;
    longLink = null;
    if (!type) {
      // Unknown entry types (GNU sparse, volume labels…): skip their data.
      await r.skip(size + pad(size));
      continue;
    }
    if (![size, uid, gid, mtime].every((v) => Number.isSafeInteger(v) && v >= 0))
      throw new TarError(`${label}: invalid numeric field in ${JSON.stringify(name)}`);
    const header: TarHeader = {
      name: normalizeName(name),
      type,
      mode: num(block, 100, 8, 'mode') & 0o7777,
      uid,
      gid,
      mtime,
      // Hard links and symlinks carry no data (a hard link's size field is sometimes set; ignore it).
      size: type === 'file' ? size : 0,
      linkname: type === 'link' ? normalizeName(linkname) : linkname,
      devmajor: num(block, 329, 8, 'devmajor'),
      devminor: num(block, 337, 8, 'devminor'),
      xattrs,
    };
    // Only regular files carry data blocks (as GNU tar and Python's tarfile read them).
    const dataLen = type === 'file' ? size : 0;
    let data: Buffer = Buffer.alloc(0);
    if (header.type === 'file' && (opts.wantData ? opts.wantData(header) : true)) {
      data = await r.read(size);
      if (data.length < size) throw new TarError(`${label}: truncated data of ${JSON.stringify(name)}`);
      await r.skip(pad(size));
    } else {
      await r.skip(dataLen + pad(dataLen));
    }
    yield { header, data };
  }
}

// ---------------------------------------------------------------- writing

const FLAG: Record<EntryType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

function octal(buf: Buffer, off: number, len: number, v: number): void {
  buf.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  // The length field counts itself: find the fixed point.
  let n = body.length + 1;
  while (String(n).length + body.length !== n) n = String(n).length + body.length;
  return Buffer.concat([Buffer.from(String(n), 'latin1'), body]);
}

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** Split a path into ustar prefix (≤155) and name (≤100), or null when it cannot be. */
function splitUstar(p: string): { prefix: string; name: string } | null {
  if (!isAscii(p)) return null;
  if (p.length <= 100) return { prefix: '', name: p };
  for (let i = p.length - 1; i > 0; i--) {
    if (p[i] !== '/') continue;
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (name.length > 0 && name.length <= 100 && prefix.length <= 155) return { prefix, name };
    if (name.length > 100) break;
  }
  return null;
}

function headerBlock(h: {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  flag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  octal(b, 100, 8, h.mode);
  octal(b, 108, 8, h.uid);
  octal(b, 116, 8, h.gid);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, h.mtime);
  b.write(h.flag, 156, 1, 'latin1');
  b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'latin1');
  b.write('00', 263, 2, 'latin1');
  // uname/gname stay empty: owners are numeric, as the image has them.
  octal(b, 329, 8, h.devmajor);
  octal(b, 337, 8, h.devminor);
  b.write(h.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

/**
 * The header block(s) of one entry (a pax extended header first when a field does not fit ustar or
 * there are xattrs), followed by nothing: the caller writes `data` and `padding(size)` after it.
 * Directory names get a trailing "/".
 */
export function encodeHeader(h: TarHeader): Buffer {
  const path = h.type === 'dir' ? `${h.name}/` : h.name;
  const recs: Buffer[] = [];
  const split = splitUstar(path);
  if (!split) recs.push(paxRecord('path', Buffer.from(path, 'utf8')));
  const linkFits = isAscii(h.linkname) && h.linkname.length <= 100;
  if (!linkFits) recs.push(paxRecord('linkpath', Buffer.from(h.linkname, 'utf8')));
  if (h.size > MAX_OCTAL_11) recs.push(paxRecord('size', Buffer.from(String(h.size))));
  if (h.uid > MAX_OCTAL_7) recs.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (h.gid > MAX_OCTAL_7) recs.push(paxRecord('gid', Buffer.from(String(h.gid))));
  if (h.mtime > MAX_OCTAL_11) recs.push(paxRecord('mtime', Buffer.from(String(h.mtime))));
  for (const k of [...h.xattrs.keys()].sort()) recs.push(paxRecord(`SCHILY.xattr.${k}`, h.xattrs.get(k)!));
  const main = headerBlock({
    name: split ? split.name : path.slice(0, 99).replace(/[^\x20-\x7e]/g, '_'),
    prefix: split ? split.prefix : '',
    mode: h.mode & 0o7777,
    uid: Math.min(h.uid, MAX_OCTAL_7),
    gid: Math.min(h.gid, MAX_OCTAL_7),
    size: h.size > MAX_OCTAL_11 ? 0 : h.size,
    mtime: Math.min(h.mtime, MAX_OCTAL_11),
    flag: FLAG[h.type],
    linkname: linkFits ? h.linkname : '',
    devmajor: h.devmajor,
    devminor: h.devminor,
  });
  if (recs.length === 0) return main;
  const body = Buffer.concat(recs);
  const paxHead = headerBlock({
    name: '././@PaxHeader',
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: Math.min(h.mtime, MAX_OCTAL_11),
    flag: 'x',
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHead, body, Buffer.alloc(pad(body.length)), main]);
}

export function padding(size: number): Buffer {
  return Buffer.alloc(pad(size));
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);
