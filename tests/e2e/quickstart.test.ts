// The README's Quick start, run as written: `bash scripts/setup/start.sh` (the same script, with the
// switches that skip the apt/npm installs, pick free loopback ports and a temp state directory, and
// start the daemon in the background instead of the foreground) must end with the demo image
// published, signed and pullable from the local registry (`skopeo inspect`), and the marketplace
// served by the daemon showing it with a working pull command. Everything the script started is stopped
// by scripts/setup/stop.sh afterwards and checked to be gone.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';

const REPO = resolve(import.meta.dirname, '../..');
const NODE = join(REPO, 'node_modules/.bin/node');
let tmp: string;
let ports: { site: number; registry: number; daemon: number };
let env: NodeJS.ProcessEnv;
let started: { stdout: string; stderr: string; exitCode: number | undefined };

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function pids(): Promise<Record<string, number>> {
  const run = join(tmp, 'run');
  const out: Record<string, number> = {};
  for (const f of await readdir(run).catch(() => [] as string[]))
    if (f.endsWith('.pid')) out[f.slice(0, -4)] = Number(await readFile(join(run, f), 'utf8'));
  return out;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wharf-quickstart-'));
  ports = { site: await freePort(), registry: await freePort(), daemon: await freePort() };
  env = { ...process.env };
  // What the developer's shell may carry must not leak into the quick start.
  for (const k of [
    'DOCKER_HOST',
    'WHARF_CATALOG',
    'WHARF_WORK_DIR',
    'WHARF_SIGNING_KEY',
    'WHARF_SIGNING_KEY_FILE',
  ])
    delete env[k];
  Object.assign(env, {
    WHARF_SKIP_INSTALL: '1',
    WHARF_STATE_DIR: tmp,
    WHARF_PORT: String(ports.site),
    WHARF_REGISTRY_PORT: String(ports.registry),
    WHARF_DAEMON_PORT: String(ports.daemon),
    WHARF_SITE_DIR: join(tmp, 'site'),
    // Not reachable: the shipped sample is imported (no network needed).
    WHARF_RECIPES_URL: join(tmp, 'no-such-recipes'),
    WHARF_DAEMON: 'background',
  });
  const r = await execa('bash', [join(REPO, 'scripts/setup/start.sh')], {
    cwd: REPO,
    env,
    extendEnv: false,
    reject: false,
    timeout: 8 * 60_000,
    stdin: 'ignore',
  });
  started = { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode };
}, 9 * 60_000);

afterAll(async () => {
  if (!tmp) return;
  const before = await pids();
  await execa('bash', [join(REPO, 'scripts/setup/stop.sh')], {
    cwd: REPO,
    env,
    extendEnv: false,
    reject: false,
  });
  for (const [name, pid] of Object.entries(before))
    expect(alive(pid), `${name} (pid ${pid}) still running`).toBe(false);
  // podman's storage (overlay mounts) under the state directory, then the directory.
  const p = join(tmp, 'podman');
  await execa('podman', ['system', 'reset', '-f'], {
    env: {
      ...process.env,
      CONTAINERS_CONF: join(p, 'containers.conf'),
      CONTAINERS_REGISTRIES_CONF: join(p, 'registries.conf'),
      CONTAINERS_STORAGE_CONF: join(p, 'storage.conf'),
    },
    reject: false,
    timeout: 60_000,
  });
  await rm(tmp, { recursive: true, force: true });
}, 120_000);

describe('the Quick start', () => {
  it('is the two commands of the README, the first being this script', async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const block = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = block
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter(Boolean);
    expect(commands).toEqual(['bash scripts/setup/start.sh', 'npm test']);
  });

  it('starts podman, the registry and the daemon, and returns', async () => {
    expect(started.exitCode, `${started.stdout}\n${started.stderr}`).toBe(0);
    const p = await pids();
    expect(Object.keys(p).sort()).toEqual(['daemon', 'podman', 'registry']);
    for (const pid of Object.values(p)) expect(alive(pid)).toBe(true);
    const health = await fetch(`http://127.0.0.1:${ports.daemon}/healthz`);
    expect(health.status).toBe(200);
  });

  it('ends with the demo image published and pullable from the local registry', async () => {
    const ref = `127.0.0.1:${ports.registry}/wharf/wharf-demo:1.0.0`;
    const r = await execa('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { reject: false });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const info = JSON.parse(String(r.stdout)) as { Digest: string; RepoTags: string[]; Architecture: string };
    expect(info.Digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    // The signature and the provenance attestation sit beside it, in cosign's tag scheme.
    const hex = info.Digest.slice('sha256:'.length);
    expect(info.RepoTags).toEqual(
      expect.arrayContaining(['1.0.0', `sha256-${hex}.sig`, `sha256-${hex}.att`]),
    );

    // The catalog records it like any other app, with the registry target in wharf.yml.
    const api = (await (await fetch(`http://127.0.0.1:${ports.site}/api/apps/wharf-demo.json`)).json()) as {
      tags: {
        id: string;
        digest: string;
        signed: boolean;
        pull: { registry: string; ref: string; published: boolean }[];
        scan: { state: string; message?: string };
      }[];
    };
    const tag = api.tags.find((t) => t.id === '1.0.0')!;
    expect(tag.digest).toBe(info.Digest);
    expect(tag.signed).toBe(true);
    expect(tag.pull).toEqual([{ registry: 'local', ref, published: true }]);
    // No vulnerability DB here: the scan says it did not run (never "clean").
    if (tag.scan.state !== 'ok') {
      expect(['not-run', 'failed']).toContain(tag.scan.state);
      const badge = await (
        await fetch(`http://127.0.0.1:${ports.site}/apps/wharf-demo/badges/scan.svg`)
      ).text();
      expect(badge).toMatch(/>(not run|failed)<\/text>/);
    }
  });

  it('the served marketplace shows the pull command and a valid signature with the published key', async () => {
    const ref = `127.0.0.1:${ports.registry}/wharf/wharf-demo:1.0.0`;
    const page = await (
      await fetch(`http://127.0.0.1:${ports.site}/en/apps/wharf-demo/container/1.0.0/`)
    ).text();
    expect(page).toContain(`docker pull ${ref}`);
    const wharfYml = await readFile(join(tmp, 'catalog', 'wharf.yml'), 'utf8');
    expect(wharfYml).toContain(`publicKey: ${join(tmp, 'keys', 'cosign.pub')}`);
    expect(wharfYml).toContain(`keyFile: ${join(tmp, 'keys', 'cosign.key')}`);
    const v = await execa(
      NODE,
      [
        join(REPO, 'scripts/wharf.mjs'),
        'verify',
        ref,
        '--key',
        join(tmp, 'keys', 'cosign.pub'),
        '--insecure',
        '--json',
      ],
      { reject: false, cwd: REPO },
    );
    expect(v.exitCode, String(v.stderr)).toBe(0);
    expect(JSON.parse(String(v.stdout))).toMatchObject({ valid: true, reasons: [] });
  });

  it('is idempotent: the defaults and the demo change nothing the second time', async () => {
    const catalog = join(tmp, 'catalog');
    const again = await execa(
      NODE,
      [
        join(REPO, 'scripts/setup/local-defaults.ts'),
        '--catalog',
        catalog,
        '--registry',
        `127.0.0.1:${ports.registry}`,
        '--site-url',
        `http://127.0.0.1:${ports.site}/`,
        '--key-file',
        join(tmp, 'keys', 'cosign.key'),
        '--public-key',
        join(tmp, 'keys', 'cosign.pub'),
      ],
      { cwd: REPO },
    );
    expect(String(again.stdout)).toContain('(unchanged)');
    const yml = await readFile(join(catalog, 'wharf.yml'), 'utf8');
    expect(yml.match(/name: local/g)).toHaveLength(1);
    const demo = await execa(
      NODE,
      [join(REPO, 'scripts/wharf.mjs'), 'demo', '--catalog', catalog, '--json'],
      {
        cwd: REPO,
        env: {
          ...env,
          DOCKER_HOST: `unix://${join(tmp, 'podman', 'podman.sock')}`,
          WHARF_WORK_DIR: join(tmp, 'work'),
        },
        extendEnv: false,
        reject: false,
      },
    );
    expect(demo.exitCode, String(demo.stderr)).toBe(0);
    expect(JSON.parse(String(demo.stdout))).toMatchObject({ status: 'unchanged', signed: true });
  }, 120_000);
});
