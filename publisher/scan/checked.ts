// When each published digest was last scanned, kept outside git. A rescan that changes nothing makes no
// commit (see findings.ts unchangedScan), so the record's `at` no longer says when the digest was last
// looked at; the rescan planner takes the later of the record's `at` and this file's time, so a skipped
// rescan is not repeated on every sweep. The file is machine-local state in the catalog's .git directory
// (never committed, like the snapshot cache): a fresh clone or another machine rescans once, then
// catches up. A missing or garbled file only means more rescans, never fewer.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';

export const CHECKED_FILE = join('.git', 'wharf-scan-checked.json');

const zChecked = z
  .object({
    version: z.literal(1),
    /** "<app>/<kind>/<artifact>" → the digest scanned and when. */
    checked: z.record(z.string(), z.object({ digest: z.string(), at: z.string() }).strict()),
  })
  .strict();
type Checked = z.infer<typeof zChecked>;

export const checkKey = (app: string, kind: string, artifactId: string) => `${app}/${kind}/${artifactId}`;

export class ScanChecks {
  readonly file: string;
  private data: Checked;
  private saving: Promise<void> = Promise.resolve();

  private constructor(file: string, data: Checked) {
    this.file = file;
    this.data = data;
  }

  /** Load the state of a catalog; a missing or invalid file is an empty state. */
  static async open(catalogDir: string): Promise<ScanChecks> {
    const file = join(catalogDir, CHECKED_FILE);
    let data: Checked = { version: 1, checked: {} };
    try {
      const r = zChecked.safeParse(JSON.parse(await readFile(file, 'utf8')));
      if (r.success) data = r.data;
    } catch {
      /* no state yet */
    }
    return new ScanChecks(file, data);
  }

  /** When `digest` was last scanned for this artifact, as an ISO time, if known. */
  lastScanned(key: string, digest: string): string | undefined {
    const c = this.data.checked[key];
    return c && c.digest === digest ? c.at : undefined;
  }

  /** Remember a completed scan and write the file (temp + rename; writes are serialised). */
  record(key: string, digest: string, at: string): Promise<void> {
    this.data.checked[key] = { digest, at };
    const text = JSON.stringify(this.data) + '\n';
    this.saving = this.saving.then(async () => {
      await mkdir(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.tmp-${process.pid}`;
      await writeFile(tmp, text);
      await rename(tmp, this.file);
    });
    return this.saving;
  }
}

/** The later of two ISO times (either may be missing). */
export function laterOf(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}
