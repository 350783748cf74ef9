// A CycloneDX 1.6 JSON SBOM of an image's installed RPM packages (@cyclonedx/cyclonedx-library), each
// component with its package URL (packageurl-js): pkg:rpm/openeuler/<name>@<version>-<release>?arch=…&
// epoch=…&distro=openeuler-<release>. Stored in the blob store like every large result.
import { Enums, Models, Serialize, SPDX, Spec } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import type { BlobRef } from '../../catalog/schema.ts';
import type { BlobStore } from '../../catalog/blobs.ts';
import { gitBlobRef } from '../../catalog/findings.ts';
import type { InstalledPackage } from './packages.ts';
import { distroQualifier, normalizeRelease } from './release.ts';

export const SBOM_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

export function rpmPurl(p: InstalledPackage, release?: string): string {
  const q: Record<string, string> = { arch: p.arch };
  if (p.epoch) q.epoch = String(p.epoch);
  if (release) q.distro = distroQualifier(release);
  return new PackageURL('rpm', 'openeuler', p.name, `${p.version}-${p.release}`, q, undefined).toString();
}

export interface SbomInput {
  packages: readonly InstalledPackage[];
  /** OS release ("24.03-LTS-SP4"), for the purls' distro qualifier. */
  release?: string;
  /** What the SBOM describes: an image reference or name. */
  subject: string;
  arch?: string;
  /** Fixed timestamp (tests, reproducible output). */
  timestamp?: Date;
}

/** CycloneDX 1.6 JSON text. */
export function buildSbom(input: SbomInput): string {
  const release = input.release ? normalizeRelease(input.release) : undefined;
  const bom = new Models.Bom();
  bom.metadata.timestamp = input.timestamp ?? new Date();
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, 'wharf', { group: 'wharf', version: '0.1.0' }),
  );
  bom.metadata.component = new Models.Component(Enums.ComponentType.Container, input.subject, {
    bomRef: 'image',
    ...(input.arch
      ? { properties: new Models.PropertyRepository([new Models.Property('wharf:arch', input.arch)]) }
      : {}),
  });
  const seen = new Set<string>();
  for (const p of input.packages) {
    const purl = rpmPurl(p, release);
    if (seen.has(purl)) continue;
    seen.add(purl);
    const licenses = new Models.LicenseRepository();
    // RPM License tags are mostly not SPDX ("GPLv2+", "BSD and Public Domain"): named unless an SPDX id.
    if (p.license)
      licenses.add(
        SPDX.isSupportedSpdxId(p.license)
          ? new Models.SpdxLicense(p.license)
          : new Models.NamedLicense(p.license),
      );
    const props = new Models.PropertyRepository();
    if (p.sourceRpm) props.add(new Models.Property('wharf:rpm:sourceRpm', p.sourceRpm));
    if (p.epoch) props.add(new Models.Property('wharf:rpm:epoch', String(p.epoch)));
    bom.components.add(
      new Models.Component(Enums.ComponentType.Library, p.name, {
        version: `${p.version}-${p.release}`,
        bomRef: purl,
        purl,
        licenses,
        properties: props,
      }),
    );
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: true, space: 2 }) + '\n';
}

export async function putSbom(blobs: BlobStore, sbom: string): Promise<BlobRef> {
  return gitBlobRef(await blobs.put(sbom, SBOM_MEDIA_TYPE));
}
