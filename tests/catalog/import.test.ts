import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import {
  importOpenEuler,
  isEnglish,
  ImportError,
  planOpenEulerImport,
  type ImportResult,
} from '../../catalog/import/openeuler.ts';
import { resolveImportSource, splitRef, isGitUrl } from '../../catalog/import/source.ts';
import { mapLicense } from '../../catalog/import/licenses.ts';
import { parseTag } from '../../catalog/import/tags.ts';
import { mapUpstream } from '../../catalog/import/upstream.ts';
import { recipeView } from '../../catalog/recipes.ts';
import type { App } from '../../catalog/schema.ts';
import { REDIS_724_SP3_VIEW } from './sample-recipes.ts';
import { importedCatalog, seedCopy, tempDir, SEED } from './seed.ts';

const has = (
  r: { problems: ImportResult['problems'] },
  file: string,
  line: number,
  field: string | RegExp,
  msg: RegExp,
) =>
  r.problems.some(
    (p) =>
      p.file === file &&
      p.line === line &&
      (typeof field === 'string' ? p.field === field : field.test(p.field)) &&
      msg.test(p.message),
  );
const recipe = (app: App, tag: string) => {
  const r = app.recipes.container.find((x) => x.tag === tag);
  if (!r) throw new Error(`no recipe ${tag} in ${app.id}`);
  return r;
};
const SAMPLE_COMMIT = 'c12383a4173d9d0dfc5bec9e9f764210a5bedb9b';

describe('openEuler import of the seed (the real layout, 40 apps)', () => {
  let store: CatalogStore;
  let result: ImportResult;
  beforeAll(async () => {
    ({ store, result } = await importedCatalog());
  });

  it('ships no derived index and imports all 40 app directories, 3 hidden, as one commit that validates', async () => {
    expect(existsSync(join(SEED, 'catalog-index.csv'))).toBe(false);
    expect(existsSync(join(SEED, 'Database/redis/_files.txt'))).toBe(false);
    expect(result.apps).toBe(40);
    expect(result.hidden).toBe(3);
    expect(result.retired).toBe(0);
    expect(result.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(result.sourceCommit).toBe(SAMPLE_COMMIT);
    const snap = await store.load();
    expect(snap.problems).toEqual([]);
    expect(snap.apps.size).toBe(40);
    const hidden = [...snap.apps.values()].filter((e) => e.app.visibility === 'hidden').map((e) => e.app.id);
    expect(hidden.sort()).toEqual(['bwa', 'dlrm', 'langchain']);
    // Nested app directories are found by the walk and named by image-list.yml.
    expect(snap.apps.get('chatqna')!.app.source!.dir).toBe('AI/opea/chatqna');
    expect(snap.apps.get('kserve-controller')!.app.source!.dir).toBe('AI/kserve/controller');
    const log = await store.log();
    expect(log[0]!.trailers.Stage).toBe('import');
    expect(log[0]!.trailers['Recipe-Commit']).toBe(SAMPLE_COMMIT);
    expect(log).toHaveLength(2); // init + import
    // Every meta.yml entry with an OCI tag became a recipe; every recipe file that exists was read.
    const all = [...snap.apps.values()].flatMap((e) => e.app.recipes.container);
    expect(result.recipes).toBe(all.length);
    expect(all.filter((r) => r.analysis?.exists).length).toBe(363);
    expect(all.every((r) => r.analysis && r.commit === SAMPLE_COMMIT)).toBe(true);
    expect(result.brokenRecipes).toBe(all.filter((r) => r.problem).length);
    // image-list.yml names more images than the sample has directories: one located problem per file.
    expect(
      has(
        result,
        'HPC/image-list.yml',
        3,
        'images',
        /84 image\(s\) name directories that are not in this tree/,
      ),
    ).toBe(true);
  });

  it('reads every recipe shape of the sample from the real Dockerfiles', async () => {
    const app = async (id: string) => (await store.loadApp(id))!.app;
    const redis = await app('redis');
    // OS base through ARG BASE + FROM ${BASE}; ARG VERSION default = the tag's version
    expect(recipeView(redis, recipe(redis, '7.2.4-oe2203sp3'))).toMatchObject(REDIS_724_SP3_VIEW);
    expect(recipe(redis, '7.2.4-oe2203sp3').analysis!.usesTargetArch).toBe(true);
    // a literal FROM
    expect(recipe(redis, '6.2.7-oe2203lts').analysis).toMatchObject({
      stages: [{ from: 'openeuler/openeuler:22.03-lts', resolved: 'openeuler/openeuler:22.03-lts', line: 1 }],
      args: {},
    });
    // another image as base (BASE defaults to openeuler/npmjs)
    const catj = await app('catj');
    expect(recipe(catj, '1.0.4-oe2403sp4').analysis!.base).toBe('openeuler/npmjs:latest');
    // multi-stage with FROM <stage> followed, and a base that Wharf builds itself (app python)
    const chat = recipe(await app('chatqna'), '1.2-oe2403lts').analysis!;
    expect(chat.stages.map((s) => [s.from, s.resolved, s.stage])).toEqual([
      ['$BASE', 'openeuler/python:3.11.13-oe2403lts', undefined],
      ['base', 'openeuler/python:3.11.13-oe2403lts', 0],
      ['base', 'openeuler/python:3.11.13-oe2403lts', 0],
    ]);
    expect(chat.bases).toEqual([
      { ref: 'openeuler/python:3.11.13-oe2403lts', app: 'python', tag: '3.11.13-oe2403lts' },
    ]);
    const es = recipe(await app('elasticsearch'), '9.3.4-oe2403sp4').analysis!;
    expect(es.stages).toHaveLength(2);
    expect(es.problems).toEqual([]);
    // ARG VERSION defaults that differ from the tag's version are recorded as written
    const pg = await app('postgres');
    expect(recipe(pg, '17.5-oe2403sp1').analysis!.args.VERSION).toBe('17_5');
    // meta.yml pointing at another version's directory: that Dockerfile's own default (8.6.4) is recorded
    const wrong = recipe(redis, '8.6.4-oe2403sp3');
    expect(wrong.dockerfile).toBe('5.4.1/24.03-lts-sp3/Dockerfile');
    expect(wrong.analysis!.args.VERSION).toBe('8.6.4');
    expect(wrong.problem).toMatch(
      /meta\.yml:24: tag version 8\.6\.4 but the Dockerfile is under version dir 5\.4\.1/,
    );
    // a missing Dockerfile: kept as broken, located
    const missing = recipeView(redis, recipe(redis, '8.6.4-oe2403sp4'));
    expect(missing).toMatchObject({ exists: false, base: null, stages: [] });
    expect(missing.problems).toEqual([
      'Database/redis/meta.yml:26: Database/redis/8.6.4/24.03-lts-sp4/Dockerfile does not exist; recipe kept as broken',
    ]);
    expect(has(result, 'Database/redis/meta.yml', 26, '8.6.4-oe2403sp4.path', /does not exist/)).toBe(true);
    // a Distrofile: recognised, not buildable
    const dl = await app('distroless-python');
    const dv = recipeView(dl, dl.recipes.container[0]!);
    expect(dv).toMatchObject({ builder: 'distrofile', exists: true, base: 'scratch' });
    expect(dv.problems[0]).toMatch(/Distrofile:1: .*not buildable by Wharf/);
    expect(dl.recipes.container[0]!.problem).toMatch(/not buildable by Wharf/);
    // repository-relative and leading-slash paths → app-relative, reported
    expect(recipe(redis, '8.0.2-oe2403sp1').dockerfile).toBe('8.0.2/24.03-lts-sp1/Dockerfile');
    expect(recipe(redis, '8.0.2-oe2403sp1').analysis!.exists).toBe(true);
    expect(has(result, 'Database/redis/meta.yml', 18, '8.0.2-oe2403sp1.path', /repository-relative/)).toBe(
      true,
    );
    const slash = recipe(redis, '7.4.1-oe2203sp3');
    expect(slash.dockerfile).toBe('7.4.1/22.03-lts-sp4/Dockerfile');
    expect(has(result, 'Database/redis/meta.yml', 12, '7.4.1-oe2203sp3.path', /leading slash/)).toBe(true);
    expect(slash.problem).toMatch(/22\.03-lts-sp4/);
  });

  it('keeps every card quirk as a located problem and repairs only what is unambiguous', async () => {
    const redis = (await store.loadApp('redis'))!.app;
    expect(redis.source).toEqual({
      origin: 'openeuler/openeuler-docker-images',
      dir: 'Database/redis',
      commit: SAMPLE_COMMIT,
      // A plain directory import: builds read the recipe from this directory.
      path: realpathSync(SEED),
      readme: 'README.md',
      logo: 'doc/picture/logo.jpeg',
    });
    expect(has(result, 'Database/redis/doc/image-info.yml', 26, 'tags', /stray backslash/)).toBe(true);
    expect(redis.docs.tags!.zh).not.toMatch(/\|\\\s*$/m);
    expect(redis.description.zh).toMatch(/^Redis（Remote Dictionary Server）/);
    expect(redis.description.en).toBeUndefined();
    expect(redis.title).toEqual({ zh: 'Redis', en: 'Redis' });
    expect(redis.license).toEqual({ spdx: 'BSD-3-Clause', text: 'BSD-3-Clause license' });
    expect(redis.upstream).toMatchObject({ backend: 'github', repo: 'redis/redis', scheme: 'rpm' });
    expect(redis.upstream!.original).toMatchObject({ backend: 'GitHub', version_scheme: 'RPM' });
    expect(has(result, 'AI/vllm-cpu/meta.yml', 3, '', /blank line/)).toBe(true);
    expect(
      has(result, 'Cloud/tempo/meta.yml', 1, '2.5.0-oe24.03lts', /does not match.*2\.5\.0 on 24\.03-lts/),
    ).toBe(true);
    expect(has(result, 'AI/dlrm/doc/image-info.yml', 65, 'upstream.backend', /"Github" read as github/)).toBe(
      true,
    );
    expect(has(result, 'Database/mysql/doc/image-info.yml', 62, 'license', /"View license"/)).toBe(true);
    // 23_13 in the tag is version 23+13 (the directory name); the other 23_13 path does not exist
    const jdk = (await store.loadApp('openjdk'))!.app;
    expect(recipe(jdk, '23_13-oe2203sp3')).toMatchObject({
      version: '23+13',
      dockerfile: '23+13/22.03-lts-sp3/Dockerfile',
    });
    expect(recipe(jdk, '23_13-oe2403sp4').analysis!.exists).toBe(false);
    // an app without image-info.yml still gets a card (category from its scene), reported
    const ks = (await store.loadApp('kserve-controller'))!.app;
    expect(ks.category).toBe('ai');
    expect(ks.recipes.container[0]).toMatchObject({
      dockerfile: '0.15.2/24.03-lts/Dockerfile',
      arches: ['amd64'],
    });
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
    expect(again.apps).toBe(40);
    expect(await store.head()).toBe(head);
  });
});

describe('openEuler import of damaged input', () => {
  it('fails and commits nothing when the directory cannot be read or holds no app', async () => {
    const store = await CatalogStore.init(join(await tempDir(), 'c'));
    const head = await store.head();
    await expect(importOpenEuler(store, join(await tempDir(), 'nope'))).rejects.toThrow(ImportError);
    const empty = await tempDir();
    await mkdir(join(empty, 'Cloud'));
    await writeFile(join(empty, 'Cloud/image-list.yml'), 'images:\n  x: x\n');
    await expect(importOpenEuler(store, empty)).rejects.toThrow(/no app directories/);
    expect(await store.head()).toBe(head);
    expect((await execa('git', ['status', '--porcelain'], { cwd: store.dir })).stdout).toBe('');
  });

  it('keeps going past bad meta.yml, Dockerfiles that do not parse, unresolved FROMs and escaping paths', async () => {
    const dir = await seedCopy();
    await writeFile(join(dir, 'Cloud/nginx/meta.yml'), 'a: [unclosed\n  b: 1\n');
    await writeFile(join(dir, 'Database/mysql/meta.yml'), '9.9.9-oe2403sp4:\n  path: ../../../etc/passwd\n');
    await writeFile(
      join(dir, 'Database/redis/7.2.4/22.03-lts-sp3/Dockerfile'),
      'ARG BASE\nFROM ${BASE}\nRUN true\n',
    );
    await writeFile(join(dir, 'Database/redis/7.2.5/22.03-lts-sp3/Dockerfile'), '\0\0binary');
    await writeFile(join(dir, 'Database/redis/8.2.0/24.03-lts-sp1/Dockerfile'), 'RUN x\nFROMM y\n');
    const store = await CatalogStore.init(join(await tempDir(), 'c'));
    const r = await importOpenEuler(store, dir);
    expect(r.apps).toBe(40);
    expect(has(r, 'Cloud/nginx/meta.yml', 1, '', /invalid YAML.*no recipes/)).toBe(true);
    expect((await store.loadApp('nginx'))!.app.recipes.container).toEqual([]);
    expect(has(r, 'Database/mysql/meta.yml', 2, '9.9.9-oe2403sp4.path', /escapes its tree/)).toBe(true);
    const mysql = (await store.loadApp('mysql'))!.app;
    expect(mysql.recipes.container[0]!.problem).toMatch(/not usable/);
    expect(mysql.recipes.container[0]!.analysis!.exists).toBe(false);
    const redis = (await store.loadApp('redis'))!.app;
    expect(
      has(r, 'Database/redis/7.2.4/22.03-lts-sp3/Dockerfile', 2, 'dockerfile', /variable BASE has no value/),
    ).toBe(true);
    expect(recipe(redis, '7.2.4-oe2203sp3').problem).toMatch(
      /Dockerfile:2: FROM \$\{BASE\}: variable BASE has no value/,
    );
    expect(recipe(redis, '7.2.5-oe2203sp3').problem).toMatch(/Dockerfile:1: not a text file/);
    expect(recipe(redis, '8.2.0-oe2403sp1').problem).toMatch(/Dockerfile:1: RUN before the first FROM/);
    expect(recipe(redis, '8.2.0-oe2403sp1').problem).toMatch(/Dockerfile:2: unknown instruction "FROMM"/);
    // the other recipes of the same app are untouched
    expect(recipe(redis, '7.4.1-oe2403lts').problem).toBeUndefined();
    expect((await store.load()).problems).toEqual([]);
  });

  it('never reads through a symlink that leaves the tree', async () => {
    const dir = await seedCopy();
    const outside = await tempDir('wharf-outside-');
    await writeFile(join(outside, 'Dockerfile'), 'FROM evil/image:1\n');
    await mkdir(join(outside, 'app'));
    await writeFile(join(outside, 'app/meta.yml'), '1.0-oe2403lts:\n  path: 1.0/24.03-lts/Dockerfile\n');
    const df = join(dir, 'Database/redis/7.4.1/24.03-lts/Dockerfile');
    await rm(df);
    await symlink(join(outside, 'Dockerfile'), df);
    await symlink(join(outside, 'app'), join(dir, 'Cloud/evil'));
    await rm(join(dir, 'Others/go/meta.yml'));
    await symlink('/etc/hostname', join(dir, 'Others/go/meta.yml'));
    const store = await CatalogStore.init(join(await tempDir(), 'c'));
    const r = await importOpenEuler(store, dir);
    const redis = (await store.loadApp('redis'))!.app;
    expect(recipe(redis, '7.4.1-oe2403lts').analysis).toMatchObject({ exists: false, base: null });
    expect(recipe(redis, '7.4.1-oe2403lts').problem).toMatch(
      /symlink.*outside the tree|resolves outside the tree/,
    );
    expect(has(r, 'Cloud/evil', 1, '', /symlink to .* leaves the tree; not followed/)).toBe(true);
    expect(await store.loadApp('evil')).toBeUndefined();
    expect(has(r, 'Others/go/meta.yml', 1, '', /outside the tree/)).toBe(true);
    expect((await store.loadApp('go'))!.app.recipes.container).toEqual([]);
    expect(JSON.stringify(redis)).not.toMatch(/evil/);
  });
});

describe('names: two apps of different scenes with the same image name', () => {
  it('get distinct ids, titles and publish repositories, and the catalog validates', async () => {
    const dir = await tempDir('wharf-twins-');
    for (const scene of ['AI', 'HPC']) {
      await mkdir(join(dir, scene, 'tensorrt/10.0/24.03-lts'), { recursive: true });
      await writeFile(join(dir, scene, 'image-list.yml'), 'images:\n  tensorrt: tensorrt\n');
      await writeFile(
        join(dir, scene, 'tensorrt/meta.yml'),
        '10.0-oe2403lts:\n  path: 10.0/24.03-lts/Dockerfile\n',
      );
      await writeFile(
        join(dir, scene, 'tensorrt/10.0/24.03-lts/Dockerfile'),
        'FROM openeuler/openeuler:24.03-lts\n',
      );
    }
    const store = await CatalogStore.init(join(await tempDir(), 'c'));
    const r = await importOpenEuler(store, dir);
    expect(r.apps).toBe(2);
    expect(
      has(
        r,
        'HPC/image-list.yml',
        2,
        'images',
        /used by another app too; this one \(HPC\/tensorrt\) gets the id and publish repository "hpc-tensorrt"/,
      ),
    ).toBe(true);
    const snap = await store.load();
    expect(snap.problems).toEqual([]);
    const ai = snap.apps.get('tensorrt')!.app;
    const hpc = snap.apps.get('hpc-tensorrt')!.app;
    expect([ai.name, hpc.name]).toEqual(['tensorrt', 'hpc-tensorrt']);
    // No text spells the name otherwise: it stays as image-list.yml writes it (no made-up capitals).
    expect([ai.title.en, hpc.title.en]).toEqual(['tensorrt', 'tensorrt (HPC)']);
    expect([ai.source!.dir, hpc.source!.dir]).toEqual(['AI/tensorrt', 'HPC/tensorrt']);
  });
});

describe('import from git, re-import of a newer commit, retirement', () => {
  it('records repository and commit, changes only what changed, retires removed apps', async () => {
    const repo = join(await tempDir('wharf-recipes-git-'), 'repo');
    await cp(SEED, repo, { recursive: true });
    const g = (...args: string[]) =>
      execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo });
    await g('init', '-q', '-b', 'main');
    await g('add', '-A');
    await g('commit', '-q', '-m', 'first');
    const first = (await g('rev-parse', 'HEAD')).stdout;
    const url = `file://${repo}`;
    const store = await CatalogStore.init(join(await tempDir(), 'c'));
    const src = await resolveImportSource(`${url}#main`);
    const r1 = await importOpenEuler(store, src.dir, { repo: src.repo!, commit: src.commit! });
    await src.cleanup();
    expect(r1.sourceCommit).toBe(first);
    const redis1 = (await store.loadApp('redis'))!.app;
    expect(redis1.source).toMatchObject({ repo: url, commit: first });
    expect(redis1.recipes.container.every((x) => x.commit === first)).toBe(true);

    // Upstream: one Dockerfile changes, one app directory is removed.
    await writeFile(
      join(repo, 'Database/redis/7.4.1/24.03-lts/Dockerfile'),
      'FROM openeuler/openeuler:24.03-lts-sp4\n',
    );
    await rm(join(repo, 'Storage/juicefs'), { recursive: true });
    await g('commit', '-q', '-am', 'second');
    const second = (await g('rev-parse', 'HEAD')).stdout;
    const before = await store.head();
    const src2 = await resolveImportSource(url);
    const r2 = await importOpenEuler(store, src2.dir, { repo: src2.repo!, commit: src2.commit! });
    await src2.cleanup();
    expect(r2.apps).toBe(39);
    expect(r2.retired).toBe(1);
    const changed = (
      await execa('git', ['diff', '--name-only', before!, 'HEAD'], { cwd: store.dir })
    ).stdout.split('\n');
    expect(changed.sort()).toEqual(['apps/juicefs/app.yml', 'apps/redis/app.yml']);
    expect((await store.log()).length).toBe(3);
    const redis2 = (await store.loadApp('redis'))!.app;
    expect(recipe(redis2, '7.4.1-oe2403lts')).toMatchObject({ commit: second });
    expect(recipe(redis2, '7.4.1-oe2403lts').analysis!.base).toBe('openeuler/openeuler:24.03-lts-sp4');
    expect(recipe(redis2, '6.2.7-oe2203lts').commit).toBe(first);
    const juice = (await store.loadApp('juicefs'))!.app;
    expect(juice.retired).toMatchObject({
      commit: second,
      reason: expect.stringMatching(/Storage\/juicefs is gone/),
    });
    expect(juice.recipes.container.every((x) => x.problem?.startsWith('retired: '))).toBe(true);
    // Importing the same commit again changes nothing; the retired app stays retired.
    const r3 = await importOpenEuler(store, repo, { commit: second, repo: url });
    expect(r3.commit).toBeNull();
  });

  it('parses git URLs and refs, refusing option-like refs', async () => {
    expect(isGitUrl('https://gitee.com/openeuler/openeuler-docker-images.git')).toBe(true);
    expect(isGitUrl('git@github.com:openeuler-mirror/openeuler-docker-images.git')).toBe(true);
    expect(isGitUrl('catalog/seed/openeuler-images')).toBe(false);
    expect(splitRef('https://x/y.git#v1.0')).toEqual({ url: 'https://x/y.git', ref: 'v1.0' });
    expect(() => splitRef('https://x/y.git#--upload-pack=evil')).toThrow(/invalid git ref/);
    await expect(resolveImportSource('file:///nonexistent/repo.git')).rejects.toThrow(/cannot fetch/);
    expect((await planOpenEulerImport(SEED)).apps).toHaveLength(40);
  });
});

describe('importer building blocks', () => {
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
