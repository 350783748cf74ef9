// Test fixtures for the rootfs reader and the WSL builder: layer tars written with tar-stream (an
// independent writer, so the reader is not only tested against its own encoder), OCI layouts written
// with the registry module's writeLayout, a minimal aarch64 ELF header, and Python's tarfile as an
// independent reader of what Wharf writes.
import { gzipSync } from 'node:zlib';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { pack, type Header as TarStreamHeader } from 'tar-stream';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, OCI_INDEX } from '../../publisher/registry/media.ts';
import { descriptorOf, writeLayout } from '../../publisher/registry/layout.ts';
import { writeFile, mkdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';

export async function tempDir(prefix = 'wharf-rootfs-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export type LayerEntry = Partial<TarStreamHeader> & { name: string; data?: Buffer | string };

/** A tar (uncompressed) from tar-stream headers. */
export async function tarOf(entries: LayerEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((res, rej) => {
    p.on('end', () => res());
    p.on('error', rej);
  });
  for (const { data, ...h } of entries) {
    await new Promise<void>((res, rej) =>
      p.entry({ ...h, mtime: h.mtime ?? new Date(1_700_000_000_000) }, data ?? '', (e) =>
        e ? rej(e) : res(),
      ),
    );
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A minimal 64-bit little-endian ELF header for x86-64 (62) or aarch64 (183): enough for `file`-style checks. */
export function elfHeader(machine: 'amd64' | 'arm64'): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; // ELFCLASS64
  b[5] = 1; // little-endian
  b[6] = 1; // EV_CURRENT
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(machine === 'amd64' ? 62 : 183, 18);
  b.writeUInt32LE(1, 20);
  return b;
}

export interface FixtureImage {
  arch: string;
  layers: Buffer[]; // uncompressed tars
  created?: string;
}

/** Write an OCI layout with one image per arch (an image index when more than one). */
export async function writeOciLayout(dir: string, images: FixtureImage[]): Promise<void> {
  const blobs: Buffer[] = [];
  const manifests: Array<{ bytes: Buffer; arch: string }> = [];
  for (const img of images) {
    const gz = img.layers.map((l) => gzipSync(l));
    const diffIds = img.layers.map((l) => `sha256:${createHash('sha256').update(l).digest('hex')}`);
    const config = Buffer.from(
      JSON.stringify({
        architecture: img.arch,
        os: 'linux',
        ...(img.created ? { created: img.created } : {}),
        rootfs: { type: 'layers', diff_ids: diffIds },
        config: {},
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: descriptorOf(config, OCI_CONFIG),
        layers: gz.map((g) => descriptorOf(g, OCI_LAYER_GZIP)),
      }),
    );
    blobs.push(config, ...gz, manifest);
    manifests.push({ bytes: manifest, arch: img.arch });
  }
  if (manifests.length === 1) {
    await writeLayout(dir, [{ manifest: manifests[0]!.bytes, mediaType: OCI_MANIFEST, blobs }]);
    return;
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: manifests.map((m) => ({
        ...descriptorOf(m.bytes, OCI_MANIFEST),
        platform: { architecture: m.arch, os: 'linux' },
      })),
    }),
  );
  await writeLayout(dir, [{ manifest: index, mediaType: OCI_INDEX, blobs }]);
}

/** Python's tarfile listing of a (possibly compressed) tar: one object per member, in order. */
export interface PyMember {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  linkname: string;
  uname: string;
  gname: string;
  pax: Record<string, string>; // values hex-encoded bytes
  sha256?: string;
}

const PY = `
import sys, tarfile, json, hashlib
out = []
with tarfile.open(sys.argv[1], 'r:*') as t:
    for m in t:
        d = dict(name=m.name, type=m.type.decode('latin1'), mode=m.mode, uid=m.uid, gid=m.gid, mtime=int(m.mtime),
                 size=m.size, linkname=m.linkname, uname=m.uname, gname=m.gname,
                 pax={k: v.encode('utf-8', 'surrogateescape').hex() for k, v in m.pax_headers.items()})
        if m.isreg():
            d['sha256'] = hashlib.sha256(t.extractfile(m).read()).hexdigest()
        out.append(d)
print(json.dumps(out))
`;

export async function pythonTarList(file: string): Promise<PyMember[]> {
  const r = await execa('python3', ['-c', PY, file]);
  return JSON.parse(r.stdout) as PyMember[];
}

export async function writeBytes(path: string, b: Buffer | string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, b);
}

export { readFile };
