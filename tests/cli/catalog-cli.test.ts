// The `wharf catalog` contract, through the real CLI (node scripts/wharf.mjs …).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import type { Problem } from '../../catalog/format.ts';
import { REDIS_724_SP3_VIEW } from '../catalog/sample-recipes.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SEED = join(ROOT, 'catalog/seed/openeuler-images');
const wharf = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  execa(process.execPath, ['scripts/wharf.mjs', ...args], {
    cwd: ROOT,
    reject: false,
    env: { WHARF_CATALOG: '', ...env },
  });

let catalog: string;
let importOut: { apps: number; hidden: number; problems: Problem[]; commit: string | null };

beforeAll(async () => {
  catalog = join(await mkdtemp(join(tmpdir(), 'wharf-cli-')), 'catalog');
  const init = await wharf(['catalog', 'init', '--catalog', catalog, '--json']);
  expect(init.exitCode).toBe(0);
  const r = await wharf(['catalog', 'import', SEED, '--catalog', catalog, '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  importOut = JSON.parse(r.stdout);
});

describe('wharf catalog (CLI)', () => {
  it('import --json prints apps, hidden and located problems; exit 0 despite problems', () => {
    expect(importOut.apps).toBe(40);
    expect(importOut.hidden).toBe(3);
    expect(importOut.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(importOut.problems.length).toBeGreaterThan(50);
    for (const p of importOut.problems)
      expect(Object.keys(p).sort()).toEqual(['field', 'file', 'line', 'message']);
  });

  it('import again is a no-op; the text output is a problem report', async () => {
    const r = await wharf(['catalog', 'import', SEED, '--catalog', catalog]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(
      /imported 40 apps \(3 hidden, 0 retired, \d+ container recipes, \d+ broken\) with \d+ problems from commit c12383a4173d; nothing changed/,
    );
    expect(r.stderr).toMatch(/^Database\/redis\/meta\.yml:12: 7\.4\.1-oe2203sp3\.path: .*leading slash/m);
  });

  it('import of unreadable input fails with exit 1 and commits nothing, not even an init', async () => {
    const fresh = join(await mkdtemp(join(tmpdir(), 'wharf-cli-')), 'c');
    const r = await wharf(['catalog', 'import', join(fresh, 'nope'), '--catalog', fresh, '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatch(/not a directory/);
    const head = await (await CatalogStore.open(catalog)).head();
    const r2 = await wharf(['catalog', 'import', ROOT, '--catalog', catalog]);
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toMatch(/no app directories found/);
    expect(await (await CatalogStore.open(catalog)).head()).toBe(head);
    await expect(CatalogStore.open(fresh)).rejects.toThrow(/not a catalog/);
  });

  it('list --json, show --json and log read the imported catalog (catalog from $WHARF_CATALOG)', async () => {
    const list = await wharf(['catalog', 'list', '--json'], { WHARF_CATALOG: catalog });
    expect(list.exitCode).toBe(0);
    const rows = JSON.parse(list.stdout) as { id: string; category: string; visibility: string }[];
    expect(rows).toHaveLength(40);
    expect(rows.find((x) => x.id === 'langchain')).toMatchObject({ category: 'ai', visibility: 'hidden' });
    expect(rows.every((x) => x.id && x.category && x.visibility)).toBe(true);
    const show = await wharf(['catalog', 'show', 'redis', '--catalog', catalog, '--json']);
    expect(show.exitCode).toBe(0);
    expect(JSON.parse(show.stdout).app).toMatchObject({ id: 'redis', category: 'database' });
    const log = await wharf(['catalog', 'log', 'redis', '--catalog', catalog]);
    expect(log.exitCode).toBe(0);
    expect(log.stdout).toMatch(
      /^[0-9a-f]{12} \S+ import: 40 apps from openeuler\/openeuler-docker-images at c12383a4173d/m,
    );
    const missing = await wharf(['catalog', 'show', 'no-such-app', '--catalog', catalog]);
    expect(missing.exitCode).toBe(1);
  });

  it('recipe inspect --json prints one object per recipe with the exact contract fields', async () => {
    const r = await wharf([
      'recipe',
      'inspect',
      'redis',
      'distroless-python',
      '--catalog',
      catalog,
      '--json',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows.length).toBe(13 + 1); // redis's 13 meta.yml entries, distroless-python's one
    for (const row of rows) {
      for (const k of ['app', 'tag', 'dockerfile', 'exists', 'builder', 'stages', 'base', 'args', 'problems'])
        expect(row).toHaveProperty(k);
      expect(typeof row.exists).toBe('boolean');
      expect(Array.isArray(row.problems)).toBe(true);
    }
    expect(rows.find((x) => x.tag === '7.2.4-oe2203sp3')).toMatchObject(REDIS_724_SP3_VIEW);
    expect(rows.find((x) => x.tag === '8.6.4-oe2403sp4')).toMatchObject({ exists: false, base: null });
    expect(rows.find((x) => x.app === 'distroless-python')).toMatchObject({ builder: 'distrofile' });
    const all = await wharf(['recipe', 'inspect', '--catalog', catalog, '--json']);
    expect(JSON.parse(all.stdout).length).toBe(367);
    const bad = await wharf(['recipe', 'inspect', 'no-such-app', '--catalog', catalog, '--json']);
    expect(bad.exitCode).toBe(2);
  });

  it('refuses hostile app names with exit 2 before they reach a path', async () => {
    // (the full list of hostile names is covered through the store in tests/catalog/names.test.ts)
    for (const [cmd, bad] of [
      ['show', '../x'],
      ['show', 'x;rm -rf /'],
      ['log', 'Redis'],
    ]) {
      const r = await wharf(['catalog', cmd!, bad!, '--catalog', catalog, '--json']);
      expect(r.exitCode, `${cmd} ${bad}: ${r.stderr}`).toBe(2);
      expect(JSON.parse(r.stdout).error).toMatch(/invalid app id/);
    }
  });

  it('--help works on every subcommand; unknown options are usage errors', async () => {
    for (const args of [['--help'], ['catalog', 'import', '--help']]) {
      const r = await wharf(args);
      expect(r.exitCode, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: wharf/);
    }
    expect((await wharf(['catalog', 'import'])).exitCode).toBe(2);
  });
});
