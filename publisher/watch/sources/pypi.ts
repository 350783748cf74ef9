// PyPI JSON API (`/pypi/<project>/json`): every release with at least one file that is not yanked.
import { z } from 'zod';
import { defineSource, EntryError, expectShape, type Source, upstreamConfig } from '../source.ts';

const zProject = z.looseObject({
  releases: z.record(z.string(), z.array(z.looseObject({ yanked: z.boolean().optional() }))),
});

/** The `upstream:` entry this source reads. */
export const config = upstreamConfig('pypi', {}).refine((e) => !!(e.package ?? e.repo), {
  message: 'required (the PyPI project name)',
  path: ['package'],
});

const pypi: Source<z.infer<typeof config>> = async (entry, ctx) => {
  const name = entry.package ?? entry.repo;
  if (!name || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    throw new EntryError('package', `${JSON.stringify(name ?? '')} is not a PyPI project name`);
  const base = (entry.url ?? ctx.cfg.apis.pypi).replace(/\/+$/, '');
  const res = await ctx.get(`${base}/pypi/${name}/json`, {
    headers: { accept: 'application/json' },
    conditional: true,
  });
  const doc = expectShape(zProject, res);
  return Object.entries(doc.releases)
    .filter(([, files]) => files.length > 0 && files.some((f) => !f.yanked))
    .map(([v]) => ({ version: v }));
};
export default defineSource('pypi', config, pypi);
