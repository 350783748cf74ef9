// One HTTP request on undici, the way every Wharf client makes it: credentials only for their own
// origin, inactivity timeouts and an optional overall deadline, flat lower-case headers, and the body
// read under a cap with its Content-Encoding undone (./body.ts). Redirects are not followed here:
// callers decide (the watcher follows same-origin ones; the registry client follows storage redirects
// without credentials).
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { readBody } from './body.ts';
import { CREDENTIAL_HEADERS, credentialsFor, type BoundCredentials } from './origin.ts';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface SendOptions {
  method?: Method;
  /** Non-secret headers. Credentials go in `credentials`, bound to their origin. */
  headers?: Record<string, string>;
  credentials?: BoundCredentials;
  body?: Buffer | Readable | string;
  /** Inactivity timeout for the headers and for each part of the body (default 60 s). */
  timeoutMs?: number;
  /** Overall deadline for the whole request, body included. */
  deadlineMs?: number;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
  /** Body cap, on the wire and decoded (default 64 MiB). */
  maxBytes?: number;
  /** Undo Content-Encoding (default true). */
  decode?: boolean;
  /** Do not keep the body (HEAD, webhook deliveries): it is drained, never buffered. */
  discardBody?: boolean;
}

export interface NetResponse {
  url: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Bytes received on the wire. */
  wireBytes: number;
  /** The Content-Encoding that was undone ('' when none). */
  decoded: string;
}

export const DEFAULT_MAX_BODY = 64 * 1024 * 1024;

export function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h))
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Refuse credential headers passed as plain headers: they would travel to whatever URL this is. */
export function assertNoCredentialHeaders(headers: Record<string, string> | undefined): void {
  for (const k of Object.keys(headers ?? {}))
    if (CREDENTIAL_HEADERS.has(k.toLowerCase()))
      throw new Error(`the ${k} header must be passed as origin-bound credentials`);
}

/** The URL as sent: the caller's URL plus any secret query parameters for its origin. */
export function wireUrl(url: string | URL, creds: BoundCredentials | undefined): URL {
  const wire = new URL(url);
  for (const [k, v] of Object.entries(credentialsFor(wire, creds)?.query ?? {})) wire.searchParams.set(k, v);
  return wire;
}

export async function send(url: string | URL, o: SendOptions = {}): Promise<NetResponse> {
  assertNoCredentialHeaders(o.headers);
  const wire = wireUrl(url, o.credentials);
  const headers: Record<string, string> = { ...o.headers, ...credentialsFor(wire, o.credentials)?.headers };
  const timeout = o.timeoutMs ?? 60_000;
  const signals = [o.signal, o.deadlineMs !== undefined ? AbortSignal.timeout(o.deadlineMs) : undefined];
  const active = signals.filter((s): s is AbortSignal => s !== undefined);
  const method = o.method ?? 'GET';
  const res = await request(wire, {
    method,
    headers,
    body: o.body,
    headersTimeout: timeout,
    bodyTimeout: timeout,
    ...(active.length ? { signal: active.length === 1 ? active[0] : AbortSignal.any(active) } : {}),
    ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}),
  });
  const h = flatHeaders(res.headers);
  const shown = String(url);
  if (method === 'HEAD' || o.discardBody) {
    await res.body.dump();
    return {
      url: shown,
      status: res.statusCode,
      headers: h,
      body: Buffer.alloc(0),
      wireBytes: 0,
      decoded: '',
    };
  }
  const b = await readBody(res.body, h, {
    url: shown,
    status: res.statusCode,
    maxBytes: o.maxBytes ?? DEFAULT_MAX_BODY,
    decode: o.decode,
  });
  return {
    url: shown,
    status: res.statusCode,
    headers: h,
    body: b.bytes,
    wireBytes: b.wireBytes,
    decoded: b.decoded,
  };
}
