// Any git remote: `git ls-remote --tags --refs <url>` through execa with an argument array (never a
// shell). No conditional requests exist for git, so this source always answers in full.
import { z } from 'zod';
import { execa } from 'execa';
import { defineSource, EntryError, type Source, upstreamConfig } from '../source.ts';

/** The `upstream:` entry this source reads. */
export const config = upstreamConfig('git', {}).refine((e) => !!(e.repo ?? e.url), {
  message: 'required (a git URL or path)',
  path: ['repo'],
});

const git: Source<z.infer<typeof config>> = async (entry, ctx) => {
  const url = entry.repo ?? entry.url;
  if (!url) throw new EntryError('repo', 'required (a git URL or path)');
  // An argument starting with '-' would be read as an option by git.
  if (url.startsWith('-') || /[\0\n\r]/.test(url))
    throw new EntryError('repo', `refusing git remote ${JSON.stringify(url)}`);
  if (/^ext::|^fd::/i.test(url)) throw new EntryError('repo', 'ext:: and fd:: remotes are not allowed');
  const r = await ctx.spawnSlot(() =>
    execa('git', ['-c', 'protocol.ext.allow=never', 'ls-remote', '--tags', '--refs', url], {
      reject: false,
      timeout: ctx.cfg.timeoutMs,
      env: { GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '/bin/false', SSH_ASKPASS: '/bin/false' },
      extendEnv: true,
      stdin: 'ignore',
      maxBuffer: ctx.cfg.maxBodyBytes,
    }),
  );
  if (r.timedOut) throw new Error(`git ls-remote timed out after ${ctx.cfg.timeoutMs} ms`);
  if (r.exitCode !== 0) {
    const why = String(r.stderr).trim().split('\n').slice(-1)[0] ?? '';
    throw new Error(`git ls-remote failed (exit ${r.exitCode}): ${why.slice(0, 300)}`);
  }
  const out: { version: string }[] = [];
  for (const line of String(r.stdout).split('\n')) {
    const m = /^[0-9a-f]{40,64}\trefs\/tags\/(.+)$/.exec(line.trim());
    if (m) out.push({ version: m[1]! });
  }
  return out;
};
export default defineSource('git', config, git);
