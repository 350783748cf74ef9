// What the catalog says an image reference should be: the app whose publish repository (its `name`)
// the reference names, and the digest its publish record holds for that tag. `wharf verify` uses it
// so that a validly signed image is not called valid when it is not the image the app published
// (another app, or a stray push, wrote that tag).
import type { CatalogSnapshot } from './store.ts';

export interface RecordedImage {
  app: string;
  tag: string;
  /** Digest of the app's publish record (per target when the target's ref matches exactly). */
  digest: string | null;
}

/** `registry/namespace/name:tag` (tag required) → the app and artifact the catalog has for it. */
export function recordedImageFor(snap: CatalogSnapshot, ref: string): RecordedImage | null {
  const at = ref.indexOf('@');
  const noDigest = at < 0 ? ref : ref.slice(0, at);
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  if (colon <= slash) return null; // no tag: nothing a record can be looked up by
  const tag = noDigest.slice(colon + 1);
  const repoPath = noDigest.slice(0, colon);
  const name = repoPath.slice(slash + 1);
  for (const e of snap.apps.values()) {
    if (e.app.name !== name) continue;
    const art = e.artifacts.find((a) => a.kind === 'container' && a.id === tag);
    const pub = art?.records.publish;
    const exact = pub?.targets.find((t) => t.ref === noDigest || t.ref === ref);
    return { app: e.app.id, tag, digest: exact?.digest ?? pub?.digest ?? null };
  }
  return null;
}
