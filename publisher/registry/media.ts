// OCI / Docker media types and the zod schemas of the JSON documents the registry client reads
// (image manifests, image indexes, the oci-layout index). Unknown fields are kept (passthrough) so a
// manifest read back can be re-serialised only when we never need its exact bytes.
import { z } from 'zod';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** Every manifest type we understand, sent as Accept on every manifest HEAD/GET (distribution 2.8
 * answers schema1, with another digest, when Accept is missing). */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');

export const isIndexType = (mt: string | undefined): boolean => mt === OCI_INDEX || mt === DOCKER_LIST;

export const zDigestString = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'digest must be sha256:<64 hex>');

export const zDescriptor = z
  .object({
    mediaType: z.string().min(1),
    digest: zDigestString,
    size: z.number().int().min(0),
    annotations: z.record(z.string(), z.string()).optional(),
    platform: z.record(z.string(), z.unknown()).optional(),
    artifactType: z.string().optional(),
  })
  .passthrough();
export type Descriptor = z.infer<typeof zDescriptor>;

export const zImageManifest = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    config: zDescriptor,
    layers: z.array(zDescriptor),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();
export type ImageManifest = z.infer<typeof zImageManifest>;

export const zImageIndex = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    manifests: z.array(zDescriptor),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();
export type ImageIndex = z.infer<typeof zImageIndex>;

/** Media type of a manifest document: its own mediaType field, else inferred from its shape. */
export function manifestMediaType(doc: unknown): string {
  const o = doc as { mediaType?: unknown; manifests?: unknown };
  if (typeof o?.mediaType === 'string') return o.mediaType;
  return Array.isArray(o?.manifests) ? OCI_INDEX : OCI_MANIFEST;
}
