// Deterministic compression of a tar stream into a file, hashing what is written: gzip through node:zlib
// (level 9; zlib writes no file name and a zero mtime in the header) or xz through the `xz` binary with
// fixed options, single-threaded (xz's multi-threaded mode writes a differently block-split stream, so
// one mode is fixed). The file is written beside its destination and renamed in.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { execa } from 'execa';

export type WslCompression = 'gzip' | 'xz';

/** The fixed xz options (documented in docs/wsl.md): the output depends only on the input and the xz version. */
export const XZ_ARGS = ['--compress', '--stdout', '--format=xz', '--check=crc64', '-6', '--threads=1'];

export interface WrittenFile {
  path: string;
  sha256: string;
  size: number;
}

function hashTap(): { tap: Transform; result: () => { sha256: string; size: number } } {
  const h = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { tap, result: () => ({ sha256: h.digest('hex'), size }) };
}

export async function compressToFile(
  chunks: AsyncIterable<Buffer>,
  out: string,
  compression: WslCompression,
): Promise<WrittenFile> {
  const tmp = `${out}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const { tap, result } = hashTap();
  await mkdir(dirname(out), { recursive: true });
  try {
    if (compression === 'gzip') {
      await pipeline(Readable.from(chunks), createGzip({ level: 9 }), tap, createWriteStream(tmp));
    } else {
      const p = execa('xz', XZ_ARGS, {
        stdin: 'pipe',
        stdout: 'pipe',
        stderr: 'pipe',
        buffer: { stdout: false, stderr: true },
        encoding: 'buffer',
        reject: false,
      });
      const feeding = pipeline(Readable.from(chunks), p.stdin!);
      const writing = pipeline(p.stdout!, tap, createWriteStream(tmp));
      const [, , r] = await Promise.all([feeding, writing, p]);
      if (r.exitCode !== 0)
        throw new Error(
          `xz exited ${r.exitCode}: ${Buffer.from(r.stderr ?? '')
            .toString()
            .trim()}`,
        );
    }
    await rename(tmp, out);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return { path: out, ...result() };
}
