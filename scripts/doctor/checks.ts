// `wharf doctor`: find the tools and services Wharf uses, report versions, and say exactly how to
// install or start what is missing. Required: node and git (nothing works without them); every
// other check is optional and only warns (its stage then reports "not-run" or is skipped).
import { access, constants, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { hostArches, type HostArches } from '../../publisher/arches.ts';
import { send } from '../../publisher/net/index.ts';

export interface Check {
  name: string;
  ok: boolean;
  required: boolean;
  version?: string;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
  /** Which arches this host builds: native, emulated (qemu-user-static via binfmt_misc), missing (with hints). */
  arches: HostArches;
}

export interface DoctorOptions {
  /** Catalog directory, for the registry targets configured in wharf.yml. */
  catalogDir?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** binfmt_misc directory (default /proc/sys/fs/binfmt_misc; tests point it elsewhere). */
  binfmtDir?: string;
}

const APT = (pkg: string) => `sudo apt-get install -y ${pkg}   (Debian/Ubuntu)`;

export const TRIVY_FIX = [
  "Debian/Ubuntu, from Aqua Security's apt repository:",
  '  sudo apt-get install -y wget gnupg',
  '  wget -qO - https://aquasecurity.github.io/trivy-repo/deb/public.key | gpg --dearmor | sudo tee /usr/share/keyrings/trivy.gpg > /dev/null',
  '  echo "deb [signed-by=/usr/share/keyrings/trivy.gpg] https://aquasecurity.github.io/trivy-repo/deb generic main" | sudo tee -a /etc/apt/sources.list.d/trivy.list',
  '  sudo apt-get update && sudo apt-get install -y trivy',
  'or the release tarball: download trivy_<version>_Linux-64bit.tar.gz (ARM64: Linux-ARM64) from',
  '  https://github.com/aquasecurity/trivy/releases, then: tar -xzf trivy_*.tar.gz trivy && sudo install trivy /usr/local/bin/',
  'or any trivy binary on PATH. Without trivy, scans are recorded as not-run (never as clean).',
].join('\n');

interface ToolSpec {
  name: string;
  /** Candidate binaries, first found wins. */
  bins: string[];
  args: string[];
  required?: boolean;
  purpose: string;
  fix: string;
  /** Pick the version out of the output. */
  version?: RegExp;
}

const TOOLS: ToolSpec[] = [
  {
    name: 'git',
    bins: ['git'],
    args: ['--version'],
    required: true,
    purpose: 'the catalog is a git repository',
    fix: APT('git'),
  },
  {
    name: 'podman',
    bins: ['podman'],
    args: ['--version'],
    purpose: 'builds and runs images (Docker API)',
    fix: APT('podman runc uidmap'),
  },
  {
    name: 'qemu-img',
    bins: ['qemu-img'],
    args: ['--version'],
    purpose: 'cloud images (qcow2/raw/vhd/vmdk)',
    fix: APT('qemu-utils'),
  },
  {
    name: 'xz',
    bins: ['xz'],
    args: ['--version'],
    purpose: 'xz-compressed RPM repository metadata (watch)',
    fix: APT('xz-utils'),
  },
  {
    name: 'bzip2',
    bins: ['bzip2'],
    args: ['--help'],
    purpose: 'bzip2-compressed RPM repository metadata (watch)',
    fix: APT('bzip2'),
  },
  {
    name: 'trivy',
    bins: ['trivy'],
    args: ['--version'],
    purpose: 'vulnerability scans and SBOMs',
    fix: TRIVY_FIX,
  },
  {
    name: 'chromium',
    bins: ['chromium', 'chromium-browser', 'google-chrome'],
    args: ['--version'],
    purpose: 'site screenshots and browser tests',
    fix: APT('chromium'),
  },
  {
    name: 'docker-registry',
    bins: ['docker-registry', 'registry'],
    args: ['--version'],
    purpose: 'local OCI registry for tests and the embedded default',
    fix: APT('docker-registry'),
  },
  {
    name: 'skopeo',
    bins: ['skopeo'],
    args: ['--version'],
    purpose: 'copying images between registries',
    fix: APT('skopeo'),
  },
];

const VERSION_RE = /(\d+\.\d+(?:\.\d+)?(?:[-+~][0-9A-Za-z.]+)?)/;

async function probeTool(t: ToolSpec, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Check> {
  const required = Boolean(t.required);
  for (const bin of t.bins) {
    const r = await execa(bin, t.args, { env, reject: false, timeout: timeoutMs, stdin: 'ignore' }).catch(
      () => null,
    );
    if (!r || r.failed || r.exitCode !== 0) {
      if (
        r &&
        (r as { code?: string }).code !== 'ENOENT' &&
        r.exitCode !== undefined &&
        r.exitCode !== 127 &&
        !/ENOENT/.test(String(r.message))
      ) {
        return {
          name: t.name,
          ok: false,
          required,
          detail: `${bin} is installed but "${bin} ${t.args.join(' ')}" failed: ${String(r.stderr || r.message).split('\n')[0]}`,
          fix: t.fix,
        };
      }
      continue;
    }
    const out = `${String(r.stdout)}\n${String(r.stderr)}`;
    const version = (t.version ?? VERSION_RE).exec(out)?.[1];
    return {
      name: t.name,
      ok: true,
      required,
      ...(version ? { version } : {}),
      detail: `${bin}: ${t.purpose}`,
    };
  }
  return {
    name: t.name,
    ok: false,
    required,
    detail: `${t.bins.join(' / ')} not found on PATH (${t.purpose})`,
    fix: t.fix,
  };
}

function checkNode(): Check {
  const [maj = 0, min = 0] = process.versions.node.split('.').map(Number);
  const ok = maj > 22 || (maj === 22 && min >= 18);
  return {
    name: 'node',
    ok,
    required: true,
    version: process.versions.node,
    detail: ok
      ? `node ${process.version} (runs TypeScript natively)`
      : `node ${process.version} is too old: Wharf needs >= 22.18`,
    ...(ok ? {} : { fix: 'npm ci (pins Node 24 as node_modules/.bin/node), then run wharf through npx' }),
  };
}

/** Candidate container engine sockets, in the order Wharf tries them. */
export function engineSockets(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  if (env.DOCKER_HOST) out.push(env.DOCKER_HOST);
  out.push('unix:///var/run/docker.sock');
  if (env.XDG_RUNTIME_DIR) out.push(`unix://${join(env.XDG_RUNTIME_DIR, 'podman/podman.sock')}`);
  out.push('unix:///run/podman/podman.sock');
  return [...new Set(out)];
}

function dockerFor(uri: string): Docker | null {
  if (uri.startsWith('unix://')) return new Docker({ socketPath: uri.slice('unix://'.length) });
  const m = /^(tcp|http|https):\/\/([^:/]+)(?::(\d+))?/.exec(uri);
  if (m)
    return new Docker({
      protocol: m[1] === 'https' ? 'https' : 'http',
      host: m[2]!,
      port: Number(m[3] ?? 2375),
    });
  return null;
}

async function checkEngine(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Check> {
  const tried: string[] = [];
  for (const uri of engineSockets(env)) {
    if (uri.startsWith('unix://')) {
      const path = uri.slice('unix://'.length);
      const st = await stat(path).catch(() => null);
      if (!st?.isSocket()) {
        tried.push(`${path}: no socket`);
        continue;
      }
      if (
        !(await access(path, constants.R_OK | constants.W_OK).then(
          () => true,
          () => false,
        ))
      ) {
        tried.push(`${path}: permission denied`);
        continue;
      }
    }
    const d = dockerFor(uri);
    if (!d) {
      tried.push(`${uri}: unsupported DOCKER_HOST`);
      continue;
    }
    try {
      const ping = await withTimeout(d.ping(), timeoutMs);
      if (!String(ping).includes('OK')) throw new Error(`unexpected ping answer ${String(ping)}`);
      const v = await withTimeout(d.version(), timeoutMs).catch(() => null);
      const product = v?.Components?.[0]?.Name ?? 'Docker API';
      return {
        name: 'container-engine',
        ok: true,
        required: false,
        ...(v?.Version ? { version: v.Version } : {}),
        detail: `${product} at ${uri}`,
      };
    } catch (e) {
      tried.push(`${uri}: ${(e as Error).message}`);
    }
  }
  return {
    name: 'container-engine',
    ok: false,
    required: false,
    detail: `no Docker API answered (${tried.join('; ')})`,
    fix: 'install podman (sudo apt-get install -y podman runc uidmap) and start its Docker API: systemctl --user enable --now podman.socket, or podman system service --time=0 unix://$XDG_RUNTIME_DIR/podman/podman.sock; or set DOCKER_HOST',
  };
}

async function checkRegistries(catalogDir: string | undefined, timeoutMs: number): Promise<Check[]> {
  if (!catalogDir) return [];
  let targets;
  try {
    targets = (await (await CatalogStore.open(catalogDir)).config()).registries;
  } catch {
    return [
      {
        name: 'registry',
        ok: true,
        required: false,
        detail: `no catalog at ${catalogDir}; no registry to check`,
      },
    ];
  }
  if (!targets.length)
    return [
      { name: 'registry', ok: true, required: false, detail: 'no registry targets in wharf.yml (optional)' },
    ];
  return Promise.all(
    targets.map(async (t): Promise<Check> => {
      const host = t.repository.split('/')[0]!;
      const url = `${t.insecure ? 'http' : 'https'}://${host}/v2/`;
      try {
        const r = await send(url, { deadlineMs: timeoutMs, discardBody: true });
        // 200 (open) or 401 (auth required) both prove an OCI distribution endpoint.
        const ok = r.status === 200 || r.status === 401;
        const api = r.headers['docker-distribution-api-version'];
        return {
          name: `registry:${t.name}`,
          ok,
          required: false,
          ...(api ? { version: api } : {}),
          detail: `${url} answered ${r.status}`,
          ...(ok ? {} : { fix: `check that ${host} serves the OCI distribution API` }),
        };
      } catch (e) {
        return {
          name: `registry:${t.name}`,
          ok: false,
          required: false,
          detail: `${url}: ${(e as Error).message}`,
          fix: `start the registry at ${host} (e.g. docker-registry serve config.yml) or fix registries[].repository in wharf.yml`,
        };
      }
    }),
  );
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export async function runDoctor(o: DoctorOptions = {}): Promise<DoctorReport> {
  const env = o.env ?? process.env;
  const timeoutMs = o.timeoutMs ?? 5000;
  const checks = [
    checkNode(),
    ...(await Promise.all(TOOLS.map((t) => probeTool(t, env, timeoutMs)))),
    await checkEngine(env, timeoutMs),
    ...(await checkRegistries(o.catalogDir, timeoutMs)),
  ];
  const arches = await hostArches(o.binfmtDir ? { binfmtDir: o.binfmtDir } : {});
  checks.push({
    name: 'arches',
    ok: arches.missing.length === 0,
    required: false,
    detail: `native ${arches.native.join(', ')}; emulated ${arches.emulated.join(', ') || 'none'}${
      arches.missing.length ? `; missing ${arches.missing.join(', ')}` : ''
    }`,
    ...(arches.hints.length ? { fix: arches.hints.join('\n') } : {}),
  });
  return { ok: checks.every((c) => c.ok || !c.required), checks, arches };
}
