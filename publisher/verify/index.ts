// The verify stage: smoke-test the built image before anything is published. Each recipe smoke test
// runs in its own container with a timeout: the command (argv, never a shell) must exit with the
// expected code and its output must match the expected pattern; with `port`, that TCP port must accept
// a connection while the container runs. Containers are always removed afterwards, also on timeout or
// failure. Without recipe smoke tests a default check runs: the image, as configured (entrypoint/cmd),
// must either exit 0 or still be running after a short grace period (a long-running service).
import { connect } from 'node:net';
import type Docker from 'dockerode';
import type { SmokeTest, VerifyRecord } from '../../catalog/schema.ts';
import { localImageRef, tailLines } from '../artifact/index.ts';
import { isMultiArch, platformImageRef, requiredArches } from '../artifact/arches.ts';
import { demuxLogs, explainEngineError } from '../engine/index.ts';
import type { StageContext, StageFn, StageResult, StageTarget } from '../stage.ts';

type CheckResult = VerifyRecord['checks'][number];

export interface VerifyStageOptions {
  /** Default check: how long a service must stay up (or exit 0 within). Default 5 s. */
  defaultGraceSeconds?: number;
  /** Lines of output kept per check in the record. Default 20. */
  outputLines?: number;
  /** Network mode for smoke-test containers (e.g. 'host', 'none'); default: the engine's default. */
  networkMode?: string;
  /**
   * Multi-arch: an arch built under qemu-user-static emulation runs its smoke tests with the timeouts
   * (and the default check's grace period) multiplied by this. Default 5.
   */
  emulationTimeoutFactor?: number;
}

export const DEFAULT_EMULATION_TIMEOUT_FACTOR = 5;

export const DEFAULT_CHECK_NAME = 'starts (default check)';

export function makeVerifyStage(opts: VerifyStageOptions = {}): StageFn<'verify'> {
  return (ctx, t) => verifyOne(ctx, t, opts);
}
export const verifyStage: StageFn<'verify'> = makeVerifyStage();

async function verifyOne(
  ctx: StageContext,
  t: StageTarget,
  opts: VerifyStageOptions,
): Promise<StageResult<'verify'>> {
  const started = Date.now();
  const at = new Date(started).toISOString();
  const name = `${t.app.id}:${t.artifactId}`;
  const build = t.artifact?.records.build;
  const prev = t.artifact?.records.verify;
  if (isMultiArch(build)) return verifyArches(ctx, t, opts, started);
  // The build of this very run found its inputs unchanged, and these inputs passed before: nothing to do.
  if (
    build?.status === 'unchanged' &&
    build.runId === ctx.runId &&
    build.manifestDigest &&
    prev?.status === 'passed' &&
    prev.inputsDigest === build.inputsDigest
  )
    return {
      stage: 'verify',
      verdict: 'done',
      status: 'unchanged',
      unchanged: true,
      message: 'smoke tests already passed for these inputs',
    };
  const checks: CheckResult[] = [];
  let failure: string | undefined;
  let tail: string[] | undefined;

  if (!build || (build.status !== 'ok' && build.status !== 'unchanged') || !build.manifestDigest) {
    failure = 'no successful build to verify (run the build stage first)';
  } else if (!ctx.engine) {
    failure = 'no container engine configured (DOCKER_HOST, --engine)';
  } else {
    const engine = ctx.engine;
    const image = build.imageId ?? localImageRef(t.app.id, t.artifactId);
    try {
      await engine.getImage(image).inspect();
    } catch (e) {
      const err = explainEngineError(engine, e);
      failure =
        err.name === 'EngineUnreachable'
          ? err.message
          : `image ${image} is not present on this engine (rebuild to verify it)`;
    }
    if (!failure) {
      const tests: Array<SmokeTest | null> = t.recipe.smoke?.length ? t.recipe.smoke : [null];
      for (const test of tests) {
        ctx.log.progress?.(`${name}: smoke test ${test?.name ?? DEFAULT_CHECK_NAME}`);
        const r = await runCheck(engine, image, test, ctx.runId, opts);
        checks.push(r);
        if (r.status !== 'passed' && !failure) {
          failure = `smoke test "${r.name}" ${describe(r, test)}`;
          tail = r.output;
        }
      }
    }
  }
  const status = failure ? 'failed' : 'passed';
  const message = failure ? `verify ${name} failed: ${failure}` : `${checks.length} check(s) passed`;
  const record: VerifyRecord = {
    runId: ctx.runId,
    at,
    durationMs: Date.now() - started,
    status,
    ...(build?.inputsDigest ? { inputsDigest: build.inputsDigest } : {}),
    checks,
    ...(failure ? { error: { message, ...(tail?.length ? { tail } : {}) } } : {}),
  };
  if (failure) ctx.log.warn(message);
  return {
    stage: 'verify',
    verdict: failure ? 'failed' : 'done',
    status,
    message,
    write: { upsert: true, record },
  };
}

type PlatformVerify = NonNullable<VerifyRecord['platforms']>[number];

/**
 * Multi-arch: each arch that built is smoke-tested on its own image (an emulated arch under
 * qemu-user-static, with longer timeouts), with its own entry in `platforms[]`. An arch whose
 * manifest already passed is not tested again. The stage fails when a required arch failed (the
 * message names it); a failed arch that is not required is recorded and left out of the index.
 */
async function verifyArches(
  ctx: StageContext,
  t: StageTarget,
  opts: VerifyStageOptions,
  started: number,
): Promise<StageResult<'verify'>> {
  const at = new Date(started).toISOString();
  const name = `${t.app.id}:${t.artifactId}`;
  const build = t.artifact!.records.build!;
  const prev = t.artifact?.records.verify;
  const factor = opts.emulationTimeoutFactor ?? DEFAULT_EMULATION_TIMEOUT_FACTOR;
  const built = (build.platforms ?? []).filter(
    (p) => (p.status === 'ok' || p.status === 'unchanged') && p.manifestDigest,
  );
  const required = requiredArches(
    ctx.config,
    (build.platforms ?? []).map((p) => p.arch),
  );
  const platforms: PlatformVerify[] = [];
  let tested = 0;
  let engineProblem: string | undefined;
  if (!built.length) engineProblem = 'no successful build to verify (run the build stage first)';
  else if (!ctx.engine) engineProblem = 'no container engine configured (DOCKER_HOST, --engine)';
  for (const p of engineProblem ? [] : built) {
    const engine = ctx.engine!;
    const done = prev?.platforms?.find(
      (x) =>
        x.arch === p.arch &&
        x.status === 'passed' &&
        x.manifestDigest === p.manifestDigest &&
        x.inputsDigest === p.inputsDigest,
    );
    if (done) {
      platforms.push(done);
      continue;
    }
    tested++;
    const t0 = Date.now();
    const image = p.imageId ?? platformImageRef(t.app.id, t.artifactId, p.arch);
    const entry: PlatformVerify = {
      arch: p.arch,
      status: 'passed',
      manifestDigest: p.manifestDigest,
      ...(p.inputsDigest ? { inputsDigest: p.inputsDigest } : {}),
      ...(p.emulated !== undefined ? { emulated: p.emulated } : {}),
      checks: [],
    };
    try {
      await engine.getImage(image).inspect();
    } catch (e) {
      const err = explainEngineError(engine, e);
      entry.status = 'failed';
      entry.error = {
        message:
          err.name === 'EngineUnreachable'
            ? err.message
            : `${p.arch} image ${image} is not present on this engine (rebuild to verify it)`,
      };
    }
    if (entry.status === 'passed') {
      const slow = p.emulated ? factor : 1;
      const tests: Array<SmokeTest | null> = t.recipe.smoke?.length ? t.recipe.smoke : [null];
      for (const test of tests) {
        ctx.log.progress?.(
          `${name} (${p.arch}${p.emulated ? ', emulated' : ''}): smoke test ${test?.name ?? DEFAULT_CHECK_NAME}`,
        );
        const scaled = test ? { ...test, timeoutSeconds: test.timeoutSeconds * slow } : null;
        const r = await runCheck(engine, image, scaled, ctx.runId, {
          ...opts,
          defaultGraceSeconds: (opts.defaultGraceSeconds ?? 5) * slow,
        });
        entry.checks.push(r);
        if (r.status !== 'passed' && entry.status === 'passed') {
          entry.status = 'failed';
          entry.error = {
            message: `smoke test "${r.name}" ${describe(r, scaled)}`,
            ...(r.output?.length ? { tail: r.output } : {}),
          };
        }
      }
    }
    entry.durationMs = Date.now() - t0;
    platforms.push(entry);
  }
  const heldBy = platforms.filter((p) => p.status === 'failed' && required.includes(p.arch));
  const missing = required.filter((a) => !platforms.some((p) => p.arch === a));
  const failure =
    engineProblem ??
    (heldBy.length || missing.length
      ? [
          ...heldBy.map((p) => `${p.arch}: ${p.error?.message ?? 'failed'}`),
          ...missing.map((a) => `${a}: not built`),
        ].join('; ')
      : undefined);
  const optionalFailed = platforms.filter((p) => p.status === 'failed' && !required.includes(p.arch));
  if (!failure && tested === 0 && prev?.status === 'passed' && prev.inputsDigest === build.inputsDigest)
    return {
      stage: 'verify',
      verdict: 'done',
      status: 'unchanged',
      unchanged: true,
      message: 'smoke tests already passed for these arch manifests',
    };
  const primary = platforms[0];
  const status = failure ? 'failed' : 'passed';
  const message = failure
    ? `verify ${name} failed for required arch ${failure}`
    : `${platforms.map((p) => `${p.arch} ${p.status}`).join(', ')}${optionalFailed.length ? ' (failed arches not required: left out of the index)' : ''}`;
  const tail = heldBy[0]?.error?.tail;
  const record: VerifyRecord = {
    runId: ctx.runId,
    at,
    durationMs: Date.now() - started,
    status,
    ...(build.inputsDigest ? { inputsDigest: build.inputsDigest } : {}),
    checks: primary?.checks ?? [],
    platforms,
    ...(failure ? { error: { message, ...(tail?.length ? { tail } : {}) } } : {}),
  };
  if (failure) ctx.log.warn(message);
  return {
    stage: 'verify',
    verdict: failure ? 'failed' : 'done',
    status,
    message,
    write: { upsert: true, record },
  };
}

function describe(r: CheckResult, test: SmokeTest | null): string {
  if (r.status === 'timeout') return `timed out after ${test?.timeoutSeconds ?? '?'} s`;
  if (r.status === 'error') return `could not run: ${r.output?.at(-1) ?? 'unknown error'}`;
  if (test?.port && r.exitCode !== undefined)
    return `exited (code ${r.exitCode}) before port ${test.port} opened`;
  if (test?.port) return `port ${test.port} did not open`;
  if (test && r.exitCode !== test.expectExit) return `exited with ${r.exitCode}, expected ${test.expectExit}`;
  if (test?.expectOutput) return `output does not match /${test.expectOutput}/`;
  return `failed (exit ${r.exitCode ?? '?'})`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run one check in a fresh container; the container is removed whatever happens. */
export async function runCheck(
  engine: Docker,
  image: string,
  test: SmokeTest | null,
  runId: string,
  opts: VerifyStageOptions = {},
): Promise<CheckResult> {
  const started = Date.now();
  const name = test?.name ?? DEFAULT_CHECK_NAME;
  const keep = opts.outputLines ?? 20;
  const result = (r: Omit<CheckResult, 'name' | 'durationMs'>): CheckResult => ({
    name,
    ...r,
    durationMs: Date.now() - started,
  });
  let pattern: RegExp | undefined;
  if (test?.expectOutput !== undefined) {
    try {
      pattern = new RegExp(test.expectOutput, 'm');
    } catch (e) {
      return result({ status: 'error', output: [`invalid expectOutput: ${(e as Error).message}`] });
    }
  }
  let container: Docker.Container | undefined;
  const logs = async () => {
    try {
      const buf = (await container!.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      return demuxLogs(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
    } catch {
      return '';
    }
  };
  try {
    container = await engine.createContainer({
      Image: image,
      ...(test ? { Entrypoint: [test.command[0]!], Cmd: test.command.slice(1) } : {}),
      Labels: { 'dev.wharf.smoke-test': runId },
      Tty: false,
      HostConfig: { AutoRemove: false, ...(opts.networkMode ? { NetworkMode: opts.networkMode } : {}) },
    });
    await container.start();
    const timeoutMs = test ? test.timeoutSeconds * 1000 : (opts.defaultGraceSeconds ?? 5) * 1000;

    if (test?.port) {
      const host = await containerHost(container);
      const deadline = started + timeoutMs;
      for (;;) {
        if (await canConnect(host, test.port)) {
          const text = await logs();
          const ok = !pattern || pattern.test(text);
          return result({ status: ok ? 'passed' : 'failed', output: tailLines(text, keep) });
        }
        const state = (await container.inspect()).State;
        if (!state.Running)
          return result({
            status: 'failed',
            exitCode: state.ExitCode,
            output: tailLines(await logs(), keep),
          });
        if (Date.now() > deadline)
          return result({ status: 'timeout', output: tailLines(await logs(), keep) });
        await sleep(200);
      }
    }

    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      container.wait() as Promise<{ StatusCode: number }>,
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    if (waited === 'timeout') {
      const output = tailLines(await logs(), keep);
      // The default check passes a service that is still up after the grace period.
      if (!test)
        return result({ status: 'passed', output: [...output, '(still running after the grace period)'] });
      return result({ status: 'timeout', output });
    }
    const text = await logs();
    const exitCode = waited.StatusCode;
    const expectExit = test ? test.expectExit : 0;
    const ok = exitCode === expectExit && (!pattern || pattern.test(text));
    return result({ status: ok ? 'passed' : 'failed', exitCode, output: tailLines(text, keep) });
  } catch (e) {
    return result({ status: 'error', output: [explainEngineError(engine, e).message] });
  } finally {
    if (container) await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}

/** Where a container's ports can be reached: its bridge IP, or loopback for host networking. */
async function containerHost(c: Docker.Container): Promise<string> {
  // Older engines put the bridge IP at the top level, newer ones only under Networks.
  const ns = (await c.inspect()).NetworkSettings as Docker.ContainerInspectInfo['NetworkSettings'] & {
    IPAddress?: string;
  };
  const ip = ns.IPAddress || Object.values(ns.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress;
  return ip || '127.0.0.1';
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 500 });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('timeout', () => done(false));
    s.once('error', () => done(false));
  });
}
