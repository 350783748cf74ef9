// The pending reasons that mean "rebuild because an input image moved", written by more than one module
// (the build stage's record, the base-image check, the build graph's children), so the catalog, the events
// and the site always see one wording.
import type { BuildBase } from '../../catalog/schema.ts';

/** An external base image (FROM or COPY --from) resolved to a new digest. */
export const baseChangedReason = (b: Pick<BuildBase, 'ref' | 'used'>): string =>
  `base image ${b.used ?? b.ref} changed`;

/** A Wharf-built parent image was rebuilt. */
export const parentRebuiltReason = (app: string, tag: string): string => `parent ${app}:${tag} rebuilt`;
