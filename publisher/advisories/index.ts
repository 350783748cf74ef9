// Wharf's openEuler advisory support: the CVRF feed mirror and index, installed RPM packages of an
// image, the matcher, SBOMs, coverage and openEuler's report format. See docs/advisories.md.
export { parseCvrf, CvrfError, bulletinUrl, type Advisory, type FixedEntry } from './cvrf.ts';
export {
  syncFeed,
  loadIndex,
  feedStats,
  parseIndexTxt,
  feedBase,
  FeedError,
  DEFAULT_FEED_URL,
  type AdvisoryIndex,
  type SyncResult,
} from './feed.ts';
export {
  readPackages,
  readRootfsPackages,
  readLayoutPackages,
  PackageReadError,
  type PackageSet,
  type InstalledPackage,
} from './packages.ts';
export { ReleaseMatcher, type AdvisoryFinding } from './match.ts';
export { coverageOf, trivyOsView, mergeFindings, OS_NOT_SCANNED, type Coverage } from './coverage.ts';
export { buildSbom, putSbom, rpmPurl, SBOM_MEDIA_TYPE } from './sbom.ts';
export { renderOpenEulerReport } from './report-md.ts';
export { parseAdvisoriesConfig, advisoriesDir, type AdvisoriesConfig } from './config.ts';
export {
  matchTarget,
  appReport,
  openEulerMarkdown,
  AdvisoryScanError,
  requireIndex,
  type MatchResult,
} from './scan.ts';
export { normalizeRelease } from './release.ts';
