// openEuler release names and RPM version strings as the advisory feed and the RPM database spell them.
import { UNAME_MACHINE } from '../../catalog/names.ts';
import { rpmvercmp } from '../watch/versions/rpm.ts';

/** "openEuler-22.03-LTS-SP2", "22.03-lts-sp2", "22.03 LTS SP2" → "22.03-LTS-SP2"; undefined when not a release name. */
export function normalizeRelease(s: string): string | undefined {
  const t = s
    .trim()
    .replace(/^openEuler[-_ ]?/i, '')
    .replace(/[ _]+/g, '-')
    .toUpperCase();
  return /^\d{2}\.\d{2}(?:-LTS)?(?:-SP\d+)?$/.test(t) ? t : undefined;
}

/** The release's purl distro qualifier: "openeuler-24.03-lts-sp4". */
export const distroQualifier = (release: string): string => `openeuler-${release.toLowerCase()}`;

/** openEuler's dist tag at the end of a release: ".oe1", ".oe2203sp2", ".oe2403". */
const DIST_TAG = /\.oe\d*(?:sp\d+)?$/i;

/** A release without its dist tag: "32.oe2203sp2" → "32" (dist tags differ between OS releases, not fixes). */
export const stripDist = (release: string): string => release.replace(DIST_TAG, '');

export interface Evr {
  epoch: number;
  version: string;
  release: string;
}

/** rpm's ordering of epoch:version-release, ignoring the dist tag of the release. */
export function compareEvr(a: Evr, b: Evr): -1 | 0 | 1 {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  const v = rpmvercmp(a.version, b.version);
  if (v !== 0) return v;
  return rpmvercmp(stripDist(a.release), stripDist(b.release));
}

/** "version-release" without the dist tag, as openEuler's reports print it. */
export const displayVr = (e: Pick<Evr, 'version' | 'release'>): string =>
  `${e.version}-${stripDist(e.release)}`;

/** "epoch:version-release" (epoch only when non-zero). */
export const formatEvr = (e: Evr): string => `${e.epoch ? `${e.epoch}:` : ''}${e.version}-${e.release}`;

/** RPM package names: letters, digits and ._+- (no path or shell characters). */
export const RPM_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,255}$/;
/** RPM version and release fields. */
export const RPM_VR = /^[A-Za-z0-9._+~^]{1,128}$/;
/** RPM architectures. */
export const RPM_ARCH = /^[A-Za-z0-9_]{1,32}$/;

/** Parse an RPM file name "name-version-release.arch.rpm"; undefined when it is not one. */
export function parseRpmFileName(
  file: string,
): { name: string; version: string; release: string; arch: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.([A-Za-z0-9_]+)\.rpm$/.exec(file);
  if (!m) return undefined;
  const [, name, version, release, arch] = m as unknown as [string, string, string, string, string];
  if (!RPM_NAME.test(name) || !RPM_VR.test(version) || !RPM_VR.test(release) || !RPM_ARCH.test(arch))
    return undefined;
  return { name, version, release, arch };
}

/** Image platform architecture (OCI) ↔ RPM architecture. */
export const OCI_TO_RPM_ARCH: Record<string, string> = UNAME_MACHINE;
export const RPM_TO_OCI_ARCH: Record<string, string> = Object.fromEntries(
  Object.entries(OCI_TO_RPM_ARCH).map(([k, v]) => [v, k]),
);
