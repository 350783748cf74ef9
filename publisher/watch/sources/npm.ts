// npm registry: the abbreviated package document (`application/vnd.npm.install-v1+json`), every
// version that is not deprecated.
import { z } from 'zod';
import { defineSource, EntryError, expectShape, type Source, upstreamConfig } from '../source.ts';

const zPackument = z.looseObject({
  versions: z.record(
    z.string(),
    z.looseObject({ deprecated: z.union([z.string(), z.boolean()]).optional() }),
  ),
});

/** The `upstream:` entry this source reads. */
export const config = upstreamConfig('npm', {}).refine((e) => !!(e.package ?? e.repo), {
  message: 'required (the npm package name)',
  path: ['package'],
});

const npm: Source<z.infer<typeof config>> = async (entry, ctx) => {
  const name = entry.package ?? entry.repo;
  if (!name || !/^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/.test(name))
    throw new EntryError('package', `${JSON.stringify(name ?? '')} is not an npm package name`);
  const base = (entry.url ?? ctx.cfg.apis.npm).replace(/\/+$/, '');
  const res = await ctx.get(`${base}/${name.replace('/', '%2f')}`, {
    headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8' },
    conditional: true,
  });
  const doc = expectShape(zPackument, res);
  return Object.entries(doc.versions)
    .filter(([, v]) => !v.deprecated)
    .map(([v]) => ({ version: v }));
};
export default defineSource('npm', config, npm);
