// Validation of every name that can reach a path, an image tag, a git ref or a command line.
// Anything that fails here is refused before it is used; the rules are deliberately narrower than
// what the underlying systems accept, so one check covers paths, OCI references and argv alike.
import { z } from 'zod';

/** App ids: lowercase OCI path-component rules, also a safe single directory name. */
export const APP_ID_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** OCI tag grammar (distribution spec): also safe as a file name because it cannot start with '.' or contain '/'. */
export const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** Upstream version strings as stored: printable, no whitespace, no shell or path metacharacters. */
export const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+~^:-]{0,127}$/;
/** OS versions in openEuler's spelling, e.g. 24.03-lts-sp4, 22.03-lts, 25.09. */
export const OS_VERSION_RE = /^[0-9]{2}\.[0-9]{2}(?:-lts(?:-sp[0-9]+)?)?$/;
/** Architectures in OCI spelling. */
export const ARCHES = ['amd64', 'arm64', 'riscv64', 'loong64', 'ppc64le', 's390x'] as const;
export type Arch = (typeof ARCHES)[number];
/**
 * The same architectures in the kernel's `uname -m` spelling, which is both RPM's arch name and the
 * qemu-user-static binary/binfmt_misc handler suffix (qemu-<name>).
 */
export const UNAME_MACHINE: Record<Arch, string> = {
  amd64: 'x86_64',
  arm64: 'aarch64',
  riscv64: 'riscv64',
  loong64: 'loongarch64',
  ppc64le: 'ppc64le',
  s390x: 's390x',
};

export class NameError extends Error {
  readonly kind: string;
  readonly value: string;
  constructor(kind: string, value: string, why: string) {
    super(`invalid ${kind} ${JSON.stringify(value)}: ${why}`);
    this.name = 'NameError';
    this.kind = kind;
    this.value = value;
  }
}

function check(kind: string, re: RegExp, value: unknown, max = 128): string {
  if (typeof value !== 'string') throw new NameError(kind, String(value), 'not a string');
  if (value.includes('\0')) throw new NameError(kind, value, 'contains NUL');
  if (value.length === 0) throw new NameError(kind, value, 'empty');
  if (value.length > max) throw new NameError(kind, value, `longer than ${max} characters`);
  if (!re.test(value)) throw new NameError(kind, value, `does not match ${re}`);
  return value;
}

export const assertAppId = (v: unknown): string => check('app id', APP_ID_RE, v, 64);
export const assertTag = (v: unknown): string => check('tag', TAG_RE, v, 128);
export const assertVersion = (v: unknown): string => check('version', VERSION_RE, v, 128);
export const assertOsVersion = (v: unknown): string => check('OS version', OS_VERSION_RE, v, 32);

/**
 * Publish repository names (the last path component under a registry namespace): the app id grammar,
 * at most 64 characters, so `<namespace>/<name>` stays far below registries' 255-character limit.
 */
export const REPO_NAME_MAX = 64;
export const assertRepoName = (v: unknown): string => check('repository name', APP_ID_RE, v, REPO_NAME_MAX);

export const isAppId = (v: unknown): v is string =>
  typeof v === 'string' && APP_ID_RE.test(v) && v.length <= 64;
export const isTag = (v: unknown): v is string => typeof v === 'string' && TAG_RE.test(v);
export const isVersion = (v: unknown): v is string => typeof v === 'string' && VERSION_RE.test(v);

/** Turn an arbitrary upstream or directory name into an app id, or null if nothing sensible remains. */
export function toAppId(raw: string): string | null {
  const id = raw
    .toLowerCase()
    .replace(/[/\\]+/g, '-')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .replace(/[._-]{2,}/g, '-');
  return isAppId(id) ? id : null;
}

/** A path relative to a tree that must not escape it: no absolute paths, no '..', no NUL, no backslashes. */
export function assertRelativePath(kind: string, p: unknown): string {
  if (typeof p !== 'string' || p.length === 0) throw new NameError(kind, String(p), 'empty');
  if (p.includes('\0')) throw new NameError(kind, p, 'contains NUL');
  if (p.includes('\\')) throw new NameError(kind, p, 'contains a backslash');
  if (p.startsWith('/')) throw new NameError(kind, p, 'is absolute');
  if (p.split('/').some((s) => s === '..' || s === ''))
    throw new NameError(kind, p, 'escapes its tree or has empty segments');
  if (!/^[A-Za-z0-9._/+@-]+$/.test(p))
    throw new NameError(kind, p, 'has characters outside [A-Za-z0-9._/+@-]');
  return p;
}

export const zAppId = z
  .string()
  .regex(APP_ID_RE, 'app id must be lowercase [a-z0-9] with . _ - separators')
  .max(64);
export const zRepoName = z
  .string()
  .regex(APP_ID_RE, 'repository name must be lowercase [a-z0-9] with . _ - separators')
  .max(REPO_NAME_MAX, `repository name must be at most ${REPO_NAME_MAX} characters`);
export const zTag = z.string().regex(TAG_RE, 'tag must match the OCI tag grammar');
export const zVersion = z.string().regex(VERSION_RE, 'version has characters outside [A-Za-z0-9._+~^:-]');
export const zOsVersion = z.string().regex(OS_VERSION_RE, 'OS version must look like 24.03-lts-sp4');
export const zArch = z.enum(ARCHES);
export const zRelPath = z.string().refine(
  (p) => {
    try {
      assertRelativePath('path', p);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'path must be relative, inside its tree, without .. or special characters' },
);
