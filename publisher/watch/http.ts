// The watcher's view of the network layer (publisher/net): the one polling client and what the
// sources need on top of it. Sources never talk to the network any other way, so politeness lives in
// exactly one place; credentials are passed as `credentials` bound to the origin they were configured for.
import { HttpError, nextLink as linkNext, type HttpResponse } from '../net/index.ts';

export {
  bindCredentials,
  HttpClient,
  HttpError,
  type BoundCredentials,
  type GetOptions,
  type HttpResponse,
  type HttpStats,
  type Validators,
} from '../net/index.ts';

/** Parse a JSON body; HTML error pages and malformed JSON become clear per-app errors. */
export function parseJson(res: HttpResponse): unknown {
  const text = res.body.toString('utf8');
  if (/html/i.test(res.headers['content-type'] ?? '') || /^\s*<(?:!doctype|html)/i.test(text))
    throw new HttpError(res.url, 'expected JSON, got an HTML page');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(res.url, `malformed JSON: ${(e as Error).message}`);
  }
}

/** The `rel="next"` target of the response's RFC 8288 Link header, if any. */
export function nextLink(res: HttpResponse): string | undefined {
  return linkNext(res.headers.link, res.url);
}
