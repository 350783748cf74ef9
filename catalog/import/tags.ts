// openEuler image tags: `<version>-oe<YYMM>(lts|spN)`, e.g. 8.6.4-oe2403sp4 → version 8.6.4 on
// 24.03-lts-sp4. A few real tags use other spellings (2.5.0-oe24.03lts, 1.16-22.03-lts,
// 9.0.10-20.03-lts-sp1); they are parsed leniently and flagged so the importer can report them.

export interface ParsedTag {
  version: string;
  osVersion: string;
  /** False when the tag only parsed through a lenient rule. */
  strict: boolean;
}

const STRICT = /^(.+)-oe(\d{2})(\d{2})(lts|sp(\d+))$/;
// oe24.03lts, oe24.03-lts, oe24.03-lts-sp1, oe24.03sp1
const LENIENT_OE = /^(.+)-oe(\d{2})\.?(\d{2})-?(lts(?:-?sp(\d+))?|sp(\d+))?$/i;
// 22.03-lts, 20.03-lts-sp1 without the oe prefix
const LENIENT_PLAIN = /^(.+)-(\d{2})\.(\d{2})-lts(?:-sp(\d+))?$/i;

function os(yy: string, mm: string, lts: boolean, sp: string | undefined): string {
  return `${yy}.${mm}${lts ? '-lts' : ''}${sp ? `-sp${Number(sp)}` : ''}`;
}

export function parseTag(tag: string): ParsedTag | null {
  let m = STRICT.exec(tag);
  if (m) return { version: m[1]!, osVersion: os(m[2]!, m[3]!, true, m[5]), strict: true };
  m = LENIENT_OE.exec(tag);
  if (m) {
    const sp = m[5] ?? m[6];
    return { version: m[1]!, osVersion: os(m[2]!, m[3]!, Boolean(m[4]), sp), strict: false };
  }
  m = LENIENT_PLAIN.exec(tag);
  if (m) return { version: m[1]!, osVersion: os(m[2]!, m[3]!, true, m[4]), strict: false };
  return null;
}

/** openEuler's arch spelling in meta.yml (x86_64, aarch64) → OCI. */
export function ociArch(raw: string): 'amd64' | 'arm64' | 'riscv64' | 'loong64' | 'ppc64le' | null {
  const a = raw.trim().toLowerCase();
  if (a === 'x86_64' || a === 'amd64' || a === 'x86-64') return 'amd64';
  if (a === 'aarch64' || a === 'arm64') return 'arm64';
  if (a === 'riscv64') return 'riscv64';
  if (a === 'loongarch64' || a === 'loong64') return 'loong64';
  if (a === 'ppc64le') return 'ppc64le';
  return null;
}
