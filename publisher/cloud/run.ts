// The system tools a cloud image is made with (sfdisk, mkfs.vfat, mtools, mkfs.ext4, debugfs, dd,
// qemu-img, qemu-system-*), run through execa with argv arrays, never a shell. A tool that is missing
// or fails is an error naming the tool, its arguments and the tail of its stderr.
import { execa, type Options } from 'execa';

export class CloudToolError extends Error {
  override name = 'CloudToolError';
}

const tail = (s: string, n = 12) => s.trim().split('\n').slice(-n).join('\n');

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/** Run `cmd args…`; resolves with its output, rejects with a CloudToolError that says what failed. */
export async function tool(
  cmd: string,
  args: readonly string[],
  opts: Pick<Options, 'env' | 'cwd' | 'input' | 'cancelSignal' | 'timeout'> = {},
): Promise<ToolResult> {
  const r = await execa(cmd, args, { ...opts, reject: false, stripFinalNewline: false });
  if (r.failed) {
    const code = (r as { code?: string }).code;
    if (code === 'ENOENT')
      throw new CloudToolError(`${cmd} is not installed (see scripts/setup/system-packages.txt)`);
    const why = r.exitCode !== undefined ? `exit ${r.exitCode}` : (r.signal ?? 'failed');
    throw new CloudToolError(
      `${cmd} ${args.join(' ')}: ${why}${r.stderr ? `\n${tail(String(r.stderr))}` : ''}`,
    );
  }
  return { stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Run a tool and return its stdout as bytes (debugfs `cat`). */
export async function toolBytes(
  cmd: string,
  args: readonly string[],
): Promise<{ stdout: Buffer; stderr: string }> {
  const r = await execa(cmd, args, { reject: false, encoding: 'buffer', stripFinalNewline: false });
  if (r.failed) {
    const code = (r as { code?: string }).code;
    if (code === 'ENOENT')
      throw new CloudToolError(`${cmd} is not installed (see scripts/setup/system-packages.txt)`);
    throw new CloudToolError(
      `${cmd} ${args.join(' ')}: exit ${r.exitCode}\n${tail(Buffer.from(r.stderr).toString())}`,
    );
  }
  return { stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr).toString() };
}

/** The environment that makes mkfs/mtools/debugfs outputs depend on their inputs only. */
export function reproducibleEnv(epoch: number, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    SOURCE_DATE_EPOCH: String(epoch),
    E2FSPROGS_FAKE_TIME: String(epoch),
    MTOOLS_SKIP_CHECK: '1',
    TZ: 'UTC',
    LC_ALL: 'C',
  };
}
