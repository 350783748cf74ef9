// Any JSON document: the strings (or numbers) a JSON path selects, e.g. "$.releases[*].tag_name".
import { z } from 'zod';
import { parseJson } from '../http.ts';
import { evalJsonPath, parseJsonPath } from '../jsonpath.ts';
import {
  defineSource,
  EntryError,
  requiredLine,
  requiredUrl,
  type Source,
  upstreamConfig,
} from '../source.ts';

const parses = (path: string) => {
  try {
    parseJsonPath(path);
    return true;
  } catch {
    return false;
  }
};

/** The `upstream:` entry this source reads. */
export const config = upstreamConfig('http-json', {
  url: requiredUrl('the JSON document'),
  jsonPath: requiredLine('a JSON path, e.g. $.releases[*].tag_name').refine(
    parses,
    'not a supported JSON path',
  ),
});

const httpJson: Source<z.infer<typeof config>> = async (entry, ctx) => {
  if (!entry.url) throw new EntryError('url', 'required');
  if (!entry.jsonPath) throw new EntryError('jsonPath', 'required, e.g. $.releases[*].tag_name');
  try {
    parseJsonPath(entry.jsonPath);
  } catch (e) {
    throw new EntryError('jsonPath', (e as Error).message);
  }
  const res = await ctx.get(entry.url, { headers: { accept: 'application/json' }, conditional: true });
  return evalJsonPath(parseJson(res), entry.jsonPath)
    .filter((v) => typeof v === 'string' || typeof v === 'number')
    .map((v) => ({ version: String(v) }));
};
export default defineSource('http-json', config, httpJson);
