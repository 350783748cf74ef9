// `wharf doctor` against a real podman Docker API and a real docker-registry, and with tools removed
// from PATH: required tools missing → exit 1; optional ones only warn, each with install instructions.
import { mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { startPodman, type TestPodman } from '../helpers/podman.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { freePort } from '../helpers/ports.ts';
import type { DoctorReport } from '../../scripts/doctor/checks.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const doctor = (args: string[], env: NodeJS.ProcessEnv) =>
  execa(process.execPath, ['scripts/wharf.mjs', 'doctor', ...args], {
    cwd: ROOT,
    reject: false,
    env,
    extendEnv: false,
  });

let podman: TestPodman;
let registry: TestRegistry;
beforeAll(async () => {
  [podman, registry] = await Promise.all([startPodman(), startRegistry()]);
});
afterAll(async () => {
  await Promise.all([podman?.stop(), registry?.stop()]);
});

describe('wharf doctor', () => {
  it('finds the engine socket, the configured registry and the tools; warns on a dead registry', async () => {
    const dead = await freePort();
    const store = await CatalogStore.init(join(await mkdtemp(join(tmpdir(), 'wharf-doc-')), 'c'), {
      registries: [
        { name: 'local', repository: `${registry.host}/openeuler`, insecure: true },
        { name: 'gone', repository: `127.0.0.1:${dead}/openeuler`, insecure: true },
      ],
    });
    const r = await doctor(['--json', '--catalog', store.dir], {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DOCKER_HOST: podman.url,
    });
    expect(r.exitCode).toBe(0);
    const rep = JSON.parse(r.stdout) as DoctorReport;
    const by = new Map(rep.checks.map((c) => [c.name, c]));
    expect(by.get('git')).toMatchObject({
      ok: true,
      required: true,
      version: expect.stringMatching(/^\d+\.\d+/),
    });
    expect(by.get('node')).toMatchObject({ ok: true, required: true });
    expect(by.get('container-engine')).toMatchObject({
      ok: true,
      detail: expect.stringContaining(podman.url),
    });
    expect(by.get('registry:local')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/answered 200/),
    });
    expect(by.get('registry:gone')).toMatchObject({ ok: false, required: false, fix: expect.any(String) });
    for (const name of [
      'qemu-img',
      'chromium',
      'podman',
      'docker-registry',
      'skopeo',
      'xz',
      'bzip2',
      'trivy',
    ])
      expect(by.has(name), name).toBe(true);
    // The daemon keeps no job queue outside the catalog: nothing needs redis.
    expect(by.has('redis-server')).toBe(false);
    for (const c of rep.checks) if (!c.ok) expect(c.fix, c.name).toBeTruthy();
  });

  it('fails (exit 1) when a required tool is missing, and says how to install each missing tool', async () => {
    // A PATH holding only node: git and every optional tool are "missing".
    const bin = await mkdtemp(join(tmpdir(), 'wharf-doc-bin-'));
    await symlink(process.execPath, join(bin, 'node'));
    const env = { PATH: bin, HOME: process.env.HOME, DOCKER_HOST: `unix://${bin}/no.sock` };
    const j = await doctor(['--json'], env);
    expect(j.exitCode).toBe(1);
    const rep = JSON.parse(j.stdout) as DoctorReport;
    const by = new Map(rep.checks.map((c) => [c.name, c]));
    expect(rep.ok).toBe(false);
    expect(by.get('git')).toMatchObject({
      ok: false,
      required: true,
      fix: expect.stringContaining('apt-get install -y git'),
    });
    expect(by.get('trivy')!.fix).toContain('https://aquasecurity.github.io/trivy-repo/deb generic main');
    expect(by.get('trivy')!.fix).toContain('Linux-64bit.tar.gz');
    expect(by.get('container-engine')).toMatchObject({ ok: false, required: false });
    const text = await doctor([], env);
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toMatch(/FAIL git/);
    expect(text.stdout).toMatch(/warn qemu-img .*\n\s+sudo apt-get install -y qemu-utils/);
    expect(text.stdout).toMatch(/missing required: git/);
  });
});
