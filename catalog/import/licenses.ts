// Free-text licenses from openEuler metadata → SPDX, only where the text clearly names one license
// (or a clear AND/OR combination). Anything vague ("GPL", "BSD License", "View license", "N/A")
// stays unmapped; the caller keeps the original text and reports it.

export interface LicenseMapping {
  spdx?: string;
  text: string;
  /** Why no SPDX id was given (empty text has neither). */
  unmapped?: string;
}

// Keys are normalised: lower case, spaces/underscores → '-', without a trailing "license(s)".
const KNOWN: Record<string, string> = {
  'apache-2.0': 'Apache-2.0',
  'apache-2': 'Apache-2.0',
  'apache-v2': 'Apache-2.0',
  'apache-license-2.0': 'Apache-2.0',
  'apache-license-version-2.0': 'Apache-2.0',
  mit: 'MIT',
  'gpl-1.0': 'GPL-1.0-only',
  'gpl-2.0': 'GPL-2.0-only',
  'gpl-v2': 'GPL-2.0-only',
  gplv2: 'GPL-2.0-only',
  gpl2: 'GPL-2.0-only',
  'gpl-2+': 'GPL-2.0-or-later',
  'gpl-2.0+': 'GPL-2.0-or-later',
  'gplv2-or-later': 'GPL-2.0-or-later',
  'gnu-general-public-license-version-2-(gplv2)': 'GPL-2.0-only',
  'gpl-3.0': 'GPL-3.0-only',
  'gpl-v3': 'GPL-3.0-only',
  gplv3: 'GPL-3.0-only',
  'gnu-general-public-license-version-3-(gplv3)': 'GPL-3.0-only',
  'agpl-3.0': 'AGPL-3.0-only',
  'gnu-affero-general-public-license-v3.0-only': 'AGPL-3.0-only',
  'lgpl-2.1': 'LGPL-2.1-only',
  'lgpl-3.0': 'LGPL-3.0-only',
  'bsd-2-clause': 'BSD-2-Clause',
  '2-clause-bsd': 'BSD-2-Clause',
  'bsd-3-clause': 'BSD-3-Clause',
  '3-clause-bsd': 'BSD-3-Clause',
  'bsd-4-clause': 'BSD-4-Clause',
  'bsd-3-clause-clear': 'BSD-3-Clause-Clear',
  'bsd-2-clause-patent': 'BSD-2-Clause-Patent',
  'mpl-2.0': 'MPL-2.0',
  'artistic-2.0': 'Artistic-2.0',
  'artistic-license-2.0': 'Artistic-2.0',
  'bsl-1.0': 'BSL-1.0',
  'boost-software-license-1.0': 'BSL-1.0',
  'business-source-license-1.1': 'BUSL-1.1',
  'cddl-1.0': 'CDDL-1.0',
  'epl-2.0': 'EPL-2.0',
  'psf-2.0': 'PSF-2.0',
  postgresql: 'PostgreSQL',
  'mulan-psl-v2': 'MulanPSL-2.0',
  'mulanpsl-2.0': 'MulanPSL-2.0',
  'uiuc/ncsa': 'NCSA',
  ncsa: 'NCSA',
  'nist-public-domain': 'NIST-PD',
};

function normalise(part: string): string {
  return part
    .trim()
    .replace(/\(https?:[^)]*\)/gi, '') // "MIT License (https://…)" → "MIT License"
    .replace(/[.;]+$/, '')
    .trim()
    .replace(/\s+licen[cs]es?$/i, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-')
    .replace(/^bsd-(\d)-clause$/, 'bsd-$1-clause')
    .replace(/^mpl-?2\.0$/, 'mpl-2.0')
    .replace(/^mpl-2$/, 'mpl-2.0');
}

function mapOne(part: string): string | undefined {
  return KNOWN[normalise(part)];
}

export function mapLicense(raw: string | undefined | null): LicenseMapping | null {
  const text = (raw ?? '').trim();
  if (!text) return null;
  if (/^(n\/?a|none|unknown|other|others)$/i.test(text))
    return { text, unmapped: `license "${text}" names no license` };
  const whole = mapOne(text);
  if (whole) return { spdx: whole, text };
  // Combinations: "Apache-2.0 OR MIT license", "GPL-3.0 & BSD-3-Clause", "GPL2、BSD 3-Clause",
  // "GPL-2.0, LGPL-3.0 licenses" (a list means parts under different licenses: AND).
  const stripped = text.replace(/\s+licen[cs]es?\.?$/i, '');
  const orParts = stripped.split(/\s+or\s+/i);
  const op = orParts.length > 1 ? 'OR' : 'AND';
  const parts = orParts.length > 1 ? orParts : stripped.split(/\s*(?:&|、|,|\band\b)\s*/i);
  if (parts.length > 1) {
    const ids = parts.map(mapOne);
    if (ids.every((x): x is string => Boolean(x))) return { spdx: ids.join(` ${op} `), text };
  }
  return { text, unmapped: `license "${text}" does not clearly map to an SPDX id` };
}
