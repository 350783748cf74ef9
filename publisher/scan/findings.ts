// When a scan result is worth a commit. The finding-list storage itself (blob, inline in older records)
// is catalog/findings.ts; it is re-exported here for the scan modules.
import type { ScanCoverage, ScanRecord } from '../../catalog/schema.ts';
import { findingsHash } from '../../catalog/findings.ts';
import { samePolicy, type PolicyResult } from './policy.ts';

export {
  encodeFindings,
  findingsHash,
  FINDINGS_MEDIA_TYPE,
  gitBlobRef,
  putFindings,
  readFindings,
  type FindingsRead,
} from '../../catalog/findings.ts';

/**
 * A completed scan that would change nothing worth a commit: the previous record scanned the same
 * digest, found the same finding list and reached the same policy decision, and is younger than
 * rewriteAfterDays (then it is rewritten anyway, so `at` in git never gets older than that).
 * The coverage must say the same too (who covered what, and the package counts), not its data ages.
 */
export function unchangedScan(
  prev: ScanRecord | undefined,
  next: { target: string; findingsSha: string; policy: PolicyResult; coverage?: ScanCoverage },
  now: Date,
  rewriteAfterDays: number,
): boolean {
  if (!prev || prev.status !== 'ok' || prev.target !== next.target) return false;
  if (findingsHash(prev) !== next.findingsSha) return false;
  if (!samePolicy(prev.policy, next.policy)) return false;
  // What was covered changed (an advisory index appeared, Trivy came back): worth a commit.
  if (next.coverage && !sameCoverage(prev.coverage, next.coverage)) return false;
  return now.getTime() - Date.parse(prev.at) < rewriteAfterDays * 86_400_000;
}

const coverageKey = (c: ScanCoverage | undefined) =>
  JSON.stringify([c?.os.by, c?.os.release, c?.language.by, c?.arches ?? []]);

function sameCoverage(a: ScanCoverage | undefined, b: ScanCoverage): boolean {
  return coverageKey(a) === coverageKey(b);
}
