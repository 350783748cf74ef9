// The cloud section of an app page (components/Cloud.astro): per cloud artifact, the published disk
// images by format (download URL, size, SHA-256, checksum file, Sigstore bundle), the boot test, and
// the image id per cloud and region once the import stage (publisher/cloud/providers) has recorded one.
import type { StageRecords } from '../../../catalog/schema.ts';

export interface CloudDownload {
  format: string;
  arch?: string | undefined;
  target?: string | undefined;
  url: string;
  size: number;
  sha256: string;
  checksumUrl?: string | undefined;
  signatureUrl?: string | undefined;
}

export interface CloudImport {
  cloud: string;
  region: string;
  imageId?: string | undefined;
  state: string;
}

export interface CloudView {
  downloads: CloudDownload[];
  /** Built files (shown before anything is published). */
  files: { name: string; format?: string | undefined; size: number; sha256: string }[];
  boot?: { booted: boolean; seconds: number; accel: string; file: string; marker: string | null; reason?: string | undefined } | undefined;
  signed: boolean;
  imports: CloudImport[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Import records, read loosely: the import stage's record lists one entry per cloud target and region. */
export function cloudImports(records: StageRecords): CloudImport[] {
  const rec = (records as Record<string, unknown>).import as { targets?: unknown; images?: unknown } | undefined;
  const list = Array.isArray(rec?.images) ? rec.images : Array.isArray(rec?.targets) ? rec.targets : [];
  const out: CloudImport[] = [];
  for (const x of list as Record<string, unknown>[]) {
    const cloud = str(x.cloud) ?? str(x.provider) ?? str(x.target);
    const region = str(x.region);
    if (!cloud || !region) continue;
    out.push({ cloud, region, imageId: str(x.imageId), state: str(x.state) ?? str(x.status) ?? 'unknown' });
  }
  return out;
}

export function cloudView(records: StageRecords): CloudView {
  const pub = records.publish;
  const published = pub && ['ok', 'partial', 'unchanged'].includes(pub.status) ? (pub.objects ?? []) : [];
  const b = records.verify?.bootTest;
  return {
    downloads: published.map((o) => ({
      format: o.format ?? o.url.slice(o.url.lastIndexOf('.') + 1),
      arch: o.arch,
      target: o.target,
      url: o.url,
      size: o.size,
      sha256: o.sha256,
      checksumUrl: o.checksumUrl,
      signatureUrl: o.signatureUrl,
    })),
    files: (records.build?.files ?? []).map((f) => ({ name: f.name, format: f.format, size: f.size, sha256: f.sha256 })),
    boot: b
      ? { booted: b.booted, seconds: b.seconds, accel: b.accel, file: b.file, marker: b.marker, reason: b.reason }
      : undefined,
    signed: records.sign?.status === 'signed' || records.sign?.status === 'unchanged',
    imports: cloudImports(records),
  };
}

export function humanSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
