// A real podman system service (Docker-compatible API) for tests: its own containers.conf,
// registries.conf and storage.conf in a temp dir, so concurrent test files never share storage or
// sockets. Also builds the local busybox base image the fixture recipes are built FROM.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import { waitFor } from './ports.ts';

export interface TestPodman {
  /** unix:///…/podman.sock */
  url: string;
  socket: string;
  engine: Docker;
  /** Environment for running podman/skopeo CLIs against the same storage and config. */
  env: NodeJS.ProcessEnv;
  dir: string;
  stop(): Promise<void>;
}

/** Start `podman system service` on a private socket; `insecureRegistries` are host:port entries. */
export async function startPodman(opts: { insecureRegistries?: string[] } = {}): Promise<TestPodman> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-podman-'));
  await mkdir(join(dir, 'tmp'));
  // One file per config, each a list of lines ending in a newline.
  const confs: Record<string, string[]> = {
    'containers.conf': [
      '[containers]',
      'default_ulimits = ["nofile=1024:1024","nproc=1024:1024"]',
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, 'events.log')}"`,
      `tmp_dir = "${join(dir, 'tmp')}"`,
    ],
    'registries.conf': [
      'unqualified-search-registries = []',
      ...(opts.insecureRegistries ?? []).flatMap((r) => [
        '[[registry]]',
        `location = "${r}"`,
        'insecure = true',
      ]),
    ],
    'storage.conf': [
      '[storage]',
      'driver = "overlay"',
      `graphroot = "${join(dir, 'root')}"`,
      `runroot = "${join(dir, 'run')}"`,
    ],
  };
  for (const [name, lines] of Object.entries(confs)) {
    await writeFile(join(dir, name), [...lines, ''].join('\n'));
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONTAINERS_CONF: join(dir, 'containers.conf'),
    CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
    CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
    BUILDAH_ISOLATION: 'chroot',
    TMPDIR: join(dir, 'tmp'),
  };
  const socket = join(dir, 'podman.sock');
  const url = `unix://${socket}`;
  const proc: ResultPromise = execa('podman', ['system', 'service', '--time=0', url], {
    env,
    reject: false,
    stdio: ['ignore', 'ignore', 'pipe'],
    cleanup: true,
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const engine = new Docker({ socketPath: socket });
  try {
    await waitFor('podman service', async () => (await engine.ping()).toString() === 'OK', 30_000);
  } catch (e) {
    proc.kill('SIGTERM');
    throw new Error(`${(e as Error).message}: ${stderr}`);
  }
  return {
    url,
    socket,
    engine,
    env,
    dir,
    async stop() {
      // Remove leftover containers first so the storage can be deleted.
      await execa('podman', ['rm', '-af', '-t', '0'], { env, reject: false });
      proc.kill('SIGTERM');
      await proc;
      await execa('podman', ['system', 'reset', '-f'], { env, reject: false, timeout: 60_000 });
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/**
 * Build the busybox base image (FROM scratch + the static busybox + its applet symlinks) through the
 * Docker API, tag it as `ref` and push it to its (insecure, loopback) registry, so its digest can be
 * resolved like any real base.
 */
export async function createBusyboxBase(
  engine: Docker,
  ref: string,
  opts: { marker?: string } = {},
): Promise<void> {
  const dockerfile = [
    'FROM scratch',
    'COPY busybox /bin/busybox',
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
    // The marker makes a "new base release" with a different digest when a test needs one.
    `RUN ["/bin/busybox", "sh", "-c", "mkdir -p /etc && echo ${opts.marker ?? 'base'} > /etc/base-release"]`,
    'CMD ["/bin/sh"]',
    '',
  ].join('\n');
  const p = pack();
  p.entry({ name: 'Dockerfile', mode: 0o644 }, dockerfile);
  p.entry({ name: 'busybox', mode: 0o755 }, await readFile('/bin/busybox'));
  p.finalize();
  const stream = await engine.buildImage(p as unknown as NodeJS.ReadableStream, { t: ref, rm: true });
  await followOrThrow(engine, stream, `build ${ref}`);
  const push = await engine.getImage(ref).push({});
  await followOrThrow(engine, push, `push ${ref}`);
}

async function followOrThrow(engine: Docker, stream: NodeJS.ReadableStream, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    engine.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => {
      const failed = err ?? out.find((o) => o.error);
      if (failed) reject(new Error(`${what}: ${err ? err.message : (failed as { error: string }).error}`));
      else resolve();
    });
  });
}
