// A linear, streaming scan of RPM primary metadata (primary.xml): the EVR of every <package> whose
// <name> is the one asked for. A small XML tokenizer whose state survives chunk boundaries, so every
// byte is looked at a bounded number of times whatever the element sizes (the earlier scan re-searched
// a growing buffer: one 64 MB <package> cost ~20 minutes). Only what is needed is kept: the text of
// <name> (capped) and the attributes of <version> (capped); everything else is skipped as it streams.
// No DTD is accepted and no entity beyond XML's five and numeric references is expanded.

/** Longest <name> text and <version …> tag kept; a longer one cannot be an RPM name or EVR. */
const NAME_MAX = 1024;
const TAG_MAX = 8192;

export class PrimaryScanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrimaryScanError';
  }
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** XML's predefined and numeric character references; anything else is left as written. */
export function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]+);/g, (all, e: string) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : all;
    }
    return ENTITIES[e] ?? all;
  });
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(tag);
  return m ? unescapeXml(m[1] ?? m[2]!) : undefined;
}

type Mode =
  | 'text' // between tags
  | 'tag' // inside a start or end tag, until '>' outside quotes
  | 'comment' // <!-- … -->
  | 'cdata' // <![CDATA[ … ]]>
  | 'pi'; // <? … ?>

const TERMINATOR = { comment: '-->', cdata: ']]>', pi: '?>' } as const;

export interface ScanOptions {
  /** Decompressed bytes allowed in total. */
  maxBytes: number;
  /** Checked between chunks: an aborted signal ends the scan with its reason. */
  signal?: AbortSignal;
}

/** Stream primary.xml text and return the EVRs of every <package> whose <name> is `pkg`. */
export async function scanPrimary(
  text: AsyncIterable<Buffer | string>,
  pkg: string,
  opts: ScanOptions,
): Promise<string[]> {
  const found = new Set<string>();
  const decoder = new TextDecoder();
  let total = 0;
  let validated = false; // the start was checked: an HTML error page must not pass as "no versions"
  let mode: Mode = 'text';
  let quote = 0; // inside a tag: the char code of the open quote, or 0
  let tag = ''; // the current tag's text (complete while `whole`, else only its first 64 characters)
  let whole = true;
  let last = 0; // char code of the tag's last character seen before '>' (47 = '/': self-closing)
  let depth = 0;
  let pkgDepth = -1; // depth of the open <package>, or -1
  let inName = false;
  let name = '';
  let version: string | undefined;
  let elements = 0;

  const looksLikeMetadata = (start: string) => {
    if (!/^\uFEFF?\s*<(\?xml|metadata|!--)/.test(start)) throw new PrimaryScanError('not XML metadata');
  };

  const keep = (s: string, a: number, b: number) => {
    if (b <= a) return;
    last = s.charCodeAt(b - 1);
    if (whole && tag.length + (b - a) <= TAG_MAX) tag += s.slice(a, b);
    else {
      if (whole) tag = tag.slice(0, 64);
      whole = false;
      if (tag.length < 64) tag += s.slice(a, Math.min(b, a + 64 - tag.length));
    }
  };

  /** Is the tag name at s[a…] exactly `n` (followed by whitespace, '/', '>' or the end at b)? */
  const nameIs = (s: string, a: number, b: number, n: string) => {
    if (!s.startsWith(n, a)) return false;
    if (a + n.length >= b) return true;
    const c = s.charCodeAt(a + n.length);
    return c === 32 || c === 9 || c === 10 || c === 13 || c === 47;
  };

  /**
   * A tag whose text between '<' and '>' is s[a…b): whole (`complete`), or only its first characters
   * when it was oversized. Tag names are compared in place: most tags cost a few character reads.
   */
  const onTag = (s: string, a: number, b: number, complete: boolean, selfClosing: boolean) => {
    elements++;
    if (s.charCodeAt(a) === 47 /* '/' */) {
      depth--;
      if (pkgDepth < 0) return;
      if (nameIs(s, a + 1, b, 'name')) inName = false;
      else if (depth === pkgDepth && nameIs(s, a + 1, b, 'package')) {
        if (name.trim() === pkg && version) found.add(version);
        pkgDepth = -1;
        inName = false;
      }
      return;
    }
    if (pkgDepth < 0) {
      if (nameIs(s, a, b, 'package')) {
        pkgDepth = depth;
        name = '';
        version = undefined;
      }
    } else if (depth === pkgDepth + 1) {
      if (!selfClosing && nameIs(s, a, b, 'name')) {
        inName = true;
        name = '';
      } else if (complete && nameIs(s, a, b, 'version')) {
        const t = s.slice(a, b);
        const ver = attr(t, 'ver');
        if (ver) {
          const epoch = attr(t, 'epoch');
          const rel = attr(t, 'rel');
          version = `${epoch && epoch !== '0' ? `${epoch}:` : ''}${ver}${rel ? `-${rel}` : ''}`;
        }
      }
    }
    if (!selfClosing) depth++;
  };

  /** Tag text from s[i…] up to the closing '>' outside quotes; returns the index after what it used. */
  const feedTag = (s: string, i: number): number => {
    let j = i;
    for (;;) {
      if (quote) {
        const q = s.indexOf(quote === 34 ? '"' : "'", j);
        if (q < 0) {
          keep(s, i, s.length);
          return s.length;
        }
        j = q + 1;
        quote = 0;
        continue;
      }
      let k = j;
      let c = 0;
      while (k < s.length) {
        c = s.charCodeAt(k);
        if (c === 62 || c === 34 || c === 39) break;
        k++;
      }
      if (k >= s.length) {
        keep(s, i, s.length);
        return s.length;
      }
      if (c === 62 /* '>' */) {
        mode = 'text';
        const selfClosing = k > i ? s.charCodeAt(k - 1) === 47 : last === 47;
        if (tag === '' && whole) onTag(s, i, k, true, selfClosing);
        else {
          keep(s, i, k);
          const t = tag;
          const complete = whole;
          tag = '';
          whole = true;
          onTag(t, 0, t.length, complete, selfClosing);
        }
        last = 0;
        return k + 1;
      }
      quote = c;
      j = k + 1;
    }
  };

  /**
   * Consume `s`; returns the few characters it could not decide on yet (a '<' too close to the end of
   * the chunk, the possible start of a terminator), to be put in front of the next chunk.
   */
  const feed = (s: string, final: boolean): string => {
    let i = 0;
    while (i < s.length) {
      if (mode === 'text') {
        const lt = s.indexOf('<', i);
        const end = lt < 0 ? s.length : lt;
        if (inName && name.length < NAME_MAX) name += s.slice(i, Math.min(end, i + NAME_MAX - name.length));
        if (lt < 0) return '';
        if (!final && s.length - lt < 9) return s.slice(lt);
        const c = s.charCodeAt(lt + 1);
        if (c === 63 /* '?' */) {
          mode = 'pi';
          i = lt + 2;
        } else if (c !== 33 /* '!' */) {
          // A start or end tag: read it right here (the common case, no mode round trip).
          mode = 'tag';
          i = feedTag(s, lt + 1);
        } else if (s.startsWith('!--', lt + 1)) {
          mode = 'comment';
          i = lt + 4;
        } else if (s.startsWith('![CDATA[', lt + 1)) {
          mode = 'cdata';
          i = lt + 9;
        } else {
          throw new PrimaryScanError('DOCTYPE and other declarations are not allowed in primary metadata');
        }
      } else if (mode === 'tag') {
        i = feedTag(s, i);
      } else {
        const term = TERMINATOR[mode];
        const at = s.indexOf(term, i);
        if (at < 0) return final ? '' : s.slice(Math.max(i, s.length - (term.length - 1)));
        i = at + term.length;
        mode = 'text';
      }
    }
    return '';
  };

  let carry = '';
  for await (const chunk of text) {
    if (opts.signal?.aborted) throw opts.signal.reason as Error;
    total += chunk.length;
    if (total > opts.maxBytes)
      throw new PrimaryScanError(`primary metadata exceeds the ${opts.maxBytes}-byte cap`);
    const input = carry + (typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (!validated) {
      // The first 64 characters decide, before any is read as XML.
      if (input.length < 64) {
        carry = input;
        continue;
      }
      looksLikeMetadata(input.slice(0, 64));
      validated = true;
    }
    carry = feed(input, false);
    // Let timers run between chunks, so the sweep's per-app deadline can end a long scan.
    await new Promise<void>((r) => setImmediate(r));
  }
  const rest = carry + decoder.decode();
  if (!validated) looksLikeMetadata(rest);
  feed(rest, true);
  if (elements === 0) throw new PrimaryScanError('no XML elements in primary metadata');
  return [...found];
}
