// Hostile catalog files (issue 11 items 2 and 10): a 713-byte YAML alias bomb in upstream.original,
// a javascript: homepage and upstream URL, and a 60 MB description. `catalog validate` refuses each
// with its file and field; `catalog show`, the watcher and the site build treat each as one bad
// entry and go on with the rest. Outcomes are asserted; durations only go to the log.
import { mkdtemp, readFile, rm, writeFile, mkdir, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore } from '../../catalog/store.ts';
import { parseCatalogFile } from '../../catalog/format.ts';
import { zApp } from '../../catalog/schema.ts';
import { loadYaml, YamlLimitError } from '../../catalog/yaml.ts';
import { runSweep } from '../../publisher/watch/sweep.ts';
import { apiApp } from '../../site/src/lib/machine.ts';
import { startServer, testConfig, type FakeServer } from '../watch/helpers.ts';
import { runWharf } from '../helpers/wharf.ts';

const wharf = (args: string[]) => runWharf(args, { timeout: 120_000 });

/** Nine levels of nine aliases each: 9^9 (387 million) strings once expanded. */
export function aliasBomb(upstreamUrl: string): string {
  const lines = [
    'id: bomb',
    'name: bomb',
    'title: {en: Bomb}',
    'category: tools',
    'upstream:',
    '  backend: http-json',
    `  url: ${upstreamUrl}/bomb`,
    '  jsonPath: $.versions[*]',
    '  original:',
    '    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ];
  const names = 'abcdefghi';
  for (let i = 1; i < names.length; i++) {
    const p = names[i - 1]!;
    lines.push(`    ${names[i]}: &${names[i]} [${Array(9).fill(`*${p}`).join(',')}]`);
  }
  return lines.join('\n') + '\n';
}

let tmp: string;
let store: CatalogStore;
let server: FakeServer;
const BIG = 60 * 1024 * 1024;

async function gitCommitAll(dir: string, msg: string) {
  const env = {
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@t',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@t',
  };
  await execa('git', ['add', '-A'], { cwd: dir, env });
  await execa('git', ['-c', 'core.hooksPath=/dev/null', 'commit', '-q', '-m', msg], { cwd: dir, env });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wharf-hostile-'));
  server = await startServer();
  server.route('/good', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"versions":["1.0","1.2"]}');
  });
  server.route('/bomb', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"versions":["9.9"]}');
  });
  store = await CatalogStore.init(join(tmp, 'catalog'));
  await store.commit({ subject: 'good apps' }, (tx) => {
    tx.putApp(
      zApp.parse({
        id: 'good',
        name: 'good',
        title: { en: 'Good' },
        category: 'tools',
        homepage: 'https://example.org/good',
        upstream: { backend: 'http-json', url: `${server.url}/good`, jsonPath: '$.versions[*]' },
      }),
    );
    tx.putApp(zApp.parse({ id: 'plain', name: 'plain', title: { en: 'Plain' }, category: 'tools' }));
  });
  const dir = store.dir;
  const put = async (id: string, text: string) => {
    await mkdir(join(dir, 'apps', id), { recursive: true });
    await writeFile(join(dir, 'apps', id, 'app.yml'), text);
  };
  await put('bomb', aliasBomb(server.url));
  await put(
    'jsurl',
    'id: jsurl\nname: jsurl\ntitle: {en: J}\ncategory: tools\nhomepage: "javascript:alert(1)"\n' +
      'upstream:\n  backend: http-regex\n  url: "javascript:fetch(1)//x"\n  regex: "v(.*)"\n',
  );
  await put(
    'huge',
    `id: huge\nname: huge\ntitle: {en: H}\ncategory: tools\ndescription:\n  en: ${'A'.repeat(BIG)}\n`,
  );
  await gitCommitAll(dir, 'hostile apps');
}, 120_000);

afterAll(async () => {
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('hostile catalog files', () => {
  it('the bomb (under 800 bytes) is refused by loadYaml without expanding it', () => {
    const text = aliasBomb('http://127.0.0.1:1');
    expect(text.length).toBeLessThan(800);
    expect(() => loadYaml(text)).toThrow(YamlLimitError);
    const r = parseCatalogFile('apps/bomb/app.yml', text, zApp);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]!.message).toMatch(/expands to more than \d+ nodes/);
    // Deep nesting is refused too, not a stack overflow.
    for (const depth of [80, 200, 100_000]) {
      let err: unknown;
      try {
        loadYaml('a: ' + '['.repeat(depth) + ']'.repeat(depth));
      } catch (e) {
        err = e;
      }
      expect(err instanceof YamlLimitError ? 'refused' : String(err).slice(0, 200)).toBe('refused');
    }
    // A plain file of any shape within the size cap fits the budget.
    const list = Array.from({ length: 50_000 }, (_, i) => `- ${i}`).join('\n');
    expect((loadYaml(list) as unknown[]).length).toBe(50_000);
  });

  it('the schema refuses javascript: URLs, a 60 MB description and nested trees in upstream.original', () => {
    const base = { id: 'x', name: 'x', title: { en: 'x' }, category: 'tools' };
    const bad = (over: Record<string, unknown>) => zApp.safeParse({ ...base, ...over }).success;
    expect(bad({ homepage: 'javascript:alert(1)' })).toBe(false);
    expect(bad({ homepage: 'data:text/html,<script>' })).toBe(false);
    expect(bad({ homepage: 'https://example.org/' })).toBe(true);
    expect(bad({ upstream: { backend: 'http-regex', url: 'javascript:x//y', regex: '(.*)' } })).toBe(false);
    expect(bad({ upstream: { backend: 'http-regex', url: 'file:///etc/passwd', regex: '(.*)' } })).toBe(
      false,
    );
    expect(bad({ description: { en: 'A'.repeat(64 * 1024 + 1) } })).toBe(false);
    expect(bad({ description: { en: 'ok\n\nmore' } })).toBe(true);
    expect(bad({ title: { en: 'nul\u0000byte' } })).toBe(false);
    expect(bad({ keywords: Array(1000).fill('k') })).toBe(false);
    expect(bad({ upstream: { backend: 'github', repo: 'a/b', original: { a: { b: ['c'] } } } })).toBe(false);
    expect(bad({ upstream: { backend: 'github', repo: 'a/b', original: { version_prefix: 'v' } } })).toBe(
      true,
    );
  });

  it('catalog validate names each hostile file and exits 1; the good apps pass', async () => {
    const t0 = performance.now();
    const r = await wharf(['catalog', 'validate', '--catalog', store.dir, '--json']);
    console.log(
      `catalog validate over the bomb + 60 MB description: ${Math.round(performance.now() - t0)} ms`,
    );
    expect(r.exitCode).toBe(1);
    const problems = (
      JSON.parse(r.stdout) as { problems: { file: string; field: string; message: string }[] }
    ).problems;
    const files = [...new Set(problems.map((p) => p.file))].sort();
    expect(files).toEqual(['apps/bomb/app.yml', 'apps/huge/app.yml', 'apps/jsurl/app.yml']);
    expect(problems.find((p) => p.file === 'apps/bomb/app.yml')!.message).toMatch(/expands to more than/);
    expect(problems.find((p) => p.file === 'apps/huge/app.yml')!.message).toMatch(/larger than|longer than/);
    const js = problems.filter((p) => p.file === 'apps/jsurl/app.yml').map((p) => p.field);
    expect(js.sort()).toEqual(['homepage', 'upstream.url']);
  }, 180_000);

  it('catalog show refuses the bomb with its file, and shows a good app', async () => {
    const bad = await wharf(['catalog', 'show', 'bomb', '--catalog', store.dir]);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/apps\/bomb\/app\.yml:1: .*expands to more than/);
    const good = await wharf(['catalog', 'show', 'good', '--catalog', store.dir]);
    expect(good.exitCode).toBe(0);
    expect(good.stdout).toMatch(/homepage: https:\/\/example\.org\/good/);
  }, 180_000);

  it('the watcher sweeps the good app and skips the bad entries', async () => {
    const t0 = performance.now();
    const r = await runSweep(store, { config: testConfig(), env: {} });
    console.log(`sweep over the hostile catalog: ${Math.round(performance.now() - t0)} ms`);
    expect(r.checked).toBe(1);
    expect(r.changes).toEqual([{ app: 'good', from: null, to: '1.2' }]);
    expect(server.log.some((l) => l.path === '/bomb')).toBe(false);
    expect((await store.load()).apps.get('good')!.upstream!.latest).toBe('1.2');
  }, 180_000);

  it('the JSON API never serves a non-http(s) URL, even from a record that bypassed validation', () => {
    const app = zApp.parse({ id: 'x', name: 'x', title: { en: 'x' }, category: 'tools' });
    const sneaky = {
      ...app,
      homepage: 'javascript:alert(1)',
      upstream: {
        backend: 'http-regex' as const,
        url: 'javascript:x',
        regex: '(.*)',
        scheme: 'loose' as const,
      },
    };
    const doc = apiApp({
      app: sneaky,
      homepage: undefined,
      tags: [],
      history: [],
    } as unknown as Parameters<typeof apiApp>[0]);
    expect(JSON.stringify(doc)).not.toMatch(/javascript:/);
  });

  it('site build renders the good apps and leaves the bad entries out', async () => {
    const { buildSite } = await import('../../site/node/build.ts');
    const out = join(tmp, 'site');
    const t0 = performance.now();
    const r = await buildSite({ catalog: store.dir, out, logLevel: 'silent' });
    console.log(`site build over the hostile catalog: ${Math.round(performance.now() - t0)} ms`);
    expect(r.skipped).toBe(false);
    await access(join(out, 'apps', 'good', 'index.html'));
    await expect(access(join(out, 'apps', 'bomb', 'index.html'))).rejects.toThrow();
    const api = await readFile(join(out, 'api', 'apps.json'), 'utf8');
    expect(api).not.toMatch(/javascript:/);
    expect(api.length).toBeLessThan(1024 * 1024);
  }, 300_000);
});
