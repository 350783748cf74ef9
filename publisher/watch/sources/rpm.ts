// An RPM repository: repodata/repomd.xml (conditional) → the primary metadata it names (gzip, zstd,
// xz, bzip2 or plain; see ../decompress.ts) → every [epoch:]version-release of the named package.
// primary.xml of a whole OS is hundreds of MB, so it is decompressed as a stream and scanned in one
// linear pass (../primary-scan.ts) instead of parsed whole; only <package> elements naming our package
// are looked at. Use `regex` to keep only the version part.
import { z } from 'zod';
import { decompress } from '../decompress.ts';
import { scanPrimary } from '../primary-scan.ts';
import { HttpError } from '../http.ts';
import { defineSource, EntryError, requiredUrl, type Source, upstreamConfig } from '../source.ts';

const unescapeXml = (s: string) =>
  s.replace(
    /&(lt|gt|amp|quot|apos);/g,
    (_, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e]!,
  );

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? unescapeXml(m[1]!) : undefined;
}

/** The href of <data type="primary"> in repomd.xml. */
export function primaryHref(repomd: string): string | undefined {
  for (const m of repomd.matchAll(/<data\s[^>]*type="primary"[^>]*>([\s\S]*?)<\/data>/g)) {
    const loc = /<location\s[^>]*\/?>/.exec(m[1]!);
    if (loc) return attr(loc[0], 'href');
  }
  return undefined;
}

/** The `upstream:` entry this source reads. */
export const config = upstreamConfig('rpm', { url: requiredUrl('the repository base URL') }).refine(
  (e) => !!(e.package ?? e.repo),
  { message: 'required (the RPM package name)', path: ['package'] },
);

const rpm: Source<z.infer<typeof config>> = async (entry, ctx) => {
  if (!entry.url) throw new EntryError('url', 'required (the repository base URL)');
  const pkg = entry.package ?? entry.repo;
  if (!pkg || !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(pkg))
    throw new EntryError('package', `${JSON.stringify(pkg ?? '')} is not an RPM package name`);
  const base = entry.url.endsWith('/') ? entry.url : `${entry.url}/`;
  const repomdUrl = new URL('repodata/repomd.xml', base).toString();
  const repomd = await ctx.get(repomdUrl, { conditional: true });
  const href = primaryHref(repomd.body.toString('utf8'));
  if (!href) throw new HttpError(repomdUrl, 'repomd.xml names no primary metadata');
  const primaryUrl = new URL(href, base).toString();
  const primary = await ctx.get(primaryUrl, { maxBytes: ctx.cfg.maxRpmBytes });
  // A server that labels the .gz file `Content-Encoding: gzip` (Apache's AddEncoding) had it decoded
  // by the network layer already: then the bytes, not the name, tell what is left to decompress.
  const name = primary.decoded ? '' : new URL(primaryUrl).pathname;
  try {
    const stream = decompress(primary.body, name);
    const opts = { maxBytes: ctx.cfg.maxRpmBytes, ...(ctx.signal ? { signal: ctx.signal } : {}) };
    return (await scanPrimary(stream, pkg, opts)).map((v) => ({ version: v }));
  } catch (e) {
    throw new HttpError(primaryUrl, `cannot read primary metadata: ${(e as Error).message}`);
  }
};
export default defineSource('rpm', config, rpm);
