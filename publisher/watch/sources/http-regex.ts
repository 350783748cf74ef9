// Any web page: every match of `regex` (its first capture group, else the whole match). The network
// layer undoes Content-Encoding; a body that is still compressed (a .gz file served as is) is an error,
// never "no versions".
import { sniffCompression } from '../decompress.ts';
import { HttpError } from '../http.ts';
import { EntryError, type Source } from '../source.ts';

const httpRegex: Source = async (entry, ctx) => {
  if (!entry.url) throw new EntryError('url', 'required');
  if (!entry.regex) throw new EntryError('regex', 'required (with one capture group)');
  let re: RegExp;
  try {
    re = new RegExp(entry.regex, 'g');
  } catch (e) {
    throw new EntryError('regex', (e as Error).message);
  }
  const res = await ctx.get(entry.url, { conditional: true });
  const packed = sniffCompression(res.body);
  if (packed !== 'none')
    throw new HttpError(res.url, `the page is ${packed}-compressed data without Content-Encoding, not text`);
  const text = res.body.toString('utf8');
  const out: { version: string }[] = [];
  for (const m of text.matchAll(re)) if ((m[1] ?? m[0]) !== '') out.push({ version: m[1] ?? m[0] });
  return out;
};
export default httpRegex;
