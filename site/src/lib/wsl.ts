// The WSL section of an app page (components/Wsl.astro): per published WSL image, one download per arch
// (from the publish record's objects, the first object-storage target that has it), its size, SHA-256,
// checksum file and Sigstore bundle, how it was signed, the scan state, and the commands to install it.
import type { PublishRecord, SignRecord, StageRecords } from '../../../catalog/schema.ts';

type PublishedObject = NonNullable<PublishRecord['objects']>[number];

export interface WslDownload {
  arch: string;
  url: string;
  file: string;
  size: number;
  sha256: string;
  target?: string | undefined;
  checksumUrl?: string | undefined;
  signatureUrl?: string | undefined;
  /** Other targets (mirrors) with the same file. */
  mirrors: { target?: string | undefined; url: string }[];
  /** `wsl --install --from-file <file>` after downloading it. */
  install: string;
}

export interface WslImageView {
  id: string;
  osVersion: string;
  version: string;
  publishedAt: string;
  downloads: WslDownload[];
  /** key: signed with the catalog's key; keyless: a Fulcio certificate for `identity`; none: unsigned. */
  signature: { mode: 'key' | 'keyless' | 'none'; keyId?: string | undefined; identity?: string | undefined };
}

interface TagLike {
  kind: string;
  id: string;
  osVersion: string;
  version: string;
  records: StageRecords;
}

/** `wsl --install --from-file` with the file name quoted when it needs to be (PowerShell). */
export function installCommand(file: string): string {
  return /^[A-Za-z0-9._-]+$/.test(file)
    ? `wsl --install --from-file ${file}`
    : `wsl --install --from-file '${file.replaceAll("'", "''")}'`;
}

const baseName = (url: string): string => {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').at(-1) ?? '');
  } catch {
    return url.split('/').at(-1) ?? url;
  }
};

function signatureOf(sign: SignRecord | undefined): WslImageView['signature'] {
  if (!sign || (sign.status !== 'signed' && sign.status !== 'unchanged') || !sign.bundles?.length)
    return { mode: 'none' };
  const keyless = sign.bundles.find((b) => b.mode === 'keyless');
  return keyless ? { mode: 'keyless', identity: keyless.identity } : { mode: 'key', keyId: sign.keyId };
}

/** The published WSL images among an app's tags, newest first as the tags are sorted. */
export function wslImages(tags: readonly TagLike[]): WslImageView[] {
  const out: WslImageView[] = [];
  for (const x of tags) {
    if (x.kind !== 'wsl') continue;
    const pub = x.records.publish;
    if (!pub || (pub.status !== 'ok' && pub.status !== 'unchanged' && pub.status !== 'partial')) continue;
    const byArch = new Map<string, PublishedObject[]>();
    for (const o of pub.objects ?? []) {
      if (!o.arch) continue;
      byArch.set(o.arch, [...(byArch.get(o.arch) ?? []), o]);
    }
    if (byArch.size === 0) continue;
    const downloads: WslDownload[] = [...byArch.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([arch, [first, ...rest]]) => {
        const file = baseName(first!.url);
        return {
          arch,
          url: first!.url,
          file,
          size: first!.size,
          sha256: first!.sha256,
          target: first!.target,
          checksumUrl: first!.checksumUrl,
          signatureUrl: first!.signatureUrl,
          mirrors: rest.map((o) => ({ target: o.target, url: o.url })),
          install: installCommand(file),
        };
      });
    out.push({
      id: x.id,
      osVersion: x.osVersion,
      version: x.version,
      publishedAt: pub.at,
      downloads,
      signature: signatureOf(x.records.sign),
    });
  }
  return out;
}

/** Re-exported for the WSL section's callers; the formatter lives in size.ts. */
export { formatSize } from './size.ts';
