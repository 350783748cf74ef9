// `wharf catalog validate` over an imported catalog, and over copies with one quirk class injected
// each: every bad file is named with file:line:field, the exit code is 1, and nothing is changed.
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import type { Problem } from '../../catalog/format.ts';
import { importedCatalog, tempDir } from './seed.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const wharf = (args: string[]) =>
  execa('node', ['scripts/wharf.mjs', ...args], { cwd: ROOT, reject: false, env: { WHARF_CATALOG: '' } });

let template: string;
beforeAll(async () => {
  template = (await importedCatalog()).store.dir;
});

async function copyCatalog(): Promise<string> {
  const dir = join(await tempDir('wharf-val-'), 'catalog');
  await cp(template, dir, { recursive: true });
  return dir;
}

/** Replace `from` with `to` in a catalog file; returns the 1-based line of the change. */
async function inject(dir: string, file: string, from: string | RegExp, to: string): Promise<number> {
  const p = join(dir, file);
  const text = await readFile(p, 'utf8');
  const m = typeof from === 'string' ? text.indexOf(from) : (from.exec(text)?.index ?? -1);
  if (m < 0) throw new Error(`${from} not in ${file}`);
  await writeFile(p, text.replace(from, to));
  return text.slice(0, m).split('\n').length;
}

const ARTIFACT = {
  app: 'memcached',
  arches: ['amd64'],
  id: '1.0-oe2403sp1',
  kind: 'container',
  osVersion: '24.03-lts-sp1',
  records: {},
  version: '1.0',
};

/** The quirk classes, each injected into its own file; returns what validate must report. */
async function injectAll(dir: string): Promise<Problem[]> {
  const want: Omit<Problem, 'message'>[] = [];
  // 1. bad YAML (a duplicate key: reported on the line of the duplicate)
  want.push({
    file: 'apps/redis/app.yml',
    field: '',
    line:
      1 + (await inject(dir, 'apps/redis/app.yml', 'category: database', 'category: database\ncategory: db')),
  });
  // 2. bad field types
  want.push({
    file: 'apps/nginx/app.yml',
    field: 'visibility',
    line: await inject(dir, 'apps/nginx/app.yml', 'visibility: public', 'visibility: 5'),
  });
  // 3. category off the slug pattern
  want.push({
    file: 'apps/mysql/app.yml',
    field: 'category',
    line: await inject(dir, 'apps/mysql/app.yml', 'category: database', 'category: Data Base'),
  });
  // 4. a tag outside the OCI grammar
  want.push({
    file: 'apps/grafana/app.yml',
    field: 'recipes.container.0.tag',
    line: await inject(dir, 'apps/grafana/app.yml', /tag: \S+/, 'tag: ../evil'),
  });
  // 5. a Dockerfile path escaping the recipe tree
  want.push({
    file: 'apps/kafka/app.yml',
    field: 'recipes.container.0.dockerfile',
    line: await inject(dir, 'apps/kafka/app.yml', /dockerfile: \S+/, 'dockerfile: ../../../etc/passwd'),
  });
  // 6. id that does not match its directory
  want.push({
    file: 'apps/spark/app.yml',
    field: 'id',
    line: await inject(dir, 'apps/spark/app.yml', 'id: spark', 'id: sparkle'),
  });
  // 7. a JSON record that is not JSON, and one with a wrong type
  const art = join(dir, 'apps/memcached/artifacts/container');
  await mkdir(art, { recursive: true });
  await writeFile(
    join(art, '1.0-oe2403sp1.json'),
    JSON.stringify(ARTIFACT, null, 2).replace('"kind": "container",', '"kind": "container"') + '\n',
  );
  // (the parser notices the missing comma at the next property, line 8)
  want.push({ file: 'apps/memcached/artifacts/container/1.0-oe2403sp1.json', field: '', line: 8 });
  await writeFile(
    join(art, '1.0-oe2403sp4.json'),
    JSON.stringify(
      { ...ARTIFACT, id: '1.0-oe2403sp4', osVersion: '24.03-lts-sp4', arches: 'amd64' },
      null,
      2,
    ) + '\n',
  );
  want.push({ file: 'apps/memcached/artifacts/container/1.0-oe2403sp4.json', field: 'arches', line: 3 });
  // 8. a directory name that is no app id
  await mkdir(join(dir, 'apps/Bad..Dir'));
  await writeFile(join(dir, 'apps/Bad..Dir/app.yml'), 'id: bad\n');
  want.push({ file: 'apps/Bad..Dir', field: 'id', line: 1 });
  return want as Problem[];
}

describe('publish repositories (app name) are unique and capped', () => {
  it('a second app claiming a repository is a validation problem naming both files; it is left out', async () => {
    const dir = await copyCatalog();
    const line = await inject(dir, 'apps/zookeeper/app.yml', /^name: zookeeper$/m, 'name: redis');
    expect(line).toBeGreaterThan(0);
    const snap = await (await CatalogStore.open(dir)).load();
    expect(snap.problems).toEqual([
      expect.objectContaining({
        file: 'apps/zookeeper/app.yml',
        field: 'name',
        message: expect.stringMatching(/"redis" is already claimed by apps\/redis\/app\.yml/),
      }),
    ]);
    expect(snap.apps.has('redis')).toBe(true);
    expect(snap.apps.has('zookeeper')).toBe(false);
    const r = await wharf(['catalog', 'validate', '--catalog', dir]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/apps\/zookeeper\/app\.yml:1: name: .*apps\/redis\/app\.yml/);
  });

  it('a name longer than 64 characters is refused by the schema', async () => {
    const dir = await copyCatalog();
    const line = await inject(dir, 'apps/nginx/app.yml', /^name: nginx$/m, `name: ${'n'.repeat(300)}`);
    const snap = await (await CatalogStore.open(dir)).load();
    expect(snap.problems).toContainEqual(
      expect.objectContaining({
        file: 'apps/nginx/app.yml',
        line,
        field: 'name',
        message: expect.stringMatching(/at most 64/),
      }),
    );
    expect(snap.apps.has('nginx')).toBe(false);
  });
});

describe('catalog validate', () => {
  it('passes on the imported seed catalog', async () => {
    const snap = await (await CatalogStore.open(template)).load();
    expect(snap.problems).toEqual([]);
    expect(snap.apps.size).toBe(40);
  });

  it('names every injected quirk with file, line and field, and changes nothing', async () => {
    const dir = await copyCatalog();
    const want = await injectAll(dir);
    const before = (await execa('git', ['status', '--porcelain'], { cwd: dir })).stdout;
    const beforeRedis = await readFile(join(dir, 'apps/redis/app.yml'), 'utf8');
    const snap = await (await CatalogStore.open(dir)).load();
    for (const w of want) {
      const found = snap.problems.filter((p) => p.file === w.file);
      expect(
        found,
        `${w.file}: ${JSON.stringify(snap.problems.filter((p) => p.file.startsWith(w.file.split('/').slice(0, 2).join('/'))))}`,
      ).toContainEqual(expect.objectContaining({ file: w.file, line: w.line, field: w.field }));
    }
    // the other 35 apps still load
    expect(snap.apps.size).toBe(40 - 5);

    const r = await wharf(['catalog', 'validate', '--catalog', dir]);
    expect(r.exitCode).toBe(1);
    for (const w of want) expect(r.stderr).toContain(`${w.file}:${w.line}: ${w.field ? `${w.field}: ` : ''}`);
    const j = await wharf(['catalog', 'validate', '--catalog', dir, '--json']);
    expect(j.exitCode).toBe(1);
    const out = JSON.parse(j.stdout) as { valid: boolean; problems: Problem[] };
    expect(out.valid).toBe(false);
    expect(out.problems.length).toBeGreaterThanOrEqual(want.length);

    expect((await execa('git', ['status', '--porcelain'], { cwd: dir })).stdout).toBe(before);
    expect(await readFile(join(dir, 'apps/redis/app.yml'), 'utf8')).toBe(beforeRedis);
  });

  it('exits 0 on a valid catalog and 2 on usage errors', async () => {
    const ok = await wharf(['catalog', 'validate', '--catalog', template]);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toMatch(/valid: 40 apps/);
    const usage = await wharf(['catalog', 'validate', '--catalog', template, '--bogus']);
    expect(usage.exitCode).toBe(2);
  });
});
