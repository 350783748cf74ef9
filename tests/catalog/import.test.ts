import { readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import {
  importOpenEuler,
  isEnglish,
  ImportError,
  type ImportResult,
} from '../../catalog/import/openeuler.ts';
import { parseCsv } from '../../catalog/import/csv.ts';
import { mapLicense } from '../../catalog/import/licenses.ts';
import { parseTag } from '../../catalog/import/tags.ts';
import { mapUpstream } from '../../catalog/import/upstream.ts';
import { importedCatalog, seedCopy, tempDir, SEED } from './seed.ts';

const has = (r: ImportResult, file: string, line: number, field: string | RegExp, msg: RegExp) =>
  r.problems.some(
    (p) =>
      p.file === file &&
      p.line === line &&
      (typeof field === 'string' ? p.field === field : field.test(p.field)) &&
      msg.test(p.message),
  );

describe('openEuler import of the seed data', () => {
  let store: CatalogStore;
  let result: ImportResult;
  beforeAll(async () => {
    ({ store, result } = await importedCatalog());
  });

  it('imports all 444 apps of the index, 3 hidden, as one commit that validates', async () => {
    expect(result.apps).toBe(444);
    expect(result.hidden).toBe(3);
    expect(result.commit).toMatch(/^[0-9a-f]{40}$/);
    const snap = await store.load();
    expect(snap.problems).toEqual([]);
    expect(snap.apps.size).toBe(444);
    const hidden = [...snap.apps.values()].filter((e) => e.app.visibility === 'hidden').map((e) => e.app.id);
    expect(hidden.sort()).toEqual(['bwa', 'dlrm', 'langchain']);
    const log = await store.log();
    expect(log[0]!.trailers.Stage).toBe('import');
    expect(log).toHaveLength(2); // init + import
    // 1638 tags in the index; two are not OCI tags (velinux/...) and are reported, not kept.
    expect(result.recipes).toBe(1636);
    expect(
      has(result, 'catalog-index.csv', 183, 'tags', /velinux\/1\.0\+velinux2-oe2403sp3.*not a valid OCI tag/),
    ).toBe(true);
  });

  it('keeps every quirk as a located problem and repairs only what is unambiguous', async () => {
    const redis = (await store.loadApp('redis'))!.app;
    const byTag = new Map(redis.recipes.container.map((r) => [r.tag, r]));
    // repo-relative path → app-relative
    expect(byTag.get('8.0.2-oe2403sp1')!.dockerfile).toBe('8.0.2/24.03-lts-sp1/Dockerfile');
    expect(has(result, 'Database/redis/meta.yml', 18, '8.0.2-oe2403sp1.path', /repository-relative/)).toBe(
      true,
    );
    // leading slash → stripped, and the OS dir disagrees with the tag
    expect(byTag.get('7.4.1-oe2203sp3')!.dockerfile).toBe('7.4.1/22.03-lts-sp4/Dockerfile');
    expect(has(result, 'Database/redis/meta.yml', 12, '7.4.1-oe2203sp3.path', /leading slash/)).toBe(true);
    expect(byTag.get('7.4.1-oe2203sp3')!.problem).toMatch(/22\.03-lts-sp4/);
    // wrong version dir: kept, marked, reported
    const wrong = byTag.get('8.6.4-oe2403sp3')!;
    expect(wrong.dockerfile).toBe('5.4.1/24.03-lts-sp3/Dockerfile');
    expect(wrong.problem).toMatch(/version 8\.6\.4.*5\.4\.1/);
    expect(has(result, 'Database/redis/meta.yml', 24, '8.6.4-oe2403sp3.path', /version dir 5\.4\.1/)).toBe(
      true,
    );
    // a path missing from the real tree
    expect(byTag.get('8.6.4-oe2403sp4')!.problem).toMatch(/not found in the recipe tree/);
    // read recipes carry no `derived` marker
    expect(byTag.get('6.2.7-oe2203lts')!.derived).toBeUndefined();
    // stray backslash in the Markdown tags table
    expect(has(result, 'Database/redis/doc/image-info.yml', 26, 'tags', /stray backslash/)).toBe(true);
    expect(redis.docs.tags!.zh).not.toMatch(/\|\\\s*$/m);
    // portal text is Chinese → zh only; the title is the prettified name
    expect(redis.description.zh).toMatch(/^Redis（Remote Dictionary Server）/);
    expect(redis.description.en).toBeUndefined();
    expect(redis.title).toEqual({ zh: 'Redis', en: 'Redis' });
    expect(redis.license).toEqual({ spdx: 'BSD-3-Clause', text: 'BSD-3-Clause license' });
    expect(redis.upstream).toMatchObject({ backend: 'github', repo: 'redis/redis', scheme: 'rpm' });
    expect(redis.upstream!.original).toMatchObject({ backend: 'GitHub', version_scheme: 'RPM' });
    // blank lines, a tag off the pattern, spelling variants, other vs others, unmapped licenses
    expect(has(result, 'AI/vllm-cpu/meta.yml', 3, '', /blank line/)).toBe(true);
    expect(
      has(result, 'Cloud/tempo/meta.yml', 1, '2.5.0-oe24.03lts', /does not match.*2\.5\.0 on 24\.03-lts/),
    ).toBe(true);
    expect(has(result, 'AI/dlrm/doc/image-info.yml', 65, 'upstream.backend', /"Github" read as github/)).toBe(
      true,
    );
    const kself = (await store.loadApp('kselftests-virtme'))!.app;
    expect(kself.category).toBe('others');
    expect(
      result.problems.some((p) => p.field === 'category' && /"other" read as "others"/.test(p.message)),
    ).toBe(true);
    expect(result.problems.filter((p) => /names no license/.test(p.message)).length).toBeGreaterThanOrEqual(
      3,
    );
    expect(has(result, 'catalog-index.csv', 308, 'image_name', /hpc-tensorrt/)).toBe(true);
    expect((await store.loadApp('hpc-tensorrt'))!.app.name).toBe('tensorrt');
    // kserve/controller: image name from image-list.yml, app-relative recipe, arch restriction
    const ks = (await store.loadApp('kserve-controller'))!.app;
    expect(ks.recipes.container[0]).toMatchObject({
      dockerfile: '0.15.2/24.03-lts/Dockerfile',
      arches: ['amd64'],
    });
    // an index-only app: recipes derived from tags and marked as such
    const caffe = (await store.loadApp('caffe'))!.app;
    expect(caffe.recipes.container.map((r) => [r.tag, r.dockerfile, r.osVersion, r.derived])).toEqual([
      ['1.0-oe2403sp1', '1.0/24.03-lts-sp1/Dockerfile', '24.03-lts-sp1', ['dockerfile']],
      ['1.0-oe2403sp4', '1.0/24.03-lts-sp4/Dockerfile', '24.03-lts-sp4', ['dockerfile']],
    ]);
    expect(caffe.license.spdx).toBe('BSD-2-Clause');
    // every problem is located
    for (const p of result.problems) {
      expect(p.file).toBeTruthy();
      expect(p.line).toBeGreaterThanOrEqual(1);
      expect(typeof p.field).toBe('string');
      expect(p.message).toBeTruthy();
    }
  });

  it('is idempotent: the same input again makes no commit', async () => {
    const head = await store.head();
    const again = await importOpenEuler(store, SEED);
    expect(again.commit).toBeNull();
    expect(again.apps).toBe(444);
    expect(await store.head()).toBe(head);
  });
});

describe('openEuler import of damaged input', () => {
  it('fails and commits nothing when the directory or the index cannot be read', async () => {
    const store = await CatalogStore.init(join(await tempDir(), 'c'));
    const head = await store.head();
    await expect(importOpenEuler(store, join(await tempDir(), 'nope'))).rejects.toThrow(ImportError);
    const noCsv = await seedCopy();
    await rm(join(noCsv, 'catalog-index.csv'));
    await expect(importOpenEuler(store, noCsv)).rejects.toThrow(/catalog-index\.csv/);
    const open = await seedCopy();
    await appendFile(join(open, 'catalog-index.csv'), 'Cloud,Cloud/x,x,True,cloud,1,"1.0-oe2403sp4\n');
    await expect(importOpenEuler(store, open)).rejects.toThrow(/unterminated/);
    expect(await store.head()).toBe(head);
    expect((await execa('git', ['status', '--porcelain'], { cwd: store.dir })).stdout).toBe('');
  });

  it('keeps apps from bad rows and reports them by line; never drops an app', async () => {
    const dir = await seedCopy();
    const csv = join(dir, 'catalog-index.csv');
    const text = await readFile(csv, 'utf8');
    const lines = text.trimEnd().split('\n');
    // 446: a row with an extra field and an image name that is no app id; 447: a bad tag and a quoted comma
    lines.push(
      'Cloud,Cloud/Weird_App,Weird App!,True,cloud,2,1.0-oe2403sp4 ???,,0,1,False,,MIT,,,,,False,False,EXTRA',
    );
    lines.push(
      'Cloud,Cloud/quoted,quoted,True,cloud,1,2.0-oe2203lts,,0,1,False,,"Apache-2.0, MIT",,,,,False,False',
    );
    await writeFile(csv, lines.join('\n') + '\n');
    const store = await CatalogStore.init(join(await tempDir(), 'c'));
    const r = await importOpenEuler(store, dir);
    expect(r.apps).toBe(446);
    expect(has(r, 'catalog-index.csv', 446, '', /20 fields, the header 19/)).toBe(true);
    expect(has(r, 'catalog-index.csv', 446, 'image_name', /not a valid app id; using "weird-app"/)).toBe(
      true,
    );
    expect(has(r, 'catalog-index.csv', 446, 'tags', /"\?\?\?"/)).toBe(true);
    const weird = (await store.loadApp('weird-app'))!.app;
    expect(weird.recipes.container.map((x) => x.tag)).toEqual(['1.0-oe2403sp4']);
    expect((await store.loadApp('quoted'))!.app.license).toEqual({
      spdx: 'Apache-2.0 AND MIT',
      text: 'Apache-2.0, MIT',
    });
    expect((await store.load()).problems).toEqual([]);
  });

  it('reports broken meta.yml files and falls back to the index', async () => {
    const dir = await seedCopy();
    await writeFile(join(dir, 'Cloud/nginx/meta.yml'), 'a: [unclosed\n  b: 1\n');
    await writeFile(join(dir, 'Database/mysql/meta.yml'), '9.9.9-oe2403sp4:\n  path: ../../../etc/passwd\n');
    const store = await CatalogStore.init(join(await tempDir(), 'c'));
    const r = await importOpenEuler(store, dir);
    expect(r.apps).toBe(444);
    expect(r.problems.some((p) => p.file === 'Cloud/nginx/meta.yml' && /invalid YAML/.test(p.message))).toBe(
      true,
    );
    const nginx = (await store.loadApp('nginx'))!.app;
    expect(nginx.recipes.container.length).toBeGreaterThan(0);
    expect(nginx.recipes.container.every((x) => x.derived?.includes('dockerfile'))).toBe(true);
    expect(has(r, 'Database/mysql/meta.yml', 2, '9.9.9-oe2403sp4.path', /escapes its tree/)).toBe(true);
    const mysql = (await store.loadApp('mysql'))!.app;
    expect(mysql.recipes.container[0]).toMatchObject({ dockerfile: '9.9.9/24.03-lts-sp4/Dockerfile' });
    expect(mysql.recipes.container[0]!.problem).toMatch(/not usable/);
  });
});

describe('importer building blocks', () => {
  it('parses RFC 4180 CSV with quotes, doubled quotes, newlines and CRLF, keeping record lines', () => {
    const r = parseCsv('a,b\r\n"x, y","he said ""hi"""\r\n"multi\nline",z\n\nlast,1');
    expect(r.errors).toEqual([]);
    expect(r.records.map((x) => [x.line, x.fields])).toEqual([
      [1, ['a', 'b']],
      [2, ['x, y', 'he said "hi"']],
      [3, ['multi\nline', 'z']],
      [6, ['last', '1']],
    ]);
    expect(parseCsv('a,b"c\n').errors[0]).toMatchObject({ line: 1 });
    expect(parseCsv('a\n"open\n').errors[0]).toMatchObject({ line: 2, message: 'unterminated quoted field' });
  });

  it('parses tags strictly, then leniently', () => {
    expect(parseTag('8.6.4-oe2403sp4')).toEqual({
      version: '8.6.4',
      osVersion: '24.03-lts-sp4',
      strict: true,
    });
    expect(parseTag('6.2.7-oe2203lts')).toEqual({ version: '6.2.7', osVersion: '22.03-lts', strict: true });
    expect(parseTag('2.5.0-oe24.03lts')).toEqual({ version: '2.5.0', osVersion: '24.03-lts', strict: false });
    expect(parseTag('9.0.10-20.03-lts-sp1')).toEqual({
      version: '9.0.10',
      osVersion: '20.03-lts-sp1',
      strict: false,
    });
    expect(parseTag('latest')).toBeNull();
  });

  it('maps licenses to SPDX only where they clearly map', () => {
    expect(mapLicense('Apache-2.0 license')?.spdx).toBe('Apache-2.0');
    expect(mapLicense('MIT License')?.spdx).toBe('MIT');
    expect(mapLicense('GPL v2')?.spdx).toBe('GPL-2.0-only');
    expect(mapLicense('BSD 3-Clause')?.spdx).toBe('BSD-3-Clause');
    expect(mapLicense('Apache-2.0 OR MIT license')?.spdx).toBe('Apache-2.0 OR MIT');
    expect(mapLicense('N/A')).toEqual({ text: 'N/A', unmapped: expect.stringMatching(/names no license/) });
    expect(mapLicense('GPL')?.spdx).toBeUndefined();
    expect(mapLicense('BSD-like license')?.spdx).toBeUndefined();
    expect(mapLicense('')).toBeNull();
  });

  it('folds upstream spellings onto the schema enums', () => {
    for (const b of ['GitHub', 'Github', 'github'])
      expect(mapUpstream({ backend: b, version_url: 'a/b' }).upstream?.backend).toBe('github');
    const scheme = (s: string) =>
      mapUpstream({ backend: 'GitHub', version_url: 'a/b', version_scheme: s }).upstream?.scheme;
    expect(['RPM', 'semantic', 'Semantic', 'semver', 'year', 'custom'].map(scheme)).toEqual([
      'rpm',
      'semver',
      'semver',
      'semver',
      'calendar',
      'loose',
    ]);
    expect(mapUpstream({ backend: 'Github', version_url: 'a/b' }).notes).toHaveLength(1);
    expect(
      mapUpstream({ backend: 'custom', version_url: 'https://github.com/pytorch/pytorch/releases' }).upstream,
    ).toMatchObject({ backend: 'github', repo: 'pytorch/pytorch' });
  });

  it('detects English only in mostly-ASCII prose', () => {
    expect(isEnglish('Deep Learning Recommendation Model, Inc. and its affiliates。')).toBe(true);
    expect(isEnglish('本应用在Docker环境中运行\n```\nyum install -y docker\n```')).toBe(false);
  });
});
