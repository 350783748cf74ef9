// The cloud section of an app page (components/Cloud.astro): per cloud artifact, the published disk
// images by format (download URL, size, SHA-256, checksum file, Sigstore bundle), the boot test, and
// one row per cloud import target from the import stage's record (publisher/cloud/providers):
// records.import.targets, typed by catalog/schema.ts zImportTarget.
import type { ImportTarget, StageRecords } from '../../../catalog/schema.ts';
import type { UiKey } from './i18n.ts';

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

/** One `clouds:` target of the import record, as the page shows it. */
export interface CloudImport {
  /** The wharf.yml `clouds:` target name. */
  target: string;
  provider: ImportTarget['provider'];
  region: string;
  arch?: string | undefined;
  state: ImportTarget['state'];
  /** Only once the import completed. */
  imageId?: string | undefined;
  /** Only when it failed (the stage scrubs secrets from it). */
  error?: string | undefined;
  updatedAt?: string | undefined;
}

/** The UI string of each cloud's name and of each import state (site/src/lib/i18n.ts). */
export const PROVIDER_LABEL: Record<ImportTarget['provider'], UiKey> = {
  aws: 'cloudAws',
  huawei: 'cloudHuawei',
  alibaba: 'cloudAlibaba',
  tencent: 'cloudTencent',
};
export const STATE_LABEL: Record<ImportTarget['state'], UiKey> = {
  running: 'cloudStateRunning',
  completed: 'cloudStateCompleted',
  failed: 'cloudStateFailed',
};

export interface CloudView {
  downloads: CloudDownload[];
  /** Built files (shown before anything is published). */
  files: { name: string; format?: string | undefined; size: number; sha256: string }[];
  boot?:
    | {
        booted: boolean;
        seconds: number;
        accel: string;
        file: string;
        marker: string | null;
        reason?: string | undefined;
      }
    | undefined;
  signed: boolean;
  imports: CloudImport[];
}

/** One row per target of records.import (the import stage's entries, in wharf.yml order). */
export function cloudImports(records: StageRecords): CloudImport[] {
  return (records.import?.targets ?? []).map((t) => ({
    target: t.target,
    provider: t.provider,
    region: t.region,
    arch: t.arch,
    state: t.state,
    imageId: t.state === 'completed' ? t.imageId : undefined,
    error: t.state === 'failed' ? t.error : undefined,
    updatedAt: t.updatedAt ?? t.startedAt,
  }));
}

/** An ISO time as `2026-12-02 06:20 UTC` (the same in both languages). */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
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
    files: (records.build?.files ?? []).map((f) => ({
      name: f.name,
      format: f.format,
      size: f.size,
      sha256: f.sha256,
    })),
    boot: b
      ? {
          booted: b.booted,
          seconds: b.seconds,
          accel: b.accel,
          file: b.file,
          marker: b.marker,
          reason: b.reason,
        }
      : undefined,
    signed: records.sign?.status === 'signed' || records.sign?.status === 'unchanged',
    imports: cloudImports(records),
  };
}

/** Re-exported for the cloud section; the formatter lives in size.ts. */
export { formatSize as humanSize } from './size.ts';
