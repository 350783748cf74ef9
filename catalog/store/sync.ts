// Remote sync: with a remote ('origin' by default), every commit is fetched-rebased-pushed, and a
// rejected push makes the transaction re-run its mutation against the new remote head, so concurrent
// machines never lose an update. Every method runs under the catalog lock.
import { git, GitError, gitOk } from '../git.ts';
import type { StoreOptions } from './layout.ts';
import { head } from './read.ts';

export type PushOutcome = 'ok' | 'rejected' | 'failed';

export class RemoteSync {
  private readonly dir: string;
  private readonly opts: StoreOptions;
  private remoteCache: string | null | undefined;
  private branchCache: string | undefined;

  constructor(dir: string, opts: StoreOptions) {
    this.dir = dir;
    this.opts = opts;
  }

  /** The remote to sync with, or null when there is none (or sync is off). */
  async remote(): Promise<string | null> {
    if (this.remoteCache !== undefined) return this.remoteCache;
    if (this.opts.remote === false) return (this.remoteCache = null);
    const want = this.opts.remote ?? 'origin';
    const remotes = (await git(this.dir, ['remote'])).split('\n').map((s) => s.trim());
    return (this.remoteCache = remotes.includes(want) ? want : null);
  }

  async branch(): Promise<string> {
    if (this.opts.branch) return this.opts.branch;
    this.branchCache ??=
      (await git(this.dir, ['symbolic-ref', '--short', 'HEAD']).catch(() => 'main')) || 'main';
    return this.branchCache;
  }

  /** Bring HEAD to the remote's head, replaying local commits that never reached it. */
  async pull(remote: string, branch: string): Promise<void> {
    try {
      await git(this.dir, ['fetch', '-q', remote, branch]);
    } catch (e) {
      // An empty remote has no branch yet; anything else (offline) leaves us working locally.
      if (e instanceof GitError && /couldn't find remote ref/i.test(e.stderr)) return;
      return;
    }
    const ahead = await git(this.dir, ['rev-list', '--count', `${remote}/${branch}..HEAD`]).catch(() => '0');
    if (ahead === '0' || (await head(this.dir)) === null) {
      await git(this.dir, ['reset', '-q', '--hard', `${remote}/${branch}`]);
      return;
    }
    // Local commits that never reached the remote (an earlier push failed): replay them on top.
    if (!(await gitOk(this.dir, ['rebase', '-q', `${remote}/${branch}`]))) {
      await gitOk(this.dir, ['rebase', '--abort']);
    }
  }

  async push(remote: string, branch: string): Promise<PushOutcome> {
    try {
      await git(this.dir, ['push', '-q', remote, `HEAD:refs/heads/${branch}`]);
      await gitOk(this.dir, ['update-ref', `refs/remotes/${remote}/${branch}`, 'HEAD']);
      return 'ok';
    } catch (e) {
      const msg = e instanceof GitError ? e.stderr : String(e);
      return /rejected|non-fast-forward|fetch first|cannot lock ref|failed to update ref/i.test(msg)
        ? 'rejected'
        : 'failed';
    }
  }

  /** Someone else pushed first: drop our last commit (the next attempt redoes it on their head). */
  async dropLastCommit(attempt: number): Promise<void> {
    await git(this.dir, ['reset', '-q', '--hard', 'HEAD~1']);
    await sleepJitter(attempt);
  }
}

function sleepJitter(attempt: number): Promise<void> {
  const ms = Math.min(2000, 20 * 2 ** attempt) * (0.5 + Math.random());
  return new Promise((r) => setTimeout(r, ms));
}
