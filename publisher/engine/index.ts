// Connection to a Docker-API container engine (Docker or podman's system service). The address comes
// from an explicit URL, else $DOCKER_HOST, else the first socket that exists among Docker's and
// podman's usual places. Creating the client never fails; `pingEngine` says clearly when the engine
// cannot be reached, so stages can record that as an error instead of crashing.
import { existsSync } from 'node:fs';
import Docker from 'dockerode';

export class EngineUnreachable extends Error {
  readonly address: string;
  constructor(address: string, why: string) {
    super(`container engine unreachable at ${address}: ${why}`);
    this.name = 'EngineUnreachable';
    this.address = address;
  }
}

export interface EngineHandle {
  engine: Docker;
  /** Where it connects, for messages (never holds credentials). */
  address: string;
}

/** Candidate sockets when nothing is configured, in order of preference. */
export function defaultSockets(env: NodeJS.ProcessEnv = process.env): string[] {
  const out = ['/var/run/docker.sock', '/run/podman/podman.sock'];
  if (env.XDG_RUNTIME_DIR) out.push(`${env.XDG_RUNTIME_DIR}/podman/podman.sock`);
  return out;
}

/** Parse unix:///path, tcp://host:port, http(s)://host:port or a bare socket path into dockerode options. */
export function engineOptions(address: string): Docker.DockerOptions {
  if (address.startsWith('/')) return { socketPath: address };
  let u: URL;
  try {
    u = new URL(address);
  } catch {
    throw new EngineUnreachable(address, 'not a unix://, tcp:// or http(s):// address');
  }
  if (u.protocol === 'unix:') {
    if (!u.pathname) throw new EngineUnreachable(address, 'unix:// address without a socket path');
    return { socketPath: decodeURIComponent(u.pathname) };
  }
  if (u.protocol === 'tcp:' || u.protocol === 'http:' || u.protocol === 'https:') {
    const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 2376 : 2375;
    return { host: u.hostname, port, protocol: u.protocol === 'https:' ? 'https' : 'http' };
  }
  throw new EngineUnreachable(address, `unsupported scheme ${u.protocol}`);
}

/** Pick the engine address: explicit, $DOCKER_HOST, or the first existing default socket. */
export function resolveEngineAddress(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  if (env.DOCKER_HOST) return env.DOCKER_HOST;
  const found = defaultSockets(env).find((p) => existsSync(p));
  return `unix://${found ?? '/var/run/docker.sock'}`;
}

export function connectEngine(explicit?: string, env: NodeJS.ProcessEnv = process.env): EngineHandle {
  const address = resolveEngineAddress(explicit, env);
  // Keep the request timeout generous: builds and exports are long-running streams.
  return { engine: new Docker({ ...engineOptions(address), timeout: 0 }), address };
}

/** Ping the engine with a short timeout; throws EngineUnreachable with the reason. */
export async function pingEngine(h: EngineHandle, timeoutMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      h.engine.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new EngineUnreachable(h.address, err.code ? `${err.code} ${err.message}` : err.message);
  } finally {
    clearTimeout(timer);
  }
}

/** Follow a JSON progress stream (build, pull, push) to its end; `onEvent` sees every event. */
export function followStream<T extends { error?: string; errorDetail?: { message?: string } }>(
  engine: Docker,
  stream: NodeJS.ReadableStream,
  onEvent: (ev: T) => void = () => {},
): Promise<T[]> {
  return new Promise((resolve, reject) => {
    engine.modem.followProgress(
      stream,
      (err: Error | null, out: T[]) => (err ? reject(err) : resolve(out)),
      (ev: T) => onEvent(ev),
    );
  });
}

/** Split a non-TTY container log buffer (8-byte frame headers) into text. */
export function demuxLogs(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    const len = buf.readUInt32BE(i + 4);
    if (kind === undefined || kind > 2 || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) {
      // Not framed (TTY output or an engine that sends raw text): take it as it is.
      return buf.toString('utf8');
    }
    parts.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** A printable address of a dockerode client (socket path or host:port), for error messages. */
export function engineAddress(engine: Docker): string {
  const m = engine.modem as unknown as {
    socketPath?: string;
    host?: string;
    port?: number;
    protocol?: string;
  };
  if (m.socketPath) return `unix://${m.socketPath}`;
  return `${m.protocol ?? 'http'}://${m.host ?? '?'}${m.port ? `:${m.port}` : ''}`;
}

/** Turn a low-level connection error into EngineUnreachable; anything else is returned unchanged. */
export function explainEngineError(engine: Docker, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const codes = ['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENOTFOUND'];
  if (
    err &&
    typeof err === 'object' &&
    err.code &&
    codes.includes(err.code) &&
    /connect|socket|ENOENT/i.test(`${err.message} ${err.syscall ?? ''}`)
  )
    return new EngineUnreachable(engineAddress(engine), `${err.code} (is the engine running?)`);
  return err instanceof Error ? err : new Error(String(e));
}
