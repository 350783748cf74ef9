// A synthetic openeuler-docker-images tree in the real layout, at upstream's scale (444 apps, 1,757
// Dockerfiles by default): `<Scene>/image-list.yml`, `<Scene>/<app>/meta.yml`, `doc/image-info.yml`,
// README.md, a logo and, per recipe, `<ver>/<os>/Dockerfile` plus an entrypoint script. The file
// contents are the shipped sample's own (its Dockerfiles and image-info.yml files, taken in turn), so
// the parser and the importer see the real shapes (ARG BASE, literal FROM, multi-stage, Distrofile),
// with meta.yml paths written app-relative, repository-relative and with a leading slash in turn, and
// a few apps nested one level deeper (like AI/opea/chatqna). Deterministic: same arguments, same bytes.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const SEED_DIR = resolve(import.meta.dirname, '../../catalog/seed/openeuler-images');
const SCENES = ['AI', 'Bigdata', 'Cloud', 'Database', 'HPC', 'Others', 'Storage'];
const OS = ['20.03-lts-sp4', '22.03-lts-sp3', '22.03-lts-sp4', '24.03-lts', '24.03-lts-sp1', '24.03-lts-sp2'];

async function filesNamed(dir: string, name: RegExp): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (name.test(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

const tagOf = (ver: string, os: string) =>
  `${ver}-oe${os.slice(0, 2)}${os.slice(3, 5)}${os.includes('sp') ? `sp${os.split('sp')[1]}` : 'lts'}`;

/** Write the tree under `dir`; returns its app and recipe counts. */
export async function writeSyntheticRecipeTree(
  dir: string,
  o: { apps?: number; recipes?: number } = {},
): Promise<{ apps: number; recipes: number }> {
  const apps = o.apps ?? 444;
  const recipes = o.recipes ?? 1757;
  const dockerfiles = await Promise.all(
    (await filesNamed(SEED_DIR, /^Dockerfile$/)).map((p) => readFile(p, 'utf8')),
  );
  const cards = await Promise.all(
    (await filesNamed(SEED_DIR, /^image-info\.yml$/)).map((p) => readFile(p, 'utf8')),
  );
  const lists = new Map<string, string[]>();
  let written = 0;
  let df = 0;
  for (let i = 0; i < apps; i++) {
    const scene = SCENES[i % SCENES.length]!;
    const name = `app${String(i).padStart(3, '0')}`;
    const rel = i % 50 === 7 ? `suite/${name}` : name;
    const appDir = `${scene}/${rel}`;
    const n = Math.floor(recipes / apps) + (i < recipes % apps ? 1 : 0);
    const meta: string[] = [];
    for (let k = 0; k < n; k++) {
      const ver = `${1 + (i % 9)}.${k}.${i % 4}`;
      const os = OS[(i + k) % OS.length]!;
      const path = `${ver}/${os}/Dockerfile`;
      await mkdir(join(dir, appDir, ver, os), { recursive: true });
      await writeFile(join(dir, appDir, path), dockerfiles[df++ % dockerfiles.length]!);
      await writeFile(join(dir, appDir, ver, os, 'entrypoint.sh'), `#!/bin/sh\nexec ${name} "$@"\n`);
      const spelled = [path, `${appDir}/${path}`, `/${path}`][(i + k) % 3];
      meta.push(`${tagOf(ver, os)}:\n  path: ${spelled}\n`);
      if (k === 1 && i % 5 === 0) meta.push('\n');
    }
    written += n;
    await mkdir(join(dir, appDir, 'doc', 'picture'), { recursive: true });
    await writeFile(join(dir, appDir, 'meta.yml'), meta.join(''));
    await writeFile(join(dir, appDir, 'doc', 'image-info.yml'), cards[i % cards.length]!);
    await writeFile(join(dir, appDir, 'doc', 'picture', 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    await writeFile(join(dir, appDir, 'README.md'), `# ${name}\n\nA synthetic app in the real layout.\n`);
    const l = lists.get(scene) ?? [];
    l.push(`  ${name}: ${rel}\n`);
    lists.set(scene, l);
  }
  for (const [scene, l] of lists)
    await writeFile(join(dir, scene, 'image-list.yml'), `images:\n${l.join('')}`);
  return { apps, recipes: written };
}
