// OCI image layout directories (https://github.com/opencontainers/image-spec/blob/main/image-layout.md):
// `oci-layout`, `index.json`, `blobs/sha256/<hex>`. Read what the build stage exported, and write small
// layouts (signatures, attestations, test images) atomically.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  OCI_INDEX,
  isIndexType,
  zDescriptor,
  zImageIndex,
  zImageManifest,
  type Descriptor,
  type ImageIndex,
} from './media.ts';

export class LayoutError extends Error {
  override name = 'LayoutError';
}

const HEX_RE = /^sha256:([a-f0-9]{64})$/;

export function blobPath(dir: string, digest: string): string {
  const m = HEX_RE.exec(digest);
  if (!m) throw new LayoutError(`invalid digest ${JSON.stringify(digest)}`);
  return join(dir, 'blobs', 'sha256', m[1]!);
}

/** One node of what a pushed manifest needs: blobs first, child manifests next, the root last. */
export interface LayoutItem {
  kind: 'blob' | 'manifest';
  descriptor: Descriptor;
  /** Manifest bytes (manifests only). */
  bytes?: Buffer;
}

export class OciLayout {
  readonly dir: string;
  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(dir: string): Promise<OciLayout> {
    let marker: unknown;
    try {
      marker = JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new LayoutError(
        code === 'ENOENT' ? `no OCI image layout at ${dir}` : `${dir}/oci-layout is not valid JSON`,
      );
    }
    if ((marker as { imageLayoutVersion?: unknown })?.imageLayoutVersion !== '1.0.0')
      throw new LayoutError(`${dir}/oci-layout: unsupported imageLayoutVersion`);
    return new OciLayout(dir);
  }

  async index(): Promise<ImageIndex> {
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(join(this.dir, 'index.json'), 'utf8'));
    } catch {
      throw new LayoutError(`${this.dir}/index.json is missing or not JSON`);
    }
    const r = zImageIndex.safeParse(doc);
    if (!r.success)
      throw new LayoutError(`${this.dir}/index.json: ${r.error.issues[0]?.message ?? 'invalid'}`);
    return r.data;
  }

  /** The top-level manifest: the one with `digest`, else the only one (or the one named `refName`). */
  async root(opts: { digest?: string; refName?: string } = {}): Promise<Descriptor> {
    const idx = await this.index();
    const pick = idx.manifests.filter(
      (d) =>
        (!opts.digest || d.digest === opts.digest) &&
        (!opts.refName || d.annotations?.['org.opencontainers.image.ref.name'] === opts.refName),
    );
    if (pick.length === 0)
      throw new LayoutError(
        `${this.dir}: no manifest${opts.digest ? ` ${opts.digest}` : ''}${opts.refName ? ` named ${opts.refName}` : ''} in index.json`,
      );
    // Several entries can share one digest (several ref names): they are the same manifest.
    if (new Set(pick.map((d) => d.digest)).size > 1)
      throw new LayoutError(`${this.dir}: index.json has several manifests; say which digest to use`);
    return pick[0]!;
  }

  /** Read a blob and check its digest. */
  async readBlob(digest: string): Promise<Buffer> {
    let b: Buffer;
    try {
      b = await readFile(blobPath(this.dir, digest));
    } catch {
      throw new LayoutError(`${this.dir}: blob ${digest} is missing`);
    }
    const got = `sha256:${createHash('sha256').update(b).digest('hex')}`;
    if (got !== digest) throw new LayoutError(`${this.dir}: blob ${digest} is corrupt (content is ${got})`);
    return b;
  }

  /** Check a (possibly large) blob on disk by streaming it: its size and digest. */
  async checkBlob(d: Descriptor): Promise<void> {
    const p = blobPath(this.dir, d.digest);
    let size: number;
    try {
      size = (await stat(p)).size;
    } catch {
      throw new LayoutError(`${this.dir}: blob ${d.digest} is missing`);
    }
    if (size !== d.size)
      throw new LayoutError(`${this.dir}: blob ${d.digest} has ${size} bytes, expected ${d.size}`);
    const h = createHash('sha256');
    for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
    if (`sha256:${h.digest('hex')}` !== d.digest)
      throw new LayoutError(`${this.dir}: blob ${d.digest} is corrupt`);
  }

  /** Everything a root manifest needs, in push order (blobs, then manifests bottom-up), deduplicated. */
  async closure(root: Descriptor): Promise<LayoutItem[]> {
    const out: LayoutItem[] = [];
    const seen = new Set<string>();
    const visit = async (d: Descriptor, depth: number): Promise<void> => {
      if (seen.has(d.digest)) return;
      if (depth > 4) throw new LayoutError(`${this.dir}: manifests nested too deeply`);
      const bytes = await this.readBlob(d.digest);
      let doc: unknown;
      try {
        doc = JSON.parse(bytes.toString('utf8'));
      } catch {
        throw new LayoutError(`${this.dir}: manifest ${d.digest} is not JSON`);
      }
      const mt = (doc as { mediaType?: string }).mediaType ?? d.mediaType;
      if (isIndexType(mt)) {
        const idx = zImageIndex.safeParse(doc);
        if (!idx.success) throw new LayoutError(`${this.dir}: index ${d.digest} is invalid`);
        for (const child of idx.data.manifests) await visit(child, depth + 1);
      } else {
        const m = zImageManifest.safeParse(doc);
        if (!m.success) throw new LayoutError(`${this.dir}: manifest ${d.digest} is invalid`);
        for (const b of [m.data.config, ...m.data.layers]) {
          if (seen.has(b.digest)) continue;
          seen.add(b.digest);
          out.push({ kind: 'blob', descriptor: b });
        }
      }
      seen.add(d.digest);
      out.push({ kind: 'manifest', descriptor: { ...d, mediaType: mt }, bytes });
    };
    await visit(root, 0);
    return out;
  }
}

export interface LayoutEntry {
  /** Manifest bytes exactly as they will be pushed. */
  manifest: Buffer;
  mediaType: string;
  annotations?: Record<string, string>;
  /** Blobs the manifest references (config, layers). */
  blobs: Buffer[];
}

export function descriptorOf(
  bytes: Buffer,
  mediaType: string,
  annotations?: Record<string, string>,
): Descriptor {
  return zDescriptor.parse({
    mediaType,
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    size: bytes.length,
    ...(annotations ? { annotations } : {}),
  });
}

/** Write a complete layout to `dir`, replacing what was there only once everything is written. */
export async function writeLayout(dir: string, entries: LayoutEntry[]): Promise<Descriptor[]> {
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, 'blobs', 'sha256'), { recursive: true });
  const manifests: Descriptor[] = [];
  try {
    for (const e of entries) {
      for (const b of [...e.blobs, e.manifest]) {
        await writeFile(blobPath(tmp, descriptorOf(b, 'x').digest), b);
      }
      manifests.push(descriptorOf(e.manifest, e.mediaType, e.annotations));
    }
    await writeFile(join(tmp, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }) + '\n');
    await writeFile(
      join(tmp, 'index.json'),
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }) + '\n',
    );
    await mkdir(dirname(dir), { recursive: true });
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return manifests;
}
