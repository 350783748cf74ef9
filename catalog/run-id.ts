// Run ids: sortable by time, unique across processes, safe in paths, tags and commit trailers.
import { randomBytes } from 'node:crypto';

export function newRunId(now: Date = new Date()): string {
  const t = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${t}-${randomBytes(4).toString('hex').slice(0, 8)}`;
}
