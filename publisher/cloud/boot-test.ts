// Verify = boot it. QEMU boots the image with UEFI firmware (ovmf / AAVMF), a copy-on-write overlay
// (snapshot=on: the file under test is never written) and a NoCloud seed, and watches the serial
// console. The boot passes when, within the timeout, the console shows
// - the seed's marker line (WHARF-BOOT-OK-<nonce>, printed by cloud-init's runcmd or by a marker
//   unit/init that reads the seed), or
// - systemd reaching multi-user.target and cloud-init's "finished" line.
// KVM is used when /dev/kvm opens and the guest arch is the host's, and the boot is retried under TCG
// when KVM fails (nested virtualisation often does); TCG otherwise. The whole console is kept.
// amd64: qemu-system-x86_64 -machine q35 with OVMF, serial ttyS0. arm64: qemu-system-aarch64
// -machine virt (-cpu host under KVM, max under TCG) with AAVMF, serial on the PL011 (ttyAMA0).
import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { access, copyFile, mkdtemp, open, rm } from 'node:fs/promises';
import { arch as hostArch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import type { Arch } from '../../catalog/names.ts';
import { imageInfo } from './convert.ts';
import { CloudToolError } from './run.ts';
import { MARKER_PREFIX, makeSeed } from './seed.ts';

export type Accel = 'kvm' | 'tcg';

export interface BootTestOptions {
  arch?: Arch;
  /** Seconds (default 300). */
  timeout?: number;
  /** auto (default): KVM when it works, else TCG. */
  accel?: 'auto' | Accel;
  /** Where the console log is written (default: a temp dir; the caller keeps it). */
  consoleLog?: string;
  memoryMiB?: number;
  signal?: AbortSignal;
  /** The nonce of the marker (default random). */
  nonce?: string;
}

export const zBootTestResult = z
  .object({
    booted: z.boolean(),
    seconds: z.number(),
    /** What showed the boot passed: the marker line, or "multi-user + cloud-init finished"; null when it failed. */
    marker: z.string().nullable(),
    consoleLog: z.string(),
    accel: z.enum(['kvm', 'tcg']),
    format: z.string(),
    /** Why it failed (timeout, QEMU exited, KVM failed and TCG timed out …). */
    reason: z.string().optional(),
  })
  .strict();
export type BootTestResult = z.infer<typeof zBootTestResult>;

interface Firmware {
  qemu: string;
  machine: string[];
  /** The CPU arguments for each accelerator. */
  cpu: Record<Accel, string[]>;
  code: string;
  vars: string;
}

interface ArchQemu {
  qemu: string;
  machine: string[];
  cpu: Record<Accel, string[]>;
  /** UEFI firmware: [code, vars template] pairs, first found wins. */
  pairs: [string, string][];
}

const FIRMWARE: Partial<Record<Arch, ArchQemu>> = {
  amd64: {
    qemu: 'qemu-system-x86_64',
    machine: ['-machine', 'q35'],
    cpu: { kvm: ['-cpu', 'host'], tcg: [] },
    pairs: [
      ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_VARS_4M.fd'],
      ['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_VARS.fd'],
      ['/usr/share/edk2/ovmf/OVMF_CODE.fd', '/usr/share/edk2/ovmf/OVMF_VARS.fd'],
    ],
  },
  arm64: {
    qemu: 'qemu-system-aarch64',
    // virt: PL011 serial (ttyAMA0), virtio over PCIe, AAVMF in the two pflash banks (64 MiB each).
    machine: ['-machine', 'virt'],
    // Under TCG, max with pauth-impdef: QEMU's own pointer-authentication hash instead of emulating
    // QARMA. The test image boots in about half the time (21 s against 47 s here).
    cpu: { kvm: ['-cpu', 'host'], tcg: ['-cpu', 'max,pauth-impdef=on'] },
    pairs: [
      ['/usr/share/AAVMF/AAVMF_CODE.fd', '/usr/share/AAVMF/AAVMF_VARS.fd'],
      ['/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw', '/usr/share/edk2/aarch64/vars-template-pflash.raw'],
    ],
  },
};

const exists = (p: string) =>
  access(p, constants.R_OK).then(
    () => true,
    () => false,
  );

export async function findFirmware(arch: Arch): Promise<Firmware> {
  const f = FIRMWARE[arch];
  if (!f) throw new CloudToolError(`no UEFI boot test for ${arch} (amd64 and arm64 are supported)`);
  for (const [code, vars] of f.pairs)
    if ((await exists(code)) && (await exists(vars)))
      return { qemu: f.qemu, machine: f.machine, cpu: f.cpu, code, vars };
  throw new CloudToolError(
    `no UEFI firmware for ${arch}: install ${arch === 'amd64' ? 'ovmf' : 'qemu-efi-aarch64'} (looked for ${f.pairs.map((p) => p[0]).join(', ')})`,
  );
}

const HOST_ARCH: Record<string, Arch> = { x64: 'amd64', arm64: 'arm64' };

/** Whether KVM can be tried: /dev/kvm opens read-write and the guest runs on this CPU. */
export async function kvmUsable(arch: Arch): Promise<boolean> {
  if (HOST_ARCH[hostArch()] !== arch) return false;
  try {
    const fh = await open('/dev/kvm', 'r+');
    await fh.close();
    return true;
  } catch {
    return false;
  }
}

const MULTI_USER = /Reached target .*Multi-User System|Reached target multi-user\.target/;
const CLOUD_INIT_DONE = /Cloud-init v\. \S+ finished/;
// How KVM fails under nested virtualisation: an internal error, or QEMU aborting when the host
// refuses an MSR ("failed to set MSR 0x10a …", then an assertion in kvm_buf_set_msrs).
const KVM_FAILED =
  /KVM internal error|failed to initialize kvm|Could not access KVM kernel module|kvm run failed|failed to set MSR|kvm_buf_set_msrs/i;

interface Attempt {
  outcome: 'passed' | 'timeout' | 'exited' | 'kvm-failed';
  marker: string | null;
  detail?: string;
}

async function attempt(
  fw: Firmware,
  accel: Accel,
  image: string,
  format: string,
  seed: string,
  vars: string,
  nonce: string,
  deadline: number,
  log: NodeJS.WritableStream,
  o: BootTestOptions,
): Promise<Attempt> {
  const args = [
    ...fw.machine,
    '-accel',
    accel,
    ...fw.cpu[accel],
    '-m',
    String(o.memoryMiB ?? 1024),
    '-smp',
    // Under TCG one vCPU boots as fast on a shared machine and leaves the other core free.
    accel === 'kvm' ? '2' : '1',
    '-display',
    'none',
    '-nodefaults',
    '-no-reboot',
    '-serial',
    'stdio',
    '-monitor',
    'none',
    '-nic',
    'none',
    '-drive',
    `if=pflash,format=raw,unit=0,readonly=on,file=${fw.code}`,
    '-drive',
    `if=pflash,format=raw,unit=1,file=${vars}`,
    '-drive',
    `file=${image},format=${format},if=virtio,snapshot=on`,
    '-drive',
    `file=${seed},format=raw,if=virtio,readonly=on`,
  ];
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  o.signal?.addEventListener('abort', onAbort);
  const child = execa(fw.qemu, args, {
    reject: false,
    cancelSignal: ac.signal,
    stdin: 'ignore',
    buffer: false,
  });
  let text = '';
  let stderr = '';
  let result: Attempt | null = null;
  const marker = `${MARKER_PREFIX}${nonce}`;
  const finish = (r: Attempt) => {
    if (!result) {
      result = r;
      ac.abort();
    }
  };
  child.stdout?.on('data', (c: Buffer) => {
    log.write(c);
    text = (text + c.toString('latin1')).slice(-256 * 1024);
    if (text.includes(marker)) finish({ outcome: 'passed', marker });
    else if (MULTI_USER.test(text) && CLOUD_INIT_DONE.test(text))
      finish({ outcome: 'passed', marker: 'multi-user.target reached, cloud-init finished' });
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-16 * 1024);
    if (accel === 'kvm' && KVM_FAILED.test(stderr))
      finish({ outcome: 'kvm-failed', marker: null, detail: stderr.split('\n')[0] });
  });
  const timer = setTimeout(
    () => finish({ outcome: 'timeout', marker: null }),
    Math.max(0, deadline - Date.now()),
  );
  try {
    const r = await child;
    if (!result) {
      if ((r as { code?: string }).code === 'ENOENT')
        throw new CloudToolError(`${fw.qemu} is not installed (see scripts/setup/system-packages.txt)`);
      result =
        accel === 'kvm' && KVM_FAILED.test(stderr)
          ? { outcome: 'kvm-failed', marker: null, detail: stderr.split('\n')[0] }
          : {
              outcome: 'exited',
              marker: null,
              detail: `QEMU exited (${r.exitCode ?? r.signal}) before the boot finished${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
            };
    }
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
  return result!;
}

/** Boot `image` and report whether it came up. Throws only when the boot cannot be tried at all. */
export async function bootTest(image: string, o: BootTestOptions = {}): Promise<BootTestResult> {
  const arch = o.arch ?? 'amd64';
  const timeout = o.timeout ?? 300;
  if (!(timeout > 0)) throw new Error(`timeout must be a positive number of seconds, got ${timeout}`);
  if (image.includes(',')) throw new Error(`${image}: QEMU cannot take a path with a comma`);
  const fw = await findFirmware(arch);
  const { format } = await imageInfo(image);
  if (!['raw', 'qcow2', 'vpc', 'vmdk'].includes(format))
    throw new Error(`${image}: unexpected image format ${format}`);
  const work = await mkdtemp(join(tmpdir(), 'wharf-boot-'));
  const consoleLog = o.consoleLog ?? join(work, 'console.log');
  const nonce = o.nonce ?? randomBytes(8).toString('hex');
  const log = createWriteStream(consoleLog);
  const started = Date.now();
  const deadline = started + timeout * 1000;
  let accel: Accel =
    o.accel === 'kvm' || o.accel === 'tcg' ? o.accel : (await kvmUsable(arch)) ? 'kvm' : 'tcg';
  try {
    const seed = join(work, 'seed.img');
    await makeSeed(seed, nonce);
    let res: Attempt;
    let note = '';
    for (;;) {
      const vars = join(work, `vars-${accel}.fd`);
      await copyFile(fw.vars, vars);
      res = await attempt(fw, accel, image, format, seed, vars, nonce, deadline, log, o);
      if (res.outcome === 'kvm-failed' && o.accel !== 'kvm') {
        note = `KVM failed (${res.detail ?? 'internal error'}); booted again under TCG. `;
        log.write(`\n[wharf] ${note}\n`);
        accel = 'tcg';
        continue;
      }
      break;
    }
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const booted = res.outcome === 'passed';
    const reason = booted
      ? undefined
      : `${note}${res.outcome === 'timeout' ? `no boot marker within ${timeout} s` : (res.detail ?? res.outcome)}`;
    return { booted, seconds, marker: res.marker, consoleLog, accel, format, ...(reason ? { reason } : {}) };
  } finally {
    await new Promise<void>((r) => log.end(r));
    if (o.consoleLog) await rm(work, { recursive: true, force: true });
    else {
      await rm(join(work, 'seed.img'), { force: true });
      for (const a of ['kvm', 'tcg']) await rm(join(work, `vars-${a}.fd`), { force: true });
    }
  }
}
