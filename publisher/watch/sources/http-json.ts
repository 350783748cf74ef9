// Any JSON document: the strings (or numbers) a JSON path selects, e.g. "$.releases[*].tag_name".
import { parseJson } from '../http.ts';
import { evalJsonPath, parseJsonPath } from '../jsonpath.ts';
import { EntryError, type Source } from '../source.ts';

const httpJson: Source = async (entry, ctx) => {
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
export default httpJson;
