// Hostile names never reach a path, a tag or git: names.ts refuses them at the store's door.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { CatalogStore, appFile, artifactFile } from '../../catalog/store.ts';
import { NameError, assertAppId, assertTag, assertRelativePath } from '../../catalog/names.ts';
import { tempDir } from './seed.ts';

const BAD_TAGS = ['../x', 'a/b', '/', 'x\0y', 'x;y', '.hidden', 'a b', '', '-rf'];
const HOSTILE = [
  '../x',
  'a/b',
  '/',
  'x\0y',
  'x;rm -rf /',
  '$(id)',
  '`id`',
  'a b',
  'Redis',
  '.',
  '..',
  '-rf',
  '',
];

describe('hostile names', () => {
  it('are refused by names.ts for app ids, tags and paths', () => {
    for (const n of HOSTILE) {
      expect(() => assertAppId(n), JSON.stringify(n)).toThrow(NameError);
      expect(() => appFile(n)).toThrow(NameError);
    }
    for (const t of BAD_TAGS) {
      expect(() => assertTag(t), JSON.stringify(t)).toThrow(NameError);
      expect(() => artifactFile('redis', 'container', t)).toThrow(NameError);
    }
    for (const p of ['../x', '/etc/passwd', 'a/../../b', 'a\\b', 'a\0b', 'a//b', 'a;b'])
      expect(() => assertRelativePath('path', p), JSON.stringify(p)).toThrow(NameError);
    expect(assertTag('8.6.4-oe2403sp4')).toBe('8.6.4-oe2403sp4');
  });

  it('never reach the work tree through the store', async () => {
    const s = await CatalogStore.init(join(await tempDir(), 'c'));
    const head = await s.head();
    for (const n of HOSTILE) {
      await expect(s.loadApp(n)).rejects.toThrow();
      await expect(
        s.commit(
          { subject: 'x' },
          (tx) => void tx.putApp({ id: n, name: 'x', title: { en: 'x' }, category: 'x' }),
        ),
      ).rejects.toThrow();
    }
    for (const t of BAD_TAGS)
      await expect(
        s.commit({ subject: 'x' }, async (tx) => {
          await tx.getArtifact('redis', 'container', t);
        }),
      ).rejects.toThrow();
    await expect(s.commit({ subject: 'x' }, (tx) => tx.putText('../escape', 'x'))).rejects.toThrow(/escapes/);
    expect(await s.head()).toBe(head);
    expect((await execa('git', ['status', '--porcelain', '--ignored'], { cwd: s.dir })).stdout).toBe('');
  });
});
