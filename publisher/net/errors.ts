// The network layer's errors. StatusError carries the HTTP status a failure came with (if any);
// HttpError names the URL (never with credentials: those travel in headers or on the wire only).

export class StatusError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = 'StatusError';
    this.status = status;
  }
}

export class HttpError extends StatusError {
  readonly url: string;
  constructor(url: string, message: string, status?: number) {
    super(`${message} (${url})`, status);
    this.name = 'HttpError';
    this.url = url;
  }
}

/** A short description of a failed request (timeout, connection refused, …) for error messages. */
export function describeNetError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  if (e.name === 'TimeoutError') return 'timed out';
  const code = (e as NodeJS.ErrnoException).code;
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return `${code ? `${code} ` : ''}${e.message}${cause}`;
}
