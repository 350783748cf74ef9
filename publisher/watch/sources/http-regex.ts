// Any web page: every match of `regex` (its first capture group, else the whole match).
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
  const text = res.body.toString('utf8');
  const out: { version: string }[] = [];
  for (const m of text.matchAll(re)) if ((m[1] ?? m[0]) !== '') out.push({ version: m[1] ?? m[0] });
  return out;
};
export default httpRegex;
