// Where sign leaves its output for publish: a small OCI image layout per artifact
// (<workDir>/signatures/<app>/<tag>) holding, per registry target, the `.sig` and `.att` manifests and
// their blobs. Each index entry is annotated with the tag to push it under, the target name and the
// image digest it is about, so publish can push them next to the image on every target.
import { join } from 'node:path';
import { assertAppId, assertTag } from '../../catalog/names.ts';
import { OciLayout, LayoutError } from '../registry/layout.ts';
import type { Descriptor } from '../registry/media.ts';

export const REF_NAME = 'org.opencontainers.image.ref.name';
export const TARGET_ANNOTATION = 'dev.wharf.target';
export const KIND_ANNOTATION = 'dev.wharf.kind';
export const SUBJECT_ANNOTATION = 'dev.wharf.subject';

export function signatureLayoutDir(workDir: string, app: string, artifactId: string): string {
  return join(workDir, 'signatures', assertAppId(app), assertTag(artifactId));
}

export interface SignatureEntry {
  target: string;
  kind: 'signature' | 'attestation';
  tag: string;
  subject: string;
  descriptor: Descriptor;
}

/** The entries of a signature layout, or null when there is none. */
export async function readSignatureLayout(
  dir: string,
): Promise<{ layout: OciLayout; entries: SignatureEntry[] } | null> {
  let layout: OciLayout;
  try {
    layout = await OciLayout.open(dir);
  } catch (e) {
    if (e instanceof LayoutError && /no OCI image layout/.test(e.message)) return null;
    throw e;
  }
  const entries: SignatureEntry[] = [];
  for (const d of (await layout.index()).manifests) {
    const a = d.annotations ?? {};
    const kind = a[KIND_ANNOTATION];
    if (
      (kind !== 'signature' && kind !== 'attestation') ||
      !a[REF_NAME] ||
      !a[TARGET_ANNOTATION] ||
      !a[SUBJECT_ANNOTATION]
    )
      throw new LayoutError(`${dir}: index entry ${d.digest} lacks the wharf annotations`);
    entries.push({
      target: a[TARGET_ANNOTATION],
      kind,
      tag: a[REF_NAME],
      subject: a[SUBJECT_ANNOTATION],
      descriptor: d,
    });
  }
  return { layout, entries };
}
