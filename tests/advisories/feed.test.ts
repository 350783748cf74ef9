// Mirroring the advisory feed from a loopback server holding the five real advisories in the feed's
// layout: conditional requests, incremental fetches, bad documents and bad index lines skipped.
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedStats, loadIndex, syncFeed } from '../../publisher/advisories/feed.ts';
import { cvrfDir, serveFeed, tmp, type FeedServer } from './helpers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
let feed: FeedServer;
beforeAll(async () => {
  feed = await serveFeed(await cvrfDir());
});
afterAll(async () => {
  await feed?.close();
});

const docRequests = () => feed.log.filter((l) => l.path.endsWith('.xml'));

describe('syncFeed', () => {
  it('mirrors index.txt and its documents; a second sync is answered 304 and fetches nothing', async () => {
    const dir = await tmp('idx');
    feed.log.length = 0;
    const first = await syncFeed({ url: feed.url, dir });
    expect(first.advisories).toBe(5);
    expect(first.fetched).toBe(5);
    expect(first.added).toHaveLength(5);
    expect(docRequests().every((l) => l.status === 200)).toBe(true);
    const idx = await loadIndex(dir);
    expect(idx?.advisories['openEuler-SA-2024-1488']?.fixed).toContainEqual([
      '22.03-LTS-SP2',
      'x86_64',
      'golang',
      '1.17.3-32.oe2203sp2',
    ]);
    // the raw documents are mirrored too
    expect(await readFile(join(dir, 'docs/2024/cvrf-openEuler-SA-2024-1488.xml'), 'utf8')).toMatch(/golang/);

    feed.log.length = 0;
    const second = await syncFeed({ url: feed.url, dir });
    expect(feed.log).toEqual([{ path: 'index.txt', status: 304 }]);
    expect(second).toMatchObject({ indexChanged: false, fetched: 0, advisories: 5, requests: 1 });
    // the unchanged sync rewrote only sync.json; the index reads as fresh as that sync
    expect((await loadIndex(dir))!.syncedAt).toBe(second.syncedAt);
    expect(Date.parse(second.syncedAt)).toBeGreaterThan(Date.parse(first.syncedAt));

    // --revalidate: every known document is re-checked, each answered 304
    feed.log.length = 0;
    const third = await syncFeed({ url: feed.url, dir, revalidate: true });
    expect(docRequests()).toHaveLength(5);
    expect(docRequests().every((l) => l.status === 304)).toBe(true);
    expect(third).toMatchObject({ fetched: 0, notModified: 5, advisories: 5 });
    expect(feedStats((await loadIndex(dir))!).releases['22.03-LTS-SP2']).toBe(2);
  });

  it('a hostile document and lines pointing outside the feed are reported and skipped; the rest loads, and only new documents are fetched', async () => {
    const dir = await tmp('idx2');
    await syncFeed({ url: feed.url, dir });
    // the feed grows: a billion-laughs document, a truncated one, an escape attempt, another origin
    const real = await readFile(join(feed.root, '2024/cvrf-openEuler-SA-2024-1488.xml'), 'utf8');
    await writeFile(
      join(feed.root, '2024/cvrf-openEuler-SA-2024-9001.xml'),
      real.replace('<cvrfdoc', '<!DOCTYPE cvrfdoc [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>\n<cvrfdoc'),
    );
    await writeFile(join(feed.root, '2024/cvrf-openEuler-SA-2024-9002.xml'), real.slice(0, 3000));
    await writeFile(
      join(feed.root, '2024/cvrf-openEuler-SA-2024-9003.xml'),
      real
        .replaceAll('openEuler-SA-2024-1488', 'openEuler-SA-2024-9003')
        .replaceAll('1.17.3-32', '1.17.3-40'),
    );
    await appendFile(
      join(feed.root, 'index.txt'),
      [
        '',
        '2024/cvrf-openEuler-SA-2024-9001.xml',
        '2024/cvrf-openEuler-SA-2024-9002.xml',
        '../../etc/passwd',
        'http://evil.example/cvrf/2024/x.xml',
        '2024/cvrf-openEuler-SA-2024-9003.xml',
        '',
      ].join('\n'),
    );
    try {
      feed.log.length = 0;
      const r = await syncFeed({ url: feed.url, dir });
      expect(r.indexChanged).toBe(true);
      // only the three new documents were requested; nothing outside the feed
      expect(
        docRequests()
          .map((l) => l.path)
          .sort(),
      ).toEqual([
        '2024/cvrf-openEuler-SA-2024-9001.xml',
        '2024/cvrf-openEuler-SA-2024-9002.xml',
        '2024/cvrf-openEuler-SA-2024-9003.xml',
      ]);
      expect(feed.log.some((l) => l.path.includes('passwd'))).toBe(false);
      expect(r.added).toEqual(['openEuler-SA-2024-9003']);
      expect(r.advisories).toBe(6);
      const text = r.problems.join('\n');
      expect(text).toMatch(/9001\.xml: line 2: <!DOCTYPE> refused/);
      expect(text).toMatch(/9002\.xml: line \d+: malformed XML/);
      expect(text).toMatch(/"\.\.\/\.\.\/etc\/passwd" is not a feed document path/);
      expect(text).toMatch(/evil\.example.* points outside the feed; refused/);
      const idx = (await loadIndex(dir))!;
      expect(idx.docs['2024/cvrf-openEuler-SA-2024-9001.xml']?.error).toMatch(/DOCTYPE/);
      expect(Object.keys(idx.advisories)).not.toContain('openEuler-SA-2024-9001');
    } finally {
      const idx = await readFile(join(feed.root, 'index.txt'), 'utf8');
      await writeFile(join(feed.root, 'index.txt'), idx.split('\n').slice(0, 4).join('\n'));
    }
  });

  it('an unreachable feed fails the sync and leaves the previous index untouched', async () => {
    const dir = await tmp('idx3');
    await syncFeed({ url: feed.url, dir });
    const before = await readFile(join(dir, 'index.json'), 'utf8');
    await expect(syncFeed({ url: 'http://127.0.0.1:1/cvrf/', dir })).rejects.toThrow();
    expect(await readFile(join(dir, 'index.json'), 'utf8')).toBe(before);
  });
});

// Each CLI call starts a Node process (several seconds on a loaded 2-core machine): a generous timeout.
describe('wharf advisories (CLI)', { timeout: 240_000 }, () => {
  const wharf = (args: string[]) =>
    execa(process.execPath, ['scripts/wharf.mjs', ...args], {
      cwd: ROOT,
      reject: false,
      env: { WHARF_CATALOG: '' },
    });

  it('sync --url --json, show <id> --json, stats --json', async () => {
    const catalog = join(await tmp('cat'), 'catalog');
    expect((await wharf(['catalog', 'init', '--catalog', catalog, '--json'])).exitCode).toBe(0);
    const s = await wharf(['advisories', 'sync', '--catalog', catalog, '--url', feed.url, '--json']);
    expect(s.exitCode, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ advisories: 5, fetched: 5 });
    // the index lives in the catalog but never dirties its git status
    const st = await execa('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: catalog });
    expect(st.stdout).toBe('');
    const again = await wharf(['advisories', 'sync', '--catalog', catalog, '--url', feed.url, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ fetched: 0, requests: 1 });

    const show = await wharf([
      'advisories',
      'show',
      'openEuler-SA-2024-1488',
      '--catalog',
      catalog,
      '--json',
    ]);
    expect(show.exitCode, show.stderr).toBe(0);
    const a = JSON.parse(show.stdout);
    expect(a).toMatchObject({ id: 'openEuler-SA-2024-1488', severity: 'HIGH', cvss: 7.5 });
    expect(a.fixed).toContainEqual({
      release: '22.03-LTS-SP2',
      arch: 'aarch64',
      name: 'golang',
      fixed: '1.17.3-32.oe2203sp2',
    });
    expect(a.url).toBe(
      'https://www.openeuler.org/zh/security/security-bulletins/detail/?id=openEuler-SA-2024-1488',
    );

    const missing = await wharf([
      'advisories',
      'show',
      'openEuler-SA-2099-0001',
      '--catalog',
      catalog,
      '--json',
    ]);
    expect(missing.exitCode).toBe(1);
    const bad = await wharf(['advisories', 'show', '../x', '--catalog', catalog, '--json']);
    expect(bad.exitCode).toBe(2);

    const stats = await wharf(['advisories', 'stats', '--catalog', catalog, '--json']);
    expect(JSON.parse(stats.stdout)).toMatchObject({ advisories: 5, cves: 14, failedDocuments: 0 });
  });
});
