// One interface for every version scheme (Renovate's "versioning" idea): the sweep, the pending-work
// derivation and `wharf version compare` never know which scheme they use.

export type Cmp = -1 | 0 | 1;

export interface VersionScheme {
  readonly name: string;
  /** Whether the string is a version this scheme can order. */
  isValid(v: string): boolean;
  /** Total order on valid versions: -1 when a < b, 0 when equal, 1 when a > b. */
  compare(a: string, b: string): Cmp;
  /** Pre-releases (rc, beta, ~ in rpm, semver pre-release tags) are skipped unless asked for. */
  isPrerelease(v: string): boolean;
  /**
   * Whether v belongs to a release line such as "1.x", "2.4.*" or a semver range. Returns undefined
   * when the scheme has no opinion; the caller then falls back to prefix/regex matching.
   */
  inLine?(v: string, line: string): boolean | undefined;
}

export const sign = (n: number): Cmp => (n < 0 ? -1 : n > 0 ? 1 : 0);

/** Words that mark a pre-release in schemes without a formal pre-release syntax. */
export const PRERELEASE_RE =
  /(?:^|[^a-z])(?:alpha|beta|rc|pre|preview|dev|snapshot|nightly|canary|milestone|m(?=\d)|a(?=\d)|b(?=\d))/i;
