// A rootfs tree written out as a plain directory, as tools that read a directory want it (mkfs.ext4 -d,
// trivy rootfs). Directories 0755 and files 0644 owned by whoever runs it (what cannot be made without
// privileges, and what those tools do not need: the exact modes and owners are set by other means or
// do not matter), hard-linked groups as hard links, symlinks as they are (their targets are not
// followed here). Device nodes and fifos are not made: each is handed to `special`.
import { link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Rootfs, RootfsNode } from './tree.ts';

export async function writeRootfsDir(
  fs: Rootfs,
  dir: string,
  special: (path: string, node: RootfsNode) => void = () => {},
): Promise<void> {
  const first = new Map<RootfsNode, string>();
  for (const p of fs.sortedPaths()) {
    const n = fs.nodes.get(p)!;
    const dst = join(dir, p);
    if (n.type === 'dir') await mkdir(dst, { mode: 0o755 });
    else if (n.type === 'file') {
      const seen = first.get(n);
      if (seen !== undefined) await link(join(dir, seen), dst);
      else {
        if (n.data.length !== n.size) throw new Error(`${p}: content was truncated when read`);
        await writeFile(dst, n.data, { mode: 0o644 });
        first.set(n, p);
      }
    } else if (n.type === 'symlink') await symlink(n.linkname, dst);
    else special(p, n);
  }
}
