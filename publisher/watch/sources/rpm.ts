// An RPM repository: repodata/repomd.xml (conditional) → the primary metadata it names (gzip, zstd,
// xz, bzip2 or plain; see ../decompress.ts) → every [epoch:]version-release of the named package.
// primary.xml of a whole OS is hundreds of MB, so it is decompressed as a stream and scanned
// package by package instead of parsed whole;
// only <package> elements naming our package are looked at. Use `regex` to keep only the version part.
import { decompress } from '../decompress.ts';
import { HttpError } from '../http.ts';
import { EntryError, type Source } from '../source.ts';

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

/** Stream primary.xml text and return the EVRs of every <package> whose <name> is `pkg`. */
export async function scanPrimary(
  text: AsyncIterable<Buffer | string>,
  pkg: string,
  maxBytes: number,
): Promise<string[]> {
  const needle = `<name>${pkg}</name>`;
  const found = new Set<string>();
  const decoder = new TextDecoder();
  let buf = '';
  let total = 0;
  let looked = false; // the start was checked: an HTML error page must not pass as "no versions"
  const looksLikeMetadata = (start: string) => {
    if (!/^\uFEFF?\s*<(\?xml|metadata)/.test(start)) throw new Error('not XML metadata');
    return true;
  };
  for await (const chunk of text) {
    total += chunk.length;
    if (total > maxBytes) throw new Error(`primary metadata exceeds the ${maxBytes}-byte cap`);
    buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (!looked && buf.length >= 64) looked = looksLikeMetadata(buf);
    let end: number;
    while ((end = buf.indexOf('</package>')) >= 0) {
      const pkgXml = buf.slice(0, end);
      buf = buf.slice(end + 10);
      if (!pkgXml.includes(needle)) continue;
      const v = /<version\s[^>]*\/?>/.exec(pkgXml);
      const ver = v && attr(v[0], 'ver');
      if (!v || !ver) continue;
      const epoch = attr(v[0], 'epoch');
      const rel = attr(v[0], 'rel');
      found.add(`${epoch && epoch !== '0' ? `${epoch}:` : ''}${ver}${rel ? `-${rel}` : ''}`);
    }
  }
  if (!looked) looksLikeMetadata(buf);
  return [...found];
}

const rpm: Source = async (entry, ctx) => {
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
    return (await scanPrimary(stream, pkg, ctx.cfg.maxRpmBytes)).map((v) => ({ version: v }));
  } catch (e) {
    throw new HttpError(primaryUrl, `cannot read primary metadata: ${(e as Error).message}`);
  }
};
export default rpm;
