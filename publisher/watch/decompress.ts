// Decompress repository metadata as a stream, recognising the format by its magic bytes (servers
// and mirrors do not always name files by their compression). gzip and zstd use node:zlib; xz and
// bzip2 (older createrepo and SUSE-style repositories) go through the `xz` / `bzip2` tools (Debian's
// xz-utils and bzip2) with an argument array, reading the body on stdin.
import { Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { execa } from 'execa';

export type Compression = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'none';

const startsWith = (b: Buffer, magic: number[]) => magic.every((m, i) => b[i] === m);

/** The compression of `body` by its magic bytes; 'none' for anything else (plain XML, or garbage). */
export function sniffCompression(body: Buffer): Compression {
  if (startsWith(body, [0x1f, 0x8b])) return 'gzip';
  if (startsWith(body, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if (startsWith(body, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (startsWith(body, [0x42, 0x5a, 0x68])) return 'bzip2';
  return 'none';
}

const TOOLS = {
  xz: { cmd: 'xz', install: 'apt-get install xz-utils' },
  bzip2: { cmd: 'bzip2', install: 'apt-get install bzip2' },
} as const;

/** Stream `body` through `xz -dc` or `bzip2 -dc`; the tool is killed when the reader stops early. */
async function* viaTool(kind: keyof typeof TOOLS, body: Buffer): AsyncGenerator<Buffer> {
  const { cmd, install } = TOOLS[kind];
  const child = execa(cmd, ['-dc'], { input: body, buffer: false, stripFinalNewline: false, reject: true });
  const finished = child.then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string; stderr?: unknown },
  );
  let complete = false;
  try {
    try {
      for await (const chunk of child.stdout) yield Buffer.from(chunk as Uint8Array);
    } catch (e) {
      // A tool that could not start ends its stdout with an error; say why from its exit.
      if (!(await finished)) throw e;
    }
    const err = await finished;
    if (err) {
      if (err.code === 'ENOENT') throw new Error(`${kind} metadata needs the ${cmd} tool (${install})`);
      throw new Error(`${cmd} -dc failed: not valid ${kind} data`);
    }
    complete = true;
  } finally {
    if (!complete) child.kill();
  }
}

const BY_EXTENSION = new Map<string, Compression>([
  ['gz', 'gzip'],
  ['zst', 'zstd'],
  ['xz', 'xz'],
  ['bz2', 'bzip2'],
  ['xml', 'none'],
]);

/** The compression a file name announces (…primary.xml.gz), or undefined when it names none. */
export function compressionOfName(name: string): Compression | undefined {
  const ext = /\.([a-z0-9]+)$/.exec(name)?.[1];
  return ext ? BY_EXTENSION.get(ext) : undefined;
}

/**
 * The decompressed bytes of `body` as a stream of chunks. The bytes decide the format; a body that is
 * not compressed although `name` says it is (an HTML error page, a truncated file) is refused.
 */
export function decompress(body: Buffer, name = ''): AsyncIterable<Buffer> {
  const kind = sniffCompression(body);
  const named = compressionOfName(name);
  if (kind === 'none' && named && named !== 'none') throw new Error(`${name} is not ${named} data`);
  switch (kind) {
    case 'gzip':
      return Readable.from([body]).pipe(createGunzip());
    case 'zstd':
      return Readable.from([body]).pipe(createZstdDecompress());
    case 'xz':
    case 'bzip2':
      return viaTool(kind, body);
    case 'none':
      return Readable.from([body]);
  }
}
