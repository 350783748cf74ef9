// Compression by magic bytes for layer blobs, rootfs tarballs and .wsl files: gzip and zstd through
// node:zlib, xz through the `xz` binary (execa, argv only), anything else passed through as plain tar.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { execa } from 'execa';

export type Compression = 'gzip' | 'xz' | 'zstd' | 'none';

export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])))
    return 'xz';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

export async function fileCompression(path: string): Promise<Compression> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    return sniffCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** Decompress `src` (compressed as `c`) into a readable stream of the plain bytes. */
export function decompress(src: Readable, c: Compression): Readable {
  if (c === 'none') return src;
  if (c === 'xz') {
    const p = execa('xz', ['--decompress', '--stdout', '--threads=1'], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: { stdout: false, stderr: true },
      encoding: 'buffer',
    });
    src.on('error', (e) => p.kill(e));
    src.pipe(p.stdin!);
    const out = p.stdout!;
    p.catch((e: unknown) => {
      const err = e as { stderr?: Buffer; shortMessage?: string };
      out.destroy(new Error(`xz: ${err.stderr?.toString().trim() || err.shortMessage || String(e)}`));
    });
    return out;
  }
  const z = c === 'gzip' ? createGunzip() : createZstdDecompress();
  src.on('error', (e) => z.destroy(e));
  src.pipe(z);
  return z;
}

/** The plain (decompressed) bytes of a file, whatever its compression. */
export async function openDecompressed(
  path: string,
): Promise<{ stream: Readable; compression: Compression }> {
  const compression = await fileCompression(path);
  return { stream: decompress(createReadStream(path), compression), compression };
}

export { Readable };
