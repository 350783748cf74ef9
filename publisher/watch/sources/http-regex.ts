// Any web page: every match of `regex` (its first capture group, else the whole match). The network
// layer undoes Content-Encoding; a body that is still compressed (a .gz file served as is) is an error,
// never "no versions".
import { z } from 'zod';
import { sniffCompression } from '../decompress.ts';
import { HttpError } from '../http.ts';
import {
  defineSource,
  EntryError,
  requiredLine,
  requiredUrl,
  type Source,
  upstreamConfig,
} from '../source.ts';

const compiles = (re: string) => {
  try {
    new RegExp(re, 'g');
    return true;
  } catch {
    return false;
  }
};

/** The `upstream:` entry this source reads. */
export const config = upstreamConfig('http-regex', {
  url: requiredUrl('the page to scan'),
  // Optional here: the openEuler importer creates entries that wait for their regex (it says so in its
  // notes); such an app is valid but not watchable yet — the sweep records "upstream.regex: required".
  regex: requiredLine('a regex with one capture group').refine(compiles, 'not a valid regex').optional(),
});

const httpRegex: Source<z.infer<typeof config>> = async (entry, ctx) => {
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
export default defineSource('http-regex', config, httpRegex);
