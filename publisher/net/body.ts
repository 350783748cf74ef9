// Reading a response body into memory under a byte cap, and undoing its Content-Encoding (gzip,
// deflate, br, zstd; RFC 9110 §8.4). The cap holds twice: on the bytes on the wire (a declared
// Content-Length over the cap fails before reading) and on the decoded bytes, so a small compressed
// body cannot inflate past it. An encoding we cannot decode is an error, never silently raw bytes.
import { Readable, type Transform } from 'node:stream';
import {
  createBrotliDecompress,
  createGunzip,
  createInflate,
  createInflateRaw,
  createZstdDecompress,
} from 'node:zlib';
import { HttpError } from './errors.ts';

/** What clients send as Accept-Encoding: exactly the codings readBody can undo. */
export const ACCEPT_ENCODING = 'gzip, deflate, br';

export interface ReadBodyOptions {
  url: string;
  status: number;
  maxBytes: number;
  /** Undo Content-Encoding (default true). */
  decode?: boolean;
}

export interface Body {
  bytes: Buffer;
  /** Bytes received on the wire (before decoding). */
  wireBytes: number;
  /** The Content-Encoding that was undone ('' when none). */
  decoded: string;
}

/** The codings of a Content-Encoding header, in the order they were applied; identity dropped. */
export function contentCodings(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== 'identity');
}

function decoderFor(coding: string, first: number | undefined): Transform | undefined {
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      // RFC 9110 deflate is the zlib format; some servers send raw DEFLATE. A zlib stream's first byte
      // has compression method 8 in its low nibble.
      return first !== undefined && (first & 0x0f) === 8 ? createInflate() : createInflateRaw();
    case 'br':
      return createBrotliDecompress();
    case 'zstd':
      return createZstdDecompress();
    default:
      return undefined;
  }
}

async function collect(source: AsyncIterable<unknown>, max: number, onOver: () => never): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of source) {
    const b = c as Buffer;
    size += b.length;
    if (size > max) onOver();
    chunks.push(b);
  }
  return chunks;
}

/** Read `body` (a response stream) under `opts.maxBytes`, decoding its Content-Encoding. */
export async function readBody(
  body: Readable,
  headers: Record<string, string>,
  opts: ReadBodyOptions,
): Promise<Body> {
  const { url, status, maxBytes: max } = opts;
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    body.destroy();
    throw new HttpError(url, `response of ${declared} bytes exceeds the ${max}-byte cap`, status);
  }
  const over = (what: string): never => {
    body.destroy();
    throw new HttpError(url, `response ${what}exceeds the ${max}-byte cap`, status);
  };
  const wire = Buffer.concat(await collect(body, max, () => over('')));
  const codings = opts.decode === false ? [] : contentCodings(headers['content-encoding']);
  let bytes = wire;
  for (const coding of [...codings].reverse()) {
    const dec = decoderFor(coding, bytes[0]);
    if (!dec) throw new HttpError(url, `unsupported Content-Encoding ${JSON.stringify(coding)}`, status);
    try {
      bytes = Buffer.concat(await collect(Readable.from([bytes]).pipe(dec), max, () => over('decoded ')));
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(url, `cannot decode ${coding} body: ${(e as Error).message}`, status);
    }
  }
  return { bytes, wireBytes: wire.length, decoded: codings.join(', ') };
}
