// The Trivy wrapper: runs the `trivy` executable through execa with argument arrays and a timeout, and
// turns every way it can fail (missing binary, non-zero exit, timeout, output that is not what Trivy
// writes) into a Failure with a reason, so callers record "not run" instead of "clean".
// Registry credentials travel only in the child's environment (TRIVY_USERNAME / TRIVY_PASSWORD), never in
// argv, and are scrubbed from any output we keep.
import { isAbsolute, resolve } from 'node:path';
import { execa } from 'execa';
import {
  checkCycloneDx,
  parseTrivyReport,
  parseTrivyVersion,
  TrivyReportError,
  type TrivyReport,
  type TrivyVersion,
} from './report.ts';

export interface TrivyOptions {
  /** Executable: a path or a name looked up on PATH. Default $WHARF_TRIVY, else `trivy`. */
  bin: string;
  /** Trivy's cache (vulnerability DB, layer cache). Default: Trivy's own (~/.cache/trivy). */
  cacheDir?: string;
  /** Hard limit per Trivy call, also passed to Trivy's own --timeout. */
  timeoutMs: number;
  /** Use the DB already in the cache; never download (air-gapped sites). */
  offline?: boolean;
  signal?: AbortSignal;
}

/**
 * What to scan: an OCI image layout directory or image archive, a registry reference, or an unpacked
 * root filesystem (the file kinds: a `.wsl`'s tar, a disk's root ext4; `trivy rootfs`).
 */
export type TrivySource =
  | { kind: 'input'; path: string }
  | { kind: 'rootfs'; path: string }
  | { kind: 'ref'; ref: string; insecure?: boolean; username?: string; password?: string };

export type TrivyFailure = { ok: false; reason: string; tail?: string[] };
export type TrivyResult<T> = { ok: true; value: T } | TrivyFailure;

export const DEFAULT_TRIVY_TIMEOUT_MS = 10 * 60_000;
const MAX_OUTPUT = 512 * 1024 * 1024;

/** Options from the environment: WHARF_TRIVY, WHARF_TRIVY_CACHE_DIR, WHARF_TRIVY_TIMEOUT (s), WHARF_TRIVY_OFFLINE. */
export function trivyOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): TrivyOptions {
  const seconds = env.WHARF_TRIVY_TIMEOUT ? Number(env.WHARF_TRIVY_TIMEOUT) : NaN;
  if (env.WHARF_TRIVY_TIMEOUT && !(seconds > 0))
    throw new Error(
      `WHARF_TRIVY_TIMEOUT must be a positive number of seconds, got ${env.WHARF_TRIVY_TIMEOUT}`,
    );
  return {
    bin: env.WHARF_TRIVY || 'trivy',
    ...(env.WHARF_TRIVY_CACHE_DIR ? { cacheDir: resolve(env.WHARF_TRIVY_CACHE_DIR) } : {}),
    timeoutMs: seconds > 0 ? seconds * 1000 : DEFAULT_TRIVY_TIMEOUT_MS,
    ...(env.WHARF_TRIVY_OFFLINE === '1' || env.WHARF_TRIVY_OFFLINE === 'true' ? { offline: true } : {}),
  };
}

/** Registry references Wharf scans: host[:port]/path@sha256:<hex> or :tag. Checked before reaching argv. */
const IMAGE_REF_RE =
  /^[a-z0-9.-]+(?::[0-9]+)?(?:\/[a-z0-9._-]+)+(?:@sha256:[a-f0-9]{64}|:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/;

/** Global flags shared by every call. */
function commonArgs(opts: TrivyOptions): string[] {
  return ['--quiet', ...(opts.cacheDir ? ['--cache-dir', opts.cacheDir] : [])];
}

/** argv for `trivy image` (or `trivy rootfs`) in the given output format (exported for tests and docs). */
export function trivyImageArgs(format: 'json' | 'cyclonedx', opts: TrivyOptions, src: TrivySource): string[] {
  const args = [src.kind === 'rootfs' ? 'rootfs' : 'image', '--format', format, ...commonArgs(opts)];
  args.push('--timeout', `${Math.max(1, Math.ceil(opts.timeoutMs / 1000))}s`);
  // The JSON report is for vulnerabilities only (no secret or misconfiguration scanning: slow, and not
  // what the policy decides on); the SBOM run lists packages and needs no scanner at all.
  if (format === 'json') args.push('--scanners', 'vuln');
  if (opts.offline) args.push('--skip-db-update', '--offline-scan');
  if (src.kind === 'input') {
    if (!isAbsolute(src.path)) throw new Error(`trivy --input needs an absolute path, got ${src.path}`);
    args.push('--input', src.path);
  } else if (src.kind === 'rootfs') {
    if (!isAbsolute(src.path)) throw new Error(`trivy rootfs needs an absolute path, got ${src.path}`);
    args.push(src.path);
  } else {
    if (!IMAGE_REF_RE.test(src.ref)) throw new Error(`not an image reference: ${JSON.stringify(src.ref)}`);
    if (src.insecure) args.push('--insecure');
    args.push(src.ref);
  }
  return args;
}

/** Child environment: ours, minus any inherited Trivy credentials, plus the ones for this source. */
function childEnv(src: TrivySource | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.TRIVY_USERNAME;
  delete env.TRIVY_PASSWORD;
  if (src?.kind === 'ref') {
    if (src.username) env.TRIVY_USERNAME = src.username;
    if (src.password) env.TRIVY_PASSWORD = src.password;
  }
  return env;
}

/** Replace every secret value in text; used on anything from Trivy we keep or show. */
export function scrub(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}

function tailLines(text: string, secrets: (string | undefined)[], n = 20): string[] {
  return scrub(text, secrets)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-n)
    .map((l) => (l.length > 500 ? `${l.slice(0, 500)}…` : l));
}

/** Run trivy once; a Failure says why in words (not found, exit code, timeout). */
async function run(opts: TrivyOptions, args: string[], src?: TrivySource): Promise<TrivyResult<string>> {
  const secrets = src?.kind === 'ref' ? [src.password, src.username] : [];
  const r = await execa(opts.bin, args, {
    reject: false,
    env: childEnv(src),
    extendEnv: false,
    timeout: opts.timeoutMs,
    forceKillAfterDelay: 2000,
    maxBuffer: MAX_OUTPUT,
    stdin: 'ignore',
    stripFinalNewline: false,
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  if (!r.failed) return { ok: true, value: String(r.stdout) };
  const tail = tailLines(String(r.stderr ?? ''), secrets);
  const what = `trivy ${args[0]}`;
  let reason: string;
  if (r.code === 'ENOENT') reason = `trivy not found (${opts.bin}); install Trivy or set WHARF_TRIVY`;
  else if (r.code === 'EACCES') reason = `trivy at ${opts.bin} is not executable`;
  else if (r.timedOut) reason = `${what} timed out after ${Math.round(opts.timeoutMs / 1000)} s`;
  else if (r.isCanceled) reason = `${what} was cancelled`;
  else if (r.exitCode !== undefined)
    reason = `${what} exited with code ${r.exitCode}${tail.length ? `: ${tail[tail.length - 1]}` : ''}`;
  else reason = `${what} failed: ${scrub(r.originalMessage ?? r.shortMessage ?? 'unknown error', secrets)}`;
  return { ok: false, reason, ...(tail.length ? { tail } : {}) };
}

/** `trivy --version --format json`: scanner and vulnerability DB version; also tells whether Trivy runs. */
export async function trivyVersion(opts: TrivyOptions): Promise<TrivyResult<TrivyVersion>> {
  const r = await run(opts, [
    '--version',
    '--format',
    'json',
    ...(opts.cacheDir ? ['--cache-dir', opts.cacheDir] : []),
  ]);
  if (!r.ok) return r;
  try {
    return { ok: true, value: parseTrivyVersion(r.value) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/** The vulnerability report (JSON, SchemaVersion 2), parsed; the raw text is kept for the blob store. */
export async function trivyScan(
  opts: TrivyOptions,
  src: TrivySource,
): Promise<TrivyResult<{ report: TrivyReport; raw: string }>> {
  const r = await run(opts, trivyImageArgs('json', opts, src), src);
  if (!r.ok) return r;
  try {
    return {
      ok: true,
      value: { report: parseTrivyReport(r.value, 'trivy image --format json'), raw: r.value },
    };
  } catch (e) {
    if (e instanceof TrivyReportError) return { ok: false, reason: e.message };
    throw e;
  }
}

/** The CycloneDX SBOM of the same image, checked to be CycloneDX JSON. */
export async function trivySbom(
  opts: TrivyOptions,
  src: TrivySource,
): Promise<TrivyResult<{ raw: string; components: number }>> {
  const r = await run(opts, trivyImageArgs('cyclonedx', opts, src), src);
  if (!r.ok) return r;
  try {
    return { ok: true, value: { raw: r.value, components: checkCycloneDx(r.value).components } };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}
